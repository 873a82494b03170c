"""A content-addressed cache of synthesized clips.

A clip's key is the sha256 of its engine identity and spoken text, so editing
one sentence re-synthesizes one sentence, and changing the voice or rate
re-synthesizes everything without any explicit invalidation.

Layout: ``root/ab/cd/abcd...ef.clip``: two levels of fan-out keep folders
small for books with tens of thousands of sentences. Each file is a fixed
header followed by the raw PCM::

    magic    8 bytes  b"PUBCLIP\\0"
    version  uint16   FORMAT_VERSION
    reserved uint16   0
    rate     uint32   sample rate in Hz
    samples  uint64   number of int16 samples
    sha256   32 bytes digest of the PCM
    pcm      samples * 2 bytes, mono int16 little-endian

Files are written to a temporary file in the same folder and moved into place
with ``os.replace``, which is atomic: a reader, or another process writing the
same key, sees either no file or a whole one. Two processes that make the same
clip write the same bytes, so whichever rename lands last is as good as the
other. We do not fsync: after a power cut an entry may be truncated, and the
checksum catches that on the next read.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from .model import Clip

__all__ = ["ClipCache", "FORMAT_VERSION", "OutputCache", "code_identity", "copy_hashed",
           "file_sha256", "write_atomically"]

log = logging.getLogger(__name__)

MAGIC = b"PUBCLIP\0"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sHHIQ32s")
_SUFFIX = ".clip"


class ClipCache:
    """Clips on disk, addressed by :meth:`key`.

    ``hits``, ``misses`` and ``writes`` count this object's lookups and
    stores, for progress reports and tests.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self.writes = 0

    @staticmethod
    def key(identity: Mapping[str, object], text: str) -> str:
        """The cache key of ``text`` spoken by the engine described by ``identity``.

        Canonical JSON (sorted keys, no whitespace, UTF-8) so that the same
        identity and text give the same key on every machine and Python version.
        """
        payload = json.dumps(
            {"identity": dict(identity), "text": text},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        """Where the clip for ``key`` lives."""
        _check_key(key)
        return self.root / key[:2] / key[2:4] / (key + _SUFFIX)

    def get(self, key: str) -> Clip | None:
        """The cached clip, or None when absent, unreadable or corrupt.

        A corrupt entry is deleted so that the next :meth:`put` replaces it.
        """
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.misses += 1
            return None
        clip, problem = _decode(data)
        if clip is None:
            log.warning("Discarding corrupt cache entry %s: %s", path, problem)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self.misses += 1
            return None
        self.hits += 1
        return clip

    def put(self, key: str, clip: Clip) -> Path:
        """Store ``clip`` under ``key`` atomically; return the entry's path."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, _encode(clip))
        self.writes += 1
        return path

    def adopt(self, key: str) -> Clip:
        """The clip another process has just stored under ``key``, counted as a write here.

        Synthesis workers store their clips themselves; the parent reads them back.
        """
        clip, problem = _decode(self.path(key).read_bytes())
        if clip is None:
            raise OSError(f"cache entry {self.path(key)} was not written whole: {problem}")
        self.writes += 1
        return clip

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()


def _check_key(key: str) -> None:
    """Refuse anything that is not a sha256 hex digest (it becomes a path)."""
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError(f"not a cache key (64 lowercase hex digits): {key!r}")


def _encode(clip: Clip) -> bytes:
    """Header + PCM."""
    if len(clip.pcm) % 2:
        raise ValueError("clip PCM must be whole int16 samples (even number of bytes)")
    header = _HEADER.pack(
        MAGIC,
        FORMAT_VERSION,
        0,
        clip.sample_rate_hz,
        clip.num_samples,
        hashlib.sha256(clip.pcm).digest(),
    )
    return header + clip.pcm


def _decode(data: bytes) -> tuple[Clip | None, str]:
    """The clip in ``data``, or (None, what is wrong with it)."""
    if len(data) < _HEADER.size:
        return None, f"truncated header ({len(data)} bytes)"
    magic, version, _reserved, rate_hz, num_samples, digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        return None, "not a clip file (bad magic)"
    if version != FORMAT_VERSION:
        return None, f"format version {version}, expected {FORMAT_VERSION}"
    pcm = data[_HEADER.size :]
    if len(pcm) != 2 * num_samples:
        return None, f"{len(pcm)} bytes of PCM, header says {2 * num_samples}"
    if hashlib.sha256(pcm).digest() != digest:
        return None, "checksum mismatch"
    if rate_hz <= 0:
        return None, f"invalid sample rate {rate_hz}"
    return Clip(pcm=pcm, sample_rate_hz=rate_hz), ""


class OutputCache:
    """Finished output files (encoded section audio, the audiobook), by what they are made of.

    A key is the sha256 of a canonical JSON description of every input of
    the file (clip keys, pauses, profile, tags, the code that makes it and the
    versions of the libraries it uses), so a rebuild with nothing changed
    copies the files instead of encoding them again, and an edit re-encodes
    only what it touches. Layout: ``root/outputs/ab/<key><suffix>`` and, beside
    it, ``<key>.json`` with the file's sha256 and whatever the caller needs
    back (timings, levels). Both are written atomically, the JSON last, and
    an entry whose file does not match its digest is ignored.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "outputs"

    @staticmethod
    def key(description: Mapping[str, object]) -> str:
        """The key of the output described by ``description`` (JSON-serializable)."""
        payload = json.dumps(description, sort_keys=True, ensure_ascii=False,
                             separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _paths(self, key: str, suffix: str) -> tuple[Path, Path]:
        _check_key(key)
        folder = self.root / key[:2]
        return folder / (key + suffix), folder / (key + ".json")

    def fetch_bytes(self, key: str, suffix: str) -> tuple[bytes, dict[str, Any]] | None:
        """The cached bytes and their metadata, or None if not cached."""
        path, meta_path = self._paths(key, suffix)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            data = path.read_bytes()
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return None
        return data, meta

    def fetch_meta(self, key: str, suffix: str) -> dict[str, Any] | None:
        """The metadata of an entry whose file is whole (checked in chunks), else None."""
        path, meta_path = self._paths(key, suffix)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            digest = file_sha256(path)
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or digest != meta.get("sha256"):
            return None
        return meta

    def fetch(self, key: str, suffix: str, dest: Path) -> dict[str, Any] | None:
        """Copy the cached file to ``dest`` and return its metadata, or None if not cached.

        The file is copied in chunks and checked on the way (an hour of audio
        is tens of MB): a copy that does not match its digest is removed.
        """
        path, meta_path = self._paths(key, suffix)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict):
            return None
        try:
            digest = copy_hashed(path, Path(dest))
        except FileNotFoundError:
            return None
        if digest != meta.get("sha256"):
            Path(dest).unlink(missing_ok=True)
            return None
        return meta

    def store(self, key: str, suffix: str, source: Path,
              meta: Mapping[str, object] | None = None) -> None:
        """Keep a copy of ``source`` under ``key``, with ``meta`` (copied in chunks)."""
        path, meta_path = self._paths(key, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
        os.close(fd)
        try:
            digest = copy_hashed(Path(source), Path(tmp_name))
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        record = dict(meta or {}, sha256=digest)
        write_atomically(meta_path, json.dumps(record, sort_keys=True).encode("utf-8"))

    def store_bytes(self, key: str, suffix: str, data: bytes,
                    meta: Mapping[str, object] | None = None) -> None:
        """Keep ``data`` under ``key``, with ``meta``."""
        path, meta_path = self._paths(key, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = dict(meta or {}, sha256=hashlib.sha256(data).hexdigest())
        write_atomically(path, data)
        write_atomically(meta_path, json.dumps(record, sort_keys=True).encode("utf-8"))


#: Bytes read at a time when copying or hashing files.
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (memory stays flat for any size)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_hashed(source: Path, dest: Path) -> str:
    """Copy ``source`` to ``dest`` in chunks; return the SHA-256 of what was copied."""
    digest = hashlib.sha256()
    with source.open("rb") as reader, dest.open("wb") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes, *, mode: int | None = None,
                     prefix: str = ".tmp-", suffix: str | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed
    into place: a reader sees the old file or the whole new one, never a part.

    ``mode``: the new file's permissions (mkstemp makes it private: 0o600);
    ``prefix`` and ``suffix`` (default: the file's) name the temporary file.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=prefix,
                                    suffix=path.suffix if suffix is None else suffix)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        if mode is not None:
            os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


_PACKAGE = Path(__file__).resolve().parent


def code_identity(modules: tuple[ModuleType, ...] = (),
                  packages: tuple[str, ...] = ()) -> dict[str, str]:
    """What made a cached or up-to-date output: our code and the libraries it drives.

    ``{file: sha256}`` of each module's source (a package: every file in its
    folder), named relative to the publisher package, then ``{distribution:
    version}`` of each of ``packages``. Each cache passes the code its entries
    depend on (the audio files: publisher.audio and numpy, SciPy, PyAV ...; the
    up-to-date check: all of publisher), so that changing that code, and only
    that code, makes them again. The one recipe for all of them.
    """
    return _code_identity(tuple(m.__file__ or "" for m in modules), packages)


@functools.cache
def _code_identity(files: tuple[str, ...], packages: tuple[str, ...]) -> dict[str, str]:
    import importlib.metadata  # here: it imports the email package, 20 ms at start-up

    found: dict[str, str] = {}
    for name in files:
        path = Path(name).resolve()
        paths = ([p for p in sorted(path.parent.rglob("*"))
                  if p.is_file() and "__pycache__" not in p.parts]
                 if path.name == "__init__.py" else [path])
        for item in paths:
            found[item.relative_to(_PACKAGE).as_posix()] = file_sha256(item)
    found.update({name: importlib.metadata.version(name) for name in packages})
    return found
