"""Spoken text: what a sentence sounds like, from its rendered text.

The input is already free of Markdown and HTML (parse.py takes it from the
rendered document). The words come from the normalization stage
(:mod:`publisher.normalize`): numbers, dates, money, symbols, abbreviations
and emoji said in the book's language, the same for every engine. The
lexicon keeps the last word: its graphemes are left for it to say.
"""

from __future__ import annotations

import functools
from pathlib import Path

from .lexicon import load_lexicon
from .model import BookMeta
from .normalize import CODE_CLOSE, CODE_OPEN, code_block_notice, normalize
from .normalize.languages import language_for

__all__ = ["CODE_CLOSE", "CODE_OPEN", "code_block_notice", "lexicon_words", "note_word",
           "speak"]


def speak(text: str, language: str = "en", keep: frozenset[str] = frozenset()) -> str:
    """The words to synthesize for ``text`` (already free of markup).

    ``keep``: words left as written for the lexicon (see :func:`lexicon_words`).
    """
    return normalize(text, language, keep).text


def note_word(language: str) -> str:
    """The word that announces a note where it is read ("Note 3: ..."), in ``language``."""
    return language_for(language).words.get("note", "Note")


def lexicon_words(meta: BookMeta) -> frozenset[str]:
    """The graphemes the book's lexicon defines: normalization leaves them to it."""
    return _lexicon_words(tuple(meta.pronunciations), meta.lexicon)


@functools.cache
def _lexicon_words(pronunciations: tuple[tuple[str, str], ...],
                   pls: Path | None) -> frozenset[str]:
    return frozenset(word for word, _ in load_lexicon(pronunciations, pls).entries)
