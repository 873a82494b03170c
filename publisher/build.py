"""The orchestrator: the only module that knows the order of the stages.

    read -> metadata -> parse -> synthesize -> assemble audio -> write outputs

Everything is gathered first and written last, into a temporary folder beside
output/<slug>/ that is swapped in only when every file is complete: an
interrupted or failed build never leaves a half-written book, and the clip
cache (written as clips are made) keeps what was already synthesized.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from . import catalog, epub, stamp
from .cache import file_sha256
from .config import load_meta
from .cover import keep_cover, make_cover, write_cover
from .errors import OutputError, PublisherError
from .model import Book, Publication
from .parse import parse_book
from .source import read_manuscript

log = logging.getLogger(__name__)


def _listening_writers() -> tuple[Callable[[Publication], object], ...]:
    """Writers run after the audio and the EPUB, in this order (one line per format).

    Imported here, not at the top: a text-only build needs none of them.
    """
    from . import audiobook, feeds, manifests, site, transcripts

    return (
        transcripts.write_transcripts,
        feeds.write_feed,
        audiobook.write_m4b,
        manifests.write_readium_audiobook,
        manifests.write_lpf,
        site.write_site,  # last: it links the M4B and feed only if they exist
    )


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """Settings for one build; None means 'from the front matter, else the default'."""

    out_root: Path = Path("output")
    audio: bool = True
    overlays: bool = True
    engine: str | None = None
    voice: str | None = None
    rate: float | None = None
    audio_profile: str = "podcast"
    epub_audio_profile: str = "compact"
    cache_dir: Path | None = None
    base_url: str | None = None
    strict: bool = False
    workers: int = 0
    fallback: str | None = None
    #: Build even when the outputs are up to date (see publisher.stamp).
    force: bool = False
    #: Extra engine keyword arguments (tests inject a fake engine's settings).
    engine_options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BuildResult:
    slug: str
    out_dir: Path
    files: tuple[Path, ...]
    warnings: tuple[str, ...]
    record: dict[str, object]
    #: Facts about this run, not the book (cache use, time): never in build.json.
    stats: dict[str, object]


class Reporter:
    """Where a build reports progress; the CLI gives a rich one, tests a silent one."""

    def stage(self, name: str) -> None:
        log.info("%s", name)

    def warn(self, message: str) -> None:
        log.warning("%s", message)

    def start_sentences(self, total: int, label: str) -> None:
        pass

    def sentence_done(self, audio_ms: float, cached: bool) -> None:
        pass

    def end_sentences(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Recording(Reporter):
    """A reporter that passes everything on and keeps the warnings."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self.warnings: list[str] = []

    def stage(self, name: str) -> None:
        self.inner.stage(name)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.inner.warn(message)

    def start_sentences(self, total: int, label: str) -> None:
        self.inner.start_sentences(total, label)

    def sentence_done(self, audio_ms: float, cached: bool) -> None:
        self.inner.sentence_done(audio_ms, cached)

    def end_sentences(self) -> None:
        self.inner.end_sentences()

    def close(self) -> None:
        self.inner.close()


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
    manuscript = read_manuscript(source)
    overrides: dict[str, object] = {"engine": options.engine, "voice": options.voice,
                                    "rate": options.rate, "base_url": options.base_url}
    meta, warnings = load_meta(manuscript, overrides)
    book = parse_book(manuscript, meta)
    if warnings:
        import dataclasses

        book = dataclasses.replace(book, warnings=tuple(warnings) + book.warnings)
    return book


def build(source: Path, options: BuildOptions, reporter: Reporter | None = None, *,
          executor: Any = None) -> BuildResult:
    """Build every output for one source file into ``options.out_root / slug``.

    ``executor``: a Dask Client (publisher.cluster.open_executor) to synthesize on.
    """
    reporter = reporter or Reporter()
    started = time.monotonic()
    cache_dir = options.cache_dir or options.out_root / ".cache"
    if not options.force:
        up_to_date = _up_to_date(source, options, cache_dir, reporter)
        if up_to_date is not None:
            return up_to_date
    stamp.forget(source, options, cache_dir)
    reporter = _Recording(reporter)  # its warnings are said again when up to date
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
        from .narrate import voice_warnings

        for warning in voice_warnings(book, options):
            reporter.warn(warning)
    slug = book.meta.slug
    out_root = options.out_root
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_root}: cannot create the output folder ({exc.strerror}).") \
            from exc
    lock = FileLock(str(out_root / f".{slug}.lock"))
    try:
        lock.acquire(timeout=0.5)
    except Timeout as exc:
        raise OutputError(f"another build of '{slug}' is writing to {out_root / slug}; "
                          "wait for it to finish, then run this build again.") from exc
    try:
        _remove_stale(out_root, slug)
        staging = Path(tempfile.mkdtemp(prefix=f".{slug}.building-", dir=out_root))
        try:
            record, stats = _write_outputs(book, staging, options, reporter, executor)
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
    if keeps_cache and not stats.get("fell_back"):
        stamp.write(source, options, cache_dir, final, hashed=_inputs(source, book),
                    statted=_statted(source, book, options), absent=_absent(source, book),
                    stats={**{k: v for k, v in stats.items() if k.startswith("clips_")},
                           "warnings": list(reporter.warnings)})
    files = tuple(sorted(p for p in final.rglob("*") if p.is_file()))
    return BuildResult(slug=slug, out_dir=final, files=files, warnings=book.warnings,
                       record=record, stats=stats)


def _up_to_date(source: Path, options: BuildOptions, cache_dir: Path,
                reporter: Reporter) -> BuildResult | None:
    """The last build's result when nothing it was made from has changed (else None)."""
    found = stamp.check(source, options, cache_dir)
    if found is None:
        return None
    out_dir = Path(found["out_dir"])
    record = json.loads((out_dir / "build.json").read_text(encoding="utf-8"))
    # Named as a full build names it (relative when --out is).
    if (options.out_root / str(record["slug"])).resolve() == out_dir:
        out_dir = options.out_root / str(record["slug"])
    warnings = tuple(str(w) for w in record.get("warnings", ()))
    for warning in found.get("stats", {}).get("warnings", warnings):
        reporter.warn(str(warning))
    stats: dict[str, object] = {"up_to_date": True, "build_seconds": 0.0}
    if "clips_synthesized" in found.get("stats", {}):
        distinct = int(found["stats"]["clips_synthesized"]) + int(
            found["stats"].get("clips_from_cache", 0))
        stats.update(clips_synthesized=0, clips_from_cache=distinct)
    files = tuple(sorted(p for p in out_dir.rglob("*") if p.is_file()))
    return BuildResult(slug=str(record["slug"]), out_dir=out_dir, files=files,
                       warnings=warnings, record=record, stats=stats)


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
    from .cover import SYSTEM_FONTS

    absent = [Path(p) for p in SYSTEM_FONTS if not Path(p).exists()]
    if book.meta.lexicon is None:
        absent.append(source.with_suffix(".pls"))
    return absent


def _statted(source: Path, book: Book, options: BuildOptions) -> list[Path]:
    """Large inputs checked by size and time, not read: fonts a generated cover may be
    drawn with, and a voice given as a file (``--voice`` or ``voice:``) with its config."""
    from .cover import SYSTEM_FONTS

    paths = [Path(p) for p in SYSTEM_FONTS if Path(p).exists()]
    voice = options.voice or book.meta.voice
    if voice and voice.endswith(".onnx"):
        model = Path(voice) if Path(voice).is_absolute() else Path.cwd() / voice
        paths += [p for p in (model, model.with_name(model.name + ".json")) if p.exists()]
    return paths


def _write_outputs(book: Book, staging: Path, options: BuildOptions, reporter: Reporter,
                   executor: Any = None) -> tuple[dict[str, object], dict[str, object]]:
    meta = book.meta
    modified = source_date(meta.date)
    slug = meta.slug
    narration = None
    pls = None
    audio_record: dict[str, object] = {}
    stats: dict[str, object] = {}

    cache_dir = options.cache_dir or options.out_root / ".cache"
    # Drawing the cover is a fifth of a small text-only build: it is cached
    # beside the clips (a text-only build never adds that folder itself).
    use_cache = options.audio or options.cache_dir is not None or cache_dir.is_dir()
    cover = make_cover(meta, book.source.parent if book.source else Path.cwd(),
                       cache_dir=cache_dir if use_cache else None)
    if options.audio:
        from . import narrate

        result = narrate.narrate_book(book, staging, options, reporter, cover=cover,
                                      executor=executor)
        narration = result.narration if options.overlays else None
        pls = result.pls
        audio_record = result.record
        stats.update(result.stats)
    else:
        from .lexicon import load_lexicon

        lexicon = load_lexicon(meta.pronunciations, meta.lexicon)
        pls = lexicon.to_pls(meta.language) if lexicon.entries else None

    reporter.stage("Writing the EPUB")
    epub_path = staging / f"{slug}.epub"
    facts = epub.write_epub(book, epub_path, modified=modified, narration=narration, pls=pls,
                            cover=cover)
    if options.audio:
        from .narrate import EPUB_AUDIO_DIR

        shutil.rmtree(staging / EPUB_AUDIO_DIR, ignore_errors=True)

    pub = Publication(book=book, out_dir=staging,
                      audio=result.sections if options.audio else (), modified=modified,
                      narrator=result.narration.narrator if options.audio else "",
                      accessibility=facts, cover=cover, base_url=meta.base_url,
                      cache_dir=cache_dir if options.audio else None)
    write_cover(pub)
    if use_cache:  # only now: until synthesis is over, the cache holds nothing but clips
        keep_cover(meta, cover, cache_dir)
    catalog.write_onix(pub)
    if options.audio:
        # Listening outputs: each reads the finished section MP3s.
        reporter.stage("Writing transcripts, chapters and the podcast feed")
        from . import feeds

        for writer in _listening_writers():
            writer(pub)
        for warning in feeds.feed_warnings(pub):
            reporter.warn(warning)

    record: dict[str, object] = {
        "slug": slug,
        "title": meta.title,
        "identifier": meta.identifier,
        "language": meta.language,
        "modified": modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "epub": {"file": epub_path.name, "bytes": epub_path.stat().st_size,
                 "media_overlays": narration is not None,
                 "accessibility": {"accessMode": list(facts.access_modes),
                                   "accessModeSufficient": list(facts.access_mode_sufficient),
                                   "accessibilityFeature": list(facts.features),
                                   "accessibilityHazard": list(facts.hazards)}},
        "sections": [
            {"id": s.id, "number": s.number, "title": s.title, "role": s.role,
             "document": epub.document_href(s), "sentences": len(s.sentences)}
            for s in book.sections
        ],
        "warnings": list(book.warnings),
    }
    record.update(audio_record)
    sections_audio = audio_record.get("audio_sections")
    if isinstance(sections_audio, list):
        by_id = {entry["id"]: entry for entry in sections_audio}
        for entry in record["sections"]:  # type: ignore[attr-defined]
            entry.update(by_id.get(entry["id"], {}))
        record.pop("audio_sections")
    record["catalog"] = catalog.catalog_record(pub)
    record["files"] = _file_list(staging)
    (staging / "build.json").write_text(
        json.dumps(record, indent=2, ensure_ascii=False, sort_keys=False) + "\n",
        encoding="utf-8")
    return record, stats


def _remove_stale(out_root: Path, slug: str) -> None:
    """Remove what a killed build left behind; we hold the lock, so none is live."""
    final = out_root / slug
    previous = sorted(out_root.glob(f".{slug}.old-*"))
    if not final.exists() and previous:
        # Killed between the two renames of a swap: the old output is the good one.
        os.replace(previous[-1], final)
    for stale in sorted(out_root.glob(f".{slug}.building-*")) + sorted(
            out_root.glob(f".{slug}.old-*")):
        shutil.rmtree(stale, ignore_errors=True)


def _file_list(folder: Path) -> list[dict[str, object]]:
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        files.append({"path": path.relative_to(folder).as_posix(),
                      "bytes": path.stat().st_size, "sha256": file_sha256(path)})
    return files


def _swap_in(staging: Path, final: Path) -> None:
    """Replace ``final`` by ``staging`` with renames, so readers never see a mix."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
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
