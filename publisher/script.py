"""The spoken script: Book -> what the narrator says, sentence by sentence.

    Book --lexicon (front matter + PLS, loaded once)--> Script
      items      (sentence id, words to say) for every sentence, then every
                 entry of the contents (its title, then its headings)
      sections   per section: (sentence id, pause after it) in reading order,
                 and its chapters (title, first sentence id)
      contents   the same for the contents' own audio
      pls        the lexicon as a W3C PLS document, for the EPUB

Each item is said by its own voice (:attr:`Script.voicings`): the narrator,
a role of the front matter's ``voices``, or a voice of a passage's own
language. A passage in a language no installed voice speaks is never read in
a wrong voice: its first sentence says, in the book's language, that such a
passage follows and is shown in the text; its other sentences are silent.

Spoken text is derived from the rendered document (``Sentence.spoken``, made
by the parser through :mod:`publisher.spoken`), never from raw Markdown; the
lexicon has the last word and is applied here, once, for every engine. The
narration (:mod:`publisher.narrate`), the cluster, the benchmarks and the
tests all take their texts from this stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError

from . import spoken
from .audio import pause_after
from .layout import contents_entries
from .lexicon import Lexicon, load_lexicon
from .model import Book, Section, Voicing

__all__ = ["Script", "SectionScript", "Voicing", "announcement", "script_book"]


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
    #: (sentence id, who says it) for every item not said by the narrator in the
    #: book's language, in the order of ``items``; a silent item's text is ''.
    voicings: tuple[tuple[str, Voicing], ...] = ()

    def voicing(self, sentence_id: str) -> Voicing:
        """Who says ``sentence_id`` (the narrator, in the book's language, by default)."""
        return dict(self.voicings).get(sentence_id, _NARRATOR)

    def text(self, sentence_id: str) -> str:
        """The words said for ``sentence_id`` (a sentence or a contents entry)."""
        return dict(self.items)[sentence_id]

    @property
    def texts(self) -> dict[str, str]:
        """Sentence (or contents entry) id -> the words said for it."""
        return dict(self.items)


#: The id of the contents' audio, beside the sections' own ids.
CONTENTS_ID = "nav"


_NARRATOR = Voicing()
#: "A passage in LANGUAGE follows", in the book's language (English for others).
_ANNOUNCE = {
    "en": "A passage in {language} follows; it is shown in the text.",
    "de": "Es folgt eine Passage auf {language}; sie steht im Text.",
    "es": "Sigue un pasaje en {language}; se muestra en el texto.",
    "fr": "Suit un passage en {language}, affiché dans le texte.",
    "it": "Segue un passaggio in {language}, riportato nel testo.",
    "pt": "Segue-se uma passagem em {language}, apresentada no texto.",
    "zh": "以下是一段{language}文字，请看文本。",
}


def announcement(language: str, book_language: str) -> str:
    """What is said instead of a passage in ``language``, in the book's language."""
    primary = book_language.replace("_", "-").split("-")[0].lower()
    template = _ANNOUNCE.get(primary, _ANNOUNCE["en"])
    names: Mapping[str, str]
    try:
        names = Locale.parse(primary if primary in _ANNOUNCE else "en").languages
    except (UnknownLocaleError, ValueError):
        names = {}
    passage = language.replace("-", "_")
    name = names.get(passage) or names.get(passage.split("_")[0]) or language
    return template.format(language=name)


def script_book(book: Book, lexicon: Lexicon | None = None, *,
                speaks: Callable[[str], bool] | None = None) -> Script:
    """The spoken script of ``book``: its lexicon loaded (unless given) and applied once.

    ``speaks(language)`` says whether a passage in ``language`` (BCP 47) has a
    voice to read it (default: an installed offline voice of that language,
    :mod:`publisher.speech.choose`); a passage without one is announced.
    """
    meta = book.meta
    if lexicon is None:
        lexicon = load_lexicon(meta.pronunciations, meta.lexicon)
    if speaks is None:
        speaks = _has_offline_voice
    entries = contents_entries(book)
    items: list[tuple[str, str]] = []
    voicings: list[tuple[str, Voicing]] = []
    known: dict[str, bool] = {}
    for section in book.sections:
        skipping = ""  # the language of the passage being skipped
        for sentence in section.sentences:
            language, role = sentence.language, sentence.voice
            if language and known.setdefault(language, speaks(language)) is False:
                text = "" if skipping == language else announcement(language, meta.language)
                skipping = language
                items.append((sentence.id, text))
                voicings.append((sentence.id, Voicing(skipped=language)))
                continue
            skipping = ""
            items.append((sentence.id, lexicon.apply(sentence.spoken)))
            if language or role:
                voicings.append((sentence.id, Voicing(role=role, language=language)))
    keep = spoken.lexicon_words(meta)
    items += [(entry_id, lexicon.apply(spoken.speak(text, meta.language, keep)))
              for entry_id, text in entries]
    silent = {sentence_id for sentence_id, text in items if not text}
    contents_parts = [(entry_id, pause_after("paragraph")) for entry_id, _ in entries]
    contents_parts[-1] = (contents_parts[-1][0], 0)
    contents = SectionScript(id=CONTENTS_ID, title=entries[0][1], parts=tuple(contents_parts))
    return Script(items=tuple(items),
                  sections=tuple(_section_script(section, silent) for section in book.sections),
                  contents=contents, lexicon=lexicon,
                  pls=lexicon.to_pls(meta.language) if lexicon.entries else None,
                  voicings=tuple(voicings))


def _has_offline_voice(language: str) -> bool:
    """Whether an installed offline voice (the default choice) speaks ``language``."""
    # deferred: ~6 ms; the CLI's parser imports this module (through proof) at every start
    from .speech.choose import VoiceLanguageError, choose_voice

    try:
        choose_voice(language)
    except VoiceLanguageError:
        return False
    return True


def _section_script(section: Section, silent: set[str]) -> SectionScript:
    """A section's parts with their pauses, and its chapters (a silent sentence, of a
    passage not read, has no pause after it but at the end of its block)."""
    parts: list[tuple[str, int]] = []
    for block in section.blocks:
        last = len(block.sentences) - 1
        for index, sentence in enumerate(block.sentences):
            if index < last and sentence.id in silent:
                pause = 0
            elif index < last:
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
