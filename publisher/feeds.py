"""The podcast feed: one RSS 2.0 episode per section, with iTunes and Podcasting 2.0 tags.

    feed.xml
      channel: title, link, description (+ content note), language, copyright,
               itunes: author, image, category, explicit=false, type=serial
               podcast: guid, medium=audiobook, locked=no, person (each narrator,
               when the book has several voices)
      item per section, in book order:
               title, description (opening sentences), enclosure (exact bytes),
               guid (urn:uuid, stable), pubDate, itunes: title, episode, duration
               podcast: transcript (WebVTT captions), chapters (JSON)

Built with feedgen and its podcast (iTunes) extension; the Podcasting 2.0
tags come from a small feedgen extension here, so the XML is always built by
lxml, never by editing text.

Determinism: every date derives from ``pub.modified`` (SOURCE_DATE_EPOCH),
never the clock. Episode n of N is dated ``modified - (N - n) minutes``, so
apps that sort by date keep book order and every episode has its own date.

Without a base URL the feed still validates, with URLs under
``https://example.invalid/<slug>``, and :func:`feed_warnings` says so.
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from .layout import (
    CHAPTERS_MEDIA_TYPE,
    FEED_NAME,
    chapters_href,
    cover_filename,
    relative_href,
    transcript_href,
)
from .model import Publication, Section, SectionAudio

__all__ = [
    "APPLE_CATEGORIES",
    "DEFAULT_CATEGORY",
    "FEED_NAME",
    "PODCAST_NS",
    "episode_guid",
    "feed_category",
    "feed_url",
    "feed_warnings",
    "feed_xml",
    "guid_for_feed_url",
    "podcast_guid",
    "public_base",
    "write_feed",
]

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
#: The UUIDv5 namespace the Podcasting 2.0 spec fixes for podcast:guid.
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
PLACEHOLDER_BASE = "https://example.invalid"
NO_BASE_URL_WARNING = ("feed.xml needs a base URL to be published: set base_url in the "
                       "front matter or pass --base-url")

#: Apple Podcasts categories and their subcategories (Apple's list, 2019 onwards).
APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": ("Careers", "Entrepreneurship", "Investing", "Management", "Marketing",
                 "Non-Profit"),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": ("Alternative Health", "Fitness", "Medicine", "Mental Health",
                         "Nutrition", "Sexuality"),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": ("Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
                "Home & Garden", "Video Games"),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": ("Business News", "Daily News", "Entertainment News", "News Commentary",
             "Politics", "Sports News", "Tech News"),
    "Religion & Spirituality": ("Buddhism", "Christianity", "Hinduism", "Islam", "Judaism",
                                "Religion", "Spirituality"),
    "Science": ("Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
                "Natural Sciences", "Nature", "Physics", "Social Sciences"),
    "Society & Culture": ("Documentary", "Personal Journals", "Philosophy", "Places & Travel",
                          "Relationships"),
    "Sports": ("Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf",
               "Hockey", "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball",
               "Wilderness", "Wrestling"),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews",
                  "TV Reviews"),
}
#: A book read aloud, when no subject names an Apple category.
DEFAULT_CATEGORY = ("Arts", "Books")

_ENTITY_LIKE = re.compile(r"&(?=#?\w+;)")

DESCRIPTION_MAX_CHARS = 400
DESCRIPTION_MAX_SENTENCES = 3


# --------------------------------------------------------------------------- public


def write_feed(pub: Publication) -> list[Path]:
    """Write ``feed.xml``: a podcast with one episode per section, in book order.

    Returns ``[out_dir / "feed.xml"]``. Enclosure lengths are the sizes of the
    audio files in ``pub.out_dir``, so write this after the audio. The cover
    (``cover.jpg``) and the transcripts and chapters it links to are written by
    :func:`publisher.cover.write_cover` and
    :func:`publisher.transcripts.write_transcripts`.
    """
    path = pub.out_dir / FEED_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(feed_xml(pub))
    return [path]


def feed_warnings(pub: Publication) -> list[str]:
    """What keeps feed.xml from being published as it is (the caller logs these)."""
    warnings = []
    if not pub.base_url:
        warnings.append(NO_BASE_URL_WARNING)
    if pub.cover is None:
        warnings.append("feed.xml has no cover image: podcast directories require one; "
                        "set 'cover' in the front matter or let the build generate one.")
    return warnings


def public_base(pub: Publication) -> str:
    """The URL of the output folder once published (a placeholder without a base URL)."""
    base = pub.base_url.rstrip("/")
    return base or f"{PLACEHOLDER_BASE}/{pub.book.meta.slug}"


def feed_url(pub: Publication) -> str:
    """The feed's own address (its ``atom:link rel=self``)."""
    return f"{public_base(pub)}/{FEED_NAME}"


def podcast_guid(pub: Publication) -> str:
    """podcast:guid: UUIDv5 of the feed URL without scheme and trailing slashes.

    That is the Podcasting 2.0 rule. Without a base URL there is no real feed
    URL, so the book identifier is the seed instead.
    """
    if pub.base_url:
        return guid_for_feed_url(feed_url(pub))
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, pub.book.meta.identifier))


def guid_for_feed_url(url: str) -> str:
    """The Podcasting 2.0 podcast:guid of a feed URL."""
    seed = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", url.strip()).rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, seed))


def episode_guid(identifier: str, section: Section) -> str:
    """An episode's guid: ``urn:uuid:`` + UUIDv5 of the book identifier and section id.

    It depends on nothing that a rebuild, a new base URL or new audio changes,
    so apps never see an episode twice.
    """
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{identifier}#{section.id}"))


def feed_category(subjects: tuple[str, ...]) -> tuple[str, str]:
    """(category, subcategory or '') for itunes:category.

    The first front matter subject that names an Apple category or
    subcategory (case and ``and``/``&`` aside) wins, e.g. "Mental health" ->
    Health & Fitness > Mental Health; otherwise Arts > Books.
    """
    def key(text: str) -> str:
        return re.sub(r"\s+", " ", text.lower().replace("&", "and")).strip()

    for subject in subjects:
        wanted = key(subject)
        for category, subcategories in APPLE_CATEGORIES.items():
            if key(category) == wanted:
                return category, ""
            for subcategory in subcategories:
                if key(subcategory) == wanted:
                    return category, subcategory
    return DEFAULT_CATEGORY


# --------------------------------------------------------------------------- the feed


def feed_xml(pub: Publication) -> bytes:
    """The RSS document, as UTF-8 bytes."""
    meta = pub.book.meta
    base = public_base(pub)
    episodes = pub.sections_with_audio
    modified = pub.modified
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=_dt.timezone.utc)  # feedgen needs an aware time

    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.register_extension("podcastindex", PodcastIndexExtension, PodcastIndexEntryExtension,
                          atom=False, rss=True)
    fg.title(meta.title)
    # feedgen takes the channel <link> from the last link given: the self link goes first.
    fg.link(href=feed_url(pub), rel="self", type="application/rss+xml")
    fg.link(href=f"{base}/", rel="alternate")
    fg.description(_html_safe(_channel_description(pub)))
    fg.language(meta.language)
    if meta.rights:
        fg.copyright(meta.rights)
    fg.generator("publisher")
    # feedgen stamps lastBuildDate with the clock; the book's date keeps bytes stable.
    fg.lastBuildDate(modified)
    fg.pubDate(modified)
    if pub.cover is not None:
        cover_url = _url(base, cover_filename(pub.cover))
        fg.image(url=cover_url, title=meta.title, link=f"{base}/")
        fg.podcast.itunes_image(cover_url)
    author = ", ".join(meta.authors) or meta.publisher
    if author:
        fg.podcast.itunes_author(author)
    category, subcategory = feed_category(meta.subjects)
    fg.podcast.itunes_category(
        {"cat": category, "sub": subcategory} if subcategory else {"cat": category})
    fg.podcast.itunes_type("serial")
    fg.podcastindex.itunes_explicit(False)
    fg.podcastindex.guid(podcast_guid(pub))
    fg.podcastindex.medium("audiobook")
    fg.podcastindex.locked(False)
    for narrator in pub.narrators:  # several voices: each is credited (one: the description)
        fg.podcastindex.person(narrator)

    total = len(episodes)
    for number, (section, audio) in enumerate(episodes, start=1):
        entry = fg.add_entry(order="append")
        entry.title(section.title)
        entry.description(_html_safe(_episode_description(section)))
        entry.guid(episode_guid(meta.identifier, section), permalink=False)
        entry.enclosure(_url(base, relative_href(pub.out_dir, audio.path)),
                        str(audio.path.stat().st_size), "audio/mpeg")
        entry.pubDate(modified - _dt.timedelta(minutes=total - number))
        entry.podcast.itunes_title(section.title)
        entry.podcast.itunes_episode(number)
        entry.podcast.itunes_episode_type("full")
        entry.podcast.itunes_duration(_duration_s(audio))
        entry.podcastindex.transcript(_url(base, transcript_href(section)), "text/vtt",
                                      rel="captions", language=meta.language)
        entry.podcastindex.chapters(_url(base, chapters_href(section)), CHAPTERS_MEDIA_TYPE)
    return fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)


def _channel_description(pub: Publication) -> str:
    meta = pub.book.meta
    parts = [meta.description or (f"{meta.title}: {meta.subtitle}" if meta.subtitle
                                  else meta.title)]
    if meta.content_note:
        # The first thing a listener sees in a directory, before any episode.
        parts.append(f"Content note: {meta.content_note}")
    # Every engine is speech synthesis: listeners are told so, not left to guess.
    parts.append(f"Read aloud by a synthetic voice ({pub.narrator}), one episode per section."
                 if pub.narrator else "Read aloud by a synthetic voice, one episode per section.")
    return "\n\n".join(parts)


def _episode_description(section: Section) -> str:
    """The section's opening sentences as plain text: up to 3, about 400 characters."""
    chosen: list[str] = []
    for text in _opening_texts(section):
        candidate = " ".join([*chosen, text])
        if chosen and len(candidate) > DESCRIPTION_MAX_CHARS:
            break
        chosen.append(text)
        if len(chosen) == DESCRIPTION_MAX_SENTENCES or len(candidate) >= DESCRIPTION_MAX_CHARS:
            break
    if not chosen:
        return section.title
    text = " ".join(chosen)
    if len(text) > DESCRIPTION_MAX_CHARS:
        # One long opening sentence: cut at a word, and say that it goes on.
        text = text[:DESCRIPTION_MAX_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return text


def _opening_texts(section: Section) -> Iterator[str]:
    for block in section.blocks:
        if block.kind == "heading":
            continue  # the episode title already says it
        for sentence in block.sentences:
            text = sentence.plain_text(keep_lines=block.kind == "code")
            if text:
                yield text


def _html_safe(text: str) -> str:
    """Plain text that reads the same whether an app shows it as text or as HTML.

    Most apps render <description> as HTML, so a literal ``<ten>`` would vanish
    as an unknown tag: ``<`` and ``>`` become entities, and so does ``&`` where
    it would start an entity ("Fish & chips" stays as it is).
    """
    text = _ENTITY_LIKE.sub("&amp;", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _duration_s(audio: SectionAudio) -> int:
    return max(1, round(audio.duration_ms / 1000))


def _url(base: str, relative: str) -> str:
    return f"{base}/{quote(relative, safe='/')}"


# --------------------------------------------------------------------------- extension


class PodcastIndexExtension(BaseExtension):
    """Channel tags of the Podcasting 2.0 namespace feedgen does not know.

    Also ``itunes:explicit`` as ``true``/``false``, the values Apple asks for
    now: feedgen 1.0 only accepts the older ``yes``/``no``/``clean``.
    """

    def __init__(self) -> None:
        self._guid: str | None = None
        self._medium: str | None = None
        self._locked: bool | None = None
        self._explicit: bool | None = None
        self._people: list[tuple[str, str, str]] = []

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS}

    def extend_rss(self, feed):  # type: ignore[no-untyped-def]
        channel = feed[0]
        if self._explicit is not None:
            explicit = xml_elem(f"{{{ITUNES_NS}}}explicit", channel)
            explicit.text = "true" if self._explicit else "false"
        if self._guid:
            xml_elem(f"{{{PODCAST_NS}}}guid", channel).text = self._guid
        if self._medium:
            xml_elem(f"{{{PODCAST_NS}}}medium", channel).text = self._medium
        if self._locked is not None:
            xml_elem(f"{{{PODCAST_NS}}}locked", channel).text = "yes" if self._locked else "no"
        for name, role, group in self._people:
            xml_elem(f"{{{PODCAST_NS}}}person", channel, role=role, group=group).text = name
        return feed

    def extend_atom(self, feed):  # type: ignore[no-untyped-def]
        return feed

    def guid(self, value: str) -> None:
        self._guid = value

    def medium(self, value: str) -> None:
        self._medium = value

    def locked(self, value: bool) -> None:
        self._locked = value

    def itunes_explicit(self, value: bool) -> None:
        self._explicit = value

    def person(self, name: str, role: str = "narrator", group: str = "cast") -> None:
        """A ``podcast:person`` (role and group from the Podcasting 2.0 taxonomy)."""
        self._people.append((name, role, group))


class PodcastIndexEntryExtension(BaseEntryExtension):
    """Item tags of the Podcasting 2.0 namespace: transcripts and chapters."""

    def __init__(self) -> None:
        self._transcripts: list[dict[str, str]] = []
        self._chapters: dict[str, str] | None = None

    def extend_rss(self, item):  # type: ignore[no-untyped-def]
        for attributes in self._transcripts:
            xml_elem(f"{{{PODCAST_NS}}}transcript", item, **attributes)
        if self._chapters is not None:
            xml_elem(f"{{{PODCAST_NS}}}chapters", item, **self._chapters)
        return item

    def extend_atom(self, entry):  # type: ignore[no-untyped-def]
        return entry

    def transcript(self, url: str, media_type: str, rel: str = "",
                   language: str = "") -> None:
        attributes = {"url": url, "type": media_type}
        if language:
            attributes["language"] = language
        if rel:
            attributes["rel"] = rel
        self._transcripts.append(attributes)

    def chapters(self, url: str, media_type: str) -> None:
        self._chapters = {"url": url, "type": media_type}
