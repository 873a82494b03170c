"""Tests for publisher.audio: assembly, timings, loudness, encoding and tags.

Clips are synthetic "speech": band-limited noise under a syllable-rate
envelope, at the rates real engines produce (Piper 22.05 kHz, gTTS 24 kHz,
16 kHz voices), so resampling, gain and limiting all get exercised.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import scipy.signal
import soundfile
from mutagen.id3 import ID3
from mutagen.mp3 import MP3, BitrateMode

from publisher import audio
from publisher.audio import loudness as audio_loudness
from publisher.audio import tags as audio_tags
from publisher.audio import timeline
from publisher.errors import AudioError, ConfigError
from publisher.model import Clip, SectionAudio

from .audio_helpers import assemble_section, decode_duration_ms, measure_loudness

FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) + b"\xff\xd9"


def speechlike(seed: int, seconds: float, rate: int = 22050, level: float = 0.2) -> Clip:
    """Band-limited noise shaped into ~3.5 syllables a second, peak at ``level``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    b, a = scipy.signal.butter(4, [150 / (rate / 2), 4000 / (rate / 2)], "band")
    x = scipy.signal.lfilter(b, a, rng.standard_normal(n))
    t = np.arange(n) / rate
    envelope = np.sin(2 * np.pi * 3.5 * t + seed) ** 2 * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))
    x = x * envelope
    x = x / np.max(np.abs(x)) * level
    return Clip((x * 32767).astype("<i2").tobytes(), rate)


def make_items(count: int = 8, seed: int = 0) -> list[tuple[str, Clip, int]]:
    rates = (22050, 24000, 16000)
    kinds = ("sentence", "sentence", "paragraph", "heading")
    items = [(f"s{i}", speechlike(seed + i, 0.7 + 0.35 * (i % 4), rates[i % 3],
                                  level=(0.05, 0.3, 0.12)[i % 3]),
              audio.pause_after(kinds[i % 4]))
             for i in range(count)]
    last_id, last_clip, _ = items[-1]
    items[-1] = (last_id, last_clip, audio.pause_after("section"))
    return items


TAGS = audio.SectionTags(
    title="Getting through tonight", album="Unpacking Self-Harm", artist="The Collective",
    narrator="Joe (Piper)", track_number=2, track_total=5, language="en", year="2024-03-01",
    description="Section two.", publisher="Zine Library", copyright="CC BY-NC 4.0",
    cover_jpeg=FAKE_JPEG, chapters=(("Start", "s0"), ("Middle", "s4")))
PLAIN = audio.SectionTags(title="Plain", album="Book")


@pytest.fixture(scope="module")
def items() -> list[tuple[str, Clip, int]]:
    return make_items()


@pytest.fixture(scope="module")
def podcast(items, tmp_path_factory) -> SectionAudio:
    dest = tmp_path_factory.mktemp("podcast") / "02-tonight.mp3"
    return assemble_section(items, profile="podcast", tags=TAGS, dest=dest,
                                  section_id="tonight")


@pytest.fixture(scope="module")
def acx(items, tmp_path_factory) -> SectionAudio:
    dest = tmp_path_factory.mktemp("acx") / "02-tonight.mp3"
    return assemble_section(items, profile=audio.get_profile("acx"), tags=TAGS,
                                  dest=dest, section_id="tonight")


def rms_db(x: np.ndarray) -> float:
    power = float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0
    return 10 * math.log10(power) if power > 0 else -math.inf


# --------------------------------------------------------------------------- profiles


def test_profiles_have_the_required_formats():
    assert {"podcast", "acx", "compact"} <= set(audio.PROFILES)
    podcast = audio.get_profile("podcast")
    assert (podcast.sample_rate_hz, podcast.bitrate_kbps) == (22050, 64)
    assert (podcast.loudness_measure, podcast.loudness_target_db) == ("lufs", -19.0)
    assert podcast.peak_limit_dbtp <= -1.5
    acx = audio.get_profile("acx")
    assert (acx.sample_rate_hz, acx.bitrate_kbps, acx.loudness_measure) == (44100, 192, "rms")
    assert -23 <= acx.loudness_target_db <= -18 and acx.peak_limit_dbtp <= -3.0
    assert 500 <= acx.head_ms <= 1000 and 1000 <= acx.tail_min_ms <= acx.tail_max_ms <= 5000
    assert acx.room_tone_dbfs is not None and acx.room_tone_dbfs <= -60
    assert audio.get_profile("compact").bitrate_kbps <= 32


def test_unknown_profile_names_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        audio.get_profile("loud")
    assert str(info.value) == "Unknown audio profile 'loud'. Use one of: acx, compact, podcast."
    with pytest.raises(ConfigError, match="acx, compact, podcast"):
        assemble_section(make_items(2), profile="mp3", tags=PLAIN,
                               dest=tmp_path / "x.mp3", section_id="x")
    assert not list(tmp_path.iterdir())


def test_pause_defaults():
    assert audio.pause_after("sentence") < audio.pause_after("paragraph") \
        < audio.pause_after("heading") < audio.pause_after("section")
    assert 300 <= audio.pause_after("sentence") <= 400
    with pytest.raises(ValueError, match="known kinds"):
        audio.pause_after("chapter")


# --------------------------------------------------------------------------- the file


def test_one_mp3_that_decodes_to_the_reported_rate_and_duration(podcast):
    assert podcast.path.is_file() and podcast.path.name == "02-tonight.mp3"
    assert [p.name for p in podcast.path.parent.iterdir()] == ["02-tonight.mp3"]
    info = soundfile.info(str(podcast.path))
    assert info.samplerate == podcast.sample_rate_hz == 22050
    assert info.channels == 1
    # The LAME gapless header makes the decoded length exactly the encoded one.
    assert abs(info.frames * 1000 / info.samplerate - podcast.duration_ms) <= 1
    assert decode_duration_ms(podcast.path) == podcast.duration_ms
    data, rate = soundfile.read(str(podcast.path), dtype="float32")
    assert abs(len(data) * 1000 / rate - podcast.duration_ms) <= 1


def test_cbr_mp3_at_the_profile_bitrate(podcast):
    info = MP3(podcast.path).info
    assert (info.bitrate, info.sample_rate, info.channels) == (64000, 22050, 1)
    assert info.bitrate_mode == BitrateMode.CBR


def test_timings_are_contiguous_and_end_where_the_tail_begins(podcast, items):
    timings = podcast.timings
    assert [t.sentence_id for t in timings] == [sid for sid, _, _ in items]
    for before, after in zip(timings, timings[1:], strict=False):
        assert before.end_ms == after.start_ms
    assert all(t.start_ms < t.end_ms for t in timings)
    head_ms, tail_ms = podcast.extra["head_ms"], podcast.extra["tail_ms"]
    assert timings[0].start_ms == head_ms and 500 <= head_ms <= 1000
    assert timings[-1].end_ms + tail_ms == podcast.duration_ms
    assert 1000 <= tail_ms <= 3000
    decoded_ms = decode_duration_ms(podcast.path)
    assert abs(timings[-1].end_ms + tail_ms - decoded_ms) <= 50
    # A span is its clip (resampled, so the same duration) plus the pause after it.
    for timing, (_, clip, pause_ms) in zip(timings[:-1], items[:-1], strict=True):
        assert abs(timing.end_ms - timing.start_ms - (clip.duration_ms + pause_ms)) <= 1
    assert abs(timings[-1].end_ms - timings[-1].start_ms - items[-1][1].duration_ms) <= 1


def test_speech_is_where_the_timings_say(podcast, items):
    data, rate = soundfile.read(str(podcast.path), dtype="float32")

    def level(start_ms: float, end_ms: float) -> float:
        return rms_db(data[int(start_ms * rate / 1000):int(end_ms * rate / 1000)])

    assert level(0, podcast.timings[0].start_ms - 20) < -70  # head
    for timing, (_, clip, _) in zip(podcast.timings, items, strict=True):
        speech_end_ms = timing.start_ms + clip.duration_ms
        assert level(timing.start_ms + 20, speech_end_ms - 20) > -45, timing
        assert level(speech_end_ms + 30, timing.end_ms - 10) < -70, timing  # the pause
    assert level(podcast.timings[-1].end_ms + 30, podcast.duration_ms) < -70  # tail


def test_loudness_of_the_encoded_file_meets_the_target(podcast):
    profile = audio.get_profile("podcast")
    data, rate = soundfile.read(str(podcast.path), dtype="float64")
    lufs = pyloudnorm.Meter(rate).integrated_loudness(data)
    assert abs(lufs - profile.loudness_target_db) <= 1.0
    measured_lufs, true_peak = measure_loudness(podcast.path)
    assert abs(measured_lufs - lufs) <= 0.1
    assert true_peak <= profile.peak_limit_dbtp
    # An independent true-peak check: 4x oversampling with scipy.
    oversampled = scipy.signal.resample_poly(data, 4, 1)
    assert 20 * math.log10(np.max(np.abs(oversampled))) <= profile.peak_limit_dbtp + 0.05
    assert podcast.extra["decoded_duration_ms"] == podcast.duration_ms
    assert abs(podcast.loudness_lufs - profile.loudness_target_db) <= 1.0


def test_tags_read_back(podcast):
    tags = ID3(podcast.path)
    assert tags.version == (2, 3, 0)
    assert str(tags["TIT2"]) == "Getting through tonight"
    assert str(tags["TALB"]) == "Unpacking Self-Harm"
    assert str(tags["TPE1"]) == str(tags["TPE2"]) == "The Collective"
    assert str(tags["TCOM"]) == "Joe (Piper)"
    assert str(tags["TXXX:NARRATOR"]) == "Joe (Piper)"
    assert str(tags["TRCK"]) == "2/5"
    assert str(tags["TLAN"]) == "eng"
    assert str(tags["TDRC"]) == "2024"  # stored as TYER in v2.3; mutagen reads it as TDRC
    assert str(tags["TCON"]) == "Audiobook"
    assert str(tags["TPUB"]) == "Zine Library"
    assert str(tags["TCOP"]) == "CC BY-NC 4.0"
    assert str(tags["TLEN"]) == str(podcast.duration_ms)
    (comment,) = tags.getall("COMM")
    assert (comment.lang, comment.text) == ("eng", ["Section two."])
    (cover,) = tags.getall("APIC")
    assert (cover.mime, cover.type, cover.data) == ("image/jpeg", 3, FAKE_JPEG)
    raw = podcast.path.read_bytes()[:4096]
    assert b"TYER" in raw and b"TDRC" not in raw and b"TSSE" not in raw


def test_chapter_frames(podcast):
    tags = ID3(podcast.path)
    chapters = sorted(tags.getall("CHAP"), key=lambda c: c.start_time)
    starts = {t.sentence_id: t.start_ms for t in podcast.timings}
    # The first chapter takes the head room tone too; the next starts with its sentence.
    assert [(c.start_time, c.end_time) for c in chapters] == [
        (0, starts["s4"]), (starts["s4"], podcast.duration_ms)]
    assert [str(c.sub_frames["TIT2"]) for c in chapters] == ["Start", "Middle"]
    (toc,) = tags.getall("CTOC")
    assert toc.child_element_ids == [c.element_id for c in chapters]
    assert toc.flags & 1  # top level


def test_no_chapter_frames_without_chapters_and_bad_chapters_are_errors(tmp_path):
    items = make_items(3, seed=20)
    result = assemble_section(items, profile="compact", tags=PLAIN,
                                    dest=tmp_path / "plain.mp3", section_id="plain")
    tags = ID3(result.path)
    assert not tags.getall("CHAP") and not tags.getall("CTOC") and not tags.getall("APIC")
    lost = audio.SectionTags(title="X", album="Book", chapters=(("Lost", "s99"),))
    with pytest.raises(AudioError, match="'s99'"):
        audio.write_tags(result.path, lost, duration_ms=result.duration_ms,
                         timings=result.timings)
    late = audio.SectionTags(title="X", album="Book", chapters=(("Late", 10**7),))
    with pytest.raises(AudioError, match="outside the file"):
        audio.write_tags(result.path, late, duration_ms=result.duration_ms)


def test_same_input_same_bytes(tmp_path):
    items = make_items(5, seed=7)
    first = assemble_section(items, profile="compact", tags=TAGS,
                                   dest=tmp_path / "a.mp3", section_id="s")
    second = assemble_section(items, profile="compact", tags=TAGS,
                                    dest=tmp_path / "b.mp3", section_id="s")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.timings == second.timings


def test_the_profile_sets_lames_quality_and_only_the_bits_change(tmp_path):
    # compact is encoded at LAME -q 7 (no noise-shaping search; half the time
    # of LAME's default -q 3 at 32 kbps): the same frames, length, timings and
    # loudness, other bits. So the setting reaches the encoder.
    compact = audio.get_profile("compact")
    assert all(0 <= p.lame_quality <= 9 for p in audio.PROFILES.values())
    assert compact.lame_quality > 3
    items = make_items(5, seed=3)
    made = {q: assemble_section(items, profile=dataclasses.replace(compact, lame_quality=q),
                                tags=PLAIN, dest=tmp_path / f"q{q}.mp3", section_id="s")
            for q in (3, compact.lame_quality)}
    default, fast = made[3], made[compact.lame_quality]
    assert default.path.read_bytes() != fast.path.read_bytes()
    assert default.path.stat().st_size == fast.path.stat().st_size  # CBR: same frames
    assert fast.timings == default.timings
    assert decode_duration_ms(fast.path) == decode_duration_ms(default.path)
    assert abs(fast.extra["decoded_lufs"] - compact.loudness_target_db) <= 0.25
    assert fast.extra["decoded_true_peak_dbtp"] <= compact.peak_limit_dbtp


# --------------------------------------------------------------------------- ACX


def test_acx_profile_meets_acx_requirements(acx):
    info = MP3(acx.path).info
    assert (info.sample_rate, info.bitrate, info.channels) == (44100, 192000, 1)
    assert info.bitrate_mode == BitrateMode.CBR
    assert decode_duration_ms(acx.path) == acx.duration_ms
    levels = audio.measure_levels(acx.path)
    assert -23.0 <= levels.rms_dbfs <= -18.0
    assert abs(levels.rms_dbfs - audio.get_profile("acx").loudness_target_db) <= 1.0
    assert levels.true_peak_dbtp <= -3.0
    # Room tone: under the -60 dB floor, but not digital silence.
    assert -80 < levels.noise_floor_dbfs <= -60
    assert 500 <= acx.extra["head_ms"] <= 1000
    assert 1000 <= acx.extra["tail_ms"] <= 5000
    data, rate = soundfile.read(str(acx.path), dtype="float32")
    head = data[:int(acx.timings[0].start_ms * rate / 1000) - 100]
    assert -80 < rms_db(head) <= -60


# --------------------------------------------------------------------------- limiter and edges


def test_limiter_holds_peaks_without_lowering_loudness(tmp_path):
    # Quiet speech with a few loud clicks: gain to -19 LUFS would push the
    # clicks far over the limit, so only a limiter can meet both targets.
    clip = speechlike(3, 4.0, level=0.05)
    pcm = np.frombuffer(clip.pcm, "<i2").copy()
    for at in (5000, 30000, 61000):
        pcm[at:at + 30] = 30000
    clicks = Clip(pcm.tobytes(), clip.sample_rate_hz)
    result = assemble_section([("a", clicks, 700), ("b", speechlike(4, 3.0), 2000)],
                                    profile="podcast", tags=PLAIN, dest=tmp_path / "c.mp3",
                                    section_id="clicks")
    lufs, true_peak = measure_loudness(result.path)
    assert abs(lufs - (-19.0)) <= 1.0
    assert true_peak <= -1.5


def test_the_loudness_meter_matches_pyloudnorm():
    rate = 44100
    rng = np.random.default_rng(5)
    x = rng.standard_normal(rate * 7) * np.repeat(rng.uniform(0.0, 0.3, 70), rate // 10)
    meter = audio_loudness._Meter(rate)
    for start in range(0, len(x), 12345):  # odd blocks: filter state and sub-blocks carry
        meter.feed(x[start:start + 12345].astype(np.float32))
    levels = meter.levels()
    expected = pyloudnorm.Meter(rate).integrated_loudness(x.astype(np.float32))
    assert abs(levels.integrated_lufs - expected) <= 0.02
    assert abs(levels.rms_dbfs - rms_db(x)) <= 0.01


def test_the_true_peak_meter_sees_between_samples(tmp_path):
    # A quarter-rate sine sampled at 45 degrees: samples at 0.354, true peak 0.5.
    rate = 22050
    x = 0.5 * np.sin(2 * np.pi * np.arange(rate) / 4 + np.pi / 4)
    ramp = np.sin(np.linspace(0, np.pi / 2, 500)) ** 2  # an abrupt start would overshoot
    x[:500] *= ramp
    x[-500:] *= ramp[::-1]
    x = x.astype(np.float32)
    path = tmp_path / "sine.wav"
    soundfile.write(str(path), x, rate, subtype="FLOAT")
    _, true_peak = measure_loudness(path)
    assert 20 * math.log10(np.max(np.abs(x))) < -8.9
    assert abs(true_peak - 20 * math.log10(0.5)) <= 0.1


@pytest.mark.parametrize("extra_ms", [0, 3, 11, 17, 26])
def test_decoded_length_is_exact_whatever_the_length(tmp_path, extra_ms):
    items = [("a", speechlike(9, 0.5 + extra_ms / 1000, 22050), 1000)]
    result = assemble_section(items, profile="compact", tags=PLAIN,
                                    dest=tmp_path / "len.mp3", section_id="len")
    info = soundfile.info(str(result.path))
    # duration_ms is the exact sample count rounded to ms.
    assert abs(info.frames * 1000 / info.samplerate - result.duration_ms) <= 0.5


def test_every_length_is_aligned_to_whole_mp3_frames():
    for rate in (16000, 22050, 24000, 44100):
        frame = timeline._mp3_frame_size(rate)
        for n in (0, 1, 575, 576, 1151, 99_999):
            aligned = timeline._aligned_length(n, rate)
            assert 0 <= aligned - n < frame
            assert (aligned + timeline._MP3_DELAY_SAMPLES) % frame == 0


def test_silent_section_still_makes_a_file(tmp_path, caplog):
    silent = Clip(bytes(22050 * 2), 22050)
    with caplog.at_level(logging.WARNING, logger="publisher.audio"):
        result = assemble_section([("quiet", silent, 2000)], profile="podcast",
                                        tags=PLAIN, dest=tmp_path / "q.mp3", section_id="q")
    assert "silent" in caplog.text
    assert decode_duration_ms(result.path) == result.duration_ms


def test_bad_input_is_an_audio_error(tmp_path):
    with pytest.raises(AudioError, match="no narrated sentences"):
        assemble_section([], profile="podcast", tags=PLAIN, dest=tmp_path / "e.mp3",
                               section_id="empty")
    clip = speechlike(1, 0.3)
    with pytest.raises(AudioError, match="appears twice"):
        assemble_section([("a", clip, 300), ("a", clip, 300)], profile="podcast",
                               tags=PLAIN, dest=tmp_path / "d.mp3", section_id="dup")
    with pytest.raises(AudioError, match="negative pause"):
        assemble_section([("a", clip, -1), ("b", clip, 300)], profile="podcast",
                               tags=PLAIN, dest=tmp_path / "n.mp3", section_id="neg")
    assert not list(tmp_path.iterdir())


def test_language_codes_for_tags():
    assert audio_tags._iso639_2("en-GB") == "eng"
    assert audio_tags._iso639_2("de") == "deu"
    assert audio_tags._iso639_2("fra") == "fra"
    with pytest.raises(AudioError, match="BCP 47"):
        audio_tags._iso639_2("zz-nope")


def test_write_tags_on_a_path_that_is_not_there(tmp_path):
    from publisher.errors import OutputError

    with pytest.raises(OutputError):
        audio.write_tags(tmp_path / "missing" / "x.mp3", PLAIN, duration_ms=1000)


def test_build_record_figures(podcast: SectionAudio) -> None:
    # build.json reads these; keep their names stable.
    for key in ("profile", "bitrate_kbps", "head_ms", "tail_ms", "gain_db",
                "decoded_duration_ms", "decoded_lufs", "decoded_true_peak_dbtp"):
        assert key in podcast.extra
    assert isinstance(podcast.path, Path)


def test_one_master_for_podcast_and_compact(tmp_path):
    items = make_items(6, seed=30)
    podcast, compact = audio.assemble_section_files(
        items, (("podcast", tmp_path / "p.mp3"), ("compact", tmp_path / "c.mp3")),
        tags=TAGS, section_id="both")
    assert podcast.timings == compact.timings and podcast.duration_ms == compact.duration_ms
    for result in (podcast, compact):
        profile = audio.get_profile(result.extra["profile"])
        assert MP3(result.path).info.bitrate == profile.bitrate_kbps * 1000
        lufs, true_peak = measure_loudness(result.path)
        assert abs(lufs - profile.loudness_target_db) <= 1.0
        assert true_peak <= profile.peak_limit_dbtp
        assert decode_duration_ms(result.path) == result.duration_ms
    # Each is the file assemble_section makes alone for the same pair of profiles.
    again = audio.assemble_section_files(
        items, (("podcast", tmp_path / "p2.mp3"), ("compact", tmp_path / "c2.mp3")),
        tags=TAGS, section_id="both")
    assert [a.path.read_bytes() for a in again] == [podcast.path.read_bytes(),
                                                    compact.path.read_bytes()]


def test_a_profile_asked_for_twice_is_encoded_once_and_copied(tmp_path, monkeypatch):
    from publisher.audio import section

    items = make_items(6, seed=31)
    encoded = []
    real = section.encode_output
    monkeypatch.setattr(section, "encode_output",
                        lambda *args: encoded.append(args[3]) or real(*args))
    first, second = audio.assemble_section_files(
        items, (("podcast", tmp_path / "a.mp3"), ("podcast", tmp_path / "b" / "a.mp3")),
        tags=TAGS, section_id="twice")
    assert encoded == [tmp_path / "a.mp3"]
    assert second.path == tmp_path / "b" / "a.mp3"
    assert second.path.read_bytes() == first.path.read_bytes()
    assert (second.timings, second.duration_ms) == (first.timings, first.duration_ms)
    # The same bytes as encoding it alone.
    (alone,) = audio.assemble_section_files(items, (("podcast", tmp_path / "c.mp3"),),
                                            tags=TAGS, section_id="twice")
    assert alone.path.read_bytes() == first.path.read_bytes()


def test_sections_are_whole_aac_frames_and_decode_exactly(tmp_path):
    for extra_ms in (0, 7, 23):
        items = [("a", speechlike(11, 0.8 + extra_ms / 1000, 24000), 1000)]
        result = assemble_section(items, profile="podcast", tags=PLAIN,
                                        dest=tmp_path / f"{extra_ms}.mp3", section_id="x")
        frames = soundfile.info(str(result.path)).frames
        assert frames % audio.AAC_FRAME_SAMPLES == 0
        assert frames * 1000 // 22050 in (result.duration_ms, result.duration_ms - 1)
