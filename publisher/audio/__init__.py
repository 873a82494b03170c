"""The audio package: mastering, encoding and tagging, in one place.

    clips --> timeline  where each sentence goes, in samples and ms
          --> master    placed on one array, gain, true-peak limiter, room tone
                        (loudness: BS.1770 loudness, true peak, RMS, noise floor)
          --> encode    one MP3 per profile, decoded again and checked
          --> tags      ID3v2.3 frames (and the M4B's iTunes items)
    section MP3s --> m4b  the whole book as one chaptered AAC audiobook

:func:`assemble_section_files` (in :mod:`.section`) makes one section's files;
:mod:`.profiles` says how each kind of file is made; :mod:`.m4b` is imported
on its own (``from publisher.audio import m4b``). numpy, SciPy and PyAV are
imported on first use (:mod:`.libs`), mutagen when tags are written, so
importing this package costs a few ms; SciPy, pyloudnorm and mutagen are used
nowhere else in publisher.
"""

from __future__ import annotations

from .libs import preload
from .loudness import Levels, measure_levels
from .profiles import PAUSE_AFTER_MS, PROFILES, AudioProfile, get_profile, pause_after
from .section import assemble_section_files
from .tags import SectionTags, write_tags
from .timeline import AAC_FRAME_SAMPLES

__all__ = [
    "AAC_FRAME_SAMPLES",
    "PAUSE_AFTER_MS",
    "PROFILES",
    "AudioProfile",
    "Levels",
    "SectionTags",
    "assemble_section_files",
    "get_profile",
    "measure_levels",
    "pause_after",
    "preload",
    "write_tags",
]
