"""The audio stage: spoken text -> clips -> one audio file per section.

Sentences are synthesized one by one (through the content-addressed cache), so
each sentence's start and end in its section file are known exactly; those
timings drive the media overlays, transcripts and chapters.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import audio, overlays, spoken
from .cache import ClipCache
from .epub import NAV_HREF, Narration, Overlay, document_href, nav_items, toc_title
from .errors import EngineUnavailable, SpeechError
from .lexicon import Lexicon, load_lexicon
from .model import Book, Clip, Cover, Section, SectionAudio
from .speech import EngineSpec
from .synthesize import synthesize_clips

if TYPE_CHECKING:
    from .build import BuildOptions, Reporter

log = logging.getLogger(__name__)

EPUB_AUDIO_DIR = ".epub-audio"  # inside the staging folder; removed after packaging


@dataclass(frozen=True, slots=True)
class NarrationResult:
    narration: Narration
    pls: bytes | None
    record: dict[str, object]
    sections: tuple[SectionAudio, ...]
    stats: dict[str, int]


def engine_spec(book: Book, options: BuildOptions, name: str | None = None) -> EngineSpec:
    meta = book.meta
    return EngineSpec(name=name or options.engine or meta.engine or "piper",
                      voice=options.voice or meta.voice or None,
                      rate=options.rate if options.rate is not None else meta.rate,
                      lang=meta.language,
                      options=tuple(sorted(options.engine_options.items())))


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def narrate_book(book: Book, staging: Path, options: BuildOptions,
                 reporter: Reporter, cover: Cover | None = None) -> NarrationResult:
    """Synthesize and assemble every section; returns overlays and the audio record."""
    meta = book.meta
    lexicon = load_lexicon(meta.pronunciations, meta.lexicon)
    cache = ClipCache(options.cache_dir or options.out_root / ".cache")
    toc = _toc_entries(book)
    items = _speech_items(book, toc, lexicon)
    spoken_text = dict(items)

    spec = engine_spec(book, options)
    workers = options.workers or default_workers()
    reporter.stage(f"Synthesizing {len(items)} sentences with {spec.name}")
    reporter.start_sentences(len(items), "Narrating")

    def progress(sentence_id: str, clip: Clip, cached: bool) -> None:
        reporter.sentence_done(clip.duration_ms, cached)

    try:
        clips = synthesize_clips(items, spec, cache, workers=workers,
                                 on_progress=progress)
    except EngineUnavailable as exc:
        fallback = options.fallback or meta.fallback
        if not fallback or fallback == spec.name:
            raise
        clips = _fall_back(book, options, reporter, items, cache, workers, progress, exc,
                           fallback)
        spec = engine_spec(book, options, name=fallback)
    except SpeechError as exc:
        raise SpeechError(f"{_where(book, str(exc))}{exc} Clips made so far are kept in the "
                          "cache; fix the sentence (or the engine) and build again.") from exc
    finally:
        reporter.end_sentences()
    engine = spec()
    narrator = engine.voice_name

    reporter.stage("Assembling and encoding audio")
    profile = audio.get_profile(options.audio_profile)
    epub_profile = audio.get_profile(options.epub_audio_profile)
    audio_dir = staging / "audio"
    epub_dir = staging / EPUB_AUDIO_DIR
    audio_dir.mkdir(parents=True, exist_ok=True)
    epub_dir.mkdir(parents=True, exist_ok=True)

    total = len(book.sections)
    section_audio: list[SectionAudio] = []
    overlay_map: dict[str, Overlay] = {}
    epub_files: dict[str, Path] = {}
    records = []
    for section in book.sections:
        parts = _section_parts(section, clips)
        tags = audio.SectionTags(
            title=section.title, album=meta.title, artist=", ".join(meta.authors),
            narrator=narrator, track_number=section.number, track_total=total,
            language=meta.language, year=(meta.date or "")[:4], description=meta.description,
            publisher=meta.publisher, copyright=meta.rights,
            cover_jpeg=cover.data if cover and cover.media_type == "image/jpeg" else None,
            chapters=tuple((h.title, _first_sentence_in(section, h.id)) for h in
                           section.headings if _first_sentence_in(section, h.id)))
        name = f"{section.basename}.mp3"
        result = audio.assemble_section(parts, profile=profile, tags=tags,
                                        dest=audio_dir / name, section_id=section.id)
        section_audio.append(result)
        compact = audio.assemble_section(parts, profile=epub_profile, tags=tags,
                                         dest=epub_dir / name, section_id=section.id)
        epub_href = f"audio/{name}"
        epub_files[epub_href] = compact.path
        smil_href = f"smil/{section.basename}.smil"
        overlay_map[section.id] = Overlay(
            href=smil_href, duration_ms=compact.duration_ms,
            smil=overlays.section_smil(section, document_href(section), epub_href,
                                       compact.timings, smil_href))
        records.append({
            "id": section.id,
            "audio": f"audio/{name}",
            "duration_ms": result.duration_ms,
            "sample_rate_hz": result.sample_rate_hz,
            "loudness_lufs": round(result.loudness_lufs, 2),
            # "text" is what the engine was asked to say (lexicon applied), so
            # `publisher proof` can check the audio without the source.
            "timings": [{"id": t.sentence_id, "start_ms": t.start_ms, "end_ms": t.end_ms,
                         "text": spoken_text[t.sentence_id]}
                        for t in result.timings],
            "epub_audio": {"duration_ms": compact.duration_ms,
                           "timings_match": [t.start_ms for t in compact.timings]
                           == [t.start_ms for t in result.timings]},
        })

    # The table of contents can be played too.
    nav_parts = [(entry_id, clips[entry_id], audio.pause_after("paragraph"))
                 for entry_id, _ in toc]
    nav_parts[-1] = (nav_parts[-1][0], nav_parts[-1][1], 0)
    nav_tags = audio.SectionTags(title=toc_title(book), album=meta.title,
                                 artist=", ".join(meta.authors), narrator=narrator,
                                 language=meta.language)
    nav_audio = audio.assemble_section(nav_parts, profile=epub_profile, tags=nav_tags,
                                       dest=epub_dir / "00-contents.mp3", section_id="nav")
    epub_files["audio/00-contents.mp3"] = nav_audio.path
    overlay_map["nav"] = Overlay(
        href="smil/00-contents.smil", duration_ms=nav_audio.duration_ms,
        smil=overlays.nav_smil(NAV_HREF, [(t.sentence_id, t) for t in nav_audio.timings],
                               "audio/00-contents.mp3", "smil/00-contents.smil"))

    record: dict[str, object] = {
        "narration": {
            "engine": spec.name,
            "voice": narrator,
            "engine_identity": engine.identity,
            "rate": spec.rate,
            "audio_profile": profile.name,
            "epub_audio_profile": epub_profile.name,
            "sentences": len(items),
            "duration_ms": sum(s.duration_ms for s in section_audio),
        },
        "audio_sections": records,
    }
    pls = lexicon.to_pls(meta.language) if lexicon.entries else None
    # How much was synthesized depends on the cache, not on the book: it is
    # reported, never written into build.json (which must be reproducible).
    stats = {"clips_synthesized": cache.writes,
             "clips_from_cache": len({text for _, text in items}) - cache.writes}
    return NarrationResult(narration=Narration(narrator=narrator, overlays=overlay_map,
                                               audio_files=epub_files),
                           pls=pls, record=record, sections=tuple(section_audio),
                           stats=stats)


def _fall_back(book: Book, options: BuildOptions, reporter: Reporter,
               items: list[tuple[str, str]], cache: ClipCache, workers: int,
               progress: Callable[[str, Clip, bool], None], exc: Exception,
               fallback: str) -> dict[str, Clip]:
    """Finish the book with the fallback engine, and say so."""
    reporter.end_sentences()
    reporter.warn(f"{exc} Finishing the book with the '{fallback}' engine instead "
                  "(--fallback).")
    spec = engine_spec(book, options, name=fallback)
    reporter.start_sentences(len(items), f"Narrating ({fallback})")
    return synthesize_clips(items, spec, cache, workers=workers, on_progress=progress)


def _where(book: Book, message: str) -> str:
    """'Section N "title": ' for the sentence named in an engine error."""
    for section in book.sections:
        for sentence in section.sentences:
            if f"'{sentence.id}'" in message:
                return f"Section {section.number} ('{section.title}'): "
    return ""


def _toc_entries(book: Book) -> list[tuple[str, str]]:
    """(element id in the nav document, text) in reading order."""
    entries = [("toc-000", toc_title(book))]

    def walk(items: list[dict[str, object]]) -> None:
        for item in items:
            entries.append((str(item["id"]), str(item["title"])))
            walk(item["children"])  # type: ignore[arg-type]

    walk(nav_items(book))
    return entries


def _speech_items(book: Book, toc: list[tuple[str, str]],
                  lexicon: Lexicon) -> list[tuple[str, str]]:
    items = [(s.id, lexicon.apply(s.spoken)) for s in book.sentences]
    items += [(entry_id, lexicon.apply(spoken.speak(text, book.meta.language)))
              for entry_id, text in toc]
    return items


def _section_parts(section: Section, clips: dict[str, Clip]) -> list[tuple[str, Clip, int]]:
    parts: list[tuple[str, Clip, int]] = []
    for block in section.blocks:
        last = len(block.sentences) - 1
        for index, sentence in enumerate(block.sentences):
            if index < last:
                pause = audio.pause_after("sentence")
            elif block.kind == "heading":
                pause = audio.pause_after("heading")
            else:
                pause = audio.pause_after("paragraph")
            parts.append((sentence.id, clips[sentence.id], pause))
    if parts:
        parts[-1] = (parts[-1][0], parts[-1][1], 0)  # the tail is the assembler's
    return parts


def _first_sentence_in(section: Section, heading_id: str) -> str:
    """The id of a heading's first sentence, which is where its chapter starts."""
    if not heading_id:
        return ""
    marker = f'id="{heading_id}"'
    at = section.body_html.find(marker)
    if at < 0:
        return ""
    following = section.body_html.find('<span id="', at)
    if following < 0:
        return ""
    start = following + len('<span id="')
    return section.body_html[start:section.body_html.index('"', start)]

