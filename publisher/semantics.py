"""Semantics for reading systems and assistive technology, marked on the rendered tree.

Run on Python-Markdown's sanitized output before the sentence walk, so that
what they add is copied into every sentence span like any other attribute:

- notes (:func:`number_notes`, :func:`footnote_aside`): every reference is an
  EPUB 3 ``noteref`` with the DPUB-ARIA role ``doc-noteref``, labelled with its
  note's number in reading order (Python-Markdown numbers notes in the order
  they are *defined*, so a reference "2" could come first); every note is an
  ``<aside epub:type="footnote" role="doc-footnote">`` that opens with its
  number as a ``doc-backlink`` to the reference.
- tables (:func:`mark_tables`): ``scope`` on every header cell, and a pandoc
  style caption paragraph (``Table: ...`` or ``: ...`` next to the table)
  made the table's ``<caption>``.
- language and direction (:func:`mark_languages`): a passage whose script is
  not the one of the language around it (the book's, or a source element's
  own ``lang``) gets ``lang`` and ``dir``. The script of each character comes
  from the Unicode Character Database as fontTools ships it
  (``fontTools.unicodedata``); which language of that script a passage is in
  comes from py3langid (an offline, BSD-licensed identifier whose model ships
  in the package) restricted to the languages written in that script, else
  from CLDR's likely language for the script (langcodes). A passage block
  in the script of the language around it is identified too, and marked only
  when it is long and the identifier all but certain (see
  ``_SURE_SAME_SCRIPT``): an English quote in a German book gets ``lang="en"``,
  German prose full of English loanwords does not. The model is loaded once by
  :mod:`publisher.identify` (0.14 s from the copy `make setup` prepares).

lxml cannot set a prefixed attribute without binding the namespace on every
element it serializes, so ``epub:type`` is carried as :data:`EPUB_TYPE` and
spelt properly by :func:`spell_epub_types` when a document body is written.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator

import langcodes
from fontTools import unicodedata as ucd
from lxml import etree

from . import identify as langid

__all__ = [
    "EPUB_TYPE",
    "footnote_aside",
    "name_landmarks",
    "mark_languages",
    "mark_tables",
    "number_notes",
    "spell_epub_types",
]

#: Stand-in for ``epub:type`` while the tree is walked (nh3 has removed every
#: data- attribute of the source, so none can collide).
EPUB_TYPE = "data-publisher-epub-type"

_SPELL = re.compile(r"(<[A-Za-z][^<>]*?\s)" + EPUB_TYPE + '="')


def spell_epub_types(xhtml: str) -> str:
    """Turn the stand-in attribute into ``epub:type`` (inside tags only: serialized text
    and attribute values never hold a raw '<' or '>')."""
    return _SPELL.sub(r'\1epub:type="', xhtml) if EPUB_TYPE in xhtml else xhtml


def _classes(element: etree._Element) -> list[str]:
    return (element.get("class") or "").split()


# --------------------------------------------------------------------------- notes


def number_notes(root: etree._Element) -> dict[str, int]:
    """Label each footnote reference with its note's number in reading order.

    Returns note id -> number. The first reference to a note gives it the next
    number; later references to the same note carry the same number.
    """
    numbers: dict[str, int] = {}
    for ref in root.iter("a"):
        if "footnote-ref" not in _classes(ref):
            continue
        note_id = ref.get("href", "")[1:]
        number = numbers.setdefault(note_id, len(numbers) + 1)
        for child in list(ref):
            ref.remove(child)
        ref.text = str(number)
        ref.set(EPUB_TYPE, "noteref")
        ref.set("role", "doc-noteref")
    return numbers


def footnote_aside(note: etree._Element, number: int) -> etree._Element:
    """Python-Markdown's ``<li id="fn-x">`` note as an EPUB 3 footnote ``<aside>``.

    The note opens with its number, a ``doc-backlink`` to the first reference;
    back-links to further references stay at its end, named for a reader.
    """
    aside = etree.Element("aside")
    if note.get("id"):
        aside.set("id", note.get("id", ""))
    aside.set(EPUB_TYPE, "footnote")
    aside.set("role", "doc-footnote")
    aside.text = note.text
    for child in note:
        aside.append(_deep_copy(child))
    backrefs = [a for a in aside.iter("a") if "footnote-backref" in _classes(a)]
    first_href = backrefs[0].get("href", "") if backrefs else ""
    for index, backref in enumerate(backrefs):
        if index == 0:
            _drop_keeping_tail(backref, keep_space=len(backrefs) > 1)
            continue
        backref.set("role", "doc-backlink")
        backref.set("aria-label", f"Back to reference {number} ({index + 1})")
        backref.attrib.pop("title", None)
    label = etree.Element("a")
    label.set("class", "footnote-backref footnote-label")
    if first_href:
        label.set("href", first_href)
    label.set("role", "doc-backlink")
    label.set("aria-label", f"Note {number}, back to the text")
    label.text = str(number)
    first = aside[0] if len(aside) and aside[0].tag == "p" and not (aside.text or "").strip() \
        else None
    if first is None:
        first = etree.Element("p")
        aside.insert(0, first)
        first.tail, aside.text = aside.text, None
    label.tail = " " + (first.text or "").lstrip()
    first.text = None
    first.insert(0, label)
    return aside


def _deep_copy(element: etree._Element) -> etree._Element:
    copied: etree._Element = etree.fromstring(etree.tostring(element))
    copied.tail = element.tail
    return copied


def _drop_keeping_tail(element: etree._Element, keep_space: bool) -> None:
    """Remove ``element``; its tail joins the text before it, minus the no-break
    space Python-Markdown put before a back-link (unless another one follows)."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail or ""
    previous = element.getprevious()
    strip = "" if keep_space else "\u00a0 "
    if previous is not None:
        previous.tail = (previous.tail or "").rstrip(strip) + tail
    else:
        parent.text = (parent.text or "").rstrip(strip) + tail
    parent.remove(element)


# --------------------------------------------------------------------------- landmarks

#: Elements that are landmarks unless they carry a role of their own.
_LANDMARKS = ("aside", "nav")


def name_landmarks(body: etree._Element) -> None:
    """Make every landmark of one document unique, as screen readers list them by name.

    A pull quote (``class="pquote"``, as many sites write them) is a
    ``doc-pullquote``, not a landmark. Other unnamed ``<aside>`` or ``<nav>``
    elements, when a document has more than one, are named by their first words
    ("Aside: When I started ..."), numbered if two begin alike.
    """
    for element in body.iter("aside"):
        classes = _classes(element)
        if not element.get("role") and ("pquote" in classes or "pullquote" in classes):
            element.set("role", "doc-pullquote")
    for tag in _LANDMARKS:
        unnamed = [e for e in body.iter(tag) if not e.get("role")
                   and not e.get("aria-label") and not e.get("aria-labelledby")]
        if len(unnamed) < 2:
            continue
        used: set[str] = set()
        kind = "Aside" if tag == "aside" else "Navigation"
        for number, element in enumerate(unnamed, start=1):
            words = " ".join("".join(element.itertext()).split()[:6])
            label = f"{kind}: {words}" if words else f"{kind} {number}"
            if label in used:
                label = f"{label} ({number})"
            used.add(label)
            element.set("aria-label", label)


# --------------------------------------------------------------------------- tables

#: A pandoc table caption: "Table: words" or ": words", just before or after a table.
_CAPTION = re.compile(r"^\s*(?:Table)?:\s+\S", re.IGNORECASE)


def mark_tables(root: etree._Element) -> None:
    """``scope`` on every header cell; a pandoc caption paragraph made the ``<caption>``."""
    for table in root.iter("table"):
        for row in table.iter("tr"):
            cells = [c for c in row if c.tag in ("td", "th")]
            in_head = any(a.tag == "thead" for a in row.iterancestors())
            for cell in cells:
                if cell.tag != "th" or cell.get("scope"):
                    continue
                all_headers = all(c.tag == "th" for c in cells)
                cell.set("scope", "col" if in_head or all_headers else "row")
        if table.find("caption") is None:
            _caption_from_paragraph(table)


def _caption_from_paragraph(table: etree._Element) -> None:
    for paragraph in (table.getnext(), table.getprevious()):
        if paragraph is None or paragraph.tag != "p":
            continue
        if not _CAPTION.match(paragraph.text or ""):
            continue
        caption = etree.Element("caption")
        caption.text = re.sub(r"^\s*(?:Table)?:\s+", "", paragraph.text or "",
                              flags=re.IGNORECASE)
        for child in paragraph:
            caption.append(child)
        table.insert(0, caption)
        parent = paragraph.getparent()
        if parent is not None:
            _remove_keeping_tail(paragraph)
        return


def _remove_keeping_tail(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is None:
        return
    previous = element.getprevious()
    if element.tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


# --------------------------------------------------------------------------- languages

#: Elements holding one passage of text (their nested blocks are passages of their own).
_PASSAGES = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th", "dt", "dd",
             "figcaption", "caption", "summary", "blockquote", "div", "section", "aside",
             "details", "address", "figure"}
_BLOCKS = _PASSAGES | {"ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "tr", "hr", "pre"}
#: Inline elements that can carry a passage's language.
_INLINE = {"a", "abbr", "b", "bdi", "cite", "del", "dfn", "em", "i", "ins", "mark", "q", "s",
           "small", "span", "strong", "sub", "sup", "u"}
#: Code is not in a human language; it is set left to right in any book.
_CODE = {"pre", "code", "kbd", "samp", "var"}
#: Scripts that belong to no one language.
_NEUTRAL = {"Zyyy", "Zinh", "Zzzz", "Zxxx"}
#: Identifier labels that are not a modern language a reader or voice would use.
_NOT_MODERN = {"hbo", "grc", "ary", "arz", "zxx", "uzs", "wuu"}
#: A Latin-script passage in a book of another script is named only when it is
#: this long (shorter ones are names, commands, addresses) and identified surely.
_LATIN_MIN_LETTERS = 24
#: Below this probability an identification is a guess.
_SURE = 0.9
#: A passage in the script of the language around it is named another language
#: only when it is this long and the identifier this sure. Measured on the 21
#: corpus documents, the tests' fixtures and the first book (paragraphs of 30
#: letters or more): at 0.99 the only passages found are the eight English
#: quotes of the German document, all right; the one German paragraph taken for
#: English (456 letters, many English loanwords) scored 0.92.
_SAME_SCRIPT_MIN_LETTERS = 40
_SURE_SAME_SCRIPT = 0.99
#: langcodes' tag distance from which two languages are different (en-GB/en is
#: 5, nb/no 1, sr-Latn/hr 9: one voice serves both; de/en is 84, uk/ru 24).
_DIFFERENT = 10
#: Fewer letters than this of another script are a symbol (pi in a formula), not a passage.
_MIN_LETTERS = 2


@functools.lru_cache(maxsize=256)
def _script_of_language(language: str) -> str:
    try:
        return _family(str(langcodes.Language.get(language).maximize().script or "Latn"))
    except (ValueError, LookupError):
        return "Latn"


def _family(script: str) -> str:
    """Scripts one language mixes as one: Han with kana (Japanese), with Hangul (Korean)."""
    return {"Hans": "Hani", "Hant": "Hani", "Hira": "Jpan", "Kana": "Jpan", "Hrkt": "Jpan",
            "Hang": "Kore"}.get(script, script)


def _fits(script: str, context: str) -> bool:
    """Can a passage in ``script`` be in a language written in ``context``?"""
    return script == context or (script == "Hani" and context in ("Jpan", "Kore"))


@functools.lru_cache(maxsize=65536)
def _char_script(character: str) -> str:
    return _family(ucd.script(character))


def _scripts(text: str) -> Counter[str]:
    """Letters of each script in ``text`` (Jpan for kana, Kore for Hangul)."""
    counts: Counter[str] = Counter()
    for character in text:
        if character.isalpha():
            script = _char_script(character)
            if script not in _NEUTRAL:
                counts[script] += 1
    if counts.get("Jpan") and counts.get("Hani"):
        counts["Jpan"] += counts.pop("Hani")
    if counts.get("Kore") and counts.get("Hani"):
        counts["Kore"] += counts.pop("Hani")
    return counts


def _direction(script: str) -> str:
    return "rtl" if ucd.script_horizontal_direction(script, "LTR") == "RTL" else "ltr"


@functools.lru_cache(maxsize=64)
def _candidates(script: str) -> tuple[str, ...]:
    """The identifier's modern languages written in ``script`` (Han: Japanese's too)."""
    labels = langid.labels()
    scripts = {script, "Jpan"} if script == "Hani" else {script}
    return tuple(code for code in labels
                 if code not in _NOT_MODERN and _script_of_language(code) in scripts)


def identify(text: str, script: str) -> str:
    """The language (a BCP 47 tag) of ``text``, written in ``script``; '' when unsure.

    Only the languages written in that script are weighed; a script with one
    language (or none the identifier knows) gets CLDR's likely language for it.
    """
    if script == "Jpan":
        return "ja"
    if script == "Kore":
        return "ko"
    candidates = _candidates(script)
    if len(candidates) == 1:
        return candidates[0]
    language, probability = "", 0.0
    if candidates:
        language, probability = langid.classify(text, candidates)
    if script == "Latn":
        letters = sum(c.isalpha() for c in text)
        if letters < _LATIN_MIN_LETTERS or probability < _SURE:
            return ""
    if probability < _SURE:
        # Too short to tell (a word, a name): the script's most likely language,
        # as CLDR has it, is the best guess a reader's voice can use.
        likely = langcodes.Language.get(f"und-{script}").maximize()
        return str(likely.language) if likely.language and likely.language != "und" else ""
    return langcodes.standardize_tag(str(language))


def mark_languages(root: etree._Element, language: str, direction: str) -> None:
    """``lang`` and ``dir`` on each passage whose script differs from its context's.

    The context is the book's language and direction, or the nearest source
    element's own ``lang``/``dir`` (those are kept as the source gave them).
    """
    _mark(root, _Context(language, _script_of_language(language), direction), root)


class _Context:
    __slots__ = ("direction", "language", "script")

    def __init__(self, language: str, script: str, direction: str) -> None:
        self.language, self.script, self.direction = language, script, direction

    def within(self, element: etree._Element) -> _Context:
        """The context inside ``element``, from its own attributes."""
        language = element.get("lang") or self.language
        script = _script_of_language(language) if element.get("lang") else self.script
        direction = element.get("dir") or (
            _direction(script) if element.get("lang") else self.direction)
        if direction not in ("ltr", "rtl"):
            direction = self.direction
        return _Context(language, script, direction)


def _mark(element: etree._Element, context: _Context, root: etree._Element) -> None:
    if not isinstance(element.tag, str):
        return
    if element.tag in _CODE:
        if context.direction == "rtl" and not element.get("dir"):
            element.set("dir", "ltr")
        return
    if element is not root and element.tag in _PASSAGES | _INLINE and not element.get("lang"):
        text = "".join(_own_text(element))
        counts = _scripts(text)
        if counts and counts.most_common(1)[0][1] >= _MIN_LETTERS:
            script = counts.most_common(1)[0][0]
            whole = element.tag in _PASSAGES or len(counts) == 1
            if whole and not _fits(script, context.script):
                _set_language(element, text, script, context)
            elif element.tag in _PASSAGES and counts[script] >= _SAME_SCRIPT_MIN_LETTERS:
                _set_same_script_language(element, text, script, context)
    inner = context.within(element)
    _wrap_runs(element, inner)
    for child in element:
        _mark(child, inner, root)


def _set_language(element: etree._Element, text: str, script: str,
                  context: _Context) -> None:
    language = identify(" ".join(text.split()), script)
    direction = _direction(script)
    if language and language != context.language:
        element.set("lang", language)
    if direction != context.direction and not element.get("dir"):
        element.set("dir", direction)


def _set_same_script_language(element: etree._Element, text: str, script: str,
                              context: _Context) -> None:
    """``lang`` on a passage in another language of the same script (an English
    quote in a German book), when the identifier is all but certain."""
    if script in ("Jpan", "Kore", "Hani"):
        return  # their languages are told apart by script, above
    candidates = _candidates(script)
    if len(candidates) < 2:
        return
    language, probability = langid.classify(" ".join(text.split()), candidates)
    if not language or probability < _SURE_SAME_SCRIPT:
        return
    language = langcodes.standardize_tag(language)
    if langcodes.tag_distance(language, context.language) >= _DIFFERENT:
        element.set("lang", language)


def _own_text(element: etree._Element) -> Iterator[str]:
    """The text of ``element`` outside its nested passages and code."""
    if element.text:
        yield element.text
    for child in element:
        if isinstance(child.tag, str) and child.tag not in _BLOCKS and child.tag not in _CODE:
            yield from _own_text(child)
        if child.tail:
            yield child.tail


def _wrap_runs(element: etree._Element, context: _Context) -> None:
    """Wrap runs of another, non-Latin script inside this passage's own text in
    ``<span lang dir>`` (a Latin name in an Arabic sentence needs nothing: the
    bidirectional algorithm sets it, and it is not a passage in a language)."""
    if element.text:
        pieces = list(_runs(element.text, context))
        if len(pieces) > 1 or (pieces and pieces[0][1]):
            element.text = None
            _insert_pieces(element, None, pieces, context)
    # A snapshot of the children, walked by reference: lxml finds ``element[i]``
    # and ``len(element)`` by walking the children, so indices would make a body
    # of 20,000 paragraphs quadratic (48 s for the ten-thousand-section test).
    for child in list(element):
        if child.tail:
            pieces = list(_runs(child.tail, context))
            if len(pieces) > 1 or (pieces and pieces[0][1]):
                child.tail = None
                _insert_pieces(element, child, pieces, context)


def _insert_pieces(element: etree._Element, anchor: etree._Element | None,
                   pieces: list[tuple[str, str]], context: _Context) -> None:
    """Put ``pieces`` (text, script or '') after ``anchor``, or at the start of
    ``element``'s text when ``anchor`` is None."""
    previous = anchor
    for text, script in pieces:
        span: etree._Element | None = None
        if script:
            span = etree.Element("span")
            span.text = text
            if sum(c.isalpha() for c in text) >= _MIN_LETTERS:
                _set_language(span, text, script, context)
            if not span.attrib:
                span = None  # nothing to say about it after all: keep it as text
        if span is None:
            if previous is None:
                element.text = (element.text or "") + text
            else:
                previous.tail = (previous.tail or "") + text
            continue
        if previous is None:
            element.insert(0, span)
        else:
            previous.addnext(span)
        previous = span


def _joins(mark: str, script: str) -> bool:
    return mark == script or (
        bool(mark) and {mark, script} <= {"Hani", "Jpan"} or {mark, script} <= {"Hani", "Kore"})


def _runs(text: str, context: _Context) -> Iterator[tuple[str, str]]:
    """``text`` cut into (piece, script): script is '' for what fits the context.

    A run of another script takes the neutral characters (spaces, punctuation)
    between its letters, never those at its edges.
    """
    marks: list[str] = []
    for character in text:
        script = _char_script(character) if character.isalpha() else ""
        if script in _NEUTRAL:
            script = ""
        foreign = bool(script) and script != "Latn" and not _fits(script, context.script)
        marks.append(script if foreign else ("" if script else "?"))
    # '?' is neutral: it joins a run only between two letters of that run's script.
    pieces: list[tuple[str, str]] = []
    start = 0
    index = 0
    length = len(text)
    while index < length:
        if marks[index] in ("", "?"):
            index += 1
            continue
        script = marks[index]
        end = index + 1
        scan = end
        while scan < length and (marks[scan] == "?" or _joins(marks[scan], script)):
            if marks[scan] != "?":
                end = scan + 1
                if script == "Hani":
                    script = marks[scan]  # kana or Hangul name the language
            scan += 1
        if start < index:
            pieces.append((text[start:index], ""))
        pieces.append((text[index:end], script))
        start = index = end
    if start < length:
        pieces.append((text[start:], ""))
    return iter(pieces)
