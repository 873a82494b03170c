"""Benchmarks (`make bench`): build speed against pandoc, and narration speed
against the raw engine (Kokoro, the first book's default; ``--engine piper``). Prints a table; writes bench/results.json.

Usage: python bench/run.py [--quick] [--only text|audio|cluster|preview|voices] [--runs N]
                           [--engine kokoro|piper|fake] [--baseline TREE]

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

``daisy_write_s``: the DAISY 2.02 and DAISY 3 writer alone on the first book
(its MP3s from the warm cache), and ``daisy_share_of_cold``, that time as a
share of the cold build of the same run; ``daisy202_bytes`` /
``daisy3_bytes``: their sizes.

``clips_cached_build_s``: a ``--force`` rebuild with every clip cached and
no encoded file (``.cache/outputs/`` emptied: what an upgrade of the audio
code costs), the case where encoding alone sets the pace.

``cluster``: synthesis throughput (audio minutes per wall minute) in one
process and on Dask LocalClusters of 1 and 2 worker processes, the serial part
of a build (parse, assemble, encode, package: what stays on the machine that
builds the book), a cold ``--scheduler local`` build to check the model
against, and the model itself projected to N worker cores (see
``bench_cluster``).

``preview``: edit-to-playable in ``publisher preview`` on the first book (a
sentence saved -> the build that has it announced to the pages -> its
section's MP3 fetched from the preview server), against, in the same run, the
engine's own time for the edited sentence (voice loaded, this process), a
one-shot ``publisher build`` of the same one-sentence edit (warm cache), and
a cold build. Each edit says a new word, so every save synthesizes one clip
and re-encodes one section. ``--engine fake`` for the tool's own cost.
``--baseline TREE`` runs another checkout's preview beside this one (edits
alternating, each on its own copy of the warm cache): before/after ratios
from one run, under the same load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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
        # `publisher script` on the first book: the whole command, and the
        # work alone once warm (imports done, CLDR and patterns loaded).
        results["script_first_book_s"] = timed(
            [*PUBLISHER, "script", "-o", str(tmpdir / "script.txt"), str(FIRST_BOOK)],
            runs)["wall_s"]
        results["script_first_book_warm_s"] = _script_warm(runs)
        # What no build can avoid: starting Python and importing the text path.
        results["python_startup_s"] = timed([sys.executable, "-c", "pass"], runs)["wall_s"]
        results["import_publisher_build_s"] = timed(
            [sys.executable, "-c", "import publisher.build"], runs)["wall_s"]
    return results


#: The same dialogue read by one voice, then by three (a narrator, a quote voice
#: and a speaker): what several voices cost a Kokoro build.
_CAST = {"narrator": "af_heart", "quote": "am_michael", "Alice": "bf_emma"}


def _dialogue(path: Path, voices: bool) -> Path:
    lines = ["---", "title: Several voices", "language: en",
             "identifier: urn:uuid:00000000-0000-4000-8000-00000000b0ce"]
    if voices:
        lines += ["voices:", *(f"  {role}: {voice}" for role, voice in _CAST.items())]
    lines += ["---", ""]
    for scene in range(1, 4):
        lines += [f"## Scene {scene}", ""]
        for turn in range(4):
            lines += ["The room was quiet again, and the window let in the evening light.", "",
                      f"**Alice:** Is anyone there, or is it only the wind at the door {turn}?",
                      "", "> Nobody came, and the kettle kept on singing in the kitchen.",
                      "{voice=quote}" if voices else "", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def bench_multivoice(runs: int) -> dict[str, object]:
    """Cold Kokoro builds of one dialogue: one voice against three."""
    results: dict[str, object] = {"voices": _CAST}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        for name, voices in (("one_voice", False), ("three_voices", True)):
            source = _dialogue(tmpdir / f"{name}.md", voices)
            out = tmpdir / name

            def cold(out: Path = out) -> None:
                shutil.rmtree(out, ignore_errors=True)

            results[name] = timed([*PUBLISHER, "build", "-q", "--engine", "kokoro", "--workers",
                                   "2", "-o", str(out), str(source)], runs, prepare=cold)
    one, three = results["one_voice"], results["three_voices"]
    results["three_over_one_wall"] = round(three["wall_s"] / one["wall_s"], 2)  # type: ignore[index]
    results["three_over_one_peak_mb"] = round(three["peak_mb"] / one["peak_mb"], 2)  # type: ignore[index]
    return results


def _script_warm(runs: int) -> float:
    """Median seconds of read_script + render_text on the first book, in one warm process."""
    code = ("import statistics, time\n"
            "from pathlib import Path\n"
            "from publisher import scriptview\n"
            f"source = Path({str(FIRST_BOOK)!r})\n"
            "scriptview.render_text(scriptview.read_script(source))\n"
            "times = []\n"
            f"for _ in range({max(runs, 3)}):\n"
            "    t = time.perf_counter()\n"
            "    scriptview.render_text(scriptview.read_script(source))\n"
            "    times.append(time.perf_counter() - t)\n"
            "print(statistics.median(times))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)})
    return round(float(out.stdout.strip().splitlines()[-1]), 3)


# --- the raw engine ------------------------------------------------------------------

_ENGINE = None
#: The engine the audio benchmark measures (--engine; default: the first book's default).
_ENGINE_NAME = "kokoro"


def _load_engine(name: str | None = None) -> None:
    global _ENGINE
    sys.path.insert(0, str(ROOT))
    from publisher.speech import make_engine

    _ENGINE = make_engine(name or _ENGINE_NAME, None, 1.0, "en")
    _ENGINE.synthesize("Warm up.")


def _say(text: str) -> float:
    assert _ENGINE is not None
    return _ENGINE.synthesize(text).duration_ms / 1000


def raw_engine(texts: list[str], processes: int) -> dict[str, float]:
    """Seconds to synthesize ``texts`` with the engine in ``processes`` processes, voice loaded."""
    if processes == 1:
        _load_engine()
        start = time.perf_counter()
        cpu = time.process_time()
        audio_s = sum(_say(text) for text in texts)
        return {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
                "audio_s": audio_s}
    context = multiprocessing.get_context("forkserver")
    with context.Pool(processes, initializer=_load_engine, initargs=(_ENGINE_NAME,)) as pool:
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
    from publisher.build import load_book
    from publisher.options import BuildOptions, default_workers
    from publisher.script import script_book

    book = load_book(FIRST_BOOK, BuildOptions(audio=True))
    # Everything the build says: the sentences and the table of contents.
    texts = list(dict.fromkeys(text for _, text in script_book(book).items))
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
               "--engine", _ENGINE_NAME, str(FIRST_BOOK)]
        cold = timed(cmd, max(1, runs // 3),
                     env, prepare=lambda: shutil.rmtree(cache, ignore_errors=True))
        record = json.loads((out / "unpacking-self-harm" / "build.json").read_text())
        book_audio_s = sum(s.get("duration_ms", 0) for s in record["sections"]) / 1000
        # Nothing changed: the up-to-date check (publisher.stamp) verifies the
        # outputs and writes nothing. --force runs every stage, from the caches.
        warm = timed(cmd, runs, env)
        warm_forced = timed([*cmd[:-1], "--force", cmd[-1]], runs, env)
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
        restore()

        def no_outputs() -> None:
            # Every clip cached, no encoded file (an upgrade, an emptied
            # .cache/outputs/): --force, or the book would be up to date.
            shutil.rmtree(cache / "outputs", ignore_errors=True)

        clips_cached = timed([*cmd[:-1], "--force", cmd[-1]], runs, env, prepare=no_outputs)
        # In the same run as the cold build above, so its share is of that build.
        daisy = bench_daisy(tmpdir / "daisy", cache, runs, env)
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
        "warm_forced_build_s": warm_forced["wall_s"],
        "warm_forced_over_cold": round(warm_forced["wall_s"] / cold["wall_s"], 4),
        "one_edit_build_s": one_edit["wall_s"],
        "one_edit_build_cpu_s": one_edit["cpu_s"],
        "one_edit_over_cold": round(one_edit["wall_s"] / cold["wall_s"], 4),
        "clips_cached_build_s": clips_cached["wall_s"],
        "clips_cached_build_cpu_s": clips_cached["cpu_s"],
        "clips_cached_over_cold": round(clips_cached["wall_s"] / cold["wall_s"], 4),
        # Summed over the build process and its synthesis workers, polled at 20 Hz.
        "peak_rss_mb_cold": cold["peak_mb"],
        "peak_rss_mb_warm": warm["peak_mb"],
        "peak_rss_mb_one_edit": one_edit["peak_mb"],
        **daisy,
        "daisy_share_of_cold": round(float(daisy["daisy_write_s"]) / cold["wall_s"], 4),
    })
    return result


#: A new word per saved edit in the preview benchmark: never a cached clip. The
#: one-shot edit builds take theirs from the second half, so no preview edit
#: finds its clip made by them.
_EDIT_WORDS = ("often", "sometimes", "usually", "really", "frankly", "truly", "commonly",
               "plainly", "clearly", "surely", "simply", "openly", "rarely", "mostly",
               "partly", "largely", "quietly", "slowly", "quickly", "gently", "deeply",
               "fairly", "widely", "barely")
_ONE_EDIT_WORDS = len(_EDIT_WORDS) // 2


def _edit(text: str, run: int) -> tuple[str, str]:
    """The book with its edit sentence said with a new word, and that sentence."""
    word = _EDIT_WORDS[run % len(_EDIT_WORDS)]
    sentence = f"Self-harm can {word} be cyclical."
    return text.replace(EDIT[0], sentence, 1), sentence


class _Preview:
    """``publisher preview`` in its own process (the code of ``root``), and its event stream."""

    def __init__(self, source: Path, out: Path, cache: Path, engine: str,
                 root: Path = ROOT) -> None:
        self.source = source
        self.process = subprocess.Popen(
            [*PUBLISHER, "preview", str(source), "--engine", engine, "--port", "0", "-o",
             str(out), "--cache-dir", str(cache), "-q"], cwd=source.parent,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=str(root)),
            # Ctrl-C stops it, even when this benchmark runs in the background
            # (nohup, `&`), whose children would otherwise inherit SIGINT ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("Previewing "):
                self.base = line.rsplit(" at ", 1)[1].strip().rsplit("/site/", 1)[0]
                break
        else:
            raise SystemExit(f"publisher preview did not start: {self.process.stderr.read()}")
        import urllib.request

        self.events = urllib.request.urlopen(f"{self.base}/__preview__/events?attempt=-1")
        self.state = self.next_state()

    def next_state(self) -> dict[str, Any]:
        for raw in self.events:
            line = raw.decode()
            if line.startswith("data: "):
                return json.loads(line[6:])
        raise SystemExit("the preview's event stream ended")

    def fetch(self, href: str) -> int:
        import urllib.request

        with urllib.request.urlopen(f"{self.base}/{href}") as reply:
            return len(reply.read())

    def edit(self, edited: str) -> tuple[float, float, float]:
        """Save ``edited`` as editors save; (edit-to-playable s, its CPU s, the rebuild's s)."""
        attempt = self.state["attempt"]
        tmp_file = self.source.with_name(f".{self.source.name}.swp")
        tmp_file.write_text(edited, encoding="utf-8")
        cpu_before = _usage(self.process.pid)[1]
        saved = time.perf_counter()
        os.replace(tmp_file, self.source)
        while self.state["attempt"] <= attempt:
            self.state = self.next_state()
        state = self.state
        if state["error"] or not state["changed"]:
            raise SystemExit(f"the preview did not rebuild the edit: {state}")
        self.fetch(f"audio/{Path(state['changed'][0]['page']).stem}.mp3")
        playable = time.perf_counter() - saved
        # The preview's own CPU time for the save: what load does not inflate.
        return playable, _usage(self.process.pid)[1] - cpu_before, float(state["seconds"])

    def stop(self) -> None:
        self.events.close()
        self.process.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it
        try:
            self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # said, not fatal: the figures are taken
            self.process.kill()
            _, err = self.process.communicate()
            print(f"publisher preview did not stop within 60 s of Ctrl-C:\n{err[-3000:]}",
                  file=sys.stderr)


def bench_preview(runs: int, baseline: Path | None = None) -> dict[str, object]:
    """Edit-to-playable in preview vs the engine's time for the sentence, a one-edit
    build and a cold build, all in this run (see the module docs).

    ``baseline``: another checkout of the project (e.g. a worktree of main): its
    preview runs beside this one's, each on its own copy of the book and of the
    warm cache, and their edits alternate, so both see the same load.
    """
    sys.path.insert(0, str(ROOT))
    from publisher.script import script_book

    text = FIRST_BOOK.read_text(encoding="utf-8")
    assert EDIT[0] in text, "bench/run.py: the sentence to edit is gone from the book"
    assert runs <= _ONE_EDIT_WORDS, f"at most {_ONE_EDIT_WORDS} runs (one new word each)"
    _load_engine()
    engine_s, one_edit = [], []
    trees = {"this": ROOT} | ({"baseline": baseline.resolve()} if baseline else {})
    measured: dict[str, dict[str, list[float]]] = {
        name: {"playable": [], "cpu": [], "rebuild": []} for name in trees}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        source = tmpdir / FIRST_BOOK.name
        source.write_text(text, encoding="utf-8")
        out, cache = tmpdir / "out", tmpdir / "cache"
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
        build = [*PUBLISHER, "build", "-q", "-o", str(out), "--cache-dir", str(cache),
                 "--engine", _ENGINE_NAME, str(source)]
        cold = timed(build, 1, env, prepare=lambda: shutil.rmtree(cache, ignore_errors=True))
        # The one-shot build of a one-sentence edit, from the warm cache.
        for run in range(runs):
            source.write_text(_edit(text, _ONE_EDIT_WORDS + run)[0], encoding="utf-8")
            one_edit.append(run_once(build, env))
        source.write_text(text, encoding="utf-8")
        previews: dict[str, _Preview] = {}
        try:
            for name, root in trees.items():
                folder = tmpdir / f"preview-{name}"
                folder.mkdir()
                shutil.copytree(cache, folder / "cache")  # the same warm cache for each
                book = folder / source.name
                book.write_text(text, encoding="utf-8")
                previews[name] = _Preview(book, folder / "out", folder / "cache",
                                          _ENGINE_NAME, root)
            for run in range(runs):
                edited, sentence = _edit(text, run)
                spoken = next(said for _, said in script_book(_with_text(source, edited)).items
                              if sentence.rstrip(".") in said)
                start = time.perf_counter()
                _ENGINE.synthesize(spoken)  # type: ignore[union-attr]
                engine_s.append(time.perf_counter() - start)
                # Alternate which goes first: neither always follows the other's work.
                order = list(previews) if run % 2 == 0 else list(reversed(previews))
                for name in order:
                    playable, cpu, rebuild = previews[name].edit(edited)
                    measured[name]["playable"].append(playable)
                    measured[name]["cpu"].append(cpu)
                    measured[name]["rebuild"].append(rebuild)
        finally:
            for preview in previews.values():
                preview.stop()

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    engine = median(engine_s)

    def summary(name: str) -> dict[str, object]:
        playable_s = measured[name]["playable"]
        playable = median(playable_s)
        return {
            "edit_to_playable_s": playable,
            "edit_to_playable_s_range": [round(min(playable_s), 3), round(max(playable_s), 3)],
            "preview_rebuild_s": median(measured[name]["rebuild"]),
            "edit_to_playable_cpu_s": median(measured[name]["cpu"]),
            "edit_to_playable_minus_engine_s": round(playable - engine, 3),
            # The goal (issue 19): at most 1.5 s plus the engine's time for the sentence.
            "goal_met": playable - engine <= 1.5,
            "edit_to_playable_over_cold": round(playable / cold["wall_s"], 4),
        }

    result: dict[str, object] = {
        "engine": _ENGINE_NAME,
        "runs": runs,
        "engine_sentence_s": engine,
        **summary("this"),
        "one_edit_build_s": median([r["wall_s"] for r in one_edit]),
        "one_edit_build_cpu_s": median([r["cpu_s"] for r in one_edit]),
        "cold_build_s": round(cold["wall_s"], 2),
        "one_edit_build_over_cold": round(median([r["wall_s"] for r in one_edit])
                                          / cold["wall_s"], 4),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    if baseline is not None:
        before = summary("baseline")
        result["baseline"] = {"tree": str(baseline), **before}
        for key in ("edit_to_playable_s", "edit_to_playable_cpu_s", "preview_rebuild_s"):
            result[f"{key}_over_baseline"] = round(
                float(result[key]) / float(before[key]), 3)  # type: ignore[arg-type]
    print_preview(result)
    return result


def print_preview(result: dict[str, Any]) -> None:
    """Edit-to-playable against the engine's time (and the baseline's), on stderr."""
    engine = result["engine_sentence_s"]
    lines = [f"preview ({result['engine']}, {result['runs']} edit(s)): engine, the sentence "
             f"{engine:.2f} s"]
    rows = [("this tree", result)]
    if "baseline" in result:
        rows.append((f"baseline {result['baseline']['tree']}", result["baseline"]))
    for label, row in rows:
        low, high = row["edit_to_playable_s_range"]
        lines.append(f"  {label}: edit-to-playable {row['edit_to_playable_s']:.2f} s "
                     f"({low:.2f}-{high:.2f}; CPU {row['edit_to_playable_cpu_s']:.2f} s) = "
                     f"engine + {row['edit_to_playable_minus_engine_s']:.2f} s; goal (engine "
                     f"+ 1.5 s) {'met' if row['goal_met'] else 'NOT met'}")
    if "baseline" in result:
        lines.append(f"  this / baseline: wall {result['edit_to_playable_s_over_baseline']}, "
                     f"CPU {result['edit_to_playable_cpu_s_over_baseline']}")
    if result["load_average_1min"][0] >= 1:
        lines.append("  The machine was busy: compare the ratios and CPU times, not walls.")
    print("\n".join(lines), file=sys.stderr)


def _with_text(source: Path, text: str) -> Any:
    """The book as parsed from ``text`` (the edit's spoken sentence, as a build says it)."""
    from publisher.build import load_book
    from publisher.options import BuildOptions

    scratch = source.with_name(f".bench-{source.name}")
    scratch.write_text(text, encoding="utf-8")
    try:
        return load_book(scratch, BuildOptions(engine=_ENGINE_NAME))
    finally:
        scratch.unlink()


def bench_daisy(folder: Path, cache: Path, runs: int,
                env: dict[str, str]) -> dict[str, object]:
    """Time the DAISY writer alone on the first book (its section MP3s from the warm cache).

    The two DAISY zips are what a build adds for them: no synthesis, no
    encoding, only XML and copying the MP3s, so timing the writer in this
    process measures that cost without the noise of two whole builds. It runs
    in the same ``bench_audio`` run as the cold build it is a share of, with
    the same engine, cache and SOURCE_DATE_EPOCH (so the MP3s are the ones
    that build made, copied from the cache: nothing is synthesized or encoded).
    """
    from publisher import daisy, narrate
    from publisher.build import load_book, source_date
    from publisher.cover import make_cover
    from publisher.model import Accessibility, Publication
    from publisher.options import BuildOptions, Reporter
    from publisher.script import script_book

    options = BuildOptions(cache_dir=cache, engine=_ENGINE_NAME)
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = env["SOURCE_DATE_EPOCH"]
    try:
        book = load_book(FIRST_BOOK, options)
        folder.mkdir(parents=True)
        # With the cover, as the build does: it is in the MP3s' tags (and the cache key).
        cover = make_cover(book.meta, FIRST_BOOK.parent, cache_dir=cache)
        result = narrate.narrate_book(book, script_book(book), folder, options, Reporter(),
                                      cover=cover)
        modified = source_date(book.meta.date)
    finally:
        if saved is None:
            os.environ.pop("SOURCE_DATE_EPOCH")
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved
    if result.clips_synthesized:
        raise SystemExit("bench/run.py: the DAISY timing found clips missing from the cold "
                         "build's cache; it would time synthesis, not the writer")
    pub = Publication(book=book, out_dir=folder, audio=result.sections,
                      modified=modified, narrator=result.narrator,
                      accessibility=Accessibility((), (), (), (), ""))
    times = []
    paths: list[Path] = []
    for _ in range(max(runs, 3)):
        start = time.perf_counter()
        paths = daisy.write_daisy(pub)
        times.append(time.perf_counter() - start)
    return {"daisy_write_s": round(statistics.median(times), 3),
            **{f"{p.name.rsplit('_', 1)[1].removesuffix('.zip')}_bytes": p.stat().st_size
               for p in paths}}


# --- the cluster ---------------------------------------------------------------------

#: Worker cores the scaling model is projected to (N machines x c cores each).
MODEL_CORES = (1, 2, 4, 8, 16, 32, 64, 128)


def _first_sections(source: Path, dest: Path, sections: int) -> Path:
    """A copy of ``source`` cut before its ``sections + 1``-th second-level heading."""
    parts = source.read_text(encoding="utf-8").split("\n## ")
    dest.write_text("\n## ".join(parts[:sections + 1]), encoding="utf-8")
    return dest


def scaling_model(r1: float, efficiency: float, per_book_s: float, assembly_rate: float,
                  startup_s: float, book_audio_min: float) -> dict[str, Any]:
    """Amdahl's law for a catalog run with ``publisher build --scheduler``.

    The build synthesizes every book's sentences on the cluster first, then
    parses, assembles, encodes and packages the books one at a time in its
    own process. For B books of A audio minutes on W worker cores:

        wall = t0 + B * A / (W * r1 * e) + B * (s0 + A / a)

    r1: audio minutes one Dask worker core makes per minute; e: the parallel
    efficiency (1 for W = 1); s0: the fixed serial cost of a book (with the
    start-up of the build process); a: the rate of the serial part that grows
    with the audio (audio minutes per minute); t0: starting the cluster and
    loading the voices, paid once. Throughput tends to A / (s0 + A / a) per
    build process as W grows.
    """
    def throughput(cores: int, audio_min: float) -> float:
        synthesis = cores * r1 * (efficiency if cores > 1 else 1.0)
        return audio_min / (audio_min / synthesis + per_book_s / 60 + audio_min / assembly_rate)

    def limit(audio_min: float) -> float:
        return audio_min / (per_book_s / 60 + audio_min / assembly_rate)

    serial_min = per_book_s / 60 + book_audio_min / assembly_rate
    return {
        "r1_audio_min_per_min_per_worker": round(r1, 2),
        "efficiency": round(efficiency, 3),
        "serial_s_per_book": round(per_book_s, 2),
        "serial_audio_min_per_min": round(assembly_rate, 1),
        "startup_s": round(startup_s, 2),
        # Amdahl's p: synthesis' share of a one-core build of the measured book.
        "parallel_fraction": round((book_audio_min / r1) / (book_audio_min / r1 + serial_min),
                                   3),
        # The measured book, cold, with --scheduler local --workers 2, on 2 free cores.
        "predicted_cold_2_workers_s": round(
            startup_s + 60 * (book_audio_min / (2 * r1 * efficiency) + serial_min), 2),
        "throughput_by_worker_cores": {str(cores): round(throughput(cores, book_audio_min), 1)
                                       for cores in MODEL_CORES},
        "throughput_limit": round(limit(book_audio_min), 1),
        "throughput_by_worker_cores_60_min_books": {
            str(cores): round(throughput(cores, 60.0), 1) for cores in MODEL_CORES},
        "throughput_limit_60_min_books": round(limit(60.0), 1),
    }


def bench_cluster(quick: bool, runs: int) -> dict[str, Any]:
    """Piper on 1 and 2 local Dask workers, the serial part of a build, and the model.

    On the first book (its first three sections with --quick): synthesis alone,
    voices loaded beforehand (``bench/throughput.py``, ``measure_book``: the setups take turns,
    each into an empty cache); cold ``publisher build --scheduler local
    --workers 2`` builds, to check the model against; then ``--workers 1``
    builds with every clip cached but no encoded output (the serial part), of
    that book and of a shorter one (its first section, or three), to split
    the serial part into a fixed cost per book and a rate per audio minute.
    """
    sys.path.insert(0, str(ROOT))
    from throughput import measure_book  # bench/throughput.py, beside this script

    from publisher.build import load_book
    from publisher.options import BuildOptions

    repeats = 1 if quick else min(runs, 3)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "short").mkdir()
        short = _first_sections(FIRST_BOOK, tmpdir / "short" / FIRST_BOOK.name,
                                1 if quick else 3)
        source = _first_sections(FIRST_BOOK, tmpdir / FIRST_BOOK.name, 3) if quick \
            else FIRST_BOOK
        sentences = len(load_book(source, BuildOptions()).sentences)
        synthesis = measure_book(source, sentences, worker_counts=(1, 2), repeats=repeats)

        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
        out, cache = tmpdir / "out", tmpdir / "cache"

        def command(book: Path, *options: str) -> list[str]:
            return [*PUBLISHER, "build", "-q", "--engine", "piper", "-o", str(out),
                    "--cache-dir", str(cache), *options, str(book)]

        def audio_min() -> float:
            record = json.loads((out / "unpacking-self-harm" / "build.json").read_text())
            return record["narration"]["duration_ms"] / 60000

        def no_outputs() -> None:
            # Clips stay; encoded files go, and so does the book (else it is up to date).
            shutil.rmtree(cache / "outputs", ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)

        def nothing() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)

        cold = timed(command(source, "--scheduler", "local", "--workers", "2"), repeats, env,
                     prepare=nothing)
        book_min = audio_min()
        serial = timed(command(source, "--workers", "1"), repeats, env, prepare=no_outputs)
        run_once(command(short, "--workers", "1"), env)  # makes any clip it lacks
        serial_short = timed(command(short, "--workers", "1"), repeats, env,
                             prepare=no_outputs)
        short_min = audio_min()

    # Two bases. Wall times are what a user waits for, but on a shared machine
    # they measure the other jobs too; CPU times (of every process of the setup)
    # measure the work alone (one Piper worker keeps one core busy, so on a
    # free core CPU time is wall time). Use the CPU model when the load
    # average says other jobs ran.
    one, two = synthesis["dask_1_worker"], synthesis["dask_2_workers"]

    def fit(basis: str) -> dict[str, Any]:
        # serial(A) = s0 + A / a through the two books; the longer alone if noise breaks it.
        long_s, short_s = serial[basis], serial_short[basis]
        rate = (book_min - short_min) / ((long_s - short_s) / 60) if long_s > short_s else \
            book_min / (long_s / 60)
        per_book_s = max(0.0, long_s - 60 * book_min / rate)
        if basis == "wall_s":
            r1 = one["audio_min_per_wall_min"]
            efficiency = two["audio_min_per_wall_min"] / (2 * r1)
        else:  # the work one worker does for the audio over the work two do
            r1 = one["audio_min_per_cpu_min"]
            efficiency = one["cpu_s_median"] / two["cpu_s_median"]
        return scaling_model(r1, min(1.0, efficiency), per_book_s, rate, two["startup_s"],
                             book_min)

    model, model_cpu = fit("wall_s"), fit("cpu_s")
    return {
        "synthesis": synthesis,
        "book_audio_min": round(book_min, 2),
        "cold_build_2_workers_s": round(cold["wall_s"], 2),
        "cold_build_2_workers_cpu_s": round(cold["cpu_s"], 2),
        "cold_build_2_workers_audio_min_per_wall_min": round(book_min / (cold["wall_s"] / 60),
                                                             2),
        "serial_s": serial["wall_s"],
        "serial_cpu_s": serial["cpu_s"],
        "short_book_audio_min": round(short_min, 2),
        "short_serial_s": serial_short["wall_s"],
        "short_serial_cpu_s": serial_short["cpu_s"],
        "model": model,
        "model_from_cpu_times": model_cpu,
        # Before and after, on 2 cores: other jobs slow every setup alike (they take turns).
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def print_cluster(results: dict[str, Any]) -> None:
    """The cluster figures and the model, for people (on stderr: stdout stays JSON)."""
    synthesis = results["synthesis"]
    model, cpu = results["model"], results["model_from_cpu_times"]
    lines = [f"Synthesis with Piper, {synthesis['sentences']} sentences "
             f"({synthesis['audio_s'] / 60:.1f} audio min), median of {synthesis['repeats']}; "
             "audio minutes per wall minute, per CPU minute:"]
    for name in ("in_process", "dask_1_worker", "dask_2_workers"):
        row = synthesis[name]
        startup = f"; cluster start {row['startup_s']} s" if "startup_s" in row else ""
        lines.append(f"  {name:15} {row['audio_min_per_wall_min']:6.1f} "
                     f"{row['audio_min_per_cpu_min']:6.1f}   (wall {row['wall_s_min']}-"
                     f"{row['wall_s_max']} s, CPU {row['cpu_s_median']} s{startup})")
    lines += [
        f"Serial part (parse, assemble, encode, package; clips cached, one process): "
        f"{results['serial_s']} s for {results['book_audio_min']} audio min, "
        f"{results['short_serial_s']} s for {results['short_book_audio_min']}: "
        f"s0 = {model['serial_s_per_book']} s per book + 1 / "
        f"{model['serial_audio_min_per_min']} min per audio minute "
        f"(CPU {results['serial_cpu_s']} s, {results['short_serial_cpu_s']} s)",
        f"Cold build, --scheduler local --workers 2: wall {results['cold_build_2_workers_s']} s, "
        f"CPU {results['cold_build_2_workers_cpu_s']} s (model, on 2 free cores: "
        f"{model['predicted_cold_2_workers_s']} s)",
        f"Model: wall = t0 + S / (W * {model['r1_audio_min_per_min_per_worker']} * "
        f"{model['efficiency']}) + B * ({model['serial_s_per_book']} s + A / "
        f"{model['serial_audio_min_per_min']}), t0 = {model['startup_s']} s; "
        "W = N machines x c worker cores, B books of A audio minutes, S = B * A; "
        "audio min per wall min:",
        f"  books of {results['book_audio_min']} min: " + ", ".join(
            f"W={cores}: {rate}" for cores, rate in model["throughput_by_worker_cores"].items())
        + f"; limit {model['throughput_limit']} per build process",
        "  books of 60 min: " + ", ".join(
            f"W={cores}: {rate}"
            for cores, rate in model["throughput_by_worker_cores_60_min_books"].items())
        + f"; limit {model['throughput_limit_60_min_books']} per build process",
        f"Model from CPU times (r1 = {cpu['r1_audio_min_per_min_per_worker']}, e = "
        f"{cpu['efficiency']}, s0 = {cpu['serial_s_per_book']} s, a = "
        f"{cpu['serial_audio_min_per_min']}), books of {results['book_audio_min']} min: "
        + ", ".join(f"W={cores}: {rate}"
                    for cores, rate in cpu["throughput_by_worker_cores"].items()),
        f"1-minute load average before, after: {results['load_average_1min']} "
        f"on {os.cpu_count()} cores",
    ]
    if results["load_average_1min"][0] >= 1:
        lines.append("The machine was busy before the run: wall times are disturbed; trust "
                     "the model from CPU times, or run again when it is idle.")
    print("\n".join(lines), file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs, short texts")
    parser.add_argument("--only", choices=("text", "audio", "cluster", "preview", "voices",
                                           "multivoice"),
                        help="one benchmark; voices: the voices table's WER and RTF "
                             "(bench/voices.py; not in a full run, it takes ~10 minutes)")
    parser.add_argument("--engine", choices=("kokoro", "piper", "fake"), default="kokoro",
                        help="the engine of the audio and preview benchmarks (default kokoro, "
                             "the first book's default voice; piper for the fast one; fake "
                             "for the tool's own cost)")
    parser.add_argument("--baseline", type=Path, metavar="TREE",
                        help="preview benchmark: also run the preview of another checkout "
                             "(e.g. a worktree of main), edits alternating, for before/after "
                             "ratios in one run")
    parser.add_argument("--runs", type=int, default=0,
                        help="runs per figure (default 5, or 1 with --quick); cold builds "
                             "run a third as often")
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 5)
    global _ENGINE_NAME
    _ENGINE_NAME = args.engine
    results: dict[str, object] = {}
    if args.only in (None, "text"):
        results["text_only_build"] = bench_text(runs)
    if args.only in (None, "audio"):
        key = "narration" if args.engine == "kokoro" else f"narration_{args.engine}"
        results[key] = {"engine": args.engine, **bench_audio(args.quick, runs)}
    if args.only in (None, "cluster"):
        cluster = bench_cluster(args.quick, runs)
        results["cluster"] = cluster
        print_cluster(cluster)
    if args.only in (None, "preview"):
        preview = bench_preview(max(1, min(runs, 3)) if args.quick else runs, args.baseline)
        results[f"preview_{args.engine}"] = preview
    if args.only == "multivoice":  # not in a full run: two cold Kokoro builds per run
        results["multivoice_kokoro"] = bench_multivoice(max(1, min(runs, 3)))
    if args.only == "voices":
        import voices  # bench/voices.py, beside this file

        return voices.main([])
    print(json.dumps(results, indent=2))
    if not args.quick:  # --only keeps the other half of the last full results
        path = ROOT / "bench" / "results.json"
        previous = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps(previous | results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
