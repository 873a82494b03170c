"""Tests for publisher.site: the static listening site, read as HTML (no browser).

One small book with a content note, a cross-section link, skipped heading
levels and a table is built once with the fake engine (module fixture); the
browser tests are in test_site_browser.py.

lxml's HTML parser predates <track>: it nests what follows a <track> inside
it, hence the ``.//`` in some queries below.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import lxml.html
import pytest

from publisher import narrate
from publisher.build import build, load_book, source_date
from publisher.model import Accessibility, Publication
from publisher.options import BuildOptions, Reporter
from publisher.script import script_book
from publisher.site import SITE_DIR, page_href, write_site
from tests.helpers import FIXTURES, write_book

pytestmark = pytest.mark.xdist_group("site")

CONTENT_NOTE = "This book talks about loss. Take a break whenever you need to."

BODY = """\
## The first part

The morning was quiet. See [the second part](#the-second-part) for more.

#### A heading two levels down

Text under the deeper heading.

## The second part

| Day | Weather |
| --- | --- |
| Monday | Sunny |

The end of the book.
"""


def _write_source(folder: Path) -> Path:
    return write_book(folder, BODY, title="A book for the web", author="Ada Example",
                      content_note=CONTENT_NOTE)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("site")
    source = _write_source(folder)
    result = build(source, BuildOptions(out_root=folder / "out", engine="fake", workers=1,
                                        cache_dir=folder / "cache"))
    return result


def page(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_bytes())


def sections_of(result) -> list[dict]:
    return result.record["sections"]


def section_pages(result) -> list[Path]:
    return [result.out_dir / SITE_DIR / f"{Path(s['document']).stem}.html"
            for s in sections_of(result)]


# --------------------------------------------------------------------------- files


def test_an_index_and_one_page_per_section(built):
    site = built.out_dir / SITE_DIR
    names = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    pages = [p.name for p in section_pages(built)]
    assert names == sorted(["index.html", "book.css", "site.css", "readalong.js", *pages])
    # The site's stylesheet is the EPUB's: the same read-along highlight.
    css = (site / "book.css").read_text(encoding="utf-8")
    assert ".-epub-media-overlay-active" in css
    assert re.search(r"\.-epub-media-overlay-active[^}]*outline", css)


def test_audio_is_linked_not_copied(built):
    site = built.out_dir / SITE_DIR
    assert not list(site.rglob("*.mp3")) and not list(site.rglob("*.vtt"))


def test_the_site_is_byte_identical_when_built_again(built, tmp_path):
    source = _write_source(tmp_path)
    again = build(source, BuildOptions(out_root=tmp_path / "elsewhere", engine="fake",
                                       workers=1, cache_dir=tmp_path / "cache"))
    first = built.out_dir / SITE_DIR
    second = again.out_dir / SITE_DIR
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    # No absolute path of the build machine leaks into a page.
    for name in files:
        assert str(built.out_dir.parent).encode() not in (first / name).read_bytes()


# --------------------------------------------------------------------------- index


def test_index_shows_the_content_note_first(built):
    root = page(built.out_dir / SITE_DIR / "index.html")
    main = root.get_element_by_id("site-main")
    note = root.get_element_by_id("content-note")
    assert CONTENT_NOTE in note.text_content()
    # Before the contents, the downloads, and every link in the page's text.
    ordered = [e for e in main.iter() if e.tag in ("section", "nav", "a")]
    assert ordered[0] is note
    # The header comes before main, but holds no book text: only the title and a
    # link to the note itself.
    header_links = [a.get("href") for a in root.xpath("//header//a")]
    assert "index.html#content-note" in header_links


def test_index_lists_every_section_and_every_download(built):
    root = page(built.out_dir / SITE_DIR / "index.html")
    toc = root.get_element_by_id("contents")
    hrefs = [a.get("href") for a in toc.iter("a")]
    for path in section_pages(built):
        assert path.name in hrefs
    downloads = [a.get("href") for a in root.get_element_by_id("downloads").iter("a")]
    slug = built.slug
    assert f"../{slug}.epub" in downloads
    assert "with read-along narration" in root.get_element_by_id("downloads").text_content()
    assert f"../{slug}.m4b" in downloads
    assert "../feed.xml" in downloads
    for entry in sections_of(built):
        assert f"../{entry['audio']}" in downloads
    assert root.xpath('//link[@rel="alternate" and @type="application/rss+xml"]'
                      '/@href') == ["../feed.xml"]


def test_m4b_and_feed_are_linked_only_when_they_exist(tmp_path):
    source = write_book(tmp_path, "## One\n\nA sentence.\n", title="Small")
    options = BuildOptions(engine="fake", out_root=tmp_path, cache_dir=tmp_path / "cache",
                           workers=1)
    book = load_book(source, options)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    narration = narrate.narrate_book(book, script_book(book), out_dir, options, Reporter())
    pub = Publication(book=book, out_dir=out_dir, audio=narration.sections,
                      modified=source_date(book.meta.date),
                      narrator=narration.narrator,
                      accessibility=Accessibility((), (), (), (), ""))
    write_site(pub)
    index = (out_dir / SITE_DIR / "index.html").read_text(encoding="utf-8")
    assert ".m4b" not in index and "feed.xml" not in index and ".epub" not in index
    (out_dir / f"{book.meta.slug}.m4b").write_bytes(b"m4b")
    (out_dir / "feed.xml").write_bytes(b"<rss/>")
    write_site(pub)
    index = (out_dir / SITE_DIR / "index.html").read_text(encoding="utf-8")
    assert f'href="../{book.meta.slug}.m4b"' in index and 'href="../feed.xml"' in index


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize("name", ["index", "sections"])
def test_every_page_has_landmarks_a_skip_link_and_its_language(built, name):
    paths = ([built.out_dir / SITE_DIR / "index.html"] if name == "index"
             else section_pages(built))
    for path in paths:
        root = page(path)
        assert root.get("lang") == "en" and root.get("dir") == "ltr", path.name
        assert root.xpath("//meta[@name='viewport']/@content") == [
            "width=device-width, initial-scale=1"]
        body_first = root.body.xpath("./*")[0]
        assert body_first.tag == "a" and body_first.get("href") == "#site-main"
        assert len(root.xpath("//main[@id='site-main']")) == 1
        assert len(root.xpath("//header")) == 1
        navs = root.xpath("//nav")
        labels = [n.get("aria-label") or n.get("aria-labelledby") for n in navs]
        assert all(labels) and len(set(labels)) == len(labels), path.name
        if name == "sections":
            assert len(root.xpath("//footer")) == 1
        assert len(root.xpath("//h1")) == 1, path.name


def test_headings_are_in_order_on_every_page(built):
    for path in [built.out_dir / SITE_DIR / "index.html", *section_pages(built)]:
        levels = [int(h.tag[1]) for h in page(path).iter("h1", "h2", "h3", "h4", "h5", "h6")]
        assert levels[0] == 1, path.name
        for before, after in zip(levels, levels[1:], strict=False):
            assert after <= before + 1, (path.name, levels)


def test_each_section_page_has_one_player_with_captions(built):
    for entry, path in zip(sections_of(built), section_pages(built), strict=True):
        root = page(path)
        players = root.xpath("//audio")
        assert len(players) == 1
        audio = players[0]
        assert audio.get("controls") is not None and audio.get("preload") == "metadata"
        assert audio.get("src") == f"../{entry['audio']}"
        tracks = audio.xpath("./track")
        assert len(tracks) == 1
        track = tracks[0]
        assert track.get("kind") == "captions" and track.get("srclang") == "en"
        assert track.get("default") is not None
        assert track.get("src") == f"../transcripts/{Path(entry['audio']).stem}.vtt"
        # Without audio support the element still offers the file.
        assert audio.xpath(".//a/@href") == [f"../{entry['audio']}"]


def test_every_sentence_is_on_its_page_with_its_exact_timing(built):
    for entry, path in zip(sections_of(built), section_pages(built), strict=True):
        root = page(path)
        for timing in entry["timings"]:
            span = root.get_element_by_id(timing["id"])
            assert span.get("data-start-ms") == str(timing["start_ms"])
            assert span.get("data-end-ms") == str(timing["end_ms"])
        timed = root.xpath("//*[@data-start-ms]")
        assert [e.get("id") for e in timed] == [t["id"] for t in entry["timings"]]


def test_every_local_link_resolves(built):
    site = built.out_dir / SITE_DIR
    for path in [site / "index.html", *section_pages(built)]:
        root = page(path)
        for element in root.xpath("//*[@href or @src]"):
            url = element.get("href") or element.get("src")
            parts = urlsplit(url)
            if parts.scheme or url.startswith("data:"):
                continue
            target = (site / unquote(parts.path)).resolve() if parts.path else path
            assert target.is_file(), (path.name, url)
            if parts.fragment and target.suffix == ".html":
                assert page(target).xpath(f'//*[@id="{parts.fragment}"]'), (path.name, url)


def test_links_between_sections_point_to_pages(built):
    # Pages: content note, title page, the first part, the second part.
    first = page(section_pages(built)[2])
    hrefs = [a.get("href") for a in first.iter("a")]
    second = section_pages(built)[3].name
    assert f"{second}#the-second-part" in hrefs
    assert not any(".xhtml" in (h or "") for h in hrefs)


def test_skipped_heading_levels_are_closed_up(built):
    root = page(section_pages(built)[2])
    deeper = root.get_element_by_id("a-heading-two-levels-down")
    assert deeper.tag == "h2"


def test_pages_work_without_javascript(built):
    for path in section_pages(built):
        root = page(path)
        scripts = root.xpath("//script")
        # One small local script, deferred; no inline code, no CDN.
        assert [s.get("src") for s in scripts] == ["readalong.js"]
        assert all(s.get("defer") is not None and not (s.text or "").strip() for s in scripts)
        assert not root.xpath("//@*[starts-with(name(), 'on')]")
        # No dead tab stops: sentences become focusable only when the script runs.
        assert not root.xpath("//*[@data-start-ms][@tabindex]")
        # The script's controls are hidden until it runs.
        assert root.get_element_by_id("site-play-hint").get("hidden") is not None
        follow = root.get_element_by_id("site-follow").getparent().getparent()
        assert follow.get("hidden") is not None
        # The text is there: every sentence but the heading's is in the text block.
        text = root.get_element_by_id("site-text")
        assert len(root.xpath("//*[@data-start-ms]")) == 1 + len(
            text.xpath(".//*[@data-start-ms]"))


def test_script_and_styles_have_no_fixed_widths_or_remote_resources(built):
    site = built.out_dir / SITE_DIR
    css = (site / "site.css").read_text(encoding="utf-8")
    # Only the 1 px of the visually-hidden pattern; every real width is relative.
    assert not re.search(r"(?<![-\w])(min-|max-)?width:\s*(\d{2,}|[2-9])(\.\d+)?px", css)
    script = (site / "readalong.js").read_text(encoding="utf-8")
    assert "http" not in script and "focus()" not in script
    # Scrolling is opt-in and never animated for readers who prefer reduced motion.
    assert "prefers-reduced-motion" in script


def test_right_to_left_books_get_dir_rtl(tmp_path):
    source = tmp_path / "rtl.md"
    shutil.copy(FIXTURES / "rtl-arabic.md", source)
    result = build(source, BuildOptions(out_root=tmp_path / "out", engine="fake", workers=1,
                                        cache_dir=tmp_path / "cache"))
    for path in (result.out_dir / SITE_DIR).glob("*.html"):
        root = page(path)
        assert (root.get("lang"), root.get("dir")) == ("ar", "rtl")


def test_page_href_matches_the_section_basename(built):
    record = json.loads((built.out_dir / "build.json").read_text(encoding="utf-8"))
    documents = [s["document"] for s in record["sections"]]
    book = load_book(built.out_dir.parent.parent / "book.md", BuildOptions())
    assert [page_href(s) for s in book.sections] == \
        [d.replace(".xhtml", ".html") for d in documents]
