"""Tests for publisher.transcripts: WebVTT transcripts and JSON chapters per section.

One small book is narrated once with the fake engine (module fixture); every
test reads the files written from it.
"""

from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path

import pytest
import webvtt

from publisher.build import load_book
from publisher.model import Publication, Section, SectionAudio, Sentence, Timing
from publisher.options import BuildOptions
from publisher.transcripts import (
    CHAPTERS_VERSION,
    chapters_href,
    section_chapters,
    transcript_href,
    vtt_timestamp,
    write_transcripts,
)
from tests.helpers import FIXTURES, narrated_publication

BODY = """\
## Getting started

Fish & chips cost less than &lt;ten&gt; pounds: `a-->b`. A second sentence here.

### A smaller part

Text under the smaller part.

### Another part

More text > less text, said the note.[^1]

    <b>code</b> & more

    after a blank line

[^1]: The note's own text.

## The second section

Only one paragraph here.
"""


def publish(folder: Path, **front: object) -> Publication:
    """Parse and narrate a small book with the fake engine into ``folder / 'out'``."""
    return narrated_publication(folder, BODY, author="Ada Example", **front)


def section_titled(pub: Publication, title: str) -> tuple[Section, SectionAudio]:
    section = next(s for s in pub.book.sections if s.title == title)
    return section, next(a for a in pub.audio if a.section_id == section.id)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Publication, list[Path]]:
    pub = publish(tmp_path_factory.mktemp("book"))
    return pub, write_transcripts(pub)


def test_one_transcript_and_one_chapters_file_per_section(published):
    pub, files = published
    expected = [pub.out_dir / transcript_href(s) for s in pub.book.sections]
    expected += [pub.out_dir / chapters_href(s) for s in pub.book.sections]
    assert files == expected
    assert all(p.is_file() for p in files)
    assert transcript_href(pub.book.sections[0]) == \
        f"transcripts/{pub.book.sections[0].basename}.vtt"


def test_cues_are_sentences_with_their_timings(published):
    pub, _ = published
    for section, audio in zip(pub.book.sections, pub.audio, strict=True):
        cues = webvtt.read(str(pub.out_dir / transcript_href(section)))
        assert [c.identifier for c in cues] == [s.id for s in section.sentences]
        for cue, timing in zip(cues, audio.timings, strict=True):
            assert cue.identifier == timing.sentence_id
            assert abs(_ms(cue.start) - timing.start_ms) <= 1
            assert abs(_ms(cue.end) - timing.end_ms) <= 1


def test_cue_text_is_the_display_text_escaped(published):
    pub, _ = published
    section, _ = section_titled(pub, "Getting started")
    cues = webvtt.read(str(pub.out_dir / transcript_href(section)))
    blocks = {s.id: b for b in section.blocks for s in b.sentences}
    for cue, sentence in zip(cues, section.sentences, strict=True):
        keep = blocks[sentence.id].kind == "code"
        assert html.unescape(cue.text) == sentence.plain_text(keep)
    texts = [html.unescape(c.text) for c in cues]
    assert "Fish & chips cost less than <ten> pounds: a-->b." in texts
    # The footnote reference number is navigation, not text.
    assert "More text > less text, said the note." in texts

    raw = (pub.out_dir / transcript_href(section)).read_text(encoding="utf-8")
    assert raw.startswith("WEBVTT\n\n")
    assert "Fish &amp; chips cost less than &lt;ten&gt; pounds: a--&gt;b." in raw
    for line in raw.splitlines():
        assert "<" not in line
        assert "-->" not in line or line.count(":") == 4  # only timing lines
    # A blank line would end a cue: the code block's empty line is dropped.
    assert "&lt;b&gt;code&lt;/b&gt; &amp; more\nafter a blank line\n" in raw


def test_display_text_not_spoken_text(published):
    pub, _ = published
    section, _ = section_titled(pub, "Getting started")
    sentence = section.sentences[1]
    assert sentence.spoken != sentence.html
    assert sentence.plain_text().startswith("Fish & chips")


def test_chapters_json(published):
    pub, _ = published
    section, audio = section_titled(pub, "Getting started")
    document = json.loads((pub.out_dir / chapters_href(section)).read_text(encoding="utf-8"))
    assert document["version"] == CHAPTERS_VERSION == "1.2.0"
    assert document["fileName"] == audio.path.name
    assert document["author"] == "Ada Example"
    chapters = document["chapters"]
    assert [c["title"] for c in chapters] == ["Getting started", "A smaller part",
                                             "Another part"]
    assert chapters[0]["startTime"] == 0
    starts = [c["startTime"] for c in chapters]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    # A heading's chapter starts with the heading's own words.
    first = section.heading_sentences()
    timings = {t.sentence_id: t for t in audio.timings}
    for heading, chapter in zip(section.headings, chapters[1:], strict=True):
        assert chapter["startTime"] == timings[first[heading.id]].start_ms / 1000


def test_every_chapters_file_ascends_from_zero(published):
    pub, _ = published
    for section in pub.book.sections:
        chapters = json.loads((pub.out_dir / chapters_href(section)).read_bytes())["chapters"]
        starts = [c["startTime"] for c in chapters]
        assert starts[0] == 0
        assert all(a < b for a, b in zip(starts, starts[1:], strict=False))


def test_same_input_same_bytes(published, tmp_path):
    pub, files = published
    again = write_transcripts(dataclasses.replace(pub, out_dir=tmp_path))
    assert [p.relative_to(tmp_path) for p in again] == \
        [p.relative_to(pub.out_dir) for p in files]
    for first, second in zip(files, again, strict=True):
        assert first.read_bytes() == second.read_bytes()


def test_heading_sentences_follow_document_order():
    book = load_book(FIXTURES / "headings.md", BuildOptions(engine="fake"))
    section = next(s for s in book.sections if s.title == "Skipped levels")
    first = section.heading_sentences()
    by_text = {s.html: s.id for s in section.sentences}
    assert first == {"straight-to-level-four": by_text["Straight to level four"],
                     "and-then-to-level-six": by_text["And then to level six"]}


def test_section_chapters_skip_headings_without_a_later_start():
    book = load_book(FIXTURES / "headings.md", BuildOptions(engine="fake"))
    section = next(s for s in book.sections if s.headings)
    # Every sentence at 0: only the section's own chapter can start there.
    audio = SectionAudio(section_id=section.id, path=Path("x.mp3"), duration_ms=10,
                         sample_rate_hz=22050,
                         timings=tuple(Timing(s.id, 0, 10) for s in section.sentences))
    assert section_chapters(section, audio) == ((0, section.title),)


def test_display_text_drops_footnote_marks_and_reads_images():
    notes = load_book(FIXTURES / "footnotes.md", BuildOptions(engine="fake"))
    texts = [s.plain_text() for s in notes.sentences]
    assert "Harm reduction is an approach to health." in texts
    assert not any("↩" in t for t in texts)
    images = load_book(FIXTURES / "images.md", BuildOptions(engine="fake"))
    texts = [s.plain_text() for s in images.sentences]
    assert "An image inside a sentence: here is a dot a small red circle in the text." in texts


def test_display_text_keeps_no_break_spaces():
    sentence = Sentence(id="s-1", html="«\u00a0Où\u202f?\u00a0»\n<em>dit-elle</em>", spoken="")
    assert sentence.plain_text() == "«\u00a0Où\u202f?\u00a0» dit-elle"


def test_vtt_timestamp():
    assert vtt_timestamp(0) == "00:00:00.000"
    assert vtt_timestamp(3_723_004) == "01:02:03.004"


def _ms(timestamp: str) -> int:
    hours, minutes, seconds = timestamp.split(":")
    return round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * 1000)
