"""Readium audiobook (.audiobook) and W3C Audiobooks (.lpf): valid, complete, adding up."""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from pathlib import Path

import pytest
from lxml import html

from publisher import manifests
from publisher.model import Publication

from .helpers import write_book
from .schemas.registry import errors
from .test_audiobook import make_publication

BODY = """
## Morning

The sun came up over the hills.

### Birds

A small bird sang near the window. It sang again.

## Evening

The lights came on one by one.
"""


@pytest.fixture(scope="module")
def pub(tmp_path_factory: pytest.TempPathFactory) -> Publication:
    source = write_book(tmp_path_factory.mktemp("src"), BODY, name="day.md",
                        title="A day", author="Test Author", date="2024-05-06",
                        publisher="Zine Library", description="A short day, read aloud.",
                        content_note="Mentions birds.")
    return make_publication(source, tmp_path_factory.mktemp("out"))


@pytest.fixture(scope="module")
def audiobook(pub: Publication) -> Path:
    (path,) = manifests.write_readium_audiobook(pub)
    return path


@pytest.fixture(scope="module")
def lpf(pub: Publication) -> Path:
    (path,) = manifests.write_lpf(pub)
    return path


def _iso_seconds(duration: str) -> float:
    match = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", duration)
    assert match, duration
    return float(match.group(1))


# --------------------------------------------------------------------------- Readium


def test_readium_manifest_is_valid(pub: Publication) -> None:
    manifest = manifests.readium_manifest(pub)
    assert errors("readium", "publication.schema.json", manifest) == []


def test_readium_audiobook_profile(pub: Publication) -> None:
    manifest = manifests.readium_manifest(pub)
    metadata = manifest["metadata"]
    assert manifest["@context"] == "https://readium.org/webpub-manifest/context.jsonld"
    assert metadata["@type"] == "http://schema.org/Audiobook"
    assert metadata["conformsTo"] == "https://readium.org/webpub-manifest/profiles/audiobook"
    assert metadata["identifier"] == pub.book.meta.identifier
    assert metadata["title"] == "A day"
    assert metadata["author"] == ["Test Author"]
    assert metadata["narrator"] == pub.narrator
    assert metadata["publisher"] == "Zine Library"
    assert metadata["language"] == "en"
    assert metadata["published"] == "2024-05-06"
    assert metadata["modified"] == "2024-05-06T00:00:00Z"
    self_link = manifest["links"][0]
    assert self_link == {"rel": "self", "href": "manifest.json",
                         "type": "application/audiobook+json"}
    for link in manifest["readingOrder"]:
        assert link["type"] == "audio/mpeg" and "#" not in link["href"]
        assert link["duration"] > 0 and link["bitrate"] > 0
    assert [link["title"] for link in manifest["readingOrder"]] == \
        [s.title for s in pub.book.sections]
    assert manifest["resources"][0]["rel"] == "cover"


def test_readium_durations_add_up(pub: Publication) -> None:
    manifest = manifests.readium_manifest(pub)
    total_ms = sum(a.duration_ms for a in pub.audio)
    items = [link["duration"] for link in manifest["readingOrder"]]
    assert items == [a.duration_ms / 1000 for a in pub.audio]
    assert manifest["metadata"]["duration"] == pytest.approx(total_ms / 1000, abs=0.001)
    assert sum(items) == pytest.approx(manifest["metadata"]["duration"], abs=0.001)


def test_toc_reaches_headings_inside_sections(pub: Publication) -> None:
    toc = manifests.readium_manifest(pub)["toc"]
    # The content note comes first, as in the book.
    assert [entry["title"] for entry in toc] == ["Content note", "A day", "Morning", "Evening"]
    morning = next(entry for entry in toc if entry["title"] == "Morning")
    (birds,) = morning["children"]
    assert birds["title"] == "Birds"
    href, _, fragment = birds["href"].partition("#t=")
    assert href == morning["href"]
    audio = next(a for a in pub.audio if a.path.name == Path(href).name)
    # The heading is spoken where its own sentence starts.
    assert float(fragment) * 1000 in [t.start_ms for t in audio.timings]
    assert 0 < float(fragment) * 1000 < audio.duration_ms


def test_readium_package(pub: Publication, audiobook: Path) -> None:
    assert audiobook.name == "day.audiobook"
    with zipfile.ZipFile(audiobook) as archive:
        infos = archive.infolist()
        assert infos[0].filename == "manifest.json"
        manifest = json.loads(archive.read("manifest.json"))
        names = {info.filename for info in infos}
        hrefs = [link["href"] for link in manifest["readingOrder"] + manifest["resources"]]
        assert set(hrefs) <= names
        for audio in pub.audio:
            name = audio.path.relative_to(pub.out_dir).as_posix()
            assert archive.getinfo(name).compress_type == zipfile.ZIP_STORED
            assert archive.read(name) == audio.path.read_bytes()
        assert archive.getinfo("manifest.json").compress_type == zipfile.ZIP_DEFLATED
        assert archive.getinfo("cover.jpg").compress_type == zipfile.ZIP_STORED
        assert {info.date_time for info in infos} == {(2024, 5, 6, 0, 0, 0)}
        assert archive.testzip() is None
    assert manifest == manifests.readium_manifest(pub)


def test_audio_edition_claims_only_what_audio_offers(pub: Publication) -> None:
    a11y = manifests.readium_manifest(pub)["metadata"]["accessibility"]
    assert a11y["accessMode"] == ["auditory"]
    assert a11y["accessModeSufficient"] == ["auditory"]
    assert a11y["feature"] == ["tableOfContents"]
    assert a11y["hazard"] == list(pub.accessibility.hazards)
    assert "displayTransformability" not in a11y["feature"]  # the EPUB's, not the audio's
    assert "content note" in a11y["summary"]


# --------------------------------------------------------------------------- W3C


def test_w3c_manifest_is_valid(pub: Publication) -> None:
    manifest = manifests.lpf_manifest(pub)
    assert errors("w3c-audiobooks", "audiobooks.schema.json", manifest) == []


def test_w3c_manifest_content(pub: Publication) -> None:
    manifest = manifests.lpf_manifest(pub)
    assert manifest["@context"] == ["https://schema.org", "https://www.w3.org/ns/pub-context"]
    assert manifest["conformsTo"] == "https://www.w3.org/TR/audiobooks/"
    assert manifest["type"] == "Audiobook"
    assert manifest["id"] == pub.book.meta.identifier
    assert manifest["name"] == "A day"
    assert manifest["author"] == [{"type": "Person", "name": "Test Author"}]
    assert manifest["readBy"] == [pub.narrator]
    assert manifest["inLanguage"] == "en"
    assert manifest["datePublished"] == "2024-05-06"
    assert "url" not in manifest  # no base URL: no address to claim
    rels = {r["rel"]: r for r in manifest["resources"]}
    assert rels["cover"]["url"] == "cover.jpg"
    assert rels["contents"] == {"type": "LinkedResource", "rel": "contents", "url": "toc.html",
                                "encodingFormat": "text/html", "name": "Contents"}


def test_w3c_durations_add_up(pub: Publication) -> None:
    manifest = manifests.lpf_manifest(pub)
    items = [_iso_seconds(r["duration"]) for r in manifest["readingOrder"]]
    assert items == [a.duration_ms / 1000 for a in pub.audio]
    assert sum(items) == pytest.approx(_iso_seconds(manifest["duration"]), abs=0.001)


def test_w3c_url_with_base_url(pub: Publication) -> None:
    online = dataclasses.replace(pub, base_url="https://books.example.org/day")
    manifest = manifests.lpf_manifest(online)
    assert manifest["url"] == "https://books.example.org/day/"
    assert errors("w3c-audiobooks", "audiobooks.schema.json", manifest) == []


def test_lpf_package_and_its_toc(pub: Publication, lpf: Path) -> None:
    assert lpf.name == "day.lpf"
    with zipfile.ZipFile(lpf) as archive:
        names = archive.namelist()
        assert names[0] == "publication.json"
        manifest = json.loads(archive.read("publication.json"))
        urls = [r["url"] for r in manifest["readingOrder"] + manifest["resources"]]
        assert set(urls) <= set(names)
        page = html.fromstring(archive.read("toc.html"))
    (nav,) = page.xpath("//nav[@role='doc-toc']")
    links = [(a.text, a.get("href")) for a in nav.iter("a")]
    assert [href for _, href in links if "#" not in href] == \
        [r["url"] for r in manifest["readingOrder"]]
    assert ("Birds", next(h for t, h in links if t == "Birds")) in links
    assert page.get("lang") == "en"


def test_packages_same_bytes_every_time(pub: Publication, audiobook: Path, lpf: Path,
                                        tmp_path: Path) -> None:
    first = (audiobook.read_bytes(), lpf.read_bytes())
    assert (manifests.write_readium_audiobook(pub)[0].read_bytes(),
            manifests.write_lpf(pub)[0].read_bytes()) == first
    assert not list(pub.out_dir.glob(".*.tmp"))


def test_schemas_are_not_vacuous(pub: Publication) -> None:
    """The shipped schemas do reject what the specs forbid."""
    readium = manifests.readium_manifest(pub)
    del readium["readingOrder"][0]["type"]
    readium["metadata"]["accessibility"]["feature"] = ["pronunciation"]
    found = errors("readium", "publication.schema.json", readium)
    assert any("readingOrder/0" in e and "'type' is a required property" in e for e in found)
    assert any("'pronunciation' is not one of" in e for e in found)
    w3c = manifests.lpf_manifest(pub)
    w3c["conformsTo"] = "https://example.org/not-audiobooks"
    w3c["duration"] = "28 seconds"
    found = errors("w3c-audiobooks", "audiobooks.schema.json", w3c)
    assert any(e.startswith("conformsTo") for e in found)
    assert any(e.startswith("duration") for e in found)
