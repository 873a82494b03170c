"""Audiobook manifests and packages for libraries and audiobook apps.

Two standard descriptions of the same listening edition (the section MP3s in
reading order, plus the cover):

- ``<slug>.audiobook``: a Readium Web Publication Manifest with the audiobook
  profile (``manifest.json``), packaged as Readium says (RPF): a zip with the
  manifest at its root, read by Readium-based apps (Thorium, Aldiko, Palace).
- ``<slug>.lpf``: a W3C Audiobooks manifest (``publication.json``) in a W3C
  Lightweight Packaging Format zip, with the table of contents as the HTML
  document the W3C Publication Manifest asks for (``toc.html``, ``rel=contents``).

Both packages hold the very MP3s of ``audio/`` (stored, not recompressed:
RPF and LPF both say media should not be deflated) and the cover; hrefs are
relative to the package root, so they are also right beside ``audio/`` in
``output/<slug>/``.

Accessibility: these packages hold audio only, so their metadata describes the
audio edition (auditory, with a table of contents), not the EPUB's text
features; hazards are the book's. Claiming the EPUB's conformance or text
features for an audio package would be false, so :func:`audiobook_accessibility`
derives what is true of it.

Determinism: JSON with a fixed key order, zip entries in a fixed order with a
fixed time (``pub.modified``), permissions and compression.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from .archive import write_zip
from .errors import OutputError
from .layout import book_file, cover_filename, relative_href
from .model import Accessibility, Publication, Section, SectionAudio

__all__ = [
    "AUDIOBOOK_PROFILE",
    "LPF_CONFORMS_TO",
    "audiobook_accessibility",
    "audiobook_toc",
    "iso_duration",
    "lpf_manifest",
    "readium_manifest",
    "write_lpf",
    "write_readium_audiobook",
]

READIUM_CONTEXT = "https://readium.org/webpub-manifest/context.jsonld"
AUDIOBOOK_PROFILE = "https://readium.org/webpub-manifest/profiles/audiobook"
AUDIOBOOK_TYPE = "http://schema.org/Audiobook"
AUDIOBOOK_JSON = "application/audiobook+json"
LPF_CONTEXT = ["https://schema.org", "https://www.w3.org/ns/pub-context"]
LPF_CONFORMS_TO = "https://www.w3.org/TR/audiobooks/"
TOC_HREF = "toc.html"
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class TocEntry:
    """One entry of the audiobook's table of contents: a section or a heading in it."""

    title: str
    href: str  # audio file, with "#t=<seconds>" for a heading inside it
    children: tuple[TocEntry, ...] = ()


# --------------------------------------------------------------------------- shared facts


def audiobook_accessibility(pub: Publication) -> Accessibility:
    """What is true of the audio-only edition: auditory, in reading order, with a toc.

    Hazards are the book's own (the words are the same); the text features of the
    EPUB (display transformability, alt text, structural navigation) do not apply.
    """
    meta = pub.book.meta
    voice = f" ({pub.narrator})" if pub.narrator else ""
    summary = (f"An audiobook: the whole text is read aloud by a synthetic voice{voice}, "
               f"in {len(pub.audio)} audio files, one per section, in reading order. "
               "A table of contents links to every section and to the headings inside "
               "them. There are no sound effects or music.")
    if meta.content_note:
        summary += " A content note is read first."
    summary += (" The EPUB edition has the full text, with the same narration synchronized "
                "sentence by sentence.")
    return Accessibility(access_modes=("auditory",), access_mode_sufficient=("auditory",),
                         features=("tableOfContents",),
                         hazards=tuple(pub.accessibility.hazards) or ("unknown",),
                         summary=summary)


def audiobook_toc(pub: Publication) -> tuple[TocEntry, ...]:
    """One entry per section (its audio file), with its headings at ``#t=<seconds>``."""
    entries = []
    for section, audio in _pairs(pub):
        href = _href(pub, audio.path)
        starts = {t.sentence_id: t.start_ms for t in audio.timings}
        children = []
        first = section.heading_sentences()
        for heading in section.headings:
            sentence_id = first.get(heading.id, "")
            if sentence_id in starts:
                children.append(TocEntry(title=heading.title,
                                         href=f"{href}#t={_seconds(starts[sentence_id])}"))
        entries.append(TocEntry(title=section.title, href=href, children=tuple(children)))
    return tuple(entries)


def iso_duration(duration_ms: int) -> str:
    """An ISO 8601 duration in seconds, as the W3C manifest wants: ``PT1371.5S``."""
    return f"PT{_seconds(duration_ms)}S"


# --------------------------------------------------------------------------- Readium


def readium_manifest(pub: Publication) -> dict[str, object]:
    """The Readium Web Publication Manifest (audiobook profile) of ``pub``, as JSON data."""
    meta = pub.book.meta
    a11y = audiobook_accessibility(pub)
    metadata: dict[str, object] = {
        "@type": AUDIOBOOK_TYPE,
        "conformsTo": AUDIOBOOK_PROFILE,
        "identifier": meta.identifier,
        "title": meta.title,
    }
    if meta.subtitle:
        metadata["subtitle"] = meta.subtitle
    if meta.authors:
        metadata["author"] = list(meta.authors)
    if pub.narrator:
        metadata["narrator"] = pub.narrator if not pub.narrators else list(pub.narrators)
    if meta.publisher:
        metadata["publisher"] = meta.publisher
    metadata["language"] = meta.language
    metadata["modified"] = _timestamp(pub.modified)
    if _FULL_DATE.match(meta.date):
        metadata["published"] = meta.date
    if meta.description:
        metadata["description"] = meta.description
    if meta.subjects:
        metadata["subject"] = list(meta.subjects)
    metadata["readingProgression"] = meta.direction if meta.direction in ("ltr", "rtl") \
        else "ltr"
    metadata["duration"] = _seconds(_total_ms(pub))
    metadata["accessibility"] = {
        "accessMode": list(a11y.access_modes),
        "accessModeSufficient": list(a11y.access_mode_sufficient),
        "feature": list(a11y.features),
        "hazard": list(a11y.hazards),
        "summary": a11y.summary,
    }
    reading_order = []
    for section, audio in _pairs(pub):
        reading_order.append({
            "href": _href(pub, audio.path),
            "type": "audio/mpeg",
            "title": section.title,
            "duration": _seconds(audio.duration_ms),
            "bitrate": _bitrate_kbps(audio),
        })
    manifest: dict[str, object] = {
        "@context": READIUM_CONTEXT,
        "metadata": metadata,
        "links": [{"rel": "self", "href": "manifest.json", "type": AUDIOBOOK_JSON}],
        "readingOrder": reading_order,
    }
    if pub.cover is not None:
        manifest["resources"] = [{
            "rel": "cover", "href": _cover_name(pub), "type": pub.cover.media_type,
            "width": pub.cover.width_px, "height": pub.cover.height_px,
            "title": pub.cover.alt,
        }]
    manifest["toc"] = [_readium_toc(entry) for entry in audiobook_toc(pub)]
    return manifest


def write_readium_audiobook(pub: Publication) -> list[Path]:
    """Write ``<slug>.audiobook``: manifest.json, the section MP3s and the cover, zipped.

    The package follows the Readium Packaging Format with the audiobook profile's
    extension and media type (``application/audiobook+zip``).
    """
    dest = pub.out_dir / book_file(pub.book.meta.slug, "audiobook")
    entries: list[tuple[str, bytes | Path]] = [("manifest.json", _json_bytes(readium_manifest(pub)))]
    entries += _media_entries(pub)
    _write_zip(dest, entries, pub.modified)
    return [dest]


def _readium_toc(entry: TocEntry) -> dict[str, object]:
    link: dict[str, object] = {"href": entry.href, "title": entry.title}
    if entry.children:
        link["children"] = [_readium_toc(child) for child in entry.children]
    return link


# --------------------------------------------------------------------------- W3C LPF


def lpf_manifest(pub: Publication) -> dict[str, object]:
    """The W3C Audiobooks publication manifest (``publication.json``) of ``pub``."""
    meta = pub.book.meta
    a11y = audiobook_accessibility(pub)
    manifest: dict[str, object] = {
        "@context": list(LPF_CONTEXT),
        "conformsTo": LPF_CONFORMS_TO,
        "type": "Audiobook",
        "id": meta.identifier,
    }
    if pub.base_url:
        manifest["url"] = f"{pub.base_url.rstrip('/')}/"
    manifest["name"] = meta.title
    if meta.authors:
        manifest["author"] = [{"type": "Person", "name": name} for name in meta.authors]
    if pub.narrator:
        # A synthetic voice is neither a Person nor an Organization: a plain name.
        manifest["readBy"] = list(pub.credited)
    if meta.publisher:
        manifest["publisher"] = [{"type": "Organization", "name": meta.publisher}]
    manifest["inLanguage"] = meta.language
    manifest["dateModified"] = _timestamp(pub.modified)
    if _FULL_DATE.match(meta.date):
        manifest["datePublished"] = meta.date
    manifest["duration"] = iso_duration(_total_ms(pub))
    manifest["abridged"] = False
    manifest["accessMode"] = list(a11y.access_modes)
    manifest["accessModeSufficient"] = [
        {"type": "ItemList", "itemListElement": entry.split(",")}
        for entry in a11y.access_mode_sufficient]
    manifest["accessibilityFeature"] = list(a11y.features)
    manifest["accessibilityHazard"] = list(a11y.hazards)
    manifest["accessibilitySummary"] = a11y.summary
    manifest["readingOrder"] = [
        {"type": "LinkedResource", "url": _href(pub, audio.path), "encodingFormat": "audio/mpeg",
         "name": section.title, "duration": iso_duration(audio.duration_ms)}
        for section, audio in _pairs(pub)]
    resources: list[dict[str, object]] = []
    if pub.cover is not None:
        resources.append({"type": "LinkedResource", "rel": "cover", "url": _cover_name(pub),
                          "encodingFormat": pub.cover.media_type, "name": pub.cover.alt})
    resources.append({"type": "LinkedResource", "rel": "contents", "url": TOC_HREF,
                      "encodingFormat": "text/html", "name": "Contents"})
    manifest["resources"] = resources
    return manifest


def write_lpf(pub: Publication) -> list[Path]:
    """Write ``<slug>.lpf``: publication.json, toc.html, the section MP3s and the cover."""
    dest = pub.out_dir / book_file(pub.book.meta.slug, "lpf")
    entries: list[tuple[str, bytes | Path]] = [
        ("publication.json", _json_bytes(lpf_manifest(pub))),
        (TOC_HREF, _toc_html(pub)),
    ]
    entries += _media_entries(pub)
    _write_zip(dest, entries, pub.modified)
    return [dest]


def _toc_html(pub: Publication) -> bytes:
    """The table of contents document: ``<nav role="doc-toc">`` with nested lists."""
    meta = pub.book.meta
    html = etree.Element("html", lang=meta.language, dir=meta.direction or "ltr")
    head = etree.SubElement(html, "head")
    etree.SubElement(head, "meta", charset="utf-8")
    etree.SubElement(head, "title").text = f"{meta.title}: Contents"
    body = etree.SubElement(html, "body")
    nav = etree.SubElement(body, "nav", role="doc-toc")
    etree.SubElement(nav, "h1").text = "Contents"

    def add(parent: etree._Element, entries: Sequence[TocEntry]) -> None:
        ol = etree.SubElement(parent, "ol")
        for entry in entries:
            li = etree.SubElement(ol, "li")
            etree.SubElement(li, "a", href=entry.href).text = entry.title
            if entry.children:
                add(li, entry.children)

    add(nav, audiobook_toc(pub))
    return etree.tostring(html, method="html", encoding="utf-8", doctype="<!DOCTYPE html>")


# --------------------------------------------------------------------------- helpers


def _pairs(pub: Publication) -> tuple[tuple[Section, SectionAudio], ...]:
    """(section, its audio) in book order; audio of no section of the book is an error."""
    pairs = pub.sections_with_audio
    if len(pairs) != len(pub.audio):
        known = {s.id for s in pub.book.sections}
        audio = next(a for a in pub.audio if a.section_id not in known)
        raise OutputError(f"{audio.path.name}: section {audio.section_id!r} is not in "
                          f"'{pub.book.meta.slug}'; rebuild the book.")
    return pairs


def _href(pub: Publication, path: Path) -> str:
    """A file's href relative to the output folder (and so to the package root)."""
    return relative_href(pub.out_dir, path)


def _media_entries(pub: Publication) -> list[tuple[str, bytes | Path]]:
    entries: list[tuple[str, bytes | Path]] = [(_href(pub, a.path), a.path) for a in pub.audio]
    if pub.cover is not None:
        entries.append((_cover_name(pub), pub.cover.data))
    return entries


def _cover_name(pub: Publication) -> str:
    """The cover's file name, as the cover writer names it in the output folder."""
    assert pub.cover is not None
    return cover_filename(pub.cover)


def _bitrate_kbps(audio: SectionAudio) -> int:
    """The file's bit rate: the profile's (CBR), else measured from its size."""
    declared = audio.extra.get("bitrate_kbps")
    if isinstance(declared, int) and declared > 0:
        return declared
    size = audio.path.stat().st_size
    return max(1, round(size * 8 / max(audio.duration_ms, 1)))


def _total_ms(pub: Publication) -> int:
    return sum(a.duration_ms for a in pub.audio)


def _seconds(ms: int) -> float | int:
    """Milliseconds as seconds, exact to the ms, without a trailing ``.0``."""
    seconds = ms / 1000
    return int(seconds) if ms % 1000 == 0 else round(seconds, 3)


def _timestamp(moment: _dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_bytes(data: object) -> bytes:
    """JSON in the order we built it (fixed), UTF-8, two-space indent, final newline."""
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write_zip(dest: Path, entries: Iterable[tuple[str, bytes | Path]],
               modified: _dt.datetime) -> None:
    """The package, deterministic (publisher/archive.py)."""
    try:
        write_zip(dest, entries, modified)
    except OSError as exc:
        raise OutputError(f"{dest}: cannot write the package ({exc.strerror or exc}).") from exc
