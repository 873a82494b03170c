"""Synthesis on a cluster: batches of sentences on a Dask cluster or any executor.

    items --cache lookup--> misses --batches of texts, named by their cache keys-->
        executor.submit(_synthesize_batch, spec, texts)      (one task per batch)
    --as each batch completes--> check its keys, store its clips in the cache, report

The executor is anything with ``concurrent.futures.Executor.submit``: a
``dask.distributed.Client`` (connected to a scheduler, or to a LocalCluster
made by :func:`open_executor`), or a local ``ProcessPoolExecutor``. Only
synthesis is spread out; assembly, encoding and packaging stay per book, on
the machine that builds it (narrate.py). ``publisher build --scheduler``
streams each book's clips from the cluster (:func:`stream_with_executor`,
handed to the audio stage by build.py as :func:`cluster_synthesis`) while it
assembles the sections already complete.

Tasks are pure and idempotent. A batch's result depends only on the engine
recipe (:class:`~publisher.speech.EngineSpec`) and its texts, and each clip
comes back under the cache key the worker computed from its own engine's
identity. With Dask the task key is ``synth-<hash of the recipe and the
batch's cache keys>``, so when a worker dies mid-batch the scheduler runs the
same task again elsewhere, and two books that share a batch share its result. The cache keys
are checked on arrival: a worker whose engine differs from ours (another voice
file, another ONNX Runtime) is an error, never a silent mix of voices.

Every clip is written to the cache the moment its batch arrives, so a build
that fails or is interrupted keeps all of them; a batch that fails on a
sentence sends back the clips it made before that sentence too. Optionally
(``shared_cache``, when workers see the same cache folder, as a LocalCluster
does) workers write clips into the cache themselves and send back only keys.

Memory stays flat in book length: :func:`stream_with_executor` (the contract
of :func:`publisher.synthesize.stream_clips`) yields each clip once it is in
the cache and keeps none, so the assembler can read a section's clips back
when it makes that section. (A dict of every clip of a 100,000-word book,
12.6 hours of 22.05 kHz 16-bit speech, is 1.9 GB.)

Measured on a 2-core machine with Piper, see bench/throughput.py and the
README, "Performance: scaling".
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import logging
import math
import os
import signal
import socket
import threading
import traceback
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .cache import ClipCache
from .errors import EngineUnavailable, PublisherError, SpeechError
from .model import Clip
from .speech import Engine, EngineSpec
from .synthesize import Synthesis, clip_problem, sentence_error

__all__ = [
    "MAX_BATCH_SIZE",
    "cluster_synthesis",
    "open_executor",
    "shared_disk",
    "stream_with_executor",
    "synthesize_with_executor",
]

log = logging.getLogger(__name__)

#: Texts per task at most. Big enough that per-task overhead (a few ms in Dask)
#: is nothing next to synthesis (Piper: about a second a sentence), small
#: enough that a lost worker costs little and results (~6 MB) travel easily.
MAX_BATCH_SIZE = 32
#: Aim for this many batches per worker slot, so fast workers take more.
_BATCHES_PER_SLOT = 4
_INSTALL_HINT = "pip install 'publisher[cluster]'"

ProgressCallback = Callable[[str, Clip, bool], None]


# --- executors --------------------------------------------------------------


@contextlib.contextmanager
def open_executor(scheduler: str | None, workers: int = 0, *,
                  timeout_s: float = 10.0) -> Iterator[Any]:
    """A ``dask.distributed.Client`` for the synthesis of a build, closed on exit.

    ``scheduler`` is the address of a running Dask scheduler
    (``tcp://HOST:PORT``); None starts a LocalCluster of ``workers`` processes
    with one thread each (0: one per core) for the time of the block. Raises
    PublisherError when Dask is not installed, or when the scheduler cannot be
    reached or has no workers within ``timeout_s``.
    """
    if workers < 0:
        raise PublisherError(f"workers = {workers}: expected 0 (one per core) or more.")
    try:
        import distributed  # deferred: ~1 s to import, and the optional 'cluster' extra
    except ImportError as exc:
        raise PublisherError(
            "Synthesis on a Dask cluster needs the optional 'cluster' dependencies, "
            f"which are not installed ({exc}). Install them with: {_INSTALL_HINT}") from exc

    with contextlib.ExitStack() as stack:
        # Dask logs every worker and connection at INFO: noise in a build log.
        # Its warnings (a worker lost and restarted) still show.
        dask_log = logging.getLogger("distributed")
        stack.callback(dask_log.setLevel, dask_log.level)
        dask_log.setLevel(max(dask_log.getEffectiveLevel(), logging.WARNING))
        if scheduler is None:
            # A terminal's Ctrl-C goes to every process of the group; this one
            # stops the build and closes the cluster, so the worker processes
            # are started with SIGINT ignored (inherited, and kept by Python
            # and asyncio) instead of each printing its own KeyboardInterrupt.
            with _sigint_ignored():
                cluster = distributed.LocalCluster(
                    n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                    # Failed tasks are reported here, naming the sentence; the
                    # workers' own log of them would only repeat it, with noise.
                    processes=True, dashboard_address=":0", silence_logs=logging.CRITICAL)
            stack.callback(cluster.close)
            client = distributed.Client(cluster, set_as_default=False)
            stack.callback(client.close)
        else:
            try:
                client = distributed.Client(scheduler, timeout=timeout_s, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise PublisherError(
                    f"Could not connect to the Dask scheduler at {scheduler} ({exc}). Check "
                    "that `dask scheduler` is running there and that the address and port "
                    "(8786 by default) are right, e.g. --scheduler tcp://HOST:8786.") from exc
            stack.callback(client.close)
            try:
                client.wait_for_workers(1, timeout=timeout_s)
            except (OSError, TimeoutError) as exc:
                raise PublisherError(
                    f"The Dask scheduler at {scheduler} has no workers. Start some on each "
                    f"machine with: dask worker {scheduler} --nthreads 1 --nworkers auto "
                    "(publisher must be installed there too).") from exc
        log.info("Synthesis on Dask: %s", _describe(client))
        yield client


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored for the block (in the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _describe(client: Any) -> str:
    slots = _slots(client)
    return f"{client.scheduler.address}, {slots} worker thread{'s' if slots != 1 else ''}"


def _is_dask(executor: Any) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


def _slots(executor: Any) -> int:
    """How many tasks the executor runs at once."""
    if _is_dask(executor):
        return max(1, sum(executor.nthreads().values()))
    return max(1, int(getattr(executor, "_max_workers", 0) or os.cpu_count() or 1))


def _auto_batch_size(todo: int, slots: int) -> int:
    return max(1, min(MAX_BATCH_SIZE, math.ceil(todo / (_BATCHES_PER_SLOT * slots))))


# --- the tasks (run in worker processes) -------------------------------------

#: Engines made in this process, by recipe: a worker loads a voice once.
_ENGINES: dict[EngineSpec, Engine] = {}


def _engine_for(spec: EngineSpec) -> Engine:
    try:
        engine = _ENGINES.get(spec)
    except TypeError:  # an unhashable engine option: make one per batch
        return spec()
    if engine is None:
        engine = _ENGINES[spec] = spec()
    return engine


class _BatchFailed(Exception):
    """Raised in a worker: text ``index`` of a batch failed; ``done`` holds the results before it.

    ``kind`` is ``unavailable`` (the engine cannot run on that worker) or
    ``error`` (the engine failed on that text). Plain values only, so that it
    pickles the same everywhere.
    """

    def __init__(self, kind: str, index: int, message: str, trace: str,
                 done: list[tuple[str, Any, int]]) -> None:
        super().__init__(kind, index, message, trace, done)
        self.kind, self.index, self.message, self.trace, self.done = (
            kind, index, message, trace, done)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        # Dask logs failed tasks by repr: never the PCM of the clips in ``done``.
        return (f"_BatchFailed({self.kind!r}, text {self.index}, {self.message!r}, "
                f"{len(self.done)} clips made before it)")


def _run_batch(spec: EngineSpec, texts: Sequence[str],
               emit: Callable[[str, Clip], tuple[str, Any, int]]) -> list[tuple[str, Any, int]]:
    """Synthesize ``texts`` in order with this process's engine for ``spec``."""
    where = f"{socket.gethostname()} (pid {os.getpid()})"
    try:
        engine = _engine_for(spec)
        identity = engine.identity
    except Exception as exc:
        raise _BatchFailed("unavailable", 0, f"The {spec.name} engine cannot run on worker "
                           f"{where}: {exc}", traceback.format_exc(), []) from None
    done: list[tuple[str, Any, int]] = []
    for index, text in enumerate(texts):
        try:
            clip = engine.synthesize(text)
            problem = clip_problem(clip)
        except EngineUnavailable as exc:
            raise _BatchFailed("unavailable", index, f"{exc} (on worker {where})",
                               traceback.format_exc(), done) from None
        except Exception as exc:
            raise _BatchFailed("error", index, str(exc) or type(exc).__name__,
                               traceback.format_exc(), done) from None
        if problem:
            raise _BatchFailed("error", index, problem, "", done)
        done.append(emit(ClipCache.key(identity, text), clip))
    return done


def _synthesize_batch(spec: EngineSpec, texts: Sequence[str]) -> list[tuple[str, bytes, int]]:
    """[(cache key, PCM, sample rate)] for ``texts``: a pure task, keyed by content."""
    return _run_batch(spec, texts, lambda key, clip: (key, clip.pcm, clip.sample_rate_hz))


def _synthesize_batch_into(spec: EngineSpec, texts: Sequence[str],
                           cache_root: str) -> list[tuple[str, int, int]]:
    """Like _synthesize_batch, but store the clips in the cache at ``cache_root`` (shared
    with the caller) and return [(cache key, number of samples, sample rate)]."""
    cache = ClipCache(Path(cache_root))

    def store(key: str, clip: Clip) -> tuple[str, int, int]:
        cache.put(key, clip)
        return key, clip.num_samples, clip.sample_rate_hz

    return _run_batch(spec, texts, store)


# --- the client side ----------------------------------------------------------

#: (sentence id, clip, from the cache)
_Event = tuple[str, Clip, bool]
_Events = Generator[_Event, None, None]


class _Synthesis:
    """One run over a book's (sentence id, text) list with its engine.

    Texts are deduplicated by cache key; ``owners`` lists every sentence id
    that speaks a key, first one first. Nothing here holds a clip after it
    has been yielded.
    """

    def __init__(self, spec: EngineSpec, cache: ClipCache, executor: Any, *,
                 batch_size: int | None, shared_cache: bool) -> None:
        self.spec = spec
        self.cache = cache
        self.executor = executor
        self.batch_size = batch_size
        self.shared_cache = shared_cache
        self.owners: dict[str, list[str]] = {}
        self.todo: dict[str, str] = {}  # key -> text, in first-seen order
        self.done: set[str] = set()
        #: Clips made by this run (the others came from the cache).
        self.synthesized = 0
        self._identity: Mapping[str, str] = {}

    def events(self, items: Sequence[tuple[str, str]]) -> _Events:
        """Every sentence, from the cache first, then as batches complete.

        The first error is raised, and the batches not yet done are cancelled.
        """
        yield from self._plan(items)
        yield from self._run()

    def _plan(self, items: Sequence[tuple[str, str]]) -> _Events:
        """Look the texts up in the cache; queue the misses."""
        self._identity = identity = self.spec().identity
        for sentence_id, text in items:
            key = self.cache.key(identity, text)
            owners = self.owners.setdefault(key, [])
            owners.append(sentence_id)
            if len(owners) > 1 and key not in self.done:
                continue  # reported when the clip of its first sentence comes
            clip = self.cache.get(key)
            if clip is None:
                self.todo[key] = text
                continue
            self.done.add(key)
            yield sentence_id, clip, True

    def _run(self) -> _Events:
        todo = len(self.todo)
        if not todo:
            return
        size = self.batch_size or _auto_batch_size(todo, _slots(self.executor))
        futures: dict[Any, list[str]] = {}
        try:
            keys = list(self.todo)
            for start in range(0, len(keys), size):
                batch = keys[start:start + size]
                futures[self._submit(batch)] = batch
            log.info("Synthesizing %d texts in %d batches of up to %d", todo, len(futures),
                         size)
            for future in _as_completed(self.executor, list(futures)):
                batch = futures.pop(future)
                yield from self._finish(batch, future)
                del future  # let the executor free the batch's results
        finally:
            # After an error, Ctrl-C or an early close: stop the batches not yet done.
            _cancel(self.executor, list(futures))

    def _submit(self, batch: list[str]) -> Any:
        """One task for a batch, named by the cache keys of its texts."""
        texts = tuple(self.todo[key] for key in batch)
        spec = _spec_for_workers(self.spec, self.shared_cache)
        fn: Callable[..., Any]
        args: tuple[Any, ...]
        if self.shared_cache:
            # Absolute: a worker started elsewhere runs in another folder.
            root = str(self.cache.root.resolve())
            fn, args, name = _synthesize_batch_into, (spec, texts, root), "synth-into"
        else:
            fn, args, name = _synthesize_batch, (spec, texts), "synth"
        if _is_dask(self.executor):
            # The recipe too: two specs of one identity (a test's fail_on) make the
            # same clips but may fail differently, so they must not share a task.
            digest = hashlib.sha256("\n".join([repr(spec), *batch]).encode()).hexdigest()
            return self.executor.submit(fn, *args, key=f"{name}-{digest}", pure=True)
        return self.executor.submit(fn, *args)

    def _finish(self, batch: list[str], future: Any) -> _Events:
        """Check, store and report one batch's clips; errors name the sentence."""
        try:
            results = future.result()
        except _BatchFailed as failed:
            log.debug("Batch failed in a worker:\n%s", failed.trace)
            yield from self._store(batch, failed.done)  # keep what the batch made first
            key = batch[min(failed.index, len(batch) - 1)]
            if failed.kind == "unavailable":
                raise EngineUnavailable(failed.message) from None
            sentence_id = self.owners[key][0]
            raise sentence_error(sentence_id, self.todo[key], failed.message) from None
        except Exception as exc:
            if type(exc).__name__ == "KilledWorker":
                sentence_id = self.owners[batch[0]][0]
                raise SpeechError(
                    f"Speech worker processes kept dying while synthesizing {len(batch)} "
                    f"sentences from '{sentence_id}' on ({exc}). Out of memory? Give the "
                    "Dask workers more memory, or use fewer threads per worker.",
                    sentence_id=sentence_id) from exc
            if isinstance(exc, ImportError):
                raise PublisherError(
                    f"The Dask workers cannot run publisher's tasks ({exc}). Install the same "
                    f"version of publisher on every worker machine: {_INSTALL_HINT}") from exc
            raise
        yield from self._store(batch, results, whole=True)

    def _store(self, batch: list[str], results: Sequence[tuple[str, Any, int]],
               *, whole: bool = False) -> _Events:
        expected = batch if whole else batch[:len(results)]
        if [key for key, _, _ in results] != expected:
            raise PublisherError(
                f"A worker's {self.spec.name} engine differs from this machine's: the clips it "
                "made have other cache keys than expected. Install the same versions of "
                "publisher, its speech engines (piper-tts, onnxruntime) and voices on every "
                f"worker machine. Engine here: {dict(self._identity)}")
        for key, payload, rate_hz in results:
            sentence_id = self.owners[key][0]
            if self.shared_cache:
                clip = self._adopt(key, sentence_id)
            else:
                clip = Clip(pcm=payload, sample_rate_hz=rate_hz)
                problem = clip_problem(clip)
                if problem:
                    raise sentence_error(sentence_id, self.todo[key], problem)
                self.cache.put(key, clip)
            self.done.add(key)
            self.synthesized += 1
            first_id, *repeats = self.owners[key]
            yield first_id, clip, False
            for repeat_id in repeats:
                yield repeat_id, clip, True

    def _adopt(self, key: str, sentence_id: str) -> Clip:
        """The clip a worker stored in the shared cache, read back (and so checked)."""
        try:
            return self.cache.adopt(key)
        except OSError as exc:
            raise PublisherError(
                f"A worker stored the clip of sentence '{sentence_id}' in {self.cache.root}, "
                f"but it cannot be read here ({exc}): do the workers see this cache folder? "
                "Use shared_cache only when they do.", sentence_id=sentence_id) from exc


def _spec_for_workers(spec: EngineSpec, shared_cache: bool) -> EngineSpec:
    """``spec`` as workers get it: a folder of ours (Piper's ``model_cache``) only when
    they share our disk, and then as an absolute path; never a folder on their machine."""
    options = dict(spec.options)
    if "model_cache" not in options:
        return spec
    if shared_cache:
        options["model_cache"] = str(Path(str(options["model_cache"])).resolve())
    else:
        del options["model_cache"]
    return dataclasses.replace(spec, options=tuple(sorted(options.items())))


def _as_completed(executor: Any, futures: list[Any]) -> Iterator[Any]:
    if _is_dask(executor):
        import distributed  # deferred: see open_executor

        return iter(distributed.as_completed(futures, loop=executor.loop))
    return concurrent.futures.as_completed(futures)


def _cancel(executor: Any, futures: list[Any]) -> None:
    if not futures:
        return
    if _is_dask(executor):
        with contextlib.suppress(Exception):  # the client may be closing already
            executor.cancel(futures)
    else:
        for future in futures:
            future.cancel()


def stream_with_executor(
    items: Sequence[tuple[str, str]],
    spec: EngineSpec,
    cache: ClipCache,
    executor: Any,
    *,
    batch_size: int | None = None,
    shared_cache: bool = False,
) -> Generator[tuple[str, Clip, bool], None, None]:
    """Yield ``(sentence_id, clip, from_cache)`` for every item as its clip becomes available.

    The contract of :func:`publisher.synthesize.stream_clips`, with the
    synthesis done on ``executor``: cached clips first, in the order of
    ``items``, then the others as their batches complete, each already in the
    cache when it is yielded. Nothing is held after it is yielded, so the
    caller can assemble sections as they complete in flat memory. Closing
    the generator early cancels the batches not yet done.

    ``executor`` is a ``dask.distributed.Client`` or any
    ``concurrent.futures.Executor`` whose workers can unpickle ``spec``.
    ``batch_size`` texts go in one task (default: about four batches per
    worker thread, at most :data:`MAX_BATCH_SIZE`). With ``shared_cache`` the
    workers write clips into ``cache.root`` themselves (it must be the same
    folder for them, as on one machine or a shared file system).

    Raises SpeechError naming the sentence when the engine fails on it (the
    clips made before are kept), EngineUnavailable when the engine cannot run
    on a worker, and PublisherError when a worker's engine makes other clips
    (other versions) or cannot import publisher.
    """
    run = _Synthesis(spec, cache, executor, batch_size=batch_size, shared_cache=shared_cache)
    with contextlib.closing(run.events(items)) as events:
        yield from events


def synthesize_with_executor(
    items: Sequence[tuple[str, str]],
    spec: EngineSpec,
    cache: ClipCache,
    executor: Any,
    *,
    batch_size: int | None = None,
    shared_cache: bool = False,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Clip]:
    """Synthesize ``items`` (sentence id, text) on ``executor``; clips by sentence id.

    The contract of :func:`publisher.synthesize.synthesize_clips` (texts
    deduplicated, cache first, each clip stored the moment its batch arrives,
    ``on_progress(sentence_id, clip, from_cache)`` once per sentence as results
    arrive, in the calling thread), on the executor of
    :func:`stream_with_executor`, whose arguments and errors it shares. It
    returns every clip at once: for long books, use the stream.
    """
    report = on_progress or (lambda _sid, _clip, _cached: None)
    clips: dict[str, Clip] = {}
    with contextlib.closing(stream_with_executor(items, spec, cache, executor,
                                                 batch_size=batch_size,
                                                 shared_cache=shared_cache)) as stream:
        for sentence_id, clip, cached in stream:
            clips[sentence_id] = clip
            report(sentence_id, clip, cached)
    return {sentence_id: clips[sentence_id] for sentence_id, _ in items}


# --- for build.py ------------------------------------------------------------------


def cluster_synthesis(executor: Any, *, spare_core: bool) -> Synthesis:
    """Synthesis on ``executor`` (a Dask Client) as the audio stage takes it: clips
    stream in as batches complete, and the sections are assembled meanwhile.
    ``spare_core``: this machine has a core for an encoding helper beside the build."""
    shared = shared_disk(executor)

    def stream(items: Sequence[tuple[str, str]], spec: EngineSpec, cache: ClipCache,
               while_waiting: Callable[[], None]) -> Iterator[tuple[str, Clip, bool]]:
        # The workers are up already: import the audio libraries before the clips come.
        while_waiting()
        return stream_with_executor(items, spec, cache, executor, shared_cache=shared)

    return Synthesis(stream=stream, where=" on the cluster", pipelined=True,
                     spare_core=spare_core)


def shared_disk(executor: Any) -> bool:
    """Whether ``executor``'s workers see our disk: a Client of a LocalCluster."""
    cluster = getattr(executor, "cluster", None)
    return type(cluster).__name__ == "LocalCluster"
