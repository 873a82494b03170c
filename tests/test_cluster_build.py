"""A two-book catalog built through the command line on a Dask LocalCluster is
byte-identical to the same catalog built in one process: every output file.

Each build runs as ``python -m publisher build`` in its own process session,
with SOURCE_DATE_EPOCH fixed and its own output and cache folders:

- one process: ``--workers 1`` (synthesis in the build process itself);
- the cluster: ``--scheduler local --workers 2``, a LocalCluster of two worker
  processes with one thread each, which synthesizes each book's sentences
  while the build process assembles the sections already complete.

Then every file under the two output folders (EPUBs, MP3s, M4Bs, feeds,
transcripts, chapters, manifests, site, ONIX, build.json, catalog.json) is
compared byte for byte, and so are the clips in the two caches. build.json
holds no run statistics (they go to BuildResult.stats), so nothing is
ignored. When the command has exited, no process of its session may be left:
the cluster's scheduler, nannies and workers are all shut down.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import FIXTURES, ROOT, require_distributed, snapshot

require_distributed()

# One LocalCluster at a time on a small CI machine (see test_cluster.py).
pytestmark = pytest.mark.xdist_group("dask-cluster")

#: Two books that share a text ("Contents"), so the cluster's cross-book
#: deduplication is part of what is compared.
CATALOG = (FIXTURES / "short-audio.md", FIXTURES / "no-headings.md")
EPOCH = "1700000000"
TIMEOUT_S = 600  # a busy 2-core machine can be slow to start Dask workers


def _session_processes(session: int) -> list[int]:
    """Live processes (Linux /proc) in process session ``session``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == session:
                    found.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                pass
    return found


def build_catalog(folder: Path, *options: str) -> str:
    """``publisher build`` of CATALOG into ``folder``/out (cache in ``folder``/cache).

    Returns the log. Fails if the command fails, or if any process it started
    is still alive shortly after it exits (which is then killed).
    """
    command = [sys.executable, "-m", "publisher", "build", "--engine", *options,
               "-o", str(folder / "out"), "--cache-dir", str(folder / "cache"),
               *map(str, CATALOG)]
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    env.pop("CI", None)  # no difference in the build; keeps its log plain
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{' '.join(command)} took more than {TIMEOUT_S} s")
    # Worker processes may take a moment to exit after their parent.
    deadline = time.monotonic() + 10
    while (left := _session_processes(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, f"{' '.join(command)} failed:\n{log}"
    assert not left, f"processes left running after the build: {left}\n{log}"
    return log


def assert_same_catalog(engine: str, tmp_path: Path) -> None:
    single_log = build_catalog(tmp_path / "single", engine, "--workers", "1")
    dask_log = build_catalog(tmp_path / "dask", engine, "--workers", "2", "--scheduler", "local")

    # The cluster made the clips, book by book, as the single process did (the
    # second book finds the text the two share in the cache).
    assert dask_log.count("on the cluster") == len(CATALOG), dask_log
    assert "on the cluster" not in single_log

    def made(log: str) -> list[int]:
        return [int(n) for n in re.findall(r"; (\d+) clips synthesized,", log)]

    assert made(dask_log) == made(single_log), (dask_log, single_log)
    assert len(made(dask_log)) == len(CATALOG) and all(n > 0 for n in made(dask_log))

    single = snapshot(tmp_path / "single" / "out")
    on_dask = snapshot(tmp_path / "dask" / "out")
    for source in CATALOG:
        slug = source.stem  # the fixtures' slugs are their file names
        for name in (f"{slug}.epub", f"{slug}.m4b", "feed.xml", "build.json",
                     f"{slug}.audiobook", f"{slug}.lpf", "onix.xml"):
            assert f"{slug}/{name}" in single, f"{slug}/{name} was not built"
        assert any(path.startswith(f"{slug}/audio/") for path in single)
        assert any(path.startswith(f"{slug}/transcripts/") for path in single)
    assert "catalog.json" in single
    assert sorted(on_dask) == sorted(single)
    different = [path for path in single if on_dask[path] != single[path]]
    assert not different, f"outputs differ between one process and the cluster: {different}"

    def clips(run: str) -> dict[str, bytes]:
        return {path: data for path, data in snapshot(tmp_path / run / "cache").items()
                if path.endswith(".clip")}

    assert clips("dask") == clips("single") != {}


def test_fake_engine_catalog_on_two_workers_is_byte_identical(tmp_path: Path) -> None:
    assert_same_catalog("fake", tmp_path)


@pytest.mark.slow
def test_piper_catalog_on_two_workers_is_byte_identical(tmp_path: Path) -> None:
    assert_same_catalog("piper", tmp_path)
