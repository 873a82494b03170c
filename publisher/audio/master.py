"""Mastering a section: its clips placed on one array, brought to loudness, peaks limited.

    clips --resample (PyAV)--> placed at exact sample offsets (see timeline)
          --> gain to the target --> 4x-oversampled true-peak look-ahead limiter
          --> room tone bed

Memory: a section is held once, as one float32 array (30 minutes at 44.1 kHz
is 320 MB) that gain, limiter and room tone change in place, chunk by chunk
(~1 MB of temporaries). :class:`MasterFile` hands a master to another
process as a file, read back chunk by chunk, so no process holds a second copy.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from pathlib import Path

from ..errors import AudioError, OutputError
from ..model import Clip
from .libs import av, ndimage, np, scipy_signal
from .loudness import TP_PAD, loudness_of, measure_array, oversampled_envelope
from .profiles import AudioProfile
from .timeline import CHUNK, samples_of

__all__ = ["MasterFile", "add_room_tone", "gain_and_limit", "normalize", "place_clips"]

logger = logging.getLogger(__name__)

#: Declicking fade at both ends of every clip.
_FADE_MS = 3.0
#: Limiter: hold and smoothing radius of the gain curve.
_LIMITER_RADIUS_MS = 10.0
#: The share of a make-up gain step that a limited signal's loudness gains (a guess;
#: see normalize).
_MAKE_UP_SLOPE = 0.8
#: Never raise a clip by more than this: louder would only lift its noise.
_MAX_GAIN_DB = 40.0
_ROOM_TONE_SEED = 1770


def _resample(clip: Clip, sample_rate_hz: int, length: int) -> np.ndarray:
    """The clip as float32 at ``sample_rate_hz``, exactly ``length`` samples long."""
    pcm = np.frombuffer(clip.pcm, dtype="<i2", count=clip.num_samples)
    if clip.sample_rate_hz == sample_rate_hz:
        return pcm.astype(np.float32) / 32768.0
    if not len(pcm):
        return np.zeros(length, dtype=np.float32)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate_hz)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = clip.sample_rate_hz
    frames = resampler.resample(frame) + resampler.resample(None)
    out = np.zeros(length, dtype=np.float32)
    if frames:
        data = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])[:length]
        out[:len(data)] = data
    return out


def _declick(x: np.ndarray, fade: int) -> None:
    """Raised-cosine fade in and out, so joins to silence cannot click."""
    n = min(fade, len(x) // 2)
    if n:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, n + 2)[1:-1])).astype(np.float32)
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]


def place_clips(items: Sequence[tuple[str, Clip, int]], starts: Sequence[int],
                lengths: Sequence[int], total: int, rate: int, section_id: str) -> np.ndarray:
    """The section as one float32 array: each clip resampled and put at its offset."""
    signal = np.zeros(total, dtype=np.float32)
    fade = samples_of(_FADE_MS, rate)
    for (_, clip, _), start, length in zip(items, starts, lengths, strict=True):
        try:
            part = _resample(clip, rate, length)
        except av.FFmpegError as exc:
            raise AudioError(f"Section {section_id!r}: could not resample a clip from "
                             f"{clip.sample_rate_hz} Hz to {rate} Hz: {exc}") from exc
        _declick(part, fade)
        signal[start:start + length] = part
    return signal


class MasterFile:
    """A mastered section kept in a raw float32 file, read back chunk by chunk.

    How a helper process gets the master: the file is written once (to the
    page cache, mostly) and read a chunk at a time as it is encoded, so no
    process holds a second copy of a long section. Slicing reads from the
    file; :meth:`copy` reads all of it (only a correction after encoding
    needs the whole signal in memory).
    """

    def __init__(self, path: Path, length: int) -> None:
        self.path = path
        self.length = length

    @classmethod
    def write(cls, signal: np.ndarray, beside: Path) -> MasterFile:
        """Write ``signal`` to a hidden file beside ``beside``; OutputError if it cannot be."""
        path = beside.with_name(f".{beside.stem}.master.f32")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            signal.astype(np.float32, copy=False).tofile(path)
        except OSError as exc:
            with contextlib.suppress(OSError):  # half written, or never begun
                path.unlink(missing_ok=True)
            raise OutputError(f"Could not write {path}: {exc}. Check that the folder is "
                              "writable and the disk has space.") from exc
        return cls(path, len(signal))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: slice) -> np.ndarray:
        start, stop, step = index.indices(self.length)
        if step != 1:
            raise ValueError("a master file is read in contiguous slices")
        count = max(0, stop - start)
        return np.fromfile(self.path, dtype=np.float32, count=count, offset=4 * start)

    def copy(self) -> np.ndarray:
        """All of the master, read into memory."""
        return self[:]

    def remove(self) -> None:
        """Delete the file (nothing if it is already gone)."""
        self.path.unlink(missing_ok=True)


def normalize(signal: np.ndarray, measured: float, profile: AudioProfile, aim: float,
              ceiling_db: float, section_id: str) -> float:
    """Gain ``signal`` (measured at ``measured`` dB) in place to ``aim``, peaks limited.

    Returns the gain applied in dB. Limiting takes a little loudness off the
    peaks, so the shortfall is measured, made up and limited again; it
    converges in two or three rounds.
    """
    rate = profile.sample_rate_hz
    if not math.isfinite(measured):
        logger.warning("Section %s is silent: its audio is left at its level.", section_id)
        return 0.0
    step_db = min(aim - measured, _MAX_GAIN_DB)
    if step_db < aim - measured:
        logger.warning("Section %s is very quiet (%.1f dB): raising it by %.0f dB only.",
                       section_id, measured, _MAX_GAIN_DB)
    gain_db = 0.0
    # How much of a make-up step the loudness gains once the limiter holds the
    # peaks: measured on the previous step, guessed for the first one (on
    # speech it is 0.7-0.8; the first step also pays for peaks that were over
    # the ceiling before any gain, so it cannot be measured there).
    slope = _MAKE_UP_SLOPE
    achieved = math.nan
    for _ in range(4):
        limited = gain_and_limit(signal, 10 ** (step_db / 20), ceiling_db, rate, out=signal)
        gain_db += step_db
        if not limited:
            break  # plain gain hits the aim exactly
        before, achieved = achieved, loudness_of(
            measure_array(signal, rate, true_peak=False), profile)
        if math.isfinite(before) and step_db:
            slope = min(1.0, max(0.3, (achieved - before) / step_db))
        if abs(aim - achieved) <= 0.05:
            break
        step_db = min((aim - achieved) / slope, _MAX_GAIN_DB - gain_db)
    return gain_db


def _limiter_gain(padded: np.ndarray, pad: int, ceiling: float, radius: int) -> np.ndarray:
    """Gain curve for the samples between ``pad`` samples of context each side.

    Each sample needs gain ``r = min(1, ceiling / true-peak envelope)``. Taking
    the minimum of ``r`` over +-radius and then averaging over +-radius gives a
    smooth curve (linear ramps of 2 * radius, i.e. look-ahead) that is never
    above ``r`` at any sample, so no peak gets through.
    """
    env = oversampled_envelope(padded, TP_PAD)
    with np.errstate(divide="ignore"):
        need = np.minimum(1.0, ceiling / np.maximum(env, 1e-12)).astype(np.float32)
    held = ndimage.minimum_filter1d(need, size=2 * radius + 1, mode="nearest")
    smooth = ndimage.uniform_filter1d(held, size=2 * radius + 1, mode="nearest")
    inner = pad - TP_PAD
    return smooth[inner:len(smooth) - inner]


def gain_and_limit(x: np.ndarray, gain: float, ceiling_db: float, rate: int, *,
                   out: np.ndarray) -> bool:
    """Write ``x * gain`` into ``out`` with true peaks held under ``ceiling_db``.

    Works chunk by chunk; ``out`` may be ``x`` itself (the context a chunk
    reads to its left is then already limited, which only ever asks for less
    reduction, never lets a peak through). Returns whether anything was limited.
    """
    ceiling = 10 ** (ceiling_db / 20)
    radius = samples_of(_LIMITER_RADIUS_MS, rate)
    pad = 2 * radius + TP_PAD  # the gain at a sample depends on this much context
    limited = False
    for start in range(0, len(x), CHUNK):
        stop = min(start + CHUNK, len(x))
        lo, hi = max(0, start - pad), min(len(x), stop + pad)
        padded = np.zeros(stop - start + 2 * pad, dtype=np.float32)
        padded[pad - (start - lo):pad - (start - lo) + (hi - lo)] = x[lo:hi]
        padded *= gain
        core = padded[pad:pad + stop - start]
        curve = _limiter_gain(padded, pad, ceiling, radius)
        if float(curve.min(initial=1.0)) < 1.0:
            limited = True
            core *= curve
        out[start:stop] = core
    return limited


def add_room_tone(x: np.ndarray, profile: AudioProfile) -> None:
    """Add the profile's quiet, deterministic room-tone bed under the whole signal."""
    if profile.room_tone_dbfs is None:
        return
    rng = np.random.default_rng(_ROOM_TONE_SEED)
    # One-pole low-pass (~1.5 kHz): a soft room hiss, not a bright white one.
    a = math.exp(-2 * math.pi * 1500.0 / profile.sample_rate_hz)
    # Output RMS of the filter for unit white noise is sqrt((1 - a) / (1 + a)).
    scale = 10 ** (profile.room_tone_dbfs / 20) / math.sqrt((1 - a) / (1 + a))
    state = np.zeros(1)
    for start in range(0, len(x), CHUNK):
        stop = min(start + CHUNK, len(x))
        noise = rng.standard_normal(stop - start)
        bed, state = scipy_signal.lfilter([1 - a], [1, -a], noise, zi=state)
        x[start:stop] += (bed * scale).astype(np.float32)

