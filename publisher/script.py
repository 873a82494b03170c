"""The spoken script: Book -> what the narrator says, sentence by sentence.

    Book --lexicon (front matter + PLS, loaded once)--> Script
      items      (sentence id, words to say) for every sentence, then every
                 entry of the contents (its title, then its headings)
      sections   per section: (sentence id, pause after it) in reading order,
                 and its chapters (title, first sentence id)
      contents   the same for the contents' own audio
      pls        the lexicon as a W3C PLS document, for the EPUB

Spoken text is derived from the rendered document (``Sentence.spoken``, made
by the parser through :mod:`publisher.spoken`), never from raw Markdown; the
lexicon has the last word and is applied here, once, for every engine. The
narration (:mod:`publisher.narrate`), the cluster, the benchmarks and the
tests all take their texts from this stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import spoken
from .audio import pause_after
from .layout import contents_entries
from .lexicon import Lexicon, load_lexicon
from .model import Book, Section

__all__ = ["Script", "SectionScript", "script_book"]


@dataclass(frozen=True, slots=True)
class SectionScript:
    """One audio file's script: its sentences with their pauses, and its chapters."""

    #: The section id (or ``CONTENTS_ID`` for the contents).
    id: str
    #: What is said for the section's title (its audio tags and audiobook chapter).
    title: str
    #: (sentence id, pause after it in ms) in reading order; the tail is the assembler's.
    parts: tuple[tuple[str, int], ...]
    #: (title, first sentence id) of each subsection heading with a sentence after it.
    chapters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Script:
    """What the narrator says for a whole book (see the module docs)."""

    #: (sentence id, words to say, lexicon applied): the sentences, then the contents.
    items: tuple[tuple[str, str], ...]
    #: One per section of the book, in book order.
    sections: tuple[SectionScript, ...]
    #: The contents' audio: one part per entry (see layout.contents_entries).
    contents: SectionScript
    lexicon: Lexicon
    #: The lexicon as a PLS document for the EPUB (None when it is empty).
    pls: bytes | None

    def text(self, sentence_id: str) -> str:
        """The words said for ``sentence_id`` (a sentence or a contents entry)."""
        return dict(self.items)[sentence_id]

    @property
    def texts(self) -> dict[str, str]:
        """Sentence (or contents entry) id -> the words said for it."""
        return dict(self.items)


#: The id of the contents' audio, beside the sections' own ids.
CONTENTS_ID = "nav"


def script_book(book: Book, lexicon: Lexicon | None = None) -> Script:
    """The spoken script of ``book``: its lexicon loaded (unless given) and applied once."""
    meta = book.meta
    if lexicon is None:
        lexicon = load_lexicon(meta.pronunciations, meta.lexicon)
    entries = contents_entries(book)
    items = [(s.id, lexicon.apply(s.spoken)) for s in book.sentences]
    items += [(entry_id, lexicon.apply(spoken.speak(text, meta.language)))
              for entry_id, text in entries]
    contents_parts = [(entry_id, pause_after("paragraph")) for entry_id, _ in entries]
    contents_parts[-1] = (contents_parts[-1][0], 0)
    contents = SectionScript(id=CONTENTS_ID, title=entries[0][1], parts=tuple(contents_parts))
    return Script(items=tuple(items),
                  sections=tuple(_section_script(section) for section in book.sections),
                  contents=contents, lexicon=lexicon,
                  pls=lexicon.to_pls(meta.language) if lexicon.entries else None)


def _section_script(section: Section) -> SectionScript:
    """A section's parts with their pauses, and its chapters."""
    parts: list[tuple[str, int]] = []
    for block in section.blocks:
        last = len(block.sentences) - 1
        for index, sentence in enumerate(block.sentences):
            if index < last:
                pause = pause_after("sentence")
            elif block.kind == "heading":
                pause = pause_after("heading")
            else:
                pause = pause_after("paragraph")
            parts.append((sentence.id, pause))
    if parts:
        parts[-1] = (parts[-1][0], 0)  # the tail is the assembler's
    first = section.heading_sentences()
    chapters = tuple((h.title, first[h.id]) for h in section.headings if h.id in first)
    return SectionScript(id=section.id, title=section.title, parts=tuple(parts),
                         chapters=chapters)
