"""Every file name and href of a built book, in one place, and the contents builder.

    OUTDIR/
      catalog.json                    CATALOG_NAME (OPDS, every book)
      .<slug>.lock                    lock_path(): one build (or proof) of a book at a time
      .<slug>.building-*/ .<slug>.old-*/   staging and swap (see build.py)
      .preview/<slug>/                PREVIEW_DIR: what `publisher preview` builds and serves
      <slug>/
        <slug>.epub <slug>.m4b <slug>.audiobook <slug>.lpf    book_file(slug, ext)
        <slug>_daisy202.zip <slug>_daisy3.zip                daisy_name(slug, edition)
        audio/NN-<section>.mp3        audio_href(section)
        transcripts/NN-<section>.vtt  transcript_href(section)
        chapters/NN-<section>.json    chapters_href(section)
        cover.jpg | cover.png         cover_filename(cover)
        feed.xml onix.xml build.json  FEED_NAME, ONIX_NAME, RECORD_NAME
        proof.json proof.html         PROOF_NAMES (written later, by `publisher proof`)
        site/                         SITE_DIR

    inside the EPUB (EPUB_DIR/):
      NN-<section>.xhtml nav.xhtml cover.xhtml css/book.css lexicon.pls
      audio/NN-<section>.mp3 audio/00-contents.mp3
      smil/NN-<section>.smil smil/00-contents.smil
      images/cover.jpg

Writers name their files only through this module, so a file's name is spelled
once and a link from one output to another (the feed to a transcript, the site
to the M4B) can never point at a name the other writer does not use.
"""

from __future__ import annotations

from pathlib import Path

from .model import Book, Cover, Section

# --------------------------------------------------------------------------- output/<slug>/

AUDIO_DIR = "audio"
TRANSCRIPTS_DIR = "transcripts"
CHAPTERS_DIR = "chapters"
#: The media type the Podcasting 2.0 namespace gives JSON chapters files.
CHAPTERS_MEDIA_TYPE = "application/json+chapters"
SITE_DIR = "site"
FEED_NAME = "feed.xml"
ONIX_NAME = "onix.xml"
RECORD_NAME = "build.json"
CATALOG_NAME = "catalog.json"
PROOF_JSON_NAME = "proof.json"
PROOF_HTML_NAME = "proof.html"
#: Written beside a book by `publisher proof`, after its build: not build outputs.
PROOF_NAMES = frozenset({PROOF_JSON_NAME, PROOF_HTML_NAME})
#: The EPUB's own (compact) audio, inside the staging folder until it is packaged.
EPUB_AUDIO_DIR = ".epub-audio"


def book_file(slug: str, ext: str) -> str:
    """The name of a whole-book file: ``<slug>.epub``, ``.m4b``, ``.audiobook``, ``.lpf``."""
    return f"{slug}.{ext}"


def daisy_name(slug: str, edition: str) -> str:
    """A DAISY edition's zip: ``<slug>_daisy202.zip`` (DAISY 2.02), ``<slug>_daisy3.zip``."""
    return f"{slug}_daisy{edition}.zip"


def audio_name(section: Section) -> str:
    """A section's MP3 file name (the same in ``audio/`` and inside the EPUB)."""
    return f"{section.basename}.mp3"


def audio_href(section: Section) -> str:
    """Where a section's MP3 is, relative to the output folder."""
    return f"{AUDIO_DIR}/{audio_name(section)}"


def transcript_href(section: Section) -> str:
    """Where a section's WebVTT transcript is, relative to the output folder."""
    return f"{TRANSCRIPTS_DIR}/{section.basename}.vtt"


def chapters_href(section: Section) -> str:
    """Where a section's JSON chapters file is, relative to the output folder."""
    return f"{CHAPTERS_DIR}/{section.basename}.json"


def cover_filename(cover: Cover) -> str:
    """The cover's file name in the output folder (feeds and pages link to it)."""
    return "cover.png" if cover.media_type == "image/png" else "cover.jpg"


def relative_href(out_dir: Path, path: Path) -> str:
    """A file's href relative to the output folder; a section MP3 outside it (tests
    write some elsewhere) is named where it will be, in ``audio/``."""
    try:
        return path.relative_to(out_dir).as_posix()
    except ValueError:
        return f"{AUDIO_DIR}/{path.name}"


#: Where ``publisher preview`` builds (``OUTDIR/.preview/<slug>/``): never over a
#: finished book in ``OUTDIR/<slug>/``, since a preview leaves out the whole-book files.
PREVIEW_DIR = ".preview"


def lock_path(out_root: Path, slug: str) -> Path:
    """The lock held while a book's folder is written (by a build or a proof)."""
    return out_root / f".{slug}.lock"


def staging_prefix(slug: str) -> str:
    """The name prefix of a build's temporary folder beside ``OUTDIR/<slug>``."""
    return f".{slug}.building-"


def old_prefix(slug: str) -> str:
    """The name prefix of the previous output, moved aside during a swap."""
    return f".{slug}.old-"


# --------------------------------------------------------------------------- inside the EPUB

EPUB_DIR = "EPUB"
CSS_HREF = "css/book.css"
PLS_HREF = "lexicon.pls"
NAV_HREF = "nav.xhtml"
COVER_HREF = "cover.xhtml"
CONTENTS_AUDIO_HREF = f"{AUDIO_DIR}/00-contents.mp3"
CONTENTS_SMIL_HREF = "smil/00-contents.smil"
#: The id of the contents' title in the nav document (its first narrated entry).
TOC_TITLE_ID = "toc-000"


def document_href(section: Section) -> str:
    """A section's XHTML document, relative to the EPUB folder."""
    return f"{section.basename}.xhtml"


def smil_href(section: Section) -> str:
    """A section's media overlay, relative to the EPUB folder."""
    return f"smil/{section.basename}.smil"


def cover_image_href(cover: Cover) -> str:
    """The cover image inside the EPUB."""
    ext = "jpg" if cover.media_type == "image/jpeg" else "png"
    return f"images/cover.{ext}"


# --------------------------------------------------------------------------- the contents


def toc_title(book: Book) -> str:
    """The title of the table of contents (the nav document, and its narration)."""
    return "Contents"


def nav_items(book: Book) -> list[dict[str, object]]:
    """The table of contents: sections nested by level, then their headings.

    Each entry is ``{"title", "href", "id", "children"}``; ``id`` is the
    element id in the nav document (``toc-001`` ...), which the contents'
    narration uses too.
    """
    items: list[dict[str, object]] = []
    stack: list[tuple[int, list[dict[str, object]]]] = [(0, items)]
    counter = 0

    def add(level: int, title: str, href: str) -> None:
        nonlocal counter
        counter += 1
        entry: dict[str, object] = {"title": title, "href": href, "id": f"toc-{counter:03d}",
                                    "children": []}
        while len(stack) > 1 and stack[-1][0] >= level:
            stack.pop()
        stack[-1][1].append(entry)
        stack.append((level, entry["children"]))  # type: ignore[arg-type]

    for section in book.sections:
        href = document_href(section)
        if section.role != "body":
            # Front matter sits beside the chapters, never above them.
            add(1, section.title, href)
            stack[-1:] = [] if len(stack) > 1 else stack[-1:]
            continue
        level = section.level
        add(level, section.title, href)
        for heading in section.headings:
            add(max(heading.level, level + 1), heading.title, f"{href}#{heading.id}")
    _tell_apart(items)
    return items


def _tell_apart(items: list[dict[str, object]]) -> None:
    """Entries whose labels repeat get their parent's: "Fixed, 3.10.3".

    A changelog's 32 "Fixed" entries must not read alike to someone moving
    through the contents with a screen reader. Labels still alike after that
    (no parent, or parents alike) are numbered.
    """
    flat: list[tuple[dict[str, object], str]] = []

    def collect(entries: list[dict[str, object]], parent: str) -> None:
        for entry in entries:
            flat.append((entry, parent))
            collect(entry["children"], str(entry["title"]))  # type: ignore[arg-type]

    collect(items, "")
    counts: dict[str, int] = {}
    for entry, _ in flat:
        counts[str(entry["title"])] = counts.get(str(entry["title"]), 0) + 1
    labels = [f"{entry['title']}, {parent}" if counts[str(entry["title"])] > 1 and parent
              else str(entry["title"]) for entry, parent in flat]
    totals: dict[str, int] = {}
    for label in labels:
        totals[label] = totals.get(label, 0) + 1
    seen: dict[str, int] = {}
    for (entry, _), label in zip(flat, labels, strict=True):
        if totals[label] > 1:
            seen[label] = seen.get(label, 0) + 1
            label = f"{label} ({seen[label]})"
        entry["title"] = label


def contents_entries(book: Book) -> tuple[tuple[str, str], ...]:
    """(element id in the nav document, text) of the contents in reading order:
    its title, then every entry of :func:`nav_items`."""
    entries = [(TOC_TITLE_ID, toc_title(book))]

    def walk(items: list[dict[str, object]]) -> None:
        for item in items:
            entries.append((str(item["id"]), str(item["title"])))
            walk(item["children"])  # type: ignore[arg-type]

    walk(nav_items(book))
    return tuple(entries)
