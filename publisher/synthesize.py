"""The synthesis stage: spoken sentences in, one clip per sentence out.

Identical texts are synthesized once. Every clip goes through the
content-addressed :class:`~publisher.cache.ClipCache`, and is stored the
moment it is made, so an interrupted or failed build keeps all the work done
so far and the next build starts where it stopped.

Misses can be synthesized in parallel processes (``workers``). Measured with
the bundled Piper voice on a 2-core machine, 20 sentences (87 s of speech):
1 process with 1 ONNX Runtime thread took 5.2 s, 1 process with 2 threads
3.1-3.7 s, 2 processes with 1 thread each 2.7-2.9 s (plus about 0.4 s more to
start the processes and load the voice in each). When other jobs already keep
a core busy, parallelism gains nothing, so small batches stay in this process.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import signal
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from .cache import ClipCache
from .errors import EngineUnavailable, SpeechError
from .model import Clip
from .speech.base import Engine

__all__ = ["synthesize_clips", "MIN_BATCH_FOR_WORKERS"]

_LOGGER = logging.getLogger(__name__)

#: Fewer misses than this are synthesized in-process: starting worker
#: processes and loading the voice in each costs more than it saves.
MIN_BATCH_FOR_WORKERS = 8

ProgressCallback = Callable[[str, Clip, bool], None]


def synthesize_clips(
    items: Sequence[tuple[str, str]],
    engine_factory: Callable[[], Engine],
    cache: ClipCache,
    *,
    workers: int = 1,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Clip]:
    """Synthesize ``items`` (sentence id, text to speak) into clips, by sentence id.

    ``engine_factory()`` makes the engine; with ``workers`` > 1 it must be
    picklable (e.g. :class:`publisher.speech.EngineSpec`), as each worker
    process makes its own. ``on_progress(sentence_id, clip, from_cache)`` is
    called once per sentence as its clip becomes available (a repeated text is
    reported as from the cache after its first sentence).

    Raises :class:`SpeechError` naming the sentence and its text when the
    engine fails on it (the caller adds the section), and EngineUnavailable
    unchanged when the engine cannot run at all.
    """
    engine = engine_factory()
    identity = engine.identity
    report = on_progress or (lambda _sid, _clip, _cached: None)

    # One entry per distinct text, in first-seen order, with all its sentences.
    ids_by_text: dict[str, list[str]] = {}
    for sentence_id, text in items:
        ids_by_text.setdefault(text, []).append(sentence_id)

    clip_by_text: dict[str, Clip] = {}
    todo: list[tuple[str, str]] = []  # (text, key)
    for text, sentence_ids in ids_by_text.items():
        key = cache.key(identity, text)
        clip = cache.get(key)
        if clip is None:
            todo.append((text, key))
            continue
        clip_by_text[text] = clip
        for sentence_id in sentence_ids:
            report(sentence_id, clip, True)

    def finish(text: str, key: str, clip: Clip) -> None:
        cache.put(key, clip)
        clip_by_text[text] = clip
        first, *repeats = ids_by_text[text]
        report(first, clip, False)
        for sentence_id in repeats:
            report(sentence_id, clip, True)

    _LOGGER.info(
        "Synthesizing %d of %d distinct texts (%d from cache) with %s",
        len(todo),
        len(ids_by_text),
        len(ids_by_text) - len(todo),
        engine.name,
    )
    if workers > 1 and len(todo) >= MIN_BATCH_FOR_WORKERS:
        _synthesize_in_pool(todo, engine_factory, min(workers, len(todo)), ids_by_text, finish)
    else:
        for text, key in todo:
            finish(text, key, _synthesize_one(engine, text, ids_by_text[text][0]))
    return {sentence_id: clip_by_text[text] for sentence_id, text in items}


def _synthesize_one(engine: Engine, text: str, sentence_id: str) -> Clip:
    """One clip, with engine failures named after the sentence."""
    try:
        clip = engine.synthesize(text)
    except EngineUnavailable:
        raise  # about the engine, not this sentence
    except Exception as exc:
        raise _sentence_error(sentence_id, text, exc) from exc
    _check_clip(clip, sentence_id, text)
    return clip


def _sentence_error(sentence_id: str, text: str, exc: BaseException | str) -> SpeechError:
    shown = text if len(text) <= 120 else text[:117] + "..."
    return SpeechError(f"Speech synthesis failed on sentence '{sentence_id}' ({shown!r}): {exc}")


def _check_clip(clip: Clip, sentence_id: str, text: str) -> None:
    """Engines are third-party code: refuse a clip that would corrupt the audio."""
    if not isinstance(clip, Clip) or clip.sample_rate_hz <= 0 or len(clip.pcm) % 2:
        raise _sentence_error(
            sentence_id, text, ValueError(f"engine returned a bad clip: {clip!r:.80}")
        )
    if not clip.pcm:
        raise _sentence_error(sentence_id, text, ValueError("engine returned no audio"))


# --- worker processes -------------------------------------------------------
#
# A hand-rolled pool rather than concurrent.futures: each worker has its own
# pipe and gets one sentence at a time. Killing a ProcessPoolExecutor's
# workers (on an error or Ctrl-C) can leave half a result in its shared result
# pipe, and its manager thread then blocks forever, hanging the interpreter at
# exit (seen here). With a pipe per worker, a killed worker's pipe just reads
# as closed, and a worker that dies (out of memory) is noticed at once through
# its sentinel instead of waiting forever.


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process, for the chain."""

    def __str__(self) -> str:
        return str(self.args[0])


def _worker_main(conn: Connection, engine_factory: Callable[[], Engine]) -> None:
    """Synthesize texts received on ``conn`` until told to stop (None or EOF)."""
    # The terminal sends SIGINT to the whole process group; the parent stops
    # the workers, and workers dying on their own would only add noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine: Engine | None = None
    while True:
        try:
            text = conn.recv()
        except EOFError:
            return
        if text is None:
            return
        try:
            if engine is None:
                engine = engine_factory()
            conn.send(("ok", engine.synthesize(text)))
        except Exception as exc:
            kind = "unavailable" if isinstance(exc, EngineUnavailable) else "error"
            conn.send((kind, str(exc) or type(exc).__name__, traceback.format_exc()))


class _Worker:
    """One worker process, its end of the pipe, and the text it is working on."""

    def __init__(self, context: Any, engine_factory: Callable[[], Engine]) -> None:
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child_conn, engine_factory), daemon=True
        )
        self.process.start()
        child_conn.close()  # so that a dead worker's pipe reads as closed
        self.task: tuple[str, str] | None = None  # (text, key)

    def give(self, task: tuple[str, str]) -> None:
        self.task = task
        self.conn.send(task[0])

    def stop(self, *, kill: bool) -> None:
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


def _synthesize_in_pool(
    todo: list[tuple[str, str]],
    engine_factory: Callable[[], Engine],
    workers: int,
    ids_by_text: dict[str, list[str]],
    finish: Callable[[str, str, Clip], None],
) -> None:
    """Synthesize ``todo`` in ``workers`` processes, finishing clips as they come."""
    methods = multiprocessing.get_all_start_methods()
    # forkserver/spawn: a clean child, unlike fork, which would copy the
    # parent's threads and locks (progress bars, loaded ONNX sessions).
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    queue = collections.deque(todo)
    pool: list[_Worker] = []
    clean = False
    try:
        for _ in range(workers):
            pool.append(_Worker(context, engine_factory))
        _LOGGER.info("Started %d synthesis worker processes", workers)
        for worker in pool:
            if queue:
                worker.give(queue.popleft())
        while busy := [w for w in pool if w.task is not None]:
            waitables = {w.conn: w for w in busy} | {w.process.sentinel: w for w in busy}
            for ready in multiprocessing.connection.wait(list(waitables)):
                worker = waitables[ready]
                if worker.task is None:
                    continue  # both its pipe and its sentinel were ready
                text, key = worker.task
                sentence_id = ids_by_text[text][0]
                try:
                    status, *payload = worker.conn.recv()
                except (EOFError, OSError) as exc:
                    worker.process.join(timeout=2)  # its pipe closes before it is reaped
                    code = worker.process.exitcode
                    how = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
                    raise SpeechError(
                        f"A speech worker process died ({how}) while synthesizing sentence "
                        f"'{sentence_id}'. Out of memory? Try again with fewer workers."
                    ) from exc
                worker.task = None
                if status == "unavailable":
                    raise EngineUnavailable(payload[0]) from _RemoteTraceback(payload[1])
                if status == "error":
                    cause = _RemoteTraceback(payload[1])
                    raise _sentence_error(sentence_id, text, payload[0]) from cause
                clip = payload[0]
                _check_clip(clip, sentence_id, text)
                finish(text, key, clip)
                if queue:
                    worker.give(queue.popleft())
        clean = True
    finally:
        # On an error or Ctrl-C, stop now rather than finish the queue.
        for worker in pool:
            worker.stop(kill=not clean)
