"""Tests for publisher.cover: a 3000 px square RGB JPEG, given or generated."""

from __future__ import annotations

import dataclasses
import io
import logging
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from publisher.cover import (
    COVER_SIZE_PX,
    cover_filename,
    generated_cover_alt,
    make_cover,
    write_cover,
)
from publisher.errors import ConfigError
from publisher.model import Accessibility, Book, BookMeta, Publication
from tests.helpers import FIXTURES

META = BookMeta(title="unpacking self-harm", language="en",
                identifier="urn:uuid:00000000-0000-4000-8000-000000000001", slug="book",
                subtitle="understanding what it is and why it helps",
                authors=("Ada Example", "Grace Sample"))


def open_jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


def assert_cover_format(cover) -> Image.Image:
    assert cover.media_type == "image/jpeg"
    assert (cover.width_px, cover.height_px) == (COVER_SIZE_PX, COVER_SIZE_PX) == (3000, 3000)
    image = open_jpeg(cover.data)
    assert image.size == (3000, 3000)
    assert image.mode == "RGB"
    assert "exif" not in image.info and not image.getexif()
    return image


def test_generated_cover_is_a_3000px_rgb_jpeg(tmp_path):
    cover = make_cover(META, tmp_path)
    image = assert_cover_format(cover)
    # Plain light background, dark text: the corners are background, and there is ink.
    assert image.getpixel((10, 10))[0] > 230
    assert image.convert("L").getextrema()[0] < 60


def test_generated_cover_is_deterministic(tmp_path):
    assert make_cover(META, tmp_path).data == make_cover(META, tmp_path).data


def test_generated_cover_changes_with_the_title(tmp_path):
    other = dataclasses.replace(META, title="another book")
    assert make_cover(META, tmp_path).data != make_cover(other, tmp_path).data


def test_generated_cover_alt_text(tmp_path):
    assert make_cover(META, tmp_path).alt == (
        "Cover: unpacking self-harm — understanding what it is and why it helps, "
        "by Ada Example and Grace Sample")
    bare = dataclasses.replace(META, subtitle="", authors=())
    assert generated_cover_alt(bare) == "Cover: unpacking self-harm"
    one = dataclasses.replace(META, subtitle="", authors=("Ada Example",))
    assert generated_cover_alt(one) == "Cover: unpacking self-harm, by Ada Example"


def test_generated_cover_fits_a_very_long_title(tmp_path):
    long = dataclasses.replace(META, title=" ".join(["Extraordinarily"] * 40),
                               subtitle="A subtitle " * 20)
    image = assert_cover_format(make_cover(long, tmp_path))
    # Nothing is drawn in the outer margin.
    band = image.crop((0, 0, 3000, 200)).convert("L")
    assert band.getextrema()[0] > 200


def test_generated_cover_with_accents_has_no_warning(tmp_path, caplog):
    french = dataclasses.replace(META, title="Œuvres complètes — été", language="fr")
    with caplog.at_level(logging.WARNING, logger="publisher.cover"):
        assert_cover_format(make_cover(french, tmp_path))
    assert not caplog.records


def test_front_matter_image_is_padded_not_stretched(tmp_path):
    # A wide image with a black circle: after padding to a square, still a circle.
    source = tmp_path / "wide.png"
    image = Image.new("RGBA", (800, 400), (255, 255, 255, 255))
    ImageDraw.Draw(image).ellipse((300, 100, 500, 300), fill=(0, 0, 0, 255))
    image.save(source)
    meta = dataclasses.replace(META, cover=source, cover_alt="A black circle on white.")
    cover = make_cover(meta, tmp_path)
    result = assert_cover_format(cover)
    assert cover.alt == "A black circle on white."
    dark = result.convert("L").point(lambda v: 255 if v < 128 else 0)
    left, top, right, bottom = dark.getbbox()
    assert abs((right - left) - (bottom - top)) <= 8
    assert abs((right - left) - 750) <= 12  # 200 px of 800 scaled to 3000
    # The padding takes the image's own edge colour (white), not a stretch.
    assert result.getpixel((1500, 100)) == pytest.approx((255, 255, 255), abs=3)


def test_front_matter_transparency_is_flattened(tmp_path):
    source = tmp_path / "clear.png"
    Image.new("RGBA", (3000, 3000), (0, 0, 0, 0)).save(source)
    result = assert_cover_format(make_cover(dataclasses.replace(META, cover=source), tmp_path))
    assert result.getpixel((1500, 1500))[0] > 230  # transparent -> light background


def test_front_matter_small_jpeg_is_scaled_up(tmp_path):
    meta = dataclasses.replace(META, cover=FIXTURES / "images" / "field.jpg")
    cover = make_cover(meta, tmp_path)
    assert_cover_format(cover)
    assert cover.alt == "Cover of unpacking self-harm"
    assert make_cover(meta, tmp_path).data == cover.data


def test_front_matter_cover_that_is_ready_is_kept_byte_for_byte(tmp_path):
    source = tmp_path / "ready.jpg"
    Image.new("RGB", (3000, 3000), (40, 90, 160)).save(source, "JPEG", quality=80)
    cover = make_cover(dataclasses.replace(META, cover=source), tmp_path)
    assert cover.data == source.read_bytes()


def test_front_matter_exif_is_applied_and_removed(tmp_path):
    # A photo stored sideways with EXIF orientation 6 (rotate 90° clockwise).
    source = tmp_path / "photo.jpg"
    image = Image.new("RGB", (3000, 3000), (200, 200, 200))
    ImageDraw.Draw(image).rectangle((0, 0, 1499, 2999), fill=(0, 0, 0))  # left half black
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Camera maker"
    image.save(source, "JPEG", exif=exif)
    result = assert_cover_format(make_cover(dataclasses.replace(META, cover=source),
                                            tmp_path))
    # Rotated clockwise, the black left half is now the top half.
    assert result.getpixel((1500, 500))[0] < 40
    assert result.getpixel((1500, 2500))[0] > 160


def test_unreadable_cover_is_a_config_error(tmp_path):
    source = tmp_path / "cover.png"
    source.write_text("not an image", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'cover' is 'cover.png'.*use a JPEG or PNG"):
        make_cover(dataclasses.replace(META, cover=source), tmp_path)


def test_relative_cover_path_is_resolved_against_the_source_folder(tmp_path):
    Image.new("RGB", (100, 100), "red").save(tmp_path / "c.png")
    cover = make_cover(dataclasses.replace(META, cover=Path("c.png")), tmp_path)
    assert open_jpeg(cover.data).getpixel((1500, 1500))[0] > 200


def test_write_cover(tmp_path):
    cover = make_cover(META, tmp_path)
    pub = Publication(book=Book(meta=META, sections=()), out_dir=tmp_path / "out", audio=(),
                      modified=__import__("datetime").datetime(2024, 1, 1),
                      narrator="", accessibility=Accessibility((), (), (), (), ""),
                      cover=cover)
    (path,) = write_cover(pub)
    assert path == tmp_path / "out" / cover_filename(cover) == tmp_path / "out" / "cover.jpg"
    assert path.read_bytes() == cover.data
    assert write_cover(dataclasses.replace(pub, cover=None)) == []
