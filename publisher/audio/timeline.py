"""Where each sentence goes in its section file: the timeline, in samples and ms.

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
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import AudioError
from ..model import Clip
from .profiles import AudioProfile

__all__ = ["AAC_FRAME_SAMPLES", "CHUNK", "layout", "ms_of", "samples_of"]

#: Samples per processing chunk: bounds the temporaries of every pass.
CHUNK = 1 << 18
#: Samples LAME delays its output by, plus the decoder's 529 (FFmpeg's initial_padding).
_MP3_DELAY_SAMPLES = 576 + 529


def ms_of(samples: int, sample_rate_hz: int) -> int:
    """Samples to ms, rounded half up, in integers so equal offsets give equal ms."""
    return (samples * 1000 + sample_rate_hz // 2) // sample_rate_hz


def samples_of(ms: float, sample_rate_hz: int) -> int:
    """Ms to the nearest whole number of samples at ``sample_rate_hz``."""
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


def layout(items: Sequence[tuple[str, Clip, int]], profile: AudioProfile,
           section_id: str) -> tuple[list[int], list[int], int, int]:
    """Clip lengths and start offsets (in output samples), tail start and total length."""
    rate = profile.sample_rate_hz
    seen: set[str] = set()
    lengths, starts = [], []
    offset = samples_of(profile.head_ms, rate)
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
            offset += samples_of(pause_ms, rate)
    # The tail may grow by up to one AAC frame when aligned: leave room for two.
    frame_ms = math.ceil(1000 * 2 * AAC_FRAME_SAMPLES / rate)
    tail_ms = min(max(items[-1][2], profile.tail_min_ms), profile.tail_max_ms - frame_ms)
    tail_start = offset
    total = _section_length(offset + samples_of(tail_ms, rate), rate)
    return lengths, starts, tail_start, total


def _resampled_length(clip: Clip, sample_rate_hz: int) -> int:
    if clip.sample_rate_hz == sample_rate_hz:
        return clip.num_samples
    return (clip.num_samples * sample_rate_hz + clip.sample_rate_hz // 2) // clip.sample_rate_hz

