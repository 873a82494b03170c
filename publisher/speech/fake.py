"""A fast, deterministic stand-in for a speech engine, for tests.

It makes a speech-like signal rather than silence or a steady tone so that
everything downstream behaves as with real speech: loudness normalization has
something to measure, silence trimming finds syllables and pauses, and MP3
encoding sees a varying spectrum. The signal is a train of "syllables" (a
voiced fundamental with a few harmonics under a raised-cosine envelope),
separated by short pauses at spaces and longer ones at punctuation. Pitch and
timbre come from a hash of the text, so different texts give different audio
and the same text always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np

from ..errors import ConfigError, SpeechError
from ..model import Clip
from .base import FAKE_PACE_ENV

__all__ = ["FakeEngine"]

#: Speaking time per character at rate 1.0, about the pace of real narration.
MS_PER_CHAR = 65.0
MIN_DURATION_MS = 300.0
_PEAK = 0.5 * 32767
#: Seconds to wait before each clip, so a test can interrupt a real
#: ``publisher build`` while synthesis is running (the CLI has no engine options).
DELAY_ENV = "PUBLISHER_FAKE_DELAY_S"
#: A factor on the speaking rate (see speech.base.FAKE_PACE_ENV).
PACE_ENV = FAKE_PACE_ENV


class FakeEngine:
    """Speech-like tones whose length is proportional to the text length.

    ``fail_on``: raise :class:`SpeechError` for any text containing it (to test
    error handling). ``delay_s``: wait this long before each clip, like a slow
    engine (default: the environment variable :data:`DELAY_ENV`, else none).
    ``pace``: a factor on ``rate`` (default 1; the build passes :data:`PACE_ENV`'s).
    ``calls`` counts :meth:`synthesize` calls (to test caching).
    """

    name = "fake"

    def __init__(
        self,
        rate: float = 1.0,
        sample_rate_hz: int = 22050,
        *,
        fail_on: str | None = None,
        delay_s: float | None = None,
        voice: str | None = None,
        pace: float | str | None = None,
    ) -> None:
        if not rate > 0:
            raise ConfigError([f"rate must be positive (1.0 is normal speed), got {rate}."])
        # Never read from the environment here: a worker process's environment is its
        # fork server's, which may be another test's (see speech.base.FAKE_PACE_ENV).
        pace = 1.0 if pace is None else pace
        try:
            self.pace = float(pace)
        except ValueError:
            self.pace = 0.0
        if not self.pace > 0:
            raise ConfigError([f"{PACE_ENV} is {pace!r}; expected a positive factor on the "
                               "speaking rate, e.g. 8 (it is for tests only)."])
        if delay_s is None:
            try:
                delay_s = float(os.environ.get(DELAY_ENV) or 0.0)
            except ValueError:
                raise ConfigError([f"{DELAY_ENV} is {os.environ[DELAY_ENV]!r}; expected "
                                   "seconds, e.g. 0.1 (it is for tests only)."]) from None
        self.rate = rate
        self.sample_rate_hz = sample_rate_hz
        self.fail_on = fail_on
        self.delay_s = max(0.0, delay_s)
        self.calls = 0
        #: A voice name to stand in for (several voices in a test book); None: one voice.
        self.voice = voice or None

    @property
    def identity(self) -> dict[str, str]:
        """What the clips depend on: the engine and its settings (for cache keys)."""
        # fail_on and delay_s are left out on purpose: they change whether or
        # when a clip is made, never what a made clip sounds like.
        identity = {
            "engine": self.name,
            "version": "2",  # 2: the tones computed in float32 (same sound, 3x faster)
            "rate": f"{self.rate:g}",
            "sample_rate_hz": str(self.sample_rate_hz),
        }
        if self.pace != 1.0:
            identity["pace"] = f"{self.pace:g}"
        if self.voice:
            identity["voice"] = self.voice
        return identity

    @property
    def voice_name(self) -> str:
        """The voice's name, as the narrator is credited."""
        return f"Fake test voice ({self.voice})" if self.voice else "Fake test voice"

    def duration_ms(self, text: str) -> float:
        """How long the clip for ``text`` will be."""
        return max(MIN_DURATION_MS, MS_PER_CHAR * len(text)) / (self.rate * self.pace)

    def synthesize(self, text: str) -> Clip:
        """Speech-like tones for ``text``, as long as its characters say (``duration_ms``)."""
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_on is not None and self.fail_on in text:
            raise SpeechError(f"fake engine told to fail on {self.fail_on!r}")
        num_samples = round(self.duration_ms(text) * self.sample_rate_hz / 1000)
        # Each voice stood in for sounds different (same text, another pitch).
        said = f"{self.voice}\n{text}" if self.voice else text
        seed = int.from_bytes(hashlib.sha256(said.encode("utf-8")).digest()[:8], "little")
        signal = _speech_like(text, num_samples, self.sample_rate_hz, seed)
        pcm = np.round(signal * _PEAK).astype("<i2").tobytes()
        return Clip(pcm=pcm, sample_rate_hz=self.sample_rate_hz)


def _speech_like(text: str, num_samples: int, sample_rate_hz: int, seed: int) -> np.ndarray:
    """A float signal in [-1, 1]: one syllable per ~3 characters, pauses at gaps."""
    rng = np.random.default_rng(seed)
    envelope = np.zeros(num_samples, dtype=np.float32)
    # Each character owns an equal slice of the clip; letters are voiced,
    # spaces and punctuation are pauses, like the rhythm of the sentence.
    per_char = num_samples / max(1, len(text))
    voiced = [c.isalnum() for c in text] or [True]
    start = 0
    while start < len(voiced):
        if not voiced[start]:
            start += 1
            continue
        end = start
        while end < len(voiced) and voiced[end] and end - start < 3:
            end += 1
        first, last = int(start * per_char), int(end * per_char)
        if last > first:
            envelope[first:last] = np.hanning(last - first) * rng.uniform(0.6, 1.0)
        start = end
    if not envelope.any():
        # Text with no letters still gets an audible blip, never silence.
        envelope[:] = np.hanning(num_samples)
    # The tones are computed in float32, whose sine numpy vectorizes (30 times
    # faster than float64's; the test suite makes hours of fake speech). The
    # phase is summed in float64 and wrapped to one turn, so that float32 holds
    # it to a few micro-radians however long the clip.
    t = np.arange(num_samples, dtype=np.float32) / np.float32(sample_rate_hz)
    f0_hz = rng.uniform(100.0, 220.0)
    # A slow pitch contour, as in intonation, instead of a flat tone.
    contour = 1.0 + 0.08 * np.sin(np.float32(2 * np.pi * rng.uniform(0.3, 1.2)) * t
                                  + np.float32(rng.uniform(0, 6.3)))
    turns = np.cumsum(contour, dtype=np.float64) * (f0_hz / sample_rate_hz)
    turns -= np.floor(turns)
    phase = turns.astype(np.float32) * np.float32(2 * np.pi)
    harmonics = sum(
        np.float32(rng.uniform(0.2, 1.0) / k) * np.sin(np.float32(k) * phase
                                                       + np.float32(rng.uniform(0, 6.3)))
        for k in range(1, 6)
    )
    signal = envelope * harmonics
    peak = float(np.max(np.abs(signal))) or 1.0
    return signal / peak
