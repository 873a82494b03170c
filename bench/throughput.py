"""Measurements only benchmarks make: synthesis throughput in this process and on Dask
LocalClusters (``bench/run.py --only cluster``), and proof-listening speed.

Moved here from publisher/cluster.py and publisher/proof.py: only the benchmarks use them.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from publisher.build import load_book
from publisher.cache import ClipCache
from publisher.cluster import open_executor, synthesize_with_executor
from publisher.errors import PublisherError
from publisher.hearing import WhisperTranscriber
from publisher.model import Clip
from publisher.options import BuildOptions
from publisher.proof import proof_book
from publisher.script import script_book
from publisher.speech import EngineSpec
from publisher.synthesize import synthesize_clips


def _warm_up(client: Any, spec: EngineSpec, workers: int) -> None:
    """Load the engine in every worker (time synthesis, not loading): one tiny task per
    worker, each its own text, into a throwaway cache."""
    texts = [(f"w{i}", f"Warm up {i}.") for i in range(2 * workers)]
    with tempfile.TemporaryDirectory(prefix="publisher-bench-") as tmp:
        synthesize_with_executor(texts, spec, ClipCache(Path(tmp)), client, batch_size=1)


def measure_throughput(texts: Sequence[str], spec: EngineSpec,
                       worker_counts: Sequence[int] = (1, 2), *, repeats: int = 5,
                       batch_size: int | None = None) -> dict[str, Any]:
    """Audio minutes made per wall minute (and per CPU minute), in this process and
    on LocalClusters.

    Starts a LocalCluster of each of ``worker_counts`` processes (one thread
    each; startup timed) and loads the voice in every worker, then synthesizes
    ``texts`` ``repeats`` times with each setup in turn (in this process with
    one engine, then on each cluster), every time into a fresh, empty cache.
    Setups take turns so that other jobs on the machine slow them alike;
    medians and the range of the wall times are reported. CPU seconds are
    those of this process (client and scheduler) and all its descendants
    (nannies, workers) during the run: other jobs on a shared machine hardly
    change them, so they measure the work, and the overhead of the cluster,
    when wall times cannot.
    """
    items = [(f"s{i}", text) for i, text in enumerate(texts)]
    engine = spec()
    engine.synthesize("Warm up.")

    def in_process(cache: ClipCache) -> Mapping[str, Clip]:
        return synthesize_clips(items, lambda: engine, cache, workers=1)

    setups: dict[str, Callable[[ClipCache], Mapping[str, Clip]]] = {"in_process": in_process}
    startup_s: dict[str, float] = {}
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    audio_s = 0.0
    with contextlib.ExitStack() as stack:
        for count in worker_counts:
            name = f"dask_{count}_worker{'s' if count != 1 else ''}"
            started = time.perf_counter()
            client = stack.enter_context(open_executor(None, count))
            _warm_up(client, spec, count)
            startup_s[name] = time.perf_counter() - started

            def on_cluster(cache: ClipCache, client: Any = client) -> Mapping[str, Clip]:
                return synthesize_with_executor(items, spec, cache, client,
                                                batch_size=batch_size)

            setups[name] = on_cluster
        for _ in range(repeats):
            for name, synthesize in setups.items():
                with tempfile.TemporaryDirectory(prefix="publisher-bench-") as tmp:
                    cpu_before = _tree_cpu_s()
                    started = time.perf_counter()
                    clips = synthesize(ClipCache(Path(tmp)))
                    walls.setdefault(name, []).append(time.perf_counter() - started)
                    cpus.setdefault(name, []).append(_tree_cpu_s() - cpu_before)
                distinct = {clips[sid] for sid, _ in items if sid in clips}
                audio_s = sum(clip.duration_ms for clip in distinct) / 1000

    results: dict[str, Any] = {"engine": spec.name, "sentences": len(items),
                               "audio_s": round(audio_s, 1), "cpu_count": os.cpu_count(),
                               "repeats": repeats}
    for name, times in walls.items():
        median = statistics.median(times)
        cpu_s = statistics.median(cpus[name])
        results[name] = {"wall_s_median": round(median, 2), "wall_s_min": round(min(times), 2),
                         "wall_s_max": round(max(times), 2),
                         "audio_min_per_wall_min": round(audio_s / median, 2),
                         "cpu_s_median": round(cpu_s, 2),
                         "audio_min_per_cpu_min": round(audio_s / cpu_s, 2)}
        if name in startup_s:
            results[name]["startup_s"] = round(startup_s[name], 2)
    return results


def _tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process and its live descendants so far."""
    import psutil  # a dependency of distributed

    total = 0.0
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


#: The engine the benchmarks measure: Piper with its bundled voice.
BENCH_SPEC = EngineSpec("piper", None, 1.0, "en")


def measure_book(source: Path, sentences: int = 40, *, spec: EngineSpec = BENCH_SPEC,
                 worker_counts: Sequence[int] = (1, 2), repeats: int = 5) -> dict[str, Any]:
    """:func:`measure_throughput` on the first ``sentences`` sentences of ``source``
    (for ``make bench``: the first book, with Piper)."""
    book = load_book(source, BuildOptions())
    script = script_book(book)
    texts = [text for _, text in script.items[:len(book.sentences)]][:sentences]
    results = measure_throughput(texts, spec, worker_counts, repeats=repeats)
    return {"source": source.name, **results}


def measure_proof(out_dir: Path, *, runs: int = 1) -> dict[str, float]:
    """Proof-listen the book in ``out_dir`` for a benchmark (writes no report).

    Returns its WER and how long listening took: ``seconds`` is the median of
    ``runs`` runs with the model already loaded (``model_load_seconds`` is
    the one-off cost of loading it), ``seconds_per_audio_minute`` the same per
    minute of section audio. (Moved here from publisher/proof.py: only a benchmark uses it.)
    """
    started = time.monotonic()
    transcriber = WhisperTranscriber()
    load_seconds = time.monotonic() - started
    times, report = [], None
    for _ in range(max(1, runs)):
        report = proof_book(out_dir, transcriber=transcriber, write=False)
        times.append(report.stats["seconds"])
    assert report is not None
    if report.skipped:
        raise PublisherError(f"{out_dir}: {report.skipped}")
    seconds = statistics.median(times)
    audio_minutes = report.stats["audio_ms"] / 60000
    return {"wer": round(report.wer, 4), "words": report.words, "errors": report.errors,
            "flagged_sentences": len(report.flagged), "audio_minutes": round(audio_minutes, 2),
            "model_load_seconds": round(load_seconds, 2), "seconds": round(seconds, 2),
            "seconds_per_audio_minute": round(seconds / audio_minutes, 2),
            "times_real_time": round(60 * audio_minutes / seconds, 1)}
