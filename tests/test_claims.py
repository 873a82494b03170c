"""A build claims only what it verified: no check, no conformance claim."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from publisher import claims
from publisher.build import BuildOptions, build, load_book
from publisher.catalog import list196_codes
from publisher.epub import facts
from tests.conftest import require_ace, require_epubcheck
from tests.helpers import write_book

OPF_NS = {"opf": "http://www.idpf.org/2007/opf"}
ONIX_NS = {"o": "http://ns.editeur.org/onix/3.0/reference"}

BOOK = """
# Notes, tables, scripts and links

A claim is made only when it was checked[^checked]. Read [the guide. It is short.
](https://example.org/guide) Then go on.

| Tool | Checks |
|------|--------|
| EPUBCheck | the EPUB |
| DAISY Ace | accessibility |

Table: What each tool checks.

هذا نص عربي مكتوب للاختبار.

The word 中文 means Chinese.

[^checked]: By the build itself.
"""


def opf_of(epub: Path) -> etree._Element:
    with zipfile.ZipFile(epub) as archive:
        return etree.fromstring(archive.read("EPUB/content.opf"))


def metas(opf: etree._Element, prop: str) -> list[str]:
    return [str(t) for t in opf.xpath(f"//opf:meta[@property='{prop}']/text()",
                                      namespaces=OPF_NS)]


def test_an_unchecked_book_claims_nothing_and_says_so(tmp_path):
    source = write_book(tmp_path, BOOK)
    book = load_book(source, BuildOptions(engine="fake"))
    a11y = facts(book, None, has_pls=False)
    assert a11y.conforms_to == () and a11y.certified_by == ""
    assert "not checked" in a11y.summary and "EPUBCheck" in a11y.summary
    assert "meets" not in a11y.summary
    codes = {code for code, _ in list196_codes(a11y, has_audio=False)}
    assert not codes & {"04", "80", "81", "82", "84", "85", "86"}


def test_a_failed_check_claims_nothing_and_says_it_failed(tmp_path):
    book = load_book(write_book(tmp_path, BOOK), BuildOptions(engine="fake"))
    failed = claims.Verification("5.3.0", "1.4.6", checked=True,
                                 problems=("EPUBCheck: ERROR RSC-007 ...", "DAISY Ace: ..."))
    a11y = facts(book, None, has_pls=False, verification=failed)
    assert a11y.conforms_to == () and a11y.certified_by == ""
    assert "found 2 problems" in a11y.summary and "no conformance claim" in a11y.summary
    assert not failed.passed and failed.record()["conforms_to"] is None


def test_a_passing_check_claims_wcag_2_2_aa_and_names_the_tools(tmp_path):
    book = load_book(write_book(tmp_path, BOOK), BuildOptions(engine="fake"))
    passed = claims.Verification("5.3.0", "1.4.6", checked=True)
    a11y = facts(book, None, has_pls=False, verification=passed)
    assert a11y.conforms_to == ("EPUB Accessibility 1.1 - WCAG 2.2 Level AA",)
    assert "EPUBCheck 5.3.0" in a11y.certified_by and "DAISY Ace 1.4.6" in a11y.certified_by
    assert a11y.summary.startswith("This publication meets WCAG 2.2 Level AA, as checked by "
                                   "EPUBCheck 5.3.0 and DAISY Ace 1.4.6")
    codes = dict(list196_codes(a11y, has_audio=False))
    assert codes["04"] and codes["82"] == "WCAG v2.2" and codes["85"] == "WCAG level AA"


def test_a_text_only_build_without_check_has_no_claim_anywhere(tmp_path):
    source = write_book(tmp_path, BOOK)
    result = build(source, BuildOptions(out_root=tmp_path / "out", audio=False))
    opf = opf_of(result.out_dir / f"{result.slug}.epub")
    assert metas(opf, "dcterms:conformsTo") == [] and metas(opf, "a11y:certifiedBy") == []
    assert "not checked" in metas(opf, "schema:accessibilitySummary")[0]
    onix = etree.parse(str(result.out_dir / "onix.xml"))
    values = onix.xpath("//o:ProductFormFeatureValue/text()", namespaces=ONIX_NS)
    assert not {"04", "81", "82", "85"} & set(values)
    record = json.loads((result.out_dir / "build.json").read_text())
    assert "check" not in record["epub"]
    assert record["epub"]["accessibility"]["conformsTo"] == []


@pytest.mark.slow
def test_build_check_runs_epubcheck_and_ace_on_the_finished_epub_and_claims(tmp_path):
    require_epubcheck()
    require_ace()
    source = write_book(tmp_path, BOOK)
    result = build(source, BuildOptions(out_root=tmp_path / "out", audio=False, check=True))
    record = result.record["epub"]["check"]
    assert record["passed"], record["problems"]
    epub = result.out_dir / f"{result.slug}.epub"
    opf = opf_of(epub)
    assert metas(opf, "dcterms:conformsTo") == ["EPUB Accessibility 1.1 - WCAG 2.2 Level AA"]
    certifier = metas(opf, "a11y:certifiedBy")[0]
    assert f"EPUBCheck {record['epubcheck']}" in certifier
    assert f"DAISY Ace {record['ace']}" in certifier
    onix = etree.parse(str(result.out_dir / "onix.xml"))
    values = set(onix.xpath("//o:ProductFormFeatureValue/text()", namespaces=ONIX_NS))
    assert {"04", "82", "85"} <= values
    # The file shipped is the file checked: checking it again finds nothing either.
    again = claims.verify(epub, claims.planned())
    assert again.passed, again.problems


@pytest.mark.slow
def test_verify_reports_a_broken_epub(tmp_path):
    require_epubcheck()
    require_ace()
    source = write_book(tmp_path, "Some text.\n")
    result = build(source, BuildOptions(out_root=tmp_path / "out", audio=False))
    epub = result.out_dir / f"{result.slug}.epub"
    broken = tmp_path / "broken.epub"
    with zipfile.ZipFile(epub) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith(".xhtml") and b"Some text." in data:
                data = data.replace(b"Some text.", b'Some <a href="missing.xhtml">text</a>.')
            dst.writestr(info, data)
    found = claims.verify(broken, claims.planned())
    assert not found.passed
    assert any("RSC-007" in problem for problem in found.problems), found.problems


def test_the_command_line_says_a_failed_check_failed(caplog):
    from publisher.cli import _report_check

    found = claims.Verification("5.3.0", "1.4.6", checked=True,
                                problems=("EPUBCheck: ERROR RSC-007 a.xhtml: missing",))
    with caplog.at_level("INFO", logger="publisher"):
        assert _report_check(Path("book.md"), found.record()) is False
        assert _report_check(Path("book.md"), None) is True  # no --check: nothing to say
        passed = claims.Verification("5.3.0", "1.4.6", checked=True).record()
        assert _report_check(Path("book.md"), passed) is True
    text = caplog.text
    assert "EPUBCheck 5.3.0 and DAISY Ace 1.4.6 found 1 problem(s)" in text
    assert "makes no conformance claim" in text and "RSC-007" in text
    assert "claims EPUB Accessibility 1.1 - WCAG 2.2 Level AA" in text
