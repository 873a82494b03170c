"""Normalization: table-driven cases per language (tests/normalize_cases/*.txt).

Each line of a table is ``kind | written | said``: a real-looking sentence
and the words a listener must hear, spelled out by hand.
"""

from __future__ import annotations

from pathlib import Path

import emoji as emoji_data
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.normalize import normalize

CASES = Path(__file__).parent / "normalize_cases"


def _cases(language: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in (CASES / f"{language}.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, rest = line.split(" | ", 1)
        written, said = rest.rsplit(" | ", 1)
        rows.append((kind, written, said))
    return rows


def _params(language: str) -> list[object]:
    return [pytest.param(written, said, id=f"{language}-{kind}-{i}")
            for i, (kind, written, said) in enumerate(_cases(language))]


@pytest.mark.parametrize(("written", "said"), _params("en"))
def test_english(written, said):
    assert normalize(written, "en").text == said


@pytest.mark.parametrize(("written", "said"), _params("es"))
def test_spanish(written, said):
    assert normalize(written, "es").text == said


@pytest.mark.parametrize(("written", "said"), _params("fr"))
def test_french(written, said):
    assert normalize(written, "fr").text == said


@pytest.mark.parametrize(("written", "said"), _params("de"))
def test_german(written, said):
    assert normalize(written, "de").text == said


@pytest.mark.parametrize(("written", "said"), _params("it"))
def test_italian(written, said):
    assert normalize(written, "it").text == said


@pytest.mark.parametrize(("written", "said"), _params("pt"))
def test_portuguese(written, said):
    # The voices narrate pt-BR: dezesseis, not dezasseis.
    assert normalize(written, "pt-BR").text == said


@pytest.mark.parametrize(("written", "said"), _params("other"))
def test_other_languages(written, said):
    language, text = written.split(": ", 1)
    assert normalize(text, language).text == said


def test_enough_cases_of_every_kind():
    counts = {lang: len(_cases(lang)) for lang in ("en", "es", "fr", "de", "it", "pt")}
    assert counts["en"] >= 150 and min(counts["es"], counts["fr"], counts["de"]) >= 40, counts
    assert min(counts["it"], counts["pt"]) >= 25, counts
    other = {written.split(": ", 1)[0] for _, written, _ in _cases("other")}
    assert {"zh", "ar"} <= other
    assert min(sum(w.startswith(f"{code}: ") for _, w, _ in _cases("other"))
               for code in ("zh", "ar")) >= 8
    kinds = {kind for kind, _, _ in _cases("en")}
    assert {"cardinal", "decimal", "ordinal", "year", "decade", "date", "time", "range",
            "percent", "currency", "phone", "fraction", "version", "section", "unit",
            "roman", "abbreviation", "acronym", "slash", "ampersand", "math", "handle",
            "hashtag", "email", "url", "emoji", "code"} <= kinds
    for code in ("es", "fr", "de", "it", "pt"):
        assert {"cardinal", "decimal", "date", "code", "fraction", "gender",
                "emoji"} <= {k for k, _, _ in _cases(code)}, code


def test_changes_say_which_rule_changed_which_span():
    result = normalize("It costs $51.75 on 2030/11/09.", "en")
    assert [(c.rule, c.written, c.said) for c in result.changes] == [
        ("date", "2030/11/09", "November ninth, twenty thirty"),
        ("money", "$51.75", "fifty-one dollars and seventy-five cents"),
    ] or sorted((c.rule, c.written) for c in result.changes) == [
        ("date", "2030/11/09"), ("money", "$51.75")]
    for change in result.changes:
        assert "It costs $51.75 on 2030/11/09."[change.start:change.end] == change.written


def test_lexicon_words_are_left_to_the_lexicon():
    assert normalize("NSSI and CBT help.", "en", frozenset({"NSSI"})).text == \
        "NSSI and C.B.T help."


def test_a_language_without_rules_gets_the_neutral_ones_and_one_warning(caplog):
    with caplog.at_level("WARNING"):
        first = normalize("Ik heb 3 appels 🍎 op https://example.nl.", "nl")
        normalize("Nog 4.", "nl")
    assert first.text == "Ik heb 3 appels op example dot nl."
    assert sum("'nl'" in r.getMessage() for r in caplog.records) <= 1


def test_numbers_agree_with_the_gender_of_their_noun():
    assert normalize("21 personas y 21 libros", "es").text == "veintiuna personas y veintiún libros"
    assert normalize("1 semaine, 1 jour", "fr").text == "une semaine, un jour"
    assert normalize("2 horas, 2 dias", "pt-BR").text == "duas horas, dois dias"
    assert normalize("1 settimana, 1 giorno", "it").text == "una settimana, un giorno"
    assert normalize("1 Woche", "de").text == "eine Woche"
    # Up to a "million" the number keeps its form: un millón de personas.
    assert normalize("1.000.000 de personas", "es").text == "un millón de personas"


def test_german_emoji_names_have_their_capitals():
    assert normalize("Ich bin 😢 heute.", "de").text == "Ich bin weinendes Gesicht heute."
    assert normalize("On va en 🇫🇷 demain.", "fr").text == "On va en drapeau France demain."


def test_code_spans_keep_every_symbol():
    said = normalize("Try `a -> b`, `x != y`, `--force`.", "en").text
    assert said == ("Try a dash greater than b, x exclamation mark equals y, "
                    "dash dash force.")


# --- properties -------------------------------------------------------------------------


_PIECES = st.sampled_from([
    "3", "12", "1,234", "1.234", "3,14", "3.14", "45%", "$51.75", "25 €", "9/16", "1/2",
    "2030/11/09", "2026-01-05", "10:30", "4-72", "§ 12", "v1.2.3", "5 kg", "25 °C", "1st",
    "2e", "3.", "1990s", "IV", "Henry VIII", "e.g.", "CBT", "and/or", "tools/a.py", "&",
    "+", "=", "<", ">", "|", "*", "#tag", "#3", "@jo", "a@b.org", "https://x.org/p",
    "🎉", "❤️", "🧑\u200d🏫", "`code`", "[link]", "_x_", "{y}", "~", "^", "\\", "word",
    "Mai", "mayo", "z. B.", "p. ej.", "(877) 472-6716", "+44 20 7946 0958", "٢٥", "3º",
])
_TEXTS = st.lists(_PIECES, min_size=1, max_size=8).map(" ".join)
_MARKUP_CHARS = set("*_[]{}<>|\\^`~#@")


@settings(max_examples=300, deadline=None)
@given(_TEXTS, st.sampled_from(["en", "es", "fr", "de", "it", "pt"]))
def test_spoken_text_has_no_markup_digits_or_emoji(text, language):
    said = normalize(text, language).text
    assert not _MARKUP_CHARS & set(said), said
    assert not any(c.isdigit() for c in said), said
    assert not emoji_data.emoji_list(said), said
    assert "\ufe0f" not in said and "\u200d" not in said


def test_a_code_block_is_announced_in_the_books_language_even_without_its_rules(tmp_path):
    """Dutch, Japanese ... have no normalization table: their code-block notice is
    still in their words (it was English, said in the book's own voice)."""
    from publisher.build import load_book
    from publisher.normalize import code_block_notice
    from publisher.normalize.languages import CODE_BLOCK_NOTICES, LANGUAGES
    from publisher.options import BuildOptions

    assert code_block_notice(1, "nl") == "Codevoorbeeld, één regel, in de tekst."
    assert code_block_notice(3, "nl-BE") == "Codevoorbeeld, 3 regels, in de tekst."
    assert code_block_notice(2, "ja") == "コード例、2行、本文を参照。"
    assert code_block_notice(2, "de") == "Codebeispiel, zwei Zeilen, im Text."
    assert code_block_notice(2, "xx") == "Code example, two lines, shown in the text."
    assert not set(CODE_BLOCK_NOTICES) & set(LANGUAGES)  # one place per language
    assert all("{n}" in many and "{n}" not in one for one, many in CODE_BLOCK_NOTICES.values())
    source = tmp_path / "boek.md"
    source.write_text("---\ntitle: Boek\nlanguage: nl\n---\n\n## Een\n\nDit is tekst.\n\n"
                      "```\nprint(1)\nprint(2)\n```\n", encoding="utf-8")
    book = load_book(source, BuildOptions())
    spoken = [s.spoken for s in book.sections[-1].sentences]
    assert "Codevoorbeeld, 2 regels, in de tekst." in spoken, spoken
