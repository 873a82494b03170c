"""What a build is asked for and what it gives back: options, result, progress reporter.

Every stage below build.py may take these values; none of them imports the
orchestrator to get them (which is what made the import loop
build -> narrate -> cluster -> build).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .model import Book
from .speech import EngineSpec
from .speech.choose import choose_voice

log = logging.getLogger(__name__)


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
    #: DAISY editions ("202", "3"; empty for none); None: the front matter's, else both.
    daisy: tuple[str, ...] | None = None
    #: Build even when the outputs are up to date (see publisher.stamp).
    force: bool = False
    #: Run EPUBCheck and DAISY Ace on the finished EPUB; claim conformance only if both
    #: pass (see publisher.claims).
    check: bool = False
    #: A site's files: root-absolute images (/img/x.png) are also looked for here.
    assets: Path | None = None
    #: Extra engine keyword arguments (tests inject a fake engine's settings).
    engine_options: dict[str, object] = field(default_factory=dict)

    @property
    def cache_root(self) -> Path:
        """The clip cache folder: ``--cache-dir``, else ``OUTDIR/.cache``."""
        return self.cache_dir or self.out_root / ".cache"


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What one build made: the book's folder, its files, warnings and build record."""

    slug: str
    out_dir: Path
    files: tuple[Path, ...]
    warnings: tuple[str, ...]
    record: dict[str, object]
    #: Facts about this run, not the book (cache use, time): never in build.json.
    stats: dict[str, object]
    #: The book as parsed (None when it was up to date and not parsed again).
    book: Book | None = field(default=None, compare=False)
    #: Every file the book was made from, or would be if it appeared (the source,
    #: images, cover, lexicon): what ``publisher preview`` watches.
    inputs: tuple[Path, ...] = ()


class Reporter:
    """Where a build reports progress; the CLI gives a rich one, tests a silent one."""

    def stage(self, name: str) -> None:
        """A stage of the build begins (``name`` says which, for a person)."""
        log.info("%s", name)

    def warn(self, message: str) -> None:
        """A problem that does not stop the build (``--strict`` makes the book's fail it)."""
        log.warning("%s", message)

    def start_sentences(self, total: int, label: str) -> None:
        """Synthesis of ``total`` sentences begins; ``label`` names it in progress lines."""

    def sentence_done(self, audio_ms: float, cached: bool) -> None:
        """One sentence's clip is ready (``cached``: it came from the clip cache)."""

    def end_sentences(self) -> None:
        """Synthesis is over (also when it failed)."""

    def close(self) -> None:
        """The build is over: release the terminal."""


class RecordingReporter(Reporter):
    """A reporter that passes everything on and keeps the warnings."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self.warnings: list[str] = []

    def stage(self, name: str) -> None:
        """Pass the stage on."""
        self.inner.stage(name)

    def warn(self, message: str) -> None:
        """Keep the warning, and pass it on."""
        self.warnings.append(message)
        self.inner.warn(message)

    def start_sentences(self, total: int, label: str) -> None:
        """Pass it on."""
        self.inner.start_sentences(total, label)

    def sentence_done(self, audio_ms: float, cached: bool) -> None:
        """Pass it on."""
        self.inner.sentence_done(audio_ms, cached)

    def end_sentences(self) -> None:
        """Pass it on."""
        self.inner.end_sentences()

    def close(self) -> None:
        """Pass it on."""
        self.inner.close()


def engine_spec(book: Book, options: BuildOptions, name: str | None = None) -> EngineSpec:
    """The recipe of the speech engine for ``book``: ``name``, else the options' engine,
    else the front matter's, else the best installed voice of the book's language
    (speech.choose); voice and rate likewise.

    Raises VoiceLanguageError when no installed voice speaks the book's language
    or the voice asked for speaks another.
    """
    meta = book.meta
    choice = choose_voice(meta.language, name or options.engine or meta.engine or None,
                          options.voice or meta.voice or None)
    name = choice.engine
    engine_options = dict(options.engine_options)
    if name in ("piper", "kokoro") and "model_cache" not in engine_options:
        # The prepared voice model is kept beside the clips (see speech.piper, speech.kokoro).
        engine_options["model_cache"] = str(options.cache_root / "voices")
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
    """Synthesis processes when ``--workers`` is 0: one per core, at most two."""
    return max(1, min(2, os.cpu_count() or 1))
