"""Markdown -> Book: sections, blocks and sentences with stable ids.

The Markdown is rendered by Python-Markdown, sanitized by nh3 (Ammonia), then
walked once. Every run of inline content (a paragraph, a heading, a list item's
text, a table cell) is split into sentences (segment.py, pysbd); each becomes a
``<span id>`` in the XHTML, and inline formatting that crosses a sentence
boundary is split so the spans nest properly. The spoken text of a sentence is
taken from the same walk, so it can never contain markup.

Sentence ids are a hash of the sentence's text (plus a counter for repeats),
so editing one paragraph never renumbers the rest of the book.

Notes: a note is read once, at the end of the section that cites it first
(after that section's last paragraph, in the order of first reference), and
it is announced by its number, "Note 3: ..." (the word in the book's
language), so a listener of the section MP3s or the M4B knows the text has
stopped and hears each note once; a later reference in another section links
back to it. At the end of the section rather than after the citing paragraph
because a note read mid-section would cut the text in two for every listener,
while at the end a reader of the EPUB skips it (its own ``footnotes``
structure in the Media Overlays) and a listener of the MP3s waits for it no
longer than one section. Code blocks are not read: a one-sentence
announcement ("Code example, 3 lines, shown in the text.") is their own
structure, so a reading system can escape it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import html as html_lib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import markdown
import nh3
import pysbd
from lxml import etree
from lxml import html as lxml_html
from markdown.extensions.toc import slugify_unicode

from . import dialects, frontmatter, prepare, semantics, spoken
from .config import NARRATOR, load_meta, slugify
from .errors import SourceError
from .model import Block, Book, BookMeta, Heading, Image, Manuscript, Section, Sentence
from .segment import (
    OBJECT,
    OWN_SHARE,
    Presegmenter,
    make_segmenter,
    segmenter_language,
    sentence_ranges,
    wants_presegmenter,
)

# --- sanitizing -------------------------------------------------------------

#: The source attribute that names a sentence's voice (a role of ``voices``).
VOICE_ATTRIBUTE = "voice"

_BLOCK_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote",
               "pre", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
               "dl", "dt", "dd", "div", "figure", "figcaption", "hr", "aside", "section",
               "details", "summary", "address"}
_INLINE_TAGS = {"a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "del", "dfn", "em",
                "i", "img", "ins", "kbd", "mark", "q", "s", "samp", "small", "span",
                "strong", "sub", "sup", "time", "u", "var", "wbr"}
_ALLOWED_ATTRS = {
    # ``voice`` ({voice=quote}) picks one of the front matter's voices; it is read
    # by the walk and never copied into the XHTML.
    "*": {"id", "class", "lang", "dir", "title", VOICE_ATTRIBUTE},
    "img": {"src", "alt", "width", "height", dialects.NO_ALT},
    "a": {"href", "name"},
    "td": {"colspan", "rowspan", "style"},
    "th": {"colspan", "rowspan", "scope", "style"},
    "ol": {"start", "reversed"},
    "time": {"datetime"},
    "q": {"cite"},
    "blockquote": {"cite"},
}
_VOID = {"img", "br", "wbr", "hr"}

# Python-Markdown's "extra" in full (abbr, attr_list, def_list, fenced_code,
# footnotes, md_in_html, tables), named one by one so footnotes keep their
# settings; admonition; pandoc grid tables (markdown-grid-tables); and the
# dialects no maintained extension reads (publisher.dialects).
_MD_EXTENSIONS = ["tables", "footnotes", "attr_list", "smarty", "toc", "fenced_code",
                  "def_list", "sane_lists", "abbr", "md_in_html", "admonition",
                  "markdown_grid_tables"]
_MD_CONFIG = {
    # XML-safe ids: a colon is legal in HTML but trips some reading systems.
    "footnotes": {"SEPARATOR": "-", "BACKLINK_TITLE": "Back to reference %d"},
    "smarty": {"smart_angled_quotes": False},
    # Headings in any script keep their words in their ids, as GitHub's do, so
    # links written for GitHub ("#שלום") find them.
    "toc": {"slugify": slugify_unicode},
}

#: Sentences longer than this (characters) are flagged: TTS engines may garble them.
LONG_SENTENCE_CHARS = 600
#: A paragraph longer than this is a conversion accident (a whole file on one
#: line), not prose: no reader, listener or speech engine can use it.
MAX_BLOCK_CHARS = 100_000
#: More sections than this is not a book but a mistake in split_level (and a
#: podcast feed nobody could navigate).
MAX_SECTIONS = 1000

_STRUCTURE_OF = {"ul": "list", "ol": "list", "dl": "list", "table": "table",
                 "figure": "figure", "aside": "aside", "blockquote": "quote", "pre": "code"}
_KIND_OF = {"h1": "heading", "h2": "heading", "h3": "heading", "h4": "heading",
            "h5": "heading", "h6": "heading", "li": "list-item", "td": "table-cell",
            "th": "table-cell", "blockquote": "quote", "pre": "code", "dt": "term",
            "dd": "definition", "figcaption": "caption", "caption": "caption"}

#: Marks a source element already copied once (its id goes on the first copy only).
_COPIED = "data-publisher-copied"



def render_markdown(text: str) -> str:
    """Markdown -> sanitized HTML (no script, no event handlers, no javascript:)."""
    return _render(text)[0]


def _render(text: str) -> tuple[str, dialects.DialectExtension]:
    """Sanitized HTML and the dialect extension (what it removed, to warn about)."""
    dialect = dialects.DialectExtension()
    md = markdown.Markdown(extensions=[*_MD_EXTENSIONS, dialect],
                           extension_configs=_MD_CONFIG, output_format="xhtml")
    html = md.convert(text)
    return _clean(html), dialect


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=_BLOCK_TAGS | _INLINE_TAGS,
        attributes=_ALLOWED_ATTRS,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
        filter_style_properties={"text-align"},
    )


# --- the walk -----------------------------------------------------------------

@dataclass(slots=True)
class _Atom:
    """A piece of inline content: text, or a void element (image, line break)."""

    display: str
    spoken: str
    path: tuple[etree._Element, ...]
    void: etree._Element | None = None


@dataclass(slots=True)
class _Draft:
    """A section being collected."""

    title: str
    level: int
    role: str
    line: int
    nodes: list[etree._Element] = field(default_factory=list)


@dataclass(slots=True)
class _Walk:
    """State of one book's walk: ids already given, warnings, images."""

    meta: BookMeta
    source: Path
    segmenter: pysbd.Segmenter
    used_ids: set[str] = field(default_factory=set)
    id_counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    images: dict[str, Image] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    section_id: str = ""
    structures: int = 0
    helper: Presegmenter | None = None
    #: casefolded role -> role, from the front matter's ``voices``.
    roles: dict[str, str] = field(default_factory=dict)
    unknown_roles: set[str] = field(default_factory=set)
    #: Some element has a ``lang`` or the book has ``voices``: sentences are looked at.
    voiced: bool = False
    #: Abbreviations (``*[NSSI]: ...``) already expanded in the current section.
    expanded: set[str] = field(default_factory=set)
    #: Notes already placed: a note is read once, in the section that cites it first.
    placed_notes: set[str] = field(default_factory=set)

    def structure_id(self, element: etree._Element) -> str:
        """The element's id, giving it one if it has none (for SMIL textref)."""
        if not element.get("id"):
            self.structures += 1
            element.set("id", f"{self.section_id}-{element.tag}-{self.structures}")
        return element.get("id", "")

    def sentence_id(self, text: str) -> str:
        digest = hashlib.sha1(" ".join(text.split()).encode("utf-8")).hexdigest()[:10]
        base = f"s-{digest}"
        count = self.id_counts.get(base, 0) + 1
        self.id_counts[base] = count
        sid = base if count == 1 else f"{base}-{count}"
        while sid in self.used_ids:  # a counter id that collides with a real one
            count += 1
            sid = f"{base}-{count}"
        self.used_ids.add(sid)
        return sid


def parse_book(manuscript: Manuscript, meta: BookMeta | None = None, *,
               assets: Path | None = None) -> Book:
    """Parse a manuscript into a Book: metadata, sections, sentences.

    ``assets``: a second folder where root-absolute images (``/img/x.png``) are
    looked for, after the source's own folder. Raises SourceError /
    ConfigError for problems the author must fix.
    """
    warnings: list[str] = []
    if meta is None:
        meta, meta_warnings = load_meta(manuscript)
        warnings.extend(meta_warnings)
    language = segmenter_language(meta.language)
    # Started first, so that its start-up overlaps the Markdown rendering.
    helper = Presegmenter.start(language) if wants_presegmenter(manuscript.text) else None
    try:
        return _parse(manuscript, meta, language, warnings, helper, assets)
    finally:
        if helper is not None:
            helper.close()


def _parse(manuscript: Manuscript, meta: BookMeta, language: str, warnings: list[str],
           helper: Presegmenter | None, assets: Path | None = None) -> Book:
    html, dialect = _render(manuscript.text)
    root = lxml_html.fragment_fromstring(html or "<p></p>", create_parent="div")
    warnings.extend(prepare.prepare_tree(root, manuscript.path, meta.base_url, assets,
                                         dialect.found.templates,
                                         dialect.found.template_links))
    # Marked before the sections are cut: note numbers run through the whole book.
    note_numbers = semantics.number_notes(root)
    semantics.mark_tables(root)
    semantics.mark_languages(root, meta.language, meta.direction)
    # Most books are in one language and one voice: their sentences need no look.
    voiced = bool(meta.voices) or bool(root.xpath(f"//@lang | //@{VOICE_ATTRIBUTE}"))
    footnotes = {note_id: semantics.footnote_aside(note, note_numbers[note_id])
                 for note_id, note in _extract_footnotes(root).items()
                 if note_id in note_numbers}
    heading_lines = _heading_lines(manuscript.text, manuscript.body_line)
    drafts = _split_sections(root, meta, manuscript.path, heading_lines, warnings)
    if len(drafts) > MAX_SECTIONS:
        raise SourceError(
            f"{manuscript.path}: the book has {len(drafts):,} sections (one per heading of "
            f"level {meta.split_level} or higher); at most {MAX_SECTIONS:,} are supported. "
            "Set a smaller split_level in the front matter (e.g. split_level: 1) or split "
            "the text into several books.")

    segmenter = make_segmenter(language)
    if helper is not None:
        runs = list(dict.fromkeys(_run_texts(root)))
        # This process segments the first runs itself while it walks them (see
        # Presegmenter): by the time it gets to the rest, they are ready.
        helper.submit(runs[int(len(runs) * OWN_SHARE):])
    walk = _Walk(meta=meta, source=manuscript.path, segmenter=segmenter, warnings=warnings,
                 helper=helper, roles={role.casefold(): role for role, _ in meta.voices},
                 voiced=voiced)
    # Ids the source already uses are never given to a sentence.
    walk.used_ids.update(str(v) for v in root.xpath("//@id"))

    sections: list[Section] = []
    number = 0
    if meta.content_note:
        number += 1
        sections.append(_generated_section(walk, number, "content-note", "Content note",
                                           [("h1", "Content note"), ("p", meta.content_note)]))
    if not drafts or drafts[0].role != "titlepage":
        parts = [("h1", meta.title)]
        if meta.subtitle:
            parts.append(("p", meta.subtitle))
        if meta.authors:
            parts.append(("p", ", ".join(meta.authors)))
        if drafts and drafts[0].role == "front":
            # Text before the first heading goes on the title page: one document,
            # and one entry in the contents, named by the title.
            generated = _generated_nodes(parts)
            drafts[0] = _Draft(title=meta.title, level=1, role="titlepage", line=0,
                               nodes=generated + drafts[0].nodes)
        else:
            number += 1
            sections.append(_generated_section(walk, number, "titlepage", meta.title, parts))
    for draft in drafts:
        number += 1
        sections.append(_build_section(walk, number, draft, footnotes))
    sections = _link_across_sections(sections)
    if not any(s.sentences for s in sections):
        raise SourceError(f"{manuscript.path}: the book has no text to publish. "
                          "Write at least one paragraph below the front matter.")
    return Book(meta=meta, sections=tuple(sections), images=tuple(walk.images.values()),
                warnings=tuple(walk.warnings), source=manuscript.path)


def _heading_lines(text: str, first_line: int) -> list[int]:
    """Source line of every Markdown heading, in order (fenced code skipped)."""
    return [first_line + index for index, _, _ in frontmatter.markdown_headings(text)]


def split_level_of(levels: list[int], split_level: int) -> tuple[bool, int]:
    """(whether the first heading is the book's title, the level that starts sections).

    A heading is the title when it is the first and no other is at its level
    or above (a lone ``#``). Sections start at ``split_level`` and above; when
    no other heading is that high, at the highest level there is.
    """
    if not levels:
        return False, split_level
    lone_title = min(levels) == levels[0] and levels.count(levels[0]) == 1
    rest = levels[1:] if lone_title else levels
    if not rest or min(rest) <= split_level:
        return lone_title, split_level
    return lone_title, min(rest)


def _split_sections(root: etree._Element, meta: BookMeta, path: Path,
                    heading_lines: list[int], warnings: list[str]) -> list[_Draft]:
    drafts: list[_Draft] = []
    current: _Draft | None = None
    heading_index = 0
    previous_level = 0
    nodes = [node for node in root if isinstance(node.tag, str)]
    levels = [level for level in map(_heading_level, nodes) if level]
    lone_title, split_level = split_level_of(levels, meta.split_level)
    first_heading = True
    for node in nodes:
        level = _heading_level(node)
        line = 0
        if level:
            line = heading_lines[heading_index] if heading_index < len(heading_lines) else 0
            heading_index += 1
            title = _plain_text(node)
            where = f"{path}:{line}" if line else str(path)
            if not title:
                raise SourceError(f"{where}: a heading has no text. Write the heading's "
                                  "words after the '#' marks, or delete the line.")
            if previous_level and level > previous_level + 1:
                warnings.append(f"{where}: heading level skips from {previous_level} to "
                                f"{level} ('{title}'); screen-reader users navigate by level. "
                                f"Use a level-{previous_level + 1} heading.")
            previous_level = level
            if first_heading and lone_title:
                # The book's title: it opens the title page, with what came before it.
                before = current.nodes if current is not None else []
                current = _Draft(title=title, level=1, role="titlepage", line=line,
                                 nodes=before)
                drafts[:] = [current]
            elif level <= split_level:
                current = _Draft(title=title, level=level, role="body", line=line)
                drafts.append(current)
            first_heading = False
        if current is None:
            current = _Draft(title=meta.title, level=1, role="front", line=0)
            drafts.append(current)
        current.nodes.append(node)
    return _without_empty(drafts)


def _without_empty(drafts: list[_Draft]) -> list[_Draft]:
    """A draft with nothing to read (leading <link> tags, an empty div) joins the next."""
    kept: list[_Draft] = []
    carried: list[etree._Element] = []
    for draft in drafts:
        draft.nodes = carried + draft.nodes
        carried = []
        if draft.role == "front" and not any(map(_has_content, draft.nodes)):
            carried = draft.nodes
            continue
        kept.append(draft)
    if carried and kept:
        kept[-1].nodes.extend(carried)
    return kept


def _has_content(node: etree._Element) -> bool:
    if "".join(node.itertext()).strip():
        return True
    return any(el.tag in ("img", prepare.MATHML) for el in node.iter())


def _heading_level(node: etree._Element) -> int:
    tag = node.tag if isinstance(node.tag, str) else ""
    if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
        return int(tag[1])
    return 0


def _plain_text(node: etree._Element) -> str:
    return " ".join("".join(node.itertext()).split())


def _extract_footnotes(root: etree._Element) -> dict[str, etree._Element]:
    """Take Python-Markdown's footnote list out; notes go to the section citing them."""
    notes: dict[str, etree._Element] = {}
    for div in root.findall("div"):
        if "footnote" in (div.get("class") or "").split():
            for li in div.iter("li"):
                if li.get("id"):
                    notes[li.get("id", "")] = li
            root.remove(div)
    return notes


def _generated_nodes(parts: list[tuple[str, str]], titlepage: bool = True,
                     ) -> list[etree._Element]:
    container = etree.Element("div")
    for tag, text in parts:
        el = etree.SubElement(container, tag)
        el.text = text
    if titlepage and len(container) > 1:
        container[1].set("class", "subtitle")
    return list(container)


def _generated_section(walk: _Walk, number: int, role: str, title: str,
                       parts: list[tuple[str, str]]) -> Section:
    nodes = _generated_nodes(parts, role == "titlepage")
    draft = _Draft(title=title, level=1, role=role, line=0, nodes=nodes)
    return _build_section(walk, number, draft, {})


def _build_section(walk: _Walk, number: int, draft: _Draft,
                   footnotes: dict[str, etree._Element]) -> Section:
    walk.blocks = []
    walk.headings = []
    walk.section_id = f"sec-{number:02d}"
    walk.structures = 0
    walk.expanded = set()
    body = etree.Element("div")
    cited: list[str] = []
    for node in draft.nodes:
        for ref in node.iter("a"):
            href = ref.get("href", "")
            if "footnote-ref" in (ref.get("class") or "") and href[1:] in footnotes \
                    and href[1:] not in walk.placed_notes:
                cited.append(href[1:])
        new = _copy_shallow(walk, node)
        body.append(new)
        _walk_container(walk, node, new, structure="", structure_id="")
    if cited:
        aside = etree.SubElement(body, "section")
        aside.set("id", f"{walk.section_id}-notes")
        aside.set("class", "footnotes")
        aside.set(semantics.EPUB_TYPE, "footnotes")
        aside.set("aria-label", "Notes")
        for note_id in dict.fromkeys(cited):
            walk.placed_notes.add(note_id)
            note = footnotes[note_id]
            new = _copy_shallow(walk, note)
            aside.append(new)
            _walk_container(walk, note, new, structure="footnote",
                            structure_id=f"{walk.section_id}-notes")
    semantics.name_landmarks(body)
    body_html = semantics.spell_epub_types("".join(
        etree.tostring(child, encoding="unicode", method="xml") for child in body))
    slug = slugify(draft.title)
    first_heading = walk.headings[0].id if walk.headings else ""
    return Section(id=f"sec-{number:02d}", number=number, slug=slug, title=draft.title,
                   level=draft.level, role=draft.role, blocks=tuple(walk.blocks),
                   body_html=body_html,
                   headings=tuple(h for h in walk.headings if h.id != first_heading),
                   line=draft.line)


def _copy_shallow(walk: _Walk, node: etree._Element) -> etree._Element:
    """A copy of ``node`` without children; an id is kept on the first copy only."""
    new = etree.Element(node.tag)
    # The mark lives on the source element itself: lxml recreates Python proxies,
    # so id(node) is not a stable identity and would drop ids at random.
    copied_before = node.get(_COPIED) is not None
    for name, value in sorted(node.attrib.items()):
        if name in (_COPIED, VOICE_ATTRIBUTE) or (name == "id" and copied_before):
            continue
        new.set(name, value)
    node.set(_COPIED, "")
    if node.tag == "img":
        _register_image(walk, new)
    elif node.tag == "a":
        _check_link(walk, new)
    return new


def _register_image(walk: _Walk, img: etree._Element) -> None:
    # prepare.resolve_images found the file (or replaced the image by its alt text).
    found = img.attrib.pop(prepare.IMAGE_FILE, None)
    img.set("alt", img.get("alt", ""))
    if found is None:
        return  # a copy after the first: already registered
    target = Path(found)
    suffix = target.suffix.lower()
    media_types = prepare.MEDIA_TYPES
    key = str(target)
    if key not in walk.images:
        href = f"images/{len(walk.images) + 1:03d}-{slugify(target.stem, 40)}{suffix}"
        walk.images[key] = Image(source=target, href=href, media_type=media_types[suffix])
    img.set("src", walk.images[key].href)


def _check_link(walk: _Walk, a: etree._Element) -> None:
    href = a.get("href")
    if href is None:
        return
    if href.strip() in ("", "#"):
        walk.warnings.append(f"{walk.source}: a link has an empty or placeholder target "
                             f"('{href}'); it is shown as plain text. Give it a real address.")
        del a.attrib["href"]


def _walk_container(walk: _Walk, orig: etree._Element, new: etree._Element,
                    structure: str, structure_id: str) -> None:
    """Copy ``orig``'s content into ``new``, wrapping sentences in its inline runs."""
    tag = orig.tag
    if tag in _STRUCTURE_OF and not structure_id:
        # The outermost list, table or figure is what a listener escapes from.
        structure = _STRUCTURE_OF[tag]
        structure_id = walk.structure_id(new)
    if tag == "pre":
        _code_block(walk, orig, new, structure, structure_id)
        return
    if tag in _VOID:
        return
    kind = _KIND_OF.get(tag, "paragraph" if structure != "quote" else "quote")
    run: list[etree._Element | str] = []
    if orig.text:
        run.append(orig.text)
    for child in orig:
        if not isinstance(child.tag, str):  # comments were stripped; be safe
            if child.tail:
                run.append(child.tail)
            continue
        if child.tag in _BLOCK_TAGS:
            _flush_run(walk, run, new, kind, structure, structure_id, orig)
            run = []
            child_new = _copy_shallow(walk, child)
            new.append(child_new)
            _walk_container(walk, child, child_new, structure, structure_id)
            if child.tail and child.tail.strip():
                run.append(child.tail)
            elif child.tail:
                child_new.tail = child.tail
        else:
            run.append(child)
            if child.tail:
                run.append(child.tail)
    _flush_run(walk, run, new, kind, structure, structure_id, orig)


def _code_block(walk: _Walk, orig: etree._Element, new: etree._Element,
                structure: str, structure_id: str) -> None:
    # Code is shown, not read out: reading symbols aloud is exactly the markup
    # narration we promise never to produce. The listener is told it is there.
    display = "".join(orig.itertext())
    if not display.strip():
        return
    lines = display.rstrip("\n").count("\n") + 1
    said = spoken.code_block_notice(lines, walk.meta.language)
    sid = walk.sentence_id(display)
    span = etree.SubElement(new, "span", id=sid)
    inner = copy.deepcopy(orig)
    for child in inner:
        span.append(child)
    if inner.text:
        span.text = inner.text
    walk.blocks.append(Block(kind="code", structure=structure, structure_id=structure_id,
                             sentences=(
        Sentence(id=sid, html=_inner_xml(span), spoken=said),)))


def _flush_run(walk: _Walk, run: list[etree._Element | str], new: etree._Element,
               kind: str, structure: str, structure_id: str, block: etree._Element) -> None:
    atoms = list(_atoms(run, (), note_word=spoken.note_word(walk.meta.language)))
    if not atoms:
        return
    display = "".join(a.display for a in atoms)
    if not display.strip():
        _append_text(new, display)
        return
    if len(display) > MAX_BLOCK_CHARS:
        raise SourceError(
            f"{walk.source}{_line_of(walk.source, display)}: a paragraph is "
            f"{len(display):,} characters long (\"{display[:50].strip()}...\"); at most "
            f"{MAX_BLOCK_CHARS:,} are supported. Separate its paragraphs with blank lines.")
    pieces = walk.helper.get(display) if walk.helper is not None else None
    ranges = _keep_links_whole(atoms, sentence_ranges(walk.segmenter, display, pieces))
    sentences: list[Sentence] = []
    cursor = 0
    spans: list[tuple[int, int, etree._Element | None]] = []
    for start, end in ranges:
        if start > cursor:
            spans.append((cursor, start, None))
        spans.append((start, end, etree.Element("span")))
        cursor = end
    if cursor < len(display):
        spans.append((cursor, len(display), None))

    for start, end, span in spans:
        target = span if span is not None else new
        _fill(walk, target, atoms, start, end, first=start == 0)
        if span is None:
            continue
        # A passage in another language is normalized in its own language.
        language, voice = _voicing(walk, atoms, start, end, block)
        _expand_abbreviations(walk, atoms, start, end, display[start:end])
        said = spoken.speak("".join(_spoken_slice(atoms, start, end)),
                            language or walk.meta.language, spoken.lexicon_words(walk.meta))
        shown = display[start:end]
        if not said.strip():
            # Nothing to say (a decorative image, a lone symbol): show it, no span.
            _move_children(span, new)
            continue
        sid = walk.sentence_id(shown)
        span.set("id", sid)
        new.append(span)
        if len(shown) > LONG_SENTENCE_CHARS:
            walk.warnings.append(
                f"{walk.source}: a sentence is {len(shown)} characters long "
                f"(\"{shown[:60].strip()}...\"); speech engines may garble very long "
                "sentences. Consider splitting it.")
        sentences.append(Sentence(id=sid, html=semantics.spell_epub_types(_inner_xml(span)),
                                  spoken=said, language=language, voice=voice))

    if kind == "heading":
        level = _heading_level(block)
        hid = block.get("id", "")
        walk.headings.append(Heading(level=level, title=_plain_text(block), id=hid))
    if sentences:
        walk.blocks.append(Block(kind=kind, structure=structure, structure_id=structure_id,
                                 sentences=tuple(sentences), level=_heading_level(block)))


def _voicing(walk: _Walk, atoms: list[_Atom], start: int, end: int,
             block: etree._Element) -> tuple[str, str]:
    """(language, role) of the sentence in [start, end) of ``block``'s run.

    A sentence is in another language (or said by another voice) only when all
    its letters are: a short foreign phrase inside a sentence is said by the
    sentence's voice. The block's own ``lang``/voice comes from it or the
    nearest element around it that names one.
    """
    if not walk.voiced:
        return "", ""
    block_language, block_role = _block_voicing(walk, block)
    languages: set[str] = set()
    roles: set[str] = set()
    pos = 0
    for atom in atoms:
        a_start, a_end = pos, pos + len(atom.display)
        pos = a_end
        shown = atom.display[max(start, a_start) - a_start:max(0, min(end, a_end) - a_start)]
        if a_end <= start or a_start >= end or not any(c.isalpha() for c in shown):
            continue
        language, role = "", ""
        for element in reversed(atom.path):
            language = language or element.get("lang", "")
            role = role or _role_of(walk, element)
        languages.add(language or block_language)
        roles.add(role or block_role)
    language = languages.pop() if len(languages) == 1 else block_language
    role = roles.pop() if len(roles) == 1 else block_role
    book = walk.meta.language
    if not language or language.split("-")[0].lower() == book.split("-")[0].lower():
        language = ""
    return language, "" if role.casefold() == NARRATOR else role


def _block_voicing(walk: _Walk, block: etree._Element) -> tuple[str, str]:
    """The ``lang`` and role that hold for ``block``'s text (from it or around it)."""
    language = ""
    role = _speaker(walk, block)
    for element in (block, *block.iterancestors()):
        language = language or element.get("lang", "")
        role = role or _role_of(walk, element)
        if language and role:
            break
    return language, role


def _role_of(walk: _Walk, element: etree._Element) -> str:
    """The role ``element`` names by its ``voice`` attribute or a class ('' if none)."""
    asked = element.get(VOICE_ATTRIBUTE, "").strip()
    if asked:
        role = walk.roles.get(asked.casefold())
        if role is None and asked not in walk.unknown_roles:
            walk.unknown_roles.add(asked)
            known = ", ".join(r for r in walk.roles.values()) or "none"
            walk.warnings.append(
                f"{walk.source}: a passage asks for the voice '{asked}', which 'voices' in "
                f"the front matter does not name (it names: {known}); it is read by the "
                "narrator. Add it to 'voices' or correct the name.")
        return role or ""
    for name in (element.get("class") or "").split():
        if name.casefold() in walk.roles:
            return walk.roles[name.casefold()]
    return ""


def _speaker(walk: _Walk, block: etree._Element) -> str:
    """The speaker of a line of dialogue: a block that opens with ``**NAME:**`` (or
    ``**NAME**:``), NAME a role of ``voices``."""
    if not walk.roles or (block.text or "").strip() or not len(block):
        return ""
    first = block[0]
    if not isinstance(first.tag, str) or first.tag not in ("strong", "b"):
        return ""
    label = "".join(first.itertext()).strip()
    if label.endswith(":"):
        label = label[:-1]
    elif not (first.tail or "").lstrip().startswith(":"):
        return ""
    return walk.roles.get(label.strip().casefold(), "")


def _expand_abbreviations(walk: _Walk, atoms: list[_Atom], start: int, end: int,
                          shown: str) -> None:
    """Say a defined abbreviation (``*[NSSI]: non-suicidal self-injury``, an
    ``<abbr title>``) in full, then as written, at its first use in each section:
    "non-suicidal self-injury (NSSI)"; after that as written (the lexicon or the
    acronym rule says it). A sighted reader can look it up at every use; a listener
    hears it once in each section, the part of a book one jumps to. Where the
    sentence spells the expansion out already, it is not said twice."""
    pos = 0
    for index, atom in enumerate(atoms):
        a_start, pos = pos, pos + len(atom.display)
        if atom.void is None or atom.void.tag != "abbr" or not atom.spoken.strip():
            continue
        if pos <= start or a_start >= end:
            continue
        written = atom.void.text or ""
        title = " ".join((atom.void.get("title") or "").split())
        first = written not in walk.expanded and title.casefold() not in shown.casefold()
        walk.expanded.add(written)
        said = f" {title} ({written}) " if first else f" {written} "
        atoms[index] = dataclasses.replace(atom, spoken=said)


def _keep_links_whole(atoms: list[_Atom],
                      ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join the sentences a link's text runs across, and take in the link's outer spaces.

    A link cut at a sentence end would become several links to one place, one
    of them holding only white space: a screen reader lists each, one nameless.
    """
    elements: list[etree._Element] = []
    extents: list[list[int]] = []  # [start, end) of each link in ``elements``
    pos = 0
    for atom in atoms:
        end = pos + len(atom.display)
        # A code span is kept whole too: "x != y" is no sentence end.
        code = (atom.void,) if atom.void is not None and atom.void.tag == "code" else ()
        for element in atom.path + code:
            if element in code or (element.tag == "a" and element.get("href") is not None):
                for known, extent in zip(elements, extents, strict=True):
                    if known is element:
                        extent[1] = end
                        break
                else:
                    elements.append(element)
                    extents.append([pos, end])
        pos = end
    if not extents:
        return ranges
    merged = list(ranges)
    for start, end in extents:
        touching = [r for r in merged if r[0] < end and r[1] > start]
        if not touching:
            continue
        whole = (min(start, touching[0][0]), max(end, touching[-1][1]))
        merged = sorted([r for r in merged if r not in touching] + [whole])
    return merged


def _line_of(source: Path, text: str) -> str:
    """':LINE' where ``text`` starts in ``source``, or '' if it cannot be found."""
    probe = " ".join(text.split())[:40]
    try:
        content = source.read_text(encoding="utf-8")
    except OSError:
        return ""
    at = content.find(probe)
    return f":{content.count(chr(10), 0, at) + 1}" if at >= 0 and probe else ""


def _atoms(run: list[etree._Element | str], path: tuple[etree._Element, ...],
           silent: bool = False, note_word: str = "Note") -> Iterator[_Atom]:
    for item in run:
        if isinstance(item, str):
            # A line break in the source is a space in the text: the segmenter
            # must not take it for a sentence end.
            text = item.replace(OBJECT, " ").replace("\n", " ")
            yield _Atom(display=text, spoken="" if silent else text, path=path)
            continue
        el = item
        tag = el.tag
        if tag == "img":
            alt = el.get("alt", "")
            yield _Atom(display=OBJECT, spoken="" if silent else f" {alt} ", path=path,
                        void=el)
        elif tag == prepare.MATHML:
            yield _Atom(display=OBJECT, spoken="" if silent else
                        f" {prepare.spoken_math(el)} ", path=path, void=el)
        elif tag == "abbr" and el.get("title", "").strip() and not len(el) and el.text:
            # Shown as written, said in full: "WCAG" is heard as what it stands for.
            yield _Atom(display=OBJECT, spoken="" if silent else f" {el.get('title')} ",
                        path=path, void=el)
        elif tag == "code" and not len(el) and el.text and not silent:
            # Shown as written, said as written: its symbols by name, one by one
            # (normalization reads the span between the code marks). Kept whole.
            yield _Atom(display=el.text.replace(OBJECT, " ").replace("\n", " "),
                        spoken=f" {spoken.CODE_OPEN}{el.text}{spoken.CODE_CLOSE} ", path=path, void=el)
        elif tag in ("br", "wbr"):
            yield _Atom(display=" " if tag == "br" else "", spoken=" ", path=path, void=el)
        elif "footnote-label" in (el.get("class") or "").split() and el.text and not len(el):
            # A note's number, where the note is read: announced ("Note 3: ..."), so a
            # listener of the MP3s hears where the text stops and the note begins.
            yield _Atom(display=el.text, spoken="" if silent else f" {note_word} {el.text}: ",
                        path=path + (el,))
        else:
            # Footnote markers and back-links are navigation, not words to say.
            classes = (el.get("class") or "").split()
            mute = silent or "footnote-ref" in classes or "footnote-backref" in classes
            inner: list[etree._Element | str] = []
            if el.text:
                inner.append(el.text)
            for child in el:
                if isinstance(child.tag, str):
                    inner.append(child)
                if child.tail:
                    inner.append(child.tail)
            if not inner:
                # An empty element (an anchor): keep it, at zero width.
                yield _Atom(display="", spoken="", path=path + (el,))
            yield from _atoms(inner, path + (el,), mute, note_word)


def _run_texts(root: etree._Element) -> Iterator[str]:
    """The text of every run the walk will segment, in its order (as _walk_container cuts
    them). Runs it cuts otherwise are segmented by the walk itself, so this needs only
    to be right for the common case, never for correctness."""
    for element in root.iter():
        # The walk cuts runs in the blocks, and in top-level nodes of any kind.
        if not isinstance(element.tag, str) or element.tag in ("pre", *_VOID) or (
                element.tag not in _BLOCK_TAGS and element.getparent() is not root):
            continue
        if any(a.tag == "pre" for a in element.iterancestors()):
            continue
        run: list[etree._Element | str] = [element.text] if element.text else []
        for child in element:
            if not isinstance(child.tag, str):
                if child.tail:
                    run.append(child.tail)
            elif child.tag in _BLOCK_TAGS:
                yield from _display(run)
                run = [child.tail] if child.tail and child.tail.strip() else []
            else:
                run.append(child)
                if child.tail:
                    run.append(child.tail)
        yield from _display(run)


def _display(run: list[etree._Element | str]) -> Iterator[str]:
    display = "".join(atom.display for atom in _atoms(run, ()))
    if display.strip() and len(display) <= MAX_BLOCK_CHARS:
        yield display


def _spoken_slice(atoms: list[_Atom], start: int, end: int) -> Iterator[str]:
    pos = 0
    for atom in atoms:
        a_start, a_end = pos, pos + len(atom.display)
        pos = a_end
        if a_end <= start or a_start >= end:
            continue
        if atom.void is not None or atom.display != atom.spoken:
            # Said whole (an image's alt text, a note's announcement) or not at all.
            yield atom.spoken
            continue
        yield atom.spoken[max(start, a_start) - a_start:min(end, a_end) - a_start]


def _fill(walk: _Walk, target: etree._Element, atoms: list[_Atom], start: int, end: int,
          first: bool) -> None:
    """Append the atoms in [start, end) to ``target``, re-opening inline elements."""
    stack: list[tuple[etree._Element, etree._Element]] = []
    pos = 0
    for atom in atoms:
        a_start, a_end = pos, pos + len(atom.display)
        pos = a_end
        if atom.display:
            if a_end <= start or a_start >= end:
                continue
        elif not (start <= a_start < end or (first and a_start == start == 0)):
            continue
        depth = 0
        while (depth < len(stack) and depth < len(atom.path)
               and stack[depth][0] is atom.path[depth]):
            depth += 1
        del stack[depth:]
        for el in atom.path[depth:]:
            parent = stack[-1][1] if stack else target
            new = _copy_shallow(walk, el)
            parent.append(new)
            stack.append((el, new))
        parent = stack[-1][1] if stack else target
        if atom.void is not None:
            if atom.void.tag in (prepare.MATHML, "abbr", "code"):
                whole = copy.deepcopy(atom.void)  # shown whole: its text is inside
                whole.tail = None
                parent.append(whole)
            else:
                parent.append(_copy_shallow(walk, atom.void))
        else:
            _append_text(parent, atom.display[max(start, a_start) - a_start:
                                              min(end, a_end) - a_start])


def _append_text(parent: etree._Element, text: str) -> None:
    if not text:
        return
    if len(parent):
        last = parent[-1]
        last.tail = (last.tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _move_children(span: etree._Element, new: etree._Element) -> None:
    _append_text(new, span.text or "")
    for child in list(span):
        new.append(child)


def _inner_xml(el: etree._Element) -> str:
    parts = [_escape(el.text or "")]
    parts.extend(etree.tostring(child, encoding="unicode", method="xml") for child in el)
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _anchor_key(fragment: str) -> str:
    """An id as GitHub, pandoc and Python-Markdown would all have slugged it."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", fragment).casefold())


def _link_across_sections(sections: list[Section]) -> list[Section]:
    """Point ``#id`` links at the section document that holds the id.

    A fragment that is no id but slugs like one (``#Getting-Started`` for
    ``getting-started``, in any script) goes to that id.
    """
    owner: dict[str, str] = {}
    similar: dict[str, str] = {}
    for section in sections:
        for match in re.finditer(r'\sid="([^"]+)"', section.body_html):
            owner.setdefault(match.group(1), f"{section.basename}.xhtml")
            similar.setdefault(_anchor_key(html_lib.unescape(match.group(1))), match.group(1))
    result = []
    for section in sections:
        own = f"{section.basename}.xhtml"

        def fix(match: re.Match[str], own: str = own) -> str:
            fragment = match.group(1)
            if fragment not in owner:
                fragment = similar.get(_anchor_key(html_lib.unescape(fragment)), "")
            target = owner.get(fragment)
            if target is None:
                return ""  # a link to nothing would be a dead end for the reader
            if target == own:
                return f'href="#{fragment}"'
            return f'href="{target}#{fragment}"'

        body = re.sub(r'href="#([^"]+)"', fix, section.body_html)
        if body != section.body_html:
            section = _replace(section, body_html=body)
        result.append(section)
    return result


def _replace(section: Section, **changes: object) -> Section:
    return dataclasses.replace(section, **changes)  # type: ignore[arg-type]
