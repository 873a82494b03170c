"""Clock values from milliseconds: one spelling for SMIL (EPUB, DAISY 3) and WebVTT."""

from __future__ import annotations

__all__ = ["clock"]


def clock(duration_ms: int, *, hour_digits: int = 1) -> str:
    """``h:mm:ss.fff``: a SMIL full clock value; ``hour_digits=2`` makes WebVTT's ``hh:``."""
    hours, rest = divmod(int(duration_ms), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:0{hour_digits}d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
