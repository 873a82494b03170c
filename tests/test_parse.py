"""Markdown -> Book: sections, sentences, ids, spoken text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from publisher.errors import SourceError
from publisher.parse import parse_book
from publisher.source import read_manuscript

from .helpers import FIRST_BOOK, FIXTURES, SEED, fixture_books, write_book

STATEMENTS = [
    "Self-harm is not the same as suicidal ideation or an attempt.",
    "Some forms of self-harm are more socially acceptable than others.",
    "NSSI is an effective emotion relief strategy with a spectrum of harmful impacts on "
    "the bodymind.",
    "Self-harm can get our needs met, and people do it for many different reasons.",
    "The act of self-harm is not manipulative or attention-seeking; though, like anything "
    "else, it can be weaponized for harmful purposes.",
    "Research shows:",
    "Bodily injury can provide temporary relief from emotional suffering.",
    "Harm reduction is often a much better approach than pressuring others or ourselves "
    "to stop completely or at once.",
]
MARKUP = ["#", "*", "_", "[", "](", "<", "http"]


def parse(path: Path):
    return parse_book(read_manuscript(path))


def _words(text: str) -> list[str]:
    text = re.sub(r"\[([^\]]*)\]\(#\)", r"\1", text)  # placeholder links -> their text
    text = re.sub(r"[*\"“”‘’'`]", "", text)
    text = text.replace("–", " ").replace("—", " ")
    return re.findall(r"[^\W_]+(?:[-/][^\W_]+)*|[+:;,.!?()]", text)


def test_first_book_has_its_eight_statements_as_sections_in_order():
    book = parse(FIRST_BOOK)
    body = [s for s in book.sections if s.role == "body"]
    assert [s.title for s in body] == STATEMENTS
    assert book.sections[0].role == "content-note"
    assert "self-harm and suicide" in book.sections[0].sentences[1].spoken


def test_first_book_keeps_every_word_of_the_seed_in_order():
    """Nothing is dropped, added or garbled: the book's words are the zine's words."""
    book = parse(FIRST_BOOK)
    shown = " ".join(etree.fromstring(f"<x>{s.html}</x>").xpath("string()")
                     for sec in book.sections if sec.role != "content-note"
                     for s in sec.sentences)
    seed = SEED.read_text(encoding="utf-8")
    seed = seed.replace("sources:", "sources:")  # same words, same order
    assert _words(shown) == _words(seed)


def test_sources_and_research_lists_stay_lists_without_fake_links():
    text = FIRST_BOOK.read_text(encoding="utf-8")
    assert "](#)" not in text
    book = parse(FIRST_BOOK)
    title = book.sections[1]
    assert title.role == "titlepage"
    assert title.body_html.count("<li>") == 3
    research = next(s for s in book.sections if s.title == "Research shows:")
    assert research.body_html.count("<li>") == 5
    assert all(b.structure == "list" for b in research.blocks if b.kind == "list-item")


def test_sentence_ids_are_unique_xml_names_and_stable(tmp_path):
    first = parse(FIRST_BOOK)
    ids = [s.id for s in first.sentences]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", i) for i in ids)
    assert [s.id for s in parse(FIRST_BOOK).sentences] == ids


def test_editing_one_paragraph_keeps_every_other_id(tmp_path):
    original = FIRST_BOOK.read_text(encoding="utf-8")
    edited = original.replace("Self-harm can be cyclical.", "Self-harm can be cyclical, too.")
    assert edited != original
    path = tmp_path / "book.md"
    path.write_text(edited, encoding="utf-8")
    before = [s.id for s in parse(FIRST_BOOK).sentences]
    after = [s.id for s in parse(path).sentences]
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1


def test_emphasis_across_a_sentence_boundary_is_split_into_well_formed_spans(tmp_path):
    path = write_book(tmp_path, "Intro. *First sentence. Second sentence.* After.\n")
    book = parse(path)
    html = "".join(s.body_html for s in book.sections)
    root = etree.fromstring(f"<div>{html}</div>")
    spans = root.xpath("//p//span[@id]")  # text before any heading is on the title page
    texts = ["".join(s.itertext()) for s in spans]
    assert texts == ["Intro.", "First sentence.", "Second sentence.", "After."]
    assert [len(s.xpath(".//em")) for s in spans] == [0, 1, 1, 0]


def test_spoken_text_never_contains_markup(tmp_path):
    path = write_book(tmp_path, """
        # Heading with *emphasis*

        A [link](https://example.org/page) and <https://example.com/x> and **bold** and
        `code_name` and and/or with 50% + 3 e.g. this[^1].

        | a | b |
        |---|---|
        | *x* | [y](https://y.org) |

        [^1]: A note with a [link](https://z.org).
        """)
    book = parse(path)
    for sentence in book.sentences:
        for mark in MARKUP:
            assert mark not in sentence.spoken, (mark, sentence.spoken)
    spoken = " ".join(s.spoken for s in book.sentences)
    assert "and or" in spoken and "fifty percent plus three" in spoken and "for example" in spoken
    assert "example dot org" not in spoken  # link text is said, not its address
    assert "example dot com" in spoken  # a bare address is said as its site


@pytest.mark.parametrize("fixture", fixture_books())
def test_fixture_spoken_text_has_no_markup(fixture):
    book = parse(FIXTURES / fixture)  # error cases live in fixtures/bad/
    for sentence in book.sentences:
        for mark in MARKUP:
            assert mark not in sentence.spoken, (fixture, mark, sentence.spoken)


def test_hostile_html_is_removed(tmp_path):
    path = write_book(tmp_path, """
        Hello <b onclick="steal()">there</b>.

        <script>alert(1)</script>
        <iframe src="https://evil.example"></iframe>
        <a href="javascript:alert(1)">click</a> <form><input name=x></form>
        <svg><script>alert(2)</script></svg>
        """)
    html = "".join(s.body_html for s in parse(path).sections)
    for bad in ("script", "onclick", "javascript:", "iframe", "<form", "<input", "<svg",
                "alert"):
        assert bad not in html


def test_images_are_spoken_as_their_alt_text_and_missing_ones_are_their_alt_text(tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 4), "white").save(tmp_path / "pic.png")
    path = write_book(tmp_path, "![A white square](pic.png)\n\nText.\n")
    book = parse(path)
    assert [s.spoken for s in book.sentences][-2:] == ["A white square", "Text."]
    assert book.images[0].href.endswith(".png")
    # A missing image, or one outside the folder, never stops the build (issue 15):
    # its alt text stands in its place, with a warning (fatal only with --strict).
    missing = parse(write_book(tmp_path, "![A gone picture](nope.png)\n", name="missing.md"))
    assert any("'nope.png' does not exist" in w for w in missing.warnings)
    assert "A gone picture" in [s.spoken for s in missing.sentences]
    assert not missing.images
    escape = parse(write_book(tmp_path, "![x](../../etc/passwd)\n", name="escape.md"))
    assert any("outside the book's folder" in w for w in escape.warnings)
    assert not escape.images


def test_warnings_for_placeholder_links_missing_alt_and_skipped_levels(tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 4), "white").save(tmp_path / "pic.png")
    path = write_book(tmp_path, """
        ## One

        A [placeholder](#) link and ![](pic.png) an image.

        #### Skipped
        """)
    warnings = "\n".join(parse(path).warnings)
    assert "placeholder target" in warnings
    assert "has no alt text" in warnings
    assert "skips from 2 to 4" in warnings


def test_heading_with_no_text_is_an_error_with_its_line(tmp_path):
    path = write_book(tmp_path, "Text.\n\n##\n\nMore.\n")
    with pytest.raises(SourceError, match=r"book.md:9: a heading has no text"):
        parse(path)


def test_footnotes_go_to_the_section_that_cites_them(tmp_path):
    path = write_book(tmp_path, """
        ## One

        Cited here[^a].

        ## Two

        Not here.

        [^a]: The note.
        """)
    book = parse(path)
    one, two = [s for s in book.sections if s.role == "body"]
    assert "The note." in one.body_html and 'epub:type="footnote"' in one.body_html
    assert "The note." not in two.body_html
    note = next(b for b in one.blocks if b.structure == "footnote")
    # Announced where it is read; its number is shown, not said twice.
    assert note.sentences[0].spoken == "Note one: The note."
    assert ">1</a> The note." in note.sentences[0].html


def test_a_note_is_announced_in_the_books_language_and_read_once(tmp_path):
    path = write_book(tmp_path, """
        ## Eins

        Hier[^a] und dort[^b].

        ## Zwei

        Wieder hier[^a].

        [^a]: Die Anmerkung.

        [^b]: Die zweite.
        """, language="de")
    book = parse(path)
    one, two = [s for s in book.sections if s.role == "body"]
    notes = [b.sentences[0].spoken for b in one.blocks if b.structure == "footnote"]
    assert notes == ["Anmerkung eins: Die Anmerkung.", "Anmerkung zwei: Die zweite."]
    assert not [b for b in two.blocks if b.structure == "footnote"]


def test_a_line_break_inside_a_paragraph_does_not_split_a_sentence(tmp_path):
    path = write_book(tmp_path, "This sentence is wrapped\nacross two lines. And a second\none.\n")
    spoken = [s.spoken for s in parse(path).sentences][-2:]
    assert spoken == ["This sentence is wrapped across two lines.", "And a second one."]


@pytest.mark.parametrize("fixture", fixture_books())
def test_parsing_twice_gives_the_same_xhtml(fixture):
    """No identity-based bookkeeping may leak into the output (ids, hrefs)."""
    first = [s.body_html for s in parse(FIXTURES / fixture).sections]
    for _ in range(3):
        assert [s.body_html for s in parse(FIXTURES / fixture).sections] == first
