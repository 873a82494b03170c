"""Metadata blocks real manuscripts carry, and their values made plain.

Three forms are read at the top of a file (the first that matches wins):

* YAML front matter between ``---`` and ``---`` (or ``...``, as pandoc allows);
* a pandoc title block: ``% Title``, ``% Author; Author``, ``% Date``, each
  continued on lines that start with a space;
* MultiMarkdown / Python-Markdown ``meta`` lines: ``Key: value`` lines from the
  first line to the first blank line (values continued on indented lines).

Keys are then mapped to the publisher's names (``lang`` -> ``language``) and
text values are made plain (HTML entities decoded, inline Markdown reduced to
its words, characters XML cannot hold removed), each change reported as a
warning that names the key and the fix.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import markdown
from lxml import html as lxml_html

#: Other names for a key, as other tools spell them -> the publisher's key.
ALIASES = {
    "lang": "language", "locale": "language", "authors": "author", "creators": "creator",
    "summary": "description", "abstract": "description", "excerpt": "description",
    "keywords": "subjects", "tags": "subjects", "categories": "subjects",
    "subject": "subjects", "copyright": "rights", "license": "rights", "licence": "rights",
    "year": "date", "sub_title": "subtitle", "subtitle_text": "subtitle",
}

#: Keys whose values are text a reader sees (and hears): made plain.
TEXT_KEYS = ("title", "subtitle", "author", "creator", "publisher", "rights",
             "description", "subjects", "content_note", "cover_alt")

# Characters XML 1.0 cannot hold: C0 controls but tab/newline/CR, lone
# surrogates (from YAML "\ud800" escapes), U+FFFE/FFFF. DEL and C1 are legal
# but invisible and never meant in a title: removed too.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

_META_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_ .-]{0,40}):(?:[ \t]+(.*)|[ \t]*)$")
_INLINE_MARKUP = re.compile(r"[*_`\[\]<>&\\]|\{[:#.]")


def pandoc_title_block(lines: list[str]) -> tuple[dict[str, object], int] | None:
    """``% title / % authors / % date`` at the top -> (front matter, lines used)."""
    if not lines or not lines[0].startswith("%"):
        return None
    fields: list[list[str]] = []
    index = 0
    while index < len(lines) and len(fields) < 3:
        line = lines[index]
        if line.startswith("%"):
            fields.append([line[1:].strip()])
        elif line.startswith((" ", "\t")) and line.strip() and fields:
            fields[-1].append(line.strip())
        else:
            break
        index += 1
    while index < len(lines) and lines[index].startswith((" ", "\t")) and fields:
        if not lines[index].strip():
            break
        fields[-1].append(lines[index].strip())  # a third field's continuation
        index += 1
    front: dict[str, object] = {}
    if fields and " ".join(fields[0]).strip():
        front["title"] = " ".join(fields[0]).strip()
    if len(fields) > 1:
        # pandoc: authors are separated by ';' or by line.
        authors = [a.strip() for part in fields[1] for a in part.split(";") if a.strip()]
        if authors:
            front["author"] = authors
    if len(fields) > 2 and " ".join(fields[2]).strip():
        front["date"] = " ".join(fields[2]).strip()
    return front, index


def meta_lines(lines: list[str], known: Iterable[str]) -> tuple[dict[str, object], int] | None:
    """MultiMarkdown / Python-Markdown ``Key: value`` lines at the top, or None.

    Only taken as metadata when the block ends at a blank line and at least one
    key is one the publisher knows (or an alias): a first paragraph such as
    "Note: this is ..." stays text.
    """
    names = set(known) | set(ALIASES)
    front: dict[str, list[str]] = {}
    key = ""
    end = -1
    for number, line in enumerate(lines):
        if not line.strip():
            end = number
            break
        match = _META_LINE.match(line)
        if match and not line.startswith((" ", "\t")):
            key = match.group(1).strip().lower().replace(" ", "_").replace("-", "_")
            front.setdefault(key, [])
            if match.group(2) and match.group(2).strip():
                front[key].append(match.group(2).strip())
        elif key and line.startswith((" ", "\t")):
            front[key].append(line.strip())
        else:
            return None
    if end < 0:
        return None  # no blank line: the whole file would be "metadata"
    if not front or not any(k in names for k in front):
        return None
    result: dict[str, object] = {}
    for name, values in front.items():
        if name in ("author", "authors", "keywords", "tags", "subjects", "creator"):
            items = [v.strip() for value in values for v in re.split(r"[;,]", value)
                     if v.strip()] if name not in ("author", "authors", "creator") else \
                    [v.strip() for value in values for v in value.split(";") if v.strip()]
            result[name] = items if len(items) != 1 else items[0]
        else:
            result[name] = " ".join(values)
    return result, end + 1


def canonical_keys(front: dict[str, object], where: str) -> tuple[dict[str, object], list[str]]:
    """Aliases renamed to the publisher's keys, with a warning for each."""
    result = dict(front)
    warnings: list[str] = []
    for alias, key in ALIASES.items():
        if alias not in front:
            continue
        value = result.pop(alias)
        if key in front or (key in result and result[key] != value):
            warnings.append(f"{where}: front matter key '{alias}' is ignored because "
                            f"'{key}' is also given; delete '{alias}'.")
            continue
        result[key] = value
        warnings.append(f"{where}: front matter key '{alias}' is read as '{key}'; "
                        f"rename it to '{key}' to silence this warning.")
    return result, warnings


def clean_values(front: dict[str, object], where: str) -> tuple[dict[str, object], list[str]]:
    """Characters XML cannot hold removed from every value, naming each key."""
    warnings: list[str] = []
    result: dict[str, object] = {}
    for key, value in front.items():
        cleaned = _strip_bad(value)
        if cleaned != value:
            warnings.append(f"{where}: front matter '{key}' has invisible control "
                            "characters (from a YAML escape or pasted text); they were "
                            f"removed. Retype the value of '{key}'.")
        result[key] = cleaned
    return result, warnings


def _strip_bad(value: object) -> object:
    if isinstance(value, str):
        return _NOT_XML.sub("", value)
    if isinstance(value, list):
        return [_strip_bad(v) for v in value]
    if isinstance(value, dict):
        return {_strip_bad(k) if isinstance(k, str) else k: _strip_bad(v)
                for k, v in value.items()}
    return value


def plain(value: str) -> str:
    """A metadata text as a reader sees it: entities decoded, Markdown reduced to words."""
    if _INLINE_MARKUP.search(value):
        source = html.escape(value, quote=False) if "<" in value else value
        # Inline Markdown only: "3. Did you ..." or "- x" must not become a list.
        source = re.sub(r"^(\s*)(\d+)([.)])", r"\1\2\\\3", source)
        source = re.sub(r"^(\s*)([-+>#])", r"\1\\\2", source)
        rendered = markdown.markdown(source, extensions=["attr_list"])
        try:
            text = lxml_html.fragment_fromstring(rendered, create_parent="div").text_content()
        except Exception:  # lxml refuses nothing sane; never let a title end a build
            text = value
        value = text
    value = html.unescape(value)
    return " ".join(_NOT_XML.sub("", value).split())


def plain_values(front: dict[str, object]) -> dict[str, object]:
    """Every reader-facing text value of ``front`` made :func:`plain`."""
    result = dict(front)
    for key in TEXT_KEYS:
        value = result.get(key)
        if isinstance(value, str):
            result[key] = plain(value)
        elif isinstance(value, list):
            result[key] = [plain(v) if isinstance(v, str) else v for v in value]
    return result


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?)[ \t]*#*[ \t]*)?$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
#: A line before ``---`` or ``===`` that makes it no setext underline: a list item,
#: a quote or table line, or a thematic break itself.
_NOT_SETEXT_TEXT = re.compile(r"^ {0,3}([-*+>|]|\d+\.)\s|^\s*-{3,}\s*$")
_HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1\s*>", re.I | re.S)


def markdown_headings(text: str, *, html: bool = False) -> list[tuple[int, int, str]]:
    """(line index, level, raw text) of every ATX and setext heading, fenced code skipped.

    The one reading of a text's headings before it is rendered: the title guess
    here and the sections' source lines (publisher/parse.py) use it. A setext
    heading's line is its text's, the line above the underline. ``html``: raw
    HTML ``<h1>``-``<h6>`` too (their text without tags).
    """
    found: list[tuple[int, int, str]] = []
    fence = ""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence):
                fence = ""
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        match = _ATX.match(line)
        if match:
            found.append((index, len(match.group(1)), match.group(2) or ""))
        elif (index > 0 and _SETEXT.match(line) and lines[index - 1].strip()
              and not lines[index - 1].startswith(("    ", "\t"))
              and not _NOT_SETEXT_TEXT.match(lines[index - 1])):
            found.append((index - 1, 1 if "=" in line else 2, lines[index - 1]))
        elif html:
            found.extend((index, int(m.group(1)), re.sub(r"<[^>]+>", "", m.group(2)))
                         for m in _HTML_HEADING.finditer(line))
    return found


def headings(text: str) -> list[tuple[int, str]]:
    """(level, plain text) of the Markdown and raw-HTML headings, fenced code skipped."""
    found = [(level, _heading_text(raw)) for _, level, raw in markdown_headings(text, html=True)]
    return [(level, title) for level, title in found if title]


def _heading_text(raw: str) -> str:
    raw = re.sub(r"\s*\{\s*[:#.][^}]*\}\s*$", "", raw)  # attr_list: {: #id .class}
    return plain(raw)
