"""Sentence segmentation: a run of text -> [start, end) of each sentence.

pysbd finds the sentences (Golden Rules tested, many languages; chosen over
NLTK's punkt, which needs a trained model per language, and spaCy, which is
far larger). Two things of ours make it fast on a long book without changing
one result: :func:`segment` takes pysbd's processor output directly and skips
the abbreviations that cannot apply (:class:`_AbbreviationFilter`), and a book
of more than :data:`HELPER_MIN_CHARS` is segmented with help from a second
process (:class:`Presegmenter`) while parse.py walks the document.

parse.py calls :func:`sentence_ranges` for every run it cuts; nothing here
knows about Markdown or the model.
"""

from __future__ import annotations

import functools
import os
import re
import signal
from multiprocessing.connection import Connection
from typing import Any

import pysbd
from pysbd.abbreviation_replacer import AbbreviationReplacer
from pysbd.processor import Processor

from .helper import clean_context

__all__ = ["HELPER_MIN_CHARS", "OBJECT", "OWN_SHARE", "Presegmenter", "make_segmenter",
           "segment", "segmenter_language", "sentence_ranges", "wants_presegmenter"]

OBJECT = "\ufffc"  # stands for an image in the text given to the segmenter


def segmenter_language(language: str) -> str:
    """pysbd's language for a BCP 47 tag (its primary subtag; English if pysbd lacks it)."""
    primary = language.split("-")[0].lower()
    return primary if primary in pysbd.languages.LANGUAGE_CODES else "en"


def make_segmenter(language: str) -> pysbd.Segmenter:
    """A segmenter for ``language`` (as :func:`segmenter_language` gives it)."""
    return pysbd.Segmenter(language=language, clean=False)


def sentence_ranges(segmenter: pysbd.Segmenter, text: str,
                     pieces: list[str] | None = None) -> list[tuple[int, int]]:
    """[start, end) of each sentence in ``text``, trimmed of outer white space.

    Every non-space character belongs to exactly one range; if the segmenter's
    pieces (``pieces``, when already known) cannot be found in the text, the
    whole run is one sentence rather than risk dropping words.
    """
    try:
        pieces = segment(segmenter, text) if pieces is None else pieces
    except Exception:  # pysbd has regex edge cases; one sentence is always safe
        pieces = [text]
    ranges: list[tuple[int, int]] = []
    cursor = 0
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        at = text.find(piece, cursor)
        if at < 0 or text[cursor:at].strip():
            return _whole(text)
        ranges.append((at, at + len(piece)))
        cursor = at + len(piece)
    if text[cursor:].strip() or not ranges:
        return _whole(text)
    return _merge_fragments(text, ranges)


# --- a second process for long books -------------------------------------------

#: Books longer than this (characters of Markdown) are segmented with help from
#: a second process; below it, starting one costs more than it saves.
HELPER_MIN_CHARS = 200_000
#: The share of runs this process segments itself (the first ones), so that
#: neither process waits for the other: the walk does other work per run
#: (about 60% of what segmenting costs), and the helper starts late.
OWN_SHARE = 0.2


def wants_presegmenter(text: str) -> bool:
    """Whether a book of this Markdown is worth a second process (long, and two cores)."""
    return len(text) >= HELPER_MIN_CHARS and (os.cpu_count() or 1) > 1


class Presegmenter:
    """Segments a long book's runs in a second process while this one walks the tree.

    Results are exactly :func:`segment`'s; a run it was not given, or could
    not segment, is segmented by the walk as usual (``get`` returns None).
    """

    def __init__(self, process: Any, conn: Connection) -> None:
        self._process = process
        self._conn = conn
        self._ready: dict[str, list[str] | None] = {}
        self._pending: set[str] = set()

    @classmethod
    def start(cls, language: str) -> Presegmenter | None:
        """Start the second process (None if none can be started: the walk does it all)."""
        context = clean_context()
        try:
            conn, child = context.Pipe()
            process = context.Process(target=_presegment, args=(child, language), daemon=True)
            process.start()
        except OSError:
            return None  # no second process: the walk does it all
        child.close()
        return cls(process, conn)

    def submit(self, texts: list[str]) -> None:
        """Give the process these texts to segment, in this order."""
        try:
            self._conn.send(texts)
        except OSError:
            return
        self._pending = set(texts)

    def get(self, text: str) -> list[str] | None:
        """``text``'s pieces (waiting for them if it was submitted), or None."""
        while text in self._pending and text not in self._ready:
            try:
                self._ready.update(self._conn.recv())
            except (EOFError, OSError):
                self._pending.clear()
        return self._ready.get(text)

    def close(self) -> None:
        """Stop the process."""
        self._process.terminate()
        self._process.join(timeout=5)
        self._conn.close()


def _presegment(conn: Connection, language: str) -> None:
    """The helper process: segment the texts received, answering in batches as it goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    segmenter = make_segmenter(language)
    texts = conn.recv()
    batch: dict[str, list[str] | None] = {}
    for text in texts:
        try:
            batch[text] = segment(segmenter, text)
        except Exception:  # the walk tries again, and handles it as it always does
            batch[text] = None
        if len(batch) == 64:
            conn.send(batch)
            batch = {}
    conn.send(batch)


#: Runs made only of these, and none of the language's sentence punctuation
#: (Arabic counts ':', Greek ';'), cannot be split by pysbd (no brackets, line
#: breaks or its placeholder symbols either): it would return the run whole,
#: so it is not asked (headings, list items, table cells).
_UNSPLITTABLE = re.compile(r"[\w \t\u00a0,;:'\"\u2018\u2019\u201c\u201d\-\u2013\u2014&/%+#*@$]*")


def segment(segmenter: pysbd.Segmenter, text: str) -> list[str]:
    """pysbd's sentences of ``text`` (stripped as :func:`sentence_ranges` strips them).

    Three shortcuts, each giving exactly pysbd's pieces: ``Segmenter.segment``
    finds every sentence in the text again with a regex compiled from that
    sentence (a compile per sentence, most of pysbd's time on a long book),
    and :func:`sentence_ranges` locates the pieces itself, so the processor's
    sentences are all it needs; a run with nothing pysbd splits at is one
    sentence; and abbreviations that cannot apply are skipped (see
    :class:`_AbbreviationFilter`).
    """
    if not text:
        return []
    if _UNSPLITTABLE.fullmatch(text) and not any(
            mark in text for mark in segmenter.language_module.Punctuations):
        return [text]
    return list(_processor(segmenter, text).process())


def _processor(segmenter: pysbd.Segmenter, text: str) -> Processor:
    """pysbd's processor for ``text``, with abbreviations filtered when that is exact."""
    lang = segmenter.language_module
    processor = segmenter.processor(text)
    replacer = getattr(lang, "AbbreviationReplacer", AbbreviationReplacer)
    generic = all(getattr(replacer, name) is getattr(AbbreviationReplacer, name)
                  for name in ("search_for_abbreviations_in_string", "scan_for_replacements",
                               "replace_period_of_abbr"))
    if generic and type(processor).abbreviations_replacer is Processor.abbreviations_replacer:
        processor.abbreviations_replacer = (  # type: ignore[method-assign]
            lambda: _filtered_replacer(replacer)(processor.text, lang))
    return processor


@functools.cache
def _filtered_replacer(base: type[AbbreviationReplacer]) -> type[AbbreviationReplacer]:
    return type("AbbreviationFilter", (_AbbreviationFilter, base), {})


class _AbbreviationFilter(AbbreviationReplacer):
    """pysbd's abbreviation pass, minus the abbreviations that cannot change the text.

    pysbd tries each of ~200 abbreviations on every line, and one that occurs
    as a substring ("is", "me", "co" ...) costs a regex search and a
    substitution per occurrence, yet every substitution it makes needs the
    abbreviation followed by a period. So an all-ASCII-letters abbreviation
    with no "abbr." in the line (case-folded as ``re.IGNORECASE`` folds:
    U+0130, U+0131 and U+017F match i, i and s) is a no-op and is skipped;
    the others are tried as pysbd tries them, in the same order.
    """

    def search_for_abbreviations_in_string(self, text: str) -> str:
        lowered = text.lower()
        folded = text.translate(_RE_FOLDS).lower()
        for abbr in self.lang.Abbreviation.ABBREVIATIONS:
            stripped = abbr.strip()
            if stripped not in lowered:
                continue
            if stripped.isascii() and stripped.isalpha() and stripped + "." not in folded:
                continue
            # From here on, pysbd 0.3.4's loop unchanged.
            abbrev_match = re.findall(
                rf"(?:^|\s|\r|\n){stripped}", text, flags=re.IGNORECASE)
            if not abbrev_match:
                continue
            next_word_start = r"(?<={" + str(re.escape(stripped)) + "} ).{1}"
            char_array = re.findall(next_word_start, text)
            for ind, match in enumerate(abbrev_match):
                text = self.scan_for_replacements(text, match, ind, char_array)
        return text


_RE_FOLDS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


def _whole(text: str) -> list[tuple[int, int]]:
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    return [(start, end)]


def _merge_fragments(text: str, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join pieces with no letter or digit (a lone quote or bracket) to a neighbour."""
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and not any(ch.isalnum() or ch == OBJECT for ch in text[start:end]):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    if len(merged) > 1 and not any(ch.isalnum() or ch == OBJECT
                                   for ch in text[merged[0][0]:merged[0][1]]):
        merged[1] = (merged[0][0], merged[1][1])
        merged.pop(0)
    return merged
