"""Sentence timings -> WebVTT transcripts and Podcasting 2.0 JSON chapters.

One cue per sentence (in a ``<lang>`` tag when it is in another language than
the book's; with a ``<v>`` speaker tag in a book of several voices), so a transcript is the book's own text (what the reader
sees, not the respelled text the voice was given), timed exactly as narrated::

    transcripts/NN-<slug>.vtt   WEBVTT; cue id = sentence id; cue times = its Timing
    chapters/NN-<slug>.json     {"version": "1.2.0", "chapters": [{"startTime": s, ...}]}

A section's chapters are its title at 0 s and one per subsection heading, at
the start of the heading's first sentence (the heading's own words).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from .config import NARRATOR
from .layout import (
    CHAPTERS_DIR,
    CHAPTERS_MEDIA_TYPE,
    TRANSCRIPTS_DIR,
    chapters_href,
    transcript_href,
)
from .model import Publication, Section, SectionAudio, Timing
from .timecode import clock

__all__ = [
    "CHAPTERS_DIR",
    "CHAPTERS_MEDIA_TYPE",
    "TRANSCRIPTS_DIR",
    "chapters_href",
    "section_chapters",
    "transcript_href",
    "vtt_timestamp",
    "write_transcripts",
]

CHAPTERS_VERSION = "1.2.0"

def write_transcripts(pub: Publication) -> list[Path]:
    """Write a WebVTT transcript and a JSON chapters file per section.

    Returns the files written (inside ``pub.out_dir``), transcripts first, in
    book order. Sections without audio in ``pub.audio`` get neither file.
    """
    transcripts_dir = pub.out_dir / TRANSCRIPTS_DIR
    chapters_dir = pub.out_dir / CHAPTERS_DIR
    transcripts_dir.mkdir(parents=True, exist_ok=True)
    chapters_dir.mkdir(parents=True, exist_ok=True)
    vtt_files: list[Path] = []
    json_files: list[Path] = []
    for section, audio in pub.sections_with_audio:
        vtt_path = pub.out_dir / transcript_href(section)
        vtt_path.write_bytes(section_vtt(section, audio.timings,
                                         speakers=bool(pub.book.meta.voices)).encode("utf-8"))
        vtt_files.append(vtt_path)
        json_path = pub.out_dir / chapters_href(section)
        json_path.write_bytes(section_chapters_json(pub, section, audio))
        json_files.append(json_path)
    return vtt_files + json_files


# --------------------------------------------------------------------------- WebVTT


def section_vtt(section: Section, timings: Sequence[Timing], speakers: bool = False) -> str:
    """The WebVTT transcript of one section: one cue per sentence, in reading order.

    With ``speakers`` (a book with several voices), each cue names its voice's
    role of ``voices`` (``narrator`` for the narrator) in a ``<v>`` tag.
    """
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
            text = sentence.plain_text(keep_lines) or sentence.spoken
            lines.append(sentence.id)
            lines.append(f"{vtt_timestamp(timing.start_ms)} --> {vtt_timestamp(timing.end_ms)}")
            cue = _vtt_escape(text)
            if sentence.language:  # a passage in another language
                cue = f"<lang {sentence.language}>{cue}</lang>"
            if speakers:
                cue = f"<v {sentence.voice or NARRATOR}>{cue}"
            lines.append(cue)
            lines.append("")
    return "\n".join(lines)


def vtt_timestamp(ms: int) -> str:
    """A WebVTT timestamp, hh:mm:ss.ttt."""
    return clock(ms, hour_digits=2)


def _vtt_escape(text: str) -> str:
    """Cue text: escape the three characters WebVTT reserves; never a blank line.

    A blank line would end the cue, so any that remain are dropped; escaping
    ``>`` also keeps ``-->`` out of cue text.
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(line for line in escaped.split("\n") if line.strip())


# --------------------------------------------------------------------------- chapters


def section_chapters(section: Section, audio: SectionAudio) -> tuple[tuple[int, str], ...]:
    """(start in ms, title) of a section's chapters, strictly ascending.

    The section itself starts at 0; each subsection heading starts where its
    first sentence does. A heading that would start no later than the chapter
    before it (nothing narrated in between) is left out.
    """
    starts = {t.sentence_id: t.start_ms for t in audio.timings}
    first = section.heading_sentences()
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
