"""The exception tree. Every error a user can cause is a PublisherError.

    PublisherError            a problem the user can fix; the CLI prints it, exit 1
    +-- SourceError           the Markdown file or its front matter (file:line)
    +-- ConfigError           front matter / options values (every problem at once)
    +-- SpeechError           a speech engine failed (names section and sentence)
    |   +-- EngineUnavailable the engine cannot run here (no network, no voice)
    +-- AudioError            assembling or encoding audio
    +-- OutputError           writing the outputs (permissions, locks, disk)

Anything that is not a PublisherError is a bug and shows its traceback.

Where it happened is also kept as attributes (as httpx keeps ``request``), so
code that handles an error never reads it back out of the message: ``path``
(the file), ``section`` (a section id) and ``sentence_id``; None when unknown.
They are given where the error is raised, or attached on the way out by
:func:`error_context` (as httpx's ``request_context()``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


class PublisherError(Exception):
    """Base class: a problem the user can fix. ``str()`` is the whole message."""

    def __init__(self, *args: object, path: Path | str | None = None,
                 section: str | None = None, sentence_id: str | None = None) -> None:
        super().__init__(*args)
        #: The file the problem is in or about.
        self.path = path
        #: The id of the section the problem is in.
        self.section = section
        #: The id of the sentence the problem is about.
        self.sentence_id = sentence_id


class SourceError(PublisherError):
    """The source file cannot be read or parsed."""


class ConfigError(PublisherError):
    """Front matter or options have invalid values.

    ``problems`` holds every problem found, each a full sentence.
    """

    def __init__(self, problems: list[str] | tuple[str, ...], where: str = "") -> None:
        self.problems = tuple(problems)
        self.where = where
        head = f"{where}: " if where else ""
        if len(self.problems) == 1:
            message = head + self.problems[0]
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{head}{len(self.problems)} problems in the front matter:\n{lines}"
        super().__init__(message, path=where or None)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled as it was made (it crosses to and from worker processes).
        return (type(self), (self.problems, self.where))


class SpeechError(PublisherError):
    """A speech engine failed on a sentence."""


class EngineUnavailable(SpeechError):
    """The engine cannot be used here (no network, voice not installed)."""


class AudioError(PublisherError):
    """Audio could not be assembled or encoded."""


class OutputError(PublisherError):
    """Outputs could not be written."""


@contextlib.contextmanager
def error_context(*, path: Path | str | None = None, section: str | None = None,
                  sentence_id: str | None = None) -> Iterator[None]:
    """Attach where it happened to any PublisherError raised in the block (what the
    error itself already says is kept)."""
    try:
        yield
    except PublisherError as exc:
        if exc.path is None:
            exc.path = path
        if exc.section is None:
            exc.section = section
        if exc.sentence_id is None:
            exc.sentence_id = sentence_id
        raise
