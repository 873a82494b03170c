"""The listening web site: the book as static pages with read-along audio.

    site/index.html          title, the content note first, contents, downloads
    site/NN-<slug>.html      one page per section: its heading, its MP3 player
                             (with the WebVTT captions track), then its text
    site/book.css            the EPUB's own stylesheet: the same read-along highlight
    site/site.css            page layout (reflows at 400% zoom), focus, dark mode
    site/readalong.js        highlights the sentence being spoken; a sentence
                             plays from its start when clicked, or on Enter/Space
    site/images/...          the images the text shows

The site sits in ``output/<slug>/site/``, beside ``audio/``, ``transcripts/``,
the EPUB, the M4B and the feed, and links to them with relative URLs
(``../audio/NN-<slug>.mp3``), so nothing is copied twice and the folder can be
published as it is, or previewed with ``publisher serve``.

Each sentence ``<span>`` of :attr:`Section.body_html` keeps its id and gets its
exact synthesis timing as ``data-start-ms`` / ``data-end-ms``: the pages carry
their own timings, so read-along works from ``file://`` too, and the text and
players work with JavaScript off. One page per section gives screen-reader and
keyboard users a short page with one heading at the top and one player.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

from .layout import FEED_NAME, SITE_DIR, book_file, document_href, transcript_href
from .model import Publication, Section, SectionAudio
from .templates import read_static, render

__all__ = ["SITE_DIR", "page_href", "site_page", "write_site"]

_STATIC = ("book.css", "site.css", "readalong.js")
#: book.css ships beside the EPUB templates: the site uses the very same file.
_STATIC_SOURCES = {"book.css": "book.css", "site.css": "site/site.css",
                   "readalong.js": "site/readalong.js"}
_HEADING = re.compile(r"^h([1-6])$")
_EPUB_NS = "http://www.idpf.org/2007/ops"
_ROLE_CLASSES = {"content-note": "notice", "titlepage": "titlepage", "front": "front",
                 "body": "chapter"}


def page_href(section: Section) -> str:
    """A section's page, relative to the site folder."""
    return f"{section.basename}.html"


def write_site(pub: Publication) -> list[Path]:
    """Write the static listening site into ``pub.out_dir / "site"``.

    Returns the files written, in a fixed order: the index, the section pages
    in book order, the stylesheets and script, then the images. The M4B and the
    feed are linked only if they exist in ``pub.out_dir`` when this runs (other
    writers make them), so run it after them.
    """
    site = pub.out_dir / SITE_DIR
    site.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, data: bytes) -> None:
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)

    write("index.html", render_index(pub).encode("utf-8"))
    for section in pub.book.sections:
        write(page_href(section), site_page(pub, section).encode("utf-8"))
    for name in _STATIC:
        write(name, read_static(_STATIC_SOURCES[name]))
    for image in sorted(pub.book.images, key=lambda i: i.href):
        write(image.href, image.source.read_bytes())
    return written


# --------------------------------------------------------------------------- pages


def render_index(pub: Publication) -> str:
    """The site's front page: the content note first, then contents and downloads."""
    book = pub.book
    audio = {section.id: a for section, a in pub.sections_with_audio}
    entries = []
    for section in book.sections:
        section_audio = audio.get(section.id)
        entries.append({
            "title": section.title,
            "href": page_href(section),
            "duration": _duration(section_audio.duration_ms) if section_audio else "",
            "headings": _toc_headings(section),
        })
    return render("site/index.html", **_common(pub), entries=entries,
                  section_files=[_section_files(pub, s, a) for s, a in pub.sections_with_audio],
                  subtitle=book.meta.subtitle, authors=", ".join(book.meta.authors),
                  description=book.meta.description, downloads_in_main=True)


def site_page(pub: Publication, section: Section) -> str:
    """The page of one section: heading, player, text, previous/next links."""
    sections = pub.book.sections
    index = sections.index(section)
    section_audio = {s.id: a for s, a in pub.sections_with_audio}.get(section.id)
    timings = ({t.sentence_id: (t.start_ms, t.end_ms) for t in section_audio.timings}
               if section_audio else {})
    documents = {document_href(s): page_href(s) for s in sections}
    heading, text = _page_html(section.body_html, timings, documents)
    previous = sections[index - 1] if index > 0 else None
    following = sections[index + 1] if index + 1 < len(sections) else None
    return render(
        "site/section.html", **_common(pub), downloads_in_main=False,
        section_title=section.title,
        heading=heading,
        text=text,
        css_class=_ROLE_CLASSES.get(section.role, "chapter"),
        files=_section_files(pub, section, section_audio) if section_audio else None,
        previous={"href": page_href(previous), "title": previous.title} if previous else None,
        next={"href": page_href(following), "title": following.title} if following else None,
    )


def _common(pub: Publication) -> dict[str, object]:
    """What every page shows: book title, language, whole-book downloads."""
    meta = pub.book.meta
    out = pub.out_dir
    downloads = []
    epub_name = book_file(meta.slug, "epub")
    if (out / epub_name).is_file():
        narrated = "synchronizedAudioText" in pub.accessibility.features
        note = "with read-along narration, " if narrated else ""
        downloads.append({"href": f"../{epub_name}", "label": "EPUB 3 e-book",
                          "note": f"{note}{_size(out / epub_name)}"})
    m4b_name = book_file(meta.slug, "m4b")
    if (out / m4b_name).is_file():
        downloads.append({"href": f"../{m4b_name}", "label": "Audiobook (M4B)",
                          "note": f"the whole book with chapters, {_size(out / m4b_name)}"})
    feed = FEED_NAME
    has_feed = (out / feed).is_file()
    if has_feed:
        downloads.append({"href": f"../{feed}", "label": "Podcast feed (RSS)",
                          "note": "copy this link into a podcast app"})
    return {"lang": meta.language, "dir": meta.direction, "book_title": meta.title,
            "content_note": meta.content_note, "downloads": downloads,
            "feed_href": f"../{feed}" if has_feed else "", "rights": meta.rights}


def _section_files(pub: Publication, section: Section, audio: SectionAudio) -> dict[str, str]:
    """Links to a section's MP3 and transcript, relative to the site folder."""
    try:
        mp3 = audio.path.relative_to(pub.out_dir).as_posix()
    except ValueError as exc:  # a bug upstream: audio must live in the output folder
        raise ValueError(f"section {section.id}: audio {audio.path} is not inside "
                         f"{pub.out_dir}") from exc
    vtt = transcript_href(section)
    return {"title": section.title, "mp3": f"../{mp3}",
            "mp3_size": _size(pub.out_dir / mp3),
            "duration": _duration(audio.duration_ms),
            "vtt": f"../{vtt}" if (pub.out_dir / vtt).is_file() else "",
            "lang": pub.book.meta.language}


def _toc_headings(section: Section) -> list[dict[str, str]]:
    """A section's subsection headings for the contents (flat: they are few)."""
    href = page_href(section)
    return [{"title": h.title, "href": f"{href}#{h.id}"} for h in section.headings if h.id]


def _duration(ms: int) -> str:
    """'1 min 5 s': read well by screen readers, unlike '1:05'.

    Whole seconds rounded down, as the browser's player shows them.
    """
    minutes, seconds = divmod(max(1, ms // 1000), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _size(path: Path) -> str:
    size = path.stat().st_size
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{max(1, round(size / 1000))} kB"


# --------------------------------------------------------------------------- section HTML


def _page_html(body_html: str, timings: dict[str, tuple[int, int]],
               documents: dict[str, str]) -> tuple[str, str]:
    """Split a section's XHTML into (page heading, rest) as HTML, ready for the web.

    Sentence spans get their timings; links to other section documents point
    to their pages; headings are renumbered from h1 without skipped levels, so
    each page's outline is in order whatever levels the author used.
    """
    root = _parse_fragment(body_html)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name in [n for n in element.attrib if n.startswith(f"{{{_EPUB_NS}}}")]:
            del element.attrib[name]  # epub:type means nothing on the web
        timing = timings.get(element.get("id", ""))
        if timing is not None:
            element.set("data-start-ms", str(timing[0]))
            element.set("data-end-ms", str(timing[1]))
        href = element.get("href") if element.tag == "a" else None
        if href:
            document, _, fragment = href.partition("#")
            if document in documents:
                element.set("href", documents[document] + (f"#{fragment}" if fragment else ""))
    etree.cleanup_namespaces(root)  # no stray xmlns:epub on the web page
    first = next((c for c in root if isinstance(c.tag, str)), None)
    leading = (first is not None and _HEADING.match(first.tag) is not None
               and not (root.text or "").strip())
    _renumber_headings(root, leading)
    heading = ""
    if leading:
        assert first is not None
        root.text = (root.text or "") + (first.tail or "")
        first.tail = None
        heading = _serialize(first)
        root.remove(first)
    text = html.escape(root.text or "", quote=False) + "".join(
        _serialize(child, tail=True) for child in root)
    return heading, text


def _parse_fragment(body_html: str) -> etree._Element:
    """Parse XHTML (as the EPUB has it); fall back to the forgiving HTML parser."""
    try:
        return etree.fromstring(f'<div xmlns:epub="{_EPUB_NS}">{body_html}</div>')
    except etree.XMLSyntaxError:
        return lxml_html.fragment_fromstring(body_html, create_parent="div")


def _renumber_headings(root: etree._Element, leading: bool) -> None:
    """h1 for the page heading, then one level deeper at most per step."""
    headings: Sequence[etree._Element] = [
        e for e in root.iter() if isinstance(e.tag, str) and _HEADING.match(e.tag)]
    # (source level, page level); without a leading heading the template's h1 is the root.
    stack: list[tuple[int, int]] = [] if leading else [(0, 1)]
    for element in headings:
        level = int(element.tag[1])
        while stack and stack[-1][0] >= level:
            stack.pop()
        new_level = stack[-1][1] + 1 if stack else 1
        stack.append((level, new_level))
        element.tag = f"h{min(new_level, 6)}"


def _serialize(element: etree._Element, tail: bool = False) -> str:
    """HTML serialization: void elements unclosed, empty cells as <td></td>."""
    return etree.tostring(element, method="html", encoding="unicode", with_tail=tail)
