"""Audio shortcuts only the tests use: one section file, its loudness, its decoded length.

They were part of publisher.audio; the product makes every section's files
with :func:`publisher.audio.assemble_section_files`, and measures with
:func:`publisher.audio.measure_levels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import soundfile

from publisher import audio
from publisher.audio.profiles import AudioProfile
from publisher.audio.tags import SectionTags
from publisher.audio.timeline import ms_of
from publisher.errors import AudioError
from publisher.model import Clip, SectionAudio


def measure_loudness(path: Path) -> tuple[float, float]:
    """``(integrated loudness in LUFS, true peak in dBTP)`` of an audio file."""
    levels = audio.measure_levels(path)
    return levels.integrated_lufs, levels.true_peak_dbtp


def decode_duration_ms(path: Path) -> int:
    """Duration of an audio file as a decoder plays it, in ms.

    For MP3 this is libsndfile's mpg123, which honours the LAME gapless header
    (encoder delay and padding), so it is the duration of the audio we encoded:
    a second decoder beside the PyAV that publisher.audio measures with.
    """
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"Could not decode {path}: {exc}") from exc
    return ms_of(info.frames, info.samplerate)


def assemble_section(items: Sequence[tuple[str, Clip, int]], *,
                     profile: AudioProfile | str, tags: SectionTags, dest: Path,
                     section_id: str) -> SectionAudio:
    """One section's clips as one normalized, tagged MP3 at ``dest`` in ``profile``.

    :func:`publisher.audio.assemble_section_files` with a single output (looked
    up on the package at each call, so a test that replaces it replaces this too).
    """
    (result,) = audio.assemble_section_files(items, ((profile, dest),), tags=tags,
                                             section_id=section_id)
    return result
