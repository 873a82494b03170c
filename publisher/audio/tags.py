"""Tags: the ID3v2.3 frames of a section MP3 and the iTunes item list of the M4B, by mutagen.

Nothing time- or host-dependent (no encoder version, no date) is written:
the same input gives the same bytes. mutagen is imported when tags are
written, not with this module: a rebuild whose files all come from the
cache never needs it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AudioError, OutputError
from ..model import Publication, Timing

__all__ = ["SectionTags", "write_m4b_tags", "write_tags"]


@dataclass(frozen=True, slots=True)
class SectionTags:
    """What the ID3 tags of a section file say.

    ``language`` is a BCP 47 tag (``en``, ``en-GB``) or an ISO 639-2 code; it is
    written as ISO 639-2 (``eng``). ``year`` is ``YYYY`` (a longer date is cut
    to its year). ``chapters`` are ``(title, start)`` where ``start`` is a time
    in ms from the start of the file, or a sentence id of this section (it then
    starts where that sentence starts).
    """

    title: str
    album: str
    artist: str = ""
    narrator: str = ""
    #: Each voice heard, when there are several (then written one by one, as ID3
    #: v2.3 multiple values); empty: ``narrator`` alone.
    narrators: tuple[str, ...] = ()
    track_number: int = 0
    track_total: int = 0
    language: str = ""
    year: str = ""
    description: str = ""
    genre: str = "Audiobook"
    publisher: str = ""
    copyright: str = ""
    #: Cover art for APIC: JPEG (a PNG is recognised and labelled as such).
    cover_jpeg: bytes | None = field(default=None, repr=False)
    chapters: tuple[tuple[str, int | str], ...] = ()


def write_tags(path: Path, tags: SectionTags, *, duration_ms: int,
               timings: Sequence[Timing] = ()) -> None:
    """Replace the ID3 tags of the MP3 at ``path`` with ID3v2.3 tags from ``tags``.

    The author is TPE1 and TPE2 (album artist, which keeps a book's files
    together in players). The narrator is TCOM (composer), the audiobook
    community's convention (mp3tag's Audible sources, Audiobookshelf), and
    TXXX:NARRATOR for tools that look for it by name. Chapter frames (CHAP and
    a top-level, ordered CTOC) are written when ``tags.chapters`` is not empty:
    a chapter ends where the next starts, the last at ``duration_ms``, and a
    first chapter that starts at or before the first sentence starts at 0, so
    the chapters cover the file. Nothing time- or host-dependent (no encoder
    version, no date) is written: the same input gives the same bytes.
    """
    # Imported here, not with the module: a build whose files come from the cache
    # never writes tags (see the module docstring).
    from mutagen import MutagenError
    from mutagen.id3 import (
        APIC,
        COMM,
        ID3,
        TALB,
        TCOM,
        TCON,
        TCOP,
        TDRC,
        TIT2,
        TLAN,
        TLEN,
        TPE1,
        TPE2,
        TPUB,
        TRCK,
        TXXX,
        PictureType,
    )

    frames: list[object] = [TIT2(encoding=3, text=tags.title),
                            TALB(encoding=3, text=tags.album),
                            TLEN(encoding=3, text=str(duration_ms))]
    if tags.genre:
        frames.append(TCON(encoding=3, text=tags.genre))
    if tags.artist:
        frames += [TPE1(encoding=3, text=tags.artist), TPE2(encoding=3, text=tags.artist)]
    if tags.narrator:
        credited = list(tags.narrators) or [tags.narrator]
        frames += [TCOM(encoding=3, text=credited),
                   TXXX(encoding=3, desc="NARRATOR", text=credited)]
    if tags.track_number:
        total = f"/{tags.track_total}" if tags.track_total else ""
        frames.append(TRCK(encoding=3, text=f"{tags.track_number}{total}"))
    lang = _iso639_2(tags.language) if tags.language else ""
    if lang:
        frames.append(TLAN(encoding=3, text=lang))
    if tags.year:
        if not re.match(r"\d{4}", tags.year):
            raise AudioError(f"Tag year {tags.year!r} for {path.name} is not a year: "
                             "give the date as YYYY or YYYY-MM-DD.")
        frames.append(TDRC(encoding=3, text=tags.year[:4]))
    if tags.description:
        frames.append(COMM(encoding=3, lang=lang or "und", desc="", text=tags.description))
    if tags.publisher:
        frames.append(TPUB(encoding=3, text=tags.publisher))
    if tags.copyright:
        frames.append(TCOP(encoding=3, text=tags.copyright))
    if tags.cover_jpeg:
        mime = "image/png" if tags.cover_jpeg.startswith(b"\x89PNG") else "image/jpeg"
        frames.append(APIC(encoding=3, mime=mime, type=PictureType.COVER_FRONT,
                           desc="Cover", data=tags.cover_jpeg))
    frames += _chapter_frames(tags.chapters, duration_ms, timings, path)

    id3 = ID3()
    for frame in frames:
        id3.add(frame)
    # mutagen builds v2.4 frames; this turns them into v2.3 ones (TDRC -> TYER).
    id3.update_to_v23()
    try:
        id3.save(path, v2_version=3, v1=0)
    except (OSError, MutagenError) as exc:
        raise OutputError(f"Could not write tags to {path}: {exc}") from exc


def _chapter_frames(chapters: Sequence[tuple[str, int | str]], duration_ms: int,
                    timings: Sequence[Timing], path: Path) -> list[object]:
    """CHAP frames (one per chapter) and the CTOC that orders them."""
    if not chapters:
        return []
    from mutagen.id3 import CHAP, CTOC, TIT2, CTOCFlags  # here: see write_tags

    start_by_id = {t.sentence_id: t.start_ms for t in timings}
    resolved: list[tuple[int, str]] = []
    for title, start in chapters:
        if isinstance(start, str):
            if start not in start_by_id:
                raise AudioError(f"Chapter {title!r} of {path.name} starts at sentence "
                                 f"{start!r}, which is not in this section's audio.")
            start_ms = start_by_id[start]
        else:
            start_ms = int(start)
        if not 0 <= start_ms < duration_ms:
            raise AudioError(f"Chapter {title!r} of {path.name} starts at {start_ms} ms, "
                             f"outside the file (0-{duration_ms} ms).")
        resolved.append((start_ms, title))
    resolved.sort(key=lambda c: c[0])  # stable: equal starts keep the given order
    if timings and resolved[0][0] <= timings[0].start_ms:
        # The head room tone belongs to the first chapter: chapters cover the file.
        resolved[0] = (0, resolved[0][1])
    frames: list[object] = []
    ids = []
    for index, (start_ms, title) in enumerate(resolved):
        end_ms = resolved[index + 1][0] if index + 1 < len(resolved) else duration_ms
        element_id = f"chp{index}"
        ids.append(element_id)
        # 0xFFFFFFFF byte offsets mean "use the times" (ID3v2 chapter addendum).
        frames.append(CHAP(element_id=element_id, start_time=start_ms, end_time=end_ms,
                           start_offset=0xFFFFFFFF, end_offset=0xFFFFFFFF,
                           sub_frames=[TIT2(encoding=3, text=title)]))
    frames.append(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                       child_element_ids=ids, sub_frames=[TIT2(encoding=3, text="Chapters")]))
    return frames


def _iso639_2(language: str) -> str:
    """ISO 639-2 code (terminology variant, as ISO 639-3 uses) for a BCP 47 tag."""
    if re.fullmatch(r"[a-zA-Z]{3}", language):
        return language.lower()
    import langcodes  # only needed for tags, and slow-ish to import

    try:
        return str(langcodes.Language.get(language).to_alpha3())
    except (LookupError, ValueError) as exc:
        raise AudioError(f"Language {language!r} has no ISO 639-2 code for the MP3 tags: "
                         "use a BCP 47 tag such as 'en' or 'en-GB'.") from exc


def write_m4b_tags(dest: Path, pub: Publication) -> None:
    """Write the iTunes item list of the audiobook at ``dest``: title, author, narrator, cover ..."""
    # Imported here: see write_tags.
    from mutagen import MutagenError
    from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm

    meta = pub.book.meta
    authors = ", ".join(meta.authors)
    tags: dict[str, list[object]] = {
        "\xa9nam": [meta.title],
        "\xa9alb": [meta.title],
        "\xa9gen": ["Audiobook"],
        "stik": [2],
        "pgap": [True],  # gapless: the sections follow one another without a gap
    }
    if authors:
        tags["\xa9ART"] = [authors]
        tags["aART"] = [authors]
    if pub.narrator:
        credited: list[object] = list(pub.credited)
        tags["\xa9nrt"] = credited
        tags["\xa9wrt"] = list(credited)
        tags["----:com.apple.iTunes:NARRATOR"] = [MP4FreeForm(name.encode("utf-8"))
                                                  for name in pub.credited]
    year = (meta.date or pub.modified.strftime("%Y"))[:4]
    tags["\xa9day"] = [year]
    if meta.description:
        tags["desc"] = [meta.description]
        tags["ldes"] = [meta.description]
    if meta.publisher:
        tags["\xa9pub"] = [meta.publisher]
    if meta.rights:
        tags["cprt"] = [meta.rights]
    tags["----:com.apple.iTunes:LANGUAGE"] = [MP4FreeForm(meta.language.encode("utf-8"))]
    tags["----:com.apple.iTunes:ISBN" if meta.identifier.lower().startswith("urn:isbn:")
         else "----:com.apple.iTunes:IDENTIFIER"] = [
        MP4FreeForm(meta.identifier.encode("utf-8"))]
    if pub.cover is not None:
        kind = (MP4Cover.FORMAT_PNG if pub.cover.media_type == "image/png"
                else MP4Cover.FORMAT_JPEG)
        tags["covr"] = [MP4Cover(pub.cover.data, imageformat=kind)]
    try:
        mp4 = MP4(str(dest))
        if mp4.tags is None:
            mp4.add_tags()
        assert mp4.tags is not None
        mp4.tags.clear()
        for key in sorted(tags):
            mp4.tags[key] = tags[key]
        mp4.save()
    except MutagenError as exc:
        raise AudioError(f"Could not tag the audiobook {dest.name}: {exc}") from exc
