"""Up-to-date check: a rebuild with nothing changed leaves the book as it is.

After a successful build a *stamp* is kept in the cache folder (never in
output/): the SHA-256 of every file the build read (the source, its images, the
cover and lexicon files), the paths it looked for and did not find (a ``.pls``
beside the source, fonts for a generated cover), the settings (every build
option, ``SOURCE_DATE_EPOCH``, this package's own files, the Python version
and the state of the folders packages are installed in), the voice chosen for
every language the book is narrated in (its own and each passage's: a voice
installed for a passage that was announced, or a better one, counts as a
change) and the SHA-256 of the build.json written. The next build of the same source into the same folder
first compares all of that, and checks every output file against the sizes
and SHA-256 sums listed in its build.json; only when everything matches is the
book reported up to date and nothing written. Anything else, or ``--force``,
makes a full build (which still takes every unchanged clip and section file
from the caches).

A build that had to fall back to another engine leaves no stamp: the next
build tries the first engine again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .cache import code_identity, file_sha256, write_atomically
from .layout import CATALOG_NAME, PROOF_NAMES, RECORD_NAME
from .record import load_record

__all__ = ["check", "forget", "write"]

_VERSION = 2  # 2: the voice of every language


def _sha256(path: Path) -> str | None:
    """The file's SHA-256 (read in chunks: outputs can be large); None if unreadable."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def _stat(path: Path) -> list[int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns]


def _stamp_path(source: Path, out_root: Path, cache_dir: Path) -> Path:
    where = f"{source.resolve()}\0{out_root.resolve()}"
    return cache_dir / "stamps" / (hashlib.sha256(where.encode()).hexdigest()[:32] + ".json")


def _settings(options: Any) -> str:
    """Everything besides the input files that the outputs depend on."""
    fields = {f.name: repr(getattr(options, f.name)) for f in dataclasses.fields(options)
              if f.name != "force"}
    # Installed packages (Piper, its voice, ebooklib, FFmpeg's libraries, fonts
    # packages ...): installing, upgrading or removing one changes its folder.
    # (Only package folders: the working folder on sys.path changes whenever a
    # file comes or goes there, which says nothing about the book.)
    installed = {entry: _stat(Path(entry)) for entry in sys.path
                 if Path(entry).name in ("site-packages", "dist-packages")}
    described = {
        "version": _VERSION,
        "options": fields,
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", "").strip(),
        "code": code_identity((sys.modules[__package__ or "publisher"],)),
        "python": sys.version,
        "installed": installed,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def check(source: Path, options: Any, cache_dir: Path) -> dict[str, Any] | None:
    """The stamp of ``source``'s last build if its outputs are up to date, else None."""
    path = _stamp_path(source, options.out_root, cache_dir)
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("version") != _VERSION:
        return None
    try:
        if stamp["settings"] != _settings(options):
            return None
        for name, digest in stamp["hashed"].items():
            if _sha256(Path(name)) != digest:
                return None
        for name, stat in stamp["statted"].items():
            if _stat(Path(name)) != stat:
                return None
        if any(os.path.lexists(name) for name in stamp["absent"]):
            return None
        if not _same_voices(stamp.get("voices")):
            return None
        out_dir = Path(stamp["out_dir"])
        if not _outputs_intact(out_dir, stamp["build_json"]):
            return None
        if not (out_dir.parent / CATALOG_NAME).is_file():
            return None
    except (KeyError, TypeError, AttributeError):
        return None
    return stamp


def _same_voices(voices: Any) -> bool:
    """Whether every language of the book (its own, each passage's) would get the voice
    it got: a voice installed for a passage that was announced, or a better one for
    any language, makes the book again."""
    if voices is None:
        return True  # a text-only build: no voice chosen
    # deferred: options imports the speech registry; only an audio build's check needs it
    from .options import voice_choices

    book_language, engine, voice, passages = voices["asked"]
    return bool(voice_choices(book_language, engine, voice, passages) == voices["chosen"])


def _outputs_intact(out_dir: Path, build_json_digest: str) -> bool:
    """Every file build.json lists is there, unchanged, and nothing else is."""
    record_path = out_dir / RECORD_NAME
    if _sha256(record_path) != build_json_digest:
        return False
    listed = {entry["path"]: entry for entry in load_record(record_path).files}
    present = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()}
    # `publisher proof` writes its report beside the book: of these same files.
    if present - PROOF_NAMES != set(listed) | {RECORD_NAME}:
        return False
    for name, entry in listed.items():
        file = out_dir / name
        if _stat(file) is None or file.stat().st_size != entry["bytes"]:
            return False
        if _sha256(file) != entry["sha256"]:
            return False
    return True


def write(source: Path, options: Any, cache_dir: Path, out_dir: Path, *,
          hashed: Iterable[Path], statted: Iterable[Path], absent: Iterable[Path],
          stats: dict[str, Any], voices: dict[str, Any] | None = None) -> None:
    """Keep the stamp of a build that has just been swapped into ``out_dir``.

    ``voices``: what :func:`publisher.options.book_voice_choices` said for a
    narrated build (None without audio).
    """

    stamp = {
        "version": _VERSION,
        "source": str(source.resolve()),
        "out_dir": str(out_dir.resolve()),
        "settings": _settings(options),
        "hashed": {str(p.resolve()): _sha256(p) for p in hashed},
        "statted": {str(p): _stat(p) for p in statted},
        "absent": sorted({str(p) for p in absent}),
        "build_json": _sha256(out_dir / RECORD_NAME),
        "stats": stats,
        "voices": voices,
    }
    path = _stamp_path(source, options.out_root, cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(stamp, indent=1, sort_keys=True).encode())
    except OSError:
        pass  # only the next build's shortcut is lost


def forget(source: Path, options: Any, cache_dir: Path) -> None:
    """Drop the stamp (a build of this source has started: the old one no longer holds)."""
    try:
        _stamp_path(source, options.out_root, cache_dir).unlink()
    except OSError:
        pass
