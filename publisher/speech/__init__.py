"""Speech engines behind one small interface (:class:`~.base.Engine`).

    kokoro offline neural voices in several languages; voice = a Kokoro voice name
    piper  offline neural voice (fast drafts); voice = path to a Piper .onnx
    espeak eSpeak NG, offline and robotic, never a default; voice = a language code
    gtts   Google Translate, online; voice = a gTTS language code
    fake   speech-like tones for tests; no dependencies

Engine modules import their TTS library lazily, so ``import publisher.speech``
is cheap and a missing optional library only matters for the engine that needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import ConfigError
from .base import Engine

__all__ = [
    "ENGINES",
    "Engine",
    "EngineInfo",
    "EngineSpec",
    "VoiceInfo",
    "engine_names",
    "list_voices",
    "make_engine",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """A registered engine: how to make it and what to tell users about it."""

    name: str
    description: str
    #: Runs without a network: such an engine can finish a book (``--fallback``).
    offline: bool
    make: Callable[..., Engine]


# Each engine's module is imported when that engine is made (see the module docstring):
# the registry is read at every start-up (the CLI's --engine choices).
def _make_piper(voice: str | None, rate: float, lang: str, **kw: Any) -> Engine:
    from .piper import DEFAULT_VOICE_NAME, PiperEngine  # deferred: see above

    # The bundled voice can be named as well as left out.
    voice_path = None if voice in (None, "", DEFAULT_VOICE_NAME) else Path(voice)
    return PiperEngine(voice_path=voice_path, rate=rate, **kw)


def _make_gtts(voice: str | None, rate: float, lang: str, **kw: Any) -> Engine:
    from .gtts import GttsEngine  # deferred: gTTS and requests, ~0.2 s

    return GttsEngine(lang=voice or lang, rate=rate, **kw)


def _make_kokoro(voice: str | None, rate: float, lang: str, **kw: Any) -> Engine:
    from .kokoro import KokoroEngine  # deferred: see above

    return KokoroEngine(voice=voice, rate=rate, **kw)


def _make_espeak(voice: str | None, rate: float, lang: str, **kw: Any) -> Engine:
    from .espeak import EspeakEngine  # deferred: see above

    return EspeakEngine(language=voice or lang, rate=rate)


def _make_fake(voice: str | None, rate: float, lang: str, **kw: Any) -> Engine:
    from .fake import FakeEngine  # deferred: NumPy, ~0.2 s

    return FakeEngine(rate=rate, voice=voice, **kw)


ENGINES: dict[str, EngineInfo] = {
    info.name: info
    for info in (
        EngineInfo("kokoro", "Kokoro-82M neural voices, offline (default where it has "
                   "the book's language)", True, _make_kokoro),
        EngineInfo("piper", "Piper neural voices, offline, fast", True, _make_piper),
        EngineInfo("espeak", "eSpeak NG, offline, robotic (never a default)", True,
                   _make_espeak),
        EngineInfo("gtts", "Google Translate voices, online", False, _make_gtts),
        EngineInfo("fake", "speech-like test tones, instant (for tests)", True, _make_fake),
    )
}


def engine_names(*, offline: bool = False) -> tuple[str, ...]:
    """The registered engines' names (only those that run offline, with ``offline``):
    the one list the CLI's choices and the front matter's check are made from."""
    return tuple(name for name, info in ENGINES.items() if info.offline or not offline)


def make_engine(name: str, voice: str | None, rate: float, lang: str, **kw: Any) -> Engine:
    """Make the engine called ``name``.

    ``voice``: a Piper .onnx path, or a gTTS language code; None for the
    engine's default (Piper: the bundled voice; gTTS: ``lang``). ``lang`` is the
    book's language. Extra keyword arguments go to the engine's constructor
    (``threads=`` for Piper, ``tld=`` for gTTS ...). Raises ConfigError for an
    unknown engine name and EngineUnavailable when the engine cannot run here.
    """
    info = ENGINES.get(name)
    if info is None:
        raise ConfigError(
            [f"Unknown speech engine '{name}'. Use one of: {', '.join(sorted(ENGINES))}."]
        )
    return info.make(voice, rate, lang, **kw)


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """A picklable recipe for an engine, so worker processes can make their own.

    Calling it makes the engine: ``EngineSpec("piper", None, 1.0, "en")()``.
    ``options`` are extra constructor arguments as sorted (name, value) pairs.
    """

    name: str
    voice: str | None = None
    rate: float = 1.0
    lang: str = "en"
    options: tuple[tuple[str, Any], ...] = ()

    def __call__(self) -> Engine:
        """Make the engine this recipe describes."""
        return make_engine(self.name, self.voice, self.rate, self.lang, **dict(self.options))


class VoiceInfo(NamedTuple):
    """One line of ``publisher voices``."""

    engine: str
    name: str
    language: str
    description: str
    available: bool
    #: Measured round-trip word error rate (character error rate for Chinese), or None.
    wer: float | None = None
    #: CPU seconds per second of speech on one thread, or None.
    rtf: float | None = None
    size_mb: float | None = None
    licence: str = ""


def list_voices(language: str | None = None) -> list[VoiceInfo]:
    """Every voice we know of (of ``language``'s primary language if given).

    ``available`` means installed here: nothing is downloaded or loaded to
    tell. gTTS voices also need the network, which is not checked.
    """
    # deferred: the voice tables' module, ~6 ms of every start-up (the CLI imports speech)
    from .choose import installed, voice_table

    voices = [VoiceInfo(e.engine, e.voice, e.language, e.description, installed(e), e.wer,
                        e.rtf, e.size_mb, e.licence) for e in voice_table()]
    voices += _espeak_voices()
    voices += _gtts_voices()
    voices.append(VoiceInfo("fake", "fake", "any", "Speech-like test tones, not speech", True))
    if language:
        primary = language.replace("_", "-").split("-")[0].lower()
        voices = [v for v in voices if v.language == "any"
                  or v.language.split("-")[0].lower() == primary
                  or (primary == "zh" and v.language == "cmn")]
    return voices


def _espeak_voices() -> list[VoiceInfo]:
    from .espeak import espeak_languages  # deferred: ctypes and metadata, ~50 ms

    return [VoiceInfo("espeak", code, code, "eSpeak NG, robotic; only with --engine espeak",
                      True, None, None, 21.0, "GPL-3.0-or-later (eSpeak NG)")
            for code in sorted(espeak_languages())]


def _gtts_voices() -> list[VoiceInfo]:
    try:
        from gtts.lang import tts_langs  # deferred: gTTS takes ~0.15 s to import
    except ImportError:
        return []
    return [
        VoiceInfo("gtts", code, code, f"Google Translate {name}; online", True, None, None,
                  None, "Google's terms of service")
        for code, name in sorted(tts_langs().items())
    ]
