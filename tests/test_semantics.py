"""Notes, tables, languages and links as reading systems and assistive technology need them."""

from __future__ import annotations

import re

from lxml import etree

from publisher.parse import parse_book
from publisher.semantics import identify, spell_epub_types
from publisher.source import read_manuscript
from tests.helpers import write_book

XHTML = {"x": "http://www.w3.org/1999/xhtml", "epub": "http://www.idpf.org/2007/ops"}


def parse(path):
    return parse_book(read_manuscript(path))


def tree(section) -> etree._Element:
    """A section's body as XML (the namespace of epub:type declared, as the template does)."""
    return etree.fromstring(
        f'<div xmlns="{XHTML["x"]}" xmlns:epub="{XHTML["epub"]}">{section.body_html}</div>')


def body(book) -> list:
    return [s for s in book.sections if s.role == "body"]


# --------------------------------------------------------------------------- notes


def test_notes_are_numbered_in_reading_order_and_each_label_matches_its_note(tmp_path):
    path = write_book(tmp_path, """
        ## One

        The second note is cited first[^b], then the first[^a], then the second again[^b].

        ## Two

        A third note[^c].

        [^a]: Note A.
        [^b]: Note B.
        [^c]: Note C.
        """)
    one, two = (tree(s) for s in body(parse(path)))
    refs = one.findall(".//x:a[@epub:type='noteref']", XHTML)
    assert [(r.get("href"), r.text, r.get("role")) for r in refs] == [
        ("#fn-b", "1", "doc-noteref"), ("#fn-a", "2", "doc-noteref"),
        ("#fn-b", "1", "doc-noteref")]
    notes = one.findall(".//x:aside[@epub:type='footnote']", XHTML)
    assert [(n.get("id"), n.get("role")) for n in notes] == [
        ("fn-b", "doc-footnote"), ("fn-a", "doc-footnote")]
    for note in notes:
        label = note.find(".//x:a[@role='doc-backlink']", XHTML)
        ref = next(r for r in refs if r.get("href") == f"#{note.get('id')}")
        # The note opens with the number its reference shows, linking back to it.
        assert label.text == ref.text
        assert label.get("href") == "#" + ref.getparent().get("id")
        letter = note.get("id")[-1].upper()
        assert "".join(note.itertext()).split()[:3] == [ref.text, "Note", f"{letter}."]
    # The second reference to note B has its own back-link, named for a reader.
    extra = notes[0].findall(".//x:a[@role='doc-backlink']", XHTML)[1]
    assert extra.get("href") == "#fnref2-b" and extra.get("aria-label")
    # Numbers run on through the book: the next section's first note is 3, not 1.
    ref_c = two.find(".//x:a[@epub:type='noteref']", XHTML)
    assert ref_c.text == "3"
    assert two.find(".//x:aside[@id='fn-c']//x:a[@role='doc-backlink']", XHTML).text == "3"


def test_note_numbers_are_not_spoken_but_the_note_is_announced(tmp_path):
    path = write_book(tmp_path, "Cited here[^a].\n\n[^a]: The note.\n")
    book = parse(path)
    spoken = [s.spoken for s in book.sentences]
    # The reference's number is not read; the note says once whose it is.
    assert "Cited here." in spoken and "Note one: The note." in spoken


def test_spelling_epub_type_touches_tags_only():
    text = '<p data-publisher-epub-type="x">data-publisher-epub-type="y" &lt;b&gt;</p>'
    assert spell_epub_types(text) == '<p epub:type="x">data-publisher-epub-type="y" &lt;b&gt;</p>'


# --------------------------------------------------------------------------- tables


def test_table_headers_have_scope_and_a_pandoc_caption_becomes_the_caption(tmp_path):
    path = write_book(tmp_path, """
        | Name | Value |
        |------|-------|
        | one  | 1     |

        Table: Numbers and their names.

        <table><tr><th>Row head</th><td>cell</td></tr></table>
        """)
    root = tree(parse(path).sections[-1])
    tables = root.findall(".//x:table", XHTML)
    assert [th.get("scope") for th in tables[0].iter(f"{{{XHTML['x']}}}th")] == ["col", "col"]
    caption = tables[0].find("x:caption", XHTML)
    assert caption is not None and "".join(caption.itertext()) == "Numbers and their names."
    assert not any("Table:" in "".join(p.itertext()) for p in root.iter(f"{{{XHTML['x']}}}p"))
    assert tables[1].find(".//x:th", XHTML).get("scope") == "row"


# --------------------------------------------------------------------------- languages


def test_passages_in_another_script_get_lang_and_dir(tmp_path):
    path = write_book(tmp_path, """
        An English paragraph.

        هذا نص عربي مكتوب للاختبار.

        این یک متن فارسی است که برای آزمایش نوشته شده.

        The word 中文 means Chinese, and كتاب العربية means Arabic book.

        <p lang="fr">Un paragraphe en français, marqué par sa source.</p>

        The area is πr².
        """)
    root = tree(parse(path).sections[-1])
    paragraphs = root.findall("x:p", XHTML)
    assert paragraphs[0].get("lang") is None and paragraphs[0].get("dir") is None
    assert (paragraphs[1].get("lang"), paragraphs[1].get("dir")) == ("ar", "rtl")
    assert (paragraphs[2].get("lang"), paragraphs[2].get("dir")) == ("fa", "rtl")
    spans = {("".join(s.itertext()), s.get("lang"), s.get("dir"))
             for s in paragraphs[3].iter(f"{{{XHTML['x']}}}span") if s.get("lang")}
    assert spans == {("中文", "zh", None), ("كتاب العربية", "ar", "rtl")}
    assert paragraphs[4].get("lang") == "fr" and paragraphs[4].get("dir") is None
    # One Greek letter in a formula is a symbol, not a passage in Greek.
    assert not [e for e in paragraphs[5].iter() if e.get("lang")]


def test_latin_passages_and_code_in_a_right_to_left_book(tmp_path):
    path = write_book(tmp_path, """
        این یک متن فارسی است که برای آزمایش نوشته شده.

        This is a whole paragraph written in English inside a Persian book.

        `code here` و متن.
        """, language="fa")
    root = tree(parse(path).sections[-1])
    paragraphs = root.findall("x:p", XHTML)
    assert paragraphs[0].get("lang") is None
    assert (paragraphs[1].get("lang"), paragraphs[1].get("dir")) == ("en", "ltr")
    assert paragraphs[2].find(".//x:code", XHTML).get("dir") == "ltr"


def test_a_passage_in_another_language_of_the_same_script_gets_lang(tmp_path):
    path = write_book(tmp_path, """
        Dieses Kapitel erklärt, wie ein Projekt seine Mitwirkenden gut begleitet.

        > Open source is not just about code: it is about the people who build it together.

        Das Team nutzt Pull Requests, Issues und ein Code Review für jedes Feature im Repository.

        Thank you very much.
        """, language="de")
    paragraphs = tree(parse(path).sections[-1]).findall(".//x:p", XHTML)
    said = {"".join(p.itertext()).split()[0]: p.get("lang") for p in paragraphs}
    # The English quote is marked; German with English loanwords (the identifier
    # is 0.99 sure only of the quote) and a short phrase are the book's language.
    assert said == {"Dieses": None, "Open": "en", "Das": None, "Thank": None}
    # Its sentences are English for every later stage (voice, normalization, proof).
    sentences = {s.plain_text().split()[0]: s.language for s in parse(path).sections[-1].sentences}
    assert sentences["Open"] == "en" and sentences["Das"] in ("", "de")


def test_a_british_paragraph_in_an_american_book_is_not_another_language(tmp_path):
    path = write_book(tmp_path, """
        The colour of the neighbourhood changed when the centre was rebuilt last autumn.
        """, language="en-US")
    assert not [e for e in tree(parse(path).sections[-1]).iter() if e.get("lang")]


def test_language_identification_within_a_script():
    assert identify("این یک متن فارسی است که برای آزمایش نوشته شده", "Arab") == "fa"
    assert identify("هذا نص عربي مكتوب للاختبار", "Arab") == "ar"
    assert identify("Українська мова є державною мовою України", "Cyrl") == "uk"
    assert identify("ދިވެހި", "Thaa") == "dv"  # no identifier model: CLDR's likely language
    assert identify("ひらがなとカタカナ", "Jpan") == "ja"
    assert identify("Go", "Latn") == ""  # too short to tell


# --------------------------------------------------------------------------- links


def test_a_link_cut_by_a_sentence_end_stays_one_named_link(tmp_path):
    path = write_book(tmp_path, "Read [the guide. It is short. ](https://example.org/g) Go on.\n")
    section = parse(path).sections[-1]
    links = re.findall(r"<a [^>]*>(.*?)</a>", section.body_html)
    assert len(links) == 1 and links[0].strip()
    assert "the guide. It is short." in links[0]
    # Its sentences are said as one, so the link is one highlight in the read-along.
    assert any("the guide. It is short." in s.spoken for s in section.sentences)


# --------------------------------------------------------------------------- landmarks


def test_landmarks_in_one_document_are_unique(tmp_path):
    path = write_book(tmp_path, """
        Some text.

        <aside class="pquote">A pull quote.</aside>

        <aside>First aside words here.</aside>

        <aside>Second aside words here.</aside>

        <aside>Second aside words here.</aside>
        """)
    root = tree(parse(path).sections[-1])
    asides = root.findall(".//x:aside", XHTML)
    assert asides[0].get("role") == "doc-pullquote" and asides[0].get("aria-label") is None
    labels = [a.get("aria-label") for a in asides[1:]]
    assert labels[0] == "Aside: First aside words here."
    assert len(set(labels)) == 3 and all(labels)
