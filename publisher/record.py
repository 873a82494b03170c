"""The build record (``output/<slug>/build.json``) as one frozen value.

build.py makes it (:func:`make_record`) once every other file is written and
writes it last; ``publisher proof``, ``publisher.stamp`` (the up-to-date
check), the catalog and build.py's up-to-date answer read it back with
:func:`load_record`. Its JSON form is part of the output contract: key order
and layout are fixed, so the same book gives the same bytes.

    slug, title, identifier, language, modified
    epub        file, bytes, media_overlays, accessibility, check (with --check)
    sections    id, number, title, role, document, sentences
                + with audio: audio, duration_ms, sample_rate_hz, loudness_lufs,
                  timings [{id, start_ms, end_ms, text, + language or skipped when
                  the sentence is a passage in another language}], epub_audio
    warnings
    narration   engine, voice, engine_identity, rate, profiles, sentences, duration_ms
    catalog     what the OPDS catalog says of the book (publisher.catalog)
    files       path, bytes, sha256 of every other file in the folder
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import file_sha256
from .layout import RECORD_NAME, audio_href, document_href
from .model import Accessibility, Book, BookAudio, Voicing
from .script import Script

__all__ = ["BuildRecord", "NotARecord", "file_list", "load_record", "make_record"]


@dataclass(frozen=True, slots=True)
class BuildRecord:
    """What build.json says (see the module docs); ``narration`` is None without audio."""

    slug: str
    title: str
    identifier: str
    language: str
    modified: str
    epub: Mapping[str, Any]
    sections: tuple[Mapping[str, Any], ...]
    warnings: tuple[str, ...]
    narration: Mapping[str, Any] | None
    catalog: Mapping[str, Any]
    files: tuple[Mapping[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """The record as build.json holds it, keys in their fixed order."""
        data: dict[str, Any] = {
            "slug": self.slug, "title": self.title, "identifier": self.identifier,
            "language": self.language, "modified": self.modified, "epub": self.epub,
            "sections": list(self.sections), "warnings": list(self.warnings)}
        if self.narration is not None:
            data["narration"] = self.narration
        data["catalog"] = self.catalog
        data["files"] = list(self.files)
        return data

    def to_json(self) -> str:
        """build.json's text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"

    def write(self, folder: Path) -> Path:
        """Write ``folder/build.json``."""
        path = folder / RECORD_NAME
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BuildRecord:
        """The record of a parsed build.json; missing parts are empty (older builds)."""
        narration = data.get("narration")
        return cls(slug=str(data.get("slug") or ""), title=str(data.get("title") or ""),
                   identifier=str(data.get("identifier") or ""),
                   language=str(data.get("language") or ""),
                   modified=str(data.get("modified") or ""),
                   epub=dict(data.get("epub") or {}),
                   sections=tuple(s for s in data.get("sections") or () if isinstance(s, dict)),
                   warnings=tuple(str(w) for w in data.get("warnings") or ()),
                   narration=dict(narration) if isinstance(narration, dict) else None,
                   catalog=dict(data.get("catalog") or {}),
                   files=tuple(f for f in data.get("files") or () if isinstance(f, dict)))


def make_record(book: Book, script: Script, audio: BookAudio | None, *,
                modified: _dt.datetime, epub_path: Path, media_overlays: bool,
                facts: Accessibility, catalog: Mapping[str, Any],
                folder: Path, check: Mapping[str, Any] | None = None) -> BuildRecord:
    """The record of a book whose every other file is now in ``folder``.

    ``check``: what ``--check`` found on the EPUB (publisher.claims), under epub.check.
    """
    meta = book.meta
    audio_by_id = ({a.section_id: (a, small) for a, small
                    in zip(audio.sections, audio.epub_sections, strict=True)} if audio else {})
    texts = script.texts
    voicings = dict(script.voicings)
    sections = []
    for s in book.sections:
        entry: dict[str, Any] = {"id": s.id, "number": s.number, "title": s.title,
                                 "role": s.role, "document": document_href(s),
                                 "sentences": len(s.sentences)}
        if s.id in audio_by_id:
            result, small = audio_by_id[s.id]
            entry.update({
                "audio": audio_href(s),
                "duration_ms": result.duration_ms,
                "sample_rate_hz": result.sample_rate_hz,
                "loudness_lufs": round(result.loudness_lufs, 2),
                # "text" is what the engine was asked to say (lexicon applied), so
                # `publisher proof` can check the audio without the source.
                "timings": [_timing(t.sentence_id, t.start_ms, t.end_ms, texts, voicings)
                            for t in result.timings],
                "epub_audio": {"duration_ms": small.duration_ms,
                               "timings_match": [t.start_ms for t in small.timings]
                               == [t.start_ms for t in result.timings]},
            })
        sections.append(entry)
    narration = None
    if audio is not None:
        narration = {
            "engine": audio.engine,
            "voice": audio.narrator,
            "engine_identity": audio.engine_identity,
            "rate": audio.rate,
            "audio_profile": audio.audio_profile,
            "epub_audio_profile": audio.epub_audio_profile,
            "sentences": len(script.items),
            "duration_ms": audio.duration_ms,
        }
        if audio.narrators:  # several voices: each, and who says what
            narration["narrators"] = list(audio.narrators)
            narration["voices"] = dict(meta.voices)
    return BuildRecord(
        slug=meta.slug, title=meta.title, identifier=meta.identifier, language=meta.language,
        modified=modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
        epub={"file": epub_path.name, "bytes": epub_path.stat().st_size,
              "media_overlays": media_overlays,
              "accessibility": {"accessMode": list(facts.access_modes),
                                "accessModeSufficient": list(facts.access_mode_sufficient),
                                "accessibilityFeature": list(facts.features),
                                "accessibilityHazard": list(facts.hazards),
                                "conformsTo": list(facts.conforms_to)},
              **({"check": dict(check)} if check is not None else {})},
        sections=tuple(sections), warnings=book.warnings, narration=narration,
        catalog=catalog, files=tuple(file_list(folder)))


def _timing(sentence_id: str, start_ms: int, end_ms: int, texts: Mapping[str, str],
            voicings: Mapping[str, Voicing]) -> dict[str, Any]:
    """One sentence's timing: its span and spoken text, and, when it is not the book's
    language, the language said (``language``) or the passage not read (``skipped``),
    so ``publisher proof`` hears each passage in its own language."""
    timing: dict[str, Any] = {"id": sentence_id, "start_ms": start_ms, "end_ms": end_ms,
                              "text": texts[sentence_id]}
    voicing = voicings.get(sentence_id)
    if voicing is None:
        return timing
    if voicing.language:
        timing["language"] = voicing.language
    if voicing.skipped:
        timing["skipped"] = voicing.skipped
    return timing


def file_list(folder: Path) -> list[dict[str, object]]:
    """Every file in ``folder``: relative path, size and SHA-256, sorted by path."""
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        files.append({"path": path.relative_to(folder).as_posix(),
                      "bytes": path.stat().st_size, "sha256": file_sha256(path)})
    return files


class NotARecord(ValueError):
    """The file is JSON, but not a build record."""


def load_record(path: Path) -> BuildRecord:
    """The build record in the file ``path`` (a build.json).

    Raises OSError when it cannot be read, ValueError when it is not JSON, and
    NotARecord when it is not a build record; each reader says what that
    means for it (proof stops, the catalog skips the book).
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise NotARecord(f"{path}: not a JSON object")
    return BuildRecord.from_dict(data)
