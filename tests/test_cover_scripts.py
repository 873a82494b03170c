"""Covers in any script: whole words, shaped text, and a glyph for every character."""

from __future__ import annotations

import ctypes
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


# --------------------------------------------------------------------------- bidi order

#: Lines mixing scripts (and so fonts) with numbers, punctuation and emoji between
#: them; the first seven were drawn in a wrong order before the runs were ordered by
#: UAX #9 levels.
MIXED = [
    "Chapter 3: الفصل 3 من 10",
    "In עברית, العربية today",
    "Party: مرحبا 🎉 بالعالم",
    "שלום, مرحبا and hello",
    "中文 and العربية 2024",
    "Notes on كتاب 2, عبري 3 today",
    "مرحبا 🎉, עברית",
    "كتاب Python 3 للمبتدئين",
    "Learn العربية and עברית today",
    "Hello (مرحبا) World",
    "דוח 2024 على Python 3.12 ועוד",
    "Read العربية, עברית now",
]

#: FriBiDi's paragraph directions: found from the first strong letter, LTR, RTL.
PAR = {None: 0x40, "ltr": 0x110, "rtl": 0x111}


def uba_levels(text: str, direction: str | None = None) -> list[int]:
    """Embedding levels by UAX #9, asked of FriBiDi here without the code under test."""
    library = ctypes.CDLL("libfribidi.so.0")
    library.fribidi_get_par_embedding_levels_ex.restype = ctypes.c_int8
    size = len(text)
    characters = (ctypes.c_uint32 * size)(*map(ord, text))
    types, brackets = (ctypes.c_uint32 * size)(), (ctypes.c_uint32 * size)()
    levels = (ctypes.c_int8 * size)()
    library.fribidi_get_bidi_types(characters, size, types)
    library.fribidi_get_bracket_types(characters, size, types, brackets)
    par = ctypes.c_uint32(PAR[direction])
    assert library.fribidi_get_par_embedding_levels_ex(types, brackets, size,
                                                       ctypes.byref(par), levels)
    return list(levels)


def uba_visual(text: str, direction: str | None = None) -> str:
    """``text`` left to right: rule L2 applied character by character."""
    levels = uba_levels(text, direction) if text else []
    order = list(range(len(text)))
    if levels:
        for threshold in range(max(levels), (min(levels) | 1) - 1, -1):
            start = 0
            while start < len(order):
                end = start
                while end < len(order) and levels[order[end]] >= threshold:
                    end += 1
                order[start:end] = order[start:end][::-1]
                start = end + 1 if end == start else end
    return "".join(text[i] for i in order)


class RecordingDraw:
    """Stands in for ImageDraw: records each run's left edge, text and direction."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str, str | None]] = []

    def text(self, xy, text, font=None, fill=None, anchor=None, direction=None, **_):
        left = xy[0] - (font.getlength(text) / 2 if anchor == "ma" else 0)
        self.calls.append((left, text, direction))


def drawn_runs(line: str) -> list[tuple[str, str | None]]:
    """The runs ``_draw_block`` draws for ``line`` (at 100 px), left to right."""
    chain = cover._Chain(cover._faces_for(line, "bold", "und"), 100, "bold")
    draw = RecordingDraw()
    cover._draw_block(draw, cover._Block(chain.primary, (line,), 120, chain), 1500, 0)
    return [(text, direction) for _, text, direction in sorted(draw.calls)]


@pytest.mark.parametrize("line", MIXED)
def test_mixed_lines_are_drawn_in_the_order_of_the_bidi_algorithm(line):
    assert features.check("raqm")
    # Each run is laid out by raqm on its own (in the direction given, else the
    # one of its first strong letter), the runs side by side: the letters must
    # end up where UAX #9 puts them in the whole line.
    drawn = "".join(uba_visual(text, direction) for text, direction in drawn_runs(line))
    assert drawn == uba_visual(line)


def test_an_arabic_phrase_with_numbers_in_a_latin_line():
    line = "Chapter 3: الفصل 3 من 10"
    assert uba_levels(line) == [0] * 11 + [1] * 6 + [2] + [1] * 4 + [2, 2]  # UAX #9 by hand
    assert list(cover._levels(line)) == uba_levels(line)
    runs = [(text.strip(), direction) for text, direction in drawn_runs(line) if text.strip()]
    assert runs == [("Chapter 3:", "ltr"), ("10", "ltr"), ("من", "rtl"), ("3", "ltr"),
                    ("الفصل", "rtl")]


@pytest.mark.parametrize("line", ["Read العربية, עברית now", "العربية, עברית"])
def test_hebrew_after_arabic_is_drawn_to_its_left(line):
    texts = [text.strip(", ") for text, _ in drawn_runs(line)]
    assert texts.index("עברית") < texts.index("العربية")


def test_a_comma_between_hebrew_and_arabic_in_another_font_stays_with_them():
    runs = drawn_runs("In עברית, العربية today")
    texts = [text for text, _ in runs]
    assert texts[0].strip() == "In" and texts[-1].strip() == "today"
    assert [t.strip() for t in texts[1:-1] if t.strip()] == ["العربية", ",", "עברית"]
    assert all(direction == "rtl" for _, direction in runs[1:-1])


def test_an_emoji_between_arabic_words_is_drawn_between_them():
    texts = [text.strip() for text, _ in drawn_runs("Party: مرحبا 🎉 بالعالم") if text.strip()]
    assert texts == ["Party:", "بالعالم", "🎉", "مرحبا"]


def test_rule_l2_reverses_from_the_highest_level_to_the_lowest_odd_one():
    face = cover._Face("")
    runs = [("a", face, 0), ("b", face, 1), ("c", face, 2), ("d", face, 2), ("e", face, 1),
            ("f", face, 0)]
    assert [t for t, _, _ in cover._visual_order(runs)] == list("aecdbf")
    assert [t for t, _, _ in cover._visual_order(runs[1:5])] == list("ecdb")


@pytest.mark.parametrize("line", MIXED)
def test_every_character_of_a_mixed_line_has_a_glyph(line, caplog):
    with caplog.at_level(logging.WARNING, logger="publisher.cover"):
        chain = cover._Chain(cover._faces_for(line, "bold", "und"), 100, "bold")
    assert not caplog.records, caplog.text
    for text, face, _ in chain.bidi_runs(line):
        glyphs = cmap(face)
        for character in text:
            if not (character.isspace() or cover._ignorable(character)):
                assert ord(character) in glyphs, f"{character!r} is not in {face.path}"
    assert "".join(text for text, _, _ in chain.bidi_runs(line)) == line
