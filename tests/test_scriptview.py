"""``publisher script``: the narration as text, JSON and HTML, never synthesized."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from lxml import html as lxml_html

from publisher import scriptview

from .helpers import run_cli

FIXTURES = Path(__file__).parent / "fixtures"
FIRST_BOOK = Path(__file__).parent.parent / "content" / "unpacking-self-harm.md"
SCHEMA = json.loads(scriptview.SCHEMA_PATH.read_text(encoding="utf-8"))


def test_fixture_script_is_the_golden_one(capsys):
    code, out = run_cli(["script", str(FIXTURES / "numbers.md")], capsys)
    assert code == 0
    assert out == (FIXTURES / "numbers.script.txt").read_text(encoding="utf-8")


def test_first_book_script_is_stable_and_json_validates(capsys):
    outputs = []
    for _ in range(2):
        code, out = run_cli(["script", "--format", "json", str(FIRST_BOOK)], capsys)
        assert code == 0
        outputs.append(out)
    assert outputs[0] == outputs[1]
    data = json.loads(outputs[0])
    jsonschema.validate(data, SCHEMA)
    sentences = [s for section in data["sections"] for s in section["sentences"]]
    assert len(sentences) == 60
    # The lexicon has the last word: NSSI is spelled as the front matter says.
    assert all("NSSI" not in s["spoken"] for s in sentences)
    us = next(s for s in sentences if "In the US" in s["display"])
    assert us["spoken"].startswith("In the U.S, for example")


def test_changed_lists_exactly_the_changed_sentences(capsys):
    lines = scriptview.read_script(FIXTURES / "numbers.md")
    expected = [line.sentence_id for line in lines if line.changed]
    code, out = run_cli(["script", "--changed", "--format", "json",
                         str(FIXTURES / "numbers.md")], capsys)
    data = json.loads(out)
    jsonschema.validate(data, SCHEMA)
    listed = [s["id"] for section in data["sections"] for s in section["sentences"]]
    assert listed == expected and len(expected) == 6
    assert all(s["changed"] and s["spoken"] != s["display"]
               for section in data["sections"] for s in section["sentences"])
    code, text = run_cli(["script", "--changed", str(FIXTURES / "numbers.md")], capsys)
    assert "This line has nothing to change" not in text and "s-6ca46b3384" not in text
    assert [line.split(":")[0] for line in text.splitlines()
            if line.startswith("s-")] == expected


def test_first_book_changes_are_the_ones_reviewed(capsys):
    code, out = run_cli(["script", "--changed", "--format", "json", str(FIRST_BOOK)], capsys)
    changes = sorted({(c["rule"], c["written"], c["said"])
                      for section in json.loads(out)["sections"]
                      for s in section["sentences"] for c in s["changes"]})
    assert changes == [("abbreviation", "etc.", "et cetera"), ("acronym", "US", "U.S"),
                       ("lexicon", "NSSI", "N S S I"), ("number", "2", "two"),
                       ("slash", "/", "or"), ("symbol", "+", "plus")]


def test_html_is_self_contained_and_highlights_changes(tmp_path, capsys):
    target = tmp_path / "script.html"
    code, _ = run_cli(["script", "--format", "html", "-o", str(target),
                       str(FIXTURES / "numbers.md")], capsys)
    assert code == 0
    page = lxml_html.fromstring(target.read_bytes())
    assert not page.xpath("//script[@src] | //link[@rel='stylesheet'] | //img")
    marks = [m.text_content() for m in page.xpath("//mark")]
    assert "fifty-one dollars and seventy-five cents" in marks
    assert "September sixteenth" in marks


def test_errors_are_clear_messages(tmp_path, capsys):
    code, out = run_cli(["script", str(tmp_path / "missing.md")], capsys)
    assert code == 1 and "no such Markdown file" in out and "Traceback" not in out
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: [unclosed\n---\n# x\n", encoding="utf-8")
    code, out = run_cli(["script", str(bad)], capsys)
    assert code == 1 and "bad.md" in out and "Traceback" not in out
    code, out = run_cli(["script", "-o", str(tmp_path / "no" / "dir" / "x.txt"),
                         str(FIXTURES / "numbers.md")], capsys)
    assert code == 1 and "cannot write the script" in out


def test_abbreviation_definitions_are_said_in_full_once_per_section(tmp_path, capsys):
    book = tmp_path / "abbr.md"
    book.write_text("---\ntitle: Abbr\nlanguage: en\n---\n\n# One\n\nNSSI is common. "
                    "People use NSSI to cope.\n\n# Two\n\nThe WHO studies NSSI, see `x != y`."
                    "\n\n*[NSSI]: non-suicidal self-injury\n*[WHO]: World Health Organization\n",
                    encoding="utf-8")
    code, out = run_cli(["script", "--format", "json", str(book)], capsys)
    assert code == 0
    data = json.loads(out)
    jsonschema.validate(data, SCHEMA)
    said = {s["display"]: s for section in data["sections"] for s in section["sentences"]}
    # The first use in each section: in full, then as written; later uses as written.
    assert said["NSSI is common."]["spoken"] == "non-suicidal self-injury (N.S.S.I) is common."
    assert ("abbreviation", "NSSI", "non-suicidal self-injury") in [
        (c["rule"], c["written"], c["said"]) for c in said["NSSI is common."]["changes"]]
    assert said["People use NSSI to cope."]["spoken"] == "People use N.S.S.I to cope."
    assert not any(c["rule"] == "abbreviation"
                   for c in said["People use NSSI to cope."]["changes"])
    # A code span is one piece of the sentence ("!" is no sentence end), said as written.
    last = said["The WHO studies NSSI, see x != y."]
    assert last["spoken"] == ("The World Health Organization (W.H.O) studies non-suicidal "
                              "self-injury (N.S.S.I), see x exclamation mark equals y.")
    assert ("code", "x != y", "x exclamation mark equals y") in [
        (c["rule"], c["written"], c["said"]) for c in last["changes"]]


def test_changes_in_a_passage_are_shown_in_the_passage_language(tmp_path, capsys):
    book = tmp_path / "de.md"
    book.write_text("---\ntitle: Zitat\nlanguage: de\n---\n\n# Eins\n\nWir haben 2 Tage "
                    "gewartet.\n\n> We waited for 2 days before the maintainers answered "
                    "the question.\n", encoding="utf-8")
    code, out = run_cli(["script", "--format", "json", str(book)], capsys)
    assert code == 0
    said = {s["display"].split()[0]: s for section in json.loads(out)["sections"]
            for s in section["sentences"]}
    assert said["We"]["spoken"].startswith("We waited for two days")
    assert [c["said"] for c in said["We"]["changes"]] == ["two"]
    assert [c["said"] for c in said["Wir"]["changes"]] == ["zwei"]
