"""Sentence timings -> WebVTT transcripts and Podcasting 2.0 JSON chapters.

One cue per sentence, so a transcript is the book's own text (what the reader
sees, not the respelled text the voice was given), timed exactly as narrated::

    transcripts/NN-<slug>.vtt   WEBVTT; cue id = sentence id; cue times = its Timing
    chapters/NN-<slug>.json     {"version": "1.2.0", "chapters": [{"startTime": s, ...}]}

A section's chapters are its title at 0 s and one per subsection heading, at
the start of the heading's first sentence (the heading's own words).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import lxml.html

from .model import Publication, Section, SectionAudio, Sentence, Timing

__all__ = [
    "CHAPTERS_DIR",
    "CHAPTERS_MEDIA_TYPE",
    "TRANSCRIPTS_DIR",
    "chapters_href",
    "display_text",
    "heading_sentences",
    "section_chapters",
    "transcript_href",
    "vtt_timestamp",
    "write_transcripts",
]

TRANSCRIPTS_DIR = "transcripts"
CHAPTERS_DIR = "chapters"
#: The media type the Podcasting 2.0 namespace gives JSON chapters files.
CHAPTERS_MEDIA_TYPE = "application/json+chapters"
CHAPTERS_VERSION = "1.2.0"

_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")


def transcript_href(section: Section) -> str:
    """Where a section's WebVTT transcript is, relative to the output folder."""
    return f"{TRANSCRIPTS_DIR}/{section.basename}.vtt"


def chapters_href(section: Section) -> str:
    """Where a section's JSON chapters file is, relative to the output folder."""
    return f"{CHAPTERS_DIR}/{section.basename}.json"


def write_transcripts(pub: Publication) -> list[Path]:
    """Write a WebVTT transcript and a JSON chapters file per section.

    Returns the files written (inside ``pub.out_dir``), transcripts first, in
    book order. Sections without audio in ``pub.audio`` get neither file.
    """
    audio_by_id = {a.section_id: a for a in pub.audio}
    transcripts_dir = pub.out_dir / TRANSCRIPTS_DIR
    chapters_dir = pub.out_dir / CHAPTERS_DIR
    transcripts_dir.mkdir(parents=True, exist_ok=True)
    chapters_dir.mkdir(parents=True, exist_ok=True)
    vtt_files: list[Path] = []
    json_files: list[Path] = []
    for section in pub.book.sections:
        audio = audio_by_id.get(section.id)
        if audio is None:
            continue
        vtt_path = pub.out_dir / transcript_href(section)
        vtt_path.write_bytes(section_vtt(section, audio.timings).encode("utf-8"))
        vtt_files.append(vtt_path)
        json_path = pub.out_dir / chapters_href(section)
        json_path.write_bytes(section_chapters_json(pub, section, audio))
        json_files.append(json_path)
    return vtt_files + json_files


# --------------------------------------------------------------------------- WebVTT


def section_vtt(section: Section, timings: Sequence[Timing]) -> str:
    """The WebVTT transcript of one section: one cue per sentence, in reading order."""
    by_id = {t.sentence_id: t for t in timings}
    lines = ["WEBVTT", ""]
    for block in section.blocks:
        keep_lines = block.kind == "code"
        for sentence in block.sentences:
            timing = by_id.get(sentence.id)
            if timing is None:
                # Every sentence is narrated; a missing timing is a bug upstream,
                # and a transcript that silently skips a sentence must not ship.
                raise ValueError(f"section {section.id}: sentence {sentence.id} has no "
                                 "timing in the section's audio")
            text = display_text(sentence, keep_lines=keep_lines) or sentence.spoken
            lines.append(sentence.id)
            lines.append(f"{vtt_timestamp(timing.start_ms)} --> {vtt_timestamp(timing.end_ms)}")
            lines.append(_vtt_escape(text))
            lines.append("")
    return "\n".join(lines)


def vtt_timestamp(ms: int) -> str:
    """A WebVTT timestamp, hh:mm:ss.ttt."""
    hours, rest = divmod(int(ms), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _vtt_escape(text: str) -> str:
    """Cue text: escape the three characters WebVTT reserves; never a blank line.

    A blank line would end the cue, so any that remain are dropped; escaping
    ``>`` also keeps ``-->`` out of cue text.
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(line for line in escaped.split("\n") if line.strip())


def display_text(sentence: Sentence, keep_lines: bool = False) -> str:
    """A sentence's display text as plain text: what the reader sees, without markup.

    Images become their alt text (which is also what the voice reads); footnote
    reference numbers and back-links are left out, as they are navigation, not
    text. Runs of ASCII whitespace become one space unless ``keep_lines`` (code
    blocks), which keeps line breaks but drops empty lines. No-break spaces are
    kept: French punctuation depends on them.
    """
    if not sentence.html.strip():
        return ""
    root = lxml.html.fragment_fromstring(sentence.html, create_parent="span")
    for element in root.xpath(
            './/sup[.//a[contains(concat(" ", normalize-space(@class), " "), " footnote-ref ")]]'
            ' | .//a[contains(concat(" ", normalize-space(@class), " "), " footnote-ref ")]'
            ' | .//a[contains(concat(" ", normalize-space(@class), " "), " footnote-backref ")]'):
        if element.getparent() is not None:
            element.drop_tree()
    for image in root.iter("img"):
        image.text = image.get("alt", "")
    for br in root.iter("br"):
        br.text = "\n"
    text = root.text_content()
    if keep_lines:
        return "\n".join(line.rstrip() for line in text.split("\n") if line.strip())
    return _ASCII_SPACE.sub(" ", text).strip()


# --------------------------------------------------------------------------- chapters


def heading_sentences(section: Section) -> dict[str, str]:
    """Map each subsection heading id to the id of the first sentence after it.

    "After" is in document order of ``section.body_html``, so a heading's own
    words (a sentence inside the heading element) come first. Headings with no
    sentence after them are left out.
    """
    heading_ids = {h.id for h in section.headings if h.id}
    if not heading_ids or not section.body_html.strip():
        return {}
    sentence_ids = {s.id for s in section.sentences}
    root = lxml.html.fragment_fromstring(section.body_html, create_parent="div")
    found: dict[str, str] = {}
    pending: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions
        element_id = element.get("id")
        if not element_id:
            continue
        if element_id in heading_ids and element_id not in found:
            pending.append(element_id)
        if element_id in sentence_ids and pending:
            for heading_id in pending:
                found[heading_id] = element_id
            pending = []
    return found


def section_chapters(section: Section, audio: SectionAudio) -> tuple[tuple[int, str], ...]:
    """(start in ms, title) of a section's chapters, strictly ascending.

    The section itself starts at 0; each subsection heading starts where its
    first sentence does. A heading that would start no later than the chapter
    before it (nothing narrated in between) is left out.
    """
    starts = {t.sentence_id: t.start_ms for t in audio.timings}
    first = heading_sentences(section)
    chapters: list[tuple[int, str]] = [(0, section.title)]
    for heading in section.headings:
        start = starts.get(first.get(heading.id, ""))
        if start is None or start <= chapters[-1][0]:
            continue
        chapters.append((start, heading.title))
    return tuple(chapters)


def section_chapters_json(pub: Publication, section: Section, audio: SectionAudio) -> bytes:
    """The Podcasting 2.0 JSON chapters document of one section."""
    meta = pub.book.meta
    document: dict[str, object] = {"version": CHAPTERS_VERSION}
    if meta.authors:
        document["author"] = ", ".join(meta.authors)
    document["title"] = section.title
    document["podcastName"] = meta.title
    document["fileName"] = audio.path.name
    document["chapters"] = [{"startTime": round(start_ms / 1000, 3), "title": title}
                            for start_ms, title in section_chapters(section, audio)]
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
