"""Immutable values shared by every stage.

The sentence is the spine of the whole book: one :class:`Sentence` id is the
``id`` of a ``<span>`` in the XHTML, a clip in the section audio, a ``<par>`` in
the SMIL and a cue in the WebVTT transcript.

    Manuscript -> Book(meta, sections)
                    Section(id, slug, title, level, role, blocks)
                      Block(kind, sentences)
                        Sentence(id, html, spoken, language, voice)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import lxml.html

_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_NOT_TEXT = (  # footnote reference numbers and back-links: navigation, not text
    './/sup[.//a[contains(concat(" ", normalize-space(@class), " "), " footnote-ref ")]]'
    ' | .//a[contains(concat(" ", normalize-space(@class), " "), " footnote-ref ")]'
    ' | .//a[contains(concat(" ", normalize-space(@class), " "), " footnote-backref ")]')


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
    #: The sentence's own language (BCP 47) when it is not the book's: all its
    #: letters are in a passage marked with another ``lang``. '' for the book's.
    language: str = ""
    #: Which of the front matter's ``voices`` says it ('' for the narrator).
    voice: str = ""

    def plain_text(self, keep_lines: bool = False) -> str:
        """The display text as plain text: what the reader sees, without markup.

        Images become their alt text (which is also what the voice reads); footnote
        reference numbers and back-links are left out, as they are navigation, not
        text. Runs of ASCII whitespace become one space unless ``keep_lines`` (code
        blocks), which keeps line breaks but drops empty lines. No-break spaces are
        kept: French punctuation depends on them. Transcripts, feeds and the site
        all show this text.
        """
        if not self.html.strip():
            return ""
        root = lxml.html.fragment_fromstring(self.html, create_parent="span")
        for element in root.xpath(_NOT_TEXT):
            if element.getparent() is not None:
                element.drop_tree()
        for image in root.iter("img"):
            image.text = image.get("alt", "")
        for br in root.iter("br"):
            br.text = "\n"
        text = root.text_content()
        if keep_lines:
            return "\n".join(line.rstrip() for line in text.split("\n") if line.strip())
        return _ASCII_SPACE.sub(" ", text).strip()


@dataclass(frozen=True, slots=True)
class Voicing:
    """Who says a sentence: a role of the front matter's ``voices`` and a language.

    The default (``Voicing()``) is the narrator in the book's language. ``skipped``
    names the language of a passage no installed voice speaks: the sentence is an
    announcement of it (or silent), never read in a wrong voice.
    """

    #: A role of ``voices`` ('' for the narrator).
    role: str = ""
    #: The language said, when not the book's ('').
    language: str = ""
    #: The language of the passage this sentence stands for and does not read ('').
    skipped: str = ""


@dataclass(frozen=True, slots=True)
class Block:
    """A block of text in reading order (heading, paragraph, list item ...).

    ``kind`` is one of: ``heading``, ``paragraph``, ``list-item``, ``quote``,
    ``table-cell``, ``image``, ``code``, ``footnote``, ``caption``, ``term``,
    ``definition``. ``structure`` names the escapable or skippable structure the
    block sits in (``list``, ``table``, ``figure``, ``aside``, ``footnote``,
    ``code``: a code block's announcement, when the block is not inside another),
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
        """The section's sentences in reading order."""
        return tuple(s for b in self.blocks for s in b.sentences)

    @property
    def basename(self) -> str:
        """File name stem shared by the XHTML, MP3, VTT and chapters files."""
        return f"{self.number:02d}-{self.slug}"

    def heading_sentences(self) -> dict[str, str]:
        """Map each subsection heading id to the id of the first sentence after it.

        "After" is in document order of ``body_html``, so a heading's own words
        (a sentence inside the heading element) come first. Headings with no
        sentence after them are left out. The audio's chapters, the transcripts'
        chapters and the feed all start a heading here.
        """
        heading_ids = {h.id for h in self.headings if h.id}
        if not heading_ids or not self.body_html.strip():
            return {}
        sentence_ids = {s.id for s in self.sentences}
        root = lxml.html.fragment_fromstring(self.body_html, create_parent="div")
        found: dict[str, str] = {}
        pending: list[str] = []
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue  # comments, processing instructions
            element_id = element.get("id")
            if not element_id:
                continue
            if element_id in heading_ids and element_id not in found:
                pending.append(element_id)
            if element_id in sentence_ids and pending:
                for heading_id in pending:
                    found[heading_id] = element_id
                pending = []
        return found


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
    #: The front matter's ``voices``: (role, voice name) in source order; the
    #: role ``narrator`` (when given) is the book's own voice.
    voices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Book:
    """The whole book: metadata and sections, from the parser."""
    meta: BookMeta
    sections: tuple[Section, ...]
    images: tuple[Image, ...] = ()
    #: Warnings found while parsing (placeholder links, missing alt text ...).
    warnings: tuple[str, ...] = ()
    source: Path | None = None

    @property
    def sentences(self) -> tuple[Sentence, ...]:
        """Every sentence of the book in reading order."""
        return tuple(s for sec in self.sections for s in sec.sentences)


@dataclass(frozen=True, slots=True)
class Clip:
    """Synthesized speech for one sentence: mono 16-bit PCM."""

    pcm: bytes
    sample_rate_hz: int

    @property
    def num_samples(self) -> int:
        """Number of 16-bit samples."""
        return len(self.pcm) // 2

    @property
    def duration_ms(self) -> float:
        """Length in milliseconds."""
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
class BookAudio:
    """What the audio stage (narrate) gives the writers: every file, its timings, who spoke.

    ``sections`` and ``epub_sections`` are in book order, one per section:
    the files of the audio profile (``audio/``) and of the EPUB's profile.
    ``contents`` is the EPUB's audio of the table of contents, its timings
    named by the contents' element ids.
    """

    sections: tuple[SectionAudio, ...]
    epub_sections: tuple[SectionAudio, ...]
    contents: SectionAudio
    narrator: str
    engine: str
    engine_identity: dict[str, str] = field(compare=False)
    rate: float
    audio_profile: str
    epub_audio_profile: str
    #: Facts about this run, not the book (they depend on the cache): never in build.json.
    clips_synthesized: int = 0
    clips_from_cache: int = 0
    fell_back: bool = False
    #: Every voice heard in the book, the narrator first, when there are several
    #: (``narrator`` then names them all, comma-separated); empty for one.
    narrators: tuple[str, ...] = ()

    @property
    def duration_ms(self) -> int:
        """The whole book's audio (the sections; the contents' audio is the EPUB's only)."""
        return sum(s.duration_ms for s in self.sections)


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
    #: Conformance statements (dcterms:conformsTo), e.g. EPUB Accessibility 1.1 - WCAG 2.2
    #: Level AA: only when this build's own check passed (publisher.claims).
    conforms_to: tuple[str, ...] = ()
    #: Who checked, with what (a11y:certifiedBy); '' when nothing was claimed.
    certified_by: str = ""


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
    #: Every voice heard, the narrator first, when there are several (see BookAudio).
    narrators: tuple[str, ...] = ()

    @property
    def credited(self) -> tuple[str, ...]:
        """Each narrator to credit, one by one (none without audio)."""
        return self.narrators or ((self.narrator,) if self.narrator else ())

    @property
    def sections_with_audio(self) -> tuple[tuple[Section, SectionAudio], ...]:
        """Each section that has audio, with it, in book order."""
        by_id = {a.section_id: a for a in self.audio}
        return tuple((s, by_id[s.id]) for s in self.book.sections if s.id in by_id)
