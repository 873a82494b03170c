"""Read-along EPUB: media overlays from the synthesis timings (fake engine, real
encoding, real EPUBCheck)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import soundfile
from lxml import etree

from publisher.build import build
from publisher.options import BuildOptions

from .helpers import FIRST_BOOK, FIXTURES, NS, epub_xml

OPF = "EPUB/content.opf"


def _ms(clock: str) -> int:
    hours, minutes, seconds = clock.split(":")
    return round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * 1000)


def narrated(source: Path, out: Path, **options) -> Path:
    result = build(source, BuildOptions(out_root=out, engine="fake", workers=1, **options))
    return result.out_dir


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> Path:
    return narrated(FIRST_BOOK, tmp_path_factory.mktemp("overlays"))


def _smil_docs(epub: Path) -> dict[str, etree._Element]:
    opf = epub_xml(epub, OPF)
    items = opf.iterfind(".//opf:manifest/opf:item[@media-type='application/smil+xml']", NS)
    return {item.get("href"): epub_xml(epub, f"EPUB/{item.get('href')}") for item in items}


def test_every_sentence_has_exactly_one_par_in_document_order(first):
    epub = first / "unpacking-self-harm.epub"
    opf = epub_xml(epub, OPF)
    manifest = {i.get("id"): i for i in opf.iterfind(".//opf:manifest/opf:item", NS)}
    narrated_docs = [i for i in manifest.values() if i.get("media-overlay")]
    assert len(narrated_docs) == 11  # 10 sections + the nav
    with zipfile.ZipFile(epub) as archive:
        for doc in narrated_docs:
            href = doc.get("href")
            smil_href = manifest[doc.get("media-overlay")].get("href")
            xhtml = etree.fromstring(archive.read(f"EPUB/{href}"))
            smil = etree.fromstring(archive.read(f"EPUB/{smil_href}"))
            if href == "nav.xhtml":
                span_ids = [s.get("id") for s in xhtml.iterfind(".//x:nav[@id='toc']//x:span", NS)]
            else:
                span_ids = [s.get("id") for s in xhtml.iterfind(".//x:span[@id]", NS)]
            texts = [t.get("src") for t in smil.iterfind(".//smil:text", NS)]
            targets = [src.split("#")[1] for src in texts]
            assert targets == span_ids, href  # each once, in document order
            for src in texts:  # every fragment resolves to that document
                assert src.split("#")[0] == f"../{href}"


def test_clips_are_contiguous_inside_their_audio_and_match_build_json(first):
    epub = first / "unpacking-self-harm.epub"
    record = json.loads((first / "build.json").read_text())
    timings = {t["id"]: t for s in record["sections"] for t in s.get("timings", [])}
    total = 0
    with zipfile.ZipFile(epub) as archive:
        for href, smil in _smil_docs(epub).items():
            audios = list(smil.iterfind(".//smil:audio", NS))
            srcs = {a.get("src") for a in audios}
            assert len(srcs) == 1
            data = archive.read("EPUB/" + re.sub(r"^\.\./", "", srcs.pop()))
            info = soundfile.info(io.BytesIO(data))
            decoded_ms = info.frames * 1000 / info.samplerate
            previous_end = None
            for audio, par in zip(audios, smil.iterfind(".//smil:par", NS), strict=True):
                begin, end = _ms(audio.get("clipBegin")), _ms(audio.get("clipEnd"))
                assert begin < end
                assert end <= decoded_ms + 10
                if previous_end is not None:
                    assert begin == previous_end  # contiguous
                previous_end = end
                sentence_id = par.find("smil:text", NS).get("src").split("#")[1]
                if sentence_id in timings:
                    assert abs(timings[sentence_id]["start_ms"] - begin) <= 1
                    assert abs(timings[sentence_id]["end_ms"] - end) <= 1
            total += _ms(epub_xml(epub, OPF).find(
                f".//opf:meta[@refines='#{_smil_id(epub, href)}']", NS).text)
    overall = epub_xml(epub, OPF).xpath(
        "//opf:meta[@property='media:duration'][not(@refines)]", namespaces=NS)
    assert len(overall) == 1
    assert abs(_ms(overall[0].text) - total) <= 1000


def _smil_id(epub: Path, href: str) -> str:
    opf = epub_xml(epub, OPF)
    return opf.find(f".//opf:manifest/opf:item[@href='{href}']", NS).get("id")


def test_package_metadata_for_media_overlays(first):
    opf = epub_xml(first / "unpacking-self-harm.epub", OPF)

    def values(prop: str) -> list[str]:
        return [m.text for m in opf.iterfind(f".//opf:meta[@property='{prop}']", NS)]

    assert values("media:active-class") == ["-epub-media-overlay-active"]
    assert values("media:narrator") and values("media:narrator")[0]
    assert "auditory" in values("schema:accessModeSufficient")
    assert "synchronizedAudioText" in values("schema:accessibilityFeature")
    assert "synthetic voice" in values("schema:accessibilitySummary")[0]
    with zipfile.ZipFile(first / "unpacking-self-harm.epub") as archive:
        css = archive.read("EPUB/css/book.css").decode()
    assert ".-epub-media-overlay-active" in css
    audio_items = opf.iterfind(".//opf:manifest/opf:item[@media-type='audio/mpeg']", NS)
    spine = {i.get("idref") for i in opf.iterfind(".//opf:spine/opf:itemref", NS)}
    assert all(item.get("id") not in spine for item in audio_items)


def test_lists_are_escapable_structures(first):
    smil = _smil_docs(first / "unpacking-self-harm.epub")["smil/08-research-shows.smil"]
    lists = smil.findall(".//smil:seq[@epub:type='list']", NS)
    assert len(lists) == 1
    assert len(lists[0].findall("smil:par", NS)) == 5


def test_footnotes_are_skippable(tmp_path):
    out = narrated(FIXTURES / "footnotes.md", tmp_path)
    smils = _smil_docs(next(out.glob("*.epub")))
    notes = [seq for smil in smils.values()
             for seq in smil.iterfind(".//smil:seq[@epub:type='endnotes']", NS)]
    assert notes


def test_epub_size_is_recorded_and_text_only_still_works(first, tmp_path):
    record = json.loads((first / "build.json").read_text())
    assert record["epub"]["bytes"] == (first / "unpacking-self-harm.epub").stat().st_size
    assert record["epub"]["media_overlays"] is True
    plain = narrated(FIRST_BOOK, tmp_path, overlays=False)
    names = zipfile.ZipFile(plain / "unpacking-self-harm.epub").namelist()
    assert not [n for n in names if n.endswith(".smil") or n.endswith(".mp3")]
    assert list((plain / "audio").glob("*.mp3"))


def test_editing_one_sentence_changes_only_its_clip_and_those_after_it(tmp_path):
    source = tmp_path / "book.md"
    text = FIRST_BOOK.read_text(encoding="utf-8")
    source.write_text(text, encoding="utf-8")
    options = {"cache_dir": tmp_path / "cache"}
    before = _clips(narrated(source, tmp_path / "a", **options))
    source.write_text(text.replace("Self-harm can be cyclical.",
                                   "Self-harm can often be cyclical."), encoding="utf-8")
    after = _clips(narrated(source, tmp_path / "b", **options))
    changed_files = {href for href in before if before[href] != after.get(href)}
    assert changed_files == {"smil/10-harm-reduction-is-often-a-much-better-approach.smil"}
    old = before["smil/10-harm-reduction-is-often-a-much-better-approach.smil"]
    new = after["smil/10-harm-reduction-is-often-a-much-better-approach.smil"]
    first_change = next(i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b)
    assert old[:first_change] == new[:first_change]
    assert old[first_change][0] != new[first_change][0]  # the edited sentence's new id


def _clips(out: Path) -> dict[str, list[tuple[str, str, str]]]:
    epub = next(out.glob("*.epub"))
    return {href: [(p.find("smil:text", NS).get("src"),
                    p.find("smil:audio", NS).get("clipBegin"),
                    p.find("smil:audio", NS).get("clipEnd"))
                   for p in smil.iterfind(".//smil:par", NS)]
            for href, smil in _smil_docs(epub).items()}


@pytest.mark.slow
@pytest.mark.xdist_group("epubcheck")
@pytest.mark.parametrize("name", ["first", "images.md", "footnotes.md", "lists.md",
                                  "tables.md", "rtl-arabic.md", "metadata.md"])
def test_epubcheck_with_overlays(name, first, tmp_path, epubcheck):
    out = first if name == "first" else narrated(FIXTURES / name, tmp_path)
    report = epubcheck(next(out.glob("*.epub")))
    assert report.ok, report.summary()


@pytest.mark.slow
def test_ace_with_overlays(first, tmp_path, ace):
    report = ace(first / "unpacking-self-harm.epub", tmp_path / "ace")
    assert report.ok, report.summary()
