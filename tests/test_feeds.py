"""Tests for publisher.feeds: the podcast RSS feed (iTunes + Podcasting 2.0 tags).

A small book is narrated with the fake engine (module fixture) and its feed
is read back with feedparser, as podcast apps do, and with lxml for the tags
feedparser does not know.
"""

from __future__ import annotations

import dataclasses
import email.utils
import html
import uuid
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from publisher.cover import write_cover
from publisher.feeds import (
    NO_BASE_URL_WARNING,
    PODCAST_NS,
    episode_guid,
    feed_category,
    feed_warnings,
    guid_for_feed_url,
    podcast_guid,
    write_feed,
)
from publisher.model import Publication
from publisher.transcripts import write_transcripts
from tests.audio_helpers import decode_duration_ms
from tests.helpers import narrated_publication

BASE_URL = "https://books.example.org/test-book"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
NS = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "atom": "http://www.w3.org/2005/Atom"}

BODY = """\
## Getting started

Fish & chips cost less than &lt;ten&gt; pounds, said *the* [guide](https://example.org/).
A second sentence here. A third sentence. A fourth that the description leaves out.

### A smaller part

Text under the smaller part.

## The second section

Only one paragraph here.

## A long opening

This opening sentence goes on and on, well past what a podcast app shows in its list of episodes, because it has a great many words in it, one after another, with commas, and clauses, and more clauses, that a listener scrolling through the episodes would never read to the end, so the description must stop somewhere sensible, at a word, and say that it goes on, rather than cut a word in half or leave the listener with a wall of text to scroll past.
"""


def publish(folder: Path, **front: object) -> Publication:
    """Parse and narrate a small book with the fake engine into ``folder / 'out'``."""
    front = {"author": "Ada Example", "subjects": "[Harm reduction, Mental health]",
             "content_note": "Mentions difficult feelings.", "date": "2024-05-01",
             "base_url": BASE_URL, **front}
    return narrated_publication(folder, BODY, with_cover=True, **front)


def write_all(pub: Publication) -> Path:
    write_cover(pub)
    write_transcripts(pub)
    (feed,) = write_feed(pub)
    return feed


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Publication, Path]:
    pub = publish(tmp_path_factory.mktemp("book"))
    return pub, write_all(pub)


@pytest.fixture(scope="module")
def parsed(published):
    _, feed = published
    return feedparser.parse(feed.read_bytes())


@pytest.fixture(scope="module")
def tree(published):
    _, feed = published
    return etree.fromstring(feed.read_bytes())


def test_feedparser_reads_it_cleanly(published, parsed):
    pub, feed = published
    assert feed == pub.out_dir / "feed.xml"
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert parsed.feed.title == "Test book"
    assert parsed.feed.link == f"{BASE_URL}/"
    assert parsed.feed.language == "en"
    assert parsed.feed.author == "Ada Example"
    assert parsed.feed.image.href == f"{BASE_URL}/cover.jpg"
    assert (pub.out_dir / "cover.jpg").is_file()
    assert "Content note: Mentions difficult feelings." in parsed.feed.description


def test_one_episode_per_section_in_book_order(published, parsed, tree):
    pub, _ = published
    assert [e.title for e in parsed.entries] == [s.title for s in pub.book.sections]
    numbers = [int(n) for n in tree.xpath("channel/item/itunes:episode/text()", namespaces=NS)]
    assert numbers == list(range(1, len(pub.book.sections) + 1))
    assert tree.xpath("channel/itunes:type/text()", namespaces=NS) == ["serial"]


def test_enclosures_are_absolute_with_exact_lengths(published, parsed):
    pub, _ = published
    for entry, section, audio in zip(parsed.entries, pub.book.sections, pub.audio,
                                     strict=True):
        (enclosure,) = entry.enclosures
        assert enclosure.href == f"{BASE_URL}/audio/{section.basename}.mp3"
        assert enclosure.type == "audio/mpeg"
        assert int(enclosure.length) == audio.path.stat().st_size


def test_durations_match_the_audio(published, parsed):
    pub, _ = published
    for entry, audio in zip(parsed.entries, pub.audio, strict=True):
        decoded_ms = decode_duration_ms(audio.path)
        assert abs(int(entry.itunes_duration) * 1000 - decoded_ms) <= 500
        assert int(entry.itunes_duration) == round(audio.duration_ms / 1000)


def test_guids_unique_not_permalinks(published, parsed, tree):
    pub, _ = published
    guids = [e.id for e in parsed.entries]
    assert len(set(guids)) == len(guids)
    assert guids == [episode_guid(pub.book.meta.identifier, s) for s in pub.book.sections]
    assert all(g.startswith("urn:uuid:") for g in guids)
    assert set(tree.xpath("channel/item/guid/@isPermaLink")) == {"false"}


def test_second_build_gives_the_same_feed(published, tmp_path):
    pub, feed = published
    again = publish(tmp_path)
    second = write_all(again)
    assert second.read_bytes() == feed.read_bytes()


def test_guids_do_not_depend_on_the_base_url(published, tmp_path):
    pub, _ = published
    moved = dataclasses.replace(pub, out_dir=tmp_path, base_url="https://elsewhere.example")
    for path in pub.out_dir.rglob("*.mp3"):
        target = tmp_path / path.relative_to(pub.out_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    moved = dataclasses.replace(moved, audio=tuple(
        dataclasses.replace(a, path=tmp_path / a.path.relative_to(pub.out_dir))
        for a in pub.audio))
    (feed,) = write_feed(moved)
    parsed = feedparser.parse(feed.read_bytes())
    assert [e.id for e in parsed.entries] == \
        [episode_guid(pub.book.meta.identifier, s) for s in pub.book.sections]


def test_pub_dates_ascend_and_come_from_modified(published, parsed, tree):
    pub, _ = published
    dates = [email.utils.parsedate_to_datetime(e.published) for e in parsed.entries]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert dates[-1] == pub.modified
    last_build = tree.xpath("channel/lastBuildDate/text()")[0]
    assert email.utils.parsedate_to_datetime(last_build) == pub.modified


def test_podcasting_2_tags(published, tree):
    pub, _ = published
    channel = tree.find("channel")
    assert channel.findtext(f"{{{PODCAST_NS}}}medium") == "audiobook"
    assert channel.findtext(f"{{{PODCAST_NS}}}locked") == "no"
    assert channel.findtext(f"{{{PODCAST_NS}}}guid") == \
        guid_for_feed_url(f"{BASE_URL}/feed.xml") == podcast_guid(pub)
    assert channel.findtext(f"{{{ITUNES_NS}}}explicit") == "false"
    items = channel.findall("item")
    assert len(items) == len(pub.book.sections)
    for item, section in zip(items, pub.book.sections, strict=True):
        (transcript,) = item.findall(f"{{{PODCAST_NS}}}transcript")
        assert transcript.get("url") == f"{BASE_URL}/transcripts/{section.basename}.vtt"
        assert transcript.get("type") == "text/vtt"
        assert transcript.get("rel") == "captions"
        (chapters,) = item.findall(f"{{{PODCAST_NS}}}chapters")
        assert chapters.get("url") == f"{BASE_URL}/chapters/{section.basename}.json"
        assert chapters.get("type") == "application/json+chapters"
        for url in (transcript.get("url"), chapters.get("url")):
            assert (pub.out_dir / url.removeprefix(BASE_URL + "/")).is_file()


def test_category_from_the_subjects(tree):
    (category,) = tree.xpath("channel/itunes:category", namespaces=NS)
    assert category.get("text") == "Health & Fitness"
    assert [c.get("text") for c in category] == ["Mental Health"]


def test_episode_descriptions_are_opening_sentences_in_plain_text(parsed):
    # Apps render descriptions as HTML: what they show is the unescaped text.
    descriptions = {e.title: html.unescape(e.description) for e in parsed.entries}
    first = descriptions["Getting started"]
    assert first == ("Fish & chips cost less than <ten> pounds, said the guide. "
                     "A second sentence here. A third sentence.")
    assert descriptions["The second section"] == "Only one paragraph here."
    long = descriptions["A long opening"]
    assert long.endswith("…") and 300 < len(long) <= 401
    assert all(len(d) <= 401 for d in descriptions.values())


def test_feed_without_base_url_uses_a_placeholder_and_warns(tmp_path):
    pub = publish(tmp_path, base_url=None)
    assert pub.base_url == ""
    assert feed_warnings(pub) == [NO_BASE_URL_WARNING]
    assert NO_BASE_URL_WARNING == ("feed.xml needs a base URL to be published: set base_url "
                                   "in the front matter or pass --base-url")
    (feed,) = write_feed(pub)
    parsed = feedparser.parse(feed.read_bytes())
    assert not parsed.bozo
    placeholder = "https://example.invalid/book"
    assert all(e.enclosures[0].href.startswith(placeholder + "/audio/")
               for e in parsed.entries)
    channel = etree.fromstring(feed.read_bytes()).find("channel")
    assert channel.findtext(f"{{{PODCAST_NS}}}guid") == \
        str(uuid.uuid5(uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"),
                       pub.book.meta.identifier))


def test_warnings_when_published_with_a_cover(published):
    pub, _ = published
    assert feed_warnings(pub) == []
    assert any("cover" in w for w in feed_warnings(dataclasses.replace(pub, cover=None)))


def test_podcast_guid_follows_the_spec_examples():
    assert guid_for_feed_url("https://mp3s.nashownotes.com/pc20rss.xml") == \
        "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    assert guid_for_feed_url("http://podnews.net/rss/") == \
        "9b024349-ccf0-5f69-a609-6b82873eab3c"


@pytest.mark.parametrize(("subjects", "expected"), [
    (("Mental health",), ("Health & Fitness", "Mental Health")),
    (("Zines", "health and fitness"), ("Health & Fitness", "")),
    (("self-improvement",), ("Education", "Self-Improvement")),
    (("Harm reduction",), ("Arts", "Books")),
    ((), ("Arts", "Books")),
])
def test_feed_category(subjects, expected):
    assert feed_category(subjects) == expected
