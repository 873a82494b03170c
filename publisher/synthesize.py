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

:func:`stream_clips` hands clips over as they are made, so the caller can
assemble a finished section while the workers go on with the next ones.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import signal
import traceback
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .cache import ClipCache
from .errors import EngineUnavailable, SpeechError
from .helper import RemoteTraceback, clean_context
from .model import Clip
from .speech import EngineSpec
from .speech.base import Engine

__all__ = ["MIN_BATCH_FOR_WORKERS", "ClipStream", "Synthesis", "clip_problem",
           "local_synthesis", "sentence_error", "stream_clips", "synthesize_clips"]

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
    report = on_progress or (lambda _sid, _clip, _cached: None)
    clips: dict[str, Clip] = {}
    # closing(): an exception (or Ctrl-C) in a callback stops the workers at once.
    with contextlib.closing(stream_clips(items, engine_factory, cache,
                                         workers=workers)) as stream:
        for sentence_id, clip, cached in stream:
            clips[sentence_id] = clip
            report(sentence_id, clip, cached)
    return {sentence_id: clips[sentence_id] for sentence_id, _ in items}


def stream_clips(
    items: Sequence[tuple[str, str]],
    engine_factory: Callable[[], Engine],
    cache: ClipCache,
    *,
    workers: int = 1,
    min_batch_for_workers: int = MIN_BATCH_FOR_WORKERS,
    while_waiting: Callable[[], None] | None = None,
) -> Generator[tuple[str, Clip, bool], None, None]:
    """Yield ``(sentence_id, clip, from_cache)`` for every item as its clip becomes available.

    With worker processes (``workers`` > 1 and at least ``min_batch_for_workers``
    misses) the workers start before the cached clips are handed over, and
    ``while_waiting()`` is called once before the first wait for them: the
    caller's chance to do its own preparation while they load the voice.

    Cached clips come first, in the order of ``items``; then the synthesized
    ones, roughly in that order. With worker processes, the caller may take
    its time between two clips (``narrate`` assembles a finished section
    there): each worker has the next text queued and stores its clips in the
    cache itself, so it never waits for the caller. Errors are raised as by
    :func:`synthesize_clips`; closing the generator early stops the workers.
    """
    engine = engine_factory()
    identity = engine.identity

    # One entry per distinct text, in first-seen order, with all its sentences.
    ids_by_text: dict[str, list[str]] = {}
    for sentence_id, text in items:
        ids_by_text.setdefault(text, []).append(sentence_id)

    todo: list[tuple[str, str]] = []  # (text, key)
    cached: list[tuple[str, str]] = []  # (text, key): checked now, read when handed over
    for text in ids_by_text:
        key = cache.key(identity, text)
        (cached if key in cache else todo).append((text, key))

    _LOGGER.info(
        "Synthesizing %d of %d distinct texts (%d from cache) with %s",
        len(todo),
        len(ids_by_text),
        len(cached),
        engine.name,
    )
    if todo and workers > 1 and len(todo) >= max(1, min_batch_for_workers):
        made = _synthesize_in_pool(todo, engine_factory, min(workers, len(todo)),
                                   ids_by_text, cache)
        next(made)  # the workers start, with their first texts, before anything else
    else:
        made = _synthesize_here(todo, engine, ids_by_text, cache)
    # closing(): an early close, an error or Ctrl-C while the cached clips are
    # handed over stops the workers already started, there and then.
    with contextlib.closing(made):
        for text, key in cached:
            clip = cache.get(key)
            if clip is None:  # vanished or damaged since it was looked up: make it again
                clip = _synthesize_one(engine, text, ids_by_text[text][0])
                cache.put(key, clip)
            for sentence_id in ids_by_text[text]:
                yield sentence_id, clip, True
        if todo and while_waiting is not None:
            while_waiting()
        for text, clip in made:
            first, *repeats = ids_by_text[text]
            yield first, clip, False
            for sentence_id in repeats:
                yield sentence_id, clip, True


def _synthesize_here(todo: list[tuple[str, str]], engine: Engine,
                     ids_by_text: dict[str, list[str]],
                     cache: ClipCache) -> Generator[tuple[str, Clip], None, None]:
    """Synthesize in this process, storing each clip the moment it is made."""
    for text, key in todo:
        clip = _synthesize_one(engine, text, ids_by_text[text][0])
        cache.put(key, clip)
        yield text, clip


def _synthesize_one(engine: Engine, text: str, sentence_id: str) -> Clip:
    """One clip, with engine failures named after the sentence."""
    try:
        clip = engine.synthesize(text)
    except EngineUnavailable:
        raise  # about the engine, not this sentence
    except Exception as exc:
        raise sentence_error(sentence_id, text, exc) from exc
    _check_clip(clip, sentence_id, text)
    return clip


def sentence_error(sentence_id: str, text: str, exc: BaseException | str) -> SpeechError:
    """The error of an engine that failed on one sentence (its id kept as an attribute)."""
    shown = text if len(text) <= 120 else text[:117] + "..."
    return SpeechError(f"Speech synthesis failed on sentence '{sentence_id}' ({shown!r}): {exc}",
                       sentence_id=sentence_id)


def clip_problem(clip: object) -> str:
    """What is wrong with an engine's clip ('' if nothing)."""
    if not isinstance(clip, Clip) or clip.sample_rate_hz <= 0 or len(clip.pcm) % 2:
        return f"engine returned a bad clip: {clip!r:.80}"
    if not clip.pcm:
        return "engine returned no audio"
    return ""


def _check_clip(clip: Clip, sentence_id: str, text: str) -> None:
    """Engines are third-party code: refuse a clip that would corrupt the audio."""
    problem = clip_problem(clip)
    if problem:
        raise sentence_error(sentence_id, text, ValueError(problem))


# --- worker processes -------------------------------------------------------
#
# A hand-rolled pool rather than concurrent.futures: each worker has its own
# pipe and a short queue of sentences. Killing a ProcessPoolExecutor's
# workers (on an error or Ctrl-C) can leave half a result in its shared result
# pipe, and its manager thread then blocks forever, hanging the interpreter at
# exit (seen here). With a pipe per worker, a killed worker's pipe just reads
# as closed, and a worker that dies (out of memory) is noticed at once through
# its sentinel instead of waiting forever.
#
# A worker stores each clip in the cache itself and answers with a few bytes:
# a clip (hundreds of KB) sent through the pipe would block the worker until
# the parent reads it, and the parent may be busy assembling a section.

#: Sentences queued per worker: the next one is there when one is done.
_QUEUE_DEPTH = 2


def _worker_main(conn: Connection, engine_factory: Callable[[], Engine], cache_root: Path) -> None:
    """Synthesize (text, key) pairs received on ``conn`` until told to stop (None or EOF)."""
    # The terminal sends SIGINT to the whole process group; the parent stops
    # the workers, and workers dying on their own would only add noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cache = ClipCache(cache_root)
    engine: Engine | None = None
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        text, key = task
        try:
            if engine is None:
                engine = engine_factory()
            clip = engine.synthesize(text)
            if clip_problem(clip):
                conn.send(("clip", clip))  # the parent names the sentence
            else:
                cache.put(key, clip)
                conn.send(("stored",))
        except Exception as exc:
            kind = "unavailable" if isinstance(exc, EngineUnavailable) else "error"
            conn.send((kind, str(exc) or type(exc).__name__, traceback.format_exc()))


class _Worker:
    """One worker process, its end of the pipe, and the texts queued for it."""

    def __init__(self, context: Any, engine_factory: Callable[[], Engine],
                 cache_root: Path) -> None:
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child_conn, engine_factory, cache_root), daemon=True
        )
        self.process.start()
        child_conn.close()  # so that a dead worker's pipe reads as closed
        self.tasks: collections.deque[tuple[str, str]] = collections.deque()  # (text, key)

    def give(self, task: tuple[str, str]) -> None:
        self.tasks.append(task)
        # A worker that has just died is reported by its sentinel, naming the
        # sentence it was working on; this one stays queued until then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.conn.send(task)

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
    cache: ClipCache,
) -> Generator[Any, None, None]:
    """Synthesize ``todo`` in ``workers`` processes; yield (text, clip) as clips come.

    The first item is None, once the workers are started and have their texts.
    """
    context = clean_context()
    queue = collections.deque(todo)
    pool: list[_Worker] = []
    clean = False
    try:
        for _ in range(workers):
            pool.append(_Worker(context, engine_factory, cache.root))
        _LOGGER.info("Started %d synthesis worker processes", workers)
        for _ in range(_QUEUE_DEPTH):
            for worker in pool:
                if queue:
                    worker.give(queue.popleft())
        yield None  # started (see stream_clips)
        while busy := [w for w in pool if w.tasks]:
            waitables = {w.conn: w for w in busy} | {w.process.sentinel: w for w in busy}
            for ready in multiprocessing.connection.wait(list(waitables)):
                worker = waitables[ready]
                if not worker.tasks:
                    continue  # both its pipe and its sentinel were ready
                text, key = worker.tasks[0]
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
                worker.tasks.popleft()
                if status == "unavailable":
                    raise EngineUnavailable(payload[0]) from RemoteTraceback(payload[1])
                if status == "error":
                    cause = RemoteTraceback(payload[1])
                    raise sentence_error(sentence_id, text, payload[0]) from cause
                if status == "clip":
                    _check_clip(payload[0], sentence_id, text)  # raises: it was refused
                clip = cache.adopt(key)
                if queue:
                    worker.give(queue.popleft())
                yield text, clip
        clean = True
    finally:
        # On an error, Ctrl-C or an early close, stop now rather than finish the queue.
        for worker in pool:
            worker.stop(kill=not clean)


#: ``stream(items, spec, cache, while_waiting)``: the contract of :func:`stream_clips`.
ClipStream = Callable[[Sequence[tuple[str, str]], EngineSpec, ClipCache, Callable[[], None]],
                      Iterator[tuple[str, Clip, bool]]]


@dataclass(frozen=True, slots=True)
class Synthesis:
    """Where a build's clips are made, as the audio stage sees it.

    build.py chooses it (local worker processes here, or a Dask cluster from
    :func:`publisher.cluster.cluster_synthesis`) and hands it to
    :func:`publisher.narrate.narrate_book`, so the audio stage never needs to
    know which.
    """

    #: Yields (sentence id, clip, from the cache), each clip already in the cache.
    stream: ClipStream
    #: Said after "Synthesizing N sentences with ENGINE" (e.g. " on the cluster").
    where: str = ""
    #: Clips come from other processes, so sections are assembled while they come.
    pipelined: bool = False
    #: A core is free beside this process for a helper that encodes audio.
    spare_core: bool = False


def local_synthesis(workers: int) -> Synthesis:
    """Synthesis in ``workers`` processes on this machine (1: in this process)."""

    def stream(items: Sequence[tuple[str, str]], spec: EngineSpec, cache: ClipCache,
               while_waiting: Callable[[], None]) -> Iterator[tuple[str, Clip, bool]]:
        # With two cores, even one missing clip goes to a worker process: this
        # one imports the audio libraries meanwhile (an edit of one sentence
        # then costs the voice load or the imports, not both).
        return stream_clips(items, spec, cache, workers=workers, min_batch_for_workers=1,
                            while_waiting=while_waiting)

    return Synthesis(stream=stream, pipelined=workers > 1, spare_core=workers > 1)
