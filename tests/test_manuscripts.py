"""Real manuscripts (issue 15): metadata, images, links, dialects and structure.

Each test is one rule, on a small input written here.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from lxml import etree
from PIL import Image as PILImage

from publisher.build import BuildOptions, build, load_book
from publisher.config import load_meta
from publisher.errors import ConfigError, PublisherError
from publisher.layout import nav_items
from publisher.model import Book
from publisher.source import read_manuscript

from .helpers import epub_xml, run_cli, write_book

XHTML = {"x": "http://www.w3.org/1999/xhtml"}


def _source(folder: Path, text: str, name: str = "book.md") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def _book(folder: Path, text: str, name: str = "book.md", **options: object) -> Book:
    return load_book(_source(folder, text, name), BuildOptions(**options))  # type: ignore[arg-type]


def _body(book: Book) -> str:
    return "".join(s.body_html for s in book.sections)


def _spoken(book: Book) -> str:
    return " ".join(s.spoken for s in book.sentences)


def _labels(book: Book) -> list[str]:
    found: list[str] = []

    def walk(entries):
        for entry in entries:
            found.append(entry["title"])
            walk(entry["children"])

    walk(nav_items(book))
    return found


# --- 1. metadata from what the file has ----------------------------------------------

def test_yaml_front_matter_may_close_with_dots(tmp_path):
    book = _book(tmp_path, "---\ntitle: Dots\nlanguage: en\n...\n\nText here.\n")
    assert book.meta.title == "Dots"
    assert "..." not in _body(book)


def test_pandoc_title_block_gives_title_authors_and_date(tmp_path):
    book = _book(tmp_path, """\
        % A Title
          on two lines
        % Ann One; Bob Two
        % 2021-03-04

        Some text to read.
        """, name="x.md")
    assert book.meta.title == "A Title on two lines"
    assert book.meta.authors == ("Ann One", "Bob Two")
    assert book.meta.date == "2021-03-04"
    assert "%" not in _body(book)


def test_meta_lines_are_read_and_a_note_paragraph_is_not(tmp_path):
    book = _book(tmp_path, "Title: Meta Book\nAuthor: Cy Three\nLanguage: fr\n\n"
                           "Bonjour. Ceci est un texte.\n")
    assert (book.meta.title, book.meta.authors, book.meta.language) == (
        "Meta Book", ("Cy Three",), "fr")
    note = _book(tmp_path, "Note: this is the first paragraph of the text.\n\nMore.\n",
                 name="note.md")
    assert "Note: this is the first paragraph" in _body(note)


def test_aliases_are_read_with_a_warning_naming_the_key(tmp_path):
    book = _book(tmp_path, "---\ntitle: T\nlang: de\nauthors: [A, B]\nsummary: S\n---\n\n"
                           "Hallo Welt.\n")
    assert book.meta.language == "de"
    assert book.meta.authors == ("A", "B")
    assert book.meta.description == "S"
    assert any("'lang' is read as 'language'" in w for w in book.warnings)
    assert any("'summary' is read as 'description'" in w for w in book.warnings)


def test_entities_and_markdown_in_values_are_made_plain(tmp_path):
    book = _book(tmp_path, "---\ntitle: C&oacute;mo *hacer* [esto](https://e.org)\n"
                           "language: es\n---\n\nTexto.\n")
    assert book.meta.title == "Cómo hacer esto"


def test_no_front_matter_title_from_the_single_top_heading_and_language_found(tmp_path):
    book = _book(tmp_path, """\
        # Le petit livre

        ## Premier chapitre

        Il était une fois une petite fille qui vivait dans une maison au bord de la mer.
        Elle aimait beaucoup lire des livres et se promener avec son chien.
        """)
    assert book.meta.title == "Le petit livre"
    assert book.meta.language == "fr"
    assert any("'language: fr'" in w for w in book.warnings)
    assert any("top heading" in w for w in book.warnings)


def test_no_title_and_several_top_headings_uses_the_file_name(tmp_path):
    book = _book(tmp_path, "# One\n\nText one.\n\n# Two\n\nText two.\n",
                 name="my_notes-file.md")
    assert book.meta.title == "My notes file"
    assert any("file name" in w for w in book.warnings)


def test_control_characters_in_values_are_removed_naming_the_key(tmp_path):
    source = _source(tmp_path, '---\ntitle: "Bad\\x01 title"\nlanguage: en\n'
                               'description: "x\\ud800y"\n---\n\nText.\n')
    result = build(source, BuildOptions(out_root=tmp_path / "out", audio=False))
    assert any("'title' has invisible control characters" in w for w in result.warnings)
    assert any("'description'" in w for w in result.warnings)
    opf = epub_xml(result.out_dir / f"{result.slug}.epub", "EPUB/content.opf")
    assert opf.findtext(".//{http://purl.org/dc/elements/1.1/}title") == "Bad title"


def test_strict_turns_warnings_into_a_failure(tmp_path):
    source = _source(tmp_path, "# Only heading\n\nSome English text to read here.\n")
    with pytest.raises(PublisherError, match="--strict"):
        build(source, BuildOptions(out_root=tmp_path / "out", audio=False, strict=True))


def test_did_you_mean_reaches_the_screen(tmp_path, capsys):
    source = write_book(tmp_path, "Text.\n", langauge="fr", rate=9)
    with pytest.raises(ConfigError, match="Did you mean 'language'"):
        load_meta(read_manuscript(source))
    code, out = run_cli(["build", str(source), "--no-audio", "-o", str(tmp_path / "o")],
                        capsys)
    assert code != 0 and "Did you mean 'language'" in out


# --- 2. images ---------------------------------------------------------------------------

def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.new("RGB", (4, 4), "red").save(path)
    return path


def test_remote_and_missing_images_become_their_alt_text(tmp_path):
    book = _book(tmp_path, "---\ntitle: T\nlanguage: en\n---\n\n"
                           "See ![A red square](https://e.org/x.png) and "
                           "![A blue circle](gone.png) here.\n")
    body = _body(book)
    assert "<img" not in body and "A red square" in body and "A blue circle" in body
    assert "A red square" in _spoken(book)
    assert sum("is on the network" in w for w in book.warnings) == 1
    assert sum("does not exist" in w for w in book.warnings) == 1
    with pytest.raises(PublisherError, match="--strict"):
        build(tmp_path / "book.md", BuildOptions(out_root=tmp_path / "o", audio=False,
                                                 strict=True))


def test_many_missing_images_are_summarised(tmp_path):
    images = " ".join(f"![Picture {n}](p{n}.png)" for n in range(20))
    book = _book(tmp_path, f"---\ntitle: T\nlanguage: en\n---\n\n{images}\n")
    lines = [w for w in book.warnings if ": image '" in w or "more image" in w]
    assert len(lines) == 8 and "13 more" in lines[-1]


def test_root_absolute_images_resolve_against_the_folder_and_assets(tmp_path):
    _png(tmp_path / "img" / "a.png")
    _png(tmp_path / "site" / "assets" / "b.png")
    book = _book(tmp_path, "---\ntitle: T\nlanguage: en\n---\n\n"
                           "![Square A](/img/a.png) ![Square B](/assets/b.png)\n",
                 assets=tmp_path / "site")
    assert len(book.images) == 2 and not [w for w in book.warnings if ": image '" in w]


def test_alt_text_missing_warns_and_empty_alt_is_decorative(tmp_path):
    _png(tmp_path / "a.png")
    book = _book(tmp_path, '---\ntitle: T\nlanguage: en\n---\n\n![](a.png)\n\n'
                           'Text <img src="a.png" alt=""> more.\n')
    assert sum("has no alt text" in w for w in book.warnings) == 1


# --- 3. links ----------------------------------------------------------------------------

def test_links_outside_the_book_are_text_or_absolute_with_base_url(tmp_path):
    text = ("---\ntitle: T\nlanguage: en\n---\n\nSee [the other page](other.md), "
            "[docs](/docs/page) and [a site]({% page \"/x/\" %}).\n")
    book = _book(tmp_path, text)
    body = _body(book)
    assert "other.md" not in body and "/docs/page" not in body and "{%" not in body
    assert "the other page" in body and "a site" in body
    assert any("'other.md' is not part of the book" in w for w in book.warnings)
    linked = _book(tmp_path, text, name="b.md", base_url="https://example.org/book")
    assert 'href="https://example.org/book/other.md"' in _body(linked)
    assert 'href="https://example.org/docs/page"' in _body(linked)


def test_anchors_work_across_sections_in_any_script(tmp_path):
    book = _book(tmp_path, "---\ntitle: T\nlanguage: he\n---\n\n## ראשון\n\n"
                           "ראו [למטה](#שלום-עולם).\n\n## שלום עולם\n\nטקסט.\n")
    target = book.sections[-1]
    assert f'href="{target.basename}.xhtml#שלום-עולם"' in book.sections[-2].body_html


def test_raw_html_ids_never_collide_with_generated_ones(tmp_path):
    book = _book(tmp_path, '---\ntitle: T\nlanguage: en\n---\n\n<p id="intro">Raw.</p>\n\n'
                           "## Intro\n\nText.\n")
    ids = etree.fromstring(f"<div>{_body(book)}</div>").xpath("//@id")
    assert len(ids) == len(set(ids))


# --- 4. dialects ---------------------------------------------------------------------------

def test_md_in_html_abbreviations_definitions_and_admonitions(tmp_path):
    book = _book(tmp_path, """\
        ---
        title: T
        language: en
        ---

        <div dir="rtl" markdown="1">

        ## Inside

        Some _emphasis_ and HTML here.

        </div>

        Term
        :   Its definition.

        !!! note "Careful"
            An admonition.

        *[HTML]: Hyper Text Markup Language
        """)
    body = _body(book)
    assert "<em>emphasis</em>" in body and "##" not in body
    assert any(s.title == "Inside" for s in book.sections)
    assert "<dl" in body and "admonition" in body
    assert "Hyper Text Markup Language" in _spoken(book)
    assert '<abbr title="Hyper Text Markup Language">HTML</abbr>' in body


def test_pandoc_notes_citations_and_math(tmp_path):
    book = _book(tmp_path, "---\ntitle: T\nlanguage: en\n---\n\n"
                           "Rays were found^[By accident.] [see @becquerel1896, p. 3]. "
                           "Then $\\beta^2$ grew.\n")
    body = _body(book)
    assert "^[" not in body and "By accident." in body and "footnote" in body
    assert "(see Becquerel 1896, p. 3)" in body
    assert "@" not in _spoken(book)
    math = etree.fromstring(f"<div xmlns:epub=\"http://www.idpf.org/2007/ops\">{body}</div>").find(
        ".//{http://www.w3.org/1998/Math/MathML}math")
    assert math is not None and math.get("alttext") == "\\beta^2"
    assert "beta to the power of two" in _spoken(book)


def test_pandoc_simple_and_grid_tables(tmp_path):
    book = _book(tmp_path, """\
        ---
        title: T
        language: en
        ---

        Intro.

          Right     Left
        -------     ------
             12     ab
            123     cd

        Table: Numbers and letters.

        +-------+-------+
        | One   | Two   |
        +=======+=======+
        | three | four  |
        +-------+-------+
        """)
    body = _body(book)
    assert body.count("<table") == 2
    assert "<caption" in body and "Numbers and letters." in body
    assert len(book.sections) == 1  # no row became a heading


def test_a_grid_table_with_zero_width_characters_stays_a_table(tmp_path):
    # Zero-width non-joiner and space: one character more in the row than the
    # column is wide (the corpus's pandoc reader tests have both).
    book = _book(tmp_path, """\
        ---
        title: T
        language: en
        ---

        +-------+---------+
        |German |English  |
        +-------+---------+
        |Auf\u200clage|edition  |
        +-------+---------+
        |Zeit\u200bung|newspaper|
        +-------+---------+

        A \uf8ff private-use character of the author's own stays as written.
        """)
    body = _body(book)
    assert body.count("<table") == 1 and "<pre" not in body
    cells = re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
    assert [re.sub(r"<[^>]+>", "", c).strip() for c in cells] == [
        "German", "English", "Auf\u200clage", "edition", "Zeit\u200bung", "newspaper"]
    assert "\uf8ff private-use" in body


def test_template_tags_are_removed_keeping_what_they_say(tmp_path):
    book = _book(tmp_path, "---\ntitle: T\nlanguage: en\n---\n\n{{>toc}}\n\n"
                           "Upload it: {% image \"x.png\" \"A form with fields\" %}\n\n"
                           "Ask in {% slack_channel \"people-ops\" \"People Ops\" %}.\n")
    body = _body(book)
    assert "{{" not in body and "{%" not in body and "toc" not in body
    assert "A form with fields" in body and "People Ops" in body
    assert sum("template tag" in w for w in book.warnings) == 1


# --- 5. structure -----------------------------------------------------------------------

def test_sections_split_at_the_highest_level_present(tmp_path):
    book = _book(tmp_path, "---\ntitle: T\nlanguage: en\n---\n\n#### One\n\nA.\n\n"
                           "#### Two\n\nB.\n")
    assert [s.title for s in book.sections if s.role == "body"] == ["One", "Two"]


def test_a_lone_top_heading_is_the_title_not_a_section(tmp_path):
    book = _book(tmp_path, "# The Title\n\nIntro.\n\n### First\n\nA.\n\n### Second\n\nB.\n")
    roles = [(s.role, s.title) for s in book.sections]
    assert roles == [("titlepage", "The Title"), ("body", "First"), ("body", "Second")]
    assert _labels(book).count("The Title") <= 1


def test_headings_in_raw_html_count_and_no_empty_documents(tmp_path):
    book = _book(tmp_path, '---\ntitle: T\nlanguage: en\n---\n\n'
                           '<link rel="stylesheet" href="x.css">\n<link rel="icon" href="i">\n\n'
                           "<h2>Raw one</h2>\n\nA.\n\n<h2>Raw two</h2>\n\nB.\n")
    assert [s.title for s in book.sections if s.role == "body"] == ["Raw one", "Raw two"]
    assert all(s.sentences for s in book.sections)


def test_duplicate_headings_get_labels_that_tell_them_apart(tmp_path):
    book = _book(tmp_path, "---\ntitle: Log\nlanguage: en\n---\n\n## 1.1\n\n### Fixed\n\nA.\n\n"
                           "## 1.0\n\n### Fixed\n\nB.\n")
    labels = _labels(book)
    assert "Fixed, 1.1" in labels and "Fixed, 1.0" in labels


def test_the_title_appears_once_in_the_nav(tmp_path):
    book = _book(tmp_path, "---\ntitle: Only Once\nlanguage: en\n---\n\nFront text.\n\n"
                           "## Chapter\n\nText.\n")
    assert _labels(book).count("Only Once") <= 1  # the title page is in the landmarks
    assert book.sections[0].role == "titlepage" and "Front text." in book.sections[0].body_html
