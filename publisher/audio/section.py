"""Per-section audio: sentence clips in, one normalized, tagged MP3 per profile and its timings out.

One call makes one section's files::

    clips --placed on the timeline (timeline.py)--> one master (master.py: gain,
          limiter, room tone; measured by loudness.py)
          --> MP3 per profile (encode.py) --> ID3v2.3 tags (tags.py) --> decode and verify

Memory: nothing here ever holds more than one section, once. Measured on a
32-minute ACX section: 500 MB peak RSS, of which ~130 MB is the interpreter,
libraries and the caller's clips.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import AudioError, OutputError
from ..model import Clip, SectionAudio, Timing
from .encode import encode_output
from .loudness import loudness_of, measure_array
from .master import MasterFile, add_room_tone, normalize, place_clips
from .profiles import AudioProfile, get_profile
from .tags import SectionTags
from .timeline import layout, ms_of

__all__ = ["assemble_section_files"]


def assemble_section_files(items: Sequence[tuple[str, Clip, int]],
                           outputs: Sequence[tuple[AudioProfile | str, Path]], *,
                           tags: SectionTags, section_id: str, executor: Any = None,
                           then: Callable[[SectionAudio], None] | None = None,
                           draft: bool = False) -> tuple[SectionAudio, ...]:
    """Join a section's sentence clips into one normalized, tagged MP3 per ``(profile, dest)``.

    ``items`` are ``(sentence_id, clip, pause_after_ms)`` in reading order; the
    caller picks each pause (see :func:`~publisher.audio.profiles.pause_after`),
    and the last item's pause is the section-end pause, which becomes the tail
    room tone (clamped to the profile's range). Every clip is resampled to the
    profile rate with PyAV before any timing is computed, so timings are exact
    in output samples; see :mod:`publisher.audio.timeline` for how a
    sentence's span is defined.

    Each file is normalized to its profile's loudness target; peaks that the
    gain would push over the limit are held down by a look-ahead limiter
    rather than by lowering the loudness. The encoded file is decoded again and
    measured: if MP3 encoding moved its loudness off the target or raised a
    peak over the limit, the gain and limiter are corrected by what was
    missed and it is encoded again. Each file is written under a temporary
    name and renamed, so ``dest`` is never half-written. Same input, same bytes.

    Profiles that master alike (same rate, loudness target and measure, codec
    loss, head, tail and room tone; e.g. ``podcast`` and ``compact``) share one
    assembly and one normalization, with peaks limited under the strictest of
    their ceilings (``compact``'s 32 kbps raises peaks more, so it keeps 2 dB
    of margin; ``podcast`` then has 2 dB instead of 1, on a few peaks), and
    the one signal is encoded to each. Their timings are therefore identical,
    and a section costs one mastering instead of two. Results are in the
    order of ``outputs``.

    ``executor`` (a :class:`publisher.helper.Helper`, or anything with a
    ``submit(function, *args, description=...)`` whose result has
    ``.result()``): the first output of a group is encoded here and the
    others there, at the same time. The files are the same bytes either way.
    ``then(first file)`` is called as soon as the first output is written,
    while the others may still be encoding there: more work for this process.
    ``draft``: each file is encoded once, fast, and not decoded and checked
    (``publisher preview``'s saves; see :mod:`publisher.audio.encode`).

    Raises AudioError for empty sections, bad clips and encoder failures, and
    OutputError when a ``dest`` cannot be written.
    """
    resolved = [(get_profile(profile) if isinstance(profile, str) else profile, Path(dest))
                for profile, dest in outputs]
    if not items:
        raise AudioError(f"Section {section_id!r} has no narrated sentences, so it has no "
                         "audio; leave it out of the audio files or give it text.")
    # An output with the same profile as an earlier one would be the same bytes:
    # it is copied, not encoded again (``publisher preview`` asks for the EPUB's
    # audio in the podcast profile, which halves the cost of a save).
    first_of: dict[AudioProfile, int] = {}
    copies: dict[int, int] = {}
    groups: dict[tuple[object, ...], list[int]] = {}
    for index, (profile, _) in enumerate(resolved):
        if profile in first_of:
            copies[index] = first_of[profile]
            continue
        first_of[profile] = index
        groups.setdefault(_mastering(profile), []).append(index)
    results: dict[int, SectionAudio] = {}
    for indexes in groups.values():
        made = _assemble_group(items, [resolved[i] for i in indexes], tags, section_id,
                               executor, then if 0 in indexes else None, draft)
        results.update(zip(indexes, made, strict=True))
    for index, first in copies.items():
        results[index] = _copy_output(results[first], resolved[index][1], section_id)
    return tuple(results[i] for i in range(len(resolved)))


def _copy_output(made: SectionAudio, dest: Path, section_id: str) -> SectionAudio:
    """``made``'s file copied to ``dest`` (under a temporary name, then renamed)."""
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made.path, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        raise OutputError(f"Could not write the audio of section {section_id!r} to {dest}: "
                          f"{exc}. Check that the folder is writable and the disk is not "
                          "full.") from exc
    return dataclasses.replace(made, path=dest)


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
                    then: Callable[[SectionAudio], None] | None = None,
                    draft: bool = False) -> list[SectionAudio]:
    """One master, encoded to each output (profiles of one :func:`_mastering` group)."""
    encode = functools.partial(encode_output, draft=True) if draft else encode_output
    first = outputs[0][0]
    rate = first.sample_rate_hz
    lengths, starts, tail_start, total = layout(items, first, section_id)
    ends = starts[1:] + [tail_start]
    timings = tuple(Timing(sentence_id, ms_of(start, rate), ms_of(end, rate))
                    for (sentence_id, _, _), start, end in zip(items, starts, ends, strict=True))
    duration_ms = ms_of(total, rate)
    # One master for all: limited under the strictest ceiling of the group.
    ceiling_db = min(_ceiling_db(profile) for profile, _ in outputs)
    signal = place_clips(items, starts, lengths, total, rate, section_id)
    measured = loudness_of(measure_array(signal, rate, true_peak=False), first)
    gain_db = normalize(signal, measured, first, first.loudness_target_db + first.codec_loss_db,
                        ceiling_db, section_id)
    add_room_tone(signal, first)
    # Each output is encoded from this one master (a correction after encoding
    # works on a copy), so the files do not depend on the order they are made
    # in: with a helper process, the first is encoded here and the others there,
    # reading the master from a file chunk by chunk (memory holds it once).
    levels = measure_array(signal, rate, true_peak=False)
    rest = [(signal, levels, profile, dest, tags, section_id, gain_db, ceiling_db,
             duration_ms, timings, total) for profile, dest in outputs]
    first_call = rest.pop(0)
    master: MasterFile | None = None
    elsewhere = []
    try:
        if executor is not None and rest:
            master = MasterFile.write(signal, outputs[1][1])
            elsewhere = [executor.submit(encode, master, *call[1:],
                                         description=f"encoding section {section_id!r} "
                                                     f"({call[2].name})")
                         for call in rest]
            rest = []
        results = [encode(*first_call)]
        if then is not None:
            then(results[0])
        results += [encode(*call) for call in rest]
        results += [pending.result() for pending in elsewhere]
    finally:
        if master is not None:
            master.remove()
    return results

