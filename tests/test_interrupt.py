"""Ctrl-C during a real ``publisher build``: it stops at once, says so in one
line, leaves the previous book and no staging folder behind, and the next
build resumes from the clips already in the cache to byte-identical outputs.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group (the
build and its synthesis workers), so the build runs in a session of its own
and the signal goes to its group with ``os.killpg``, as a terminal would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from filelock import FileLock

from publisher.build import build
from publisher.cache import ClipCache
from publisher.options import BuildOptions
from publisher.speech.fake import DELAY_ENV

from .helpers import snapshot, write_book

SLUG = "slow-book"
INTERRUPTED = ("error: Interrupted. Clips synthesized so far are kept in the cache; "
               "run the same command again to continue.")
#: How long the build may take to stop after Ctrl-C (generous for a busy CI machine).
STOP_WITHIN_S = 3.0
#: Seconds per clip for the fake engine: a few seconds of synthesis in all.
FAKE_DELAY_S = 0.2
EPOCH = "1700000000"


def _body(sections: int, sentences: int) -> str:
    parts = []
    for s in range(1, sections + 1):
        # Short sentences: little audio to encode, so each build is quick.
        text = " ".join(f"Part {s}, line {i}." for i in range(1, sentences + 1))
        parts.append(f"## Part {s}\n\n{text}\n")
    return "\n".join(parts)


def _source(folder: Path, sections: int, sentences: int) -> Path:
    return write_book(folder, _body(sections, sentences), slug=SLUG, title="Slow book")


def _start(source: Path, out: Path, log: Path, *, engine: str | None = "fake",
           workers: int = 2, delay_s: float = 0.0, extra: tuple[str, ...] = ()
           ) -> subprocess.Popen:
    """A ``publisher build`` in a new session (its own process group), output to ``log``."""
    command = [sys.executable, "-m", "publisher", "build", "--workers", str(workers),
               *extra, "-o", str(out), str(source)]
    if engine:
        command[4:4] = ["--engine", engine]
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    env.pop(DELAY_ENV, None)
    if delay_s:
        env[DELAY_ENV] = str(delay_s)
    with log.open("wb") as sink:
        return subprocess.Popen(command, cwd=source.parent, env=env, stdin=subprocess.DEVNULL,
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_as_in_a_terminal)


def _as_in_a_terminal() -> None:
    """Ctrl-C's default action, as for a terminal's foreground job.

    A job started in the background by a shell without job control (as a CI
    runner may start the tests) inherits SIGINT ignored, and Python then
    never turns it into KeyboardInterrupt: the build would not even notice.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen,
              timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None, "the build ended before it could be interrupted"
        assert time.monotonic() < deadline, "the build never reached the point to interrupt"
        time.sleep(0.01)


def _valid_clips(cache: Path) -> int:
    """Clip files in the cache, each checked to be whole (never a torn entry)."""
    clips = [p for p in cache.rglob("*.clip") if not p.name.startswith(".tmp-")]
    store = ClipCache(cache)
    for path in clips:
        assert store.get(path.stem) is not None, f"{path} is not a whole cache entry"
    return len(clips)


def _group(pgid: int) -> list[str]:
    """The live (not zombie) processes of a process group."""
    alive = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {' '.join(proc.info['cmdline'] or [])[:120]}")
        except (ProcessLookupError, psutil.Error):
            pass
    return alive


def _ctrl_c(process: subprocess.Popen, within_s: float = STOP_WITHIN_S) -> tuple[int, float]:
    """Ctrl-C as a terminal sends it; (exit code, seconds until the build exited)."""
    pgid = os.getpgid(process.pid)
    workers = [line for line in _group(pgid) if "forkserver" in line or "spawn" in line]
    sent = time.monotonic()
    os.killpg(pgid, signal.SIGINT)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        process.wait()
        pytest.fail("the build was still running 30 s after Ctrl-C")
    seconds = time.monotonic() - sent
    # Workers, the forkserver and the resource tracker go with the build.
    deadline = time.monotonic() + within_s
    while (left := _group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if left:
        os.killpg(pgid, signal.SIGKILL)
    assert left == [], f"processes left running after Ctrl-C: {left} (had: {workers})"
    return code, seconds


def _assert_clean_stop(code: int, seconds: float, log: Path, out: Path,
                       within_s: float = STOP_WITHIN_S) -> None:
    text = log.read_text(encoding="utf-8")
    assert code == 130, text
    assert seconds < within_s, f"took {seconds:.2f} s to stop after Ctrl-C"
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert errors == [INTERRUPTED], text
    assert text.rstrip().endswith(INTERRUPTED), text  # the last word, nothing after it
    assert not list(out.glob(f".{SLUG}.building-*")), "a staging folder was left behind"
    assert not list(out.glob(f".{SLUG}.old-*"))
    lock = FileLock(str(out / f".{SLUG}.lock"))
    lock.acquire(timeout=0)  # raises Timeout if the interrupted build still held it
    lock.release()


def _built_counts(log: Path) -> tuple[int, int]:
    """(clips synthesized, clips from the cache) from the CLI's closing line."""
    match = re.search(r"(\d+) clips synthesized, (\d+) from the cache", log.read_text())
    assert match, log.read_text()
    return int(match[1]), int(match[2])


def _distinct_texts(log: Path) -> int:
    match = re.search(r"Synthesizing \d+ of (\d+) distinct texts", log.read_text())
    assert match, log.read_text()
    return int(match[1])


@pytest.mark.parametrize("workers", [2, 1], ids=["worker-processes", "in-process"])
def test_ctrl_c_during_synthesis_stops_cleanly_and_the_rebuild_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.delenv(DELAY_ENV, raising=False)
    folder = tmp_path / "book"
    folder.mkdir()
    out = tmp_path / "out"
    cache = out / ".cache"

    # A previous edition of the book is already published in out/.
    source = write_book(folder, _body(1, 2), slug=SLUG, title="Slow book")
    build(source, BuildOptions(out_root=out, engine="fake", workers=1))
    previous = snapshot(out / SLUG)
    previous_catalog = (out / "catalog.json").read_bytes()
    clips_before = _valid_clips(cache)

    # The new edition: about 30 texts to synthesize, 3-6 s at FAKE_DELAY_S each.
    source = _source(folder, 4, 6)
    log = tmp_path / "interrupted.log"
    process = _start(source, out, log, workers=workers, delay_s=FAKE_DELAY_S)
    # Interrupt once synthesis has visibly started: progress printed, clips stored.
    _wait_for(lambda: "Narrating: " in log.read_text()
              and _valid_clips(cache) >= clips_before + 3, process)
    code, seconds = _ctrl_c(process)
    print(f"workers={workers}: stopped {seconds:.2f} s after Ctrl-C")
    _assert_clean_stop(code, seconds, log, out)
    assert snapshot(out / SLUG) == previous, "the previous output was touched"
    assert (out / "catalog.json").read_bytes() == previous_catalog

    made = _valid_clips(cache) - clips_before
    # The rebuild (no delay) synthesizes only what the interrupted one had not.
    log = tmp_path / "resumed.log"
    resumed = _start(source, out, log, workers=workers)
    assert resumed.wait(timeout=120) == 0, log.read_text()
    synthesized, from_cache = _built_counts(log)
    distinct = _distinct_texts(log)
    assert synthesized >= 1, "Ctrl-C came after synthesis had finished"
    assert synthesized + from_cache == distinct
    # Every clip the interrupted build made is reused (with those the first
    # edition shares), and nothing is synthesized twice.
    assert from_cache >= made >= 3
    assert _valid_clips(cache) == clips_before + made + synthesized

    # Byte-identical to a build that was never interrupted, in a fresh folder.
    reference = build(source, BuildOptions(out_root=tmp_path / "reference", engine="fake",
                                           workers=1))
    assert reference.stats["clips_synthesized"] == distinct
    assert snapshot(out / SLUG) == snapshot(reference.out_dir)
    assert not list(out.glob(f".{SLUG}.building-*"))


def test_ctrl_c_with_synthesis_on_a_dask_cluster(tmp_path: Path) -> None:
    """--scheduler local: the cluster's worker processes get the terminal's SIGINT too,
    and must neither print their own KeyboardInterrupt nor outlive the build.

    Closing a LocalCluster whose workers are busy takes longer than stopping
    local workers (measured ~2.3 s with Piper, less with the fake engine).
    """
    out = tmp_path / "out"
    source = _source(tmp_path, 4, 6)
    log = tmp_path / "interrupted.log"
    process = _start(source, out, log, workers=2, delay_s=FAKE_DELAY_S,
                     extra=("--scheduler", "local"))
    _wait_for(lambda: "Narrating: " in log.read_text()
              and _valid_clips(out / ".cache") >= 3, process)
    code, seconds = _ctrl_c(process, within_s=2 * STOP_WITHIN_S)
    print(f"cluster: stopped {seconds:.2f} s after Ctrl-C")
    _assert_clean_stop(code, seconds, log, out, within_s=2 * STOP_WITHIN_S)
    made = _valid_clips(out / ".cache")
    log = tmp_path / "resumed.log"
    resumed = _start(source, out, log, workers=2, extra=("--scheduler", "local"))
    assert resumed.wait(timeout=120) == 0, log.read_text()
    synthesized, from_cache = _built_counts(log)
    assert from_cache >= made >= 3 and synthesized >= 1


def test_ctrl_c_while_encoding_and_packaging_leaves_no_staging_folder(tmp_path: Path) -> None:
    """After synthesis: the build stops as promptly and removes its half-made book."""
    out = tmp_path / "out"
    source = _source(tmp_path, 4, 4)
    log = tmp_path / "interrupted.log"
    process = _start(source, out, log, workers=1)
    _wait_for(lambda: "Assembling and encoding audio" in log.read_text(), process)
    code, seconds = _ctrl_c(process)
    print(f"stopped {seconds:.2f} s after Ctrl-C while encoding")
    _assert_clean_stop(code, seconds, log, out)
    assert not (out / SLUG).exists() and not (out / "catalog.json").exists()
    # Every clip was made before the interrupt: the rebuild synthesizes none.
    log = tmp_path / "resumed.log"
    assert _start(source, out, log, workers=1).wait(timeout=120) == 0, log.read_text()
    synthesized, from_cache = _built_counts(log)
    assert synthesized == 0 and from_cache == _distinct_texts(log)


@pytest.mark.slow
def test_ctrl_c_with_the_real_piper_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out = tmp_path / "out"
    cache = out / ".cache"
    source = _source(tmp_path, 4, 4)
    log = tmp_path / "interrupted.log"
    process = _start(source, out, log, engine="piper", workers=2)
    _wait_for(lambda: _valid_clips(cache) >= 2, process, timeout_s=120)
    code, seconds = _ctrl_c(process)
    print(f"Piper: stopped {seconds:.2f} s after Ctrl-C")
    _assert_clean_stop(code, seconds, log, out)
    assert not (out / SLUG).exists()

    made = _valid_clips(cache)
    log = tmp_path / "resumed.log"
    assert _start(source, out, log, engine="piper", workers=2).wait(timeout=300) == 0, \
        log.read_text()
    synthesized, from_cache = _built_counts(log)
    assert from_cache == made >= 2
    assert 1 <= synthesized == _distinct_texts(log) - made
    record = (out / SLUG / "build.json").read_text()
    assert '"engine": "piper"' in record

    reference = build(source, BuildOptions(out_root=tmp_path / "reference", workers=2,
                                            engine="piper"))
    assert snapshot(out / SLUG) == snapshot(reference.out_dir)
