"""``publisher preview``: rebuild on save, reload the pages, keep the last good book.

The browser tests drive Debian's Chromium with Playwright (as test_site_browser
does; ``playwright install`` is never run) against ``publisher preview`` run
as a user runs it, in its own process, on a copy of tests/fixtures/short-audio.md
with the fake engine. The server tests use a session in this process.
Timeouts here are generous bounds for a loaded machine, not speed checks:
``bench/run.py --only preview`` measures edit-to-playable.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from publisher.options import BuildOptions
from publisher.preview import PreviewSession, is_local_client
from tests.helpers import FIXTURES, ROOT
from tests.test_site_browser import AXE, HOW_TO_INSTALL, run_axe

pytestmark = pytest.mark.xdist_group("preview")

#: How long a reload may take here: generous, the machine may be busy (not a speed test).
RELOAD_TIMEOUT_MS = 60_000
START_TIMEOUT_S = 180
EDIT_OLD = "The sun came up over the hills."
EDIT_NEW = "The bright sun came up over the hills."


def _save(path: Path, text: str) -> None:
    """Save as editors do: a new file renamed over the old one."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _audio_digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((folder / "audio").glob("*.mp3"))}


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _axe(page) -> list[str]:
    """axe-core's violations on the page; not checked (locally) without axe-core."""
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"axe-core is required in CI. {HOW_TO_INSTALL}", pytrace=False)
        return []
    return run_axe(page, AXE.read_text(encoding="utf-8"))


class PreviewProcess:
    """``python -m publisher preview`` in a folder of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.source = folder / "book.md"
        shutil.copy(FIXTURES / "short-audio.md", self.source)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "publisher", "preview", "book.md", "--engine", "fake",
             "--port", "0"], cwd=folder, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.url = self._address()
        self.base = self.url.rsplit("/site/", 1)[0]
        self.book = folder / "output" / ".preview" / "book"  # the slug: the file name

    def _address(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if line.startswith("Previewing "):
                return line.rsplit(" at ", 1)[1].strip()
        self.process.kill()
        _, err = self.process.communicate()
        pytest.fail(f"publisher preview did not start: {err}")

    def status(self) -> dict:
        with urllib.request.urlopen(f"{self.base}/__preview__/status.json", timeout=10) as r:
            return json.loads(r.read())

    def wait_for(self, attempt: int, timeout_s: float = 60) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.status()
            if state["attempt"] >= attempt:
                return state
            time.sleep(0.1)
        pytest.fail(f"no build {attempt} after {timeout_s} s: {self.status()}")

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a user stops it; the exit code and what it said."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
            pytest.fail(f"publisher preview did not stop on Ctrl-C: {err}")
        return self.process.returncode, err


@pytest.fixture
def preview(tmp_path: Path) -> Iterator[PreviewProcess]:
    running = PreviewProcess(tmp_path)
    try:
        yield running
    finally:
        running.stop()


# --------------------------------------------------------------------------- the loop


@pytest.mark.slow
def test_an_edit_reloads_the_page_and_highlights_the_changed_sentence(preview, page):
    page.set_viewport_size({"width": 800, "height": 300})  # short: the page scrolls
    page.goto(f"{preview.base}/site/02-morning.html")
    page.wait_for_selector("#preview-panel")
    page.wait_for_function("() => document.querySelector('audio').readyState >= 1")
    page.evaluate("() => { window.__before = true; window.scrollTo(0, 40); "
                  "document.querySelector('audio').currentTime = 0.7; }")
    scrolled = page.evaluate("() => window.scrollY")
    assert scrolled > 0
    before = _audio_digests(preview.book)
    assert len(before) == 4  # the title page and three sections
    attempt = preview.status()["attempt"]

    _save(preview.source, preview.source.read_text().replace(EDIT_OLD, EDIT_NEW))

    page.wait_for_function("() => window.__before === undefined && "
                           "document.querySelector('.preview-changed')",
                           timeout=RELOAD_TIMEOUT_MS)
    state = preview.wait_for(attempt + 1)
    assert state["ok"] and [c["text"] for c in state["changed"]] == [EDIT_NEW]
    highlighted = page.eval_on_selector_all(".preview-changed", "els => els.map(e => "
                                            "({id: e.id, text: e.textContent}))")
    assert highlighted == [{"id": state["changed"][0]["id"], "text": EDIT_NEW}]
    assert _axe(page) == []  # the panel and the outline are accessible
    # It kept its place: the scroll position and the player's time.
    assert page.evaluate("() => window.scrollY") == scrolled
    page.wait_for_function("() => Math.abs(document.querySelector('audio').currentTime - 0.7)"
                           " < 0.05")
    # Only the edited section's audio changed on disk.
    after = _audio_digests(preview.book)
    assert [name for name in after if after[name] != before[name]] == ["02-morning.mp3"]

    # It offers to play the changed sentence from its start, and does not play by itself.
    assert page.evaluate("() => document.querySelector('audio').paused")
    page.click("#preview-play")
    page.wait_for_function("() => !document.querySelector('audio').paused")
    start_s = page.eval_on_selector(".preview-changed", "e => e.dataset.startMs / 1000")
    played_from = page.evaluate("() => document.querySelector('audio').currentTime")
    assert start_s <= played_from < start_s + 1.0


@pytest.mark.slow
def test_a_broken_edit_is_shown_on_the_page_and_the_old_book_stays(preview, page):
    page.goto(f"{preview.base}/site/02-morning.html")
    page.wait_for_selector("#preview-panel")
    good = preview.source.read_text()
    served_before = _files(preview.book)
    attempt = preview.status()["attempt"]

    _save(preview.source, good.replace("title: A short book", "title: [A short book", 1))

    page.wait_for_selector("#preview-error:not([hidden])", timeout=RELOAD_TIMEOUT_MS)
    message = page.text_content("#preview-error")
    assert "front matter is not valid YAML" in message and "book.md:2" in message
    assert _axe(page) == []
    state = preview.wait_for(attempt + 1)
    assert not state["ok"] and state["generation"] == attempt  # no new book
    assert _files(preview.book) == served_before
    assert "The sun came up" in page.text_content("#site-text")
    with urllib.request.urlopen(f"{preview.base}/site/02-morning.html", timeout=10) as r:
        assert r.status == 200 and b"The sun came up" in r.read()

    page.evaluate("() => { window.__broken = true; }")
    _save(preview.source, good.replace(EDIT_OLD, EDIT_NEW))  # fixed: the page reloads
    page.wait_for_function("() => window.__broken === undefined && "
                           "document.querySelector('.preview-changed')",
                           timeout=RELOAD_TIMEOUT_MS)
    assert page.is_hidden("#preview-error")


@pytest.mark.slow
def test_ctrl_c_stops_it_and_it_wrote_only_under_output(preview):
    assert preview.status()["ok"]
    _save(preview.source, preview.source.read_text().replace(EDIT_OLD, EDIT_NEW))
    preview.wait_for(2)
    code, err = preview.stop()
    assert code == 0, err
    assert "Traceback" not in err and "Stopped." in err
    outside = {name for name in _files(preview.folder) if not name.startswith("output/")}
    assert outside == {"book.md"}
    # The preview's own folder and the shared cache, nothing else under output/.
    top = {name.split("/")[1] for name in _files(preview.folder) - outside}
    assert top <= {".preview", ".cache"}, top
    assert not (preview.folder / "output" / "book").exists()  # a finished book is not touched
    assert not any("building" in p.name or ".old-" in p.name
                   for p in (preview.folder / "output" / ".preview").iterdir())
    with pytest.raises(OSError):
        urllib.request.urlopen(preview.url, timeout=5)


# --------------------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreviewSession]:
    folder = tmp_path_factory.mktemp("preview-server")
    source = folder / "book.md"
    shutil.copy(FIXTURES / "short-audio.md", source)
    (folder / "secret.txt").write_text("not for the web")
    running = PreviewSession(source, BuildOptions(out_root=folder / "output", engine="fake",
                                                  workers=1))
    running.start(port=0)
    try:
        yield running
    finally:
        running.close()


def _get(url: str, host: str | None = None) -> int:
    """The status of a GET, the URL sent exactly as written (no dot segments removed)."""
    scheme, _, rest = url.partition("://")
    address, _, path = rest.partition("/")
    name, _, port = address.partition(":")
    with socket.create_connection((name, int(port)), timeout=10) as conn:
        conn.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host or address}\r\n"
                     "Connection: close\r\n\r\n".encode())
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply:
                break
    return int(reply.split(b" ", 2)[1])


@pytest.mark.slow
def test_the_server_binds_this_computer_only(session):
    assert session.server is not None
    host, port = session.server.server_address[:2]
    assert host == "127.0.0.1"
    assert session.url.startswith(f"http://127.0.0.1:{port}/")
    # Reached from another address of this machine, nothing answers.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        own = probe.getsockname()[0]
    except OSError:
        own = "127.0.0.1"
    finally:
        probe.close()
    if own.startswith("127."):
        pytest.skip("this machine has no address but the loopback")
    with pytest.raises(OSError):
        socket.create_connection((own, port), timeout=5).close()


def test_only_loopback_clients_are_local():
    assert is_local_client("127.0.0.1") and is_local_client("::1")
    assert not is_local_client("192.168.1.20") and not is_local_client("10.0.0.1")
    assert not is_local_client("not an address")


@pytest.mark.slow
def test_foreign_host_names_are_refused(session):
    assert _get(session.url) == 200
    assert _get(session.url, host=f"localhost:{session.server.server_address[1]}") == 200
    assert _get(session.url, host="attacker.example") == 403  # DNS rebinding
    assert _get(session.url, host="attacker.example:80") == 403


@pytest.mark.slow
@pytest.mark.parametrize("path", [
    "/../book.md", "/site/../../secret.txt", "/%2e%2e/book.md", "/site/%2e%2e/%2e%2e/book.md",
    "/..%2fbook.md", "/%252e%252e/book.md", "/site/..\\..\\book.md",
])
def test_the_server_refuses_paths_outside_the_book(session, path):
    base = session.url.rsplit("/site/", 1)[0]
    assert _get(base + path) in (403, 404)  # never the file
    assert _get(base + path) != 200


@pytest.mark.slow
def test_a_symlink_out_of_the_book_is_refused(session):
    assert session.server is not None
    book = Path(session.server.RequestHandlerClass.root)  # type: ignore[attr-defined]
    link = book / "site" / "leak.md"
    link.symlink_to(session.source)
    try:
        assert _get(session.url.rsplit("/", 1)[0] + "/leak.md") == 403
    finally:
        link.unlink()


@pytest.mark.slow
def test_pages_get_the_script_and_the_files_on_disk_do_not(session):
    book = Path(session.server.RequestHandlerClass.root)  # type: ignore[attr-defined]
    with urllib.request.urlopen(session.url, timeout=10) as reply:
        page = reply.read().decode()
    assert '<script src="/__preview__/preview.js"' in page
    assert "__preview__" not in (book / "site" / "index.html").read_text()
    base = session.url.rsplit("/site/", 1)[0]
    with urllib.request.urlopen(f"{base}/__preview__/preview.js", timeout=10) as reply:
        assert b"EventSource" in reply.read()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/__preview__/nothing", timeout=10)
    assert missing.value.code == 404


@pytest.mark.slow
def test_a_rebuild_names_the_changed_sentence_and_its_page(session):
    text = session.source.read_text()
    try:
        session.source.write_text(text.replace("It was time to rest.", "It was time to sleep."))
        state = session.rebuild()
        assert not state.error
        assert [(c.text, c.page, c.section_title) for c in state.changed] == [
            ("It was time to sleep.", "04-evening.html", "Evening")]
        session.source.write_text(text.replace("title: A short", "title: [A short"))
        broken = session.rebuild()
        assert "front matter" in broken.error and broken.generation == state.generation
    finally:
        session.source.write_text(text)
        assert not session.rebuild().error


@pytest.mark.parametrize(("args", "message"), [
    (["preview", "missing.md"], "missing.md: no such Markdown file"),
    (["preview", "book.md", "--port", "70000"], "--port 70000: expected a port number"),
    (["preview", "book.md", "--rate", "3"], "--rate 3.0: expected"),
])
def test_preview_user_errors_are_clear(tmp_path, monkeypatch, capsys, args, message):
    from tests.helpers import run_cli

    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "short-audio.md", tmp_path / "book.md")
    code, printed = run_cli(args, capsys)
    assert code == 1 and message in printed and "Traceback" not in printed
    assert not (tmp_path / "output").exists()


def test_a_first_build_that_fails_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from tests.helpers import run_cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "book.md").write_text("---\ntitle: [broken\n---\n\nText.\n")
    code, printed = run_cli(["preview", "book.md", "--engine", "fake", "--port", "0"], capsys)
    assert code == 1
    assert "the preview cannot start" in printed and "front matter is not valid YAML" in printed
    assert "Traceback" not in printed


@pytest.mark.slow
def test_the_preview_makes_drafts_and_publisher_build_the_checked_files(tmp_path):
    """The preview's section files are drafts (one fast encode, unchecked): the timings
    and length of a build's files, other bytes; ``publisher build`` never takes a draft
    from the cache, and a save re-encodes only its section."""
    from publisher.audio.loudness import measure_levels
    from publisher.build import build

    source = tmp_path / "book.md"
    shutil.copy(FIXTURES / "short-audio.md", source)
    text = source.read_text()
    options = BuildOptions(out_root=tmp_path / "output", engine="fake", workers=1)
    session = PreviewSession(source, options)
    assert not session.rebuild().error
    book = tmp_path / "output" / ".preview" / "book"
    first = _audio_digests(book)

    _save(source, text.replace(EDIT_OLD, EDIT_NEW))
    assert not session.rebuild().error
    drafted = _audio_digests(book)
    assert [name for name in drafted if drafted[name] != first[name]] == ["02-morning.mp3"]

    built = build(source, options)  # the same cache, as after a preview session
    made = _audio_digests(built.out_dir)
    assert not set(made.values()) & set(drafted.values())  # every file encoded, checked
    # The checked files are the ones a build from an empty cache makes.
    fresh = build(source, BuildOptions(out_root=tmp_path / "fresh", engine="fake", workers=1))
    assert _audio_digests(fresh.out_dir) == made
    # A draft has the checked file's timings and decodes to as many samples.
    records = [json.loads((folder / "build.json").read_text()) for folder in (book,
                                                                         built.out_dir)]
    assert [[s["timings"] for s in record["sections"]] for record in records[1:]] == [
        [s["timings"] for s in records[0]["sections"]]]
    for name in made:
        assert measure_levels(book / "audio" / name).num_samples == measure_levels(
            built.out_dir / "audio" / name).num_samples

    _save(source, text)  # undone: the first draft comes back from the cache
    assert not session.rebuild().error
    assert _audio_digests(book) == first


@pytest.mark.slow
def test_a_save_just_before_the_watch_is_armed_is_not_lost(tmp_path, monkeypatch):
    """The save lands after run()'s first look and before watchfiles is watching.

    CI once lost such a save (the status stayed at build 1 for 60 s): the
    watcher raises no event for a change made before it was armed, so run()
    compares the files again each quiet half second.
    """
    import watchfiles

    source = tmp_path / "book.md"
    shutil.copy(FIXTURES / "short-audio.md", source)
    running = PreviewSession(source, BuildOptions(out_root=tmp_path / "output", engine="fake",
                                                  workers=1))
    running.start(port=0)
    real_watch = watchfiles.watch

    def late_watch(*args, **kwargs):
        if running.state.attempt == 1:  # the first arming only
            _save(source, source.read_text().replace(EDIT_OLD, EDIT_NEW))
            time.sleep(0.05)
        return real_watch(*args, **kwargs)

    monkeypatch.setattr(watchfiles, "watch", late_watch)
    stop = threading.Event()
    watcher = threading.Thread(target=running.run, args=(stop,), daemon=True)
    watcher.start()
    try:
        state = running.live.wait_past(1, timeout=60)
        assert state.attempt == 2 and not state.error, state
        assert any("bright sun" in change.text for change in state.changed), state.changed
    finally:
        stop.set()
        watcher.join(timeout=30)
        running.close()
    assert not watcher.is_alive()
