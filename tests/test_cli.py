"""The command line as a user meets it: help, exact error text, exit codes,
and nothing written when the input is bad."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import run_cli, snapshot, write_book

GOOD_FRONT = ("---\ntitle: T\nlanguage: en\n"
              "identifier: urn:uuid:00000000-0000-4000-8000-000000000002\n---\n")


run = run_cli


def test_every_command_has_help():
    for command in ([], ["build"], ["voices"], ["check"], ["script"]):
        result = subprocess.run([sys.executable, "-m", "publisher", *command, "--help"],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0
        assert "usage: publisher" in result.stdout


def test_no_command_prints_help_and_exits_2(capsys):
    code, out = run([], capsys)
    assert code == 2 and "COMMAND" in out


def _cases(tmp: Path) -> list[tuple[str, Path, str]]:
    """(name, source file, the exact message fragment the user must see)."""
    cases: list[tuple[str, Path, str]] = []

    def case(name: str, data: bytes | str, expected: str) -> None:
        path = tmp / f"{name}.md"
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        cases.append((name, path, expected.replace("PATH", str(path))))

    case("empty", "", "PATH: the file is empty.")
    case("only-front-matter", GOOD_FRONT, "PATH: the file has front matter but no text after it.")
    case("invalid-utf8", GOOD_FRONT.encode() + b"\nCaf\xe9 au lait.\n",
         "PATH:7: invalid UTF-8 at byte offset")
    case("nul-byte", GOOD_FRONT + "\nText\x00 more.\n", "PATH:7: this is text with a NUL byte")
    case("binary", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "PATH:")
    case("bad-yaml", "---\ntitle: [unclosed\nlanguage: en\n---\n\nText.\n",
         "PATH:2: the front matter is not valid YAML")
    case("unclosed-front", "---\ntitle: T\n\nText.\n", "front matter block opened with '---' is never closed")
    case("wrong-type", "---\ntitle: [a, b]\nlanguage: en\nsplit_level: nine\n---\n\nText.\n",
         "'title' is a list; expected a text.")
    case("bad-language", "---\ntitle: T\nlanguage: english-please\n---\n\nText.\n",
         "'language' is 'english-please', which is not a BCP 47 language tag")
    case("empty-heading", GOOD_FRONT + "\nText.\n\n##\n", "PATH:9: a heading has no text")
    case("escaping-cover", "---\ntitle: T\nlanguage: en\ncover: ../../etc/passwd\n---\n\nText.\n",
         "'cover' is '../../etc/passwd', which is outside the book's folder")
    case("bad-slug", "---\ntitle: T\nlanguage: en\nslug: ../../x\n---\n\nText.\n",
         "'slug' is '../../x'; expected lower-case letters, digits and hyphens only")
    return cases


def test_bad_inputs_give_one_clear_error_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous output")
    before = snapshot(out)
    for name, source, expected in _cases(tmp_path):
        code, text = run(["build", "--no-audio", "-o", str(out), str(source)], capsys)
        assert code == 1, name
        assert expected in text, (name, text)
        assert "Traceback" not in text, name
        assert snapshot(out) == before, name
        assert not list(out.glob(".*building*")), name


def test_all_front_matter_problems_are_reported_at_once(tmp_path, capsys):
    source = tmp_path / "b.md"
    source.write_text("---\ntitle: 3.5e9\nlanguage: xx-notreal-123456789\nsplit_level: 9\n"
                      "rate: fast\ndate: yesterday\n---\n\nText.\n")
    code, text = run(["build", "--no-audio", "-o", str(tmp_path / "o"), str(source)], capsys)
    assert code == 1
    for key in ("'language'", "'split_level'", "'rate'", "'date'"):
        assert key in text
    assert "4 problems in the front matter" in text


def test_unknown_front_matter_key_warns_and_builds(tmp_path, capsys):
    source = tmp_path / "b.md"
    source.write_text(GOOD_FRONT.replace("---\n", "---\ntitel: oops\n", 1) + "\nText.\n")
    code, text = run(["build", "--no-audio", "-o", str(tmp_path / "o"), str(source)], capsys)
    assert code == 0
    assert "unknown front matter key 'titel' is ignored. Did you mean 'title'?" in text


def test_web_site_keys_are_a_note_even_with_strict(tmp_path, capsys):
    """A page written for Jekyll or Hugo keeps its layout keys; they are not about the book."""
    source = tmp_path / "b.md"
    source.write_text(GOOD_FRONT.replace("---\n", "---\nlayout: page\norder: 3\n"
                                         "redirect_from: /old/\ntitel: oops\n", 1) + "\nText.\n")
    out = tmp_path / "o"
    code, text = run(["build", "--no-audio", "-o", str(out), str(source)], capsys)
    assert code == 0
    assert "front matter for a web site, not used in the book: layout, order, redirect_from" \
        in text
    assert "unknown front matter key 'layout'" not in text
    assert "unknown front matter key 'titel'" in text  # a typo still warns
    source.write_text(source.read_text().replace("titel: oops\n", ""))
    code, text = run(["build", "--no-audio", "--strict", "--force", "-o", str(out),
                      str(source)], capsys)
    assert code == 0, text


def test_strict_turns_warnings_into_an_error(tmp_path, capsys):
    source = write_book(tmp_path, "A [placeholder](#) link.\n")
    code, text = run(["build", "--no-audio", "--strict", "-o", str(tmp_path / "o"),
                      str(source)], capsys)
    assert code == 1 and "--strict" in text
    assert not (tmp_path / "o" / "book").exists()


def test_text_only_build_writes_epub_and_record(tmp_path, capsys):
    source = write_book(tmp_path, "## One\n\nHello world. Second sentence.\n", slug="hello")
    code, _ = run(["build", "--no-audio", "-q", "-o", str(tmp_path / "o"), str(source)], capsys)
    assert code == 0
    folder = tmp_path / "o" / "hello"
    assert (folder / "hello.epub").is_file()
    record = json.loads((folder / "build.json").read_text())
    assert record["slug"] == "hello"
    assert any(f["path"] == "hello.epub" for f in record["files"])
    visible = sorted(p.name for p in (tmp_path / "o").iterdir() if not p.name.startswith("."))
    assert visible == ["catalog.json", "hello"]


def test_same_source_gives_byte_identical_epub(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    source = write_book(tmp_path, "## One\n\nHello world.\n", slug="same")
    run(["build", "--no-audio", "-q", "-o", str(tmp_path / "a"), str(source)], capsys)
    run(["build", "--no-audio", "-q", "-o", str(tmp_path / "b"), str(source)], capsys)
    first = (tmp_path / "a" / "same" / "same.epub").read_bytes()
    assert first == (tmp_path / "b" / "same" / "same.epub").read_bytes()
    assert b"2023-11-14T22:13:20Z" in __import__("zipfile").ZipFile(
        tmp_path / "a" / "same" / "same.epub").read("EPUB/content.opf")


def test_a_folder_builds_every_book_in_it(tmp_path, capsys):
    books = tmp_path / "books"
    books.mkdir()
    write_book(books, "Text one.\n", name="one.md")
    write_book(books, "Text two.\n", name="two.md",
               identifier="urn:uuid:00000000-0000-4000-8000-000000000003")
    code, _ = run(["build", "--no-audio", "-q", "-o", str(tmp_path / "o"), str(books)], capsys)
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir() if p.is_dir()) == ["one", "two"]


@pytest.mark.parametrize("args,expected", [
    (["build", "--rate", "9", "x.md"], "--rate 9.0: expected a number from 0.5 to 2.0."),
    (["check", "missing.epub"], "missing.epub: no such EPUB or DAISY zip file."),
])
def test_bad_options_are_clear(args, expected, capsys):
    code, text = run(args, capsys)
    assert code == 1 and expected in text
