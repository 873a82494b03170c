"""Book (+ narration) -> EPUB 3.

ebooklib packages the publication (OPF, manifest, spine, NCX); our own
autoescaping templates render the XHTML and the nav document so that every
sentence span, landmark and ARIA role is exactly as designed. The zip is then
rewritten with fixed entry times and order so the same book gives the same
bytes.
"""

from __future__ import annotations

import datetime as _dt
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ebooklib import epub
from lxml import etree

from . import claims, overlays, templates
from .archive import add_entry, zip_time
from .layout import (
    CONTENTS_AUDIO_HREF,
    CONTENTS_SMIL_HREF,
    COVER_HREF,
    CSS_HREF,
    EPUB_DIR,
    NAV_HREF,
    PLS_HREF,
    TOC_TITLE_ID,
    audio_href,
    cover_image_href,
    document_href,
    nav_items,
    smil_href,
    toc_title,
)
from .model import Accessibility, Book, BookAudio, BookMeta, Cover
from .timecode import clock

_OPF_NS = "http://www.idpf.org/2007/opf"
#: The claim a build makes when its own check passed (see publisher.claims).
CONFORMANCE = claims.CONFORMANCE

_ROLE_ATTRS = {
    # role -> (epub:type, ARIA role, css class, aria-label)
    "content-note": ("notice", "doc-notice", "notice", "Content note"),
    "titlepage": ("titlepage", "", "titlepage", ""),
    "front": ("frontmatter", "", "front", ""),
    "body": ("bodymatter chapter", "doc-chapter", "chapter", ""),
}


@dataclass(frozen=True, slots=True)
class _Overlay:
    """A content document's media overlay (made by overlays.py from the timings)."""

    href: str  # e.g. "smil/03-x.smil"
    smil: bytes
    duration_ms: int


@dataclass(frozen=True, slots=True)
class _Narration:
    """What the read-along EPUB carries besides the text."""

    narrator: str
    #: Each voice heard, when there are several (each is a media:narrator and a
    #: dc:contributor with the MARC relator nrt); empty: ``narrator`` alone.
    narrators: tuple[str, ...]
    #: section id -> overlay; "nav" -> the nav document's overlay.
    overlays: dict[str, _Overlay]
    #: href in the EPUB -> audio file on disk.
    audio_files: dict[str, Path] = field(default_factory=dict)


def _narration(book: Book, audio: BookAudio) -> _Narration:
    """The SMIL of every section and of the contents, from the EPUB audio's timings."""
    overlay_map: dict[str, _Overlay] = {}
    audio_files: dict[str, Path] = {}
    for section, small in zip(book.sections, audio.epub_sections, strict=True):
        epub_href = audio_href(section)
        audio_files[epub_href] = small.path
        href = smil_href(section)
        overlay_map[section.id] = _Overlay(
            href=href, duration_ms=small.duration_ms,
            smil=overlays.section_smil(section, document_href(section), epub_href,
                                       small.timings, href))
    contents = audio.contents
    audio_files[CONTENTS_AUDIO_HREF] = contents.path
    overlay_map["nav"] = _Overlay(
        href=CONTENTS_SMIL_HREF, duration_ms=contents.duration_ms,
        smil=overlays.nav_smil(NAV_HREF, [(t.sentence_id, t) for t in contents.timings],
                               CONTENTS_AUDIO_HREF, CONTENTS_SMIL_HREF))
    return _Narration(narrator=audio.narrator, narrators=audio.narrators, overlays=overlay_map,
                      audio_files=audio_files)


def facts(book: Book, audio: BookAudio | None, has_pls: bool,
          verification: claims.Verification | None = None) -> Accessibility:
    """Derive accessibility facts from the book itself: never claim what is not there.

    ``audio``: the narration the EPUB carries (None for a text-only EPUB).
    A conformance claim only with a ``verification`` that is not known to have
    failed (see :mod:`publisher.claims`); the summary says how the book was checked.
    """
    html = "".join(s.body_html for s in book.sections)
    has_images = "<img" in html
    all_alt = has_images and all(
        'alt=""' not in chunk for chunk in html.split("<img")[1:]
    )
    narrated = audio is not None
    modes = ["textual"] + (["visual"] if has_images else []) + (["auditory"] if narrated else [])
    sufficient = ["textual"] if (not has_images or all_alt) else ["textual", "visual"]
    features = ["displayTransformability", "readingOrder", "structuralNavigation",
                "tableOfContents"]
    if has_images and all_alt:
        features.append("alternativeText")
    if has_pls:
        features.append("ttsMarkup")  # the PLS lexicon
    if audio is not None:
        features.append("synchronizedAudioText")
    claim = verification is not None and not verification.problems
    summary = ("has a table of contents, headings for structural navigation and a logical "
               "reading order, and it does not fix font sizes or colours.")
    summary = (claims.statement(verification) + " It " if claim else "This publication ") \
        + summary
    if has_images:
        summary += (" Every image has a text alternative." if all_alt else
                    " Some images have no text alternative.")
    if audio is not None:
        summary += (f" The whole text is narrated by a synthetic voice ({audio.narrator}) "
                    "with synchronized text highlighting, sentence by sentence.")
    if book.meta.content_note:
        summary += " A content note comes before the text."
    if not claim:
        summary += " " + claims.statement(verification)
    return Accessibility(access_modes=tuple(modes),
                     access_mode_sufficient=(",".join(sufficient),)
                     + (("auditory",) if audio is not None else ()),
                     features=tuple(sorted(features)),
                     hazards=("none",), summary=summary,
                     conforms_to=(CONFORMANCE,) if claim else (),
                     certified_by=claims.certifier(verification)
                     if claim and verification is not None else "")


class _Document(epub.EpubHtml):
    """An XHTML document whose bytes we render ourselves (ebooklib would re-parse them)."""

    def __init__(self, uid: str, file_name: str, title: str, content: bytes,
                 properties: Sequence[str] = (), media_overlay: str | None = None) -> None:
        super().__init__(uid=uid, file_name=file_name, title=title,
                         media_type="application/xhtml+xml", media_overlay=media_overlay)
        self.content = content
        self.properties = list(properties)

    def get_content(self, default: object = None) -> bytes:
        return self.content  # type: ignore[no-any-return]


def write_epub(book: Book, dest: Path, *, modified: _dt.datetime,
               audio: BookAudio | None = None, pls: bytes | None = None,
               cover: Cover | None = None,
               verification: claims.Verification | None = None) -> Accessibility:
    """Write the EPUB 3 for ``book`` to ``dest`` and return its accessibility facts.

    ``verification``: the check this very file is about to pass (or failed),
    without which the EPUB claims no conformance (see :mod:`publisher.claims`).

    With ``audio`` (the audio stage's result) the EPUB carries the EPUB
    profile's files and a media overlay (SMIL) per section and for the
    contents, made here from the files' sentence timings.
    """
    meta = book.meta
    narration = _narration(book, audio) if audio is not None else None
    ebook = epub.EpubBook()
    ebook.FOLDER_NAME = EPUB_DIR
    ebook.set_identifier(meta.identifier)
    ebook.set_title(meta.title)
    ebook.set_language(meta.language)
    if meta.direction == "rtl":
        ebook.set_direction("rtl")
    for index, author in enumerate(meta.authors):
        ebook.add_author(author, uid=f"creator{index + 1}")
    if meta.subtitle:
        ebook.add_metadata("DC", "title", meta.subtitle, {"id": "subtitle"})
        ebook.add_metadata(None, "meta", "subtitle", {"refines": "#subtitle",
                                                      "property": "title-type"})
    for name, value in (("publisher", meta.publisher), ("rights", meta.rights),
                        ("description", meta.description), ("date", meta.date)):
        if value:
            ebook.add_metadata("DC", name, value)
    for subject in meta.subjects:
        ebook.add_metadata("DC", "subject", subject)

    book_facts = facts(book, audio, pls is not None, verification)
    _accessibility_metadata(ebook, book_facts)

    css = epub.EpubItem(uid="css", file_name=CSS_HREF, media_type="text/css",
                        content=templates.read_static("book.css"))
    ebook.add_item(css)
    if pls is not None:
        ebook.add_item(epub.EpubItem(uid="pls", file_name=PLS_HREF,
                                     media_type="application/pls+xml", content=pls))
    for image in book.images:
        ebook.add_item(epub.EpubItem(uid=f"img-{image.href.split('/')[-1].split('-')[0]}",
                                     file_name=image.href, media_type=image.media_type,
                                     content=image.source.read_bytes()))
    cover_doc = None
    if cover is not None:
        item = epub.EpubItem(uid="cover-image", file_name=cover_image_href(cover),
                             media_type=cover.media_type, content=cover.data)
        item.properties = ["cover-image"]
        ebook.add_item(item)
        content = templates.render("cover.xhtml", lang=meta.language, dir=meta.direction,
                                   title=meta.title, src=cover_image_href(cover), alt=cover.alt)
        cover_doc = _Document(uid="cover", file_name=COVER_HREF, title="Cover",
                              content=content.encode("utf-8"))
        ebook.add_item(cover_doc)

    docs: list[_Document] = []
    for section in book.sections:
        epub_type, role, css_class, label = _ROLE_ATTRS[section.role]
        content = templates.render(
            "content.xhtml", lang=meta.language, dir=meta.direction, title=section.title,
            pls=PLS_HREF if pls is not None else "", epub_type=epub_type, role=role,
            label=label, css_class=css_class, body=section.body_html)
        overlay = narration.overlays.get(section.id) if narration else None
        doc = _Document(uid=section.id, file_name=document_href(section), title=section.title,
                        content=content.encode("utf-8"),
                        properties=["mathml"] if "<math " in section.body_html else [],
                        media_overlay=f"smil-{section.id}" if overlay else None)
        docs.append(doc)
        ebook.add_item(doc)

    toc = nav_items(book)
    nav_overlay = narration.overlays.get("nav") if narration else None
    nav = _Document(uid="nav", file_name=NAV_HREF, title=toc_title(book), properties=["nav"],
                    content=render_nav(book, toc, cover is not None).encode("utf-8"),
                    media_overlay="smil-nav" if nav_overlay else None)
    ebook.add_item(nav)
    ebook.add_item(epub.EpubNcx())
    ebook.toc = _ncx_toc(toc)

    if narration:
        _add_narration(ebook, narration)

    # Reading order: the content note first (readers may be in distress), then
    # the title page, the table of contents, and the text.
    spine: list[object] = []
    for doc, section in zip(docs, book.sections, strict=True):
        if section.role == "titlepage" and cover_doc is not None:
            spine.append(cover_doc)
        spine.append(doc)
        if section.role in ("titlepage",):
            spine.append(nav)
    if nav not in spine:
        spine.insert(0, nav)
    ebook.spine = spine

    buffer = io.BytesIO()
    epub.write_epub(buffer, ebook, {"mtime": modified, "epub3_pages": False,
                                    "epub3_landmark": False, "spine_direction": True,
                                    "package_direction": True, "play_order": {"enabled": False}})
    # ebooklib holds every item in memory: the audio went in empty and is
    # streamed from its files into the final archive (hours of audio are
    # hundreds of MB).
    streamed = {f"{EPUB_DIR}/{href}": path
                for href, path in (narration.audio_files.items() if narration else ())}
    _deterministic_zip(buffer.getvalue(), dest, modified,
                       {f"{EPUB_DIR}/content.opf": _package_language(meta)}, streamed)
    return book_facts


def render_nav(book: Book, toc: list[dict[str, object]], has_cover: bool = False) -> str:
    """The nav document: the table of contents ``toc`` (see layout.nav_items) and the landmarks."""
    meta = book.meta
    landmarks = [{"type": "toc", "href": f"{NAV_HREF}#toc", "title": toc_title(book)}]
    for section in book.sections:
        if section.role == "content-note":
            landmarks.append({"type": "preface", "href": document_href(section),
                              "title": "Content note"})
        elif section.role == "titlepage":
            landmarks.append({"type": "titlepage", "href": document_href(section),
                              "title": "Title page"})
    body = next((s for s in book.sections if s.role == "body"), None)
    body = body or next((s for s in book.sections if s.role == "front"), book.sections[-1])
    landmarks.append({"type": "bodymatter", "href": document_href(body),
                      "title": "Start of content"})
    if has_cover:
        landmarks.insert(0, {"type": "cover", "href": COVER_HREF, "title": "Cover"})
    return templates.render("nav.xhtml", lang=meta.language, dir=meta.direction,
                            toc_title=toc_title(book), toc_title_id=TOC_TITLE_ID, toc=toc,
                            landmarks=landmarks)


def _ncx_toc(toc: list[dict[str, object]]) -> list[object]:
    result: list[object] = []
    for entry in toc:
        link = epub.Link(str(entry["href"]), str(entry["title"]), str(entry["id"]))
        children = entry["children"]
        if children:
            section = epub.Section(str(entry["title"]), str(entry["href"]))
            result.append((section, _ncx_toc(children)))  # type: ignore[arg-type]
        else:
            result.append(link)
    return result


def _accessibility_metadata(ebook: epub.EpubBook, book_facts: Accessibility) -> None:
    def meta(prop: str, value: str) -> None:
        ebook.add_metadata(None, "meta", value, {"property": prop})

    for mode in book_facts.access_modes:
        meta("schema:accessMode", mode)
    for sufficient in book_facts.access_mode_sufficient:
        meta("schema:accessModeSufficient", sufficient)
    for feature in book_facts.features:
        meta("schema:accessibilityFeature", feature)
    for hazard in book_facts.hazards:
        meta("schema:accessibilityHazard", hazard)
    meta("schema:accessibilitySummary", book_facts.summary)
    for statement in book_facts.conforms_to:
        meta("dcterms:conformsTo", statement)
    if book_facts.certified_by:
        meta("a11y:certifiedBy", book_facts.certified_by)


def _add_narration(ebook: epub.EpubBook, narration: _Narration) -> None:
    total_ms = 0
    for key in sorted(narration.overlays):
        overlay = narration.overlays[key]
        uid = f"smil-{key}"
        ebook.add_item(epub.EpubItem(uid=uid, file_name=overlay.href,
                                     media_type="application/smil+xml", content=overlay.smil))
        ebook.add_metadata(None, "meta", clock(overlay.duration_ms),
                           {"property": "media:duration", "refines": f"#{uid}"})
        total_ms += overlay.duration_ms
    ebook.add_metadata(None, "meta", clock(total_ms), {"property": "media:duration"})
    if not narration.narrators:
        ebook.add_metadata(None, "meta", narration.narrator, {"property": "media:narrator"})
    for index, name in enumerate(narration.narrators, start=1):
        ebook.add_metadata(None, "meta", name, {"property": "media:narrator"})
        ebook.add_metadata("DC", "contributor", name, {"id": f"narrator-{index}"})
        ebook.add_metadata(None, "meta", "nrt", {"refines": f"#narrator-{index}",
                                                 "property": "role",
                                                 "scheme": "marc:relators"})
    ebook.add_metadata(None, "meta", "-epub-media-overlay-active",
                       {"property": "media:active-class"})
    ebook.add_metadata(None, "meta", "-epub-media-overlay-playing",
                       {"property": "media:playback-active-class"})
    for index, href in enumerate(sorted(narration.audio_files)):
        # Empty here; _deterministic_zip streams the file in.
        ebook.add_item(epub.EpubItem(uid=f"audio-{index + 1:03d}", file_name=href,
                                     media_type="audio/mpeg", content=b""))


def _package_language(meta: BookMeta) -> Callable[[bytes], bytes]:
    """ebooklib cannot set xml:lang and dir on <package>; reading systems need them."""

    def fix(opf: bytes) -> bytes:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(opf, parser)
        root.set("{http://www.w3.org/XML/1998/namespace}lang", meta.language)
        root.set("dir", meta.direction)
        for name in ("generator",):
            for el in root.iterfind(f".//{{{_OPF_NS}}}meta[@name='{name}']"):
                el.getparent().remove(el)
        return etree.tostring(root, xml_declaration=True, encoding="utf-8",
                              pretty_print=True)

    return fix


def _deterministic_zip(data: bytes, dest: Path, modified: _dt.datetime,
                       rewrite: dict[str, Callable[[bytes], bytes]],
                       streamed: dict[str, Path] | None = None) -> None:
    """Rewrite the archive into ``dest``: mimetype first and stored, fixed times, stable order.

    Members named in ``streamed`` are copied from their files in chunks.
    """
    streamed = streamed or {}
    date_time = zip_time(modified)
    source = zipfile.ZipFile(io.BytesIO(data))
    names = source.namelist()
    order = ["mimetype", "META-INF/container.xml"]
    rest = sorted(n for n in names if n not in order)
    with zipfile.ZipFile(dest, "w") as target:
        for name in order + rest:
            if name not in names:
                continue
            content: bytes | Path
            if name in streamed:
                content = streamed[name]
            else:
                content = source.read(name)
                if name in rewrite:
                    content = rewrite[name](content)
            # The mimetype first and stored, as OCF requires.
            add_entry(target, name, content, date_time, stored=True if name == "mimetype" else None)
