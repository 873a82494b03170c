"""A phrase's clips as one WAV: what ``publisher say`` writes for a ``.wav`` file.

The clips as the engine made them, with the pauses a build puts between
them, at the engine's rate; nothing mastered (an MP3 from ``publisher say``
goes through the section assembler instead, as a book's audio does).
"""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence
from pathlib import Path

from ..errors import AudioError, OutputError
from ..model import Clip

__all__ = ["wav_bytes", "write_wav"]


def wav_bytes(items: Sequence[tuple[str, Clip, int]]) -> bytes:
    """16-bit mono WAV of ``(sentence id, clip, pause after in ms)`` in order."""
    if not items:
        raise AudioError("Nothing to say: the phrase has no words to speak.")
    rates = {clip.sample_rate_hz for _, clip, _ in items}
    if len(rates) != 1:
        raise AudioError(f"The phrase's clips have different sample rates ({sorted(rates)}); "
                         "say it with one voice.")
    rate = rates.pop()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        for _, clip, pause_ms in items:
            out.writeframes(clip.pcm)
            out.writeframes(b"\0\0" * round(rate * pause_ms / 1000))
    return buffer.getvalue()


def write_wav(items: Sequence[tuple[str, Clip, int]], dest: Path) -> Path:
    """Write :func:`wav_bytes` to ``dest`` (under a temporary name, then renamed)."""
    data = wav_bytes(items)
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        tmp.write_bytes(data)
        tmp.replace(dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{dest}: cannot write the audio ({exc.strerror}). Choose a file "
                          "in a folder you can write to.") from exc
    return dest
