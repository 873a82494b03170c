"""DAISY talking books for libraries: DAISY 2.02 and DAISY 3 (ANSI/NISO Z39.86-2005).

Both are "audioFullText" books made from what the EPUB already has: the
section MP3s of the podcast profile (copied in, never re-encoded), the
sentence ids of the XHTML and the synthesis timings of the Media Overlays, so
a DAISY player highlights the same sentence at the same millisecond as an
EPUB reading system.

    <slug>_daisy202.zip   ncc.html (navigation: h1-h6, sidebars), master.smil,
                          NN-slug.html (XHTML 1.0 text), NN-slug.smil, NN-slug.mp3
    <slug>_daisy3.zip     <slug>.opf, <slug>.ncx (navMap h1-h6, navList of notes),
                          <slug>.res, <slug>.xml (DTBook), NN-slug.smil, NN-slug.mp3

Skippable: notes (DAISY 2.02 ``system-required="footnote-on"``, DAISY 3
``customTest="note"`` declared as ``bookStruct="NOTE"`` in the NCX) and
sidebars (``sidebar-on`` / ``OPTIONAL_SIDEBAR``). Escapable (DAISY 3 only;
SMIL 1.0 in DAISY 2.02 has no escape): lists, tables, figures, sidebars,
notes and code blocks are each their own ``seq`` with the DTBook element's
name (``code`` for a code block) as class.
A note reference is inside its sentence and is not spoken, so it has no clip
of its own to skip; it is a ``noteref`` (DTBook) or a link (XHTML) to the note.

Where a note is read (the same in the EPUB, the section MP3s, the podcast and
the M4B, since all are made from the same blocks): once, at the end of the
section that cites it first, after its last paragraph, announced by its number
("Note 3: ..."); a later reference links back to it.

The sections' XHTML marks notes the EPUB 3 way (publisher/semantics.py): an
``<a epub:type="noteref">`` reference, an ``<aside epub:type="footnote">`` note
in a ``<section epub:type="footnotes">``; any other ``<aside>`` is a sidebar.
Neither ``epub:type`` nor ``role``/``aria-*`` exists in XHTML 1.0 or DTBook, so
they are left out of both (a note is a ``div class="footnote"`` / ``note``).

Why not ``anemone-daisy-maker`` (PyPI, Apache-2.0), which was evaluated
first: it renumbers every id (``p1``, ``t1.1``) instead of keeping the EPUB's
sentence ids, times paragraphs from start markers only, writes its XML by
joining strings, dates its zip members by the clock (not deterministic), has
no skippable notes and no DAISY 3 tables. So the formats are written here
with lxml, one tree per file.

Determinism: members in a fixed order, every timestamp ``pub.modified``
(SOURCE_DATE_EPOCH), fixed permissions; dc:date is the book's date, else the
build's.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from . import __version__
from .archive import write_zip
from .errors import OutputError
from .layout import audio_name, daisy_name, document_href
from .model import Publication, Section, SectionAudio, Timing
from .timecode import clock

__all__ = ["FORMATS", "GENERATOR", "write_daisy"]

#: The DAISY editions this writer makes (front matter ``daisy: [202, 3]``).
FORMATS = ("202", "3")
GENERATOR = f"publisher {__version__}"

XHTML_NS = "http://www.w3.org/1999/xhtml"
SMIL3_NS = "http://www.w3.org/2001/SMIL20/"
NCX_NS = "http://www.daisy.org/z3986/2005/ncx/"
DTBOOK_NS = "http://www.daisy.org/z3986/2005/dtbook/"
OPF_NS = "http://openebook.org/namespaces/oeb-package/1.0/"
DC_NS = "http://purl.org/dc/elements/1.1/"
RES_NS = "http://www.daisy.org/z3986/2005/resource/"
#: The EPUB 3 structural semantics (``epub:type``) the sections' XHTML carries.
OPS_NS = "http://www.idpf.org/2007/ops"
_EPUB_TYPE = f"{{{OPS_NS}}}type"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_XHTML_DOCTYPE = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
                  '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">')
_SMIL1_DOCTYPE = ('<!DOCTYPE smil PUBLIC "-//W3C//DTD SMIL 1.0//EN" '
                  '"http://www.w3.org/TR/REC-smil/SMIL10.dtd">')
_SMIL3_DOCTYPE = ('<!DOCTYPE smil PUBLIC "-//NISO//DTD dtbsmil 2005-2//EN" '
                  '"http://www.daisy.org/z3986/2005/dtbsmil-2005-2.dtd">')
_NCX_DOCTYPE = ('<!DOCTYPE ncx PUBLIC "-//NISO//DTD ncx 2005-1//EN" '
                '"http://www.daisy.org/z3986/2005/ncx-2005-1.dtd">')
_DTBOOK_DOCTYPE = ('<!DOCTYPE dtbook PUBLIC "-//NISO//DTD dtbook 2005-3//EN" '
                   '"http://www.daisy.org/z3986/2005/dtbook-2005-3.dtd">')
_OPF_DOCTYPE = ('<!DOCTYPE package PUBLIC "+//ISBN 0-9673008-1-9//DTD OEB 1.2 Package//EN" '
                '"http://openebook.org/dtds/oeb-1.2/oebpkg12.dtd">')

#: Block structure -> (DAISY 2.02 system-required, DAISY 3 customTest, NCX bookStruct).
SKIPPABLE = {"footnote": ("footnote-on", "note", "NOTE"),
             "aside": ("sidebar-on", "sidebar", "OPTIONAL_SIDEBAR")}
#: Block structure -> class of its escapable DAISY 3 seq (the DTBook element's name).
ESCAPABLE = {"list": "list", "table": "table", "figure": "imggroup", "aside": "sidebar",
             "footnote": "note", "code": "code"}

#: HTML5 elements XHTML 1.0 lacks -> (element, class) in the DAISY 2.02 text.
_XHTML_RENAME = {"aside": ("div", "sidebar"), "figure": ("div", "figure"),
                 "figcaption": ("div", "caption"), "section": ("div", ""),
                 "details": ("div", "details"), "summary": ("p", "summary"),
                 "mark": ("span", "mark")}
_XHTML_ATTRS = ("id", "class", "href", "src", "alt", "title", "colspan", "rowspan", "start")

#: XHTML -> DTBook element; anything else becomes a span (inline) or is dropped (void).
_DTBOOK_TAGS = {"p": "p", "ul": "list", "ol": "list", "li": "li", "table": "table",
                "thead": "thead", "tbody": "tbody", "tfoot": "tfoot", "tr": "tr",
                "th": "th", "td": "td", "caption": "caption", "blockquote": "blockquote",
                "dl": "dl", "dt": "dt", "dd": "dd", "aside": "sidebar", "figure": "imggroup",
                "figcaption": "caption", "pre": "p", "div": "div", "details": "div",
                "summary": "p", "em": "em", "i": "em", "strong": "strong", "b": "strong",
                "code": "code", "kbd": "kbd", "sub": "sub", "sup": "sup", "abbr": "abbr",
                "br": "br", "a": "a", "q": "q", "cite": "cite", "img": "img", "dfn": "dfn",
                "section": "div"}
_DTBOOK_ATTRS = ("id", "href", "src", "alt", "title", "colspan", "rowspan")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def write_daisy(pub: Publication) -> list[Path]:
    """Write the DAISY editions the book asks for (``meta.daisy``); none without audio."""
    if not pub.audio or not pub.book.meta.daisy:
        return []
    book = _DaisyBook.of(pub)
    paths: list[Path] = []
    for fmt in pub.book.meta.daisy:
        members = _daisy202(book) if fmt == "202" else _daisy3(book)
        dest = pub.out_dir / daisy_name(pub.book.meta.slug, fmt)
        _write_zip(members, dest, pub)
        paths.append(dest)
    return paths


# --- what both formats share ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _NavEntry:
    """A heading of the book: navigation level (no jumps), text, its sentence."""

    level: int
    title: str
    sentence_id: str
    section: Section


@dataclass(frozen=True, slots=True)
class _DaisyBook:
    pub: Publication
    sections: tuple[tuple[Section, SectionAudio, etree._Element], ...]
    timings: dict[str, Timing]
    headings: tuple[_NavEntry, ...]
    #: (section basename, id in the EPUB) -> id in the DAISY text (see _ids).
    ids: dict[tuple[str, str], str]

    @classmethod
    def of(cls, pub: Publication) -> _DaisyBook:
        by_id = {a.section_id: a for a in pub.audio}
        sections = tuple((s, by_id[s.id], _section_tree(s)) for s in pub.book.sections)
        timings = {t.sentence_id: t for _, a, _ in sections for t in a.timings}
        headings: list[_NavEntry] = []
        previous = 0
        for section, _, tree in sections:
            for el in tree.iter(*_HEADINGS):
                span = next((s for s in el.iter("span") if s.get("id") in timings), None)
                if span is None:
                    continue
                # Navigation never jumps a level (h2 then h4): players and the
                # DTBook levels need each level inside the one above.
                level = min(int(el.tag[1]), previous + 1)
                previous = level
                title = " ".join("".join(el.itertext()).split())
                headings.append(_NavEntry(level, title, span.get("id", ""), section))
        return cls(pub, sections, timings, tuple(headings), _ids(sections))

    def ref(self, basename: str) -> _Refs:
        return _Refs(self, basename)

    @property
    def total_ms(self) -> int:
        return sum(a.duration_ms for _, a, _ in self.sections)

    @property
    def creators(self) -> tuple[str, ...]:
        meta = self.pub.book.meta
        return meta.authors or (meta.publisher or meta.title,)

    @property
    def date(self) -> str:
        return self.pub.book.meta.date or self.pub.modified.strftime("%Y-%m-%d")

    @property
    def narrators(self) -> tuple[str, ...]:
        """Each voice heard, one by one: ``ncc:narrator`` (DAISY 2.02) and
        ``dtb:narrator`` (DAISY 3) are repeatable, one element per narrator."""
        return self.pub.credited or ("synthetic voice",)

    def blocks(self, section: Section) -> Iterator[tuple[str, str, tuple[str, ...]]]:
        """(structure, structure id, sentence ids) of each block, in reading order."""
        for block in section.blocks:
            yield block.structure, block.structure_id, tuple(s.id for s in block.sentences)

    def mp3(self, section: Section) -> str:
        """The section's MP3, the same name as in output/<slug>/audio/ and the EPUB."""
        return audio_name(section)


def _section_tree(section: Section) -> etree._Element:
    """The section's XHTML fragments in one element (``epub:type`` bound to its namespace)."""
    return etree.fromstring(f'<div xmlns:epub="{OPS_NS}">{section.body_html}</div>')


def _epub_types(el: etree._Element) -> list[str]:
    return (el.get(_EPUB_TYPE) or "").split() if isinstance(el.tag, str) else []


def _is_note(el: etree._Element) -> bool:
    """A note: an EPUB 3 ``<aside epub:type="footnote">`` (or endnote, rearnote)."""
    return el.tag == "aside" and any(t in ("footnote", "endnote", "rearnote", "note")
                                     for t in _epub_types(el))


def _is_sidebar(el: etree._Element) -> bool:
    """Any other ``<aside>`` is a sidebar."""
    return el.tag == "aside" and not _is_note(el)


def _is_notes_section(el: etree._Element) -> bool:
    """The list of a section's notes (``<section epub:type="footnotes">``)."""
    return el.tag == "section" and (
        any(t in ("footnotes", "endnotes", "rearnotes") for t in _epub_types(el))
        or "footnotes" in (el.get("class") or "").split())


def _note_elements(tree: etree._Element) -> list[etree._Element]:
    return [el for el in tree.iter("aside") if _is_note(el)]


def _sidebar_elements(tree: etree._Element) -> list[etree._Element]:
    return [el for el in tree.iter("aside") if _is_sidebar(el)]


def _is_noteref(el: etree._Element) -> bool:
    return el.tag == "a" and ("noteref" in _epub_types(el)
                              or "footnote-ref" in (el.get("class") or "").split())


_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _ids(sections: Iterable[tuple[Section, SectionAudio, etree._Element]],
         ) -> dict[tuple[str, str], str]:
    """Every id of the text, valid and unique in the whole book.

    The EPUB's ids are unique per document and may start with a digit (a
    heading "2024 in numbers"); the DTBook is one document and XML ids must be
    names, so such an id, or one a previous section already uses, gets its
    section's id in front. Sentence ids never change (the SMIL points to them).
    """
    ids: dict[tuple[str, str], str] = {}
    used: set[str] = set()
    for section, _, tree in sections:
        for el in tree.iter():
            old = el.get("id") if isinstance(el.tag, str) else None
            if not old:
                continue
            new = old if _NCNAME.match(old) and old not in used else f"{section.id}-{old}"
            ids[(section.basename, old)] = new
            used.add(new)
    return ids


@dataclass(frozen=True, slots=True)
class _Refs:
    """Ids and links of one section's text, as they are in the DAISY editions."""

    book: _DaisyBook
    basename: str

    def id(self, old: str) -> str:
        return self.book.ids.get((self.basename, old), old)

    def href(self, old: str, suffix: str) -> str:
        """A link inside the book -> the DAISY text (``suffix`` "" for the one DTBook file)."""
        file, hash_, fragment = old.partition("#")
        documents = {document_href(s): s.basename for s, _, _ in self.book.sections}
        if "://" in old or old.startswith("mailto:") or not (hash_ or file in documents):
            return old
        basename = documents.get(file, self.basename)
        target = self.book.ids.get((basename, fragment), fragment) if fragment else ""
        if not suffix:
            return f"#{target}" if target else "#"
        return f"{basename}{suffix}" + (f"#{target}" if target else "")


def _clock(ms: int) -> str:
    """h:mm:ss (DAISY 2.02 ncc:totalTime and elapsed times)."""
    seconds = round(ms / 1000)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _npt(ms: int) -> str:
    return f"npt={ms / 1000:.3f}s"


def _xml(root: etree._Element, doctype: str) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True,
                          doctype=doctype)


def _meta(parent: etree._Element, tag: str, name: str, content: str) -> None:
    etree.SubElement(parent, tag, {"name": name, "content": content})


# --- DAISY 2.02 -----------------------------------------------------------------


def _daisy202(book: _DaisyBook) -> list[tuple[str, bytes | Path]]:
    files: list[tuple[str, bytes | Path]] = []
    elapsed = 0
    notes = sidebars = 0
    for section, audio, tree in book.sections:
        files.append((f"{section.basename}.html", _xhtml202(book, section, tree)))
        files.append((f"{section.basename}.smil", _smil202(book, section, audio, elapsed)))
        files.append((book.mp3(section), audio.path))
        elapsed += audio.duration_ms
        notes += len(_note_elements(tree))
        sidebars += len(_sidebar_elements(tree))
    files += _images(book)
    files.append(("master.smil", _master202(book)))
    size = sum(len(d) if isinstance(d, bytes) else d.stat().st_size for _, d in files)
    ncc = _ncc(book, notes, sidebars, files=len(files) + 1, kbytes=size)
    return [("ncc.html", ncc), *files]


def _ncc(book: _DaisyBook, notes: int, sidebars: int, files: int, kbytes: int) -> bytes:
    meta = book.pub.book.meta
    html = etree.Element(f"{{{XHTML_NS}}}html", nsmap={None: XHTML_NS})
    html.set("lang", meta.language)
    html.set(XML_LANG, meta.language)
    head = etree.SubElement(html, "head")
    etree.SubElement(head, "title").text = meta.title
    etree.SubElement(head, "meta", {"http-equiv": "Content-type",
                                    "content": "text/html; charset=utf-8"})
    m = _dc_metas(book, "ncc")
    m += [("dc:format", "Daisy 2.02"), ("ncc:charset", "utf-8"),
          ("ncc:depth", str(max((h.level for h in book.headings), default=1))),
          ("ncc:files", str(files)), ("ncc:footnotes", str(notes)),
          ("ncc:kByteSize", str(kbytes // 1024)), ("ncc:maxPageNormal", "0"),
          ("ncc:multimediaType", "audioFullText"), ("ncc:pageFront", "0"),
          ("ncc:pageNormal", "0"), ("ncc:pageSpecial", "0"), ("ncc:prodNotes", "0"),
          ("ncc:setInfo", "1 of 1"), ("ncc:sidebars", str(sidebars)),
          ("ncc:tocItems", str(len(book.headings) + sidebars)),
          ("ncc:totalTime", _clock(book.total_ms))]
    for name, content in m:
        _meta(head, "meta", name, content)
    body = etree.SubElement(html, "body")
    first = True
    for section, _, tree in book.sections:
        entries = [(h.sentence_id, f"h{h.level}", h.title)
                   for h in book.headings if h.section is section]
        for aside in _sidebar_elements(tree):
            span = next((s for s in aside.iter("span") if s.get("id") in book.timings), None)
            if span is not None:
                entries.append((span.get("id", ""), "span", "Sidebar"))
        order = {sid: i for i, sid in enumerate(s.id for s in section.sentences)}
        for sentence_id, tag, title in sorted(entries, key=lambda e: order[e[0]]):
            el = etree.SubElement(body, tag, {"id": f"ncc-{sentence_id}"})
            if first:
                el.set("class", "title")  # the first NCC element is an h1 of class title
                first = False
            elif tag == "span":
                el.set("class", "sidebar")
            link = etree.SubElement(el, "a", {"href": f"{section.basename}.smil#par-{sentence_id}"})
            link.text = title
    return _xml(html, _XHTML_DOCTYPE)


def _dc_metas(book: _DaisyBook, prefix: str) -> list[tuple[str, str]]:
    meta = book.pub.book.meta
    m = [("dc:title", meta.title)]
    m += [("dc:creator", c) for c in book.creators]
    m += [("dc:date", book.date), ("dc:identifier", meta.identifier),
          ("dc:language", meta.language),
          ("dc:publisher", meta.publisher or ", ".join(book.creators)),
          *((f"{prefix}:narrator", name) for name in book.narrators),
          (f"{prefix}:generator", GENERATOR),
          (f"{prefix}:producedDate", book.pub.modified.strftime("%Y-%m-%d"))]
    if meta.description:
        m.append(("dc:description", meta.description))
    m += [("dc:subject", s) for s in meta.subjects]
    if meta.rights:
        m.append(("dc:rights", meta.rights))
    return m


def _xhtml202(book: _DaisyBook, section: Section, tree: etree._Element) -> bytes:
    meta = book.pub.book.meta
    html = etree.Element(f"{{{XHTML_NS}}}html", nsmap={None: XHTML_NS})
    html.set("lang", meta.language)
    html.set(XML_LANG, meta.language)
    head = etree.SubElement(html, "head")
    etree.SubElement(head, "title").text = section.title
    etree.SubElement(head, "meta", {"http-equiv": "Content-type",
                                    "content": "text/html; charset=utf-8"})
    body = etree.SubElement(html, "body")
    for node in copy.deepcopy(tree):
        body.append(node)
    for math in list(body.iter(MATHML_MATH)):
        _replace_math(math, etree.Element("span", {"class": "math"}))
    refs = book.ref(section.basename)
    for el in body.iter():
        if el is body or not isinstance(el.tag, str):
            continue
        if el.get("id"):
            el.set("id", refs.id(el.get("id", "")))
        if el.get("href"):
            el.set("href", refs.href(el.get("href", ""), ".html"))
        tag, cls = ("div", "footnote") if _is_note(el) else _XHTML_RENAME.get(el.tag,
                                                                             (el.tag, ""))
        classes = " ".join(c for c in (el.get("class", ""), cls) if c)
        for name in list(el.attrib):
            if name not in _XHTML_ATTRS:
                del el.attrib[name]
        if classes:
            el.set("class", classes)
        el.tag = tag
    etree.cleanup_namespaces(html)
    return _xml(html, _XHTML_DOCTYPE)


def _smil202(book: _DaisyBook, section: Section, audio: SectionAudio, elapsed: int) -> bytes:
    meta = book.pub.book.meta
    smil = etree.Element("smil")
    head = etree.SubElement(smil, "head")
    for name, content in (("dc:format", "Daisy 2.02"), ("dc:identifier", meta.identifier),
                          ("dc:title", section.title), ("ncc:generator", GENERATOR),
                          ("ncc:totalElapsedTime", _clock(elapsed)),
                          ("ncc:timeInThisSmil", _clock(audio.duration_ms))):
        _meta(head, "meta", name, content)
    layout = etree.SubElement(head, "layout")
    etree.SubElement(layout, "region", {"id": "txtView"})
    body = etree.SubElement(smil, "body")
    seq = etree.SubElement(body, "seq", {"dur": f"{audio.duration_ms / 1000:.3f}s"})
    for structure, _, sentence_ids in book.blocks(section):
        for sentence_id in sentence_ids:
            timing = book.timings[sentence_id]
            par = etree.SubElement(seq, "par", {"endsync": "last", "id": f"par-{sentence_id}"})
            if structure in SKIPPABLE:
                par.set("system-required", SKIPPABLE[structure][0])
            etree.SubElement(par, "text", {"src": f"{section.basename}.html#{sentence_id}",
                                           "id": f"txt-{sentence_id}"})
            etree.SubElement(par, "audio", {"src": book.mp3(section),
                                            "clip-begin": _npt(timing.start_ms),
                                            "clip-end": _npt(timing.end_ms),
                                            "id": f"aud-{sentence_id}"})
    return _xml(smil, _SMIL1_DOCTYPE)


def _master202(book: _DaisyBook) -> bytes:
    meta = book.pub.book.meta
    smil = etree.Element("smil")
    head = etree.SubElement(smil, "head")
    for name, content in (("dc:format", "Daisy 2.02"), ("dc:identifier", meta.identifier),
                          ("dc:title", meta.title), ("ncc:generator", GENERATOR),
                          ("ncc:timeInThisSmil", _clock(book.total_ms))):
        _meta(head, "meta", name, content)
    layout = etree.SubElement(head, "layout")
    etree.SubElement(layout, "region", {"id": "txtView"})
    body = etree.SubElement(smil, "body")
    for section, _, _ in book.sections:
        ref = etree.SubElement(body, "ref", {"src": f"{section.basename}.smil",
                                             "title": section.title,
                                             "id": f"ms-{section.id}"})
        ref.tail = None
    return _xml(smil, _SMIL1_DOCTYPE)


def _images(book: _DaisyBook) -> list[tuple[str, bytes | Path]]:
    return [(image.href, image.source) for image in book.pub.book.images]


# --- DAISY 3 --------------------------------------------------------------------


def _daisy3(book: _DaisyBook) -> list[tuple[str, bytes | Path]]:
    slug = book.pub.book.meta.slug
    names = {"opf": f"{slug}.opf", "ncx": f"{slug}.ncx", "res": f"{slug}.res",
             "xml": f"{slug}.xml"}
    files: list[tuple[str, bytes | Path]] = [
        (names["ncx"], _ncx(book, names["xml"])),
        (names["res"], _res(book)),
        (names["xml"], _dtbook(book)),
    ]
    elapsed = 0
    for section, audio, _ in book.sections:
        files.append((f"{section.basename}.smil", _smil3(book, section, audio, elapsed,
                                                         names["xml"])))
        files.append((book.mp3(section), audio.path))
        elapsed += audio.duration_ms
    files += _images(book)
    return [(names["opf"], _opf(book, names, files)), *files]


def _opf(book: _DaisyBook, names: dict[str, str],
         files: list[tuple[str, bytes | Path]]) -> bytes:
    meta = book.pub.book.meta
    package = etree.Element(f"{{{OPF_NS}}}package", nsmap={None: OPF_NS},
                            attrib={"unique-identifier": "uid"})
    metadata = etree.SubElement(package, f"{{{OPF_NS}}}metadata")
    dc = etree.SubElement(metadata, f"{{{OPF_NS}}}dc-metadata",
                          nsmap={"dc": DC_NS, "oebpackage": OPF_NS})

    def dc_el(name: str, text: str, **attrs: str) -> None:
        etree.SubElement(dc, f"{{{DC_NS}}}{name}", attrs).text = text

    dc_el("Format", "ANSI/NISO Z39.86-2005")
    for name, content in _dc_metas(book, "dtb"):
        if name.startswith("dc:"):
            key = name[3:].capitalize()
            if key == "Identifier":
                dc_el(key, content, id="uid")
            else:
                dc_el(key, content)
    x = etree.SubElement(metadata, f"{{{OPF_NS}}}x-metadata")
    for name, content in (("dtb:multimediaType", "audioFullText"),
                          ("dtb:multimediaContent",
                           "audio,text,image" if book.pub.book.images else "audio,text"),
                          ("dtb:totalTime", clock(book.total_ms)),
                          *(("dtb:narrator", name) for name in book.narrators),
                          ("dtb:producedDate", book.pub.modified.strftime("%Y-%m-%d")),
                          ("dtb:producer", meta.publisher or ", ".join(book.creators)),
                          ("dtb:audioFormat", "MP3")):
        _meta(x, f"{{{OPF_NS}}}meta", name, content)
    manifest = etree.SubElement(package, f"{{{OPF_NS}}}manifest")
    types = {".ncx": "application/x-dtbncx+xml", ".res": "application/x-dtbresource+xml",
             ".xml": "application/x-dtbook+xml", ".smil": "application/smil",
             ".mp3": "audio/mpeg", ".png": "image/png", ".jpg": "image/jpeg",
             ".jpeg": "image/jpeg", ".opf": "text/xml"}
    items = [names["opf"]] + [name for name, _ in files]
    ids: dict[str, str] = {}
    for n, name in enumerate(items, 1):
        suffix = Path(name).suffix
        item_id = {".ncx": "ncx", ".opf": "opf", ".res": "resource"}.get(suffix, f"item-{n:03d}")
        if suffix == ".xml":
            item_id = "dtbook"
        ids[name] = item_id
        etree.SubElement(manifest, f"{{{OPF_NS}}}item",
                         {"id": item_id, "href": name, "media-type": types[suffix]})
    spine = etree.SubElement(package, f"{{{OPF_NS}}}spine")
    for name in items:
        if name.endswith(".smil"):
            etree.SubElement(spine, f"{{{OPF_NS}}}itemref", {"idref": ids[name]})
    return _xml(package, _OPF_DOCTYPE)


def _play_orders(book: _DaisyBook) -> dict[str, int]:
    """Sentence id -> its place in reading order (the NCX playOrder)."""
    return {s.id: n for n, s in enumerate(book.pub.book.sentences, 1)}


def _notes(book: _DaisyBook) -> Iterator[tuple[Section, str, str]]:
    """(section, note id, first sentence id) of every note, in reading order."""
    for section, _, tree in book.sections:
        for n, note in enumerate(_note_elements(tree), 1):
            span = next((s for s in note.iter("span") if s.get("id") in book.timings), None)
            if span is not None:
                yield section, note.get("id", f"note-{n}"), span.get("id", "")


def _ncx(book: _DaisyBook, dtbook_href: str) -> bytes:
    meta = book.pub.book.meta
    ncx = etree.Element(f"{{{NCX_NS}}}ncx", nsmap={None: NCX_NS},
                        attrib={"version": "2005-1", XML_LANG: meta.language})
    e = f"{{{NCX_NS}}}"
    head = etree.SubElement(ncx, e + "head")
    for _, test, struct in SKIPPABLE.values():
        etree.SubElement(head, e + "smilCustomTest", {"id": test, "defaultState": "true",
                                                      "override": "visible",
                                                      "bookStruct": struct})
    for name, content in (("dtb:uid", meta.identifier),
                          ("dtb:depth", str(max((h.level for h in book.headings), default=1))),
                          ("dtb:generator", GENERATOR), ("dtb:totalPageCount", "0"),
                          ("dtb:maxPageNumber", "0")):
        _meta(head, e + "meta", name, content)
    title = etree.SubElement(ncx, e + "docTitle")
    etree.SubElement(title, e + "text").text = meta.title
    for creator in book.creators:
        author = etree.SubElement(ncx, e + "docAuthor")
        etree.SubElement(author, e + "text").text = creator
    notes = list(_notes(book))
    # playOrder: 1, 2, 3 ... in reading order over the targets alone (no gaps);
    # entries that point to the same sentence share one.
    reading = _play_orders(book)
    targets = sorted({h.sentence_id for h in book.headings} | {n[2] for n in notes},
                     key=reading.__getitem__)
    orders = {sentence_id: n for n, sentence_id in enumerate(targets, 1)}
    nav_map = etree.SubElement(ncx, e + "navMap")
    stack: list[tuple[int, etree._Element]] = [(0, nav_map)]
    for n, heading in enumerate(book.headings, 1):
        while stack[-1][0] >= heading.level:
            stack.pop()
        point = etree.SubElement(stack[-1][1], e + "navPoint", {
            "id": f"nav-{n:03d}", "class": f"h{heading.level}",
            "playOrder": str(orders[heading.sentence_id])})
        label = etree.SubElement(point, e + "navLabel")
        etree.SubElement(label, e + "text").text = heading.title
        etree.SubElement(point, e + "content",
                         {"src": f"{heading.section.basename}.smil#par-{heading.sentence_id}"})
        stack.append((heading.level, point))
    if notes:
        nav_list = etree.SubElement(ncx, e + "navList", {"id": "notes", "class": "note"})
        label = etree.SubElement(nav_list, e + "navLabel")
        etree.SubElement(label, e + "text").text = "Notes"
        for n, (section, _, sentence_id) in enumerate(notes, 1):
            target = etree.SubElement(nav_list, e + "navTarget", {
                "id": f"note-target-{n:03d}", "class": "note",
                "playOrder": str(orders[sentence_id])})
            label = etree.SubElement(target, e + "navLabel")
            etree.SubElement(label, e + "text").text = f"Note {n}"
            etree.SubElement(target, e + "content",
                             {"src": f"{section.basename}.smil#par-{sentence_id}"})
    return _xml(ncx, _NCX_DOCTYPE)


def _res(book: _DaisyBook) -> bytes:
    """The resource file: what a player says for each skippable or escapable structure."""
    lang = book.pub.book.meta.language
    res = etree.Element(f"{{{RES_NS}}}resources", nsmap={None: RES_NS},
                        attrib={"version": "2005-1"})
    e = f"{{{RES_NS}}}"
    labels = {"NOTE": "Note", "OPTIONAL_SIDEBAR": "Sidebar"}
    scope = etree.SubElement(res, e + "scope", {"nsuri": NCX_NS})
    for n, (_, _, struct) in enumerate(SKIPPABLE.values(), 1):
        node = etree.SubElement(scope, e + "nodeSet",
                                {"id": f"ns-{n}",
                                 "select": f"//smilCustomTest[@bookStruct='{struct}']"})
        resource = etree.SubElement(node, e + "resource", {XML_LANG: lang, "id": f"r-{n}"})
        etree.SubElement(resource, e + "text").text = labels[struct]
    scope = etree.SubElement(res, e + "scope", {"nsuri": SMIL3_NS})
    spoken = {"list": "List", "table": "Table", "imggroup": "Figure", "sidebar": "Sidebar",
              "note": "Note", "code": "Code"}
    for n, cls in enumerate(dict.fromkeys(ESCAPABLE.values()), 1):
        node = etree.SubElement(scope, e + "nodeSet",
                                {"id": f"es-{n}", "select": f"//seq[@class='{cls}']"})
        resource = etree.SubElement(node, e + "resource", {XML_LANG: lang, "id": f"er-{n}"})
        etree.SubElement(resource, e + "text").text = spoken[cls]
    return _xml(res, "")


def _smil3(book: _DaisyBook, section: Section, audio: SectionAudio, elapsed: int,
           dtbook_href: str) -> bytes:
    meta = book.pub.book.meta
    e = f"{{{SMIL3_NS}}}"
    smil = etree.Element(e + "smil", nsmap={None: SMIL3_NS})
    head = etree.SubElement(smil, e + "head")
    for name, content in (("dtb:uid", meta.identifier), ("dtb:generator", GENERATOR),
                          ("dtb:totalElapsedTime", clock(elapsed))):
        _meta(head, e + "meta", name, content)
    tests = etree.SubElement(head, e + "customAttributes")
    for _, test, _ in SKIPPABLE.values():
        etree.SubElement(tests, e + "customTest", {"id": test, "defaultState": "true",
                                                   "override": "visible"})
    body = etree.SubElement(smil, e + "body")
    seq = etree.SubElement(body, e + "seq", {"id": f"seq-{section.id}",
                                             "dur": clock(audio.duration_ms),
                                             "fill": "remove"})
    current = ""
    parent = seq
    for structure, structure_id, sentence_ids in book.blocks(section):
        if structure in ESCAPABLE and structure_id:
            if structure_id != current:
                current = structure_id
                parent = etree.SubElement(seq, e + "seq", {"id": f"seq-{structure_id}",
                                                           "class": ESCAPABLE[structure]})
                if structure in SKIPPABLE:
                    parent.set("customTest", SKIPPABLE[structure][1])
        else:
            current = ""
            parent = seq
        for sentence_id in sentence_ids:
            timing = book.timings[sentence_id]
            par = etree.SubElement(parent, e + "par", {"id": f"par-{sentence_id}"})
            etree.SubElement(par, e + "text", {"src": f"{dtbook_href}#{sentence_id}"})
            etree.SubElement(par, e + "audio", {"src": book.mp3(section),
                                                "clipBegin": clock(timing.start_ms),
                                                "clipEnd": clock(timing.end_ms)})
    return _xml(smil, _SMIL3_DOCTYPE)


def _dtbook(book: _DaisyBook) -> bytes:
    meta = book.pub.book.meta
    e = f"{{{DTBOOK_NS}}}"
    root = etree.Element(e + "dtbook", nsmap={None: DTBOOK_NS},
                         attrib={"version": "2005-3", XML_LANG: meta.language})
    head = etree.SubElement(root, e + "head")
    _meta(head, e + "meta", "dtb:uid", meta.identifier)
    for name, content in _dc_metas(book, "dtb"):
        if name.startswith("dc:"):
            _meta(head, e + "meta", "dc:" + name[3:].capitalize(), content)
    body = etree.SubElement(root, e + "book")
    front = etree.SubElement(body, e + "frontmatter")
    etree.SubElement(front, e + "doctitle").text = meta.title
    for creator in book.creators:
        etree.SubElement(front, e + "docauthor").text = creator
    matter = etree.SubElement(body, e + "bodymatter")
    levels = {h.sentence_id: h.level for h in book.headings}
    stack: list[etree._Element] = [matter]
    for section, _, tree in book.sections:
        refs = book.ref(section.basename)
        for node in tree:
            if isinstance(node.tag, str) and node.tag in _HEADINGS:
                span = next((s for s in node.iter("span") if s.get("id") in levels), None)
                level = levels[span.get("id", "")] if span is not None else len(stack)
                del stack[level:]
                while len(stack) <= level:  # a level never skips (see _DaisyBook.of)
                    stack.append(etree.SubElement(stack[-1], e + f"level{len(stack)}"))
                target = etree.SubElement(stack[-1], e + f"h{level}")
                if node.get("id"):
                    target.set("id", refs.id(node.get("id", "")))
                _dtbook_content(node, target, refs)
                continue
            if len(stack) == 1:
                stack.append(etree.SubElement(matter, e + "level1"))
            _dtbook_node(node, stack[-1], refs)
    basename = {t.sentence_id: s.basename for s, a, _ in book.sections for t in a.timings}
    for el in root.iter(e + "sent", e + "img"):
        sentence_id = el.get("id", "")
        if sentence_id in basename:
            el.set("smilref", f"{basename[sentence_id]}.smil#par-{sentence_id}")
    return _xml(root, _DTBOOK_DOCTYPE)


def _dtbook_node(node: etree._Element, parent: etree._Element, refs: _Refs) -> None:
    """Append the DTBook form of XHTML ``node`` (and its tail) to ``parent``."""
    e = f"{{{DTBOOK_NS}}}"
    tag = node.tag if isinstance(node.tag, str) else ""
    classes = (node.get("class") or "").split()
    if _is_notes_section(node):
        # The notes themselves, no wrapper: a DTBook note is a block of the level.
        for child in node:
            if isinstance(child.tag, str):
                _dtbook_node(child, parent, refs)
        return
    if _is_note(node):
        note = etree.SubElement(parent, e + "note", {"class": "footnote"})
        if node.get("id"):
            note.set("id", refs.id(node.get("id", "")))
        _dtbook_content(node, note, refs)
        return
    if tag == "a" and "footnote-backref" in classes:
        # The note's number (its label, a link back) stays as text; other back-links go.
        _append_text(parent, ("".join(node.itertext()) if "footnote-label" in classes else "")
                     + (node.tail or ""))
        return
    ref = node.find("a") if tag == "sup" else (node if tag == "a" else None)
    if ref is not None and _is_noteref(ref):
        el = etree.SubElement(parent, e + "noteref", {"idref": refs.href(ref.get("href", ""),
                                                                          "")})
        if node.get("id"):
            el.set("id", refs.id(node.get("id", "")))
        el.text = "".join(ref.itertext())
        el.tail = node.tail
        return
    if tag == MATHML_MATH:
        span = etree.SubElement(parent, e + "span", {"class": "math"})
        span.text = _math_text(node)
        span.tail = node.tail
        return
    if tag == "span" and (node.get("id") or "").startswith("s-"):
        if parent.tag == e + "imggroup" and len(node) == 1 and node[0].tag == "img":
            img = etree.SubElement(parent, e + "img", {"id": node.get("id", ""),
                                                       "src": node[0].get("src", ""),
                                                       "alt": node[0].get("alt", "")})
            img.tail = None
            return
        el = etree.SubElement(parent, e + "sent", {"id": node.get("id", "")})
    elif tag in _DTBOOK_TAGS:
        el = etree.SubElement(parent, e + _DTBOOK_TAGS[tag])
        for name in _DTBOOK_ATTRS:
            if node.get(name) is not None:
                el.set(name, node.get(name, ""))
        if node.get("id"):
            el.set("id", refs.id(node.get("id", "")))
        if node.get("href"):
            el.set("href", refs.href(node.get("href", ""), ""))
        if tag in ("ul", "ol"):
            el.set("type", tag)
        if tag == "aside":
            el.set("render", "optional")
        if tag == "pre":
            el.set("class", "code")
        if tag == "img" and "alt" not in el.attrib:
            el.set("alt", "")
    else:
        el = etree.SubElement(parent, e + "span")
        if node.get("id"):
            el.set("id", refs.id(node.get("id", "")))
    _dtbook_content(node, el, refs)
    if el.tag in (e + "imggroup",):
        el.text = None
    el.tail = node.tail if parent.tag not in _NO_TEXT else None


def _dtbook_content(node: etree._Element, el: etree._Element, refs: _Refs) -> None:
    e = f"{{{DTBOOK_NS}}}"
    if el.tag not in _NO_TEXT:
        el.text = node.text
    for child in node:
        if isinstance(child.tag, str):
            _dtbook_node(child, el, refs)
    if el.tag in _NO_TEXT:
        for child in el:
            child.tail = None
    if el.tag == e + "img":
        el.text = None


#: MathML's root element. Neither XHTML 1.0 (DAISY 2.02) nor plain DTBook holds
#: MathML: a formula is written as its TeX source (the MathML's ``alttext``,
#: what the author typed), and the narration says it in words as in the EPUB.
MATHML_MATH = "{http://www.w3.org/1998/Math/MathML}math"


def _math_text(math: etree._Element) -> str:
    return math.get("alttext") or "".join(math.itertext())


def _replace_math(math: etree._Element, span: etree._Element) -> None:
    """Put ``span`` (holding the formula as text) where ``math`` is."""
    span.text = _math_text(math)
    span.tail = math.tail
    parent = math.getparent()
    assert parent is not None
    parent.replace(math, span)


def _append_text(parent: etree._Element, text: str | None) -> None:
    if not text:
        return
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


#: DTBook elements whose content is elements only (whitespace between them is dropped).
_NO_TEXT = frozenset(f"{{{DTBOOK_NS}}}{t}" for t in (
    "list", "table", "thead", "tbody", "tfoot", "tr", "dl", "imggroup", "sidebar", "note",
    "blockquote", "level1", "level2", "level3", "level4", "level5", "level6", "bodymatter",
    "img"))


# --- the zip --------------------------------------------------------------------


def _write_zip(members: Iterable[tuple[str, bytes | Path]], dest: Path,
               pub: Publication) -> None:
    """Members in the given order, every time ``pub.modified``, media stored."""
    try:
        write_zip(dest, members, pub.modified)
    except OSError as exc:
        raise OutputError(f"{dest}: cannot write the DAISY book ({exc.strerror or exc}). "
                          "Check the output folder is writable and the disk has room.") from exc
