"""The orchestrator: the only module that knows the order of the stages.

    source.read_manuscript -> config.load_meta -> parse.parse_book      (load_book)
    -> script.script_book -> cover.make_cover
    -> narrate.narrate_book (synthesis: local workers, or the cluster's)
    -> epub.write_epub -> cover, ONIX -> transcripts, feed, M4B, manifests, site
    -> record.make_record (build.json, last: it lists every other file)

Everything is gathered first and written last (as MkDocs' ``build()``), into a
temporary folder beside output/<slug>/ that is swapped in only when every file
is complete: an interrupted or failed build never leaves a half-written book,
and the clip cache (written as clips are made) keeps what was already
synthesized. Stages do not import each other: each gets what it needs from here.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from . import catalog, claims, epub, stamp
from .config import load_meta
from .cover import SYSTEM_FONTS, keep_cover, make_cover, write_cover
from .errors import OutputError, PublisherError, error_context
from .layout import (
    EPUB_AUDIO_DIR,
    RECORD_NAME,
    book_file,
    lock_path,
    old_prefix,
    staging_prefix,
)
from .model import Book, Publication
from .options import (
    BuildOptions,
    BuildResult,
    RecordingReporter,
    Reporter,
    book_voice_choices,
    default_workers,
    passage_speaks,
    voice_warnings,
)
from .parse import parse_book
from .record import load_record, make_record
from .script import script_book
from .source import read_manuscript

log = logging.getLogger(__name__)


def _listening_writers(preview: bool = False) -> tuple[Callable[[Publication], object], ...]:
    """Writers run after the audio and the EPUB, in this order (one line per format).

    Imported here, not at the top: a text-only build needs none of them.
    ``preview``: only what the listening site shows. The whole-book files
    (audiobook, packages, DAISY zips) re-read or re-encode every section on
    each save, and a preview never shows them: ``publisher build`` makes them.
    """
    # deferred: a text-only build needs none of these writers (see above)
    from . import daisy, feeds, manifests, site, transcripts
    from .audio import m4b

    if preview:
        return (transcripts.write_transcripts, feeds.write_feed, site.write_site)
    return (
        transcripts.write_transcripts,
        feeds.write_feed,
        m4b.write_m4b,
        manifests.write_readium_audiobook,
        manifests.write_lpf,
        daisy.write_daisy,
        site.write_site,  # last: it links the M4B and feed only if they exist
    )


def _feed_warnings(pub: Publication) -> list[str]:
    """What the feed lacks to be published (a base URL, a cover)."""
    from . import feeds  # as the writers above: a text-only build needs no feed

    return feeds.feed_warnings(pub)


def source_date(meta_date: str = "") -> _dt.datetime:
    """The build's timestamp: SOURCE_DATE_EPOCH, else the book's date, else a fixed one.

    Never the clock: the same source must give the same bytes.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc)
        except (ValueError, OverflowError, OSError) as exc:
            raise PublisherError(f"SOURCE_DATE_EPOCH is {epoch!r}; expected a whole number "
                                 "of seconds since 1970-01-01 (e.g. 1700000000).") from exc
    if meta_date:
        parts = [int(p) for p in meta_date.split("-")] + [1, 1]
        return _dt.datetime(parts[0], parts[1], parts[2], tzinfo=_dt.timezone.utc)
    return _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc)


def load_book(source: Path, options: BuildOptions) -> Book:
    """Read, validate and parse ``source`` (no files written)."""
    with error_context(path=source):
        manuscript = read_manuscript(source)
        overrides: dict[str, object] = {"engine": options.engine, "voice": options.voice,
                                        "rate": options.rate, "base_url": options.base_url,
                                        "daisy": (list(options.daisy) or False)
                                        if options.daisy is not None else None}
        meta, warnings = load_meta(manuscript, overrides)
        book = parse_book(manuscript, meta, assets=options.assets)
    if warnings:
        book = dataclasses.replace(book, warnings=tuple(warnings) + book.warnings)
    return book


def build(source: Path, options: BuildOptions, reporter: Reporter | None = None, *,
          executor: Any = None, synthesis: Any = None, preview: bool = False) -> BuildResult:
    """Build every output for one source file into ``options.out_root / slug``.

    ``executor``: a Dask Client (publisher.cluster.open_executor) to synthesize on.
    ``synthesis``: where clips are made (a :class:`publisher.synthesize.Synthesis`;
    ``publisher preview`` keeps its voice loaded in one). ``preview``: what the
    listening site needs and nothing more (no audiobook, packages, DAISY zips
    or EPUB audio), and no up-to-date stamp, so the next ``publisher build``
    makes the whole book; the sections it encodes are drafts (once, fast and
    unchecked: :func:`publisher.narrate.narrate_book`), which ``publisher
    build`` never takes for its checked files.
    """
    reporter = reporter or Reporter()
    started = time.monotonic()
    cache_dir = options.cache_root
    if not options.force and not preview:
        up_to_date = _up_to_date(source, options, cache_dir, reporter)
        if up_to_date is not None:
            return up_to_date
    stamp.forget(source, options, cache_dir)
    reporter = RecordingReporter(reporter)  # its warnings are said again when up to date
    reporter.stage(f"Reading {source}")
    book = load_book(source, options)
    for warning in book.warnings:
        reporter.warn(warning)
    if options.strict and book.warnings:
        raise PublisherError(f"{source}: {len(book.warnings)} warning(s) and --strict is set; "
                             "fix them or build without --strict.")
    if options.audio:
        # Before anything is written: a book no installed voice can read fails
        # here, with its choices, and never gets a voice of another language.
        for warning in voice_warnings(book, options):
            reporter.warn(warning)
    slug = book.meta.slug
    out_root = options.out_root
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_root}: cannot create the output folder ({exc.strerror}).") \
            from exc
    lock = FileLock(str(lock_path(out_root, slug)))
    try:
        lock.acquire(timeout=0.5)
    except Timeout as exc:
        raise OutputError(f"another build of '{slug}' is writing to {out_root / slug}; "
                          "wait for it to finish, then run this build again.") from exc
    try:
        _remove_stale(out_root, slug)
        staging = Path(tempfile.mkdtemp(prefix=staging_prefix(slug), dir=out_root))
        try:
            record, stats = _write_outputs(book, staging, options, reporter, executor,
                                           synthesis, preview)
            stats["build_seconds"] = round(time.monotonic() - started, 3)
            final = out_root / slug
            staging.chmod(0o755)  # mkdtemp makes it private; the book is for sharing
            _swap_in(staging, final)
            catalog.update_catalog(out_root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        # The lock file stays: deleting it could let two later builds lock
        # different files of the same name.
        lock.release()
    # A text-only build never adds the cache folder itself (see _write_outputs).
    keeps_cache = options.audio or options.cache_dir is not None or cache_dir.is_dir()
    if keeps_cache and not stats.get("fell_back") and not preview:
        stamp.write(source, options, cache_dir, final, hashed=_inputs(source, book),
                    statted=_statted(source, book, options), absent=_absent(source, book),
                    stats={**{k: v for k, v in stats.items() if k.startswith("clips_")},
                           "warnings": list(reporter.warnings)},
                    voices=book_voice_choices(book, options) if options.audio else None)
    files = tuple(sorted(p for p in final.rglob("*") if p.is_file()))
    return BuildResult(slug=slug, out_dir=final, files=files, warnings=book.warnings,
                       record=record, stats=stats, book=book,
                       inputs=tuple(_inputs(source, book)) + (
                           (source.with_suffix(".pls"),) if book.meta.lexicon is None else ()))


def _up_to_date(source: Path, options: BuildOptions, cache_dir: Path,
                reporter: Reporter) -> BuildResult | None:
    """The last build's result when nothing it was made from has changed (else None)."""
    found = stamp.check(source, options, cache_dir)
    if found is None:
        return None
    out_dir = Path(found["out_dir"])
    record = load_record(out_dir / RECORD_NAME)
    # Named as a full build names it (relative when --out is).
    if (options.out_root / record.slug).resolve() == out_dir:
        out_dir = options.out_root / record.slug
    warnings = record.warnings
    for warning in found.get("stats", {}).get("warnings", warnings):
        reporter.warn(str(warning))
    stats: dict[str, object] = {"up_to_date": True, "build_seconds": 0.0}
    if "clips_synthesized" in found.get("stats", {}):
        distinct = int(found["stats"]["clips_synthesized"]) + int(
            found["stats"].get("clips_from_cache", 0))
        stats.update(clips_synthesized=0, clips_from_cache=distinct)
    files = tuple(sorted(p for p in out_dir.rglob("*") if p.is_file()))
    return BuildResult(slug=record.slug, out_dir=out_dir, files=files,
                       warnings=warnings, record=record.to_dict(), stats=stats)


def _inputs(source: Path, book: Book) -> list[Path]:
    """Every file the build read: the source, its images, cover and lexicon."""
    paths = [source, *(image.source for image in book.images)]
    base = source.parent
    for extra in (book.meta.cover, book.meta.lexicon):
        if extra is not None:
            paths.append(extra if extra.is_absolute() else base / extra)
    return paths


def _absent(source: Path, book: Book) -> list[Path]:
    """Files the build looked for and did not find: their arrival changes the book."""
    absent = [Path(p) for p in SYSTEM_FONTS if not Path(p).exists()]
    if book.meta.lexicon is None:
        absent.append(source.with_suffix(".pls"))
    return absent


def _statted(source: Path, book: Book, options: BuildOptions) -> list[Path]:
    """Large inputs checked by size and time, not read: fonts a generated cover may be
    drawn with, and a voice given as a file (``--voice`` or ``voice:``) with its config."""
    paths = [Path(p) for p in SYSTEM_FONTS if Path(p).exists()]
    voice = options.voice or book.meta.voice
    if voice and voice.endswith(".onnx"):
        model = Path(voice) if Path(voice).is_absolute() else Path.cwd() / voice
        paths += [p for p in (model, model.with_name(model.name + ".json")) if p.exists()]
    return paths


def _write_outputs(book: Book, staging: Path, options: BuildOptions, reporter: Reporter,
                   executor: Any = None, synthesis: Any = None, preview: bool = False,
                   ) -> tuple[dict[str, object], dict[str, object]]:
    """Gather the script, cover and audio, then write every output into ``staging``."""
    meta = book.meta
    modified = source_date(meta.date)
    cache_dir = options.cache_root
    # Drawing the cover is a fifth of a small text-only build: it is cached
    # beside the clips (a text-only build never adds that folder itself).
    use_cache = options.audio or options.cache_dir is not None or cache_dir.is_dir()

    # Gather. The script first (the lexicon is loaded and applied once, here);
    # the cover before the audio, whose tags carry it.
    script = script_book(book, speaks=passage_speaks(book, options))
    cover = make_cover(meta, book.source.parent if book.source else Path.cwd(),
                       cache_dir=cache_dir if use_cache else None)
    audio = None
    if options.audio:
        # Imported here, not at the top: a text-only build needs neither (start-up time).
        from . import cluster, narrate

        if synthesis is None and executor is not None:
            synthesis = cluster.cluster_synthesis(executor, spare_core=default_workers() > 1)
        audio = narrate.narrate_book(book, script, staging, options, reporter, cover=cover,
                                     synthesis=synthesis, draft=preview)

    # Write. The EPUB first: it packs the EPUB profile's audio, which then goes.
    reporter.stage("Writing the EPUB")
    epub_path = staging / book_file(meta.slug, "epub")
    # A preview's EPUB is text-only: packing every section's audio into it again
    # on each save would cost more than the edit (publisher build makes it whole).
    epub_audio = audio if options.overlays and not preview else None
    plan = claims.planned() if options.check else None
    facts = epub.write_epub(book, epub_path, modified=modified, audio=epub_audio,
                            pls=script.pls, cover=cover, verification=plan)
    verification = None
    if plan is not None:
        # The file checked is the file shipped: it already carries the claim it
        # is checked for; a failure rewrites it without one (publisher.claims).
        reporter.stage(f"Checking the EPUB with {plan.tools()}")
        verification = claims.verify(epub_path, plan)
        if not verification.passed:
            facts = epub.write_epub(book, epub_path, modified=modified, audio=epub_audio,
                                    pls=script.pls, cover=cover, verification=verification)
    shutil.rmtree(staging / EPUB_AUDIO_DIR, ignore_errors=True)

    pub = Publication(book=book, out_dir=staging, audio=audio.sections if audio else (),
                      modified=modified, narrator=audio.narrator if audio else "",
                      accessibility=facts, cover=cover, base_url=meta.base_url,
                      cache_dir=cache_dir if audio else None,
                      narrators=audio.narrators if audio else ())
    write_cover(pub)
    if use_cache:  # only now: until synthesis is over, the cache holds nothing but clips
        keep_cover(meta, cover, cache_dir)
    catalog.write_onix(pub)
    if audio is not None:
        # Listening outputs: each reads the finished section MP3s.
        reporter.stage("Writing transcripts, chapters and the podcast feed")
        for writer in _listening_writers(preview):
            writer(pub)
        for warning in _feed_warnings(pub):
            reporter.warn(warning)

    # Last, the record: it lists (with their hashes) every file written above.
    record = make_record(book, script, audio, modified=modified, epub_path=epub_path,
                         media_overlays=epub_audio is not None, facts=facts,
                         catalog=catalog.catalog_record(pub), folder=staging,
                         check=verification.record() if verification is not None else None)
    record.write(staging)
    stats: dict[str, object] = {}
    if audio is not None:
        stats.update(clips_synthesized=audio.clips_synthesized,
                     clips_from_cache=audio.clips_from_cache)
        if audio.fell_back:
            stats["fell_back"] = True
    return record.to_dict(), stats


def _remove_stale(out_root: Path, slug: str) -> None:
    """Remove what a killed build left behind; we hold the lock, so none is live."""
    final = out_root / slug
    previous = sorted(out_root.glob(f"{old_prefix(slug)}*"))
    if not final.exists() and previous:
        # Killed between the two renames of a swap: the old output is the good one.
        os.replace(previous[-1], final)
    for stale in sorted(out_root.glob(f"{staging_prefix(slug)}*")) + sorted(
            out_root.glob(f"{old_prefix(slug)}*")):
        shutil.rmtree(stale, ignore_errors=True)


def _swap_in(staging: Path, final: Path) -> None:
    """Replace ``final`` by ``staging`` with renames, so readers never see a mix."""
    old = None
    if final.exists():
        old = final.with_name(f"{old_prefix(final.name)}{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    try:
        os.replace(staging, final)
    except OSError:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
