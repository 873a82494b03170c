"""Child processes of a build: one lifecycle for every kind of worker.

Three kinds of process work beside a build: the synthesis workers
(:mod:`publisher.synthesize`), the helper that encodes audio
(:mod:`publisher.helper`) and the presegmenter of a long book
(:mod:`publisher.parse`). Each is a :class:`Child`, started and stopped alike:

- started from :func:`clean_context` (forkserver, else spawn; never fork);
- one pipe per process: the parent closes its copy of the child's end, so a
  dead child's pipe reads as closed, and its ``sentinel`` says at once that it
  died (``multiprocessing.connection.wait`` on both), never waited for;
- the child ignores SIGINT: the terminal sends Ctrl-C to the whole process
  group, the parent stops its children, and children dying on their own would
  only add noise;
- stopped with ``None`` (its cue to return) after a clean run, terminated at
  once on an error or Ctrl-C, killed if it is still there 5 s later;
- a child that died is reported in one way: "... died (killed by signal 9)".

Why not ``concurrent.futures.ProcessPoolExecutor``: killing its workers (on an
error or Ctrl-C) can leave half a result in its shared result pipe, and its
manager thread then blocks forever, hanging the interpreter at exit (seen
here). With a pipe per process, a killed child's pipe just reads as closed, and
a child that dies (out of memory) is noticed at once through its sentinel.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["Child", "RemoteTraceback", "clean_context"]


def clean_context() -> Any:
    """The multiprocessing context for our child processes: forkserver, else spawn.

    Never fork: a forked child copies this process's threads' locks as they
    are (progress bars, logging, loaded ONNX sessions) and can hang on one.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class RemoteTraceback(Exception):
    """The traceback of an exception raised in another process, for the chain."""

    def __str__(self) -> str:
        return str(self.args[0])


class Child:
    """One child process that runs ``target(conn, *args)``, and this process's end of its pipe.

    ``target`` (and ``args``) must pickle: a module-level function. It reads
    its work from ``conn`` until it gets None or the pipe closes, and answers
    on ``conn``. Raises OSError when the process cannot be started.
    """

    def __init__(self, target: Callable[..., None], *args: Any, name: str | None = None,
                 context: Any = None) -> None:
        context = context if context is not None else clean_context()
        self.conn, child_conn = context.Pipe()
        try:
            self.process = context.Process(target=_child_main, args=(target, child_conn, *args),
                                           daemon=True, name=name)
            self.process.start()
        except BaseException:
            self.conn.close()
            raise
        finally:
            child_conn.close()  # so that a dead child's pipe reads as closed

    @property
    def sentinel(self) -> int:
        """Ready (for ``multiprocessing.connection.wait``) once the process has ended."""
        return int(self.process.sentinel)

    def send(self, message: Any) -> None:
        """Send ``message``; if the child has just died, nothing (its sentinel says so)."""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.conn.send(message)

    def died(self, what: str) -> str:
        """``"<what> died (killed by signal N)"`` (or ``exit code N``), once it is reaped.

        For a child whose pipe read as closed: it closes before the process is reaped.
        """
        self.process.join(timeout=2)
        code = self.process.exitcode
        how = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
        return f"{what} died ({how})"

    def stop(self, *, kill: bool = False) -> None:
        """Stop the child: it finishes what it was sent (``kill``: terminated now)."""
        if kill:
            self.process.terminate()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _child_main(target: Callable[..., None], conn: Connection, *args: Any) -> None:
    """The child: Ctrl-C is the parent's to handle (see the module docstring), then ``target``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    target(conn, *args)
