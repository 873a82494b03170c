"""Shared test helpers (pytest fixtures live in conftest.py)."""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
FIRST_BOOK = ROOT / "content" / "unpacking-self-harm.md"
SEED = ROOT.parent / "shared" / "seed" / "unpacking-self-harm.txt"

NS = {
    "x": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "smil": "http://www.w3.org/ns/SMIL",
}


def write_book(folder: Path, body: str, name: str = "book.md", **front: object) -> Path:
    """Write a small Markdown book with front matter into ``folder``."""
    meta = {"title": "Test book", "language": "en",
            "identifier": "urn:uuid:00000000-0000-4000-8000-000000000001"}
    meta.update(front)
    lines = ["---"]
    for key, value in meta.items():
        if value is None:
            continue
        lines.append(f"{key}: {value}")
    lines.append("---")
    path = folder / name
    path.write_text("\n".join(lines) + "\n\n" + textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


def epub_xml(epub: Path, name: str) -> etree._Element:
    """Parse one XML member of an EPUB."""
    with zipfile.ZipFile(epub) as archive:
        return etree.fromstring(archive.read(name))


def epub_names(epub: Path) -> list[str]:
    with zipfile.ZipFile(epub) as archive:
        return archive.namelist()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to prove nothing changed)."""
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def fixture_books() -> list[str]:
    """Names of the fixture books (every .md in tests/fixtures but its README)."""
    return sorted(p.name for p in FIXTURES.glob("*.md") if p.name != "README.md")


def narrated_publication(folder: Path, body: str, *, with_cover: bool = False,
                         **front: object):
    """Parse and narrate a small book with the fake engine into ``folder / 'out'``.

    Returns the :class:`~publisher.model.Publication` the listening writers take.
    """
    from publisher import narrate
    from publisher.build import load_book, source_date
    from publisher.cover import make_cover
    from publisher.model import Accessibility, Publication
    from publisher.options import BuildOptions, Reporter
    from publisher.script import script_book

    source = write_book(folder, body, **front)
    options = BuildOptions(engine="fake", out_root=folder, cache_dir=folder.parent / "cache",
                           workers=1)
    book = load_book(source, options)
    out_dir = folder / "out"
    out_dir.mkdir(parents=True)
    result = narrate.narrate_book(book, script_book(book), out_dir, options, Reporter())
    return Publication(book=book, out_dir=out_dir, audio=result.sections,
                       modified=source_date(book.meta.date),
                       narrator=result.narrator,
                       accessibility=Accessibility((), (), (), (), ""),
                       cover=make_cover(book.meta, source.parent) if with_cover else None,
                       base_url=book.meta.base_url)


def require_distributed() -> None:
    """Skip the calling test module without dask.distributed; in CI, fail instead."""
    import os

    import pytest

    try:
        import distributed  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the install
        if os.environ.get("CI"):
            raise RuntimeError("dask.distributed is required in CI: "
                               "pip install 'publisher[cluster]'") from None
        pytest.skip("dask.distributed is not installed: pip install 'publisher[cluster]'",
                    allow_module_level=True)


class Recorder:
    """An on_progress callback of the synthesis stage: (sentence id, from cache) in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bool]] = []

    def __call__(self, sentence_id: str, clip, from_cache: bool) -> None:
        assert clip.num_samples > 0
        self.events.append((sentence_id, from_cache))

    @property
    def synthesized(self) -> int:
        return sum(not cached for _, cached in self.events)


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """``publisher ARGS`` in this process: (exit code, stdout + stderr)."""
    from publisher.cli import main

    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err

