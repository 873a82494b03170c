"""Speech engines: the fake engine's properties, real Piper, the registry."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from publisher.errors import ConfigError, EngineUnavailable, SpeechError
from publisher.model import Clip
from publisher.speech import ENGINES, EngineSpec, list_voices, make_engine
from publisher.speech.fake import FakeEngine


def samples(clip: Clip) -> np.ndarray:
    return np.frombuffer(clip.pcm, dtype="<i2")


# --- fake engine -------------------------------------------------------------


def test_fake_is_deterministic_and_texts_differ() -> None:
    engine = FakeEngine()
    a = engine.synthesize("You are not alone.")
    assert a == FakeEngine().synthesize("You are not alone.")
    assert a.pcm != engine.synthesize("You are not alone!").pcm
    assert engine.calls == 2


def test_fake_duration_is_proportional_to_text_and_rate() -> None:
    engine = FakeEngine()
    short, long = engine.synthesize("Hi."), engine.synthesize("x" * 100)
    assert short.duration_ms == pytest.approx(300, abs=1)
    assert long.duration_ms == pytest.approx(6500, abs=1)
    assert FakeEngine(rate=2.0).synthesize("x" * 100).duration_ms == pytest.approx(3250, abs=1)
    assert long.sample_rate_hz == 22050 and len(long.pcm) % 2 == 0


def test_fake_pace_shortens_clips_keys_them_apart_and_reaches_the_workers(
        monkeypatch, tmp_path) -> None:
    from publisher.options import BuildOptions, engine_spec
    from publisher.parse import parse_book
    from publisher.source import read_manuscript
    from publisher.speech.base import FAKE_PACE_ENV

    text = "A sentence long enough to be timed well."
    monkeypatch.setenv(FAKE_PACE_ENV, "8")
    # An engine made without the recipe (a worker's) never reads its environment.
    normal = FakeEngine()
    fast = FakeEngine(pace="8")
    assert fast.duration_ms(text) == pytest.approx(normal.duration_ms(text) / 8)
    assert len(fast.synthesize(text).pcm) < len(normal.synthesize(text).pcm) / 7
    assert fast.identity["pace"] == "8" and "pace" not in normal.identity
    # The build process puts it in the recipe the worker processes make their engine from.
    source = tmp_path / "b.md"
    source.write_text("---\ntitle: T\nlanguage: en\n---\n\n# One\n\nHello there.\n")
    spec = engine_spec(parse_book(read_manuscript(source)), BuildOptions(engine="fake"))
    assert ("pace", "8") in spec.options
    monkeypatch.delenv(FAKE_PACE_ENV)
    assert spec().identity["pace"] == "8"
    monkeypatch.setenv(FAKE_PACE_ENV, "fast")
    with pytest.raises(ConfigError, match=FAKE_PACE_ENV):
        engine_spec(parse_book(read_manuscript(source)), BuildOptions(engine="fake"))()


def test_fake_is_loud_and_speech_like_enough_to_normalize() -> None:
    pyloudnorm = pytest.importorskip("pyloudnorm")
    clip = FakeEngine().synthesize("Take a slow breath, and notice five things you can see.")
    audio = samples(clip).astype(np.float64) / 32768
    assert np.abs(audio).max() > 0.3
    meter = pyloudnorm.Meter(clip.sample_rate_hz)
    loudness = meter.integrated_loudness(audio)
    assert -40 < loudness < -6
    normalized = pyloudnorm.normalize.loudness(audio, loudness, -19.0)
    assert meter.integrated_loudness(normalized) == pytest.approx(-19.0, abs=0.1)
    # Speech has pauses: some 20 ms frames are much quieter than the loudest.
    frames = audio[: len(audio) // 441 * 441].reshape(-1, 441)
    rms = np.sqrt((frames**2).mean(axis=1))
    assert (rms < rms.max() / 10).any()


def test_fake_fail_on_and_identity() -> None:
    engine = FakeEngine(fail_on="BOOM")
    with pytest.raises(SpeechError, match="BOOM"):
        engine.synthesize("This goes BOOM.")
    assert engine.identity["engine"] == "fake"
    assert FakeEngine(rate=1.2).identity != FakeEngine().identity
    assert FakeEngine(fail_on="x").identity == FakeEngine().identity


def test_fake_never_silent_for_symbols() -> None:
    assert samples(FakeEngine().synthesize("* * *")).any()


# --- registry ----------------------------------------------------------------


def test_make_engine_and_unknown_name() -> None:
    engine = make_engine("fake", None, 1.5, "en")
    assert isinstance(engine, FakeEngine) and engine.rate == 1.5
    with pytest.raises(ConfigError) as info:
        make_engine("festival", None, 1.0, "en")
    assert "Unknown speech engine 'festival'" in str(info.value)
    assert "espeak, fake, gtts, kokoro, piper" in str(info.value)
    assert sorted(ENGINES) == ["espeak", "fake", "gtts", "kokoro", "piper"]


def test_engine_spec_is_picklable() -> None:
    spec = EngineSpec("fake", None, 1.0, "en", (("sample_rate_hz", 16000),))
    again = pickle.loads(pickle.dumps(spec))
    assert again().synthesize("Hi.").sample_rate_hz == 16000


def test_list_voices() -> None:
    voices = list_voices()
    engines = {v.engine for v in voices}
    assert engines == {"espeak", "fake", "gtts", "kokoro", "piper"}
    piper = [v for v in voices if v.engine == "piper"]
    assert piper[0].name == "en_US-joe-medium" and piper[0].available
    assert any(v.engine == "gtts" and v.name == "fr" for v in voices)
    engine, name, language, description, available, *quality = voices[0]  # plain tuples too
    assert voices[0].engine == "kokoro"  # the neural voices first, as in voices.json


# --- Piper -------------------------------------------------------------------


def test_piper_missing_voice_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "en_GB-nobody.onnx"
    with pytest.raises(EngineUnavailable) as info:
        make_engine("piper", str(missing), 1.0, "en")
    message = str(info.value)
    assert str(missing) in message and "does not exist" in message
    assert ".onnx.json" in message and "--voice" in message


def test_piper_voice_without_config_or_wrong_suffix(tmp_path: Path) -> None:
    voice = tmp_path / "voice.onnx"
    voice.write_bytes(b"not really")
    with pytest.raises(EngineUnavailable, match=r"no config: expected .*voice\.onnx\.json"):
        make_engine("piper", str(voice), 1.0, "en")
    with pytest.raises(EngineUnavailable, match="not an .onnx file"):
        make_engine("piper", str(tmp_path / "voice.txt"), 1.0, "en")


def test_piper_corrupt_voice_fails_on_first_use(tmp_path: Path) -> None:
    from publisher.speech.piper import PiperEngine, default_voice_path

    voice = tmp_path / "broken.onnx"
    voice.write_bytes(b"\x00" * 1000)
    shutil.copy(default_voice_path().with_suffix(".onnx.json"), tmp_path / "broken.onnx.json")
    engine = PiperEngine(voice)
    assert engine.identity["voice"] == "broken.onnx"
    with pytest.raises(EngineUnavailable, match="could not be read as an ONNX model"):
        engine.synthesize("Hello.")


def test_piper_identity_is_cheap_and_tracks_settings() -> None:
    from publisher.speech.piper import PiperEngine

    engine = PiperEngine()
    identity = engine.identity
    assert engine._voice is None  # identity does not load the model
    assert identity["engine"] == "piper"
    assert identity["voice"] == "en_US-joe-medium.onnx"
    assert identity["voice_digest"].startswith("sha256-edges:")
    assert identity["piper_tts"] and identity["onnxruntime"]
    assert PiperEngine(rate=1.2).identity["rate"] == "1.2"
    assert PiperEngine(rate=1.2).identity != identity
    assert PiperEngine(threads=2).identity == identity  # threads do not change the audio
    with pytest.raises(ConfigError, match="rate"):
        PiperEngine(rate=0)


@pytest.fixture(scope="module")
def piper():
    from publisher.speech.piper import PiperEngine

    return PiperEngine()


@pytest.mark.slow
def test_piper_speaks_two_sentences(piper) -> None:
    for text in ("You are not alone.", "Take a slow breath and notice five things you can see."):
        clip = piper.synthesize(text)
        assert clip.sample_rate_hz == 22050
        audio = samples(clip)
        assert audio.size and np.abs(audio).max() > 3000
        # Narration runs at roughly 10-20 characters a second.
        assert len(text) * 30 < clip.duration_ms < len(text) * 150


@pytest.mark.slow
def test_piper_is_deterministic_across_calls_order_and_threads(piper) -> None:
    from publisher.speech.piper import PiperEngine

    text = "Self-harm is a way some people cope with overwhelming feelings."
    first = piper.synthesize(text)
    piper.synthesize("Something else in between.")
    assert piper.synthesize(text) == first
    other = PiperEngine(threads=2)
    other.synthesize("A different first sentence for this session.")
    assert other.synthesize(text) == first


@pytest.mark.slow
def test_piper_prepared_model_is_kept_reused_and_checked(piper, tmp_path, monkeypatch,
                                                          caplog) -> None:
    """The deterministic model is kept in the cache; reusing it gives the same audio."""
    from publisher.speech import piper as piper_module
    from publisher.speech.piper import PiperEngine

    text = "Self-harm is a way some people cope with overwhelming feelings."
    expected = piper.synthesize(text)  # made without a model cache
    folder = tmp_path / "voices"
    first = PiperEngine(model_cache=folder)
    assert first.identity == piper.identity  # where the model is kept is not the voice
    assert first.synthesize(text) == expected
    (kept,) = folder.glob("piper-*.onnx")
    assert kept.name.endswith(hashlib.sha256(kept.read_bytes()).hexdigest()[:16] + ".onnx")

    def not_again(_path):
        raise AssertionError("the prepared model was made again")

    monkeypatch.setattr(piper_module, "_deterministic_model", not_again)
    assert PiperEngine(model_cache=folder).synthesize(text) == expected
    monkeypatch.undo()
    # A damaged prepared model is never used: it is made again, with a warning.
    data = bytearray(kept.read_bytes())
    data[len(data) // 2] ^= 0xFF
    kept.write_bytes(bytes(data))
    with caplog.at_level("WARNING"):
        assert PiperEngine(model_cache=folder).synthesize(text) == expected
    assert "damaged" in caplog.text
    (remade,) = folder.glob("piper-*.onnx")
    assert remade.read_bytes() != bytes(data)


@pytest.mark.slow
def test_piper_speaks_the_same_from_its_optimized_model(piper, monkeypatch) -> None:
    """The voice loads from a graph ONNX Runtime optimized once; the audio is unchanged."""
    from publisher.speech import piper as piper_module
    from publisher.speech.piper import PiperEngine, default_voice_path

    raw = piper_module._deterministic_model(default_voice_path())
    assert piper_module._optimized(raw, default_voice_path()) != raw  # it was optimized
    texts = ["NSSI is self-harm without suicidal intent.",
             "Harm reduction is often a much better approach than pressuring others or "
             "ourselves to stop completely or at once."]
    expected = [piper.synthesize(text) for text in texts]
    monkeypatch.setattr(piper_module, "_optimized", lambda model, _path: model)
    for threads in (1, 2):
        plain = PiperEngine(threads=threads)
        assert [plain.synthesize(text) for text in texts] == expected


@pytest.mark.slow
def test_piper_rate_and_split_sentences(piper) -> None:
    from publisher.speech.piper import PiperEngine

    text = "Take a slow breath and notice five things you can see."
    normal = piper.synthesize(text)
    faster = PiperEngine(rate=1.25).synthesize(text)
    assert faster.duration_ms == pytest.approx(normal.duration_ms / 1.25, rel=0.1)
    # Piper splits this into two sentences internally; we still get one clip,
    # and a gap setting adds exactly that much silence between the pieces.
    split = "Talk to Dr. Smith about it."
    one = piper.synthesize(split)
    gapped = PiperEngine(sentence_gap_ms=100).synthesize(split)
    assert gapped.num_samples - one.num_samples == round(22050 * 0.1)


@pytest.mark.slow
def test_piper_nothing_to_say_gives_short_silence(piper) -> None:
    clip = piper.synthesize("")
    assert 0 < clip.duration_ms <= 500 and not samples(clip).any()


def test_piper_voice_digest_reads_only_the_edges(tmp_path: Path) -> None:
    from publisher.speech.piper import _voice_digest

    data = bytearray(np.random.default_rng(0).bytes(5 << 20))
    path = tmp_path / "v.onnx"
    path.write_bytes(data)
    digest = _voice_digest(path)
    data[-1] ^= 1
    path.write_bytes(data)
    assert _voice_digest(path) != digest
    path.write_bytes(data + b"x")
    assert _voice_digest(path) != digest
    small = tmp_path / "small.onnx"
    small.write_bytes(b"abc")
    assert _voice_digest(small).endswith(hashlib.sha256(b"3:abc").hexdigest())
    json.dumps(digest)


def test_piper_invalid_config(tmp_path: Path) -> None:
    voice = tmp_path / "voice.onnx"
    voice.write_bytes(b"x")
    (tmp_path / "voice.onnx.json").write_text("{}")
    with pytest.raises(EngineUnavailable, match=r"not a valid Piper \.onnx\.json \(KeyError"):
        make_engine("piper", str(voice), 1.0, "en")
