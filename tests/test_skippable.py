"""The EPUB's Media Overlays of the structures fixture: what a listener skips or escapes.

Notes, sidebars, figures, tables and lists are each their own ``seq`` with an
``epub:type`` and an ``epub:textref`` that resolves, so a reading system can
skip or escape them (EPUB Media Overlays 3.3, section 3.5); the DAISY editions
of the same book make the same structures skippable and escapable
(tests/test_daisy.py).
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from publisher.build import build
from publisher.options import BuildOptions

from .helpers import FIXTURES

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
