"""publisher.archive: the one deterministic zip writer of the EPUB, DAISY and package writers."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from publisher.archive import write_zip, zip_time
from publisher.timecode import clock


def test_same_entries_same_bytes_with_fixed_times_modes_and_compression(tmp_path: Path) -> None:
    audio = tmp_path / "01.mp3"
    audio.write_bytes(b"\xff\xfb" * 5000)
    entries = [("b.xml", b"<b/>" * 100), ("01.mp3", audio), ("a.jpeg", b"\xff\xd8jpeg")]
    moment = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    write_zip(tmp_path / "one.zip", entries, moment)
    write_zip(tmp_path / "two.zip", entries, moment)
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["b.xml", "01.mp3", "a.jpeg"]  # as given
        assert {i.date_time for i in infos} == {(2024, 5, 6, 5, 8, 8)}  # UTC, even seconds
        assert {i.external_attr >> 16 for i in infos} == {0o644}
        assert [i.compress_type for i in infos] == [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED,
                                                   zipfile.ZIP_STORED]
        assert archive.read("01.mp3") == audio.read_bytes()
    assert zip_time(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) == (1980, 1, 1, 0, 0, 0)


def test_a_failed_write_leaves_neither_the_zip_nor_its_temporary(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_zip(tmp_path / "book.zip", [("a.txt", b"a"), ("b.mp3", tmp_path / "missing.mp3")],
                  dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("ms", "smil", "vtt"), [(0, "0:00:00.000", "00:00:00.000"),
                                                 (3_723_456, "1:02:03.456", "01:02:03.456"),
                                                 (36_000_001, "10:00:00.001", "10:00:00.001")])
def test_one_clock_for_smil_and_webvtt(ms: int, smil: str, vtt: str) -> None:
    assert clock(ms) == smil
    assert clock(ms, hour_digits=2) == vtt
