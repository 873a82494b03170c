"""The EPUB: structure checked with namespace-aware XML, and the real EPUBCheck."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from publisher.build import build
from publisher.options import BuildOptions

from .helpers import FIRST_BOOK, FIXTURES, NS, epub_names, epub_xml, fixture_books, write_book
from .test_parse import STATEMENTS

OPF = "EPUB/content.opf"


def text_only(source: Path, out: Path) -> Path:
    result = build(source, BuildOptions(out_root=out, audio=False))
    return result.out_dir / f"{result.slug}.epub"


@pytest.fixture(scope="module")
def first_epub(tmp_path_factory) -> Path:
    return text_only(FIRST_BOOK, tmp_path_factory.mktemp("first"))


def test_zip_layout_mimetype_first_and_stored(first_epub):
    with zipfile.ZipFile(first_epub) as archive:
        infos = archive.infolist()
    assert infos[0].filename == "mimetype"
    assert infos[0].compress_type == zipfile.ZIP_STORED
    assert len({i.date_time for i in infos}) == 1


def test_nav_lists_the_eight_sections_in_order_with_landmarks(first_epub):
    nav = epub_xml(first_epub, "EPUB/nav.xhtml")
    toc = nav.find(".//x:nav[@epub:type='toc']", NS)
    titles = ["".join(a.itertext()).strip() for a in toc.iterfind(".//x:a", NS)]
    assert titles[0] == "Content note"
    assert titles[-8:] == STATEMENTS
    landmarks = nav.find(".//x:nav[@epub:type='landmarks']", NS)
    types = [a.get(f"{{{NS['epub']}}}type") for a in landmarks.iterfind(".//x:a", NS)]
    assert {"toc", "bodymatter", "titlepage", "preface"} <= set(types)


def test_content_note_comes_first_in_the_reading_order(first_epub):
    opf = epub_xml(first_epub, OPF)
    spine = [i.get("idref") for i in opf.iterfind(".//opf:spine/opf:itemref", NS)]
    manifest = {i.get("id"): i.get("href") for i in opf.iterfind(".//opf:manifest/opf:item", NS)}
    first = epub_xml(first_epub, f"EPUB/{manifest[spine[0]]}")
    section = first.find(".//x:section", NS)
    assert section.get(f"{{{NS['epub']}}}type") == "notice"
    assert "self-harm and suicide" in "".join(section.itertext())


def test_every_document_has_its_language_and_sentence_spans(first_epub):
    for name in epub_names(first_epub):
        if not name.endswith(".xhtml"):
            continue
        root = epub_xml(first_epub, name)
        assert root.get("lang") == "en"
        assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    opf = epub_xml(first_epub, OPF)
    assert opf.find(".//dc:language", NS).text == "en"


def test_accessibility_metadata_is_derived_from_the_book(first_epub, tmp_path):
    opf = epub_xml(first_epub, OPF)

    def values(prop: str) -> list[str]:
        return [m.text for m in opf.iterfind(f".//opf:meta[@property='{prop}']", NS)]

    assert values("schema:accessMode") == ["textual"]
    assert values("schema:accessModeSufficient") == ["textual"]
    assert "alternativeText" not in values("schema:accessibilityFeature")  # no images
    assert "tableOfContents" in values("schema:accessibilityFeature")
    assert values("schema:accessibilityHazard") == ["none"]
    assert values("schema:accessibilitySummary")

    from PIL import Image

    Image.new("RGB", (8, 8), "white").save(tmp_path / "a.png")
    with_alt = write_book(tmp_path, "![A white square](a.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    opf = epub_xml(text_only(with_alt, tmp_path / "o"), OPF)
    features = [m.text for m in opf.iterfind(".//opf:meta[@property='schema:accessibilityFeature']", NS)]
    assert "alternativeText" in features
    modes = [m.text for m in opf.iterfind(".//opf:meta[@property='schema:accessMode']", NS)]
    assert modes == ["textual", "visual"]


def test_pronunciation_lexicon_is_shipped_and_linked(first_epub):
    assert "EPUB/lexicon.pls" in epub_names(first_epub)
    pls = epub_xml(first_epub, "EPUB/lexicon.pls")
    graphemes = [g.text for g in pls.iter("{http://www.w3.org/2005/01/pronunciation-lexicon}grapheme")]
    assert "NSSI" in graphemes
    doc = epub_xml(first_epub, "EPUB/05-nssi-is-an-effective-emotion-relief-strategy.xhtml")
    link = doc.find(".//x:link[@rel='pronunciation']", NS)
    assert link is not None and link.get("href") == "lexicon.pls"


def test_modified_date_honours_source_date_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400000")
    source = write_book(tmp_path, "Text.\n")
    opf = epub_xml(text_only(source, tmp_path / "o"), OPF)
    modified = opf.find(".//opf:meta[@property='dcterms:modified']", NS).text
    assert modified == dt.datetime.fromtimestamp(86400000, dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def test_rtl_book_sets_direction(tmp_path):
    source = write_book(tmp_path, "## مرحبا\n\nهذا نص عربي. وهذه جملة ثانية.\n", language="ar")
    epub = text_only(source, tmp_path / "o")
    doc = next(n for n in epub_names(epub) if n.endswith("-section.xhtml") or "02-" in n)
    root = epub_xml(epub, doc)
    assert root.get("dir") == "rtl" and root.get("lang") == "ar"
    opf = epub_xml(epub, OPF)
    assert opf.find(".//opf:spine", NS).get("page-progression-direction") == "rtl"


# --- the real EPUBCheck -------------------------------------------------------

def _epubcheck(epub: Path):
    from publisher.check import run_epubcheck

    from .conftest import require_epubcheck

    require_epubcheck()
    return run_epubcheck(epub)


@pytest.mark.slow
def test_epubcheck_first_book_text_only(first_epub):
    report = _epubcheck(first_epub)
    assert report.ok, report.summary()


@pytest.mark.slow
@pytest.mark.parametrize("fixture", fixture_books())
def test_epubcheck_fixtures(fixture, tmp_path):
    epub = text_only(FIXTURES / fixture, tmp_path)
    report = _epubcheck(epub)
    assert report.ok, report.summary()
