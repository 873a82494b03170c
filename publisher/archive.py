"""Deterministic zip archives: the same entries give the same bytes.

The EPUB, the DAISY editions and the audiobook packages (``.audiobook``,
``.lpf``) are all zips, written the one way here: entries in the order given,
every entry timed ``modified`` (SOURCE_DATE_EPOCH, else the book's date),
Unix permissions 0644 whatever the platform, media that is already
compressed stored as it is (RPF and LPF advise it; it saves no space to
deflate), everything else deflated at level 9, and files copied in 1 MB
chunks so that a long book's audio is never all in memory.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["MEDIA_SUFFIXES", "add_entry", "is_media", "write_zip", "zip_time"]

#: Already-compressed media, stored rather than deflated.
MEDIA_SUFFIXES = (".mp3", ".m4a", ".m4b", ".aac", ".opus", ".ogg", ".jpg", ".jpeg", ".png",
                  ".webp", ".mp4")
_MODE = 0o644 << 16
_CHUNK = 1 << 20


def zip_time(moment: _dt.datetime) -> tuple[int, int, int, int, int, int]:
    """``moment`` as a zip entry time, in UTC (a zip cannot say a time before 1980)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc)
    if moment.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute,
            moment.second - moment.second % 2)


def is_media(name: str) -> bool:
    """Whether ``name`` is already-compressed media (stored as it is)."""
    return name.lower().endswith(MEDIA_SUFFIXES)


def add_entry(archive: zipfile.ZipFile, name: str, content: bytes | Path,
              date_time: tuple[int, int, int, int, int, int], *,
              stored: bool | None = None) -> None:
    """Add one entry: ``content`` bytes, or a file copied in chunks.

    ``stored``: whether to store it uncompressed (default: :func:`is_media`).
    """
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.external_attr = _MODE
    info.create_system = 3  # Unix, whatever the platform, for the same bytes
    stored = is_media(name) if stored is None else stored
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    if isinstance(content, Path):
        info.file_size = content.stat().st_size
        with content.open("rb") as reader, archive.open(info, "w") as writer:
            shutil.copyfileobj(reader, writer, _CHUNK)
    else:
        archive.writestr(info, content, compresslevel=9)


def write_zip(dest: Path, entries: Iterable[tuple[str, bytes | Path]],
              modified: _dt.datetime) -> None:
    """Write ``entries`` (name, bytes or file) to ``dest``, in that order.

    Written under a temporary name and renamed, so ``dest`` is never half
    written. An OSError is the caller's to explain (it knows what it writes).
    """
    stamp = zip_time(modified)
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name, content in entries:
                add_entry(archive, name, content, stamp)
        tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
