"""Large files are copied and hashed in chunks: memory does not grow with the audio.

A 50-hour book has hundreds of MB of section audio; the EPUB packager, the
encoded-output cache, the up-to-date check and build.json's file list must
never hold a whole file (let alone all of them) in memory. Measured with
tracemalloc, which sees every Python allocation (bytes objects included).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tracemalloc
import zipfile
from pathlib import Path

from publisher.build import load_book
from publisher.cache import OutputCache, copy_hashed, file_sha256
from publisher.epub import write_epub
from publisher.layout import contents_entries
from publisher.model import BookAudio, SectionAudio, Timing
from publisher.options import BuildOptions
from publisher.record import file_list

from .helpers import write_book

BIG = 48 * 1024 * 1024  # bytes per large file
LIMIT = 8 * 1024 * 1024  # peak traced memory allowed while handling them


def big_file(path: Path, size: int = BIG, seed: int = 0) -> Path:
    """A file of ``size`` pseudo-random bytes, written in pieces."""
    block = hashlib.sha256(str(seed).encode()).digest() * (1 << 15)  # 1 MiB
    with path.open("wb") as handle:
        for _ in range(size // len(block)):
            handle.write(block)
    return path


def peak_while(action) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_hashing_and_copying_use_fixed_memory(tmp_path: Path) -> None:
    source = big_file(tmp_path / "a.bin")
    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    results = {}
    peak = peak_while(lambda: results.update(
        hash=file_sha256(source), copy=copy_hashed(source, tmp_path / "b.bin")))
    assert results == {"hash": expected, "copy": expected}
    assert (tmp_path / "b.bin").read_bytes() == source.read_bytes()
    assert peak < LIMIT, peak


def test_output_cache_store_and_fetch_stream(tmp_path: Path) -> None:
    source = big_file(tmp_path / "section.mp3", seed=1)
    cache = OutputCache(tmp_path / "cache")
    key = OutputCache.key({"kind": "test"})
    got = {}
    peak = peak_while(lambda: (cache.store(key, ".mp3", source, {"n": 1}),
                               got.update(meta=cache.fetch(key, ".mp3", tmp_path / "out.mp3"))))
    assert got["meta"]["n"] == 1
    assert file_sha256(tmp_path / "out.mp3") == file_sha256(source)
    assert peak < LIMIT, peak
    # A damaged entry is not handed out, and no partial copy is left behind.
    stored = next((tmp_path / "cache" / "outputs").rglob("*.mp3"))
    with stored.open("r+b") as handle:
        handle.seek(BIG // 2)
        handle.write(b"\0damage\0")
    (tmp_path / "again.mp3").unlink(missing_ok=True)
    assert cache.fetch(key, ".mp3", tmp_path / "again.mp3") is None
    assert not (tmp_path / "again.mp3").exists()
    assert cache.fetch_meta(key, ".mp3") is None


def test_build_file_list_streams(tmp_path: Path) -> None:
    folder = tmp_path / "book"
    (folder / "audio").mkdir(parents=True)
    for index in range(3):
        big_file(folder / "audio" / f"{index:02d}.mp3", seed=index)
    listed = []
    peak = peak_while(lambda: listed.extend(file_list(folder)))
    assert [entry["path"] for entry in listed] == [f"audio/{i:02d}.mp3" for i in range(3)]
    assert all(entry["bytes"] == BIG for entry in listed)
    assert listed[0]["sha256"] == file_sha256(folder / "audio" / "00.mp3")
    assert peak < LIMIT, peak


def test_epub_streams_its_audio(tmp_path: Path) -> None:
    """Three 48 MB 'audio' files go into the EPUB without being held in memory."""
    source = write_book(tmp_path, "# One\n\nA sentence.\n\n# Two\n\nAnother one.\n")
    book = load_book(source, BuildOptions(out_root=tmp_path / "out"))
    audio_files = {f"audio/{s.basename}.mp3": big_file(tmp_path / f"{s.basename}.mp3", seed=n)
                   for n, s in enumerate(book.sections)}
    def section_audio(section_id: str, path: Path, ids: list[str]) -> SectionAudio:
        timings = tuple(Timing(sid, 10 * n, 10 * n + 10) for n, sid in enumerate(ids))
        return SectionAudio(section_id=section_id, path=path, duration_ms=1000,
                            sample_rate_hz=22050, timings=timings)

    sections = tuple(section_audio(s.id, audio_files[f"audio/{s.basename}.mp3"],
                                   [x.id for x in s.sentences]) for s in book.sections)
    contents_file = tmp_path / "00-contents.mp3"
    contents_file.write_bytes(b"contents")
    audio_files["audio/00-contents.mp3"] = contents_file
    contents = section_audio("nav", contents_file,
                             [entry_id for entry_id, _ in contents_entries(book)])
    narration = BookAudio(sections=sections, epub_sections=sections, contents=contents,
                          narrator="Test voice", engine="fake", engine_identity={}, rate=1.0,
                          audio_profile="podcast", epub_audio_profile="compact")
    dest = tmp_path / "book.epub"
    modified = dt.datetime(2023, 11, 14, tzinfo=dt.timezone.utc)
    peak = peak_while(lambda: write_epub(book, dest, modified=modified, audio=narration))
    assert peak < LIMIT + 4 * 1024 * 1024, peak  # the text part of the EPUB is in memory
    with zipfile.ZipFile(dest) as archive:
        assert archive.testzip() is None
        for href, path in audio_files.items():
            info = archive.getinfo(f"EPUB/{href}")
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.file_size == os.path.getsize(path)
            with archive.open(info) as member:
                digest = hashlib.sha256()
                while chunk := member.read(1 << 20):
                    digest.update(chunk)
            assert digest.hexdigest() == file_sha256(path)
        # Streamed members carry their sizes in the local header, like the others:
        # no data descriptors, so the archive is laid out as before.
        assert all(not info.flag_bits & 0x08 for info in archive.infolist())
