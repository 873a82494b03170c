"""Normalization: a sentence's display text -> the words to say, per language.

One stage, the same for every engine: numbers, dates, times, money, units,
symbols, abbreviations, acronyms, web addresses and emoji become words in the
book's language, so what the script shows (``publisher script``) is exactly
what every engine receives. Each rewrite is recorded as a :class:`Change`
(which rule turned which written span into which words).

Built on maintained libraries: num2words spells numbers, ordinals and years;
Babel supplies CLDR month names and each language's decimal and group
symbols; the ``emoji`` package finds emoji (including ZWJ sequences) and
names them in the book's language from CLDR annotations. What is left is in
tables, one per language (:mod:`publisher.normalize.languages`), read by one
ordered list of rules (:mod:`publisher.normalize.rules`).

The lexicon keeps the last word: it is applied after normalization, and the
graphemes it defines (``keep``) are never rewritten here, so ``NSSI: N S S I``
is not first spelled out as an acronym. Abbreviation definitions in the
Markdown (``*[NSSI]: non-suicidal self-injury``, rendered as ``<abbr title>``)
are said in full, then as written, at their first use in each section
("non-suicidal self-injury (N S S I)"), and as written after that, where the
lexicon or the acronym rule says them (see ``parse._expand_abbreviations``).

Code spans reach this stage between :data:`CODE_OPEN` and :data:`CODE_CLOSE`
(the parser puts them around ``<code>``); they are said as written, every
symbol by its name in the book's language.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass

from .languages import CODE_BLOCK_NOTICES, LANGUAGES, Language, language_for
from .rules import CODE_CLOSE, CODE_OPEN, rules_for, shouted

__all__ = ["CODE_CLOSE", "CODE_OPEN", "Change", "LANGUAGES", "Normalized",
           "code_block_notice", "normalize", "say"]

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Change:
    """One rewrite: ``written`` (``text[start:end]``) is said as ``said``, by ``rule``."""

    rule: str
    start: int
    end: int
    written: str
    said: str


@dataclass(frozen=True, slots=True)
class Normalized:
    """The words to say for a text, and what changed it."""

    text: str
    changes: tuple[Change, ...]
    language: str


_DIGIT = re.compile(r"\d")


def normalize(text: str, language: str = "en", keep: frozenset[str] = frozenset()) -> Normalized:
    """The words to say for ``text`` (display text, free of markup) in ``language``.

    ``keep`` are words no rule may rewrite (the lexicon's graphemes: the
    lexicon says them). A language without rules gets the language-neutral
    ones (web addresses, e-mail, emoji, markup characters) and one warning.
    """
    lang = language_for(language)
    if not lang.has_rules:
        _warn_once(language)
    text = text.replace("\u00ad", "").replace("\u200b", "")
    segments: list[tuple[int, str, Change | None]] = [(0, text, None)]
    digits = _DIGIT.search(text) is not None
    for rule in rules_for(keep, shouted(text)):
        if rule.needs_digit and not digits:
            continue
        if not any(change is None and part for _, part, change in segments):
            break
        out: list[tuple[int, str, Change | None]] = []
        for offset, part, change in segments:
            if change is not None or not part:
                out.append((offset, part, change))
                continue
            out.extend(_apply(rule.name, rule.find, offset, part, lang, keep, text))
        segments = out
    said = _join(segments)
    changes = tuple(c for _, _, c in segments if c is not None
                    and c.said.strip() != c.written.strip(f"{CODE_OPEN}{CODE_CLOSE}`"))
    return Normalized(text=_tidy(said), changes=changes, language=lang.code or language)


def _join(segments: list[tuple[int, str, Change | None]]) -> str:
    """The words of every segment; a rewrite touching a word gets a space
    ("RFC7235" -> "RFC seven thousand...", "MD5" -> "MD five")."""
    out: list[str] = []
    previous, previous_changed = "", False
    for _, part, change in segments:
        piece = change.said if change is not None else part
        if piece and previous and _spaced(previous[-1]) and _spaced(piece[0]) and (
                change is not None or previous_changed):
            out.append(" ")
        out.append(piece)
        if piece:
            previous, previous_changed = piece, change is not None
    return "".join(out)


def _spaced(char: str) -> bool:
    """A letter or digit of a script that puts spaces between words (not CJK)."""
    return char.isalnum() and not "\u2e80" <= char <= "\ufaff"


def say(text: str, language: str = "en", keep: frozenset[str] = frozenset()) -> str:
    """Only the words of :func:`normalize`."""
    return normalize(text, language, keep).text


def _apply(name: str, find: object, offset: int, part: str, lang: Language,
           keep: frozenset[str], text: str) -> list[tuple[int, str, Change | None]]:
    """Split ``part`` (``text[offset:offset + len(part)]``) into untouched text and the
    spans ``find`` rewrites."""
    out: list[tuple[int, str, Change | None]] = []
    cursor = 0
    if getattr(find, "whole_text", False):
        found = ((a - offset, b - offset, said) for a, b, said in
                 find(text, lang, offset, offset + len(part)))  # type: ignore[operator]
    else:
        found = find(part, lang)  # type: ignore[operator]
    for start, end, said in found:
        if start < cursor or end <= start:
            continue  # overlapping matches: the first one wins
        written = part[start:end]
        if any(k in written.split() for k in keep):
            continue
        if start > cursor:
            out.append((offset + cursor, part[cursor:start], None))
        out.append((offset + start, written,
                    Change(rule=name, start=offset + start, end=offset + end,
                           written=written, said=said)))
        cursor = end
    if cursor < len(part):
        out.append((offset + cursor, part[cursor:], None))
    return out


# Characters that are markup or decoration in any language: never spoken.
_MARKUP = re.compile(r"[#*_\[\]{}<>|\\^`~@\ue000\ue001]")
_DASHES = re.compile(r"\s*[–—]\s*|\s+-\s+")
_QUOTES = re.compile(r"[\"“”„«»‹›「」『』]|(?<![^\W_])['‘’]|['‘’](?![^\W_])")
_SLASH = re.compile(r"\s*/\s*")


def _tidy(text: str) -> str:
    """Language-neutral clean-up: dashes as pauses, quotes and markup dropped, spaces."""
    text = _DASHES.sub(", ", text)
    text = _QUOTES.sub("", text)
    text = _SLASH.sub(" ", text)
    text = _MARKUP.sub(" ", text)
    text = text.replace("…", "...")
    text = re.sub(r"\s+([,.;:!?،。，；：！？])", r"\1", " ".join(text.split()))
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"^[,;:.\s]+", "", text)
    return text.strip()


@functools.cache
def _warn_once(language: str) -> None:
    _LOGGER.warning("No normalization rules for language %r: numbers, dates and symbols are "
                    "left to the speech engine (only web addresses, e-mail, emoji and markup "
                    "are handled).", language)


def code_block_notice(lines: int, language: str = "en") -> str:
    """What is said for a code block of ``lines`` lines, in ``language`` (its words:
    the number is spelled like any other). A language with no table has its words
    in :data:`~.languages.CODE_BLOCK_NOTICES` (the number left in digits for its
    voice); one in neither gets English."""
    lang = language_for(language)
    if lang.has_rules:
        one, many = lang.code_block
        return normalize(one if lines == 1 else many.format(n=lines), language).text
    notice = CODE_BLOCK_NOTICES.get(language.split("-")[0].split("_")[0].lower())
    if notice is not None:
        return notice[0] if lines == 1 else notice[1].format(n=lines)
    one, many = LANGUAGES["en"].code_block
    return normalize(one if lines == 1 else many.format(n=lines), "en").text
