"""ONIX 3.0 record (List 196 codes follow the accessibility facts) and the OPDS 2.0 catalog."""

from __future__ import annotations

import dataclasses
import json
import logging
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from publisher import catalog, epub, narrate
from publisher.build import load_book, source_date
from publisher.catalog import list196_codes
from publisher.model import Accessibility, Publication
from publisher.options import BuildOptions, Reporter
from publisher.script import script_book

from .helpers import FIXTURES, NS
from .schemas.registry import errors
from .test_audiobook import make_publication, small_cover

ONIX = {"o": catalog.ONIX_NS}

#: schema.org feature -> List 196 code, written out independently of the module.
EXPECTED_CODE = {
    "tableOfContents": "11", "index": "12", "readingOrder": "13", "alternativeText": "14",
    "longDescription": "15", "MathML": "17", "ChemML": "18", "pageBreakMarkers": "19",
    "printPageNumbers": "19", "synchronizedAudioText": "20", "ttsMarkup": "21",
    "pronunciation": "21", "highContrastDisplay": "26", "highContrastAudio": "27",
    "audioDescription": "28", "structuralNavigation": "29", "ARIA": "30", "latex": "35",
    "displayTransformability": "36",
}
#: Meanings as EDItEUR's List 196 gives them.
EXPECTED_MEANING = {
    "11": "Table of contents navigation", "13": "Single logical reading order",
    "14": "Short alternative textual descriptions", "20": "Synchronised pre-recorded audio",
    "21": "Text-to-speech hinting provided", "29": "Next / Previous structural navigation",
    "36": "All textual content can be modified",
    "51": "All non-decorative content supports reading via pre-recorded audio",
    "52": "All non-decorative content supports reading without sight",
}
#: ONIX 3.0 sequence of the DescriptiveDetail children this module may write.
DESCRIPTIVE_ORDER = [
    "ProductComposition", "ProductForm", "ProductFormDetail", "ProductFormFeature",
    "PrimaryContentType", "ProductContentType", "EpubTechnicalProtection", "NoCollection",
    "TitleDetail", "Contributor", "NoContributor", "NoEdition", "Language", "Subject",
]
PRODUCT_ORDER = ["RecordReference", "NotificationType", "RecordSourceType",
                 "ProductIdentifier", "DescriptiveDetail", "CollateralDetail",
                 "PublishingDetail"]


def facts(features: tuple[str, ...] = (), sufficient: tuple[str, ...] = ("textual",),
          hazards: tuple[str, ...] = ("none",)) -> Accessibility:
    return Accessibility(access_modes=("textual",), access_mode_sufficient=sufficient,
                         features=features, hazards=hazards, summary="A summary.")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Publication, Path]:
    """The short book narrated, with its EPUB written as the build writes it."""
    root = tmp_path_factory.mktemp("onix")
    options = BuildOptions(engine="fake", out_root=root, workers=1)
    book = load_book(FIXTURES / "short-audio.md", options)
    out_dir = root / book.meta.slug
    out_dir.mkdir()
    script = script_book(book)
    result = narrate.narrate_book(book, script, out_dir, options, Reporter())
    modified = source_date(book.meta.date)
    epub_path = out_dir / "short-audio.epub"
    a11y = epub.write_epub(book, epub_path, modified=modified, audio=result,
                           pls=script.pls)
    pub = Publication(book=book, out_dir=out_dir, audio=result.sections, modified=modified,
                      narrator=result.narrator, accessibility=a11y,
                      cover=small_cover())
    return pub, epub_path


@pytest.fixture(scope="module")
def onix(built: tuple[Publication, Path]) -> etree._Element:
    pub, _ = built
    (path,) = catalog.write_onix(pub)
    assert path == pub.out_dir / "onix.xml"
    return etree.parse(str(path)).getroot()


def _codes(root: etree._Element, kind: str) -> list[str]:
    return root.xpath(f"//o:ProductFormFeature[o:ProductFormFeatureType='{kind}']"
                      "/o:ProductFormFeatureValue/text()", namespaces=ONIX)


# --------------------------------------------------------------------------- List 196


@pytest.mark.parametrize("feature", sorted(EXPECTED_CODE))
def test_each_feature_gives_its_code_and_only_then(feature: str) -> None:
    with_it = dict(list196_codes(facts((feature,)), has_audio=True))
    without = dict(list196_codes(facts(()), has_audio=True))
    assert EXPECTED_CODE[feature] in with_it
    assert EXPECTED_CODE[feature] not in without


def test_codes_carry_list_196_meanings() -> None:
    every = tuple(EXPECTED_CODE)
    codes = dict(list196_codes(facts(every, ("textual", "auditory")), has_audio=True))
    for code, meaning in EXPECTED_MEANING.items():
        assert codes[code] == meaning
    assert list(codes) == sorted(codes)


def test_audio_codes_need_audio() -> None:
    a11y = facts(("synchronizedAudioText", "tableOfContents"), ("textual", "auditory"))
    assert {c for c, _ in list196_codes(a11y, has_audio=True)} == {"11", "20", "51", "52"}
    assert {c for c, _ in list196_codes(a11y, has_audio=False)} == {"11", "52"}


def test_sufficient_text_needs_text_alone() -> None:
    """Code 52 means text alone suffices; 'textual,visual' (missing alt text) does not."""
    assert "52" not in dict(list196_codes(facts((), ("textual,visual",)), has_audio=False))


def test_no_code_for_what_list_196_does_not_name() -> None:
    assert list196_codes(facts(("table",), ()), has_audio=True) == []


def test_conformance_codes_only_from_a_stated_conformance() -> None:
    assert not {"04", "81", "85"} & {c for c, _ in list196_codes(facts(), has_audio=False)}

    @dataclasses.dataclass(frozen=True)
    class WithConformance:
        access_modes: tuple[str, ...] = ("textual",)
        access_mode_sufficient: tuple[str, ...] = ("textual",)
        features: tuple[str, ...] = ()
        hazards: tuple[str, ...] = ("none",)
        summary: str = ""
        conforms_to: tuple[str, ...] = ("EPUB Accessibility 1.1 - WCAG 2.1 Level AA",)

    codes = dict(list196_codes(WithConformance(), has_audio=False))  # type: ignore[arg-type]
    assert codes["04"] == "EPUB Accessibility Specification 1.1"
    assert codes["81"] == "WCAG v2.1" and codes["85"] == "WCAG level AA"


def test_hazard_codes() -> None:
    assert catalog.hazard_codes(facts()) == [("00", "No known hazards or warnings")]
    assert [c for c, _ in catalog.hazard_codes(facts(hazards=("noFlashingHazard",
                                                              "noSoundHazard")))] == ["14", "16"]
    assert catalog.hazard_codes(facts(hazards=("unknown",))) == []


# --------------------------------------------------------------------------- ONIX record


def test_onix_is_a_3_0_message(onix: etree._Element, built: tuple[Publication, Path]) -> None:
    pub, _ = built
    assert onix.tag == f"{{{catalog.ONIX_NS}}}ONIXMessage"
    assert onix.get("release") == "3.0"
    assert onix.xpath("string(o:Header/o:SentDateTime)", namespaces=ONIX) == "20000101T0000Z"
    (product,) = onix.xpath("o:Product", namespaces=ONIX)
    tags = [etree.QName(child).localname for child in product]
    assert tags == sorted(tags, key=PRODUCT_ORDER.index)
    assert product.xpath("string(o:RecordReference)", namespaces=ONIX) == \
        pub.book.meta.identifier
    assert product.xpath("string(o:NotificationType)", namespaces=ONIX) == "03"
    assert product.xpath("o:ProductIdentifier[o:ProductIDType='01']/o:IDValue/text()",
                         namespaces=ONIX) == [pub.book.meta.identifier]
    detail = product.find("o:DescriptiveDetail", ONIX)
    tags = [etree.QName(child).localname for child in detail]
    assert tags == sorted(tags, key=DESCRIPTIVE_ORDER.index)
    assert detail.findtext("o:ProductForm", namespaces=ONIX) == "ED"
    assert detail.xpath("o:ProductFormDetail/text()", namespaces=ONIX) == ["E101", "E200"]
    assert detail.xpath("string(o:TitleDetail/o:TitleElement/o:TitleText)",
                        namespaces=ONIX) == pub.book.meta.title
    roles = detail.xpath("o:Contributor/o:ContributorRole/text()", namespaces=ONIX)
    names = detail.xpath("o:Contributor/o:PersonName/text()", namespaces=ONIX)
    assert list(zip(roles, names, strict=True)) == [("A01", "Test Author"), ("E07", pub.narrator)]
    assert detail.xpath("string(o:Language/o:LanguageCode)", namespaces=ONIX) == "eng"


def test_onix_codes_are_the_facts(onix: etree._Element, built: tuple[Publication, Path]) -> None:
    pub, _ = built
    a11y = pub.accessibility
    codes = [c for c in _codes(onix, "09") if c != "00"]
    assert codes == [c for c, _ in list196_codes(a11y, has_audio=True)]
    # Features present <-> their codes present, and no feature code without its feature.
    expected = {EXPECTED_CODE[f] for f in a11y.features if f in EXPECTED_CODE}
    assert {c for c in codes if c in EXPECTED_CODE.values()} == expected
    assert ("52" in codes) == ("textual" in a11y.access_mode_sufficient)
    assert ("51" in codes) == ("auditory" in a11y.access_mode_sufficient)
    summary = onix.xpath("//o:ProductFormFeature[o:ProductFormFeatureValue='00' and "
                         "o:ProductFormFeatureType='09']/o:ProductFormFeatureDescription/text()",
                         namespaces=ONIX)
    assert summary == [a11y.summary]
    assert a11y.hazards == ("none",)
    assert _codes(onix, "12") == ["00"]  # List 143: no known hazards or warnings


def test_onix_codes_match_the_epub_metadata(onix: etree._Element,
                                            built: tuple[Publication, Path]) -> None:
    """The ONIX record and the EPUB's package metadata state the same accessibility."""
    _, epub_path = built
    with zipfile.ZipFile(epub_path) as archive:
        opf_name = next(n for n in archive.namelist() if n.endswith(".opf"))
        opf = etree.fromstring(archive.read(opf_name))

    def metas(prop: str) -> tuple[str, ...]:
        return tuple(opf.xpath(f"//opf:meta[@property='schema:{prop}']/text()", namespaces=NS))

    from_epub = Accessibility(access_modes=metas("accessMode"),
                              access_mode_sufficient=metas("accessModeSufficient"),
                              features=metas("accessibilityFeature"),
                              hazards=metas("accessibilityHazard"),
                              summary=metas("accessibilitySummary")[0],
                              conforms_to=tuple(opf.xpath(
                                  "//opf:meta[@property='dcterms:conformsTo']/text()",
                                  namespaces=NS)))
    assert from_epub.features, "the EPUB states its accessibility features"
    codes = [c for c in _codes(onix, "09") if c != "00"]
    assert codes == [c for c, _ in list196_codes(from_epub, has_audio=True)]
    assert [c for c, _ in catalog.hazard_codes(from_epub)] == _codes(onix, "12")


def test_onix_without_audio_claims_no_audio(built: tuple[Publication, Path]) -> None:
    pub, _ = built
    silent = dataclasses.replace(pub, audio=())
    root = catalog.onix_record(silent)
    codes = _codes(root, "09")
    assert "20" not in codes and "51" not in codes
    assert root.xpath("//o:ContributorRole[.='E07']", namespaces=ONIX) == []
    assert root.xpath("//o:ProductContentType", namespaces=ONIX) == []


def test_onix_same_bytes(built: tuple[Publication, Path], onix: etree._Element) -> None:
    pub, _ = built
    first = (pub.out_dir / "onix.xml").read_bytes()
    assert catalog.write_onix(pub)[0].read_bytes() == first
    assert first.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


# --------------------------------------------------------------------------- OPDS catalog


def _record(pub: Publication) -> dict[str, object]:
    """A build record as build.json holds it (the keys the catalog reads)."""
    files = sorted(p for p in pub.out_dir.rglob("*") if p.is_file())
    return {
        "slug": pub.book.meta.slug, "title": pub.book.meta.title,
        "identifier": pub.book.meta.identifier, "language": pub.book.meta.language,
        "modified": pub.modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "catalog": catalog.catalog_record(pub),
        "files": [{"path": p.relative_to(pub.out_dir).as_posix()} for p in files],
    }


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder with two built books, one being built, and one broken record."""
    root = tmp_path_factory.mktemp("library")
    pub = make_publication(FIXTURES / "short-audio.md", root)
    assert pub.cover is not None
    (pub.out_dir / "cover.jpg").write_bytes(pub.cover.data)
    for name in ("short-audio.epub", "short-audio.m4b", "short-audio.audiobook",
                 "short-audio.lpf"):
        (pub.out_dir / name).write_bytes(b"stand-in")
    (pub.out_dir / "build.json").write_text(json.dumps(_record(pub)), encoding="utf-8")
    older = root / "a-older-book"  # built before catalog records existed
    older.mkdir()
    (older / "a-older-book.epub").write_bytes(b"stand-in")
    (older / "cover.jpg").write_bytes(pub.cover.data)
    (older / "build.json").write_text(json.dumps({
        "slug": "a-older-book", "title": "An older book", "language": "fr",
        "identifier": "urn:isbn:9780000000002", "modified": "1999-12-31T00:00:00Z",
        "files": [{"path": "a-older-book.epub"}, {"path": "cover.jpg"}]}), encoding="utf-8")
    staging = root / ".z-book.building-abc"
    staging.mkdir()
    (staging / "build.json").write_text('{"slug": "z-book", "title": "Half built"}')
    broken = root / "broken"
    broken.mkdir()
    (broken / "build.json").write_text("{not json")
    return root


def test_catalog_is_valid_opds(library: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        path = catalog.update_catalog(library)
    assert path == library / "catalog.json"
    feed = json.loads(path.read_text(encoding="utf-8"))
    assert errors("opds", "feed.schema.json", feed) == []
    assert "broken" in caplog.text
    assert feed["links"] == [{"rel": "self", "href": "catalog.json",
                              "type": "application/opds+json"}]
    assert [p["metadata"]["title"] for p in feed["publications"]] == \
        ["An older book", "A short book for audio tests"]
    assert feed["metadata"]["numberOfItems"] == 2
    assert feed["metadata"]["modified"] == "2000-01-01T00:00:00Z"


def test_catalog_links_every_format_and_they_exist(library: Path) -> None:
    feed = json.loads(catalog.update_catalog(library).read_text(encoding="utf-8"))
    entry = next(p for p in feed["publications"] if p["metadata"]["title"].startswith("A short"))
    types = {link["type"]: link for link in entry["links"]}
    assert set(types) == {"application/epub+zip", "application/audiobook+zip", "audio/mp4",
                          "application/lpf+zip"}
    assert {link["rel"] for link in entry["links"]} == {"http://opds-spec.org/acquisition"}
    assert entry["metadata"]["author"] == ["Test Author"]
    assert entry["metadata"]["narrator"]
    (image,) = entry["images"]
    assert image["type"] == "image/jpeg" and image["width"] == image["height"] == 48
    for publication in feed["publications"]:
        for link in publication["links"] + publication["images"]:
            assert (library / link["href"]).is_file(), link["href"]


def test_catalog_uses_the_base_url(library: Path, tmp_path: Path) -> None:
    records = catalog.read_build_records(library)
    records[1]["catalog"]["base_url"] = "https://books.example.org/short-audio"  # type: ignore[index]
    feed = catalog.catalog_feed(records)
    assert errors("opds", "feed.schema.json", feed) == []
    links = feed["publications"][1]["links"] + feed["publications"][1]["images"]
    assert all(link["href"].startswith("https://books.example.org/short-audio/")
               for link in links)


def test_catalog_rewrite_is_atomic_and_stable(library: Path) -> None:
    first = catalog.update_catalog(library).read_bytes()
    assert catalog.update_catalog(library).read_bytes() == first
    assert not [p.name for p in library.iterdir() if p.name.startswith(".catalog.")
                and p.name.endswith(".tmp")]


def test_empty_output_folder_gives_an_empty_catalog(tmp_path: Path) -> None:
    feed = json.loads(catalog.update_catalog(tmp_path).read_text(encoding="utf-8"))
    assert feed["publications"] == [] and feed["metadata"]["numberOfItems"] == 0
    assert errors("opds", "feed.schema.json", feed) == []
