"""A rebuild with nothing changed checks the book and writes nothing (publisher.stamp)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from publisher.build import build
from publisher.cli import main
from publisher.options import BuildOptions

from .helpers import snapshot, write_book

BODY = """\
# One

The first sentence. The second sentence.

# Two

![A red square.](square.png)

A third sentence.
"""


@pytest.fixture
def book(tmp_path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(tmp_path / "square.png")
    return write_book(tmp_path, BODY)


def options(tmp_path: Path, **changes: object) -> BuildOptions:
    return dataclasses.replace(
        BuildOptions(out_root=tmp_path / "out", engine="fake", workers=1,
                     cache_dir=tmp_path / "cache"), **changes)


def mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
            for p in folder.rglob("*") if p.is_file()}


def test_second_build_is_up_to_date_and_writes_nothing(tmp_path, book, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = build(book, options(tmp_path))
    assert not first.stats.get("up_to_date")
    out = tmp_path / "out"
    before, times = snapshot(out), mtimes(out)
    again = build(book, options(tmp_path))
    assert again.stats["up_to_date"] is True
    assert again.stats["clips_synthesized"] == 0
    assert again.stats["clips_from_cache"] == first.stats["clips_synthesized"]
    assert again.out_dir == first.out_dir
    assert again.record == first.record
    assert again.files == first.files
    assert snapshot(out) == before
    assert mtimes(out) == times  # not rewritten with the same bytes: not touched at all


@pytest.mark.parametrize("change", [
    "source", "image", "lexicon-appears", "option", "source-date", "output-edited",
    "output-added", "output-removed", "catalog-removed", "force", "voice-file",
    "package-installed",
])
def test_any_change_builds_again(tmp_path, book, monkeypatch, change):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    packages = tmp_path / "venv" / "site-packages"
    packages.mkdir(parents=True)
    monkeypatch.syspath_prepend(str(packages))
    build(book, options(tmp_path))
    out_dir = tmp_path / "out" / "book"
    assert out_dir.is_dir()
    reference = snapshot(out_dir)
    settings = options(tmp_path)
    if change == "voice-file":
        # A voice given as a file is an input too (the fake engine ignores it,
        # so the book comes out the same: only "built again" is checked).
        voice = tmp_path / "my-voice.onnx"
        voice.write_bytes(b"model one")
        settings = options(tmp_path, voice=str(voice))
        build(book, settings)
        assert build(book, settings).stats.get("up_to_date")
        voice.write_bytes(b"model two, retrained")
        reference = None
    if change == "source":
        book.write_text(book.read_text().replace("A third", "A changed third"))
    elif change == "image":
        from PIL import Image

        Image.new("RGB", (8, 8), "blue").save(tmp_path / "square.png")
    elif change == "lexicon-appears":
        # A PLS beside the source is picked up without being named.
        book.with_suffix(".pls").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"'
            ' alphabet="x-publisher" xml:lang="en"><lexeme><grapheme>third</grapheme>'
            '<alias>thurd</alias></lexeme></lexicon>\n', encoding="utf-8")
    elif change == "option":
        settings = options(tmp_path, audio_profile="compact")
    elif change == "source-date":
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000001")
    elif change == "output-edited":
        (out_dir / "feed.xml").write_bytes(b"damaged")
    elif change == "output-added":
        (out_dir / "notes.txt").write_text("mine")
    elif change == "output-removed":
        next(out_dir.glob("audio/*.mp3")).unlink()
    elif change == "catalog-removed":
        (tmp_path / "out" / "catalog.json").unlink()
    elif change == "force":
        settings = options(tmp_path, force=True)
    elif change == "package-installed":
        # pip adds a package: its folder's mtime changes (ns, so no sleep needed
        # on most file systems; the time is set explicitly to be sure).
        (packages / "newlib-1.0.dist-info").mkdir()
        os.utime(packages, ns=(1, packages.stat().st_mtime_ns + 10**9))
        reference = None
    again = build(book, settings)
    assert not again.stats.get("up_to_date"), change
    rebuilt = snapshot(out_dir)
    if reference is None:
        pass
    elif change in {"output-edited", "output-added", "output-removed", "catalog-removed",
                    "force"}:
        assert rebuilt == reference  # repaired: exactly the book as built before
        assert (tmp_path / "out" / "catalog.json").is_file()
    else:
        assert rebuilt != reference
    # and now it is up to date again
    assert build(book, dataclasses.replace(settings, force=False)).stats.get("up_to_date")


def test_a_build_that_fell_back_is_not_stamped(tmp_path, book, monkeypatch):
    """With --fallback the book depends on which engine answered: try the first again."""
    from publisher import build as build_module

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    original = build_module._write_outputs

    def fell_back(*args, **kwargs):
        record, stats = original(*args, **kwargs)
        stats["fell_back"] = True  # what narrate reports after --fallback
        return record, stats

    monkeypatch.setattr(build_module, "_write_outputs", fell_back)
    first = build(book, options(tmp_path))
    assert first.stats["fell_back"] is True
    assert not list((tmp_path / "cache").glob("stamps/*.json"))
    assert not build(book, options(tmp_path)).stats.get("up_to_date")


def test_cli_says_up_to_date_and_force_rebuilds(tmp_path, book, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    argv = ["build", "--engine", "fake", "--workers", "1", "-o", str(tmp_path / "out"),
            "--cache-dir", str(tmp_path / "cache"), str(book)]
    assert main(argv) == 0
    first = capsys.readouterr().err
    assert "warning: feed.xml needs a base URL" in first
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "Up to date" in err and "--force" in err
    # What the build warned about still holds, and is said again.
    assert [line for line in err.splitlines() if line.startswith("warning:")] == \
        [line for line in first.splitlines() if line.startswith("warning:")]
    assert main([*argv[:-1], "--force", str(book)]) == 0
    err = capsys.readouterr().err
    assert "Up to date" not in err and "Built" in err


def test_text_only_build_without_a_cache_folder_adds_none(tmp_path, book):
    build(book, BuildOptions(out_root=tmp_path / "out", audio=False))
    build(book, BuildOptions(out_root=tmp_path / "out", audio=False))
    assert not (tmp_path / "out" / ".cache").exists()
    assert (tmp_path / "out" / "book" / "book.epub").is_file()


def test_a_proof_report_beside_the_book_keeps_it_up_to_date(tmp_path, book, monkeypatch):
    """`publisher proof` (or build --proof) writes proof.json/html into the book's folder."""
    from publisher.layout import PROOF_NAMES
    from publisher.proof import HTML_NAME, JSON_NAME

    assert {JSON_NAME, HTML_NAME} == PROOF_NAMES
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = build(book, options(tmp_path))
    (first.out_dir / JSON_NAME).write_text("{}")
    (first.out_dir / HTML_NAME).write_text("<p>report</p>")
    assert build(book, options(tmp_path)).stats.get("up_to_date") is True
    (first.out_dir / "other.txt").write_text("not ours")
    assert not build(book, options(tmp_path)).stats.get("up_to_date")

