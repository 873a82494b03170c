"""Sentence timings -> EPUB 3 Media Overlays (SMIL).

One SMIL document per narrated content document: a ``<seq>`` for the section
(epub:textref to the document), nested ``<seq>`` for escapable structures
(lists, tables, figures, asides, code blocks) and skippable ones (notes), and
one ``<par>`` per sentence whose clip times are the exact synthesis timings, so
the highlight never drifts from the voice.

Where a note is heard: once, at the end of the section that cites it first,
after that section's last paragraph, announced ("Note 3: ..."); see
:mod:`publisher.parse`. The section MP3s, the podcast, the M4B and the DAISY
editions are made from the same blocks in the same order, so every edition
reads it in the same place, and here it is a ``footnotes`` seq a reading
system can skip.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from .model import Section, Timing
from .timecode import clock

SMIL_NS = "http://www.w3.org/ns/SMIL"
EPUB_NS = "http://www.idpf.org/2007/ops"
_E = f"{{{SMIL_NS}}}"
_EPUB_TYPE = f"{{{EPUB_NS}}}type"
_TEXTREF = f"{{{EPUB_NS}}}textref"

#: Block structure -> epub:type of its <seq> (escapable or skippable structures).
STRUCTURE_TYPES = {"list": "list", "table": "table", "figure": "figure", "aside": "aside",
                   "footnote": "footnotes",
                   # No vocabulary a reading system knows has a term for code (neither
                   # EPUB's nor Z39.98's); a code listing is HTML's own example of a
                   # figure, and a reading system that escapes figures escapes it.
                   "code": "figure"}
#: epub:type of a <par> inside a structure.
ITEM_TYPES = {"list": "list-item", "table": "table-cell", "footnote": "footnote"}


def section_smil(section: Section, document_href: str, audio_href: str,
                 timings: Sequence[Timing], smil_href: str) -> bytes:
    """The SMIL document of one section. Hrefs are relative to the EPUB folder."""
    root, body = _document()
    base = _relative_prefix(smil_href)
    by_id = {t.sentence_id: t for t in timings}
    seq = etree.SubElement(body, _E + "seq", {"id": f"seq-{section.id}",
                                               _TEXTREF: base + document_href})
    current_id = ""
    parent = seq
    for block in section.blocks:
        if block.structure in STRUCTURE_TYPES and block.structure_id:
            if block.structure_id != current_id:
                current_id = block.structure_id
                parent = etree.SubElement(seq, _E + "seq", {
                    "id": f"seq-{block.structure_id}",
                    _EPUB_TYPE: STRUCTURE_TYPES[block.structure],
                    _TEXTREF: f"{base}{document_href}#{block.structure_id}"})
        else:
            current_id = ""
            parent = seq
        for sentence in block.sentences:
            timing = by_id[sentence.id]
            par = etree.SubElement(parent, _E + "par", {"id": f"par-{sentence.id}"})
            item_type = ITEM_TYPES.get(block.structure) if parent is not seq else None
            if item_type:
                par.set(_EPUB_TYPE, item_type)
            etree.SubElement(par, _E + "text", {"src": f"{base}{document_href}#{sentence.id}"})
            etree.SubElement(par, _E + "audio", {"src": base + audio_href,
                                                 "clipBegin": clock(timing.start_ms),
                                                 "clipEnd": clock(timing.end_ms)})
    return _serialize(root)


def nav_smil(nav_href: str, entries: Sequence[tuple[str, Timing]], audio_href: str,
             smil_href: str) -> bytes:
    """The SMIL of the navigation document: the table of contents can be played.

    ``entries`` are (element id in the nav document, timing) in reading order.
    """
    root, body = _document()
    base = _relative_prefix(smil_href)
    seq = etree.SubElement(body, _E + "seq", {"id": "seq-nav", _EPUB_TYPE: "toc",
                                               _TEXTREF: f"{base}{nav_href}#toc"})
    for element_id, timing in entries:
        par = etree.SubElement(seq, _E + "par", {"id": f"par-{element_id}"})
        etree.SubElement(par, _E + "text", {"src": f"{base}{nav_href}#{element_id}"})
        etree.SubElement(par, _E + "audio", {"src": base + audio_href,
                                             "clipBegin": clock(timing.start_ms),
                                             "clipEnd": clock(timing.end_ms)})
    return _serialize(root)


def _document() -> tuple[etree._Element, etree._Element]:
    root = etree.Element(_E + "smil", nsmap={None: SMIL_NS, "epub": EPUB_NS})
    root.set("version", "3.0")
    body = etree.SubElement(root, _E + "body")
    return root, body


def _relative_prefix(smil_href: str) -> str:
    """'../' for each folder the SMIL file sits in, so its hrefs resolve."""
    return "../" * smil_href.count("/")


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
