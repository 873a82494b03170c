"""Benchmarks (`make bench`): build speed against pandoc, and narration speed
against the raw Piper engine. Prints a table; writes bench/results.json.

Usage: python bench/run.py [--quick] [--only text|audio] [--runs N]

Every figure is a median of several runs (the machine has 2 cores and is
shared), in wall seconds, with the CPU seconds (user + system, of the build
and every process it started) beside it: CPU time hardly moves when another
job takes a core, so it is the one to compare across runs.

Narration is compared with the raw engine in two ways, both measured in the
same run on the same spoken text, with the voice loaded beforehand:

- ``raw_engine_1p``: Piper in one process, one thread (the engine's default):
  what "the time it takes to say the book" is on one core.
- ``raw_engine_2p``: Piper in as many processes as the build uses (2 on 2
  cores), sentences dealt out as the build deals them: the same parallelism,
  so ``cold_over_raw_2p`` is the build's overhead over synthesis alone.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_BOOK = ROOT / "content" / "unpacking-self-harm.md"
PUBLISHER = [sys.executable, "-m", "publisher"]
EDIT = ("Self-harm can be cyclical.", "Self-harm can often be cyclical.")


def run_once(command: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall and CPU seconds of one run of ``command``, and the peak RSS of its process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=env, cwd=ROOT)
    tree = _TreeMonitor(process.pid)
    _, stderr = process.communicate()
    wall = time.perf_counter() - start
    tree.stop()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Synthesis workers are children of multiprocessing's fork server, which is
    # not always waited for: their CPU time is only seen by polling /proc.
    return {"wall_s": wall, "cpu_s": max(waited, tree.cpu_s), "peak_mb": tree.peak_mb}


def timed(command: list[str], runs: int, env: dict[str, str] | None = None,
          prepare=None) -> dict[str, float]:
    """Medians of ``runs`` runs (``prepare()`` before each)."""
    results = []
    for _ in range(runs):
        if prepare is not None:
            prepare()
        results.append(run_once(command, env))
    return {key: round(statistics.median(r[key] for r in results), 3) for key in results[0]}


_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


class _TreeMonitor:
    """Polls a process and its descendants (Linux /proc) at 20 Hz: summed RSS and CPU."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._cpu: dict[int, float] = {}  # last CPU seconds seen, per process
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_kb / 1024, 1)

    @property
    def cpu_s(self) -> float:
        return sum(self._cpu.values())

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._done.wait(0.05):
            total_kb = 0
            for pid in _tree(self.pid):
                rss_kb, cpu_s = _usage(pid)
                total_kb += rss_kb
                if cpu_s:
                    self._cpu[pid] = max(self._cpu.get(pid, 0.0), cpu_s)
            self.peak_kb = max(self.peak_kb, total_kb)


def _tree(pid: int) -> list[int]:
    pids, index = [pid], 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").glob("*/children"):
            try:
                pids += [int(child) for child in task.read_text().split()]
            except OSError:
                pass
        index += 1
    return pids


def _usage(pid: int) -> tuple[int, float]:
    """(resident KB, CPU seconds) of a live process; zeros if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0.0
    rss_kb = next((int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("VmRSS:")), 0)
    return rss_kb, (int(fields[11]) + int(fields[12])) * _TICK_S


def long_document(path: Path, target_bytes: int = 1_000_000) -> Path:
    """A deterministic ~1 MB Markdown book: sections, lists, emphasis, links."""
    rng = random.Random(1234)
    words = ("harm reduction care body mind safety choice support listen rest breathe "
             "friend time feeling relief pain research people agency trust slow").split()
    parts = ["---\ntitle: Long document\nlanguage: en\n"
             "identifier: urn:uuid:00000000-0000-4000-8000-00000000be00\n---\n\n# Long document\n"]
    size = 0
    section = 0
    while size < target_bytes:
        section += 1
        chunk = [f"\n## Section {section}\n"]
        for _ in range(6):
            sentences = []
            for _ in range(rng.randint(3, 7)):
                n = rng.randint(6, 22)
                sentence = " ".join(rng.choice(words) for _ in range(n)).capitalize()
                if rng.random() < 0.2:
                    sentence += ", with *emphasis* and a [link](https://example.org/x)"
                sentences.append(sentence + rng.choice([".", ".", ".", "?", "!"]))
            chunk.append("\n" + " ".join(sentences) + "\n")
        chunk.append("\n" + "\n".join(f"- item {i} of the list" for i in range(4)) + "\n")
        text = "".join(chunk)
        size += len(text.encode())
        parts.append(text)
    path.write_text("".join(parts), encoding="utf-8")
    return path


def bench_text(runs: int) -> dict[str, object]:
    pandoc = shutil.which("pandoc")
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        long_md = long_document(tmpdir / "long.md")
        for name, source in (("first book", FIRST_BOOK), ("1 MB document", long_md)):
            ours = timed([*PUBLISHER, "build", "--no-audio", "-q", "-o", str(tmpdir / "out"),
                          str(source)], runs)
            row: dict[str, object] = {"bytes": source.stat().st_size,
                                      "publisher_s": ours["wall_s"],
                                      "publisher_cpu_s": ours["cpu_s"],
                                      "publisher_peak_mb": ours["peak_mb"]}
            if pandoc:
                theirs = timed([pandoc, "-f", "markdown", "-t", "epub3", "-o",
                                str(tmpdir / "pandoc.epub"), str(source)], runs)
                row.update({"pandoc_s": theirs["wall_s"], "pandoc_cpu_s": theirs["cpu_s"],
                            "ratio_publisher_over_pandoc": round(
                                ours["wall_s"] / theirs["wall_s"], 2),
                            "cpu_ratio_publisher_over_pandoc": round(
                                ours["cpu_s"] / max(theirs["cpu_s"], 1e-3), 2)})
            results[name] = row
        # What no build can avoid: starting Python and importing the text path.
        results["python_startup_s"] = timed([sys.executable, "-c", "pass"], runs)["wall_s"]
        results["import_publisher_build_s"] = timed(
            [sys.executable, "-c", "import publisher.build"], runs)["wall_s"]
    return results


# --- the raw engine ------------------------------------------------------------------

_ENGINE = None


def _load_engine() -> None:
    global _ENGINE
    sys.path.insert(0, str(ROOT))
    from publisher.speech import make_engine

    _ENGINE = make_engine("piper", None, 1.0, "en")
    _ENGINE.synthesize("Warm up.")


def _say(text: str) -> float:
    assert _ENGINE is not None
    return _ENGINE.synthesize(text).duration_ms / 1000


def raw_engine(texts: list[str], processes: int) -> dict[str, float]:
    """Seconds to synthesize ``texts`` with Piper in ``processes`` processes, voice loaded."""
    if processes == 1:
        _load_engine()
        start = time.perf_counter()
        cpu = time.process_time()
        audio_s = sum(_say(text) for text in texts)
        return {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
                "audio_s": audio_s}
    context = multiprocessing.get_context("forkserver")
    with context.Pool(processes, initializer=_load_engine) as pool:
        pool.map(_say, ["Warm up."] * processes * 2)  # every worker has loaded its voice
        before = _pool_cpu(pool)
        start = time.perf_counter()
        audio_s = sum(pool.imap(_say, texts, chunksize=1))
        wall = time.perf_counter() - start
        cpu = _pool_cpu(pool) - before
    return {"wall_s": wall, "cpu_s": cpu, "audio_s": audio_s}


def _pool_cpu(pool) -> float:
    """CPU seconds of the pool's worker processes so far."""
    return sum(_usage(process.pid)[1] for process in pool._pool)  # noqa: SLF001


def bench_audio(quick: bool, runs: int) -> dict[str, object]:
    """Cold, warm and one-edit builds of the first book with Piper, vs the raw engine."""
    sys.path.insert(0, str(ROOT))
    from publisher.build import BuildOptions, load_book
    from publisher.lexicon import load_lexicon
    from publisher.narrate import _speech_items, _toc_entries, default_workers

    book = load_book(FIRST_BOOK, BuildOptions(audio=True))
    lexicon = load_lexicon(book.meta.pronunciations, book.meta.lexicon)
    # Everything the build says: the sentences and the table of contents.
    texts = list(dict.fromkeys(text for _, text in
                               _speech_items(book, _toc_entries(book), lexicon)))
    if quick:
        texts = texts[:10]
    workers = default_workers()
    raw_1p = raw_engine(texts, 1)
    raw_np = raw_engine(texts, workers)
    result: dict[str, object] = {
        "distinct_texts": len(texts),
        "audio_s_raw": round(raw_1p["audio_s"], 1),
        "raw_engine_1p_s": round(raw_1p["wall_s"], 2),
        "raw_engine_1p_cpu_s": round(raw_1p["cpu_s"], 2),
        "raw_engine_rtf": round(raw_1p["wall_s"] / raw_1p["audio_s"], 4),
        f"raw_engine_{workers}p_s": round(raw_np["wall_s"], 2),
        f"raw_engine_{workers}p_cpu_s": round(raw_np["cpu_s"], 2),
        "build_workers": workers,
    }
    if quick:
        return result

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        out = tmpdir / "out"
        cache = tmpdir / "cache"
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
        cmd = [*PUBLISHER, "build", "-q", "-o", str(out), "--cache-dir", str(cache),
               str(FIRST_BOOK)]
        cold = timed(cmd, max(1, runs // 3),
                     env, prepare=lambda: shutil.rmtree(cache, ignore_errors=True))
        record = json.loads((out / "unpacking-self-harm" / "build.json").read_text())
        book_audio_s = sum(s.get("duration_ms", 0) for s in record["sections"]) / 1000
        warm = timed(cmd, runs, env)
        # One sentence edited, from the warm cache each time.
        snapshot = tmpdir / "cache-warm"
        shutil.copytree(cache, snapshot)
        edited = tmpdir / "unpacking-self-harm.md"
        text = FIRST_BOOK.read_text(encoding="utf-8")
        assert EDIT[0] in text, "bench/run.py: the sentence to edit is gone from the book"
        edited.write_text(text.replace(*EDIT), encoding="utf-8")

        def restore() -> None:
            shutil.rmtree(cache)
            shutil.copytree(snapshot, cache)

        one_edit = timed([*cmd[:-1], str(edited)], runs, env, prepare=restore)
    raw_np_s = raw_np["wall_s"]
    result.update({
        "book_audio_s": round(book_audio_s, 1),
        "cold_build_s": cold["wall_s"],
        "cold_build_cpu_s": cold["cpu_s"],
        "cold_build_rtf": round(cold["wall_s"] / book_audio_s, 4),
        "cold_over_raw_1p": round(cold["wall_s"] / raw_1p["wall_s"], 3),
        f"cold_over_raw_{workers}p": round(cold["wall_s"] / raw_np_s, 3),
        "cold_cpu_over_raw_cpu": round(cold["cpu_s"] / raw_np["cpu_s"], 3),
        "warm_build_s": warm["wall_s"],
        "warm_build_cpu_s": warm["cpu_s"],
        "warm_over_cold": round(warm["wall_s"] / cold["wall_s"], 4),
        "one_edit_build_s": one_edit["wall_s"],
        "one_edit_build_cpu_s": one_edit["cpu_s"],
        "one_edit_over_cold": round(one_edit["wall_s"] / cold["wall_s"], 4),
        # Summed over the build process and its synthesis workers, polled at 20 Hz.
        "peak_rss_mb_cold": cold["peak_mb"],
        "peak_rss_mb_warm": warm["peak_mb"],
        "peak_rss_mb_one_edit": one_edit["peak_mb"],
    })
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs, short texts")
    parser.add_argument("--only", choices=("text", "audio"))
    parser.add_argument("--runs", type=int, default=0,
                        help="runs per figure (default 5, or 1 with --quick); cold builds "
                             "run a third as often")
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 5)
    results: dict[str, object] = {}
    if args.only in (None, "text"):
        results["text_only_build"] = bench_text(runs)
    if args.only in (None, "audio"):
        results["narration"] = bench_audio(args.quick, runs)
    print(json.dumps(results, indent=2))
    if not args.quick:  # --only keeps the other half of the last full results
        path = ROOT / "bench" / "results.json"
        previous = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps(previous | results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
