"""The EPUB's Media Overlays of the structures fixture: what a listener skips or escapes.

Notes, sidebars, figures, tables, lists and code blocks are each their own ``seq`` with an
``epub:type`` and an ``epub:textref`` that resolves, so a reading system can
skip or escape them (EPUB Media Overlays 3.3, section 3.5); the DAISY editions
of the same book make the same structures skippable and escapable
(tests/test_daisy.py).
"""

from __future__ import annotations

import json
import posixpath
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from publisher.build import build
from publisher.daisycheck import read_daisy
from publisher.options import BuildOptions

from .helpers import FIXTURES, write_book

SMIL = "http://www.w3.org/ns/SMIL"
EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
TEXTREF = "{http://www.idpf.org/2007/ops}textref"


@pytest.fixture(scope="module")
def epub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("skippable")
    result = build(FIXTURES / "structures.md",
                   BuildOptions(engine="fake", out_root=out, cache_dir=out / "cache", workers=1,
                                daisy=()))
    return result.out_dir / "structures.epub"


def _seqs(epub: Path) -> list[tuple[str, str, list[str]]]:
    """(epub:type, textref resolved in the EPUB, epub:type of each par) of every typed seq."""
    found = []
    with zipfile.ZipFile(epub) as archive:
        names = set(archive.namelist())
        for name in sorted(n for n in names if n.endswith(".smil")):
            root = etree.fromstring(archive.read(name))
            for seq in root.iter(f"{{{SMIL}}}seq"):
                if seq.get(EPUB_TYPE) is None:
                    continue
                href, _, fragment = seq.get(TEXTREF, "").partition("#")
                document = posixpath.normpath(posixpath.join(posixpath.dirname(name), href))
                assert document in names, (name, seq.get(TEXTREF))
                ids = etree.fromstring(archive.read(document)).xpath("//@id")
                assert fragment in ids, (name, seq.get(TEXTREF))
                found.append((seq.get(EPUB_TYPE, ""), f"{document}#{fragment}",
                              [par.get(EPUB_TYPE, "") for par in seq.iter(f"{{{SMIL}}}par")]))
    return found


def test_each_structure_is_its_own_seq_with_a_textref_that_resolves(epub: Path) -> None:
    seqs = _seqs(epub)
    types = [t for t, _, _ in seqs]
    # (and the playable table of contents, "toc")
    assert sorted(types) == ["aside", "figure", "footnotes", "footnotes", "list", "table", "toc"]
    by_type = {t: pars for t, _, pars in seqs}
    assert by_type["list"] == ["list-item"] * 3
    assert by_type["table"] == ["table-cell"] * 6
    assert by_type["footnotes"] == ["footnote"]  # one note in each of the two sections
    assert len(by_type["aside"]) == 2 and len(by_type["figure"]) == 2  # image and caption


def test_the_epub_with_these_overlays_is_valid(epub: Path, epubcheck) -> None:
    report = epubcheck(epub)
    assert report.ok, report.summary()


def _build(source: Path, out: Path) -> Path:
    return build(source, BuildOptions(engine="fake", out_root=out, cache_dir=out / "cache",
                                      workers=1)).out_dir


def test_a_note_is_read_once_announced_at_the_end_of_the_section_citing_it_first(
        tmp_path: Path) -> None:
    """The rule (publisher/parse.py): every edition reads a note in the same one place."""
    source = write_book(tmp_path, "## One\n\nThe first mention.[^a] Another note.[^b]\n\n"
                                  "A last paragraph.\n\n"
                                  "## Two\n\nThe same note again.[^a]\n\n"
                                  "[^a]: The shared note.\n\n[^b]: Only in one.\n",
                        title="Notes", identifier="urn:uuid:5bf7e538-6fcc-5a02-8b44-782ede753cfd")
    out = _build(source, tmp_path / "out")
    record = json.loads((out / "build.json").read_text(encoding="utf-8"))
    one, two = (s for s in record["sections"] if s["title"] in ("One", "Two"))
    said = [t["text"] for t in one["timings"]]
    # After the section's last paragraph, in the order of first reference, announced.
    assert said[-3:] == ["A last paragraph.", "Note one: The shared note.",
                         "Note two: Only in one."]
    assert not any(t["text"].startswith("Note") for t in two["timings"])  # heard once
    notes = [t["id"] for t in one["timings"][-2:]]
    # The section MP3 (the podcast episode, the M4B chapter) holds them: a linear
    # listener hears them, and the EPUB's audio is timed the same.
    assert one["duration_ms"] >= one["timings"][-1]["end_ms"]
    assert one["epub_audio"]["timings_match"]
    with zipfile.ZipFile(out / "book.epub") as archive:
        two_html = archive.read("EPUB/03-two.xhtml").decode("utf-8")
        smil = etree.fromstring(archive.read("EPUB/smil/02-one.smil"))
    assert 'href="02-one.xhtml#fn-a"' in two_html  # the later reference links back
    pars = list(smil.iter(f"{{{SMIL}}}par"))
    assert [p.get("id") for p in pars[-2:]] == [f"par-{n}" for n in notes]
    assert all(p.getparent().get(EPUB_TYPE) == "footnotes" for p in pars[-2:])  # skippable
    for fmt, skip in (("202", "footnote-on"), ("3", "note")):
        daisy = read_daisy(out / f"book_daisy{fmt}.zip")
        assert daisy.ok, daisy.summary()
        skipped = [p.text.partition("#")[2] for p in daisy.pars if p.skippable == skip]
        assert skipped == notes


def test_a_code_block_is_its_own_structure(tmp_path: Path) -> None:
    out = _build(FIXTURES / "code.md", tmp_path)
    seqs = [s for s in _seqs(out / "code.epub") if s[0] == "figure"]
    # Three code blocks stand alone; the fourth is inside a list (escaped with it).
    assert len(seqs) == 3 and all(pars == [""] for _, _, pars in seqs)
    with zipfile.ZipFile(out / "code.epub") as archive:
        for _, ref, _ in seqs:
            document, _, fragment = ref.partition("#")
            (element,) = etree.fromstring(archive.read(document)).xpath(
                "//*[@id=$id]", id=fragment)
            assert etree.QName(element).localname == "pre"
    d3 = read_daisy(out / "code_daisy3.zip")
    assert d3.ok, d3.summary()
    code = [p for p in d3.pars if p.escapable == "code"]
    assert len(code) == 3
    record = json.loads((out / "build.json").read_text(encoding="utf-8"))
    said = {t["id"]: t["text"] for s in record["sections"] for t in s["timings"]}
    assert all(said[p.text.partition("#")[2]].startswith("Code example, ") for p in code)


@pytest.mark.slow
def test_ace_finds_nothing_in_the_epub_with_these_overlays(epub: Path, tmp_path: Path,
                                                           ace) -> None:
    report = ace(epub, tmp_path / "ace")
    assert report.ok, report.summary()
