"""The whole book as one chaptered M4B audiobook (AAC in MP4), made with PyAV.

    section MP3s --decode (PyAV, gapless)--> PCM frames --AAC encoder--> <slug>.m4b
                                                     chapter per section at its first sample
    then mutagen writes the iTunes item list: title, author, narrator, cover ...

Memory stays flat: the sections are decoded one after the other, frame by
frame, and every frame goes straight to the encoder; the book's PCM is never
held. The output rate is the sections' own rate (resampling could only lose).

Chapters: FFmpeg's MP4 muxer writes both chapter formats players read, a
QuickTime chapter text track (``tref/chap``: Apple Books, iOS, VLC) and a Nero
``chpl`` atom (foobar2000, mutagen, older players). It writes them in the
trailer, so the exact chapter starts (counted in decoded samples) can be set
after the audio. An edit list hides the AAC encoder's priming samples, so a
chapter's start is where its section's first sample plays.

Tags are written by mutagen (:func:`publisher.audio.tags.write_m4b_tags`),
not by the muxer, so there is one place that knows them. Narrator: Audible's ``©nrt`` atom, the composer atom ``©wrt`` (the
de facto narrator field of Apple Books and most audiobook players) and the
freeform ``com.apple.iTunes:NARRATOR`` (read by taggers built on mp4ameta).
``stik`` = 2 marks the file as an audiobook.

Determinism: ``fflags +bitexact`` and the codec's bitexact flag keep FFmpeg's
version out of the file; the movie's creation time is the publication's
``modified`` date, never the clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import langcodes

from ..cache import OutputCache, code_identity, file_sha256
from ..errors import AudioError, OutputError
from ..layout import book_file
from ..model import Publication, Section, SectionAudio
from .libs import av
from .tags import write_m4b_tags
from .timeline import AAC_FRAME_SAMPLES

if TYPE_CHECKING:
    from av.container.core import Chapter

log = logging.getLogger(__name__)

__all__ = ["M4B_BITRATE_KBPS", "encode_section_ahead", "m4b_path", "write_m4b"]

#: AAC-LC bit rate: transparent for speech, and no higher than the section MP3s.
M4B_BITRATE_KBPS = 64
#: FFmpeg's AAC coder: "fast" (a cheaper search for the quantizers) instead of
#: the default "twoloop". FFmpeg's manual calls it worse only below 64 kbps;
#: this is 64 kbps for one channel at 22.05 kHz. On Piper speech it encodes
#: 3.6 times as fast and scores higher: wideband PESQ 4.36 against 4.18,
#: STOI 0.998 against 0.997 (tests/test_audiobook.py checks level and timing).
_AAC_CODER = "fast"
#: MP4 muxer format: FFmpeg's "ipod" flavour writes an M4A/M4B brand and iTunes atoms.
_MUXER = "ipod"


def m4b_path(pub: Publication) -> Path:
    """Where the audiobook of ``pub`` is written: ``<out_dir>/<slug>.m4b``."""
    return pub.out_dir / book_file(pub.book.meta.slug, "m4b")


def write_m4b(pub: Publication) -> list[Path]:
    """Write ``<slug>.m4b``: every section in book order, one chapter each, tagged.

    Returns the written path in a list. Raises :class:`AudioError` when a section
    file cannot be decoded or the audiobook cannot be encoded.
    """
    if not pub.audio:
        raise AudioError(f"'{pub.book.meta.slug}' has no section audio, so no audiobook "
                         "can be made; build with audio enabled.")
    dest = m4b_path(pub)
    sections = _sections_with_audio(pub)
    # Encoding the whole book again is most of a rebuild's time: an audiobook
    # made from the same section files, titles and tags is copied instead.
    cache = OutputCache(pub.cache_dir) if pub.cache_dir is not None else None
    key = _cache_key(pub, sections) if cache is not None else ""
    if cache is not None and cache.fetch(key, ".m4b", dest) is not None:
        return [dest]
    rate = pub.audio[0].sample_rate_hz
    try:
        chapters = _encode(sections, dest, rate, pub, cache)
        write_m4b_tags(dest, pub)
        if cache is not None:
            cache.store(key, ".m4b", dest)
    except av.FFmpegError as exc:
        dest.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, av.error.InvalidDataError):
            raise OutputError(f"{dest}: cannot write the audiobook ({exc}).") from exc
        raise AudioError(f"Could not encode the audiobook {dest.name} "
                         f"(AAC {M4B_BITRATE_KBPS} kbps, {rate} Hz): {exc}") from exc
    except BaseException:
        dest.unlink(missing_ok=True)  # never leave half an audiobook behind
        raise
    log.info("audiobook: %s, %d chapters", dest.name, len(chapters))
    return [dest]


def _cache_key(pub: Publication, sections: list[tuple[Section, SectionAudio]]) -> str:
    """Everything the audiobook's bytes depend on (see :class:`~publisher.cache.OutputCache`)."""
    cover = pub.cover
    return OutputCache.key({
        "kind": "m4b",
        "code": _code(),
        "sections": [[section.title, file_sha256(audio.path)] for section, audio in sections],
        "meta": repr(pub.book.meta),
        "narrator": pub.narrator,
        "modified": pub.modified.isoformat(),
        "cover": [cover.media_type, hashlib.sha256(cover.data).hexdigest()] if cover else None,
    })


def _code() -> dict[str, str]:
    """This module, the tags it writes, and the libraries that make the audiobook."""
    return code_identity((sys.modules[__name__], sys.modules[write_m4b_tags.__module__]),
                         ("av", "mutagen"))


def _sections_with_audio(pub: Publication) -> list[tuple[Section, SectionAudio]]:
    """Pair each section audio with its section (for the chapter title), in book order."""
    by_id = {s.id: s for s in pub.book.sections}
    pairs = []
    for audio in pub.audio:
        section = by_id.get(audio.section_id)
        if section is None:
            raise AudioError(f"{audio.path.name}: section {audio.section_id!r} is not in "
                             f"'{pub.book.meta.slug}'; rebuild the book.")
        pairs.append((section, audio))
    return pairs


def _encode(sections: list[tuple[Section, SectionAudio]], dest: Path, rate: int,
            pub: Publication, cache: OutputCache | None) -> list[Chapter]:
    """Write every section into one AAC stream at ``dest``; return the chapters written.

    Sections that are whole AAC frames long (as :mod:`publisher.audio` makes them) are
    encoded one by one, each by its own encoder, and their packets joined: a
    section starts and ends in silence, so leaving out a section's first
    packet (its encoder's priming, silence) and letting the previous
    section's last one (silence) take its place joins them exactly, with no
    gap and no overlap. Each section's packets are cached by the bytes of its
    MP3, so a rebuild after an edit encodes only the sections that changed.
    Other lengths are decoded and encoded as one stream.
    """
    # First every section's packets are made (or found) and cached; then they
    # are read back one section at a time while muxing: memory holds one
    # section's AAC, not the book's (about 29 MB an hour).
    segments = []
    for section, audio in sections:
        segment = _section_packets(section.title, audio.path, rate, cache)
        if segment is None:
            return _encode_whole(sections, dest, rate, pub)
        segments.append(segment)

    time_base = Fraction(1, rate)
    chapters: list[Chapter] = []
    with _open_m4b(dest, rate, pub) as (out, stream):
        position = 0  # samples muxed so far, at ``rate``
        index = 0  # AAC packets muxed so far
        for number, ((section, _), segment) in enumerate(
                zip(sections, segments, strict=True), start=1):
            packets, samples = segment.load(), segment.samples
            for data in packets[1:] if number > 1 else packets:
                packet = av.Packet(data)
                packet.stream = stream
                packet.time_base = time_base
                # The first packet is the encoder's priming: it plays before 0.
                packet.pts = packet.dts = (index - 1) * AAC_FRAME_SAMPLES
                packet.duration = AAC_FRAME_SAMPLES
                out.mux(packet)
                index += 1
            chapters.append({"id": number, "start": position, "end": position + samples,
                             "time_base": time_base, "metadata": {"title": section.title}})
            position += samples
        _set_chapters(out, chapters)
    return chapters


@contextlib.contextmanager
def _open_m4b(dest: Path, rate: int, pub: Publication) -> Iterator[tuple[Any, Any]]:
    """The output container and its AAC stream, set up as every audiobook is."""
    options = {"fflags": "+bitexact", "movflags": "+faststart"}
    with av.open(str(dest), mode="w", format=_MUXER, container_options=options) as out:
        # Read by the muxer for mvhd/tkhd/mdhd; it is not written as a tag.
        out.metadata["creation_time"] = pub.modified.strftime("%Y-%m-%dT%H:%M:%SZ")
        stream = out.add_stream("aac", rate=rate, layout="mono")
        _configure(stream.codec_context)
        stream.metadata["language"] = _iso639_2(pub.book.meta.language)
        yield out, stream


def _configure(codec_context: Any) -> None:
    """AAC-LC at our bit rate, with nothing in it that depends on the FFmpeg version."""
    codec_context.bit_rate = M4B_BITRATE_KBPS * 1000
    codec_context.options = {"aac_coder": _AAC_CODER}
    codec_context.flags |= av.codec.context.Flags.bitexact


def _set_chapters(out: Any, chapters: list[Chapter]) -> None:
    # The muxer writes chapters in its trailer, so the exact starts can come last.
    if not hasattr(out, "set_chapters"):
        raise AudioError(f"PyAV {av.__version__} cannot write chapters; the audiobook "
                         "needs PyAV 16 or later: pip install 'av>=16'.")
    out.set_chapters(chapters)


class _Segment:
    """One section's AAC packets: in the output cache (read back when muxed) or in memory."""

    def __init__(self, samples: int, *, cache: OutputCache | None = None, key: str = "",
                 packets: list[bytes] | None = None) -> None:
        self.samples = samples
        self._cache = cache
        self._key = key
        self._packets = packets

    def load(self) -> list[bytes]:
        if self._packets is not None:
            return self._packets
        assert self._cache is not None
        found = self._cache.fetch_bytes(self._key, ".aac")
        if found is None:
            raise AudioError(f"The audiobook's cached AAC of a section ({self._key}) left the "
                             "cache during the build; is another process clearing it? "
                             "Build again.")
        packed, meta = found
        return _unpack(packed, meta["sizes"])  # type: ignore[arg-type]


def encode_section_ahead(title: str, path: Path, rate: int, cache_dir: Path) -> None:
    """Encode a finished section MP3's part of the audiobook now, into the cache.

    :func:`write_m4b` then finds it there: narrate runs this as soon as a
    section's podcast MP3 is written, while its helper process
    (publisher.helper) encodes the section's EPUB MP3.
    """
    _section_packets(title, path, rate, OutputCache(cache_dir))


def _section_packets(title: str, path: Path, rate: int,
                     cache: OutputCache | None) -> _Segment | None:
    """One section (titled ``title``, its MP3 at ``path``) encoded on its own and cached.

    None if it is not whole AAC frames long.
    """
    key = OutputCache.key({"kind": "m4b-section", "code": _code(), "rate": rate,
                           "mp3_sha256": file_sha256(path) if path.is_file()
                           else hashlib.sha256(b"").hexdigest()})
    if cache is not None:
        meta = cache.fetch_meta(key, ".aac")
        if meta is not None:
            return _Segment(int(meta["samples"]), cache=cache, key=key)  # type: ignore[arg-type]
    time_base = Fraction(1, rate)
    encoder = av.CodecContext.create("aac", "w")
    encoder.sample_rate = rate
    encoder.layout = "mono"
    encoder.format = "fltp"
    encoder.time_base = time_base
    _configure(encoder)
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
    packets: list[bytes] = []
    samples = 0
    for frame in _decoded_frames(path, resampler, flush=True):
        frame.pts = samples
        frame.time_base = time_base
        samples += frame.samples
        packets += [bytes(packet) for packet in encoder.encode(frame)]
    if samples == 0:
        raise AudioError(f"{path.name}: the audio of section "
                         f"'{title}' decodes to no samples; rebuild the book.")
    if samples % AAC_FRAME_SAMPLES:
        return None
    packets += [bytes(packet) for packet in encoder.encode(None)]
    if cache is None:
        return _Segment(samples, packets=packets)
    cache.store_bytes(key, ".aac", b"".join(packets),
                      {"sizes": [len(p) for p in packets], "samples": samples})
    return _Segment(samples, cache=cache, key=key)


def _unpack(packed: bytes, sizes: list[int]) -> list[bytes]:
    packets, at = [], 0
    for size in sizes:
        packets.append(packed[at:at + size])
        at += size
    return packets


def _encode_whole(sections: list[tuple[Section, SectionAudio]], dest: Path, rate: int,
                  pub: Publication) -> list[Chapter]:
    """Decode every section into one AAC stream; return the chapters written."""
    time_base = Fraction(1, rate)
    chapters: list[Chapter] = []
    with _open_m4b(dest, rate, pub) as (out, stream):
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        position = 0  # samples written so far, at ``rate``
        for number, (section, audio) in enumerate(sections, start=1):
            start = position
            for frame in _decoded_frames(audio.path, resampler):
                frame.pts = position
                frame.time_base = time_base
                position += frame.samples
                out.mux(stream.encode(frame))
            if position == start:
                raise AudioError(f"{audio.path.name}: the audio of section "
                                 f"'{section.title}' decodes to no samples; rebuild the book.")
            chapters.append({"id": number, "start": start, "end": position,
                             "time_base": time_base, "metadata": {"title": section.title}})
        for frame in resampler.resample(None):
            frame.pts = position
            frame.time_base = time_base
            position += frame.samples
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        _set_chapters(out, chapters)
    return chapters


def _decoded_frames(path: Path, resampler: av.AudioResampler,
                    flush: bool = False) -> Iterator[av.AudioFrame]:
    """The frames of one audio file, as mono float at the output rate, one by one.

    ``flush``: then what the resampler still holds (the file is the last one).
    """
    try:
        with av.open(str(path)) as source:
            for frame in source.decode(audio=0):
                frame.pts = None  # the resampler's own clock; ours is ``position``
                yield from resampler.resample(frame)
    except av.FFmpegError as exc:
        raise AudioError(f"Could not decode {path.name} for the audiobook: {exc}") from exc
    if flush:
        yield from resampler.resample(None)


def _iso639_2(language: str) -> str:
    """ISO 639-2/T code of a BCP 47 tag for the MP4 track header ('und' if unknown)."""
    try:
        return str(langcodes.Language.get(language).to_alpha3())
    except (LookupError, ValueError):
        return "und"
