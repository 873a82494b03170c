"""The pronunciation lexicon: words and how they are said.

One lexicon serves two readers: our own synthesis (:meth:`Lexicon.apply`
rewrites the spoken text before it reaches the engine) and the reader's
text-to-speech (:meth:`Lexicon.to_pls` is shipped in the EPUB as a W3C
Pronunciation Lexicon Specification 1.0 document).

Entries come from the front matter::

    pronunciations:
      NSSI: N S S I

and/or a PLS file next to the source::

    <lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
             alphabet="ipa" xml:lang="en">
      <lexeme><grapheme>NSSI</grapheme><alias>N S S I</alias></lexeme>
    </lexicon>

Only ``<alias>`` is used: our engines take text, not IPA, so a lexeme with
``<phoneme>`` but no ``<alias>`` is skipped with a warning.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from .errors import ConfigError, SourceError

__all__ = ["PLS_NAMESPACE", "Lexicon", "load_lexicon", "read_pls"]

log = logging.getLogger(__name__)

PLS_NAMESPACE = "http://www.w3.org/2005/01/pronunciation-lexicon"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_PLS = f"{{{PLS_NAMESPACE}}}"


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Grapheme -> alias entries, in source order, graphemes unique."""

    entries: tuple[tuple[str, str], ...] = ()
    #: Problems that did not stop loading (skipped entries, duplicates).
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __bool__(self) -> bool:
        return bool(self.entries)

    @property
    def digest(self) -> str:
        """sha256 of the entries, for cache keys and the build record."""
        payload = json.dumps(self.entries, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def apply(self, text: str) -> str:
        """``text`` with every whole-word grapheme replaced by its alias.

        Case-sensitive (``US`` the country is not ``us``). A grapheme matches
        only where it is not part of a longer word: the characters either side
        must not be letters, digits or ``_``, so ``NSSI`` does not match in
        ``NSSIs`` but does in ``NSSI-related`` and ``NSSI's``. Longer graphemes
        win (``self-harm`` before ``self``), and replaced text is not scanned
        again, so an alias never triggers another entry.
        """
        if not self.entries:
            return text
        pattern, aliases = _compile(self.entries)
        return pattern.sub(lambda m: aliases[m.group(0)], text)

    def to_pls(self, lang: str) -> bytes:
        """A PLS 1.0 document of the entries, UTF-8, byte-identical for equal input."""
        root = etree.Element(
            _PLS + "lexicon",
            nsmap={None: PLS_NAMESPACE},
            attrib={"version": "1.0", "alphabet": "ipa", _XML_LANG: lang},
        )
        for grapheme, alias in self.entries:
            lexeme = etree.SubElement(root, _PLS + "lexeme")
            etree.SubElement(lexeme, _PLS + "grapheme").text = grapheme
            etree.SubElement(lexeme, _PLS + "alias").text = alias
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@functools.lru_cache(maxsize=16)
def _compile(entries: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One alternation, longest grapheme first (regex alternation is first-match)."""
    graphemes = sorted((g for g, _ in entries), key=len, reverse=True)
    alternation = "|".join(re.escape(g) for g in graphemes)
    pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
    return pattern, dict(entries)


def load_lexicon(
    pronunciations: tuple[tuple[str, str], ...] = (),
    pls_path: Path | None = None,
) -> Lexicon:
    """Merge front-matter ``pronunciations`` and a PLS file into one lexicon.

    Front-matter entries come first and win over the PLS file for the same
    grapheme: they sit in the book itself, the more specific place. Raises
    :class:`ConfigError` for empty words or aliases and :class:`SourceError`
    for a malformed PLS file.
    """
    problems = []
    for word, alias in pronunciations:
        if not str(word).strip():
            problems.append("pronunciations: an entry has an empty word; remove it.")
        elif not str(alias).strip():
            problems.append(
                f"pronunciations: '{word}' has no pronunciation; write how it is said, "
                f"e.g. '{word}: ...'."
            )
    if problems:
        raise ConfigError(problems)

    entries: dict[str, str] = {}
    warnings: list[str] = []
    for word, alias in pronunciations:
        word, alias = str(word).strip(), str(alias).strip()
        if word in entries and entries[word] != alias:
            warnings.append(
                f"pronunciations: '{word}' is listed twice; using the first ('{entries[word]}')."
            )
            continue
        entries.setdefault(word, alias)

    if pls_path is not None:
        pls = read_pls(pls_path)
        warnings.extend(pls.warnings)
        for grapheme, alias in pls.entries:
            if grapheme in entries:
                if entries[grapheme] != alias:
                    warnings.append(
                        f"{pls_path}: '{grapheme}' is also in the front matter "
                        f"pronunciations; using the front matter ('{entries[grapheme]}')."
                    )
                continue
            entries[grapheme] = alias

    for warning in warnings:
        log.warning("%s", warning)
    return Lexicon(entries=tuple(entries.items()), warnings=tuple(warnings))


def read_pls(path: Path) -> Lexicon:
    """Read a PLS 1.0 file. Raises :class:`SourceError` with file:line on bad input.

    The parser resolves no entities, loads no DTD and never touches the
    network, so a hostile file cannot read local files or expand into
    gigabytes (XXE, billion laughs).
    """
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(
            f"{path}: cannot read the pronunciation lexicon: {exc.strerror or exc}. "
            "Check the path, or remove the file to build without it."
        ) from exc
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 1
        raise SourceError(
            f"{path}:{line}: malformed pronunciation lexicon (PLS): {exc.msg}. "
            "Fix the XML; see https://www.w3.org/TR/pronunciation-lexicon/."
        ) from exc

    def fail(element: etree._Element, what: str) -> SourceError:
        return SourceError(f"{path}:{element.sourceline}: {what}")

    if root.tag != _PLS + "lexicon":
        raise fail(
            root,
            f"expected a <lexicon> in the PLS namespace {PLS_NAMESPACE}, found "
            f"<{etree.QName(root).localname}>"
            + (
                f" in namespace {etree.QName(root).namespace}"
                if etree.QName(root).namespace
                else ""
            )
            + f'. Start the file with <lexicon version="1.0" xmlns="{PLS_NAMESPACE}" ...>.',
        )
    if root.get("version") != "1.0":
        raise fail(root, f'<lexicon> needs version="1.0", found {root.get("version")!r}.')

    entries: dict[str, str] = {}
    warnings: list[str] = []
    for lexeme in root.iter(_PLS + "lexeme"):
        graphemes = [_text(g) for g in lexeme.iter(_PLS + "grapheme")]
        aliases = [_text(a) for a in lexeme.iter(_PLS + "alias")]
        has_phoneme = any(True for _ in lexeme.iter(_PLS + "phoneme"))
        if not graphemes or not all(graphemes):
            raise fail(lexeme, "<lexeme> needs at least one non-empty <grapheme>.")
        if not aliases:
            what = "only a <phoneme>" if has_phoneme else "no <alias>"
            warnings.append(
                f"{path}:{lexeme.sourceline}: skipping '{graphemes[0]}': it has {what}; "
                "add an <alias> with how to say it in words (IPA is not used)."
            )
            continue
        if not aliases[0]:
            raise fail(lexeme, f"'{graphemes[0]}' has an empty <alias>.")
        # PLS says the first alias is the preferred one.
        for grapheme in graphemes:
            if grapheme in entries:
                if entries[grapheme] != aliases[0]:
                    warnings.append(
                        f"{path}:{lexeme.sourceline}: '{grapheme}' is defined again; "
                        f"using the first ('{entries[grapheme]}')."
                    )
                continue
            entries[grapheme] = aliases[0]
    return Lexicon(entries=tuple(entries.items()), warnings=tuple(warnings))


def _text(element: etree._Element) -> str:
    """Element text with surrounding whitespace removed and inner runs collapsed."""
    return " ".join("".join(element.itertext()).split())
