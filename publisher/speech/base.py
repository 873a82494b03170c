"""The speech-engine interface: one sentence in, one clip of PCM out.

Each sentence is synthesized as its own clip, so its start and end in the
section audio are known exactly and no forced alignment is needed.
"""

from __future__ import annotations

from typing import Protocol

from ..model import Clip


class Engine(Protocol):
    """A text-to-speech engine.

    ``identity`` goes into every clip's cache key: it must change whenever the
    engine would produce different audio for the same text (engine name, voice,
    voice file hash, rate, settings).
    """

    name: str

    @property
    def identity(self) -> dict[str, str]:
        """What the clips depend on (see the class docs), as JSON-able strings."""
        ...

    @property
    def voice_name(self) -> str:
        """Human name of the voice, e.g. for media:narrator."""
        ...

    def synthesize(self, text: str) -> Clip:
        """Speak ``text`` (one sentence, lexicon already applied) as mono int16 PCM."""
        ...
