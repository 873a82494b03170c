"""Per-section audio: sentence clips in, one normalized, tagged MP3 and its timings out.

One call makes one file::

    clips --resample (PyAV)--> placed at exact sample offsets, with pauses, head and tail
          --measure (ITU-R BS.1770 K-weighting from pyloudnorm, or RMS for ACX)
          --> gain --> 4x-oversampled true-peak look-ahead limiter --> room tone bed
          --> MP3 (libmp3lame CBR via PyAV) --> ID3v2.3 tags (mutagen) --> decode and verify

Timeline of a file, in samples of the profile rate (``t_i`` = where clip ``i`` starts)::

    0        t_1              t_2              t_N              end_N         duration
    | head   | clip 1 | pause | clip 2 | pause | ... | clip N   | tail (room)  |
             [--- sentence 1 -)[--- sentence 2 -) ... [- sent. N -)

- The first sentence starts where its speech starts (after the head room tone),
  so a reading system that starts a chapter from its first ``<par>`` does not
  play silence first, and a transcript cue appears when the voice does.
- A sentence runs until the next one starts: its span includes the pause after
  it, so timings are contiguous (``end_i == start_{i+1}``) and non-decreasing.
- The last sentence ends where its clip ends; everything after it is the tail,
  so ``timings[-1].end_ms + extra["tail_ms"] == duration_ms`` exactly.
- Every boundary is one sample offset converted once to ms (rounded half up), so
  contiguity holds exactly in integer ms.
- The last item's ``pause_after_ms`` is the section-end pause: it becomes the
  tail, clamped to the profile's room-tone range (ACX: 1-5 s), and is then
  lengthened by less than one AAC frame (1024 samples) so that the file is a
  whole number of AAC frames, whose MP3 padding FFmpeg gets right (see
  :func:`_section_length`): the M4B audiobook is then made of sections encoded
  one by one and joined exactly, and an edit re-encodes only its section.

Memory: a section is held once, as one float32 array (30 minutes at 44.1 kHz
is 320 MB) that gain, limiter and room tone change in place; measuring,
limiting and decoding work in bounded chunks (~1 MB). Measured on a 32-minute
ACX section: 500 MB peak RSS, of which ~130 MB is the interpreter, libraries
and the caller's clips. Nothing here ever holds more than one section.

pydub is not used: placing clips into one preallocated numpy array at exact
sample offsets is linear in time and exact, whereas ``AudioSegment`` addition
copies the whole section for every clip, rounds silence to whole ms and works
in int16 (quantizing before the gain); its import also warns that no ffmpeg
binary is installed, and it needs ``audioop``, which Python 3.13 removed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import AudioError, ConfigError, OutputError
from .model import Clip, SectionAudio, Timing


class _Deferred:
    """A module imported on first use.

    numpy, SciPy and PyAV take ~0.4 s to import, and a rebuild whose section
    files all come from the encoded-audio cache never touches them.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value


np: Any = _Deferred("numpy")
av: Any = _Deferred("av")
soundfile: Any = _Deferred("soundfile")
_signal: Any = _Deferred("scipy.signal")
_ndimage: Any = _Deferred("scipy.ndimage")
_iirfilter: Any = _Deferred("pyloudnorm.iirfilter")


def preload() -> None:
    """Import the deferred libraries now (~0.7 s, mostly SciPy).

    Called while synthesis workers load their voice, so that the first
    section's assembly does not wait for the imports afterwards.
    """
    for module in (np, av, _signal, _ndimage, _iirfilter):
        importlib.import_module(module._name)
    importlib.import_module("mutagen.id3")  # write_tags

__all__ = [
    "AAC_FRAME_SAMPLES",
    "PAUSE_AFTER_MS",
    "PROFILES",
    "AudioProfile",
    "Levels",
    "SectionTags",
    "assemble_section",
    "assemble_section_files",
    "decode_duration_ms",
    "get_profile",
    "measure_levels",
    "measure_loudness",
    "pause_after",
    "preload",
    "write_tags",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True, slots=True)
class AudioProfile:
    """How a section's audio file is made: rate, bitrate, loudness, room tone.

    ``loudness_measure`` is ``"lufs"`` (ITU-R BS.1770 integrated, gated) or
    ``"rms"`` (unweighted RMS of the whole file, as ACX measures it);
    ``loudness_target_db`` is in that unit. ``peak_limit_dbtp`` is checked on the
    encoded file as a 4x-oversampled true peak, which is never below the
    sample peak, so it also satisfies sample-peak rules.
    """

    name: str
    sample_rate_hz: int
    bitrate_kbps: int
    loudness_measure: str
    loudness_target_db: float
    peak_limit_dbtp: float
    #: The limiter aims this far below the limit: MP3 encoding raises peaks.
    encode_margin_db: float
    #: How much quieter the MP3 decodes than its input, measured on Piper speech
    #: and on noise (LAME's quantizer rounds towards zero); aimed above to
    #: make up for it, so one encode usually lands on the target.
    codec_loss_db: float
    head_ms: int
    tail_min_ms: int
    tail_max_ms: int
    #: RMS level of the room-tone bed under the whole file; None = digital silence.
    room_tone_dbfs: float | None
    description: str


PROFILES: Mapping[str, AudioProfile] = MappingProxyType({
    # 22050 Hz, not 24000: it is the native rate of Piper voices (the default
    # engine), so their clips are used sample for sample with no resampling,
    # and 64 kbps at 22.05 kHz already keeps everything such a voice produces.
    # -19 LUFS is the mono equivalent of the -16 LUFS stereo podcast norm.
    "podcast": AudioProfile(
        name="podcast", sample_rate_hz=22050, bitrate_kbps=64,
        loudness_measure="lufs", loudness_target_db=-19.0,
        peak_limit_dbtp=-1.5, encode_margin_db=1.0, codec_loss_db=0.45,
        head_ms=750, tail_min_ms=1000, tail_max_ms=3000, room_tone_dbfs=None,
        description="podcast and download: mono MP3 64 kbps 22.05 kHz, -19 LUFS, -1.5 dBTP"),
    # ACX (Audible): 44.1 kHz CBR >= 192 kbps, RMS -23..-18 dB, peaks <= -3 dB,
    # noise floor <= -60 dB, 0.5-1 s room tone at the head and 1-5 s at the tail.
    # ACX QA flags absolute digital silence as unnatural, so a quiet noise bed
    # (-70 dBFS, well under the -60 dB floor) runs under the whole file: a bed
    # only in the gaps would sound gated, which ACX also rejects.
    "acx": AudioProfile(
        name="acx", sample_rate_hz=44100, bitrate_kbps=192,
        loudness_measure="rms", loudness_target_db=-20.0,
        peak_limit_dbtp=-3.0, encode_margin_db=0.5, codec_loss_db=0.3,
        head_ms=750, tail_min_ms=1000, tail_max_ms=5000, room_tone_dbfs=-70.0,
        description="ACX/Audible: mono MP3 192 kbps CBR 44.1 kHz, -20 dB RMS, -3 dB peak"),
    # Audio inside the EPUB: small, speech-only; 22.05 kHz for the same reason
    # as podcast. MPEG-2 Layer III at 32 kbps is ~14 MB per hour.
    "compact": AudioProfile(
        name="compact", sample_rate_hz=22050, bitrate_kbps=32,
        loudness_measure="lufs", loudness_target_db=-19.0,
        peak_limit_dbtp=-1.5, encode_margin_db=2.0, codec_loss_db=0.45,
        head_ms=750, tail_min_ms=1000, tail_max_ms=3000, room_tone_dbfs=None,
        description="inside the EPUB: mono MP3 32 kbps 22.05 kHz, -19 LUFS"),
})


def get_profile(name: str) -> AudioProfile:
    """Return the audio profile called ``name``; ConfigError listing the valid ones if none."""
    try:
        return PROFILES[name]
    except KeyError:
        valid = ", ".join(sorted(PROFILES))
        raise ConfigError(
            [f"Unknown audio profile {name!r}. Use one of: {valid}."]) from None


# --------------------------------------------------------------------------- pauses

#: Default silence after a sentence, by what it ends. ``sentence`` is a sentence
#: followed by another in the same block; the others name the block kind (see
#: model.Block) that the sentence ends; ``section`` ends the file (the tail).
PAUSE_AFTER_MS: Mapping[str, int] = MappingProxyType({
    "sentence": 350,
    "term": 450,
    "table-cell": 450,
    "list-item": 550,
    "paragraph": 700,
    "quote": 700,
    "definition": 700,
    "caption": 700,
    "image": 700,
    "code": 700,
    "footnote": 700,
    "heading": 900,
    "section": 2000,
})


def pause_after(kind: str) -> int:
    """Default pause in ms after a sentence that ends a ``kind`` (see PAUSE_AFTER_MS)."""
    try:
        return PAUSE_AFTER_MS[kind]
    except KeyError:
        known = ", ".join(sorted(PAUSE_AFTER_MS))
        raise ValueError(f"no default pause for {kind!r}; known kinds: {known}") from None


# --------------------------------------------------------------------------- tags


@dataclass(frozen=True, slots=True)
class SectionTags:
    """What the ID3 tags of a section file say.

    ``language`` is a BCP 47 tag (``en``, ``en-GB``) or an ISO 639-2 code; it is
    written as ISO 639-2 (``eng``). ``year`` is ``YYYY`` (a longer date is cut
    to its year). ``chapters`` are ``(title, start)`` where ``start`` is a time
    in ms from the start of the file, or a sentence id of this section (it then
    starts where that sentence starts).
    """

    title: str
    album: str
    artist: str = ""
    narrator: str = ""
    track_number: int = 0
    track_total: int = 0
    language: str = ""
    year: str = ""
    description: str = ""
    genre: str = "Audiobook"
    publisher: str = ""
    copyright: str = ""
    #: Cover art for APIC: JPEG (a PNG is recognised and labelled as such).
    cover_jpeg: bytes | None = field(default=None, repr=False)
    chapters: tuple[tuple[str, int | str], ...] = ()


def write_tags(path: Path, tags: SectionTags, *, duration_ms: int,
               timings: Sequence[Timing] = ()) -> None:
    """Replace the ID3 tags of the MP3 at ``path`` with ID3v2.3 tags from ``tags``.

    The author is TPE1 and TPE2 (album artist, which keeps a book's files
    together in players). The narrator is TCOM (composer), the audiobook
    community's convention (mp3tag's Audible sources, Audiobookshelf), and
    TXXX:NARRATOR for tools that look for it by name. Chapter frames (CHAP and
    a top-level, ordered CTOC) are written when ``tags.chapters`` is not empty:
    a chapter ends where the next starts, the last at ``duration_ms``, and a
    first chapter that starts at or before the first sentence starts at 0, so
    the chapters cover the file. Nothing time- or host-dependent (no encoder
    version, no date) is written: the same input gives the same bytes.
    """
    from mutagen import MutagenError
    from mutagen.id3 import (
        APIC,
        COMM,
        ID3,
        TALB,
        TCOM,
        TCON,
        TCOP,
        TDRC,
        TIT2,
        TLAN,
        TLEN,
        TPE1,
        TPE2,
        TPUB,
        TRCK,
        TXXX,
        PictureType,
    )

    frames: list[object] = [TIT2(encoding=3, text=tags.title),
                            TALB(encoding=3, text=tags.album),
                            TLEN(encoding=3, text=str(duration_ms))]
    if tags.genre:
        frames.append(TCON(encoding=3, text=tags.genre))
    if tags.artist:
        frames += [TPE1(encoding=3, text=tags.artist), TPE2(encoding=3, text=tags.artist)]
    if tags.narrator:
        frames += [TCOM(encoding=3, text=tags.narrator),
                   TXXX(encoding=3, desc="NARRATOR", text=tags.narrator)]
    if tags.track_number:
        total = f"/{tags.track_total}" if tags.track_total else ""
        frames.append(TRCK(encoding=3, text=f"{tags.track_number}{total}"))
    lang = _iso639_2(tags.language) if tags.language else ""
    if lang:
        frames.append(TLAN(encoding=3, text=lang))
    if tags.year:
        if not re.match(r"\d{4}", tags.year):
            raise AudioError(f"Tag year {tags.year!r} for {path.name} is not a year: "
                             "give the date as YYYY or YYYY-MM-DD.")
        frames.append(TDRC(encoding=3, text=tags.year[:4]))
    if tags.description:
        frames.append(COMM(encoding=3, lang=lang or "und", desc="", text=tags.description))
    if tags.publisher:
        frames.append(TPUB(encoding=3, text=tags.publisher))
    if tags.copyright:
        frames.append(TCOP(encoding=3, text=tags.copyright))
    if tags.cover_jpeg:
        mime = "image/png" if tags.cover_jpeg.startswith(b"\x89PNG") else "image/jpeg"
        frames.append(APIC(encoding=3, mime=mime, type=PictureType.COVER_FRONT,
                           desc="Cover", data=tags.cover_jpeg))
    frames += _chapter_frames(tags.chapters, duration_ms, timings, path)

    id3 = ID3()
    for frame in frames:
        id3.add(frame)
    # mutagen builds v2.4 frames; this turns them into v2.3 ones (TDRC -> TYER).
    id3.update_to_v23()
    try:
        id3.save(path, v2_version=3, v1=0)
    except (OSError, MutagenError) as exc:
        raise OutputError(f"Could not write tags to {path}: {exc}") from exc


def _chapter_frames(chapters: Sequence[tuple[str, int | str]], duration_ms: int,
                    timings: Sequence[Timing], path: Path) -> list[object]:
    """CHAP frames (one per chapter) and the CTOC that orders them."""
    if not chapters:
        return []
    from mutagen.id3 import CHAP, CTOC, TIT2, CTOCFlags

    start_by_id = {t.sentence_id: t.start_ms for t in timings}
    resolved: list[tuple[int, str]] = []
    for title, start in chapters:
        if isinstance(start, str):
            if start not in start_by_id:
                raise AudioError(f"Chapter {title!r} of {path.name} starts at sentence "
                                 f"{start!r}, which is not in this section's audio.")
            start_ms = start_by_id[start]
        else:
            start_ms = int(start)
        if not 0 <= start_ms < duration_ms:
            raise AudioError(f"Chapter {title!r} of {path.name} starts at {start_ms} ms, "
                             f"outside the file (0-{duration_ms} ms).")
        resolved.append((start_ms, title))
    resolved.sort(key=lambda c: c[0])  # stable: equal starts keep the given order
    if timings and resolved[0][0] <= timings[0].start_ms:
        # The head room tone belongs to the first chapter: chapters cover the file.
        resolved[0] = (0, resolved[0][1])
    frames: list[object] = []
    ids = []
    for index, (start_ms, title) in enumerate(resolved):
        end_ms = resolved[index + 1][0] if index + 1 < len(resolved) else duration_ms
        element_id = f"chp{index}"
        ids.append(element_id)
        # 0xFFFFFFFF byte offsets mean "use the times" (ID3v2 chapter addendum).
        frames.append(CHAP(element_id=element_id, start_time=start_ms, end_time=end_ms,
                           start_offset=0xFFFFFFFF, end_offset=0xFFFFFFFF,
                           sub_frames=[TIT2(encoding=3, text=title)]))
    frames.append(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                       child_element_ids=ids, sub_frames=[TIT2(encoding=3, text="Chapters")]))
    return frames


def _iso639_2(language: str) -> str:
    """ISO 639-2 code (terminology variant, as ISO 639-3 uses) for a BCP 47 tag."""
    if re.fullmatch(r"[a-zA-Z]{3}", language):
        return language.lower()
    import langcodes  # only needed for tags, and slow-ish to import

    try:
        return str(langcodes.Language.get(language).to_alpha3())
    except (LookupError, ValueError) as exc:
        raise AudioError(f"Language {language!r} has no ISO 639-2 code for the MP3 tags: "
                         "use a BCP 47 tag such as 'en' or 'en-GB'.") from exc


# --------------------------------------------------------------------------- measuring


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
        return _ms(self.num_samples, self.sample_rate_hz)


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
                if size >= _CHUNK:
                    meter.feed(np.concatenate(pending))
                    pending, size = [], 0
            if pending:
                meter.feed(np.concatenate(pending))
    except av.FFmpegError as exc:
        raise AudioError(f"Could not decode {path}: {exc}") from exc
    return meter.levels()


def measure_loudness(path: Path) -> tuple[float, float]:
    """``(integrated loudness in LUFS, true peak in dBTP)`` of an audio file."""
    levels = measure_levels(path)
    return levels.integrated_lufs, levels.true_peak_dbtp


def decode_duration_ms(path: Path) -> int:
    """Duration of an audio file as a decoder plays it, in ms.

    For MP3 this is libsndfile's mpg123, which honours the LAME gapless header
    (encoder delay and padding), so it is the duration of the audio we encoded.
    """
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"Could not decode {path}: {exc}") from exc
    return _ms(info.frames, info.samplerate)


def _db(power_or_amplitude: float, *, power: bool) -> float:
    if power_or_amplitude <= 0.0:
        return -math.inf
    return (10.0 if power else 20.0) * math.log10(power_or_amplitude)


#: Oversampling of the true-peak meter (ITU-R BS.1770-4 Annex 2).
_TP_OVERSAMPLING = 4
#: Input samples of context each side for resample_poly's filter (10 taps per phase).
_TP_PAD = 16


@functools.cache
def _oversampling_filter() -> np.ndarray:
    """The interpolation filter resample_poly would design for 4x: 81 taps, Kaiser 5."""
    half = 10 * _TP_OVERSAMPLING
    taps = _signal.firwin(2 * half + 1, 1.0 / _TP_OVERSAMPLING, window=("kaiser", 5.0))
    return (taps * _TP_OVERSAMPLING).astype(np.float32)


def _oversampled_envelope(padded: np.ndarray, pad: int) -> np.ndarray:
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
        points = _ndimage.correlate1d(around, weights, origin=origin, mode="constant")
        np.maximum(env, np.abs(points[half + 1:half + 1 + count]), out=env)
    return env


class _TruePeak:
    """Streaming 4x-oversampled true peak of one channel."""

    def __init__(self) -> None:
        self.context = np.zeros(_TP_PAD, dtype=np.float32)  # metered samples (or silence)
        self.pending = np.zeros(0, dtype=np.float32)  # samples still waiting for context
        self.peak = 0.0

    def feed(self, block: np.ndarray) -> None:
        self.pending = np.concatenate([self.pending, block.astype(np.float32, copy=False)])
        ready = len(self.pending) - _TP_PAD
        if ready <= 0:
            return
        data = np.concatenate([self.context, self.pending])
        self.peak = max(self.peak, float(_oversampled_envelope(data, _TP_PAD).max()))
        self.context = data[_TP_PAD + ready - _TP_PAD:_TP_PAD + ready]
        self.pending = self.pending[ready:]

    def finish(self) -> float:
        """The true peak, metering the last samples against silence after the end."""
        if len(self.pending):
            data = np.concatenate([self.context, self.pending, np.zeros(_TP_PAD, np.float32)])
            self.peak = max(self.peak, float(_oversampled_envelope(data, _TP_PAD).max()))
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
        weighted, self.states[channel] = _signal.sosfilt(self.sos, x, zi=zi)
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
    filters = [_iirfilter.IIRfilter(4.0, 1 / math.sqrt(2), 1500.0, sample_rate_hz,
                                    "high_shelf"),
               _iirfilter.IIRfilter(0.0, 0.5, 38.0, sample_rate_hz, "high_pass")]
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


def _measure_array(x: np.ndarray, sample_rate_hz: int, *, true_peak: bool = True) -> Levels:
    meter = _Meter(sample_rate_hz, true_peak=true_peak)
    for start in range(0, len(x), _CHUNK):
        meter.feed(x[start:start + _CHUNK])
    return meter.levels()


# --------------------------------------------------------------------------- assembly

#: Samples per processing chunk: bounds the temporaries of every pass.
_CHUNK = 1 << 18
#: Samples LAME delays its output by, plus the decoder's 529 (FFmpeg's initial_padding).
_MP3_DELAY_SAMPLES = 576 + 529
#: Declicking fade at both ends of every clip.
_FADE_MS = 3.0
#: Limiter: hold and smoothing radius of the gain curve.
_LIMITER_RADIUS_MS = 10.0
#: Encodes allowed to bring the decoded file onto its loudness and peak targets.
_MAX_ENCODES = 3
#: How far the decoded loudness may miss the target before encoding again.
_LOUDNESS_TOLERANCE_DB = 0.25
#: The share of a make-up gain step that a limited signal's loudness gains (a guess;
#: see _normalize).
_MAKE_UP_SLOPE = 0.8
#: Never raise a clip by more than this: louder would only lift its noise.
_MAX_GAIN_DB = 40.0
_ROOM_TONE_SEED = 1770


def _ms(samples: int, sample_rate_hz: int) -> int:
    """Samples to ms, rounded half up, in integers so equal offsets give equal ms."""
    return (samples * 1000 + sample_rate_hz // 2) // sample_rate_hz


def _samples(ms: float, sample_rate_hz: int) -> int:
    return int(round(ms * sample_rate_hz / 1000))


def _mp3_frame_size(sample_rate_hz: int) -> int:
    """Samples per MP3 frame: 1152 for MPEG-1 rates, 576 for MPEG-2/2.5."""
    return 1152 if sample_rate_hz >= 32000 else 576


def _aligned_length(num_samples: int, sample_rate_hz: int) -> int:
    """The smallest length >= ``num_samples`` that fills the last MP3 frame exactly.

    FFmpeg's mp3 muxer takes the gapless padding from the last packet only, so
    when the padding needed spills into a frame that holds no audio (the last
    ~46 samples before a frame boundary) it writes too little, and decoders
    play up to 46 extra samples. With no padding needed there is nothing to
    get wrong, and the decoded length is exactly ours.
    """
    frame = _mp3_frame_size(sample_rate_hz)
    return num_samples + (-(num_samples + _MP3_DELAY_SAMPLES)) % frame


#: Samples per AAC frame: every section file is a whole number of them.
AAC_FRAME_SAMPLES = 1024
#: Padding shorter than this (but not 0) lands in a frame that holds no audio.
_MP3_UNSAFE_PADDING = 47


def _section_length(num_samples: int, sample_rate_hz: int) -> int:
    """The smallest whole number of AAC frames >= ``num_samples`` that MP3 can hold exactly.

    A multiple of 1024 samples needs MP3 padding (see :func:`_aligned_length`)
    of 0 or at least 47 samples at every MPEG rate (at 22.05 kHz the padding
    of 1024 * k samples is 47 + 64 * j, never 1 to 46), so FFmpeg writes it
    right and the MP3 decodes to exactly this length (checked on every residue
    at 22.05 and 44.1 kHz); the loop is a safeguard.
    """
    length = -(-num_samples // AAC_FRAME_SAMPLES) * AAC_FRAME_SAMPLES
    while 0 < _aligned_length(length, sample_rate_hz) - length < _MP3_UNSAFE_PADDING:
        length += AAC_FRAME_SAMPLES
    return length


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


def _layout(items: Sequence[tuple[str, Clip, int]], profile: AudioProfile,
            section_id: str) -> tuple[list[int], list[int], int, int]:
    """Clip lengths and start offsets (in output samples), tail start and total length."""
    rate = profile.sample_rate_hz
    seen: set[str] = set()
    lengths, starts = [], []
    offset = _samples(profile.head_ms, rate)
    for index, (sentence_id, clip, pause_ms) in enumerate(items):
        if sentence_id in seen:
            raise AudioError(f"Section {section_id!r}: sentence {sentence_id!r} appears twice "
                             "in its audio; each sentence must be narrated once.")
        seen.add(sentence_id)
        if clip.sample_rate_hz <= 0 or len(clip.pcm) % 2:
            raise AudioError(f"Section {section_id!r}, sentence {sentence_id!r}: the clip is "
                             "not 16-bit mono PCM with a sample rate; clear the speech cache "
                             "and synthesize again.")
        if pause_ms < 0:
            raise AudioError(f"Section {section_id!r}, sentence {sentence_id!r}: negative "
                             f"pause ({pause_ms} ms).")
        length = _resampled_length(clip, rate)
        lengths.append(length)
        starts.append(offset)
        offset += length
        if index + 1 < len(items):
            offset += _samples(pause_ms, rate)
    # The tail may grow by up to one AAC frame when aligned: leave room for two.
    frame_ms = math.ceil(1000 * 2 * AAC_FRAME_SAMPLES / rate)
    tail_ms = min(max(items[-1][2], profile.tail_min_ms), profile.tail_max_ms - frame_ms)
    tail_start = offset
    total = _section_length(offset + _samples(tail_ms, rate), rate)
    return lengths, starts, tail_start, total


def _resampled_length(clip: Clip, sample_rate_hz: int) -> int:
    if clip.sample_rate_hz == sample_rate_hz:
        return clip.num_samples
    return (clip.num_samples * sample_rate_hz + clip.sample_rate_hz // 2) // clip.sample_rate_hz


def _place_clips(items: Sequence[tuple[str, Clip, int]], starts: Sequence[int],
                 lengths: Sequence[int], total: int, rate: int, section_id: str) -> np.ndarray:
    """The section as one float32 array: each clip resampled and put at its offset."""
    signal = np.zeros(total, dtype=np.float32)
    fade = _samples(_FADE_MS, rate)
    for (_, clip, _), start, length in zip(items, starts, lengths, strict=True):
        try:
            part = _resample(clip, rate, length)
        except av.FFmpegError as exc:
            raise AudioError(f"Section {section_id!r}: could not resample a clip from "
                             f"{clip.sample_rate_hz} Hz to {rate} Hz: {exc}") from exc
        _declick(part, fade)
        signal[start:start + length] = part
    return signal


def assemble_section(items: Sequence[tuple[str, Clip, int]], *,
                     profile: AudioProfile | str, tags: SectionTags, dest: Path,
                     section_id: str) -> SectionAudio:
    """Join a section's sentence clips into one normalized, tagged MP3 at ``dest``.

    ``items`` are ``(sentence_id, clip, pause_after_ms)`` in reading order; the
    caller picks each pause (see :func:`pause_after`), and the last item's pause
    is the section-end pause, which becomes the tail room tone (clamped to the
    profile's range). Every clip is resampled to the profile rate with PyAV
    before any timing is computed, so timings are exact in output samples; see
    the module docstring for how a sentence's span is defined.

    The file is normalized to the profile's loudness target; peaks that the
    gain would push over the limit are held down by a look-ahead limiter
    rather than by lowering the loudness. The encoded file is decoded again and
    measured: if MP3 encoding moved its loudness off the target or raised a
    peak over the limit, the gain and limiter are corrected by what was
    missed and it is encoded again. The file is written under a temporary name and renamed,
    so ``dest`` is never half-written. Same input, same bytes.

    Raises AudioError for empty sections, bad clips and encoder failures, and
    OutputError when ``dest`` cannot be written.
    """
    (result,) = assemble_section_files(items, ((profile, dest),), tags=tags,
                                       section_id=section_id)
    return result


def assemble_section_files(items: Sequence[tuple[str, Clip, int]],
                           outputs: Sequence[tuple[AudioProfile | str, Path]], *,
                           tags: SectionTags, section_id: str, executor: Any = None,
                           then: Callable[[SectionAudio], None] | None = None,
                           ) -> tuple[SectionAudio, ...]:
    """:func:`assemble_section` for several ``(profile, dest)`` outputs of one section.

    Profiles that master alike (same rate, loudness target and measure, codec
    loss, head, tail and room tone; e.g. ``podcast`` and ``compact``) share one
    assembly and one normalization, with peaks limited under the strictest of
    their ceilings (``compact``'s 32 kbps raises peaks more, so it keeps 2 dB
    of margin; ``podcast`` then has 2 dB instead of 1, on a few peaks), and
    the one signal is encoded to each. Their timings are therefore identical,
    and a section costs one mastering instead of two. Each file is then
    checked and corrected as :func:`assemble_section` does. Results are in
    the order of ``outputs``.

    ``executor`` (a :class:`publisher.helper.Helper`, or anything with a
    ``submit(function, *args, description=...)`` whose result has
    ``.result()``): the first output of a group is encoded here and the
    others there, at the same time. The files are the same bytes either way.
    ``then(first file)`` is called as soon as the first output is written,
    while the others may still be encoding there: more work for this process.
    """
    resolved = [(get_profile(profile) if isinstance(profile, str) else profile, Path(dest))
                for profile, dest in outputs]
    if not items:
        raise AudioError(f"Section {section_id!r} has no narrated sentences, so it has no "
                         "audio; leave it out of the audio files or give it text.")
    groups: dict[tuple[object, ...], list[int]] = {}
    for index, (profile, _) in enumerate(resolved):
        groups.setdefault(_mastering(profile), []).append(index)
    results: dict[int, SectionAudio] = {}
    for indexes in groups.values():
        made = _assemble_group(items, [resolved[i] for i in indexes], tags, section_id,
                               executor, then if 0 in indexes else None)
        results.update(zip(indexes, made, strict=True))
    return tuple(results[i] for i in range(len(resolved)))


def _mastering(profile: AudioProfile) -> tuple[object, ...]:
    """What must be equal for two profiles to share a master (all but bit rate and margin)."""
    return (profile.sample_rate_hz, profile.loudness_measure, profile.loudness_target_db,
            profile.codec_loss_db, profile.head_ms, profile.tail_min_ms, profile.tail_max_ms,
            profile.room_tone_dbfs)


def _ceiling_db(profile: AudioProfile) -> float:
    return profile.peak_limit_dbtp - profile.encode_margin_db


def _assemble_group(items: Sequence[tuple[str, Clip, int]],
                    outputs: Sequence[tuple[AudioProfile, Path]], tags: SectionTags,
                    section_id: str, executor: Any = None,
                    then: Callable[[SectionAudio], None] | None = None) -> list[SectionAudio]:
    """One master, encoded to each output (profiles of one :func:`_mastering` group)."""
    first = outputs[0][0]
    rate = first.sample_rate_hz
    lengths, starts, tail_start, total = _layout(items, first, section_id)
    ends = starts[1:] + [tail_start]
    timings = tuple(Timing(sentence_id, _ms(start, rate), _ms(end, rate))
                    for (sentence_id, _, _), start, end in zip(items, starts, ends, strict=True))
    duration_ms = _ms(total, rate)
    # One master for all: limited under the strictest ceiling of the group.
    ceiling_db = min(_ceiling_db(profile) for profile, _ in outputs)
    signal = _place_clips(items, starts, lengths, total, rate, section_id)
    measured = _loudness_of(_measure_array(signal, rate, true_peak=False), first)
    gain_db = _normalize(signal, measured, first, first.loudness_target_db + first.codec_loss_db,
                         ceiling_db, section_id)
    _add_room_tone(signal, first)
    # Each output is encoded from this one master (a correction after encoding
    # works on a copy), so the files do not depend on the order they are made
    # in: with a helper process, the first is encoded here and the others there,
    # reading the master from a file chunk by chunk (memory holds it once).
    levels = _measure_array(signal, rate, true_peak=False)
    rest = [(signal, levels, profile, dest, tags, section_id, gain_db, ceiling_db,
             duration_ms, timings, total) for profile, dest in outputs]
    first_call = rest.pop(0)
    master: _MasterFile | None = None
    elsewhere = []
    try:
        if executor is not None and rest:
            master = _MasterFile.write(signal, outputs[1][1])
            elsewhere = [executor.submit(_encode_output, master, *call[1:],
                                         description=f"encoding section {section_id!r} "
                                                     f"({call[2].name})")
                         for call in rest]
            rest = []
        results = [_encode_output(*first_call)]
        if then is not None:
            then(results[0])
        results += [_encode_output(*call) for call in rest]
        results += [pending.result() for pending in elsewhere]
    finally:
        if master is not None:
            master.remove()
    return results


class _MasterFile:
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
    def write(cls, signal: np.ndarray, beside: Path) -> _MasterFile:
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
        return self[:]

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _encode_output(signal: np.ndarray | _MasterFile, levels: Levels, profile: AudioProfile,
                   dest: Path, tags: SectionTags, section_id: str, gain_db: float,
                   ceiling_db: float, duration_ms: int, timings: tuple[Timing, ...],
                   total: int) -> SectionAudio:
    """One output file of a mastered ``signal`` (measured at ``levels``), written at ``dest``.

    ``signal`` is left as it is: a correction after encoding works on a copy.
    """
    rate = profile.sample_rate_hz
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        gain_db, decoded, encoded = _encode_checked(
            signal, profile, tags, tmp, section_id, gain_db=gain_db,
            ceiling_db=ceiling_db, duration_ms=duration_ms, timings=timings)
        if decoded.num_samples != total:
            logger.warning("Section %s: the MP3 decodes to %d samples, not %d; its "
                           "timings are off by up to %.1f ms.", section_id,
                           decoded.num_samples, total,
                           1000 * abs(decoded.num_samples - total) / rate)
        os.replace(tmp, dest)
    except OSError as exc:
        raise OutputError(f"Could not write the audio of section {section_id!r} to "
                          f"{dest}: {exc}. Check that the folder is writable and the disk "
                          "has space.") from exc
    finally:
        tmp.unlink(missing_ok=True)
    if encoded is not signal:
        levels = _measure_array(encoded, rate, true_peak=False)
    logger.debug("section %s (%s): %d ms, gain %+.1f dB, %.1f LUFS before encoding "
                 "(decoded %.1f LUFS, %.1f dBTP, %+d samples)", section_id, profile.name,
                 duration_ms, gain_db, levels.integrated_lufs, decoded.integrated_lufs,
                 decoded.true_peak_dbtp, decoded.num_samples - total)
    return SectionAudio(
        section_id=section_id,
        path=dest,
        duration_ms=duration_ms,
        sample_rate_hz=rate,
        timings=timings,
        loudness_lufs=round(levels.integrated_lufs, 2),
        extra={
            "profile": profile.name,
            "bitrate_kbps": profile.bitrate_kbps,
            "head_ms": timings[0].start_ms,
            "tail_ms": duration_ms - timings[-1].end_ms,
            "gain_db": round(gain_db, 2),
            "rms_dbfs": round(levels.rms_dbfs, 2),
            "decoded_duration_ms": decoded.duration_ms,
            "decoded_lufs": round(decoded.integrated_lufs, 2),
            "decoded_true_peak_dbtp": round(decoded.true_peak_dbtp, 2),
            "decoded_rms_dbfs": round(decoded.rms_dbfs, 2),
        },
    )


# --------------------------------------------------------------------------- loudness


def _loudness_of(levels: Levels, profile: AudioProfile) -> float:
    return levels.rms_dbfs if profile.loudness_measure == "rms" else levels.integrated_lufs


def _encode_checked(signal: np.ndarray | _MasterFile, profile: AudioProfile, tags: SectionTags,
                    path: Path, section_id: str, *, gain_db: float, ceiling_db: float,
                    duration_ms: int, timings: Sequence[Timing],
                    ) -> tuple[float, Levels, np.ndarray | _MasterFile]:
    """Encode and tag the normalized ``signal`` at ``path``, correcting it until it decodes right.

    Returns (gain dB so far, the decoded file's levels, the signal encoded:
    ``signal`` itself, or a corrected copy; ``signal`` is never changed). MP3
    encoding shifts the level a little (LAME's quantizer loses a few tenths of
    a dB; the profile aims that much higher) and raises peaks by up to ~2 dB,
    so the encoded file is decoded and measured, and if it misses the target
    or the peak limit, a copy of the signal is corrected by what was missed
    and encoded again: at most three encodes, nearly always one.
    """
    rate = profile.sample_rate_hz
    target = profile.loudness_target_db
    encoded: np.ndarray | _MasterFile = signal
    for attempt in range(1, _MAX_ENCODES + 1):
        _encode_mp3(encoded, profile, path, section_id)
        write_tags(path, tags, duration_ms=duration_ms, timings=timings)
        decoded = measure_levels(path)
        missed_db = _loudness_of(decoded, profile) - target
        over_db = decoded.true_peak_dbtp - profile.peak_limit_dbtp
        if not math.isfinite(missed_db):
            break  # silent section: nothing to correct
        if (over_db <= 0 and abs(missed_db) <= _LOUDNESS_TOLERANCE_DB) \
                or attempt == _MAX_ENCODES:
            break
        logger.debug("section %s: encode %d missed by %+.2f dB, peak %+.2f dB over; again",
                     section_id, attempt, missed_db, over_db)
        if over_db > 0:
            ceiling_db -= over_db + 0.2
        gain_db -= missed_db
        corrected = signal.copy() if encoded is signal else encoded
        assert isinstance(corrected, np.ndarray)
        _gain_and_limit(corrected, 10 ** (-missed_db / 20), ceiling_db, rate, out=corrected)
        encoded = corrected
    if over_db > 0:
        logger.warning("Section %s: true peak %.2f dBTP is over the %s limit of %.1f dBTP.",
                       section_id, decoded.true_peak_dbtp, profile.name,
                       profile.peak_limit_dbtp)
    return gain_db, decoded, encoded


def _normalize(signal: np.ndarray, measured: float, profile: AudioProfile, aim: float,
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
        limited = _gain_and_limit(signal, 10 ** (step_db / 20), ceiling_db, rate, out=signal)
        gain_db += step_db
        if not limited:
            break  # plain gain hits the aim exactly
        before, achieved = achieved, _loudness_of(
            _measure_array(signal, rate, true_peak=False), profile)
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
    env = _oversampled_envelope(padded, _TP_PAD)
    with np.errstate(divide="ignore"):
        need = np.minimum(1.0, ceiling / np.maximum(env, 1e-12)).astype(np.float32)
    held = _ndimage.minimum_filter1d(need, size=2 * radius + 1, mode="nearest")
    smooth = _ndimage.uniform_filter1d(held, size=2 * radius + 1, mode="nearest")
    inner = pad - _TP_PAD
    return smooth[inner:len(smooth) - inner]


def _gain_and_limit(x: np.ndarray, gain: float, ceiling_db: float, rate: int, *,
                    out: np.ndarray) -> bool:
    """Write ``x * gain`` into ``out`` with true peaks held under ``ceiling_db``.

    Works chunk by chunk; ``out`` may be ``x`` itself (the context a chunk
    reads to its left is then already limited, which only ever asks for less
    reduction, never lets a peak through). Returns whether anything was limited.
    """
    ceiling = 10 ** (ceiling_db / 20)
    radius = _samples(_LIMITER_RADIUS_MS, rate)
    pad = 2 * radius + _TP_PAD  # the gain at a sample depends on this much context
    limited = False
    for start in range(0, len(x), _CHUNK):
        stop = min(start + _CHUNK, len(x))
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


def _add_room_tone(x: np.ndarray, profile: AudioProfile) -> None:
    """Add the profile's quiet, deterministic room-tone bed under the whole signal."""
    if profile.room_tone_dbfs is None:
        return
    rng = np.random.default_rng(_ROOM_TONE_SEED)
    # One-pole low-pass (~1.5 kHz): a soft room hiss, not a bright white one.
    a = math.exp(-2 * math.pi * 1500.0 / profile.sample_rate_hz)
    # Output RMS of the filter for unit white noise is sqrt((1 - a) / (1 + a)).
    scale = 10 ** (profile.room_tone_dbfs / 20) / math.sqrt((1 - a) / (1 + a))
    state = np.zeros(1)
    for start in range(0, len(x), _CHUNK):
        stop = min(start + _CHUNK, len(x))
        noise = rng.standard_normal(stop - start)
        bed, state = _signal.lfilter([1 - a], [1, -a], noise, zi=state)
        x[start:stop] += (bed * scale).astype(np.float32)


# --------------------------------------------------------------------------- encoding


def _encode_mp3(x: np.ndarray | _MasterFile, profile: AudioProfile, path: Path,
                section_id: str) -> None:
    """Encode mono float samples to a CBR MP3 with a LAME gapless header, no tags."""
    rate = profile.sample_rate_hz
    try:
        # No ID3 from the muxer (mutagen writes ours); the Xing/LAME "Info"
        # frame carries encoder delay and padding for gapless decoding;
        # bitexact keeps FFmpeg's version string out of the file.
        with av.open(str(path), mode="w", format="mp3",
                     container_options={"id3v2_version": "0", "write_xing": "1",
                                        "fflags": "+bitexact"}) as container:
            stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
            stream.codec_context.bit_rate = profile.bitrate_kbps * 1000
            stream.codec_context.format = "fltp"
            for start in range(0, len(x), _CHUNK):
                chunk = np.ascontiguousarray(x[start:start + _CHUNK]).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate = rate
                frame.pts = start
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    except av.FFmpegError as exc:
        if isinstance(exc, OSError):
            raise
        raise AudioError(f"Could not encode the audio of section {section_id!r} as MP3 "
                         f"({profile.bitrate_kbps} kbps, {rate} Hz): {exc}") from exc

