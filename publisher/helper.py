"""A second process that runs audio work beside this one, so both cores encode.

A section's files are independent once it is mastered: the ``podcast`` MP3,
the ``compact`` MP3 for the EPUB, and the AAC of the audiobook are three
encodes of a few tenths of a second each (PyAV holds the GIL while it
encodes, so threads would not run them side by side). :class:`Helper` is one
worker process, started early (it imports the audio libraries while the
voice loads elsewhere), that takes calls through a pipe:

    helper = Helper(warm_up=audio.preload)
    pending = helper.submit(function, *args)   # like concurrent.futures
    ...                                         # this process does its own part
    value = pending.result()                    # its exception is raised here
    helper.close()

Calls run one at a time, in the order submitted. A call is sent only when
the helper waits for one (it warms up in a thread, reading calls meanwhile),
so neither side ever blocks on a full pipe while the other waits for it.
Arguments are pickled: pass large data as a file (see ``publisher.audio.master.MasterFile``),
not as an array. The helper runs at a lower priority than the build and its
synthesis workers (``niceness=0``: the same, when there are none to yield to); it is started, stopped and reported dead as every child
process is (:class:`publisher.workers.Child`: SIGINT ignored, noticed through
its sentinel at once, not waited for).
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing.connection
import os
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from .errors import AudioError
from .workers import Child, RemoteTraceback

__all__ = ["Helper", "Pending"]

#: How much lower the helper's scheduling priority is (CFS weight ~1/10 of a normal process).
_NICENESS = 10


def _helper_main(conn: Connection, warm_up: Callable[[], None] | None,
                 niceness: int = _NICENESS) -> None:
    # Below the processes on the critical path (synthesis, this build's own
    # assembly) when the cores are all busy; alone on a core it runs as fast.
    if niceness:
        with contextlib.suppress(AttributeError, OSError):
            os.nice(niceness)
    # Warmed up in a thread, so that a call (which may carry more than a pipe
    # holds) is read at once and the caller never waits on its send.
    warming = threading.Thread(target=_quietly, args=(warm_up,), daemon=True)
    warming.start()
    while True:
        try:
            call = conn.recv()
        except EOFError:
            return
        if call is None:
            return
        warming.join()
        function, args = call
        try:
            reply: tuple[Any, ...] = ("ok", function(*args))
        except Exception as exc:  # sent back and raised there, with this traceback
            reply = ("error", exc, traceback.format_exc())
        try:
            conn.send(reply)
        except Exception as exc:  # an unpicklable result or exception
            conn.send(("error", AudioError(f"{type(exc).__name__}: {exc}"),
                       traceback.format_exc()))


def _quietly(warm_up: Callable[[], None] | None) -> None:
    """Run ``warm_up``; a failure is left to the call that needs what it imports."""
    if warm_up is not None:
        with contextlib.suppress(Exception):
            warm_up()


class Pending:
    """A call submitted to a :class:`Helper`; :meth:`result` waits for it."""

    def __init__(self, helper: Helper, description: str) -> None:
        self._helper = helper
        self.description = description
        self.done = False
        self._value: Any = None
        self._error: tuple[BaseException, str] | None = None

    def result(self) -> Any:
        while not self.done:
            self._helper._receive_one()  # noqa: SLF001 (its own helper)
        if self._error is not None:
            error, remote = self._error
            raise error from RemoteTraceback(remote)
        return self._value


class Helper:
    """One helper process (see the module's docstring)."""

    def __init__(self, warm_up: Callable[[], None] | None = None, *,
                 niceness: int = _NICENESS) -> None:
        """``niceness``: how much lower than this process the helper runs (0: the same)."""
        self._child = Child(_helper_main, warm_up, niceness, name="publisher-helper")
        self._queue: collections.deque[
            tuple[Pending, tuple[Callable[..., Any], tuple[Any, ...]]]] = collections.deque()
        self._in_flight: Pending | None = None
        self._closed = False

    def submit(self, function: Callable[..., Any], *args: Any,
               description: str = "audio work") -> Pending:
        """Run ``function(*args)`` in the helper (after the calls before it)."""
        if self._closed:
            raise RuntimeError("the helper process is closed")
        pending = Pending(self, description)
        self._queue.append((pending, (function, args)))
        if self._in_flight is None:
            self._send_next()
        return pending

    def _send_next(self) -> None:
        if self._queue:
            pending, call = self._queue.popleft()
            self._in_flight = pending
            self._child.send(call)  # if it died, _receive_one says so, from its sentinel

    def _receive_one(self) -> None:
        """Wait for the call in flight to finish, record its outcome, send the next."""
        pending = self._in_flight
        if pending is None:
            raise RuntimeError("nothing was submitted to the helper process")
        multiprocessing.connection.wait([self._child.conn, self._child.sentinel])
        try:
            status, *payload = self._child.conn.recv()
        except (EOFError, OSError) as exc:
            died = self._child.died("The audio helper process")
            raise AudioError(f"{died} during {pending.description}. Out of memory? Build "
                             "again with --workers 1 to use one process.") from exc
        if status == "ok":
            pending._value = payload[0]  # noqa: SLF001
        else:
            pending._error = (payload[0], payload[1])  # noqa: SLF001
        pending.done = True
        self._in_flight = None
        self._send_next()

    def close(self, *, kill: bool = False) -> None:
        """Stop the helper: after its calls (``kill``: now, dropping them)."""
        if self._closed:
            return
        self._closed = True
        if not kill:
            with contextlib.suppress(AudioError):
                while self._in_flight is not None:
                    self._receive_one()
        self._child.stop(kill=kill)

    def __enter__(self) -> Helper:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close(kill=exc_type is not None)
