"""The pronunciation lexicon: replacement rules, PLS in and out, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from publisher.errors import ConfigError, SourceError
from publisher.lexicon import PLS_NAMESPACE, Lexicon, load_lexicon, read_pls

NS = {"pls": PLS_NAMESPACE}


def pls(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<lexicon version="1.0" xmlns="{PLS_NAMESPACE}" alphabet="ipa" xml:lang="en">\n'
        f"{body}\n</lexicon>\n"
    )


def test_acronym_is_spelled_out() -> None:
    lexicon = load_lexicon((("NSSI", "N S S I"),))
    assert lexicon.apply("NSSI is common.") == "N S S I is common."
    assert lexicon.apply("About NSSI, NSSI's causes and NSSI-related care.") == (
        "About N S S I, N S S I's causes and N S S I-related care."
    )


def test_whole_words_only_and_case_sensitive() -> None:
    lexicon = load_lexicon((("NSSI", "N S S I"), ("US", "U S")))
    assert lexicon.apply("NSSIs and xNSSI stay.") == "NSSIs and xNSSI stay."
    assert lexicon.apply("Tell us about the US.") == "Tell us about the U S."
    assert lexicon.apply("BUSY USA") == "BUSY USA"


def test_hyphenated_grapheme_and_longest_first() -> None:
    lexicon = load_lexicon((("self", "SELF"), ("self-harm", "self harm")))
    assert lexicon.apply("Self-harm and self-harm, self.") == "Self-harm and self harm, SELF."
    assert lexicon.apply("self-harming") == "SELF-harming"


def test_replacements_are_not_rescanned() -> None:
    lexicon = load_lexicon((("A", "B"), ("B", "C")))
    assert lexicon.apply("A B") == "B C"


def test_graphemes_with_punctuation() -> None:
    lexicon = load_lexicon((("Dr.", "Doctor"), ("C++", "C plus plus")))
    assert lexicon.apply("Ask Dr. Lee about C++.") == "Ask Doctor Lee about C plus plus."


def test_empty_lexicon_changes_nothing() -> None:
    assert Lexicon().apply("NSSI") == "NSSI"
    assert not load_lexicon()


def test_front_matter_errors_are_collected() -> None:
    with pytest.raises(ConfigError) as info:
        load_lexicon((("", "x"), ("NSSI", " ")))
    assert len(info.value.problems) == 2
    assert "'NSSI' has no pronunciation" in str(info.value)


def test_pls_round_trip(tmp_path: Path) -> None:
    lexicon = load_lexicon((("NSSI", "N S S I"), ("self-harm", "self harm"), ("A&E", "A and E")))
    data = lexicon.to_pls("en")
    assert data == lexicon.to_pls("en")  # deterministic
    root = etree.fromstring(data)
    assert root.tag == f"{{{PLS_NAMESPACE}}}lexicon"
    assert root.get("version") == "1.0"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert root.xpath("//pls:grapheme/text()", namespaces=NS) == ["NSSI", "self-harm", "A&E"]

    path = tmp_path / "book.pls"
    path.write_bytes(data)
    again = read_pls(path)
    assert again == lexicon
    assert again.digest == lexicon.digest


def test_digest_changes_with_entries() -> None:
    a = load_lexicon((("NSSI", "N S S I"),))
    b = load_lexicon((("NSSI", "N. S. S. I."),))
    assert a.digest != b.digest
    assert a.digest == load_lexicon((("NSSI", "N S S I"),)).digest


def test_pls_aliases_phoneme_only_entries_and_several_graphemes(tmp_path: Path) -> None:
    path = tmp_path / "words.pls"
    path.write_text(
        pls(
            "  <lexeme><grapheme>NSSI</grapheme><alias>N S S I</alias></lexeme>\n"
            "  <lexeme><grapheme>tomato</grapheme><phoneme>təˈmɑːtoʊ</phoneme></lexeme>\n"
            "  <lexeme><grapheme>GP</grapheme><phoneme>dʒiː piː</phoneme>"
            "<alias>G P</alias></lexeme>\n"
            "  <lexeme><grapheme>ok</grapheme><grapheme>OK</grapheme><alias>okay</alias></lexeme>"
        ),
        encoding="utf-8",
    )
    lexicon = load_lexicon((), path)
    assert lexicon.entries == (("NSSI", "N S S I"), ("GP", "G P"), ("ok", "okay"), ("OK", "okay"))
    assert len(lexicon.warnings) == 1
    assert f"{path}:4:" in lexicon.warnings[0] and "tomato" in lexicon.warnings[0]


def test_front_matter_wins_over_pls(tmp_path: Path) -> None:
    path = tmp_path / "words.pls"
    path.write_text(pls("<lexeme><grapheme>NSSI</grapheme><alias>nessie</alias></lexeme>"))
    lexicon = load_lexicon((("NSSI", "N S S I"),), path)
    assert lexicon.apply("NSSI") == "N S S I"
    assert "front matter" in lexicon.warnings[0]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            pls("<lexeme><grapheme>NSSI</grapheme><alias>N S S I</alias>\n</lexicon>"),
            4,
            "malformed pronunciation lexicon",
        ),
        ('<?xml version="1.0"?>\n<lexicon version="1.0"/>', 2, "PLS namespace"),
        (pls("\n<lexeme><alias>x</alias></lexeme>"), 4, "needs at least one non-empty <grapheme>"),
        (pls("<lexeme><grapheme>x</grapheme><alias> </alias></lexeme>"), 3, "empty <alias>"),
    ],
)
def test_bad_pls_names_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "bad.pls"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as info:
        load_lexicon((), path)
    assert str(info.value).startswith(f"{path}:{line}:")
    assert message in str(info.value)


def test_pls_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    path = tmp_path / "evil.pls"
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE lexicon [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        + pls("<lexeme><grapheme>x</grapheme><alias>&xxe;</alias></lexeme>").split("\n", 1)[1]
    )
    try:
        lexicon = load_lexicon((), path)
    except SourceError:
        return  # refusing the file is fine too
    assert "TOP SECRET" not in repr(lexicon)


def test_missing_pls_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read the pronunciation lexicon"):
        load_lexicon((), tmp_path / "nope.pls")
