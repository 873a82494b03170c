"""The speech-engine interface: one sentence in, one clip of PCM out.

Each sentence is synthesized as its own clip, so its start and end in the
section audio are known exactly and no forced alignment is needed.
"""

from __future__ import annotations

import os
from typing import Protocol

from ..model import Clip

#: For tests: a factor on the fake engine's speaking rate, beyond what ``--rate``
#: allows, so a test can narrate a long real document with every output in a
#: fraction of the audio time (the same sentences, pauses and files; each clip
#: shorter). Read only by the build process, when it makes the engine's recipe
#: (options._spec), which carries it to the workers: they start from a fork server
#: whose environment is whichever test's started it. Here, not in speech.fake, so
#: reading it needs no NumPy.
FAKE_PACE_ENV = "PUBLISHER_FAKE_PACE"


def fake_pace() -> str | None:
    """The fake engine's pace asked for in the environment (:data:`FAKE_PACE_ENV`)."""
    return os.environ.get(FAKE_PACE_ENV) or None


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
