"""DAISY 2.02 and DAISY 3 editions: read back completely, timed like the EPUB, deterministic."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from lxml import etree

from publisher import config
from publisher.build import build
from publisher.daisycheck import DTD_DIR, _clock, read_daisy
from publisher.errors import ConfigError
from publisher.options import BuildOptions
from publisher.source import read_manuscript

from .conftest import _missing
from .helpers import FIRST_BOOK, FIXTURES, run_cli

SMIL_NS = "http://www.w3.org/ns/SMIL"


def _build(source: Path, out: Path, **options: object) -> Path:
    result = build(source, BuildOptions(engine="fake", out_root=out, cache_dir=out / "cache",
                                        workers=1, **options))  # type: ignore[arg-type]
    return result.out_dir


@pytest.fixture(scope="module")
def structures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(FIXTURES / "structures.md", tmp_path_factory.mktemp("structures"))


@pytest.fixture(scope="module")
def first_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(FIRST_BOOK, tmp_path_factory.mktemp("first"))


def _epub_timings(epub: Path) -> dict[str, tuple[int, int]]:
    """Sentence id -> (clipBegin, clipEnd) in ms, from the EPUB's Media Overlays."""
    timings: dict[str, tuple[int, int]] = {}
    with zipfile.ZipFile(epub) as archive:
        for name in archive.namelist():
            if not name.endswith(".smil") or name.endswith("00-contents.smil"):
                continue
            root = etree.fromstring(archive.read(name))
            for par in root.iter(f"{{{SMIL_NS}}}par"):
                text = par.find(f"{{{SMIL_NS}}}text")
                audio = par.find(f"{{{SMIL_NS}}}audio")
                assert text is not None and audio is not None
                begin, end = _clock(audio.get("clipBegin", "")), _clock(audio.get("clipEnd", ""))
                assert begin is not None and end is not None
                timings[text.get("src", "").partition("#")[2]] = (begin, end)
    return timings


def _daisy_timings(path: Path) -> dict[str, tuple[int, int]]:
    book = read_daisy(path)
    return {p.text.partition("#")[2]: (p.begin_ms, p.end_ms) for p in book.pars}


@pytest.mark.parametrize("fmt", ["202", "3"])
@pytest.mark.parametrize("which", ["structures", "first_book"])
def test_daisy_reads_back_completely_with_the_epubs_timings(
        fmt: str, which: str, request: pytest.FixtureRequest) -> None:
    out: Path = request.getfixturevalue(which)
    slug = out.name
    zip_path = out / f"{slug}_daisy{fmt}.zip"
    book = read_daisy(zip_path)
    assert book.ok, book.summary()
    epub = _epub_timings(out / f"{slug}.epub")
    assert epub and _daisy_timings(zip_path) == epub  # same ids, same milliseconds
    # The audio is the podcast MP3s themselves, byte for byte (no second encoding).
    with zipfile.ZipFile(zip_path) as archive:
        for mp3 in sorted((out / "audio").glob("*.mp3")):
            assert archive.read(mp3.name) == mp3.read_bytes()
    assert book.metadata["multimediaType"] == "audioFullText"
    assert book.metadata["narrator"] == "Fake test voice"
    headings = [n for n in book.nav if n.kind.startswith(("h", "navPoint"))]
    assert len(headings) >= len(list(out.glob("audio/*.mp3")))  # every section is reachable


def test_structures_are_skippable_and_escapable(structures: Path) -> None:
    d202 = read_daisy(structures / "structures_daisy202.zip")
    d3 = read_daisy(structures / "structures_daisy3.zip")
    assert {p.skippable for p in d202.pars} == {"", "footnote-on", "sidebar-on"}
    assert {p.skippable for p in d3.pars} == {"", "note", "sidebar"}
    assert {p.escapable for p in d3.pars} == {"", "list", "table", "imggroup", "sidebar",
                                              "note"}
    assert sum(p.skippable == "note" for p in d3.pars) == 2  # the two notes
    notes = [n for n in d3.nav if n.kind == "navTarget.note"]
    assert len(notes) == 2
    assert [n.kind for n in d202.nav] == ["h1.title", "h2.", "h3.", "span.sidebar"]
    assert d3.metadata["dc:creator"] == "Test Author"
    assert d3.metadata["dc:publisher"] == "Test Press"
    with zipfile.ZipFile(structures / "structures_daisy3.zip") as archive:
        dtbook = etree.fromstring(archive.read("structures.xml"))
    ns = {"d": "http://www.daisy.org/z3986/2005/dtbook/"}
    assert dtbook.xpath("count(//d:note)", namespaces=ns) == 2
    assert dtbook.xpath("count(//d:noteref)", namespaces=ns) == 2
    assert dtbook.xpath("count(//d:table//d:td)", namespaces=ns) == 4
    assert dtbook.xpath("count(//d:list[@type='ul']/d:li)", namespaces=ns) == 3
    assert dtbook.xpath("count(//d:sidebar[@render='optional'])", namespaces=ns) == 1
    assert dtbook.xpath("count(//d:imggroup/d:img[@alt])", namespaces=ns) == 1
    assert dtbook.xpath("count(//d:level2/d:level3/d:h3)", namespaces=ns) == 1


def test_same_input_gives_the_same_bytes(structures: Path, tmp_path: Path) -> None:
    again = _build(FIXTURES / "structures.md", tmp_path)
    for fmt in ("202", "3"):
        name = f"structures_daisy{fmt}.zip"
        assert (again / name).read_bytes() == (structures / name).read_bytes()


def test_the_first_book_gives_the_same_bytes_again(first_book: Path, tmp_path: Path) -> None:
    # Its section MP3s come back from the output cache; the DAISY books are written again.
    again = build(FIRST_BOOK, BuildOptions(engine="fake", out_root=tmp_path, workers=1,
                                           cache_dir=first_book.parent / "cache")).out_dir
    for fmt in ("202", "3"):
        name = f"{first_book.name}_daisy{fmt}.zip"
        assert (again / name).read_bytes() == (first_book / name).read_bytes()


def test_front_matter_and_flag_choose_the_editions(tmp_path: Path) -> None:
    out = _build(FIXTURES / "structures.md", tmp_path / "a", daisy=("3",))
    assert [p.name for p in out.glob("*_daisy*.zip")] == ["structures_daisy3.zip"]
    out = _build(FIXTURES / "structures.md", tmp_path / "b", daisy=())
    assert not list(out.glob("*_daisy*.zip"))
    manuscript = read_manuscript(FIXTURES / "structures.md")
    meta, _ = config.load_meta(manuscript, {"daisy": [202]})
    assert meta.daisy == ("202",)
    meta, _ = config.load_meta(manuscript, {"daisy": False})
    assert meta.daisy == ()
    with pytest.raises(ConfigError, match="'daisy' is"):
        config.load_meta(manuscript, {"daisy": [4]})


def test_check_finds_what_does_not_resolve(structures: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken_daisy3.zip"
    with zipfile.ZipFile(structures / "structures_daisy3.zip") as source, \
            zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "structures.xml":  # a sentence loses its id
                data = data.replace(b'id="s-c5d52cde8a"', b'id="gone"')
            if info.filename != "01-structures.mp3":  # and a section loses its audio
                target.writestr(info, data)
    book = read_daisy(broken)
    assert any("s-c5d52cde8a" in p for p in book.problems)
    assert any("01-structures.mp3" in p for p in book.problems)
    code, _ = run_cli(["check", str(broken)], capsys)
    assert code == 1
    code, _ = run_cli(["check", str(structures / "structures_daisy202.zip")], capsys)
    assert code == 0


def test_onix_lists_the_daisy_editions_and_validates(structures: Path) -> None:
    """ONIX 3.0 XSD (with its code lists) as shipped by onixcheck; codes as List 150/175/196."""
    import onixcheck

    xsd = Path(onixcheck.__file__).parent / "schema" / "xsd3.0" / \
        "ONIX_BookProduct_3.0_reference.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    record = etree.parse(str(structures / "onix.xml"))
    assert schema.validate(record), schema.error_log
    ns = {"o": "http://ns.editeur.org/onix/3.0/reference"}
    epub, d202, d3 = record.xpath("/o:ONIXMessage/o:Product", namespaces=ns)
    for product, form in ((d202, "A204"), (d3, "A210")):
        assert product.xpath("string(o:DescriptiveDetail/o:ProductForm)", namespaces=ns) == "AJ"
        assert product.xpath("o:DescriptiveDetail/o:ProductFormDetail/text()",
                             namespaces=ns) == [form, "A103"]
        codes = product.xpath("o:DescriptiveDetail/o:ProductFormFeature"
                              "[o:ProductFormFeatureType='09']/o:ProductFormFeatureValue/text()",
                              namespaces=ns)
        assert {"11", "13", "20", "29", "51", "52"} <= set(codes)
        assert not set(codes) & {"04", "21", "30", "36", "80", "81", "82", "84", "85", "86"}
        assert product.xpath("string(o:RelatedMaterial/o:RelatedProduct/o:ProductIdentifier"
                             "/o:IDValue)", namespaces=ns) == \
            epub.xpath("string(o:RecordReference)", namespaces=ns)


def test_opds_catalog_links_the_daisy_editions(structures: Path) -> None:
    import json

    from .schemas.registry import errors

    feed = json.loads((structures.parent / "catalog.json").read_text(encoding="utf-8"))
    assert errors("opds", "feed.schema.json", feed) == []
    (entry,) = feed["publications"]
    daisy = [link for link in entry["links"] if "_daisy" in link["href"]]
    assert [link["href"] for link in daisy] == ["structures/structures_daisy202.zip",
                                                "structures/structures_daisy3.zip"]
    assert all(link["type"] == "application/zip" and "DAISY" in link["title"] for link in daisy)
    site = (structures / "site" / "index.html").read_text(encoding="utf-8")
    assert "../structures_daisy202.zip" in site and "../structures_daisy3.zip" in site


def test_daisy_202_is_valid_xhtml_and_smil(structures: Path, first_book: Path) -> None:
    """The NCC and text against XHTML 1.0 Transitional, the SMIL against SMIL 1.0 (Debian DTDs)."""
    if not (DTD_DIR / "REC-smil-19980615" / "smil10.dtd").is_file():
        _missing("The XHTML 1.0 and SMIL 1.0 DTDs", "Install them: apt-get install w3c-sgml-lib")
    for out in (structures, first_book):
        book = read_daisy(out / f"{out.name}_daisy202.zip")
        assert book.extra["dtds"] == ("XHTML 1.0 Transitional", "SMIL 1.0")
        assert book.ok, book.summary()


def test_ids_are_names_and_links_follow_them(tmp_path: Path) -> None:
    """A heading id that starts with a digit, and links to it from another section."""
    from .helpers import write_book

    source = write_book(tmp_path, "## 2024 in numbers\n\nSee [the end](#the-end).\n\n"
                                  "## The end\n\nBack to [the numbers](#2024-in-numbers).\n",
                        title="Ids", language="en", identifier="urn:uuid:ids")
    out = _build(source, tmp_path / "out")
    for fmt in ("202", "3"):
        book = read_daisy(out / f"book_daisy{fmt}.zip")
        assert book.ok, book.summary()
    with zipfile.ZipFile(out / "book_daisy3.zip") as archive:
        dtbook = archive.read("book.xml")
    # sec-01 is the generated title page; the heading's section is sec-02.
    assert b'id="sec-02-2024-in-numbers"' in dtbook
    assert b'href="#sec-02-2024-in-numbers"' in dtbook and b'href="#the-end"' in dtbook
    with zipfile.ZipFile(out / "book_daisy202.zip") as archive:
        text = archive.read("03-the-end.html")
    assert b'href="02-2024-in-numbers.html#sec-02-2024-in-numbers"' in text
