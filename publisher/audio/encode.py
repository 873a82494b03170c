"""Encoding a master: one MP3 per profile, tagged, decoded again and checked.

    master --MP3 (libmp3lame CBR via PyAV)--> ID3v2.3 tags (tags.py)
           --> decode and measure --> corrected and encoded again if it missed

A file is written under a temporary name and renamed, so it is never seen
half-written. Same master, same bytes.

A *draft* (``publisher preview``'s saves) is one fast encode (LAME level
:data:`DRAFT_LAME_LEVEL`), tagged and not decoded again: the same samples
and timings, its loudness within a few tenths of a dB of the target, and its
true peak unchecked. ``publisher build`` makes the checked file.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import AudioError, OutputError
from ..model import SectionAudio, Timing
from .libs import av, np
from .loudness import Levels, loudness_of, measure_array, measure_levels
from .master import MasterFile, gain_and_limit
from .profiles import AudioProfile
from .tags import SectionTags, write_tags
from .timeline import CHUNK

__all__ = ["encode_output"]

logger = logging.getLogger(__name__)

#: Encodes allowed to bring the decoded file onto its loudness and peak targets.
_MAX_ENCODES = 3
#: How far the decoded loudness may miss the target before encoding again.
_LOUDNESS_TOLERANCE_DB = 0.25
#: LAME's algorithm quality for a draft (0 best and slowest, 9 fastest): level 7
#: encodes a section in about 60% of the default's (3) time; 9 is no faster.
DRAFT_LAME_LEVEL = 7


def encode_output(signal: np.ndarray | MasterFile, levels: Levels, profile: AudioProfile,
                  dest: Path, tags: SectionTags, section_id: str, gain_db: float,
                  ceiling_db: float, duration_ms: int, timings: tuple[Timing, ...],
                  total: int, *, draft: bool = False) -> SectionAudio:
    """One output file of a mastered ``signal`` (measured at ``levels``), written at ``dest``.

    ``signal`` is left as it is: a correction after encoding works on a copy.
    ``draft``: one fast encode, not decoded and checked (see the module's docstring).
    """
    rate = profile.sample_rate_hz
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if draft:
            _encode_mp3(signal, profile, tmp, section_id, draft=True)
            write_tags(tmp, tags, duration_ms=duration_ms, timings=timings)
            os.replace(tmp, dest)
            return _section_audio(dest, profile, section_id, duration_ms, timings, gain_db,
                                  levels, None)
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
        levels = measure_array(encoded, rate, true_peak=False)
    logger.debug("section %s (%s): %d ms, gain %+.1f dB, %.1f LUFS before encoding "
                 "(decoded %.1f LUFS, %.1f dBTP, %+d samples)", section_id, profile.name,
                 duration_ms, gain_db, levels.integrated_lufs, decoded.integrated_lufs,
                 decoded.true_peak_dbtp, decoded.num_samples - total)
    return _section_audio(dest, profile, section_id, duration_ms, timings, gain_db, levels,
                          decoded)


def _section_audio(dest: Path, profile: AudioProfile, section_id: str, duration_ms: int,
                   timings: tuple[Timing, ...], gain_db: float, levels: Levels,
                   decoded: Levels | None) -> SectionAudio:
    """What was written at ``dest``; ``decoded``: its levels as decoded (None: a draft)."""
    extra: dict[str, object] = {
        "profile": profile.name,
        "bitrate_kbps": profile.bitrate_kbps,
        "head_ms": timings[0].start_ms,
        "tail_ms": duration_ms - timings[-1].end_ms,
        "gain_db": round(gain_db, 2),
        "rms_dbfs": round(levels.rms_dbfs, 2),
    }
    if decoded is not None:
        extra.update(decoded_duration_ms=decoded.duration_ms,
                     decoded_lufs=round(decoded.integrated_lufs, 2),
                     decoded_true_peak_dbtp=round(decoded.true_peak_dbtp, 2),
                     decoded_rms_dbfs=round(decoded.rms_dbfs, 2))
    else:
        extra["draft"] = True
    return SectionAudio(section_id=section_id, path=dest, duration_ms=duration_ms,
                        sample_rate_hz=profile.sample_rate_hz, timings=timings,
                        loudness_lufs=round(levels.integrated_lufs, 2), extra=extra)


def _encode_checked(signal: np.ndarray | MasterFile, profile: AudioProfile, tags: SectionTags,
                    path: Path, section_id: str, *, gain_db: float, ceiling_db: float,
                    duration_ms: int, timings: Sequence[Timing],
                    ) -> tuple[float, Levels, np.ndarray | MasterFile]:
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
    encoded: np.ndarray | MasterFile = signal
    for attempt in range(1, _MAX_ENCODES + 1):
        _encode_mp3(encoded, profile, path, section_id)
        write_tags(path, tags, duration_ms=duration_ms, timings=timings)
        decoded = measure_levels(path)
        missed_db = loudness_of(decoded, profile) - target
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
        gain_and_limit(corrected, 10 ** (-missed_db / 20), ceiling_db, rate, out=corrected)
        encoded = corrected
    if over_db > 0:
        logger.warning("Section %s: true peak %.2f dBTP is over the %s limit of %.1f dBTP.",
                       section_id, decoded.true_peak_dbtp, profile.name,
                       profile.peak_limit_dbtp)
    return gain_db, decoded, encoded


def _encode_mp3(x: np.ndarray | MasterFile, profile: AudioProfile, path: Path,
                section_id: str, *, draft: bool = False) -> None:
    """Encode mono float samples to a CBR MP3 with a LAME gapless header, no tags.

    ``draft``: at LAME level :data:`DRAFT_LAME_LEVEL` (same frames, so same timings).
    """
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
            stream.codec_context.options = {"compression_level": str(profile.lame_quality)}
            stream.codec_context.format = "fltp"
            if draft:
                stream.codec_context.options = {**stream.codec_context.options,
                                                "compression_level": str(DRAFT_LAME_LEVEL)}
            for start in range(0, len(x), CHUNK):
                chunk = np.ascontiguousarray(x[start:start + CHUNK]).reshape(1, -1)
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

