"""The chaptered M4B audiobook: decodes, adds up, has its chapters, tags and cover, same bytes."""

from __future__ import annotations

import dataclasses
import io
from fractions import Fraction
from pathlib import Path

import av
import pytest
from mutagen.mp4 import MP4
from PIL import Image

from publisher import epub, narrate
from publisher.audiobook import M4B_BITRATE_KBPS, m4b_path, write_m4b
from publisher.build import load_book, source_date
from publisher.errors import AudioError
from publisher.model import Cover, Publication
from publisher.options import BuildOptions, Reporter
from publisher.script import script_book

from .helpers import FIXTURES

SHORT = FIXTURES / "short-audio.md"


def small_cover() -> Cover:
    """A tiny deterministic JPEG cover (the real one is 3000 px; size does not matter here)."""
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), (40, 90, 160)).save(buffer, format="JPEG", quality=80)
    return Cover(data=buffer.getvalue(), media_type="image/jpeg", alt="Cover: a blue square",
                 width_px=48, height_px=48)


def make_publication(source: Path, root: Path, *, cover: bool = True,
                     base_url: str = "") -> Publication:
    """Narrate ``source`` with the fake engine into ``root/<slug>`` and describe it."""
    options = BuildOptions(engine="fake", out_root=root, workers=1)
    book = load_book(source, options)
    out_dir = root / book.meta.slug
    out_dir.mkdir(parents=True, exist_ok=True)
    result = narrate.narrate_book(book, script_book(book), out_dir, options, Reporter())
    return Publication(book=book, out_dir=out_dir, audio=result.sections,
                       modified=source_date(book.meta.date),
                       narrator=result.narrator,
                       accessibility=epub.facts(book, result, has_pls=False),
                       cover=small_cover() if cover else None, base_url=base_url)


@pytest.fixture(scope="module")
def pub(tmp_path_factory: pytest.TempPathFactory) -> Publication:
    return make_publication(SHORT, tmp_path_factory.mktemp("m4b"))


@pytest.fixture(scope="module")
def m4b(pub: Publication) -> Path:
    (path,) = write_m4b(pub)
    return path


def _sections_ms(pub: Publication) -> list[int]:
    return [a.duration_ms for a in pub.audio]


def test_written_beside_the_book(pub: Publication, m4b: Path) -> None:
    assert m4b == pub.out_dir / "short-audio.m4b" == m4b_path(pub)
    assert m4b.read_bytes()[4:8] == b"ftyp"
    assert b"M4A " in m4b.read_bytes()[:32]


def test_decodes_to_the_sum_of_the_sections(pub: Publication, m4b: Path) -> None:
    expected_s = sum(_sections_ms(pub)) / 1000
    with av.open(str(m4b)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert stream.codec_context.layout.name == "mono"
        assert stream.codec_context.sample_rate == pub.audio[0].sample_rate_hz
        container_s = container.duration / av.time_base
        decoded = sum(frame.samples for frame in container.decode(stream))
    assert container_s == pytest.approx(expected_s, abs=0.5)
    assert decoded / pub.audio[0].sample_rate_hz == pytest.approx(expected_s, abs=0.5)
    # AAC priming is hidden by the edit list: the playing time is the sections' time.
    assert container_s == pytest.approx(expected_s, abs=0.05)


def test_bit_rate_is_the_speech_rate(pub: Publication, m4b: Path) -> None:
    seconds = sum(_sections_ms(pub)) / 1000
    kbps = m4b.stat().st_size * 8 / seconds / 1000
    assert kbps < M4B_BITRATE_KBPS * 1.5


def test_one_chapter_per_section_at_its_start(pub: Publication, m4b: Path) -> None:
    titles = [s.title for s in pub.book.sections]
    starts_s, position = [], 0
    for duration in _sections_ms(pub):
        starts_s.append(position / 1000)
        position += duration
    with av.open(str(m4b)) as container:
        chapters = container.chapters()
    assert [c["metadata"]["title"] for c in chapters] == titles
    assert not any(t.startswith("Chapter ") for t in titles)
    for chapter, start_s in zip(chapters, starts_s, strict=True):
        base = Fraction(chapter["time_base"])
        assert float(chapter["start"] * base) == pytest.approx(start_s, abs=0.01)
    assert float(chapters[-1]["end"] * Fraction(chapters[-1]["time_base"])) == \
        pytest.approx(position / 1000, abs=0.05)
    # The Nero chapter list too, for players that read only that one.
    nero = MP4(str(m4b)).chapters
    assert [c.title for c in nero] == titles
    assert [c.start for c in nero] == pytest.approx(starts_s, abs=0.01)


def test_tags_say_audiobook_title_author_narrator(pub: Publication, m4b: Path) -> None:
    tags = MP4(str(m4b)).tags
    assert tags is not None
    meta = pub.book.meta
    assert tags["\xa9nam"] == [meta.title]
    assert tags["\xa9alb"] == [meta.title]
    assert tags["\xa9ART"] == ["Test Author"]
    assert tags["aART"] == ["Test Author"]
    assert tags["\xa9nrt"] == [pub.narrator]
    assert tags["\xa9wrt"] == [pub.narrator]
    assert bytes(tags["----:com.apple.iTunes:NARRATOR"][0]) == pub.narrator.encode()
    assert tags["stik"] == [2]
    assert tags["\xa9gen"] == ["Audiobook"]
    assert tags["\xa9day"] == [pub.modified.strftime("%Y")]
    assert bytes(tags["----:com.apple.iTunes:LANGUAGE"][0]) == b"en"
    with av.open(str(m4b)) as container:
        assert container.streams.audio[0].metadata.get("language") == "eng"
        assert container.metadata["creation_time"].startswith(
            pub.modified.strftime("%Y-%m-%dT%H:%M:%S"))


def test_cover_art(pub: Publication, m4b: Path) -> None:
    tags = MP4(str(m4b)).tags
    assert tags is not None
    (cover,) = tags["covr"]
    assert pub.cover is not None
    assert bytes(cover) == pub.cover.data
    assert cover.imageformat == cover.FORMAT_JPEG


def test_same_bytes_every_time_and_anywhere(pub: Publication, m4b: Path,
                                            tmp_path: Path) -> None:
    first = m4b.read_bytes()
    assert write_m4b(pub)[0].read_bytes() == first
    elsewhere = dataclasses.replace(pub, out_dir=tmp_path)
    (moved,) = write_m4b(elsewhere)
    assert moved.read_bytes() == first


def test_without_cover_or_authors(pub: Publication, tmp_path: Path) -> None:
    meta = dataclasses.replace(pub.book.meta, authors=(), description="About a day.")
    book = dataclasses.replace(pub.book, meta=meta)
    (path,) = write_m4b(dataclasses.replace(pub, book=book, cover=None, out_dir=tmp_path))
    tags = MP4(str(path)).tags
    assert tags is not None
    assert "covr" not in tags and "\xa9ART" not in tags
    assert tags["desc"] == ["About a day."]
    assert tags["ldes"] == ["About a day."]


def test_no_audio_is_an_error(pub: Publication, tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no section audio"):
        write_m4b(dataclasses.replace(pub, audio=(), out_dir=tmp_path))


def test_unreadable_section_names_the_file(pub: Publication, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"this is not audio")
    audio = (dataclasses.replace(pub.audio[0], path=broken),) + pub.audio[1:]
    with pytest.raises(AudioError, match="broken.mp3"):
        write_m4b(dataclasses.replace(pub, audio=audio, out_dir=tmp_path))
    assert not (tmp_path / "short-audio.m4b").exists()  # no half-written audiobook
