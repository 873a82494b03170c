"""Immutable values shared by every stage.

The sentence is the spine of the whole book: one :class:`Sentence` id is the
``id`` of a ``<span>`` in the XHTML, a clip in the section audio, a ``<par>`` in
the SMIL and a cue in the WebVTT transcript.

    Manuscript -> Book(meta, sections)
                    Section(id, slug, title, level, role, blocks)
                      Block(kind, sentences)
                        Sentence(id, html, spoken)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Manuscript:
    """A source file split into its front matter and its Markdown text."""

    path: Path
    front_matter: dict[str, object]
    text: str
    #: 1-based line of the source on which ``text`` starts (after front matter).
    body_line: int


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: the unit of display, narration and synchronisation."""

    id: str
    #: Display XHTML (inline content only) as it appears inside the sentence span.
    html: str
    #: What is said: no markup, links as their text, images as their alt text.
    spoken: str


@dataclass(frozen=True, slots=True)
class Block:
    """A block of text in reading order (heading, paragraph, list item ...).

    ``kind`` is one of: ``heading``, ``paragraph``, ``list-item``, ``quote``,
    ``table-cell``, ``image``, ``code``, ``footnote``, ``caption``, ``term``,
    ``definition``. ``structure`` names the escapable or skippable structure the
    block sits in (``list``, ``table``, ``figure``, ``aside``, ``footnote``),
    for media overlays; empty when none.
    """

    kind: str
    sentences: tuple[Sentence, ...]
    level: int = 0
    structure: str = ""
    #: ``id`` of the outermost structure element in the XHTML (for SMIL textref).
    structure_id: str = ""


@dataclass(frozen=True, slots=True)
class Heading:
    """A heading inside a section, for nested navigation."""

    level: int
    title: str
    id: str


@dataclass(frozen=True, slots=True)
class Section:
    """One content document and one audio file.

    ``role`` is ``content-note``, ``titlepage``, ``front`` or ``body``.
    ``body_html`` is the XHTML fragment of the document body with every
    sentence wrapped in ``<span id=...>``.
    """

    id: str
    number: int
    slug: str
    title: str
    level: int
    role: str
    blocks: tuple[Block, ...]
    body_html: str
    headings: tuple[Heading, ...] = ()
    #: 1-based source line of the section's heading (0 when generated).
    line: int = 0

    @property
    def sentences(self) -> tuple[Sentence, ...]:
        return tuple(s for b in self.blocks for s in b.sentences)

    @property
    def basename(self) -> str:
        """File name stem shared by the XHTML, MP3, VTT and chapters files."""
        return f"{self.number:02d}-{self.slug}"


@dataclass(frozen=True, slots=True)
class Image:
    """An image the book uses, copied into the EPUB."""

    source: Path
    href: str
    media_type: str


@dataclass(frozen=True, slots=True)
class BookMeta:
    """Validated front matter."""

    title: str
    language: str
    identifier: str
    slug: str
    subtitle: str = ""
    authors: tuple[str, ...] = ()
    publisher: str = ""
    date: str = ""
    rights: str = ""
    description: str = ""
    subjects: tuple[str, ...] = ()
    content_note: str = ""
    cover: Path | None = None
    cover_alt: str = ""
    split_level: int = 2
    direction: str = "ltr"
    base_url: str = ""
    engine: str = ""
    voice: str = ""
    rate: float = 1.0
    #: word -> how it is said, in source order.
    pronunciations: tuple[tuple[str, str], ...] = ()
    #: A W3C PLS lexicon file (front matter ``lexicon``, or <source>.pls).
    lexicon: Path | None = None
    fallback: str = ""
    #: DAISY editions made when audio is built: "202" (DAISY 2.02), "3" (DAISY 3).
    daisy: tuple[str, ...] = ("202", "3")


@dataclass(frozen=True, slots=True)
class Book:
    meta: BookMeta
    sections: tuple[Section, ...]
    images: tuple[Image, ...] = ()
    #: Warnings found while parsing (placeholder links, missing alt text ...).
    warnings: tuple[str, ...] = ()
    source: Path | None = None

    @property
    def sentences(self) -> tuple[Sentence, ...]:
        return tuple(s for sec in self.sections for s in sec.sentences)


@dataclass(frozen=True, slots=True)
class Clip:
    """Synthesized speech for one sentence: mono 16-bit PCM."""

    pcm: bytes
    sample_rate_hz: int

    @property
    def num_samples(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration_ms(self) -> float:
        return 1000.0 * self.num_samples / self.sample_rate_hz


@dataclass(frozen=True, slots=True)
class Timing:
    """Where a sentence is in its section's audio file, in milliseconds."""

    sentence_id: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class SectionAudio:
    """A section's encoded audio file and the sentence timings inside it."""

    section_id: str
    path: Path
    duration_ms: int
    sample_rate_hz: int
    timings: tuple[Timing, ...]
    #: Integrated loudness measured before encoding (LUFS).
    loudness_lufs: float = 0.0
    extra: dict[str, object] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Cover:
    """The book's cover: front matter image or a generated one."""

    data: bytes
    media_type: str
    alt: str
    width_px: int
    height_px: int


@dataclass(frozen=True, slots=True)
class Accessibility:
    """What the publication really offers (schema.org terms), derived once."""

    access_modes: tuple[str, ...]
    access_mode_sufficient: tuple[str, ...]
    features: tuple[str, ...]
    hazards: tuple[str, ...]
    summary: str
    #: Conformance statements (dcterms:conformsTo), e.g. EPUB Accessibility 1.1 - WCAG 2.1 Level AA.
    conforms_to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Publication:
    """Everything the output writers after the EPUB need (feeds, audiobook, records).

    ``audio`` holds the section audio files (podcast profile) inside ``out_dir``,
    in book order, one per section of ``book``.
    """

    book: Book
    out_dir: Path
    audio: tuple[SectionAudio, ...]
    modified: datetime
    narrator: str
    accessibility: Accessibility
    cover: Cover | None = None
    base_url: str = ""
    #: Where finished files may be cached between builds (None: nowhere).
    cache_dir: Path | None = None
