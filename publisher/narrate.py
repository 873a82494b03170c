"""The audio stage: the spoken script -> clips -> one audio file per section.

    Script (script.py) --Synthesis (build.py's choice: local workers or the
    cluster)--> clips in the cache --audio/ (section.py, m4b.py)--> BookAudio

Sentences are synthesized one by one (through the content-addressed cache), so
each sentence's start and end in its section file are known exactly; those
timings (in the returned :class:`~publisher.model.BookAudio`) drive the media
overlays the EPUB writer makes, the transcripts and the chapters.

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
- Each sentence is said by the voice the script gives it (the narrator, a role
  of ``voices``, a passage's language): one synthesis stream per voice, the
  narrator's first. A book of one voice has one stream, as before.
- Both cores encode. A section assembled alone (its clips just made) is
  mastered here, and the helper process (publisher.helper) encodes its EPUB
  MP3 while this one makes its podcast MP3 and its part of the audiobook.
  When several sections are ready at once (every clip was cached, but not the
  encoded files: an upgrade, an emptied ``.cache/outputs/``, ``--force``), the
  helper takes whole sections, one at a time from the end of the book, while
  this process takes them from the start, until they meet: neither waits
  while the other has work. The files are the same bytes whichever process
  makes them.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from . import audio, identify
from .audio import m4b
from .cache import ClipCache, OutputCache, code_identity
from .errors import AudioError, EngineUnavailable, SpeechError
from .helper import Helper
from .layout import AUDIO_DIR, CONTENTS_AUDIO_HREF, EPUB_AUDIO_DIR, audio_name
from .model import Book, BookAudio, Clip, Cover, Section, SectionAudio, Timing
from .options import BuildOptions, Reporter, default_workers, engine_spec, voicing_specs
from .script import CONTENTS_ID, Script
from .speech import Engine, EngineSpec
from .synthesize import Synthesis, local_synthesis

log = logging.getLogger(__name__)

#: A silent sentence (of a passage no voice speaks, after its announcement): a
#: tenth of a second, so it still has its place in the overlays and transcripts.
_SILENCE = Clip(pcm=bytes(2 * 2400), sample_rate_hz=24000)
_SILENCE_KEY = ClipCache.key({"engine": "silence", "version": "1"}, "")
#: How much lower the helper process runs than the build while workers synthesize.
_HELPER_NICENESS = 10


def narrate_book(book: Book, script: Script, staging: Path, options: BuildOptions,
                 reporter: Reporter, *, cover: Cover | None = None,
                 synthesis: Synthesis | None = None, draft: bool = False) -> BookAudio:
    """Synthesize and assemble every section's audio into ``staging``; the audio stage.

    ``script`` says what to say (:func:`publisher.script.script_book`);
    ``synthesis`` where the clips are made (default: local worker processes,
    ``options.workers`` of them). The podcast-profile files go into
    ``staging/audio/``, the EPUB's into ``staging/.epub-audio/``. When the
    engine cannot run and a fallback engine is set (``--fallback`` or the front
    matter), the book is finished with the fallback, with a warning.

    ``draft`` (``publisher preview``'s builds): a section whose files are not
    in the output cache is encoded once, fast, unchecked, and without its part
    of the audiobook (see :mod:`publisher.audio.encode`); drafts are cached
    under keys of their own, so ``publisher build`` never takes one for a
    checked file.
    """
    if not draft:
        # Nothing from here on identifies a language: give its model back before
        # the stage that holds audio. (A preview keeps it: every save parses again.)
        identify.release()
    meta = book.meta
    cache = ClipCache(options.cache_root)
    spec = engine_spec(book, options)
    if synthesis is None:
        synthesis = local_synthesis(options.workers or default_workers())
    fell_back = False
    try:
        made = _narrate(book, script, staging, options, reporter, cover, spec, cache,
                        synthesis, draft=draft)
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
        made = _narrate(book, script, staging, options, reporter, cover, spec, cache,
                        synthesis, label=f"Narrating ({fallback})", engine_name=fallback,
                        draft=draft)
    except SpeechError as exc:
        section = _section_of(book, exc.sentence_id)
        where = f"Section {section.number} ('{section.title}'): " if section else ""
        raise SpeechError(f"{where}{exc} Clips made so far are kept in the cache; fix the "
                          "sentence (or the engine) and build again.",
                          sentence_id=exc.sentence_id,
                          section=section.id if section else None) from exc
    sections, compact, contents, engine, narrators, distinct = made
    # How much was synthesized depends on the cache, not on the book: it is
    # reported, never written into build.json (which must be reproducible).
    return BookAudio(
        sections=tuple(sections), epub_sections=tuple(compact), contents=contents,
        narrator=", ".join(narrators), engine=spec.name, engine_identity=dict(engine.identity),
        rate=spec.rate, audio_profile=audio.get_profile(options.audio_profile).name,
        epub_audio_profile=audio.get_profile(options.epub_audio_profile).name,
        clips_synthesized=cache.writes, clips_from_cache=distinct - cache.writes,
        fell_back=fell_back, narrators=narrators if len(narrators) > 1 else ())


@dataclass(frozen=True, slots=True)
class _Job:
    """One audio file set to make: a section (podcast + EPUB profiles) or the contents."""

    section_id: str
    parts: tuple[tuple[str, int], ...]  # (sentence id, pause after in ms)
    outputs: tuple[tuple[audio.AudioProfile, Path], ...]
    tags: audio.SectionTags
    keys: tuple[str, ...]  # OutputCache key of each output
    #: Fast unchecked encodes and no audiobook part (see narrate_book).
    draft: bool = False


def _narrate(book: Book, script: Script, staging: Path, options: BuildOptions,
             reporter: Reporter, cover: Cover | None, spec: EngineSpec, cache: ClipCache,
             synthesis: Synthesis, label: str = "Narrating", engine_name: str | None = None,
             draft: bool = False) -> tuple[list[SectionAudio], list[SectionAudio], SectionAudio, Engine,
                        tuple[str, ...], int]:
    """Every section's two files and the contents' one: from the output cache, or made.

    Sections are assembled in this process while worker processes synthesize
    the sentences of later ones, so a cold build takes about as long as the
    synthesis. With one worker, synthesis runs in this process and sections
    are assembled after it (interleaving would gain nothing). Returns the
    files, the narrator's engine, every voice heard (narrator first) and the
    number of distinct clips.
    """
    meta = book.meta
    items = script.items
    engine = spec()
    # Who says what: one engine recipe per voice (most books have one, the narrator's).
    voicing_of = dict(script.voicings)
    specs = {voicing: voiced for voicing, voiced in voicing_specs(
        book, options, voicing_of.values(), name=engine_name).items() if voiced != spec}
    spec_of = {sentence_id: specs.get(voicing_of[sentence_id], spec)
               for sentence_id in voicing_of}
    engines = {spec: engine} | {other: other() for other in sorted(
        set(specs.values()), key=lambda s: (s.name, s.voice or "", s.lang))}
    identities = {recipe: made.identity for recipe, made in engines.items()}
    clip_keys = {sentence_id: (cache.key(identities[spec_of.get(sentence_id, spec)], text)
                               if text else _SILENCE_KEY)
                 for sentence_id, text in items}
    heard = [engines[spec_of.get(sentence_id, spec)].voice_name
             for sentence_id, text in items if text]
    narrators = tuple(dict.fromkeys([engine.voice_name, *heard]))
    narrator = ", ".join(narrators)
    outputs_cache = OutputCache(cache.root)
    profile = audio.get_profile(options.audio_profile)
    epub_profile = audio.get_profile(options.epub_audio_profile)
    audio_dir = staging / AUDIO_DIR
    epub_dir = staging / EPUB_AUDIO_DIR
    audio_dir.mkdir(parents=True, exist_ok=True)
    epub_dir.mkdir(parents=True, exist_ok=True)
    several = narrators if len(narrators) > 1 else ()

    jobs: list[_Job] = []
    total = len(book.sections)
    for section, section_script in zip(book.sections, script.sections, strict=True):
        tags = audio.SectionTags(
            title=section.title, album=meta.title, artist=", ".join(meta.authors),
            narrator=narrator, track_number=section.number, track_total=total,
            language=meta.language, year=(meta.date or "")[:4], description=meta.description,
            publisher=meta.publisher, copyright=meta.rights,
            cover_jpeg=cover.data if cover and cover.media_type == "image/jpeg" else None,
            chapters=section_script.chapters, narrators=several)
        name = audio_name(section)
        jobs.append(_job(section.id, list(section_script.parts),
                         ((profile, audio_dir / name), (epub_profile, epub_dir / name)),
                         tags, clip_keys, draft))
    # The table of contents can be played too.
    contents = script.contents
    nav_tags = audio.SectionTags(title=contents.title, album=meta.title,
                                 artist=", ".join(meta.authors), narrator=narrator,
                                 language=meta.language, narrators=several)
    contents_file = epub_dir / Path(CONTENTS_AUDIO_HREF).name
    jobs.append(_job(CONTENTS_ID, list(contents.parts), ((epub_profile, contents_file),),
                     nav_tags, clip_keys, draft))

    made: dict[str, tuple[SectionAudio, ...]] = {}
    for job in jobs:
        fetched = _fetch(job, outputs_cache)
        if fetched is not None:
            made[job.section_id] = fetched
    todo = [job for job in jobs if job.section_id not in made]
    needed = {sentence_id for job in todo for sentence_id, _ in job.parts}
    reporter.stage(f"Synthesizing {len(items)} sentences with {spec.name}{synthesis.where}")
    reporter.start_sentences(len(items), label)
    for job in jobs:
        if job.section_id in made:
            for timing in made[job.section_id][0].timings:
                reporter.sentence_done(timing.end_ms - timing.start_ms, True)

    # Only which clips are ready is kept: each section reads its clips back
    # from the cache when it is assembled, so memory stays flat in book length.
    ready: set[str] = set()
    # Every clip cached (only the encoded files are missing): nothing to
    # interleave with, so all sections are ready together and both processes
    # take whole ones, rather than this one starting alone on the first.
    all_cached = all(clip_keys[sentence_id] in cache for sentence_id in needed)
    interleave = synthesis.pipelined and not all_cached
    # The second core encodes too (see the module's docstring). Below the
    # synthesis workers when there are any; else this build's equal, or a busy
    # machine would leave it waiting while this process does all the work.
    helper = Helper(warm_up=audio.preload, niceness=0 if all_cached else _HELPER_NICENESS) \
        if todo and synthesis.spare_core else None

    def assemble_ready() -> None:
        # Any job whose clips are all there, not only the next in book order:
        # the files do not depend on the order they are made in.
        ready_jobs = [job for job in todo
                      if all(sentence_id in ready for sentence_id, _ in job.parts)]
        for job in ready_jobs:
            todo.remove(job)
        if helper is not None and len(ready_jobs) > 1:
            made.update(_share(ready_jobs, helper, cache, clip_keys, outputs_cache))
            return
        for job in ready_jobs:
            made[job.section_id] = _assemble(job, cache, clip_keys, outputs_cache, helper)

    # The contents first: its entries are the headings (one clip each, shared
    # with the sections), so its audio is assembled early, while the workers
    # go on with the sections, rather than last, after them.
    contents_ids = {entry_id for entry_id, _ in contents.parts}
    wanted = sorted(((sentence_id, text) for sentence_id, text in items
                     if sentence_id in needed), key=lambda item: item[0] not in contents_ids)
    # The sentences of a passage no voice speaks (after its announcement) are silent.
    silent = [sentence_id for sentence_id, text in wanted if not text]
    if silent:
        if _SILENCE_KEY not in cache:
            cache.put(_SILENCE_KEY, _SILENCE)
        for sentence_id in silent:
            ready.add(sentence_id)
            reporter.sentence_done(_SILENCE.duration_ms, True)
    # One stream per voice, the narrator's first (one for most books).
    groups: dict[EngineSpec, list[tuple[str, str]]] = {spec: []}
    for sentence_id, text in wanted:
        if text:
            groups.setdefault(spec_of.get(sentence_id, spec), []).append((sentence_id, text))
    clean = False
    try:
        try:
            for recipe, group in groups.items():
                if not group:  # every file came from the cache
                    continue
                # While the clips are being made, this process imports the audio libraries.
                clips = synthesis.stream(group, recipe, cache, audio.preload)
                with contextlib.closing(clips) as stream:  # type: ignore[type-var]
                    for sentence_id, clip, cached in stream:
                        ready.add(sentence_id)
                        reporter.sentence_done(clip.duration_ms, cached)
                        del clip
                        if interleave:
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
    distinct = len({clip_keys[sentence_id] for sentence_id, _ in items})
    return sections, compact, made[CONTENTS_ID][0], engine, narrators, distinct


def _job(section_id: str, parts: list[tuple[str, int]],
         outputs: tuple[tuple[audio.AudioProfile, Path], ...], tags: audio.SectionTags,
         clip_keys: dict[str, str], draft: bool = False) -> _Job:
    """A job and the cache keys of its outputs: everything the files are made from."""
    described_tags = {field.name: getattr(tags, field.name)
                      for field in dataclasses.fields(tags)}
    cover_bytes = described_tags.pop("cover_jpeg")
    described_tags["cover_sha256"] = (hashlib.sha256(cover_bytes).hexdigest()
                                      if cover_bytes else None)
    description: dict[str, object] = {
        "kind": "section-audio",
        # The code that makes audio files: publisher.audio and the libraries it drives.
        "code": code_identity((audio,), ("av", "numpy", "scipy", "pyloudnorm", "mutagen")),
        "section_id": section_id,
        "parts": [[sentence_id, clip_keys[sentence_id], pause] for sentence_id, pause in parts],
        # A section's files are mastered together: each depends on all the profiles.
        "profiles": [dataclasses.asdict(profile) for profile, _ in outputs],
        "tags": described_tags,
    }
    if draft:  # never taken for a checked file, nor a checked file for a draft
        description["draft"] = True
    keys = tuple(OutputCache.key({**description, "output": index})
                 for index in range(len(outputs)))
    return _Job(section_id=section_id, parts=tuple(parts), outputs=outputs, tags=tags,
                keys=keys, draft=draft)


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

    The section's part of the audiobook is encoded from the podcast MP3 as
    soon as that is written (:func:`m4b.write_m4b` finds it in the cache);
    with a ``helper`` process, the EPUB's MP3 is encoded there meanwhile.
    """
    parts = [(sentence_id, _cached_clip(cache, clip_keys[sentence_id], sentence_id), pause)
             for sentence_id, pause in job.parts]

    def audiobook_part(podcast: SectionAudio) -> None:
        # Not for the contents (not in the audiobook), nor a draft (publisher build's).
        if job.section_id != CONTENTS_ID and not job.draft:
            m4b.encode_section_ahead(job.tags.title, podcast.path, podcast.sample_rate_hz,
                                     cache.root)

    results = audio.assemble_section_files(
        parts, job.outputs, tags=job.tags, section_id=job.section_id, executor=helper,
        then=audiobook_part, draft=job.draft)
    del parts
    for result, key in zip(results, job.keys, strict=True):
        outputs_cache.store(key, ".mp3", result.path, {
            "duration_ms": result.duration_ms, "sample_rate_hz": result.sample_rate_hz,
            "timings": [[t.sentence_id, t.start_ms, t.end_ms] for t in result.timings],
            "loudness_lufs": result.loudness_lufs, "extra": result.extra})
    return results


def _share(jobs: list[_Job], helper: Helper, cache: ClipCache, clip_keys: dict[str, str],
           outputs_cache: OutputCache) -> dict[str, tuple[SectionAudio, ...]]:
    """Make ``jobs`` on both cores: whole ones, this process from the first, the helper from
    the last, until they meet (so neither waits while the other has work left).

    A thread here feeds the helper one job at a time and waits for it (which
    releases the GIL); this thread encodes its own jobs meanwhile, every file
    of each. On an error here, the helper is given no more, and the caller
    stops it.
    """
    queue = collections.deque(jobs)
    lock = threading.Lock()
    made: dict[str, tuple[SectionAudio, ...]] = {}
    failed: list[BaseException] = []

    def feed() -> None:
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    job = queue.pop()
                keys = {sentence_id: clip_keys[sentence_id] for sentence_id, _ in job.parts}
                made[job.section_id] = helper.submit(
                    _assemble_whole, job, cache.root, keys,
                    description=f"making the audio of section {job.section_id!r}").result()
        except BaseException as exc:  # raised in the caller's thread, below
            failed.append(exc)
            with lock:
                queue.clear()  # the build fails: this process stops after its section

    feeder = threading.Thread(target=feed, name="publisher-helper-feed", daemon=True)
    feeder.start()
    try:
        while True:
            with lock:
                if not queue:
                    break
                job = queue.popleft()
            made[job.section_id] = _assemble(job, cache, clip_keys, outputs_cache, None)
    except BaseException:
        with lock:
            queue.clear()
        raise
    feeder.join()
    if failed:
        raise failed[0]
    return made


def _assemble_whole(job: _Job, cache_root: Path,
                    clip_keys: dict[str, str]) -> tuple[SectionAudio, ...]:
    """:func:`_assemble` in the helper process: every file of one job, and their cache copies."""
    return _assemble(job, ClipCache(cache_root), clip_keys, OutputCache(cache_root), None)


def _cached_clip(cache: ClipCache, key: str, sentence_id: str) -> Clip:
    clip = cache.get(key)
    if clip is None:
        raise AudioError(f"The clip of sentence '{sentence_id}' left the cache ({cache.root}) "
                         "during the build; is another process clearing it? Build again.")
    return clip


def _section_of(book: Book, sentence_id: str | None) -> Section | None:
    """The section that holds the sentence ``sentence_id`` (None if none does)."""
    return next((section for section in book.sections
                 if any(sentence.id == sentence_id for sentence in section.sentences)), None)
