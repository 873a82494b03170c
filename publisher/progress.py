"""Progress for long builds: a rich progress bar on a terminal, plain log lines
otherwise (CI logs, pipes), nothing with --quiet."""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING

from .options import Reporter

if TYPE_CHECKING:
    from rich.progress import TaskID

log = logging.getLogger("publisher")


class _PlainReporter(Reporter):
    """One line per stage, and a line every 10% of the sentences."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.total = 0
        self.done = 0
        self.audio_ms = 0.0
        self.next_report = 0
        self.started = 0.0
        self.label = ""

    def stage(self, name: str) -> None:
        if not self.quiet:
            log.info("%s", name)

    def warn(self, message: str) -> None:
        log.warning("%s", message)

    def start_sentences(self, total: int, label: str) -> None:
        self.total, self.done, self.audio_ms = total, 0, 0.0
        self.next_report = max(1, total // 10)
        self.started = time.monotonic()
        self.label = label

    def sentence_done(self, audio_ms: float, cached: bool) -> None:
        self.done += 1
        self.audio_ms += audio_ms
        if not self.quiet and (self.done >= self.next_report or self.done == self.total):
            self.next_report = self.done + max(1, self.total // 10)
            elapsed = time.monotonic() - self.started
            eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
            log.info("%s: %d/%d sentences, %.1f audio minutes, ETA %.0f s", self.label,
                     self.done, self.total, self.audio_ms / 60000, eta)

    def end_sentences(self) -> None:
        pass

    def close(self) -> None:
        pass


class _RichReporter(_PlainReporter):
    def __init__(self) -> None:
        super().__init__(quiet=False)
        # deferred: rich's progress, ~75 ms, only on a terminal (else the plain reporter)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[minutes]}"),
                                 TimeRemainingColumn(), transient=True)
        self.task: TaskID | None = None

    def start_sentences(self, total: int, label: str) -> None:
        super().start_sentences(total, label)
        self.progress.start()
        self.task = self.progress.add_task(label, total=total, minutes="0.0 audio min")

    def sentence_done(self, audio_ms: float, cached: bool) -> None:
        self.done += 1
        self.audio_ms += audio_ms
        if self.task is not None:
            self.progress.update(self.task, advance=1,
                                 minutes=f"{self.audio_ms / 60000:.1f} audio min")

    def end_sentences(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None
        log.info("%s: %d sentences, %.1f audio minutes", self.label, self.done,
                 self.audio_ms / 60000)

    def close(self) -> None:
        self.end_sentences() if self.task is not None else None


def make_reporter(quiet: bool = False) -> Reporter:
    """The CLI's reporter: a progress bar on a terminal, else log lines; none if ``quiet``."""
    if not quiet and sys.stderr.isatty():
        return _RichReporter()
    return _PlainReporter(quiet)
