"""What a build is asked for and what it gives back: options, result, progress reporter.

Every stage below build.py may take these values; none of them imports the
orchestrator to get them (which is what made the import loop
build -> narrate -> cluster -> build).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import NARRATOR
from .model import Book, Voicing
from .speech import EngineSpec
from .speech.base import fake_pace
from .speech.choose import VoiceChoice, VoiceLanguageError, choose_voice

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
                          _narrator_voice(book, options))
    return _spec(book, options, choice, choice.engine)


def _narrator_voice(book: Book, options: BuildOptions) -> str | None:
    """The narrator's voice asked for: --voice, else ``voice``, else ``voices: narrator``."""
    meta = book.meta
    return options.voice or meta.voice or dict(meta.voices).get(NARRATOR) or None


def _spec(book: Book, options: BuildOptions, choice: VoiceChoice,
          narrator_engine: str) -> EngineSpec:
    """The recipe of ``choice``'s engine; the options' engine settings go to the
    narrator's engine only (tests give a fake engine's)."""
    name = choice.engine
    engine_options = dict(options.engine_options) if name == narrator_engine else {}
    if name in ("piper", "kokoro") and "model_cache" not in engine_options:
        # The prepared voice model is kept beside the clips (see speech.piper, speech.kokoro).
        engine_options["model_cache"] = str(options.cache_root / "voices")
    if name == "fake" and "pace" not in engine_options and (pace := fake_pace()):
        # Read here, in the build process (see speech.base.FAKE_PACE_ENV).
        engine_options["pace"] = pace
    return EngineSpec(name=name, voice=choice.voice,
                      rate=options.rate if options.rate is not None else book.meta.rate,
                      lang=choice.language, options=tuple(sorted(engine_options.items())))


def passage_choice(language: str, engine: str | None) -> VoiceChoice | None:
    """The voice of a passage in ``language`` in a book narrated by ``engine``; None if
    no voice speaks it (it is then announced, never read in a wrong voice).

    The book's engine when it speaks the language (gTTS, eSpeak NG: any), else
    the best installed offline voice of the language. The fake engine stands in
    for that offline voice (the same languages, the voice's name), so tests of
    timings see what a real build does.
    """
    try:
        best: VoiceChoice | None = choose_voice(language)
    except VoiceLanguageError:
        best = None
    if engine == "fake":
        return VoiceChoice("fake", best.voice, language) if best is not None else None
    if engine in ("gtts", "espeak"):
        try:
            return choose_voice(language, engine)
        except VoiceLanguageError:
            return best
    return best


def passage_speaks(book: Book, options: BuildOptions) -> Callable[[str], bool]:
    """``speaks(language)`` for :func:`publisher.script.script_book` in this build."""
    engine = options.engine or book.meta.engine or None
    return lambda language: passage_choice(language, engine) is not None


def voice_choices(book_language: str, engine: str | None, voice: str | None,
                  passages: Iterable[str]) -> dict[str, str | None]:
    """The voice each language of a book gets: the narrator's (``choose_voice`` of the
    book's language with ``engine`` and ``voice`` asked) and each passage language's
    (:func:`passage_choice`), as 'engine voice', None for a passage no voice speaks
    (announced), or the error for a book no voice can narrate.

    What the up-to-date check compares (publisher.stamp): installing or removing a
    voice changes the book when it changes one of these.
    """
    chosen: dict[str, str | None] = {}
    try:
        narrator = choose_voice(book_language, engine, voice)
        chosen[book_language] = f"{narrator.engine} {narrator.voice}"
    except VoiceLanguageError as exc:
        chosen[book_language] = f"error: {exc}"
    for language in sorted(set(passages) - {book_language}):
        choice = passage_choice(language, engine)
        chosen[language] = f"{choice.engine} {choice.voice}" if choice is not None else None
    return chosen


def book_voice_choices(book: Book, options: BuildOptions) -> dict[str, Any]:
    """What :func:`voice_choices` is asked for this build, and what it answers."""
    language, engine = book.meta.language, options.engine or book.meta.engine or None
    voice = _narrator_voice(book, options)
    passages = sorted({s.language for s in book.sentences if s.language})
    return {"asked": [language, engine, voice, passages],
            "chosen": voice_choices(language, engine, voice, passages)}


def voicing_specs(book: Book, options: BuildOptions, voicings: Iterable[Voicing],
                  name: str | None = None) -> dict[Voicing, EngineSpec]:
    """The engine recipe of each voicing (a role of ``voices``, a passage's language).

    A sentence in another language is said by that language's voice
    (:func:`passage_choice`), whatever its role; a role by its voice of ``voices``
    (the fake engine stands in for it under its name). ``name``: the engine asked
    for instead of the options' (a fallback). Raises VoiceLanguageError when a
    voice cannot speak here.
    """
    meta = book.meta
    narrator = engine_spec(book, options, name=name)
    asked = name or options.engine or meta.engine or None
    roles = dict(meta.voices)
    specs: dict[Voicing, EngineSpec] = {}
    for voicing in sorted(set(voicings), key=lambda v: (v.role, v.language, v.skipped)):
        if voicing.language:
            choice = passage_choice(voicing.language, asked)
            if choice is None:
                raise VoiceLanguageError(
                    f"No installed voice speaks '{voicing.language}'; its passages are "
                    "announced, not read (this is a bug if you see it).")
        elif voicing.role:
            voice = roles[voicing.role]
            if asked in ("gtts", "espeak"):  # one voice per language: a fallback's
                choice = VoiceChoice(narrator.name, narrator.voice, meta.language)
            elif asked == "fake":
                choice = VoiceChoice("fake", voice, meta.language)
            else:
                choice = choose_voice(meta.language, None, voice)
        else:
            specs[voicing] = narrator
            continue
        specs[voicing] = _spec(book, options, choice, narrator.name)
    return specs


def voice_warnings(book: Book, options: BuildOptions) -> tuple[str, ...]:
    """Check the book's voice before anything is written; the warnings to say about it.

    Raises VoiceLanguageError as :func:`engine_spec` does.
    """
    meta = book.meta
    warnings = choose_voice(meta.language, options.engine or meta.engine or None,
                            _narrator_voice(book, options)).warnings
    if options.engine != "fake":
        for role, voice in meta.voices:
            warnings += tuple(f"'voices' {role}: {w}"
                              for w in choose_voice(meta.language, None, voice).warnings)
    return warnings


def default_workers() -> int:
    """Synthesis processes when ``--workers`` is 0: one per core, at most two."""
    return max(1, min(2, os.cpu_count() or 1))
