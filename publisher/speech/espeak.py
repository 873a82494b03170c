"""eSpeak NG: a formant synthesizer, offline, for languages without a neural voice.

It speaks about a hundred languages, intelligibly in many and robotically in
all, so it is never chosen by default: ``--engine espeak`` asks for it. The
library and its data come from the PyPI package ``espeakng-loader`` (no
system eSpeak is used), driven through ``ctypes`` in synchronous mode: the
samples of one sentence arrive through a callback before ``espeak_Synth``
returns. eSpeak NG draws no randomness: the same text gives the same samples.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError, EngineUnavailable
from ..model import Clip

__all__ = ["EspeakEngine", "espeak_languages"]

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE_PARAMETER = 1
_NORMAL_WPM = 175  # eSpeak NG's default speed, words per minute
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)

# One eSpeak NG per process: its state (voice, rate, callback) is global.
_LIBRARY_LOCK = threading.Lock()
_library: dict[str, Any] = {}


def _data_path() -> Path:
    try:
        # here: a broken install is EngineUnavailable for this engine, not an import
        # error of every module that lists voices (speech, choose)
        import espeakng_loader
    except ImportError as exc:
        raise EngineUnavailable("The espeak engine needs the Python package "
                                "'espeakng-loader': pip install espeakng-loader") from exc
    return Path(espeakng_loader.get_data_path())


def espeak_languages() -> frozenset[str]:
    """The language codes eSpeak NG has a voice for here (``de``, ``en-gb``, ``pt-br``)."""
    try:
        lang_dir = _data_path() / "lang"
    except EngineUnavailable:
        return frozenset()
    return frozenset(p.name.lower() for p in lang_dir.rglob("*") if p.is_file())


def espeak_language_for(language: str) -> str | None:
    """The eSpeak NG language for a BCP 47 tag, or None: ``de-AT`` -> ``de``."""
    known = espeak_languages()
    tag = language.lower().replace("_", "-")
    primary = tag.split("-")[0]
    for candidate in (tag, primary, {"zh": "cmn", "fr": "fr-fr"}.get(primary, "")):
        if candidate and candidate in known:
            return candidate
    return None


def _load() -> tuple[Any, int]:
    """The library, initialized once; and its sample rate."""
    if "lib" not in _library:
        import espeakng_loader  # here: see _data_path (its voices were found before this)

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                     str(_data_path().parent).encode(), 0)
        if rate <= 0:
            raise EngineUnavailable(f"eSpeak NG could not start (error {rate}); reinstall "
                                    "it: pip install --force-reinstall espeakng-loader")
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                     ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        _library.update(lib=lib, rate=rate)
    return _library["lib"], int(_library["rate"])


class EspeakEngine:
    """eSpeak NG's voice for ``language`` (a BCP 47 tag or an eSpeak code)."""

    name = "espeak"

    def __init__(self, language: str = "en", rate: float = 1.0, **_ignored: Any) -> None:
        if not 0.5 <= rate <= 2.0:
            raise ConfigError([f"rate {rate:g}: choose a rate from 0.5 to 2.0 (1.0 is normal)."])
        found = espeak_language_for(language)
        if found is None:
            raise ConfigError([f"eSpeak NG has no voice for the language '{language}'."])
        self.language = found
        self.rate = rate

    @property
    def voice_name(self) -> str:
        return f"eSpeak NG {self.language}"

    @property
    def identity(self) -> dict[str, str]:
        return {"engine": self.name, "voice": self.language, "rate": f"{self.rate:g}",
                "espeakng_loader": _version("espeakng-loader")}

    def synthesize(self, text: str) -> Clip:
        with _LIBRARY_LOCK:
            _, sample_rate = _load()
            pcm = _in_fork(lambda: self._speak(text))
        pcm = pcm or bytes(2 * round(sample_rate * 0.3))
        return Clip(pcm=pcm, sample_rate_hz=sample_rate)

    def _speak(self, text: str) -> bytes:
        """The sentence's samples (in a forked child, see :func:`_in_fork`)."""
        lib, _ = _load()
        chunks: list[bytes] = []

        def collect(wav: Any, count: int, _events: Any) -> int:
            if count > 0 and wav:
                chunks.append(ctypes.string_at(wav, count * 2))
            return 0  # go on

        callback = _CALLBACK(collect)
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(self.language.encode()) != 0:
            raise EngineUnavailable(f"eSpeak NG could not load its '{self.language}' voice.")
        lib.espeak_SetParameter(_RATE_PARAMETER, round(_NORMAL_WPM * self.rate), 0)
        data = text.encode("utf-8")
        error = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                 None, None)
        if error != 0:
            raise EngineUnavailable(f"eSpeak NG failed to speak (error {error}).")
        return b"".join(chunks)


def _in_fork(speak: Callable[[], bytes]) -> bytes:
    """Run ``speak`` in a forked child and return its bytes.

    eSpeak NG keeps state from one sentence to the next that neither its
    random seed nor terminating and initializing it again resets (measured: the
    same sentence three times gives three different sample streams, the same
    three in every new process). A child forked from a process that has only
    initialized it speaks each sentence from that same state: the same text
    gives the same samples whatever came before. A fork costs milliseconds.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: speak, hand the samples over, leave without cleanup
        status = 0
        try:
            os.close(read_end)
            try:
                payload = b"ok" + speak()
            except Exception as exc:  # said by the parent
                payload = b"er" + str(exc).encode()
                status = 1
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view):]
        finally:
            os._exit(status)
    os.close(write_end)
    pieces = []
    with os.fdopen(read_end, "rb") as reader:
        while block := reader.read(1 << 16):
            pieces.append(block)
    os.waitpid(pid, 0)
    payload = b"".join(pieces)
    if not payload.startswith(b"ok"):
        message = payload[2:].decode(errors="replace") or "its process died"
        raise EngineUnavailable(f"eSpeak NG failed to speak: {message}")
    return payload[2:]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
