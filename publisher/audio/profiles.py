"""Audio profiles (how a section file is made) and the default pauses between sentences."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import ConfigError

__all__ = ["PAUSE_AFTER_MS", "PROFILES", "AudioProfile", "get_profile", "pause_after"]


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
    #: LAME's quality (``-q``, 0 = slowest and best, 9 = fastest; FFmpeg's
    #: ``compression_level``): how hard its quantizer searches for where to put
    #: the noise. The bit rate is the same at every setting (CBR); only the CPU
    #: time and how the bits are spent differ. 3 is LAME's and FFmpeg's default.
    lame_quality: int = 3


PROFILES: Mapping[str, AudioProfile] = MappingProxyType({
    # 22050 Hz, not 24000: it is the native rate of Piper voices (the default
    # engine), so their clips are used sample for sample with no resampling,
    # and 64 kbps at 22.05 kHz already keeps everything such a voice produces.
    # -19 LUFS is the mono equivalent of the -16 LUFS stereo podcast norm.
    # LAME -q 5: 15% less encoding time than -q 3 on Piper speech, for the
    # same quality (wideband PESQ 4.50 against 4.51, of at most 4.64).
    "podcast": AudioProfile(
        name="podcast", sample_rate_hz=22050, bitrate_kbps=64,
        loudness_measure="lufs", loudness_target_db=-19.0,
        peak_limit_dbtp=-1.5, encode_margin_db=1.0, codec_loss_db=0.45,
        head_ms=750, tail_min_ms=1000, tail_max_ms=3000, room_tone_dbfs=None,
        description="podcast and download: mono MP3 64 kbps 22.05 kHz, -19 LUFS, -1.5 dBTP",
        lame_quality=5),
    # ACX (Audible): 44.1 kHz CBR >= 192 kbps, RMS -23..-18 dB, peaks <= -3 dB,
    # noise floor <= -60 dB, 0.5-1 s room tone at the head and 1-5 s at the tail.
    # ACX QA flags absolute digital silence as unnatural, so a quiet noise bed
    # (-70 dBFS, well under the -60 dB floor) runs under the whole file: a bed
    # only in the gaps would sound gated, which ACX also rejects.
    # LAME -q 5 as for podcast: at 192 kbps the bits are plenty either way.
    "acx": AudioProfile(
        name="acx", sample_rate_hz=44100, bitrate_kbps=192,
        loudness_measure="rms", loudness_target_db=-20.0,
        peak_limit_dbtp=-3.0, encode_margin_db=0.5, codec_loss_db=0.3,
        head_ms=750, tail_min_ms=1000, tail_max_ms=5000, room_tone_dbfs=-70.0,
        description="ACX/Audible: mono MP3 192 kbps CBR 44.1 kHz, -20 dB RMS, -3 dB peak",
        lame_quality=5),
    # Audio inside the EPUB: small, speech-only; 22.05 kHz for the same reason
    # as podcast. MPEG-2 Layer III at 32 kbps is ~14 MB per hour. LAME -q 7
    # (no noise-shaping search) encodes it in half the time of -q 3, the
    # slowest encode of a build before; on Piper speech it costs 0.19 of
    # wideband PESQ (3.70 against 3.89) and nothing in intelligibility (STOI
    # 0.994 against 0.991; whisper tiny.en's word error rate 8.0% against 8.7%).
    "compact": AudioProfile(
        name="compact", sample_rate_hz=22050, bitrate_kbps=32,
        loudness_measure="lufs", loudness_target_db=-19.0,
        peak_limit_dbtp=-1.5, encode_margin_db=2.0, codec_loss_db=0.45,
        head_ms=750, tail_min_ms=1000, tail_max_ms=3000, room_tone_dbfs=None,
        description="inside the EPUB: mono MP3 32 kbps 22.05 kHz, -19 LUFS",
        lame_quality=7),
})


def get_profile(name: str) -> AudioProfile:
    """Return the audio profile called ``name``; ConfigError listing the valid ones if none."""
    try:
        return PROFILES[name]
    except KeyError:
        valid = ", ".join(sorted(PROFILES))
        raise ConfigError(
            [f"Unknown audio profile {name!r}. Use one of: {valid}."]) from None


# --- pauses

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

