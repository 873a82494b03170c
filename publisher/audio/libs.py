"""The numeric and codec libraries of the audio package, imported on first use.

numpy, SciPy and PyAV take ~0.4 s to import, and a rebuild whose section
files all come from the encoded-audio cache never touches them: every module
of this package reaches them through these stand-ins, so importing
:mod:`publisher.audio` costs nothing of that. SciPy and pyloudnorm are used
nowhere else in publisher (the speech engines use numpy for their own PCM).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["av", "iirfilter", "ndimage", "np", "preload", "scipy_signal"]


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
scipy_signal: Any = _Deferred("scipy.signal")
ndimage: Any = _Deferred("scipy.ndimage")
iirfilter: Any = _Deferred("pyloudnorm.iirfilter")


def preload() -> None:
    """Import the deferred libraries now (~0.7 s, mostly SciPy).

    Called while synthesis workers load their voice, so that the first
    section's assembly does not wait for the imports afterwards.
    """
    for module in (np, av, scipy_signal, ndimage, iirfilter):
        importlib.import_module(module._name)
    importlib.import_module("mutagen.id3")  # write_tags
