"""Read a Markdown source file and split off its YAML front matter.

Everything that can be wrong with the bytes of a file is caught here, before
any parsing: a missing file, a binary or empty file, invalid UTF-8, NUL bytes,
a file too large to be a book, and malformed front matter.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from . import frontmatter
from .errors import SourceError
from .model import Manuscript

#: Larger than any real book's Markdown (a 300,000-word novel is ~2 MB) and
#: small enough that a wrong file (a video, a database) is refused at once.
MAX_SOURCE_BYTES = 8 * 1024 * 1024

# Characters XML 1.0 forbids (C0 controls other than tab and newline, U+FFFE/FFFF).
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\ufffe\uffff]")

_FENCE_OPEN = "---"
_FENCE_CLOSE = ("---", "...")


def read_manuscript(path: Path) -> Manuscript:
    """Read ``path`` and return its front matter and Markdown text.

    Raises SourceError with the file, the line or byte offset, and the fix.
    """
    data = _read_bytes(path)
    text = _decode(path, data)
    front, body, body_line = _split_front_matter(path, text)
    if not body.strip():
        if front:
            raise SourceError(
                f"{path}: the file has front matter but no text after it. "
                "Write the book's Markdown below the closing '---' line."
            )
        raise SourceError(f"{path}: the file is empty. Write the book in Markdown, "
                          "starting with a front matter block (see README, 'Front matter').")
    return Manuscript(path=path, front_matter=front, text=body, body_line=body_line)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise SourceError(f"{path}: no such file. Check the path (it is relative to "
                          f"the folder you run the command in: {Path.cwd()}).")
    if path.is_dir():
        raise SourceError(f"{path}: is a folder, not a Markdown file. "
                          "Give the path of a .md file.")
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise SourceError(
            f"{path}: the file is {size / 1e6:.1f} MB; a book source may be at most "
            f"{MAX_SOURCE_BYTES / 1e6:.0f} MB of Markdown. Is this the right file? "
            "Split a very long work into several books."
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror}).") from exc


def _decode(path: Path, data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte order mark is harmless: drop it
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        kind = "a binary file" if _looks_binary(data) else "text with a NUL byte"
        raise SourceError(
            f"{path}:{line}: this is {kind} (NUL byte at byte offset {nul}), "
            "not Markdown. Give the path of a UTF-8 text file."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        if _looks_binary(data):
            raise SourceError(
                f"{path}: this is a binary file, not Markdown text "
                f"(invalid UTF-8 at byte offset {exc.start}). Give the path of a .md file."
            ) from exc
        raise SourceError(
            f"{path}:{line}: invalid UTF-8 at byte offset {exc.start} "
            f"(byte 0x{data[exc.start]:02x}). Save the file as UTF-8 "
            "(in most editors: 'Save with encoding' > UTF-8)."
        ) from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise SourceError(
            f"{path}:{line}:{column}: invisible control character U+{ord(bad.group()):04X} "
            "in the text; it cannot appear in an e-book. Delete it (most editors show it "
            "with 'show invisibles').")
    return text


def _looks_binary(data: bytes) -> bool:
    """Many control bytes in the first 4 KiB: an image, archive or program."""
    head = data[:4096]
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return control > len(head) // 20


def _split_front_matter(path: Path, text: str) -> tuple[dict[str, object], str, int]:
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != _FENCE_OPEN:
        # No YAML: a pandoc title block or MultiMarkdown meta lines, if the file has one.
        from .config import KNOWN_KEYS

        found = (frontmatter.pandoc_title_block(lines)
                 or frontmatter.meta_lines(lines, KNOWN_KEYS))
        if found is None:
            return {}, text, 1
        front, used = found
        return front, "\n".join(lines[used:]), used + 1
    for index in range(1, len(lines)):
        if lines[index].rstrip() in _FENCE_CLOSE:
            break
    else:
        raise SourceError(
            f"{path}:1: the front matter block opened with '---' is never closed. "
            "Add a line with '---' after the last front matter key."
        )
    raw = "\n".join(lines[1:index])
    try:
        # safe_load: front matter is data, never code or object construction.
        loaded = yaml.safe_load(raw) if raw.strip() else {}
    except yaml.YAMLError as exc:
        # The context mark is where the broken value began: that is what to fix.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise SourceError(
            f"{path}:{line}: the front matter is not valid YAML ({problem}). "
            "Each line should be 'key: value'; quote values that contain ': ' or start with '['."
        ) from exc
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise SourceError(
            f"{path}:2: the front matter must be a list of 'key: value' lines, "
            f"not a {type(loaded).__name__}."
        )
    body = "\n".join(lines[index + 1:])
    return {str(k): v for k, v in loaded.items()}, body, index + 2
