"""The audio stage: spoken text -> clips -> one audio file per section.

Sentences are synthesized one by one (through the content-addressed cache), so
each sentence's start and end in its section file are known exactly; those
timings drive the media overlays, transcripts and chapters.

Where the time goes, and how little of it a build spends:

- Each section is mastered once and encoded twice (the ``podcast`` file in
  ``audio/`` and the ``compact`` one in the EPUB; same rate, so the same
  timings): see :func:`audio.assemble_section_files`.
- With worker processes, a section is assembled in this process as soon as
  its last clip is made, while the workers synthesize the next sections: a
  cold build takes about as long as its synthesis.
- Encoded files are cached (:class:`~publisher.cache.OutputCache`, beside the
  clips) under a hash of everything they are made from (clip keys, pauses,
  profiles, tags, the audio code and library versions): a rebuild with no
  change copies them, and an edit re-encodes only the sections it touches.
- Clips are read back from the cache when their section is assembled, so
  memory stays flat in book length.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.metadata
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import audio, audiobook, overlays, spoken
from .cache import ClipCache, OutputCache
from .epub import NAV_HREF, Narration, Overlay, document_href, nav_items, toc_title
from .errors import AudioError, EngineUnavailable, SpeechError
from .helper import Helper
from .lexicon import Lexicon, load_lexicon
from .model import Book, Clip, Cover, Section, SectionAudio, Timing
from .speech import Engine, EngineSpec
from .speech.choose import choose_voice
from .synthesize import stream_clips

if TYPE_CHECKING:
    from .build import BuildOptions, Reporter

log = logging.getLogger(__name__)

EPUB_AUDIO_DIR = ".epub-audio"  # inside the staging folder; removed after packaging
_CONTENTS_JOB = "nav"  # the job of the contents' audio, beside the sections' own ids


@dataclass(frozen=True, slots=True)
class NarrationResult:
    narration: Narration
    pls: bytes | None
    record: dict[str, object]
    sections: tuple[SectionAudio, ...]
    stats: dict[str, object]


def engine_spec(book: Book, options: BuildOptions, name: str | None = None) -> EngineSpec:
    """The engine and voice for ``book``: asked for, else the best of its language.

    Raises VoiceLanguageError (see speech.choose) when no installed voice speaks
    the book's language or the voice asked for speaks another.
    """
    meta = book.meta
    choice = choose_voice(meta.language, name or options.engine or meta.engine or None,
                          options.voice or meta.voice or None)
    name = choice.engine
    engine_options = dict(options.engine_options)
    if name in ("piper", "kokoro") and "model_cache" not in engine_options:
        # The prepared voice model is kept beside the clips (see speech.piper, speech.kokoro).
        cache_root = options.cache_dir or options.out_root / ".cache"
        engine_options["model_cache"] = str(cache_root / "voices")
    return EngineSpec(name=name, voice=choice.voice,
                      rate=options.rate if options.rate is not None else meta.rate,
                      lang=meta.language, options=tuple(sorted(engine_options.items())))


def voice_warnings(book: Book, options: BuildOptions) -> tuple[str, ...]:
    """Check the book's voice before anything is written; the warnings to say about it.

    Raises VoiceLanguageError as :func:`engine_spec` does.
    """
    meta = book.meta
    return choose_voice(meta.language, options.engine or meta.engine or None,
                        options.voice or meta.voice or None).warnings


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def narrate_book(book: Book, staging: Path, options: BuildOptions,
                 reporter: Reporter, cover: Cover | None = None,
                 executor: Any = None) -> NarrationResult:
    """Synthesize and assemble every section; returns overlays and the audio record.

    With ``executor`` (a Dask Client, see publisher.cluster) the sentences are
    synthesized on it instead of in local worker processes.
    """
    meta = book.meta
    lexicon = load_lexicon(meta.pronunciations, meta.lexicon)
    cache = ClipCache(options.cache_dir or options.out_root / ".cache")
    toc = _toc_entries(book)
    items = _speech_items(book, toc, lexicon)
    spec = engine_spec(book, options)
    workers = options.workers or default_workers()
    fell_back = False
    try:
        made = _narrate(book, staging, options, reporter, cover, spec, items, toc, cache,
                        workers, executor=executor)
    except EngineUnavailable as exc:
        fallback = options.fallback or meta.fallback
        if not fallback or fallback == spec.name:
            raise
        where = "--fallback" if options.fallback else "'fallback' in the front matter"
        reporter.warn(f"{exc} Finishing the book with the '{fallback}' engine instead "
                      f"({where}).")
        spec = engine_spec(book, options, name=fallback)
        fell_back = True
        # Counted afresh: the clips the first engine made are not this book's audio.
        cache = ClipCache(cache.root)
        made = _narrate(book, staging, options, reporter, cover, spec, items, toc, cache,
                        workers, label=f"Narrating ({fallback})", executor=executor)
    except SpeechError as exc:
        raise SpeechError(f"{_where(book, str(exc))}{exc} Clips made so far are kept in the "
                          "cache; fix the sentence (or the engine) and build again.") from exc
    sections, compact, nav_audio, engine = made
    narrator = engine.voice_name
    spoken_text = dict(items)
    profile = audio.get_profile(options.audio_profile)
    epub_profile = audio.get_profile(options.epub_audio_profile)

    overlay_map: dict[str, Overlay] = {}
    epub_files: dict[str, Path] = {}
    records = []
    for section, result, small in zip(book.sections, sections, compact, strict=True):
        name = f"{section.basename}.mp3"
        epub_href = f"audio/{name}"
        epub_files[epub_href] = small.path
        smil_href = f"smil/{section.basename}.smil"
        overlay_map[section.id] = Overlay(
            href=smil_href, duration_ms=small.duration_ms,
            smil=overlays.section_smil(section, document_href(section), epub_href,
                                       small.timings, smil_href))
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
            "epub_audio": {"duration_ms": small.duration_ms,
                           "timings_match": [t.start_ms for t in small.timings]
                           == [t.start_ms for t in result.timings]},
        })

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
            "duration_ms": sum(s.duration_ms for s in sections),
        },
        "audio_sections": records,
    }
    pls = lexicon.to_pls(meta.language) if lexicon.entries else None
    # How much was synthesized depends on the cache, not on the book: it is
    # reported, never written into build.json (which must be reproducible).
    stats: dict[str, object] = {
        "clips_synthesized": cache.writes,
        "clips_from_cache": len({text for _, text in items}) - cache.writes}
    if fell_back:
        stats["fell_back"] = True
    return NarrationResult(narration=Narration(narrator=narrator, overlays=overlay_map,
                                               audio_files=epub_files),
                           pls=pls, record=record, sections=tuple(sections),
                           stats=stats)


@dataclass(frozen=True, slots=True)
class _Job:
    """One audio file set to make: a section (podcast + EPUB profiles) or the contents."""

    section_id: str
    parts: tuple[tuple[str, int], ...]  # (sentence id, pause after in ms)
    outputs: tuple[tuple[audio.AudioProfile, Path], ...]
    tags: audio.SectionTags
    keys: tuple[str, ...]  # OutputCache key of each output


def _narrate(book: Book, staging: Path, options: BuildOptions, reporter: Reporter,
             cover: Cover | None, spec: EngineSpec, items: list[tuple[str, str]],
             toc: list[tuple[str, str]], cache: ClipCache, workers: int,
             label: str = "Narrating", executor: Any = None,
             ) -> tuple[list[SectionAudio], list[SectionAudio], SectionAudio, Engine]:
    """Every section's two files and the contents' one: from the output cache, or made.

    Sections are assembled in this process while worker processes synthesize
    the sentences of later ones, so a cold build takes about as long as the
    synthesis. With one worker, synthesis runs in this process and sections
    are assembled after it (interleaving would gain nothing).
    """
    meta = book.meta
    engine = spec()
    identity = engine.identity
    narrator = engine.voice_name
    clip_keys = {sentence_id: cache.key(identity, text) for sentence_id, text in items}
    outputs_cache = OutputCache(cache.root)
    profile = audio.get_profile(options.audio_profile)
    epub_profile = audio.get_profile(options.epub_audio_profile)
    audio_dir = staging / "audio"
    epub_dir = staging / EPUB_AUDIO_DIR
    audio_dir.mkdir(parents=True, exist_ok=True)
    epub_dir.mkdir(parents=True, exist_ok=True)

    jobs: list[_Job] = []
    total = len(book.sections)
    for section in book.sections:
        tags = audio.SectionTags(
            title=section.title, album=meta.title, artist=", ".join(meta.authors),
            narrator=narrator, track_number=section.number, track_total=total,
            language=meta.language, year=(meta.date or "")[:4], description=meta.description,
            publisher=meta.publisher, copyright=meta.rights,
            cover_jpeg=cover.data if cover and cover.media_type == "image/jpeg" else None,
            chapters=_chapters(section))
        name = f"{section.basename}.mp3"
        jobs.append(_job(section.id, _section_parts(section),
                         ((profile, audio_dir / name), (epub_profile, epub_dir / name)),
                         tags, clip_keys))
    # The table of contents can be played too.
    nav_parts = [(entry_id, audio.pause_after("paragraph")) for entry_id, _ in toc]
    nav_parts[-1] = (nav_parts[-1][0], 0)
    nav_tags = audio.SectionTags(title=toc_title(book), album=meta.title,
                                 artist=", ".join(meta.authors), narrator=narrator,
                                 language=meta.language)
    jobs.append(_job(_CONTENTS_JOB, nav_parts, ((epub_profile, epub_dir / "00-contents.mp3"),),
                     nav_tags, clip_keys))

    made: dict[str, tuple[SectionAudio, ...]] = {}
    for job in jobs:
        fetched = _fetch(job, outputs_cache)
        if fetched is not None:
            made[job.section_id] = fetched
    todo = [job for job in jobs if job.section_id not in made]
    needed = {sentence_id for job in todo for sentence_id, _ in job.parts}
    where = " on the cluster" if executor is not None else ""
    reporter.stage(f"Synthesizing {len(items)} sentences with {spec.name}{where}")
    reporter.start_sentences(len(items), label)
    for job in jobs:
        if job.section_id in made:
            for timing in made[job.section_id][0].timings:
                reporter.sentence_done(timing.end_ms - timing.start_ms, True)

    # Only which clips are ready is kept: each section reads its clips back
    # from the cache when it is assembled, so memory stays flat in book length.
    ready: set[str] = set()
    pipelined = workers > 1 or executor is not None
    # The second core encodes too: a helper process makes a section's EPUB MP3
    # and its part of the audiobook while this one makes its podcast MP3.
    helper = Helper(warm_up=audio.preload) if todo and (
        workers > 1 or (executor is not None and default_workers() > 1)) else None

    def assemble_ready() -> None:
        # Any job whose clips are all there, not only the next in book order:
        # the files do not depend on the order they are made in.
        while job := next((job for job in todo
                           if all(sentence_id in ready for sentence_id, _ in job.parts)), None):
            todo.remove(job)
            made[job.section_id] = _assemble(job, cache, clip_keys, outputs_cache, helper)

    # The contents first: its entries are the headings (one clip each, shared
    # with the sections), so its audio is assembled early, while the workers
    # go on with the sections, rather than last, after them.
    toc_ids = {entry_id for entry_id, _ in toc}
    wanted = sorted(((sentence_id, text) for sentence_id, text in items
                     if sentence_id in needed), key=lambda item: item[0] not in toc_ids)
    clean = False
    try:
        try:
            if wanted:  # else every file came from the cache
                if executor is not None:
                    from .cluster import shared_disk, stream_with_executor

                    audio.preload()
                    clips = stream_with_executor(wanted, spec, cache, executor,
                                                 shared_cache=shared_disk(executor))
                else:
                    # With two cores, even one missing clip goes to a worker process:
                    # this one imports the audio libraries meanwhile (an edit of one
                    # sentence then costs the voice load or the imports, not both).
                    clips = stream_clips(wanted, spec, cache, workers=workers,
                                         min_batch_for_workers=1, while_waiting=audio.preload)
                with contextlib.closing(clips) as stream:
                    for sentence_id, clip, cached in stream:
                        ready.add(sentence_id)
                        reporter.sentence_done(clip.duration_ms, cached)
                        del clip
                        if pipelined:
                            assemble_ready()
        finally:
            reporter.end_sentences()
        reporter.stage("Assembling and encoding audio")
        assemble_ready()
        clean = True
    finally:
        if helper is not None:
            helper.close(kill=not clean)
    sections = [made[section.id][0] for section in book.sections]
    compact = [made[section.id][1] for section in book.sections]
    return sections, compact, made[_CONTENTS_JOB][0], engine


def _job(section_id: str, parts: list[tuple[str, int]],
         outputs: tuple[tuple[audio.AudioProfile, Path], ...], tags: audio.SectionTags,
         clip_keys: dict[str, str]) -> _Job:
    """A job and the cache keys of its outputs: everything the files are made from."""
    described_tags = {field.name: getattr(tags, field.name)
                      for field in dataclasses.fields(tags)}
    cover_bytes = described_tags.pop("cover_jpeg")
    described_tags["cover_sha256"] = (hashlib.sha256(cover_bytes).hexdigest()
                                      if cover_bytes else None)
    description = {
        "kind": "section-audio",
        "code": _audio_code(),
        "section_id": section_id,
        "parts": [[sentence_id, clip_keys[sentence_id], pause] for sentence_id, pause in parts],
        # A section's files are mastered together: each depends on all the profiles.
        "profiles": [dataclasses.asdict(profile) for profile, _ in outputs],
        "tags": described_tags,
    }
    keys = tuple(OutputCache.key({**description, "output": index})
                 for index in range(len(outputs)))
    return _Job(section_id=section_id, parts=tuple(parts), outputs=outputs, tags=tags,
                keys=keys)


@functools.cache
def _audio_code() -> dict[str, str]:
    """The code that makes audio files: audio.py itself and the libraries it drives."""
    versions = {name: importlib.metadata.version(name)
                for name in ("av", "numpy", "scipy", "pyloudnorm", "mutagen")}
    source = Path(audio.__file__).read_bytes()
    return {"audio.py": hashlib.sha256(source).hexdigest(), **versions}


def _fetch(job: _Job, outputs_cache: OutputCache) -> tuple[SectionAudio, ...] | None:
    """The job's files copied from the output cache, or None if any is missing."""
    found = []
    for (_, dest), key in zip(job.outputs, job.keys, strict=True):
        meta = outputs_cache.fetch(key, ".mp3", dest)
        if meta is None:
            return None
        found.append(SectionAudio(
            section_id=job.section_id, path=dest, duration_ms=int(meta["duration_ms"]),
            sample_rate_hz=int(meta["sample_rate_hz"]),
            timings=tuple(Timing(str(sid), int(start), int(end))
                          for sid, start, end in meta["timings"]),
            loudness_lufs=float(meta["loudness_lufs"]), extra=dict(meta["extra"])))
    return tuple(found)


def _assemble(job: _Job, cache: ClipCache, clip_keys: dict[str, str],
              outputs_cache: OutputCache, helper: Helper | None) -> tuple[SectionAudio, ...]:
    """Make the job's files from its clips, and keep copies in the output cache.

    With a ``helper`` process, it encodes the EPUB's MP3 while this one makes
    the podcast MP3 and then, from it, the section's part of the audiobook
    (which :func:`audiobook.write_m4b` finds in the cache).
    """
    parts = [(sentence_id, _cached_clip(cache, clip_keys[sentence_id], sentence_id), pause)
             for sentence_id, pause in job.parts]

    def audiobook_part(podcast: SectionAudio) -> None:
        if job.section_id != _CONTENTS_JOB:  # the contents are not in the audiobook
            audiobook.encode_section_ahead(job.tags.title, podcast.path, podcast.sample_rate_hz,
                                           cache.root)

    results = audio.assemble_section_files(
        parts, job.outputs, tags=job.tags, section_id=job.section_id, executor=helper,
        then=audiobook_part if helper is not None else None)
    del parts
    for result, key in zip(results, job.keys, strict=True):
        outputs_cache.store(key, ".mp3", result.path, {
            "duration_ms": result.duration_ms, "sample_rate_hz": result.sample_rate_hz,
            "timings": [[t.sentence_id, t.start_ms, t.end_ms] for t in result.timings],
            "loudness_lufs": result.loudness_lufs, "extra": result.extra})
    return results


def _cached_clip(cache: ClipCache, key: str, sentence_id: str) -> Clip:
    clip = cache.get(key)
    if clip is None:
        raise AudioError(f"The clip of sentence '{sentence_id}' left the cache ({cache.root}) "
                         "during the build; is another process clearing it? Build again.")
    return clip


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


def _section_parts(section: Section) -> list[tuple[str, int]]:
    """(sentence id, pause after it in ms) in reading order; the tail is the assembler's."""
    parts: list[tuple[str, int]] = []
    for block in section.blocks:
        last = len(block.sentences) - 1
        for index, sentence in enumerate(block.sentences):
            if index < last:
                pause = audio.pause_after("sentence")
            elif block.kind == "heading":
                pause = audio.pause_after("heading")
            else:
                pause = audio.pause_after("paragraph")
            parts.append((sentence.id, pause))
    if parts:
        parts[-1] = (parts[-1][0], 0)  # the tail is the assembler's
    return parts


def _chapters(section: Section) -> tuple[tuple[str, str], ...]:
    """(title, first sentence id) of each subsection heading that has a sentence after it."""
    from .transcripts import heading_sentences

    first = heading_sentences(section)
    return tuple((h.title, first[h.id]) for h in section.headings if h.id in first)
