"""``publisher say "TEXT"``: a phrase said as a book would say it.

    TEXT as the book's Markdown (its front matter: language, voice, lexicon)
      --parse (sentences, normalization)--> script (lexicon) --> clips (cache)
      --> an MP3 (mastered as the book's section files) or a WAV, or played

The phrase takes the very path of a build: it is parsed as the body of the
book (:func:`publisher.parse.parse_book`, which normalizes each sentence),
and its words come from :func:`publisher.script.script_book`, so the spoken
form printed is the one a build sends to the engine. The clips go through the
book's clip cache: saying a sentence again costs nothing, and a build of the
same sentence with the same voice reuses the clip. It is how an author checks
``pronunciations:`` before a build.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import audio
from .audio.phrase import wav_bytes, write_wav
from .cache import ClipCache
from .config import load_meta
from .errors import OutputError, PublisherError
from .model import Book, Clip, Manuscript
from .options import BuildOptions, engine_spec
from .parse import parse_book
from .script import script_book
from .source import read_manuscript
from .synthesize import stream_clips

__all__ = ["AUDIO_SUFFIXES", "Phrase", "play", "player", "say_phrase", "script_phrase",
           "write_phrase"]

#: What ``-o`` may name, by suffix.
AUDIO_SUFFIXES = (".mp3", ".wav")
#: Stands for the phrase in a second parse that tells the book's own sentences apart.
_PLACEHOLDER = "Placeholder."


@dataclass(frozen=True, slots=True)
class Phrase:
    """A phrase as the book would say it."""

    book: Book
    #: (sentence id, words said, pause after in ms) in reading order.
    parts: tuple[tuple[str, str, int], ...]

    @property
    def said(self) -> str:
        """The spoken form of the whole phrase."""
        return " ".join(words for _, words, _ in self.parts)


def script_phrase(text: str, book_source: Path | None = None,
                  language: str | None = None) -> Phrase:
    """``text`` parsed and scripted as the body of ``book_source`` (else a plain English book).

    Raises PublisherError (the book's own problems, or a phrase with nothing to say).
    """
    if not text.strip():
        raise PublisherError("Nothing to say: give the phrase in quotes, e.g. "
                             "publisher say \"NSSI is common.\"")
    if book_source is not None:
        manuscript = read_manuscript(book_source)
    else:
        manuscript = Manuscript(path=Path("say.md"), front_matter={"title": "say"},
                                text=text, body_line=1)
    front = dict(manuscript.front_matter)
    if language:
        front["language"] = language
    elif "language" not in front:
        front["language"] = "en"  # too short a phrase to tell its language
    manuscript = dataclasses.replace(manuscript, front_matter=front)

    def parsed(body: str) -> Book:
        phrase = dataclasses.replace(manuscript, text=body)
        meta, _warnings = load_meta(phrase, {})
        return parse_book(phrase, meta)

    book = parsed(text)
    # The sentences the book adds itself (title page, content note) are those of
    # the same book around a one-sentence body: everything but its last sentence.
    around = parsed(_PLACEHOLDER).sentences
    generated = {sentence.id for sentence in around[:-1]}
    script = script_book(book)
    words = script.texts
    pauses = {sentence_id: pause for section in script.sections
              for sentence_id, pause in section.parts}
    parts = [(s.id, words[s.id], pauses.get(s.id, 0)) for s in book.sentences
             if s.id not in generated]
    if not parts:
        raise PublisherError(f"Nothing to say in {text!r}: the phrase has no sentence to "
                             "speak (only markup?).")
    parts[-1] = (parts[-1][0], parts[-1][1], 0)
    return Phrase(book=book, parts=tuple(parts))


def say_phrase(phrase: Phrase, options: BuildOptions) -> list[tuple[str, Clip, int]]:
    """The phrase's clips with their pauses, made (or found) in the book's clip cache."""
    spec = engine_spec(phrase.book, options)
    cache = ClipCache(options.cache_root)
    items = [(sentence_id, words) for sentence_id, words, _ in phrase.parts]
    clips = {sentence_id: clip for sentence_id, clip, _ in
             stream_clips(items, spec, cache, workers=1)}
    return [(sentence_id, clips[sentence_id], pause) for sentence_id, _, pause in phrase.parts]


def write_phrase(phrase: Phrase, items: list[tuple[str, Clip, int]], dest: Path) -> Path:
    """Write the phrase to ``dest``: MP3 (mastered as the book's files) or WAV, by suffix."""
    suffix = dest.suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise OutputError(f"{dest}: say writes .mp3 or .wav files; name the file with one "
                          "of those endings.")
    if not dest.parent.is_dir():
        raise OutputError(f"{dest}: the folder {dest.parent} does not exist; create it or "
                          "choose another file.")
    if suffix == ".wav":
        return write_wav(items, dest)
    meta = phrase.book.meta
    tags = audio.SectionTags(title=phrase.said[:120], album=meta.title,
                             artist=", ".join(meta.authors), language=meta.language)
    audio.assemble_section_files(items, [("podcast", dest)], tags=tags, section_id="say")
    return dest


#: Players that read a WAV from their standard input, and what they need to find a device.
_PLAYERS = (("pw-play", ("-",)), ("paplay", ()), ("aplay", ("-q", "-")))


def player() -> tuple[str, ...]:
    """The command that plays a WAV from its standard input on this computer.

    Raises PublisherError, saying to use ``-o FILE``, when there is no sound
    device or no player.
    """
    if not _has_sound_device():
        raise PublisherError("No sound device on this computer (no /dev/snd, PulseAudio or "
                             "PipeWire), so the phrase cannot be played aloud. Write it to "
                             "a file instead: publisher say \"...\" -o phrase.mp3")
    for name, arguments in _PLAYERS:
        program = shutil.which(name)
        if program is not None:
            return (program, *arguments)
    raise PublisherError("No program to play sound here (pw-play, paplay or aplay); write "
                         "the phrase to a file instead: publisher say \"...\" -o phrase.mp3")


def play(items: list[tuple[str, Clip, int]], command: tuple[str, ...]) -> None:
    """Play the clips with ``command`` (from :func:`player`)."""
    try:
        subprocess.run(list(command), input=wav_bytes(items), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (OSError, subprocess.CalledProcessError) as exc:
        stderr = getattr(exc, "stderr", None) or b""
        detail = stderr.decode(errors="replace").strip() or str(exc)
        raise PublisherError(f"{Path(command[0]).name} could not play the phrase ({detail}). "
                             "Write it to a file instead with -o phrase.mp3.") from exc


def _has_sound_device() -> bool:
    """An ALSA playback device, or a PulseAudio or PipeWire server to reach one."""
    if any(Path("/dev/snd").glob("pcmC*D*p")):
        return True
    if os.environ.get("PULSE_SERVER"):
        return True
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}")
    return (runtime / "pulse" / "native").exists() or (runtime / "pipewire-0").exists()
