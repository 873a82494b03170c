"""Voices for every book: Kokoro and eSpeak NG, the voice chosen by the book's
language, and never a voice of another language."""

from __future__ import annotations

import hashlib
import json

import pytest

from publisher.build import build
from publisher.options import BuildOptions
from publisher.speech import list_voices, make_engine
from publisher.speech.choose import VoiceLanguageError, choose_voice

from .audio_helpers import decode_duration_ms
from .helpers import run_cli, snapshot, write_book

GERMAN = """\
## Ein Anfang

Wenn alles zu viel wird, hilft es, langsamer zu werden. Atme ruhig ein und aus.
"""


# --------------------------------------------------------------------------- choosing


def test_the_default_voice_follows_the_book_language():
    assert choose_voice("en").voice == choose_voice("en-US").voice
    assert (choose_voice("en").engine, choose_voice("en").voice) == ("kokoro", "af_heart")
    # The book's own region first: a British book gets the British voice, unwarned.
    assert (choose_voice("en-GB").voice, choose_voice("en-GB").warnings) == ("bf_emma", ())
    assert choose_voice("es").voice == "ef_dora"
    assert choose_voice("fr-CA").voice == "ff_siwis"
    assert choose_voice("zh").voice == "zf_xiaobei"
    assert choose_voice("en", "piper") == choose_voice("en", "piper", None)
    assert choose_voice("en", "piper").voice == "en_US-joe-medium"


@pytest.mark.parametrize("language", ["de", "ar", "sw"])
def test_no_installed_voice_gives_the_choices(language):
    with pytest.raises(VoiceLanguageError) as info:
        choose_voice(language)
    message = str(info.value)
    assert f"'{language}'" in message and "no offline voice" in message
    for choice in ("--engine gtts", "--no-audio", "--voice PATH.onnx", "--engine espeak"):
        assert choice in message


def test_a_voice_of_another_language_is_refused_naming_both(tmp_path):
    with pytest.raises(VoiceLanguageError, match=r"'ef_dora' speaks 'es'.*language is 'fr'"):
        choose_voice("fr", "kokoro", "ef_dora")
    with pytest.raises(VoiceLanguageError, match="'piper' engine has no voice.*'es'"):
        choose_voice("es", "piper")  # the bundled Piper voice is US English
    voice = tmp_path / "de_DE-thorsten-medium.onnx"
    voice.write_bytes(b"onnx")
    voice.with_name(voice.name + ".json").write_text(json.dumps(
        {"language": {"code": "de_DE"}, "audio": {"sample_rate": 22050},
         "phoneme_id_map": {}}), encoding="utf-8")
    with pytest.raises(VoiceLanguageError, match=r"speaks 'de-DE'.*language is 'en'"):
        choose_voice("en", "piper", str(voice))
    assert choose_voice("de-AT", "piper", str(voice)).warnings  # another region warns
    assert choose_voice("de", None, str(voice)).engine == "piper"  # a file is a Piper voice


def test_english_of_another_region_warns():
    choice = choose_voice("en-GB", "kokoro", "af_heart")
    assert choice.voice == "af_heart"
    assert "'en-GB'" in choice.warnings[0] and "'en-US'" in choice.warnings[0]


def test_espeak_is_never_a_default_but_speaks_when_asked():
    assert all(choose_voice(tag).engine != "espeak" for tag in ("en", "es", "fr"))
    assert choose_voice("de", "espeak").voice == "de"
    with pytest.raises(VoiceLanguageError, match="eSpeak NG has no voice"):
        choose_voice("tlh", "espeak")


def test_voices_lists_language_quality_size_licence(capsys):
    voices = {(v.engine, v.name): v for v in list_voices()}
    heart = voices["kokoro", "af_heart"]
    assert heart.available and heart.language == "en-US" and "Apache-2.0" in heart.licence
    assert heart.wer is not None and heart.rtf is not None and heart.size_mb
    assert "CC0" in voices["piper", "en_US-joe-medium"].licence
    assert ("espeak", "de") in voices
    code, text = run_cli(["voices", "--language", "es"], capsys)
    assert code == 0 and "ef_dora" in text and "af_heart" not in text
    code, text = run_cli(["voices", "--language", "de"], capsys)
    assert code == 0 and "No offline neural voice for 'de'" in text


def test_kokoro_rate_outside_its_range_is_a_clear_error(tmp_path):
    from publisher.errors import ConfigError

    with pytest.raises(ConfigError, match="0.5 to 2.0"):
        make_engine("kokoro", "af_heart", 2.5, "en")
    with pytest.raises(ConfigError, match="no voice 'xx_nobody'"):
        make_engine("kokoro", "xx_nobody", 1.0, "en")


# --------------------------------------------------------------------------- German books


def test_german_book_without_a_voice_fails_before_synthesis(tmp_path, capsys):
    german = write_book(tmp_path, GERMAN, name="buch.md", language="de")
    english = write_book(tmp_path, "## One\n\nA short English book.\n", name="book.md",
                         engine="fake")
    out = tmp_path / "out"
    code, text = run_cli(["build", str(german), "-o", str(out), "--workers", "1"], capsys)
    assert code == 1 and "Traceback" not in text
    assert "language is 'de'" in text and "--engine espeak" in text
    assert not out.exists()  # nothing written
    code, text = run_cli(["build", str(german), str(english), "-o", str(out), "--workers",
                          "1"], capsys)
    assert code == 1 and "language is 'de'" in text
    assert not (out / "buch").exists()
    assert (out / "book" / "book.epub").is_file()  # the other book of the run still builds
    code, _ = run_cli(["build", str(german), "-o", str(out), "--no-audio"], capsys)
    assert code == 0 and (out / "buch" / "buch.epub").is_file()


@pytest.mark.slow
def test_german_book_with_espeak_narrates_the_same_bytes(tmp_path, capsys):
    german = write_book(tmp_path, GERMAN, name="buch.md", language="de")
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        code, text = run_cli(["build", str(german), "-o", str(out), "--engine", "espeak",
                              "--workers", "1"], capsys)
        assert code == 0, text
        outs.append(snapshot(out / "buch"))
    record = json.loads(outs[0]["build.json"])
    assert record["narration"]["engine"] == "espeak"
    assert record["narration"]["engine_identity"]["voice"] == "de"
    assert outs[0] == outs[1]


# --------------------------------------------------------------------------- Kokoro speaks

#: language: (tag, voice, title, text). The book has no heading, so its one
#: section is the title page: the title is said, then the text.
PASSAGES = {
    "en": ("en", "af_heart", "Breathing", "Take a slow breath. Notice five things you can see."),
    "es": ("es", "ef_dora", "Respirar", "Respira despacio. Mira cinco cosas a tu alrededor."),
    "fr": ("fr", "ff_siwis", "Respirer", "Respirez lentement. Regardez cinq choses autour de vous."),
    "zh": ("zh", "zf_xiaobei", "呼吸", "慢慢地呼吸。看看你周围的五样东西。"),
}
#: Round-trip error bounds (word error rate; characters for Chinese), from measuring:
#: each passage was heard with no error here (see the README's voices table for
#: the longer passages); the bound leaves room for one or two misheard words
#: of a short passage without letting a wrong-language or garbled clip pass.
BOUNDS = {"en": 0.15, "es": 0.25, "fr": 0.25, "zh": 0.3}


@pytest.fixture(scope="module")
def whisper_base(tmp_path_factory):
    from publisher.hearing import WhisperTranscriber, multilingual_model_path

    return WhisperTranscriber(multilingual_model_path(tmp_path_factory.mktemp("whisper")))


@pytest.mark.slow
@pytest.mark.parametrize("language", sorted(PASSAGES))
def test_kokoro_speaks_the_language_of_the_book(language, tmp_path, whisper_base):
    from publisher.hearing import normalize_words
    from publisher.proof import _errors

    tag, voice, title, passage = PASSAGES[language]
    source = write_book(tmp_path, f"{passage}\n", name="book.md", language=tag, title=title)
    text = f"{title}{'。' if language == 'zh' else '.'} {passage}"
    result = build(source, BuildOptions(out_root=tmp_path / "out", workers=1))
    record = result.record
    assert record["narration"]["engine"] == "kokoro"  # the default for the language
    assert record["narration"]["engine_identity"]["voice"] == voice
    section = record["sections"][-1]
    path = result.out_dir / section["audio"]
    assert abs(decode_duration_ms(path) - section["duration_ms"]) <= 50
    timings = section["timings"]
    for before, after in zip(timings, timings[1:], strict=False):
        assert before["start_ms"] < before["end_ms"] == after["start_ms"]
    assert 500 <= timings[0]["start_ms"] <= 1000
    assert 1000 <= section["duration_ms"] - timings[-1]["end_ms"] <= 3000

    segments, info = whisper_base._model.transcribe(str(path), language=None, beam_size=5,
                                                    temperature=0.0)
    heard = "".join(s.text for s in segments)
    assert info.language == language
    if language == "zh":
        said = [c for c in text if c.isalnum()]
        errors = _errors(said, [c for c in heard if c.isalnum()]) / len(said)
    else:
        said = normalize_words(text, language=tag)
        errors = _errors(said, normalize_words(heard, language=tag)) / len(said)
    assert errors <= BOUNDS[language], heard


@pytest.mark.slow
def test_english_acronyms_are_said_as_letters_by_kokoro(tmp_path, whisper_base):
    """The English script writes an acronym said letter by letter with dots ("A.P.I's",
    "F.A.Q"): eSpeak reads a lone "A" as the article and "A P Is" as "A P is". Kokoro
    is given the letters as one word (no sentence-ending dot between them), and the
    recognizer hears the acronyms (spaced letters: "three appears, the FQ, the I team")."""
    from publisher.audio.phrase import write_wav
    from publisher.hearing import normalize_words
    from publisher.normalize import say
    from publisher.speech.kokoro import KokoroEngine

    written = "We tested three APIs, the FAQ, the AI team and QA."
    spoken = say(written, "en")
    assert spoken == "We tested three A.P.I's, the F.A.Q, the A.I team and Q.A."
    engine = KokoroEngine("af_heart", model_cache=tmp_path / "voices")
    phonemes = engine.phonemes(spoken)
    assert "." not in phonemes[:-1], phonemes  # only the sentence's own full stop
    wav = write_wav([("s", engine.synthesize(spoken), 0)], tmp_path / "acronyms.wav")
    heard = normalize_words(" ".join(w.text for w in whisper_base.transcribe(wav, "en")))
    for acronym in ("apis", "faq", "ai", "qa"):
        assert acronym in heard, (heard, whisper_base.transcribe(wav, "en"))
    assert normalize_words(spoken) == normalize_words(written) == heard


@pytest.mark.slow
def test_kokoro_same_text_same_bytes_across_threads_and_builds(tmp_path):
    from publisher.speech.kokoro import KokoroEngine

    text = "You are not alone, and this feeling will pass."
    one = KokoroEngine("af_heart", threads=1, model_cache=tmp_path / "voices")
    two = KokoroEngine("af_heart", threads=2, model_cache=tmp_path / "voices")
    first = one.synthesize(text)
    one.synthesize("Something else in between.")
    assert one.synthesize(text) == first == two.synthesize(text)
    (kept,) = (tmp_path / "voices").glob("kokoro-*.onnx")  # the joined model, in the cache
    assert kept.stat().st_size == 92_361_271
    assert one.identity["model_sha256"] == hashlib.sha256(kept.read_bytes()).hexdigest()
    assert one.identity != KokoroEngine("am_michael").identity
    assert one.identity != KokoroEngine("af_heart", rate=1.2).identity

    source = write_book(tmp_path, "## One\n\nA calm sentence. Another one.\n", language="en")
    built = [snapshot(build(source, BuildOptions(out_root=tmp_path / run, workers=1,
                                                 engine="kokoro")).out_dir)
             for run in ("a", "b")]
    assert built[0] == built[1]


def test_kokoro_splits_long_sentences_within_its_context():
    from publisher.speech.kokoro import MAX_PHONEMES, _chunks

    clause = "ðɪs ɪz ɐ lˈɔŋ klˈɔz,"
    phonemes = " ".join([clause] * 60) + " " + "a" * 600
    pieces = _chunks(phonemes)
    assert len(pieces) > 2 and all(0 < len(p) <= MAX_PHONEMES for p in pieces)
    assert "".join(pieces).replace(" ", "") == phonemes.replace(" ", "")
    assert _chunks("hˈɛloʊ.") == ["hˈɛloʊ."]
