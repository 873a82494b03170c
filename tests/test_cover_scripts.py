"""Covers in any script: whole words, shaped text, and a glyph for every character."""

from __future__ import annotations

import dataclasses
import io
import logging

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, features

from publisher import cover
from publisher.model import BookMeta

META = BookMeta(title="x", language="en",
                identifier="urn:uuid:00000000-0000-4000-8000-000000000001", slug="book")
WIDTH = cover.COVER_SIZE_PX - 2 * cover.MARGIN_PX

TITLES = {
    "en": "Contribution Guidelines for the Extraordinarily-Long-Hyphenated Words",
    "ar": "كتاب الخوارزميات وهياكل البيانات للمبتدئين",
    "he": "אלגוריתמים ומבני נתונים ב-JavaScript",
    "zh": "算法与数据结构的中文说明和练习",
    "ja": "アルゴリズムとデータ構造の入門",
    "hi": "हिन्दी में एल्गोरिदम और डेटा संरचनाएँ",
    "fa": "راهنمای شروع یک پروژه متن‌باز 🎉",
    "und": "Party Time 🎉🚀 with Friends 👩‍👩‍👧 and עברית, العربية, 中文, हिन्दी",
}


def cmap(face: cover._Face) -> set[int]:
    """The font's own cmap, read here independently of the code under test."""
    font = TTFont(face.path, fontNumber=face.index, lazy=True)
    try:
        return set(font.getBestCmap())
    finally:
        font.close()


@pytest.mark.parametrize("language", sorted(TITLES))
def test_every_character_of_a_title_has_a_glyph_in_its_font(language, caplog):
    title = TITLES[language]
    with caplog.at_level(logging.WARNING, logger="publisher.cover"):
        block = cover._fit(title, "bold", cover.TITLE_SIZES, WIDTH, 2000, language)
    assert not caplog.records, caplog.text  # no 'cannot show these characters'
    assert block.chain is not None
    seen = ""
    for line in block.lines:
        for text, face in block.chain.runs(line):
            assert face.path, f"{text!r} is in Pillow's built-in ASCII font"
            glyphs = cmap(face)
            for character in text:
                if character.isspace() or cover._ignorable(character):
                    continue
                assert ord(character) in glyphs, (
                    f"U+{ord(character):04X} {character!r} is not in {face.path}")
            seen += text
    assert "".join(seen.split()) == "".join(title.split())  # nothing lost or repeated


@pytest.mark.parametrize("language", sorted(TITLES))
def test_lines_break_between_words_or_after_a_hyphen_only(language):
    title = TITLES[language]
    block = cover._fit(title, "bold", cover.TITLE_SIZES, WIDTH, 2000, language)
    words = title.split()
    pieces = []
    for line in block.lines:
        pieces.extend(line.split())
    if language in ("zh", "ja"):
        return  # no spaces: any break between two ideographs or kana is a line break
    for piece in pieces:
        assert piece in words or any(
            piece in word and (piece.endswith("-") or word.endswith(piece)) for word in words), (
            f"{piece!r} is part of a word broken at a letter: {block.lines}")


def test_a_word_too_long_for_the_line_makes_the_size_smaller_not_a_break():
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    block = cover._fit(word, "bold", cover.TITLE_SIZES, WIDTH, 2000, "en")
    assert block.lines == (word,)
    assert block.chain is not None and block.chain.length(word) <= WIDTH
    assert block.chain.size < cover.TITLE_SIZES[1]


def test_a_hyphenated_word_breaks_after_its_hyphen():
    title = "Extraordinarily-Long-Hyphenated-Compound"
    block = cover._fit(title, "bold", (340, 300), WIDTH, 2000, "en")
    assert len(block.lines) > 1
    assert all(line.endswith("-") for line in block.lines[:-1])
    assert "".join(block.lines) == title


def test_complex_scripts_are_shaped():
    assert features.check("raqm"), "Pillow here has no libraqm: Arabic would not join"
    # Shaped Arabic joins its letters: the word is narrower than its isolated letters.
    chain = cover._Chain(cover._faces_for("كتاب", "bold", "ar"), 200, "bold")
    font = chain.font(chain.runs("كتاب")[0][1])
    isolated = sum(font.getlength(letter) for letter in "كتاب")
    assert font.getlength("كتاب") < isolated


@pytest.mark.parametrize("language", ["ar", "zh", "hi", "und"])
def test_covers_in_other_scripts_are_drawn(language, tmp_path):
    meta = dataclasses.replace(META, title=TITLES[language], language=language,
                               subtitle="", authors=("Ada Lovelace",))
    made = cover.make_cover(meta, tmp_path)
    image = Image.open(io.BytesIO(made.data)).convert("L")
    # Ink in the title area, and the background all round.
    top = image.crop((cover.MARGIN_PX, cover.MARGIN_PX, 3000 - cover.MARGIN_PX, 1800))
    assert top.getextrema()[0] < 60
    assert image.getpixel((5, 5)) > 230
