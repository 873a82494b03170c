"""Markdown dialects real manuscripts use, as one Python-Markdown extension.

What Python-Markdown and its plugins already read is left to them (``extra``
with ``md_in_html``, ``admonition``, ``markdown-grid-tables`` for pandoc grid
tables; see parse.py). This module adds only what no maintained extension
reads, each the smallest piece that does:

* pandoc inline notes ``^[text]`` -> ordinary footnotes (the ``footnotes``
  extension then numbers and links them);
* pandoc example lists ``(@)`` / ``(@label)`` -> their numbers;
* pandoc citations ``[@key, p. 3; -@other]`` -> readable text in ``<cite>``
  ("(Becquerel 1896, p. 3; 1999)"), never an "@" on the page or in the voice;
* TeX math ``$...$`` / ``$$...$$`` -> a placeholder parse.py turns into MathML
  (latex2mathml) with the TeX as ``alttext`` and :func:`speak_tex` words as
  what narration says;
* pandoc simple and multiline tables -> HTML tables, with the caption;
* characters of no width (zero-width non-joiner, joiner and space, word
  joiner, soft hyphen) inside a grid table are held, each with the letter
  before it, as one private-use character until the HTML is made:
  markdown-grid-tables finds columns by counting characters (it pads wide
  ones, not zero-width ones), so a Persian "می‌خواهم" in a cell made the
  whole table a code block;
* Liquid/Jekyll/Eleventy/Hugo shortcodes and Mustache tags -> removed, keeping
  what they say for a reader (an image shortcode's alt text, a label), counted
  so the build warns once.

Results are read back from the extension after ``convert()`` (``found``), as
MkDocs reads its treeprocessors.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

import markdown
from markdown.inlinepatterns import InlineProcessor
from markdown.postprocessors import Postprocessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

#: href given to a link whose target was template syntax (parse.py unlinks it).
TEMPLATE_HREF = "#publisher-template-link"
#: class of the placeholder that parse.py replaces by MathML.
MATH_CLASS = "publisher-math"
#: attribute marking a Markdown image written without alt text (![](x.png)).
NO_ALT = "data-publisher-noalt"

_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
_TEMPLATE = re.compile(r"\{%-?.*?-?%\}|\{\{[<%].*?[%>]\}\}|\{\{\{.*?\}\}\}|\{\{.*?\}\}", re.S)
_LINK_TO_TEMPLATE = re.compile(
    r"\]\(\s*<?([^()\s]*(?:\{%-?.*?-?%\}|\{\{.*?\}\})[^()\s]*)>?\s*(?:\"[^\"]*\")?\s*\)", re.S)
_QUOTED = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'")
_NAMED = re.compile(r"\b(alt|caption|title|text|label|name)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_EXAMPLE = re.compile(r"\(@([\w-]*)\)")


class _Found:
    """What the extension met in one document (read after ``convert()``)."""

    def __init__(self) -> None:
        self.templates: Counter[str] = Counter()
        self.template_links = 0
        #: private-use character -> the letter and zero-width characters it holds
        self.held: dict[str, str] = {}

    def reset(self) -> None:
        self.templates.clear()
        self.template_links = 0
        self.held.clear()


def _outside_code(text: str, change: Any) -> str:
    """``change`` applied to the parts of ``text`` outside code spans."""
    out: list[str] = []
    cursor = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(change(text[cursor:match.start()]))
        out.append(match.group(0))
        cursor = match.end()
    out.append(change(text[cursor:]))
    return "".join(out)


def _said_by(tag: str) -> str:
    """What a template tag says for a reader: its alt/caption, else its last label."""
    inner = tag.strip("{}%<>-# \n\t")
    named = {m.group(1): m.group(2) or m.group(3) or "" for m in _NAMED.finditer(inner)}
    for key in ("alt", "caption", "title", "text", "label", "name"):
        if named.get(key, "").strip():
            return named[key].strip()
    if named or re.match(r"^(end\w*|/|!|>|#|\^|else|elif|raw|if|for|unless|case|when|"
                         r"include|import|comment|assign|capture|set|block|extends|"
                         r"relref|ref|highlight|render)\b", inner):
        return ""
    quoted = [a or b for a, b in _QUOTED.findall(inner)]
    words = [q for q in quoted if q.strip() and not re.search(r"[/\\]|\.\w{2,4}$", q)]
    return words[-1].strip() if words else ""


class _SourcePreprocessor(Preprocessor):
    """Text-level dialects: inline notes, example numbers, templates, simple tables."""

    def __init__(self, md: markdown.Markdown, found: _Found) -> None:
        super().__init__(md)
        self.found = found

    def run(self, lines: list[str]) -> list[str]:
        text = "\n".join(lines)
        text = self._templates(text)
        text, notes = self._inline_notes(text)
        text = self._examples(text)
        lines = _pandoc_tables(self.md, text.split("\n"))
        lines = _hold_zero_width_in_grid_tables(lines, self.found.held, text)
        if notes:
            lines.append("")
            for number, note in enumerate(notes, 1):
                lines.extend([f"[^inline-{number}]: {note}", ""])
        return lines

    def _templates(self, text: str) -> str:
        def link(match: re.Match[str]) -> str:
            self.found.template_links += 1
            self.found.templates[match.group(1)[:40]] += 1
            return f"]({TEMPLATE_HREF})"

        def tag(match: re.Match[str]) -> str:
            self.found.templates[match.group(0)[:40]] += 1
            said = _said_by(match.group(0))
            return html.escape(said, quote=False).replace("*", "\\*").replace("_", "\\_")

        def change(part: str) -> str:
            return _TEMPLATE.sub(tag, _LINK_TO_TEMPLATE.sub(link, part))

        if "{{" not in text and "{%" not in text:
            return text
        return _outside_code(text, change)

    def _inline_notes(self, text: str) -> tuple[str, list[str]]:
        notes: list[str] = []
        if "^[" not in text:
            return text, notes

        def change(part: str) -> str:
            out: list[str] = []
            cursor = 0
            while True:
                at = part.find("^[", cursor)
                if at < 0:
                    break
                depth, end = 0, -1
                for index in range(at + 1, len(part)):
                    ch = part[index]
                    if ch == "\\":
                        continue
                    if ch == "[":
                        depth += 1
                    elif ch == "]":
                        depth -= 1
                        if depth == 0:
                            end = index
                            break
                    elif ch == "\n" and part[index + 1:index + 2] == "\n":
                        break  # a note never spans paragraphs
                if end < 0:
                    break
                notes.append(" ".join(part[at + 2:end].split()))
                out.append(part[cursor:at] + f"[^inline-{len(notes)}]")
                cursor = end + 1
            out.append(part[cursor:])
            return "".join(out)

        return _outside_code(text, change), notes

    def _examples(self, text: str) -> str:
        if "(@" not in text:
            return text
        numbers: dict[str, int] = {}
        lines = text.split("\n")
        for index, line in enumerate(lines):
            match = re.match(r"^(\s*)\(@([\w-]*)\)(\s+)", line)
            if match:
                number = len(numbers) + 1
                numbers[match.group(2) or f"#{number}"] = number
                lines[index] = (f"{match.group(1)}({number}){match.group(3)}"
                                f"{line[match.end():]}")
        text = "\n".join(lines)

        def ref(match: re.Match[str]) -> str:
            label = match.group(1)
            return f"({numbers[label]})" if label in numbers else f"({label or 'example'})"

        return _outside_code(text, lambda part: _EXAMPLE.sub(ref, part))


# --- pandoc simple and multiline tables -------------------------------------------

_DASHES = re.compile(r"^\s*-{2,}(?:[ \t]+-{2,})+\s*$")
_RULE = re.compile(r"^\s*-{3,}\s*$")
_CAPTION = re.compile(r"^\s*(?:Table)?:\s+(\S.*)$")


def _columns(rule: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]


def _cells(line: str, columns: list[tuple[int, int]]) -> list[str]:
    cells = []
    for index, (_, end) in enumerate(columns):
        start = columns[index - 1][1] if index else 0
        stop = end if index < len(columns) - 1 else len(line)
        cells.append(line[start:stop].strip())
    return cells


def _pandoc_tables(md: markdown.Markdown, lines: list[str]) -> list[str]:
    """Simple, multiline and headerless pandoc tables -> stashed HTML tables."""
    if not any(_DASHES.match(line) for line in lines):
        return lines
    out: list[str] = []
    index = 0
    while index < len(lines):
        table = _table_at(lines, index)
        if table is None:
            out.append(lines[index])
            index += 1
            continue
        header, rows, end = table
        caption = ""
        # The caption is the paragraph just before ("Table: ..." or ": ...") or after.
        back = len(out) - 1
        while back >= 0 and not out[back].strip():
            back -= 1
        if back >= 0 and _CAPTION.match(out[back]) and (back == 0 or not out[back - 1].strip()):
            caption = _CAPTION.match(out[back]).group(1)  # type: ignore[union-attr]
            del out[back:]
        else:
            after = end
            while after < len(lines) and not lines[after].strip():
                after += 1
            if after < len(lines) and _CAPTION.match(lines[after]):
                caption_lines = [_CAPTION.match(lines[after]).group(1)]  # type: ignore[union-attr]
                after += 1
                while after < len(lines) and lines[after].strip():
                    caption_lines.append(lines[after].strip())
                    after += 1
                caption = " ".join(caption_lines)
                end = after
        out.extend(["", md.htmlStash.store(_table_html(header, rows, caption)), ""])
        index = end
    return out


def _table_at(lines: list[str], index: int) -> tuple[list[str], list[list[str]], int] | None:
    """(header cells, rows, index after) of a pandoc table starting at ``index``."""
    if index and lines[index - 1].strip() and not _CAPTION.match(lines[index - 1]):
        return None
    line = lines[index]
    if _RULE.match(line):
        # A multiline table: a rule, header lines, a dashed line, rows, a rule.
        probe = index + 1
        while probe < len(lines) and lines[probe].strip() and not _DASHES.match(lines[probe]):
            probe += 1
        if probe >= len(lines) or not _DASHES.match(lines[probe]) or probe == index + 1:
            return None
        columns = _columns(lines[probe])
        header = _join_cells([_cells(h, columns) for h in lines[index + 1:probe]])
        rows, end = _multiline_rows(lines, probe + 1, columns, _RULE)
        return (header, rows, end) if end else None
    if _DASHES.match(line):
        # Headerless: a dashed line, rows, the same dashed line.
        columns = _columns(line)
        probe = index + 1
        while probe < len(lines) and not _DASHES.match(lines[probe]):
            if not lines[probe].strip() and probe + 1 < len(lines) \
                    and not lines[probe + 1].strip():
                return None
            probe += 1
        if probe >= len(lines):
            return None
        rows, _ = _multiline_rows(lines[:probe] + ["-"], index + 1, columns, re.compile("^-$"))
        return [], rows, probe + 1
    if index + 1 < len(lines) and line.strip() and _DASHES.match(lines[index + 1]):
        # A simple table: a header line, a dashed line, one row per line to a blank line.
        columns = _columns(lines[index + 1])
        header = _cells(line, columns)
        rows = []
        probe = index + 2
        while probe < len(lines) and lines[probe].strip() and not _DASHES.match(lines[probe]):
            rows.append(_cells(lines[probe], columns))
            probe += 1
        if probe < len(lines) and _DASHES.match(lines[probe]):
            probe += 1
        return header, rows, probe
    return None


def _multiline_rows(lines: list[str], start: int, columns: list[tuple[int, int]],
                    closing: re.Pattern[str]) -> tuple[list[list[str]], int]:
    rows: list[list[str]] = []
    chunk: list[list[str]] = []
    for probe in range(start, len(lines)):
        line = lines[probe]
        if closing.match(line):
            if chunk:
                rows.append(_join_cells(chunk))
            return rows, probe + 1
        if not line.strip():
            if chunk:
                rows.append(_join_cells(chunk))
            chunk = []
            continue
        chunk.append(_cells(line, columns))
    return rows, 0


_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_HELD = re.compile(f"([^\\s|+{_ZERO_WIDTH}])([{_ZERO_WIDTH}]+)")


def _hold_zero_width_in_grid_tables(lines: list[str], held: dict[str, str],
                                    text: str) -> list[str]:
    """Grid table rows with each letter + zero-width run as one private-use character
    (``held`` says which; :class:`_Restore` puts them back in the HTML)."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        end = index + 1
        if lines[index].strip().startswith("+-"):
            while end < len(lines) and lines[end].strip()[:1] in ("+", "|"):
                end += 1
        block = lines[index:end]
        if len(block) > 2 and any(c in _ZERO_WIDTH for line in block for c in line):
            block = [_HELD.sub(lambda m: _holder(m.group(0), held, text), line)
                     for line in block]
        out.extend(block)
        index = end
    return out


def _holder(written: str, held: dict[str, str], text: str) -> str:
    for holder, value in held.items():
        if value == written:
            return holder
    code = 0xF8FF - len(held)
    while chr(code) in text or chr(code) in held:
        code -= 1
    held[chr(code)] = written
    return chr(code)


class _Restore(Postprocessor):
    """The held zero-width characters back in place, in the finished HTML."""

    def __init__(self, md: markdown.Markdown, found: _Found) -> None:
        super().__init__(md)
        self.found = found

    def run(self, text: str) -> str:
        for holder, written in self.found.held.items():
            text = text.replace(holder, written)
        return text


def _join_cells(lines: list[list[str]]) -> list[str]:
    if not lines:
        return []
    return [" ".join(cell[i] for cell in lines if cell[i]).strip()
            for i in range(len(lines[0]))]


def _table_html(header: list[str], rows: list[list[str]], caption: str) -> str:
    inline = markdown.Markdown(extensions=["smarty"])

    def cell(text: str) -> str:
        rendered = inline.reset().convert(text)
        return re.sub(r"^<p>(.*)</p>$", r"\1", rendered, flags=re.S)

    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{cell(caption)}</caption>")
    if any(header):
        parts.append("<thead><tr>" + "".join(f"<th>{cell(h)}</th>" for h in header)
                     + "</tr></thead>")
    parts.append("<tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


# --- citations and math ----------------------------------------------------------

_CITATION = (r"\[((?:[^\[\]]*?(?<![\w.@])|)-?@[\w][\w:.#$%&+?<>~/-]*[^\[\]]*)\]"
             r"(?![\[(:])")
_KEY = re.compile(r"(-?)@([\w][\w:.#$%&+?<>~/-]*[\w])|(-?)@(\w)")


def readable_key(key: str) -> str:
    """'becquerel1896' -> 'Becquerel 1896'; a key without a year stays as written."""
    match = re.match(r"^([A-Za-z][A-Za-z]+)[_:-]?(\d{4}|\d{2})([a-z]?)$", key)
    if match:
        return f"{match.group(1).capitalize()} {match.group(2)}{match.group(3)}"
    return key


class _CitationProcessor(InlineProcessor):
    def handleMatch(self, m: re.Match[str], data: str) -> tuple[ET.Element, int, int]:  # noqa: N802
        items = []
        for part in m.group(1).split(";"):
            def key(match: re.Match[str]) -> str:
                suppress = match.group(1) or match.group(3)
                name = readable_key(match.group(2) or match.group(4))
                year = re.search(r"\d{2,4}[a-z]?$", name)
                return year.group(0) if suppress and year else name
            items.append(" ".join(_KEY.sub(key, part).split()))
        el = ET.Element("cite")
        el.text = "(" + "; ".join(i for i in items if i) + ")"
        return el, m.start(0), m.end(0)


_MATH = r"(?<![\\$\w])(\$\$?)(?=\S)((?:\\.|[^$\\])+?)(?<=\S)\1(?![\d$])"


class _MathProcessor(InlineProcessor):
    def handleMatch(self, m: re.Match[str], data: str) -> tuple[ET.Element, int, int]:  # noqa: N802
        el = ET.Element("span")
        el.set("class", MATH_CLASS + (" display" if m.group(1) == "$$" else ""))
        # AtomicString: the TeX is never parsed as Markdown (its _ and * are TeX).
        el.text = markdown.util.AtomicString(m.group(2))
        return el, m.start(0), m.end(0)


class _NoAltTreeprocessor(Treeprocessor):
    """Marks Markdown images written without alt text (raw HTML never reaches here)."""

    def run(self, root: ET.Element) -> None:
        for img in root.iter("img"):
            if not (img.get("alt") or "").strip():
                img.set(NO_ALT, "")


class DialectExtension(markdown.Extension):
    """pandoc notes, examples, citations, math and tables; templates removed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.found = _Found()

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802
        md.registerExtension(self)
        # After fenced code (25) and raw HTML (20) are stashed: their text is left alone.
        md.preprocessors.register(_SourcePreprocessor(md, self.found), "publisher-dialects", 15)
        # Above links (160) and escapes (180), below code spans (190).
        md.inlinePatterns.register(_MathProcessor(_MATH, md), "publisher-math", 185)
        md.inlinePatterns.register(_CitationProcessor(_CITATION, md), "publisher-cite", 175)
        md.treeprocessors.register(_NoAltTreeprocessor(md), "publisher-noalt", 1)
        # Last, after raw HTML and code are put back (30).
        md.postprocessors.register(_Restore(md, self.found), "publisher-zero-width", 0)

    def reset(self) -> None:
        self.found.reset()


# --- TeX spoken as words --------------------------------------------------------------

_TEX_WORDS = {
    "frac": "fraction", "sqrt": "square root of", "sum": "the sum of", "prod": "the product of",
    "int": "the integral of", "infty": "infinity", "leq": "less than or equal to",
    "le": "less than or equal to", "geq": "greater than or equal to",
    "ge": "greater than or equal to", "neq": "not equal to", "ne": "not equal to",
    "times": "times", "cdot": "times", "div": "divided by", "pm": "plus or minus",
    "approx": "approximately", "to": "to", "rightarrow": "to", "in": "in", "partial": "partial",
    "lim": "the limit", "log": "log", "ln": "natural log", "sin": "sine", "cos": "cosine",
    "tan": "tangent", "exp": "exponential", "nabla": "nabla", "forall": "for all",
    "exists": "there exists", "cup": "union", "cap": "intersection", "subset": "subset of",
    "ldots": "dot dot dot", "cdots": "dot dot dot", "dots": "dot dot dot", "$": "dollars",
    "%": "percent", "equiv": "is equivalent to", "propto": "is proportional to",
}
_GREEK = ("alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa "
          "lambda mu nu xi omicron pi rho sigma tau upsilon phi varphi chi psi omega").split()
_SYMBOL_WORDS = {"=": "equals", "+": "plus", "-": "minus", "<": "less than",
                 ">": "greater than", "/": "over", "^": "to the power of", "_": "sub",
                 "!": "factorial", "'": "prime", "|": "", ",": ",", "(": "", ")": "",
                 "[": "", "]": "", "{": "", "}": "", "&": "", "~": "", ".": "point"}


def speak_tex(tex: str) -> str:
    """TeX as words a voice can say: '\\beta^2 + 1' -> 'beta to the power of 2 plus 1'."""
    words: list[str] = []
    for match in re.finditer(r"\\text\w*\{([^{}]*)\}|\\([A-Za-z]+|.)|(\d+(?:\.\d+)?)|"
                             r"([A-Za-z])|(\S)", tex):
        text, command, number, letter, symbol = match.groups()
        if text is not None:
            words.append(text)
        elif command is not None:
            if command in _GREEK:
                words.append(command.removeprefix("var"))
            elif command in _TEX_WORDS:
                words.append(_TEX_WORDS[command])
            elif command in ("left", "right", "big", "Big", "mathrm", "mathbf", "mathit",
                             "operatorname", "displaystyle", "langle", "rangle", ",", ";",
                             " ", "quad", "qquad", "!"):
                continue
            else:
                words.append(command)
        elif number is not None or letter is not None:
            words.append(number or letter)
        elif symbol is not None and _SYMBOL_WORDS.get(symbol, symbol):
            words.append(_SYMBOL_WORDS.get(symbol, symbol))
    spoken = " ".join(words).replace(" ,", ",")
    return " ".join(spoken.split()) or "a formula"


def tex_to_mathml(tex: str, display: bool) -> str | None:
    """MathML for ``tex`` (latex2mathml), or None when it cannot be converted."""
    import latex2mathml.converter  # deferred: ~0.1 s to import, only books with TeX math

    try:
        return str(latex2mathml.converter.convert(tex, display="block" if display else "inline"))
    except Exception:  # latex2mathml raises bare exceptions on TeX it cannot read
        return None
