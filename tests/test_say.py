"""``publisher say``: a phrase said as the book would say it (lexicon, normalization, voice)."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from publisher import say
from publisher.build import load_book
from publisher.cache import ClipCache
from publisher.options import BuildOptions, engine_spec
from publisher.script import script_book
from tests.audio_helpers import decode_duration_ms
from tests.helpers import run_cli

BOOK = """---
title: Say test
language: en
identifier: urn:uuid:00000000-0000-4000-8000-000000000019
pronunciations:
  NSSI: N S S I
  Nguyen: Win
---

# Say test

Dr. Nguyen said NSSI costs $5 on 3 May 2024.
"""
PHRASE = "Dr. Nguyen said NSSI costs $5 on 3 May 2024."
SAID = ("Doctor Win said N S S I costs five dollars on the third of May, "
        "twenty twenty-four.")  # a date written day first is said day first


@pytest.fixture
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the default cache, output/.cache, goes here
    path = tmp_path / "book.md"
    path.write_text(BOOK, encoding="utf-8")
    return path


def test_the_phrase_is_said_as_the_build_says_it(book):
    phrase = say.script_phrase(PHRASE, book)
    assert phrase.said == SAID
    # The very words a build of the book sends to the engine for that sentence.
    built = load_book(book, BuildOptions(engine="fake"))
    sentence = next(s for s in built.sentences if "costs" in s.html)
    assert script_book(built).text(sentence.id) == phrase.said


def test_only_the_phrase_is_said_not_the_books_title_page(book):
    phrase = say.script_phrase("Say test. Hello.", book)
    assert phrase.said == "Say test. Hello."  # the title as a sentence of the phrase, once
    assert [words for _, words, _ in phrase.parts] == ["Say test.", "Hello."]
    assert phrase.parts[0][2] > 0 and phrase.parts[-1][2] == 0  # pauses as in a build


def test_without_a_book_it_is_english_with_no_lexicon(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert say.script_phrase("Nguyen costs $5.").said == "Nguyen costs five dollars."


def test_say_writes_a_decodable_mp3_whose_spoken_text_follows_the_lexicon(book, capsys):
    out = book.parent / "phrase.mp3"
    code, printed = run_cli(["say", PHRASE, "--book", str(book), "--engine", "fake",
                             "-o", str(out)], capsys)
    assert code == 0, printed
    assert f"Said: {SAID}" in printed
    assert decode_duration_ms(out) > 1000
    assert out.read_bytes()[:3] == b"ID3"
    # The clip made is the clip of the lexicon's words, in the builds' cache.
    cache = ClipCache(Path("output/.cache"))
    spec = engine_spec(load_book(book, BuildOptions(engine="fake")), BuildOptions(engine="fake"))
    identity = spec().identity
    assert cache.key(identity, SAID) in cache
    assert cache.key(identity, PHRASE) not in cache


def test_say_writes_a_wav_by_its_suffix(book, capsys):
    out = book.parent / "phrase.wav"
    code, printed = run_cli(["say", "NSSI.", "--book", str(book), "--engine", "fake",
                             "-o", str(out)], capsys)
    assert code == 0, printed
    assert "Said: N S S I." in printed
    with wave.open(str(out)) as audio:
        assert audio.getnchannels() == 1 and audio.getsampwidth() == 2
        assert audio.getnframes() > audio.getframerate() // 10


def test_with_no_sound_device_it_says_to_use_a_file(book, capsys, monkeypatch):
    monkeypatch.setattr(say, "_has_sound_device", lambda: False)
    code, printed = run_cli(["say", "Hello.", "--engine", "fake"], capsys)
    assert code == 1
    assert "No sound device" in printed and "-o phrase.mp3" in printed
    assert "Traceback" not in printed


@pytest.mark.parametrize(("args", "message"), [
    (["say", "Hello.", "-o", "phrase.ogg"], "say writes .mp3 or .wav files"),
    (["say", "Hello.", "--book", "missing.md", "-o", "a.mp3"], "--book missing.md: no such"),
    (["say", "   ", "-o", "a.mp3"], "Nothing to say"),
    (["say", "Hello.", "--rate", "9", "-o", "a.mp3"], "--rate 9.0: expected"),
    (["say", "Hello.", "-o", "no/such/folder/a.mp3", "--engine", "fake"], "does not exist"),
])
def test_user_errors_are_clear(book, capsys, args, message):
    code, printed = run_cli(args, capsys)
    assert code == 1
    assert message in printed and "Traceback" not in printed


@pytest.mark.slow
def test_piper_says_the_lexicons_words(book, capsys):
    out = book.parent / "piper.wav"
    code, printed = run_cli(["say", "NSSI.", "--book", str(book), "--engine", "piper",
                             "-o", str(out)], capsys)
    assert code == 0, printed
    assert "Said: N S S I." in printed
    with wave.open(str(out)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert 0.8 < seconds < 6  # four letters said one by one, not the word "nssi"
