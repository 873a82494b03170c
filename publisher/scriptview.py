"""``publisher script``: what the narrator will say, readable before any synthesis.

Section by section, sentence by sentence: the words every engine receives
(normalized, lexicon applied), the displayed text beside them where they
differ, and what changed them (a normalization rule, a lexicon entry). As
text, JSON (validated by ``script.schema.json``, shipped here) or one
self-contained HTML page with the changes highlighted.

:func:`collect_script` is the one adapter from the book to the script lines;
everything else renders those lines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from lxml import html as lxml_html

from . import spoken
from .config import load_meta
from .model import Book
from .normalize import CODE_CLOSE, CODE_OPEN, normalize
from .options import BuildOptions, passage_speaks
from .parse import parse_book
from .script import Script, script_book
from .source import read_manuscript
from .templates import render

__all__ = ["SCHEMA_PATH", "ScriptChange", "ScriptLine", "collect_script", "read_script",
           "render_html", "render_json", "render_text"]

#: The JSON schema of :func:`render_json`'s output.
SCHEMA_PATH = Path(__file__).with_name("script.schema.json")


@dataclass(frozen=True, slots=True)
class ScriptChange:
    """One thing said other than written: ``written`` -> ``said``, by ``rule``."""

    rule: str
    written: str
    said: str


@dataclass(frozen=True, slots=True)
class ScriptLine:
    """One sentence of the script."""

    section_id: str
    section_title: str
    sentence_id: str
    display: str
    spoken: str
    language: str
    changes: tuple[ScriptChange, ...]
    #: The role of ``voices`` that says it ('' for the narrator).
    voice: str = ""
    #: The language of a passage not read (no voice speaks it): '' when read.
    skipped: str = ""
    #: The sentence's own language, said by a voice of it ('' for the book's).
    passage: str = ""

    @property
    def changed(self) -> bool:
        """True when a rule or the lexicon says this sentence other than written."""
        return bool(self.changes)


def read_script(source: Path) -> tuple[ScriptLine, ...]:
    """Read, parse and collect the script of the book at ``source`` (never synthesizes)."""
    manuscript = read_manuscript(source)
    meta, _ = load_meta(manuscript)
    book = parse_book(manuscript, meta)
    # Which passages are read (and which announced) as a build with its engine would.
    return collect_script(book, script_book(book, speaks=passage_speaks(book, BuildOptions())))


def collect_script(book: Book, script: Script) -> tuple[ScriptLine, ...]:
    """(section, sentence id, display text, spoken text, language, changes) of every sentence.

    The spoken text is the script stage's (what every engine receives:
    normalized, lexicon applied); the changes are read back from the
    normalization of the display text, plus each lexicon entry that applies.
    """
    language = book.meta.language
    keep = spoken.lexicon_words(book.meta)
    said_for = script.texts
    lines: list[ScriptLine] = []
    for section in book.sections:
        for sentence in section.sentences:
            display, source, abbreviations = _display_text(sentence.html, sentence.spoken)
            changes = [ScriptChange("abbreviation", written, title)
                       for written, title in abbreviations]
            changes += [ScriptChange(c.rule, _shown(c.written), " ".join(c.said.split()))
                        for c in normalize(source, sentence.language or language,
                                           keep).changes]
            for grapheme, alias in script.lexicon.entries:
                if re.search(rf"(?<![\w]){re.escape(grapheme)}(?![\w])", sentence.spoken):
                    changes.append(ScriptChange("lexicon", grapheme, alias))
            voicing = script.voicing(sentence.id)
            lines.append(ScriptLine(section_id=section.id, section_title=section.title,
                                    sentence_id=sentence.id, display=display,
                                    spoken=said_for[sentence.id],
                                    language=voicing.language or language,
                                    changes=tuple(changes), voice=voicing.role,
                                    skipped=voicing.skipped, passage=voicing.language))
    return tuple(lines)


def _display_text(html: str, said: str = "") -> tuple[str, str, list[tuple[str, str]]]:
    """The text a reader sees in a sentence's display XHTML; the text the parser gave
    normalization (code spans marked, abbreviations as said); and each abbreviation
    said in full in ``said`` (written, expansion)."""
    if not html.strip():
        return "", "", []
    fragment = lxml_html.fragment_fromstring(html, create_parent="span")
    display = " ".join(fragment.text_content().split())
    abbreviations: list[tuple[str, str]] = []
    for element in fragment.iter("code", "abbr"):
        text = element.text_content()
        if element.tag == "code" and len(element) == 0 and text:
            element.text = f"{CODE_OPEN}{text}{CODE_CLOSE}"
        elif element.tag == "abbr" and element.get("title", "").strip() and text:
            title = " ".join(element.get("title", "").split())
            expanded = f"{title} ({text})"
            if title.casefold() in said.casefold() and (
                    title.casefold() not in display.casefold()):
                abbreviations.append((text, title))
                element.text = expanded
                for child in list(element):
                    element.remove(child)
    return display, " ".join(fragment.text_content().split()), abbreviations


def _shown(written: str) -> str:
    """A change's written text as the reader sees it (without the code marks)."""
    return written.replace(CODE_OPEN, "").replace(CODE_CLOSE, "")


def _select(lines: tuple[ScriptLine, ...], changed_only: bool) -> list[ScriptLine]:
    return [line for line in lines if line.changed or not changed_only]


def render_text(lines: tuple[ScriptLine, ...], changed_only: bool = False) -> str:
    """The script as plain text: a heading per section, a block per sentence."""
    out: list[str] = []
    section = None
    for line in _select(lines, changed_only):
        if line.section_id != section:
            section = line.section_id
            out += ["" if out else "", f"== {line.section_title} [{line.section_id}]", ""]
        said = line.spoken if line.spoken else "(silent)"
        if line.skipped:
            out.append(f"{line.sentence_id} [{line.skipped}, not read]: {said}")
            out.append(f"    shown: {line.display}")
            continue
        if line.voice or line.passage:
            marks = [m for m in (line.voice, line.passage) if m]
            out.append(f"{line.sentence_id} [{', '.join(marks)}]: {line.spoken}")
            if line.changed:
                out.append(f"    shown: {line.display}")
                for change in line.changes:
                    out.append(f"    {change.rule}: {change.written!r} -> {change.said!r}")
        elif line.changed:
            out.append(f"{line.sentence_id}: {line.spoken}")
            out.append(f"    shown: {line.display}")
            for change in line.changes:
                out.append(f"    {change.rule}: {change.written!r} -> {change.said!r}")
        else:
            out.append(f"{line.sentence_id}: {line.spoken}")
    return "\n".join(out).strip("\n") + "\n"


def script_data(lines: tuple[ScriptLine, ...], changed_only: bool = False) -> dict[str, object]:
    """The script as JSON-ready data (the shape ``script.schema.json`` describes)."""
    sections: list[dict[str, object]] = []
    for line in _select(lines, changed_only):
        if not sections or sections[-1]["id"] != line.section_id:
            sections.append({"id": line.section_id, "title": line.section_title,
                             "sentences": []})
        sentences = sections[-1]["sentences"]
        assert isinstance(sentences, list)
        sentence: dict[str, object] = {
            "id": line.sentence_id, "display": line.display, "spoken": line.spoken,
            "language": line.language, "changed": line.changed,
            "changes": [{"rule": c.rule, "written": c.written, "said": c.said}
                        for c in line.changes]}
        if line.voice:
            sentence["voice"] = line.voice
        if line.skipped:
            sentence["skipped"] = line.skipped
        sentences.append(sentence)
    return {"version": 1, "sections": sections}


def render_json(lines: tuple[ScriptLine, ...], changed_only: bool = False) -> str:
    """The script as JSON, stable (same book -> same bytes)."""
    return json.dumps(script_data(lines, changed_only), ensure_ascii=False, indent=2) + "\n"


def render_html(lines: tuple[ScriptLine, ...], title: str, changed_only: bool = False) -> str:
    """The script as one self-contained HTML page, the changed words highlighted."""
    data = script_data(lines, changed_only)
    for section in data["sections"]:  # type: ignore[attr-defined]
        for sentence in section["sentences"]:
            sentence["parts"] = _highlight(sentence["spoken"],
                                           [c["said"] for c in sentence["changes"]])
    return render("script.html", title=title, sections=data["sections"],
                  changed_only=changed_only)


def _highlight(text: str, said: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is a change's words) for the HTML page."""
    spans: list[tuple[int, int]] = []
    for words in sorted({s for s in said if s.strip()}, key=len, reverse=True):
        for match in re.finditer(re.escape(words), text):
            if not any(a < match.end() and match.start() < b for a, b in spans):
                spans.append((match.start(), match.end()))
    parts: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in sorted(spans):
        if start > cursor:
            parts.append((text[cursor:start], False))
        parts.append((text[start:end], True))
        cursor = end
    if cursor < len(text):
        parts.append((text[cursor:], False))
    return parts
