"""The listening site in a real browser: Debian's Chromium driven by Playwright.

tests/fixtures/short-audio.md is built once with the fake engine (so real
MP3s exist) and served by ``publisher serve``'s server on 127.0.0.1 in a
thread. The tests check what only a browser can: axe-core finds no
accessibility violations on any page (light and dark schemes, and with a
sentence highlighted); the keyboard reaches the skip link, the player and the
sentences; Enter on a sentence plays the audio from that sentence's time and
the highlight follows the audio; nothing scrolls unless the reader asks; the
pages reflow at 320 CSS px (what 400% zoom of a 1280 px window gives) and work
with JavaScript off.

Playwright for Python drives the system Chromium through its own bundled
driver: ``playwright install`` is never run. Locally the tests skip when
Playwright, Chromium or axe-core is missing; in CI (``CI`` set) they fail.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from publisher.build import build
from publisher.options import BuildOptions
from publisher.serve import make_server
from tests.conftest import _missing
from tests.helpers import FIXTURES, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("site_browser")]

log = logging.getLogger(__name__)

CHROMIUM = os.environ.get("PUBLISHER_CHROMIUM") or shutil.which("chromium") or \
    "/usr/bin/chromium"
AXE = ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    # Lets a test start the player from a script, as well as by a key press.
    "--autoplay-policy=no-user-gesture-required",
]
HOW_TO_INSTALL = ("Install them as .ci/run does: apt-get install chromium; "
                  "pip install playwright (never 'playwright install'); "
                  "npm install --prefix .tools axe-core")

ACTIVE = ".-epub-media-overlay-active"


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        _missing("axe-core", HOW_TO_INSTALL)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site-browser")
    result = build(FIXTURES / "short-audio.md",
                   BuildOptions(out_root=folder / "output", engine="fake", workers=1,
                                cache_dir=folder / "cache"))
    return result.out_dir


@pytest.fixture(scope="module")
def base_url(book: Path) -> Iterator[str]:
    server = make_server(book, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/site"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def pages(book: Path) -> list[str]:
    return sorted(p.name for p in (book / "site").glob("*.html"))


def section_pages(book: Path) -> list[str]:
    return [name for name in pages(book) if name != "index.html"]


def run_axe(page, axe_source: str) -> list[str]:
    """Every axe-core violation on the page, one line each (empty when none)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    violations = page.evaluate("""async () => {
        const result = await axe.run(document);
        return result.violations.map(v => `${v.id} (${v.impact}): ${v.help} at ` +
            v.nodes.map(n => n.target.join(' ')).join(', '));
    }""")
    return list(violations)


def sentence_timings(page) -> list[tuple[str, float, float]]:
    return [(s["id"], s["start"], s["end"]) for s in page.evaluate("""() =>
        Array.from(document.querySelectorAll('[data-start-ms]')).map(e => ({
            id: e.id, start: e.dataset.startMs / 1000, end: e.dataset.endMs / 1000}))""")]


def audio_state(page) -> dict:
    """The audio time and the highlighted sentence, read in one go."""
    return page.evaluate(f"""() => {{
        const audio = document.querySelector('audio');
        const active = document.querySelectorAll('{ACTIVE}');
        return {{time: audio.currentTime, paused: audio.paused,
                 active: Array.from(active).map(e => e.id),
                 focused: document.activeElement && document.activeElement.id,
                 scrollY: window.scrollY}};
    }}""")


def expected_at(timings, seconds: float) -> list[str]:
    return [sid for sid, start, end in timings if start <= seconds < end]


def tab_to(page, predicate: str, limit: int = 60) -> bool:
    """Press Tab until ``predicate`` (a JS expression on ``el``) holds for the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return !!({predicate}); }}"):
            return True
    return False


# --------------------------------------------------------------------------- axe


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violations_on_any_page(browser, base_url, book, axe_source, scheme):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    try:
        page = context.new_page()
        problems = {}
        for name in pages(book):
            page.goto(f"{base_url}/{name}")
            violations = run_axe(page, axe_source)
            if violations:
                problems[name] = violations
        assert not problems
    finally:
        context.close()


def test_axe_finds_no_violations_while_a_sentence_is_highlighted(page, base_url, book,
                                                                 axe_source):
    page.goto(f"{base_url}/{section_pages(book)[1]}")
    timings = sentence_timings(page)
    page.evaluate("(t) => { const a = document.querySelector('audio'); a.currentTime = t; }",
                  timings[1][1] + 0.05)
    page.wait_for_function(f"() => document.querySelector('{ACTIVE}')")
    assert run_axe(page, axe_source) == []


# --------------------------------------------------------------------------- keyboard


def test_tab_reaches_the_skip_link_first_and_it_leads_to_the_text(page, base_url, book):
    page.goto(f"{base_url}/{section_pages(book)[1]}")
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => { const el = document.activeElement;
        const box = el.getBoundingClientRect();
        return {text: el.textContent, href: el.getAttribute('href'),
                visible: box.top >= 0 && box.left >= 0 && box.width > 0 &&
                         box.bottom <= window.innerHeight}; }""")
    assert focused == {"text": "Skip to the text", "href": "#site-main", "visible": True}
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "site-main"


def test_tab_reaches_the_player_and_every_sentence(page, base_url, book):
    page.goto(f"{base_url}/{section_pages(book)[1]}")
    sentence_ids = [sid for sid, _, _ in sentence_timings(page)]
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(
            "() => { const el = document.activeElement; return el.tagName === 'AUDIO' ? "
            "'<audio>' : (el.id || el.tagName); }"))
        if reached[-1] == "BODY":
            break
    assert "<audio>" in reached
    # Every sentence, in reading order (the heading's first, then the text's).
    assert [r for r in reached if r in sentence_ids] == sentence_ids
    assert "site-follow" in reached
    # The player comes before the text it reads.
    assert reached.index("<audio>") < reached.index(sentence_ids[1])


def test_enter_on_a_sentence_plays_from_it_and_the_highlight_follows(page, base_url, book):
    page.goto(f"{base_url}/{section_pages(book)[2]}")
    timings = sentence_timings(page)
    target_id, start, end = timings[2]
    assert tab_to(page, f"el.id === '{target_id}'")
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('audio').paused")
    state = audio_state(page)
    assert start - 0.05 <= state["time"] < end
    assert state["active"] == [target_id]
    # Focus stays where the reader put it; the page does not move.
    assert state["focused"] == target_id and state["scrollY"] == 0

    # Let it play past the start of the next sentence: the highlight moves on.
    next_start = timings[3][1]
    page.wait_for_function(
        f"() => document.querySelector('audio').currentTime > {next_start + 0.2}",
        timeout=max(10_000, int((next_start - start) * 1000) + 5000))
    state = audio_state(page)
    # Read between animation frames: the highlight may lag the clock by a frame.
    assert state["active"] in (expected_at(timings, state["time"]),
                               expected_at(timings, state["time"] - 0.1))
    assert state["active"] == [timings[3][0]]
    page.evaluate("() => document.querySelector('audio').pause()")
    page.wait_for_function("() => document.querySelector('audio').paused")
    page.wait_for_timeout(100)  # the pause event updates the highlight
    state = audio_state(page)
    assert state["active"] == expected_at(timings, state["time"])
    assert state["focused"] == target_id and state["scrollY"] == 0


def test_space_and_click_also_play_from_a_sentence(page, base_url, book):
    page.goto(f"{base_url}/{section_pages(book)[2]}")
    timings = sentence_timings(page)
    first_id, first_start, first_end = timings[1]
    assert tab_to(page, f"el.id === '{first_id}'")
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.querySelector('audio').paused")
    state = audio_state(page)
    assert first_start - 0.05 <= state["time"] < first_end and state["scrollY"] == 0
    last_id, last_start, last_end = timings[-1]
    page.click(f"#{last_id}")
    page.wait_for_function(f"() => document.querySelector('audio').currentTime >= "
                           f"{last_start - 0.05}")
    state = audio_state(page)
    assert last_start - 0.05 <= state["time"] < last_end
    assert state["active"] == [last_id]


def test_scrolling_to_the_spoken_sentence_is_opt_in(browser, base_url, book):
    # A window so short that the text starts below it.
    context = browser.new_context(viewport={"width": 320, "height": 240},
                                  reduced_motion="reduce")
    play_at = ("(t) => { const a = document.querySelector('audio'); a.currentTime = t;"
               " a.play(); }")
    try:
        page = context.new_page()
        page.goto(f"{base_url}/{section_pages(book)[2]}")
        timings = sentence_timings(page)
        page.evaluate(play_at, timings[-1][1] + 0.05)
        page.wait_for_function(f"() => document.getElementById('{timings[-1][0]}')"
                               f".matches('{ACTIVE}')")
        page.wait_for_timeout(300)
        assert audio_state(page)["scrollY"] == 0  # not asked: the page stays put

        page.check("#site-follow")
        page.evaluate("() => { document.querySelector('audio').pause(); scrollTo(0, 0); }")
        target = timings[-2][0]
        page.evaluate(play_at, timings[-2][1] + 0.05)
        page.wait_for_function(f"""() => {{
            const box = document.getElementById('{target}').getBoundingClientRect();
            return box.bottom > 0 && box.top < innerHeight; }}""")
        assert audio_state(page)["scrollY"] > 0
        # The choice is remembered on the next page.
        page.goto(f"{base_url}/{section_pages(book)[1]}")
        assert page.is_checked("#site-follow")
    finally:
        context.close()


# --------------------------------------------------------------------------- layout


def test_screenshots_and_no_horizontal_scroll_at_320_px(browser, base_url, book, tmp_path):
    first = section_pages(book)[0]
    shots = []
    for width, height in ((1280, 800), (320, 640)):
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            page.goto(f"{base_url}/{first}")
            shot = tmp_path / f"{Path(first).stem}-{width}x{height}.png"
            page.screenshot(path=str(shot), full_page=True)
            shots.append(shot)
            for name in pages(book):
                page.goto(f"{base_url}/{name}")
                widths = page.evaluate("() => [document.documentElement.scrollWidth, "
                                       "document.documentElement.clientWidth]")
                assert widths[0] <= widths[1], (name, width, widths)
        finally:
            context.close()
    log.info("screenshots: %s", ", ".join(str(s) for s in shots))
    print(f"\nscreenshots of {first}: {tmp_path}")
    assert all(s.stat().st_size > 1000 for s in shots)


def test_pages_work_with_javascript_off(browser, base_url, book):
    context = browser.new_context(java_script_enabled=False,
                                  viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{base_url}/{section_pages(book)[1]}")
        assert page.is_visible("audio[controls]")
        assert page.is_hidden("#site-play-hint") and page.is_hidden("#site-follow")
        assert page.locator("[data-start-ms][tabindex]").count() == 0
        assert page.is_visible("#site-text")
        # The player is still reachable and plays (the browser's own controls).
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == "Skip to the text"
        page.click("text=Next")
        assert page.url.endswith(section_pages(book)[2])
    finally:
        context.close()


def test_the_audio_and_captions_load_through_the_server(page, base_url, book):
    page.goto(f"{base_url}/{section_pages(book)[1]}")
    page.wait_for_function("() => document.querySelector('audio').readyState >= 1")
    state = page.evaluate("""() => { const a = document.querySelector('audio');
        const t = a.textTracks[0];
        return {duration: a.duration, error: a.error && a.error.code, kind: t.kind,
                language: t.language, mode: t.mode}; }""")
    assert state["error"] is None and state["duration"] > 1
    assert state["kind"] == "captions" and state["language"] == "en"
    # Seeking far into the file works (byte ranges) and playing from there too.
    page.evaluate("() => { const a = document.querySelector('audio');"
                  " a.currentTime = a.duration - 1; a.play(); }")
    started = time.monotonic()
    page.wait_for_function("() => document.querySelector('audio').ended", timeout=10_000)
    assert time.monotonic() - started < 10
