"""Which voice narrates a book: the book's own language, never another.

The voices we know, their languages and their measured quality are data, in
``voices.json`` beside this module (see the README's voices table for how
they were measured). With no engine or voice asked for, a book gets the
installed voice of its language with the lowest measured round-trip word
error rate (a voice of the book's exact region first: an ``en-GB`` book gets
the British voice). eSpeak NG is never chosen by default.

When no installed voice speaks the book's language, or the voice asked for
speaks another language, :func:`choose_voice` raises :class:`VoiceLanguageError`
before anything is synthesized. English (or any language) in another region
than the book's only warns.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PublisherError

__all__ = ["VoiceChoice", "VoiceLanguageError", "VoiceEntry", "choose_voice", "voice_table",
           "installed"]

_TABLE = Path(__file__).with_name("voices.json")


class VoiceLanguageError(PublisherError):
    """No voice of the book's language, or a voice of another language was asked for."""


@dataclass(frozen=True, slots=True)
class VoiceEntry:
    """One voice of ``voices.json``."""

    engine: str
    voice: str
    language: str
    description: str
    licence: str
    size_mb: float
    wer: float | None
    rtf: float | None
    default: bool
    needs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VoiceChoice:
    """The engine and voice for a book, and the warnings to say about them."""

    engine: str
    voice: str | None
    language: str
    warnings: tuple[str, ...] = ()


@functools.cache
def voice_table() -> tuple[VoiceEntry, ...]:
    """Every voice in ``voices.json``, in its order."""
    data = json.loads(_TABLE.read_text(encoding="utf-8"))
    return tuple(VoiceEntry(engine=v["engine"], voice=v["voice"], language=v["language"],
                            description=v["description"], licence=v["licence"],
                            size_mb=float(v["size_mb"]), wer=v.get("wer"), rtf=v.get("rtf"),
                            default=bool(v.get("default", True)),
                            needs=tuple(v.get("needs", ())))
                 for v in data["voices"])


def installed(entry: VoiceEntry) -> bool:
    """Whether the Python packages the voice needs are installed (nothing is loaded)."""
    return all(importlib.util.find_spec(module) is not None for module in entry.needs)


def _primary(tag: str) -> str:
    return tag.replace("_", "-").split("-")[0].lower()


def _region(tag: str) -> str:
    parts = tag.replace("_", "-").split("-")
    return next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), "")


def _no_voice(language: str) -> VoiceLanguageError:
    return VoiceLanguageError(
        f"The book's language is '{language}', and no offline voice for it is installed "
        "(see 'publisher voices'), so it is not narrated rather than read in a wrong voice. "
        "Choose one: --engine gtts (Google's voices, online), --no-audio (a text-only "
        f"book), --engine piper --voice PATH.onnx (a Piper voice for '{language}', with its "
        ".onnx.json beside it), or --engine espeak (eSpeak NG: offline, but robotic).")


def _refuse(language: str, voice: str, voice_language: str) -> VoiceLanguageError:
    return VoiceLanguageError(
        f"The voice '{voice}' speaks '{voice_language}', and the book's language is "
        f"'{language}': a book is only narrated by a voice of its language. Leave --voice "
        "out to get the best installed voice for the book, or see 'publisher voices'.")


def _region_warning(language: str, voice: str, voice_language: str) -> tuple[str, ...]:
    book_region, voice_region = _region(language), _region(voice_language)
    if book_region and voice_region and book_region != voice_region:
        return (f"The book's language is '{language}' and its voice '{voice}' speaks "
                f"'{voice_language}': the accent will be of another region.",)
    return ()


def choose_voice(language: str, engine: str | None = None,
                 voice: str | None = None) -> VoiceChoice:
    """The engine and voice that narrate a book in ``language`` (a BCP 47 tag).

    ``engine`` and ``voice`` are what the user asked for (None: choose).
    Raises VoiceLanguageError when no installed voice speaks the language,
    or the asked-for voice speaks another.
    """
    if engine in ("fake",):
        return VoiceChoice(engine, voice, language)
    if engine == "gtts":
        if voice and _primary(voice) != _primary(language):
            raise _refuse(language, voice, voice)
        return VoiceChoice(engine, voice, language)
    if engine == "espeak":
        from .espeak import espeak_language_for  # deferred: ~50 ms, only for --engine espeak

        asked = voice or language
        found = espeak_language_for(asked)
        if found is None:
            raise VoiceLanguageError(
                f"eSpeak NG has no voice for '{asked}'. Its languages are in "
                "espeakng-loader's espeak-ng-data/lang folder; or choose --engine gtts "
                "(online) or --no-audio.")
        if _primary(found) != _primary(language) and not (
                _primary(found) == "cmn" and _primary(language) == "zh"):
            raise _refuse(language, found, found)
        return VoiceChoice(engine, found, language)
    if engine in (None, "piper") and voice and voice.endswith(".onnx"):
        engine = "piper"  # a voice file is a Piper voice
        voice_language = piper_voice_language(Path(voice))
        if voice_language and _primary(voice_language) != _primary(language):
            raise _refuse(language, voice, voice_language)
        return VoiceChoice(engine, voice, language,
                           _region_warning(language, voice, voice_language or language))
    table = voice_table()
    if voice:
        entry = next((e for e in table if e.voice == voice
                      and (engine is None or e.engine == engine)), None)
        if entry is None:
            return VoiceChoice(engine or "kokoro", voice, language)  # the engine says why
        if _primary(entry.language) != _primary(language):
            raise _refuse(language, voice, entry.language)
        return VoiceChoice(entry.engine, entry.voice, language,
                           _region_warning(language, voice, entry.language))
    candidates = [e for e in table if (e.engine == engine if engine else e.default)
                  and _primary(e.language) == _primary(language) and installed(e)]
    if not candidates:
        if engine and any(e.engine == engine for e in table) and any(
                _primary(e.language) == _primary(language) for e in table if installed(e)):
            raise VoiceLanguageError(
                f"The '{engine}' engine has no voice for the book's language '{language}'. "
                "Leave --engine out to get the best installed voice for it, or see "
                "'publisher voices'.")
        raise _no_voice(language)
    # A voice of the book's own region first, then the fewest measured errors.
    best = min(candidates, key=lambda e: (
        bool(_region(language)) and _region(e.language) != _region(language),
        e.wer if e.wer is not None else 1.0))
    return VoiceChoice(best.engine, best.voice, language,
                       _region_warning(language, best.voice, best.language))


def piper_voice_language(path: Path) -> str:
    """The language of a Piper voice from its ``.onnx.json`` ('' if it does not say)."""
    config_path = path.with_name(path.name + ".json")
    try:
        config: Any = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""  # the engine reports a missing or broken config
    language = config.get("language") if isinstance(config, dict) else None
    if isinstance(language, dict) and language.get("code"):
        return str(language["code"]).replace("_", "-")
    espeak = config.get("espeak") if isinstance(config, dict) else None
    if isinstance(espeak, dict) and espeak.get("voice"):
        return str(espeak["voice"])
    return ""
