"""Measuring audio: ITU-R BS.1770 loudness, 4x-oversampled true peak, RMS and noise floor.

A signal or a file is metered in bounded blocks (~1 MB), never held whole:
:func:`measure_levels` decodes a file with PyAV, :func:`measure_array` meters
an array. The K-weighting filters are pyloudnorm's; the gating, the
true-peak interpolation and the streaming are ours (see :class:`_Meter`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import AudioError
from .libs import av, iirfilter, ndimage, np, scipy_signal
from .profiles import AudioProfile
from .timeline import CHUNK, ms_of

__all__ = ["TP_PAD", "Levels", "loudness_of", "measure_array", "measure_levels",
           "oversampled_envelope"]


@dataclass(frozen=True, slots=True)
class Levels:
    """Loudness figures of a signal or file.

    ``rms_dbfs`` is unweighted, over the whole signal (a full-scale sine is
    -3.01 dB), as ACX measures it; ``noise_floor_dbfs`` is the RMS of the
    quietest 500 ms, the way the ACX check plug-in finds it.
    """

    integrated_lufs: float
    true_peak_dbtp: float
    rms_dbfs: float
    noise_floor_dbfs: float
    num_samples: int
    sample_rate_hz: int

    @property
    def duration_ms(self) -> int:
        return ms_of(self.num_samples, self.sample_rate_hz)


def measure_levels(path: Path) -> Levels:
    """Decode an audio file (MP3, WAV, FLAC ...) and measure its :class:`Levels`.

    Decoded with PyAV, which honours the MP3 gapless header as libsndfile
    does; libsndfile is not used here because reading it block by block seeks
    on every block, and mpg123 then decodes some frames without their bit
    reservoir.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{path} has no audio stream to measure.")
            stream = container.streams.audio[0]
            meter = _Meter(stream.codec_context.sample_rate)
            # fltp: one float32 row per channel whatever the file stores.
            resampler = av.AudioResampler(format="fltp")
            # MP3 frames are 576 or 1152 samples: meter them in bigger blocks.
            pending: list[np.ndarray] = []
            size = 0
            for frame in container.decode(stream):
                for converted in resampler.resample(frame):
                    pending.append(converted.to_ndarray().T)
                    size += converted.samples
                if size >= CHUNK:
                    meter.feed(np.concatenate(pending))
                    pending, size = [], 0
            if pending:
                meter.feed(np.concatenate(pending))
    except av.FFmpegError as exc:
        raise AudioError(f"Could not decode {path}: {exc}") from exc
    return meter.levels()



def _db(power_or_amplitude: float, *, power: bool) -> float:
    if power_or_amplitude <= 0.0:
        return -math.inf
    return (10.0 if power else 20.0) * math.log10(power_or_amplitude)


#: Oversampling of the true-peak meter (ITU-R BS.1770-4 Annex 2).
_TP_OVERSAMPLING = 4
#: Input samples of context each side for resample_poly's filter (10 taps per phase).
TP_PAD = 16


@functools.cache
def _oversampling_filter() -> np.ndarray:
    """The interpolation filter resample_poly would design for 4x: 81 taps, Kaiser 5."""
    half = 10 * _TP_OVERSAMPLING
    taps = scipy_signal.firwin(2 * half + 1, 1.0 / _TP_OVERSAMPLING, window=("kaiser", 5.0))
    return (taps * _TP_OVERSAMPLING).astype(np.float32)


def oversampled_envelope(padded: np.ndarray, pad: int) -> np.ndarray:
    """Per-sample max |signal| over the 4 oversampled points from each sample to the next.

    ``padded`` carries ``pad`` samples of context on each side; the result is
    for the samples between them. The same values as upsampling with
    ``upfirdn(taps, x, 4)`` and taking each sample's 4 points, computed as 4
    short filters (one per phase, 20-21 taps), which is about twice as fast:
    point ``p`` after sample ``n`` is ``sum(taps[p + 4k] * x[n + 10 - k])``.
    """
    taps = _oversampling_filter()
    x = padded.astype(np.float32, copy=False)
    count = len(padded) - 2 * pad
    half = len(taps) // 2 // _TP_OVERSAMPLING  # input samples each side of a point: 10
    # The samples themselves are points of the signal: never report less.
    env = np.abs(x[pad:pad + count])
    around = x[pad - half - 1:pad + count + half + 1]  # all the context any point needs
    for phase in range(_TP_OVERSAMPLING):
        weights = taps[phase::_TP_OVERSAMPLING][::-1]
        origin = len(weights) - 1 - half - len(weights) // 2
        points = ndimage.correlate1d(around, weights, origin=origin, mode="constant")
        np.maximum(env, np.abs(points[half + 1:half + 1 + count]), out=env)
    return env


class _TruePeak:
    """Streaming 4x-oversampled true peak of one channel."""

    def __init__(self) -> None:
        self.context = np.zeros(TP_PAD, dtype=np.float32)  # metered samples (or silence)
        self.pending = np.zeros(0, dtype=np.float32)  # samples still waiting for context
        self.peak = 0.0

    def feed(self, block: np.ndarray) -> None:
        self.pending = np.concatenate([self.pending, block.astype(np.float32, copy=False)])
        ready = len(self.pending) - TP_PAD
        if ready <= 0:
            return
        data = np.concatenate([self.context, self.pending])
        self.peak = max(self.peak, float(oversampled_envelope(data, TP_PAD).max()))
        self.context = data[TP_PAD + ready - TP_PAD:TP_PAD + ready]
        self.pending = self.pending[ready:]

    def finish(self) -> float:
        """The true peak, metering the last samples against silence after the end."""
        if len(self.pending):
            data = np.concatenate([self.context, self.pending, np.zeros(TP_PAD, np.float32)])
            self.peak = max(self.peak, float(oversampled_envelope(data, TP_PAD).max()))
            self.pending = self.pending[:0]
        return self.peak


class _Meter:
    """Streaming BS.1770 loudness, true peak, RMS and noise floor of a signal.

    Fed in blocks of any size, so a file is measured without holding it. The
    K-weighting filters are pyloudnorm's, applied with carried filter state
    (its ``Meter`` wants the whole signal at once, in several float64 copies:
    gigabytes for a long section); the gating is BS.1770-4's: 400 ms blocks
    with 75 % overlap, -70 LUFS absolute and -10 LU relative gates. The tests
    check it against ``pyloudnorm.Meter``.
    """

    def __init__(self, sample_rate_hz: int, *, true_peak: bool = True) -> None:
        self.rate = sample_rate_hz
        self.true_peak = true_peak
        self.hop = max(1, round(sample_rate_hz * 0.1))  # 100 ms: a quarter gating block
        self.sos = _k_weighting(sample_rate_hz)
        self.states: dict[int, np.ndarray] = {}
        self.peaks: dict[int, _TruePeak] = {}
        self.k_energy: list[np.ndarray] = []  # K-weighted energy per 100 ms
        self.energy: list[np.ndarray] = []  # unweighted energy per 100 ms
        self.rest_k = np.zeros(0)
        self.rest = np.zeros(0)
        self.total_energy = 0.0
        self.num_samples = 0

    def feed(self, block: np.ndarray) -> None:
        """Meter the next samples: shape (n,) for mono or (n, channels)."""
        channels = block.reshape(len(block), -1)
        k2 = np.zeros(len(block))
        x2 = np.zeros(len(block))
        # BS.1770 sums the channels' weighted energies (weight 1 for L, R, C).
        for c in range(channels.shape[1]):
            x = channels[:, c].astype(np.float64)
            if self.true_peak:
                self.peaks.setdefault(c, _TruePeak()).feed(channels[:, c])
            k = self._weigh(x, c)
            k2 += k * k
            x2 += x * x
        self.num_samples += len(block)
        self.total_energy += float(x2.sum()) / channels.shape[1]
        self.rest_k = self._sub_blocks(np.concatenate([self.rest_k, k2]), self.k_energy)
        self.rest = self._sub_blocks(np.concatenate([self.rest, x2]), self.energy)

    def _weigh(self, x: np.ndarray, channel: int) -> np.ndarray:
        zi = self.states.get(channel, np.zeros((2, 2)))
        weighted, self.states[channel] = scipy_signal.sosfilt(self.sos, x, zi=zi)
        return weighted

    def _sub_blocks(self, energy: np.ndarray, into: list[np.ndarray]) -> np.ndarray:
        whole = len(energy) // self.hop * self.hop
        if whole:
            into.append(energy[:whole].reshape(-1, self.hop).sum(axis=1))
        return energy[whole:]

    def levels(self) -> Levels:
        peak = max((p.finish() for p in self.peaks.values()), default=0.0)
        if not self.true_peak:
            peak = math.nan
        k_energy = np.concatenate(self.k_energy) if self.k_energy else np.zeros(0)
        energy = np.concatenate(self.energy) if self.energy else np.zeros(0)
        rms_power = self.total_energy / self.num_samples if self.num_samples else 0.0
        return Levels(
            integrated_lufs=_gated_loudness(k_energy, self.hop),
            true_peak_dbtp=_db(peak, power=False),
            rms_dbfs=_db(rms_power, power=True),
            noise_floor_dbfs=_noise_floor(energy, self.hop),
            num_samples=self.num_samples,
            sample_rate_hz=self.rate,
        )


@functools.cache
def _k_weighting(sample_rate_hz: int) -> np.ndarray:
    """pyloudnorm's two K-weighting filters (shelf, then high-pass) as one cascade.

    One ``sosfilt`` pass runs both, 2.4 times as fast as two ``lfilter`` passes;
    each section's passband gain is folded into its numerator.
    """
    filters = [iirfilter.IIRfilter(4.0, 1 / math.sqrt(2), 1500.0, sample_rate_hz,
                                    "high_shelf"),
               iirfilter.IIRfilter(0.0, 0.5, 38.0, sample_rate_hz, "high_pass")]
    return np.array([np.concatenate([f.passband_gain * np.asarray(f.b), np.asarray(f.a)])
                     for f in filters])


def _gated_loudness(k_energy: np.ndarray, hop: int) -> float:
    """BS.1770-4 gated integrated loudness from K-weighted energies per 100 ms."""
    if len(k_energy) < 4:
        return -math.inf
    blocks = (k_energy[:-3] + k_energy[1:-2] + k_energy[2:-1] + k_energy[3:]) / (4 * hop)
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10.0 * np.log10(blocks)
    above_absolute = blocks[loudness >= -70.0]
    if not len(above_absolute):
        return -math.inf
    relative_gate = -0.691 + 10.0 * math.log10(float(above_absolute.mean())) - 10.0
    gated = blocks[(loudness > relative_gate) & (loudness > -70.0)]
    if not len(gated):
        return -math.inf
    return -0.691 + 10.0 * math.log10(float(gated.mean()))


def _noise_floor(energy: np.ndarray, hop: int) -> float:
    """RMS in dBFS of the quietest 500 ms (five 100 ms steps)."""
    if len(energy) < 5:
        return _db(float(energy.sum()) / max(1, len(energy) * hop), power=True)
    windows = np.convolve(energy, np.ones(5), mode="valid") / (5 * hop)
    return _db(float(windows.min()), power=True)


def measure_array(x: np.ndarray, sample_rate_hz: int, *, true_peak: bool = True) -> Levels:
    """The :class:`Levels` of the mono signal ``x`` (``true_peak=False``: NaN, and faster)."""
    meter = _Meter(sample_rate_hz, true_peak=true_peak)
    for start in range(0, len(x), CHUNK):
        meter.feed(x[start:start + CHUNK])
    return meter.levels()


def loudness_of(levels: Levels, profile: AudioProfile) -> float:
    """The figure of ``levels`` that ``profile``'s loudness target is in (LUFS or RMS dBFS)."""
    return levels.rms_dbfs if profile.loudness_measure == "rms" else levels.integrated_lufs

