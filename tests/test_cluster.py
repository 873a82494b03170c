"""Synthesis on executors and Dask clusters: same bytes as one process, lost workers, errors.

A LocalCluster of two worker processes (one thread each) is started once for
the module; every test here runs in one pytest-xdist group so that only one
such cluster runs at a time on a small CI machine.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import sys
from pathlib import Path

import pytest

from publisher import cluster
from publisher.build import build, load_book
from publisher.cache import ClipCache
from publisher.cluster import (
    open_executor,
    stream_with_executor,
    synthesize_with_executor,
)
from publisher.errors import EngineUnavailable, PublisherError, SpeechError
from publisher.model import Clip
from publisher.options import BuildOptions
from publisher.script import script_book
from publisher.speech import EngineSpec
from publisher.speech.fake import FakeEngine
from publisher.synthesize import synthesize_clips

from .helpers import FIRST_BOOK, FIXTURES, Recorder, require_distributed, snapshot

require_distributed()
import distributed  # noqa: E402

pytestmark = pytest.mark.xdist_group("dask-cluster")

CATALOG = (FIXTURES / "short-audio.md", FIXTURES / "no-headings.md")
FAKE = EngineSpec("fake")
PIPER = EngineSpec("piper", None, 1.0, "en")


def book_items(source: Path) -> list[tuple[str, str]]:
    """What narrate.py asks the engine to say for ``source``: sentences, then the contents."""
    return list(script_book(load_book(source, BuildOptions())).items)


def catalog_items() -> list[list[tuple[str, str]]]:
    return [book_items(source) for source in CATALOG]


def one_list(*books: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Several books' items as one list; ids are only unique within a book."""
    return [(f"{n}/{sid}", text) for n, book in enumerate(books) for sid, text in book]


def reference(items: list[tuple[str, str]], spec: EngineSpec, root: Path) -> dict[str, Clip]:
    """The single-process result everything here must match byte for byte."""
    return synthesize_clips(items, spec, ClipCache(root), workers=1)


@pytest.fixture(scope="module")
def client():
    with open_executor(None, 2) as client:
        yield client


def wait_for_two_workers(client) -> None:
    client.wait_for_workers(2, timeout=240)  # a restarted worker is slow on a busy 2-core machine



# --- fake engine on the LocalCluster --------------------------------------------------


def test_catalog_on_two_workers_is_byte_identical_to_one_process(client, tmp_path: Path) -> None:
    cache = ClipCache(tmp_path / "dask")
    for index, items in enumerate(catalog_items()):
        expected = reference(items, FAKE, tmp_path / "ref")
        recorder = Recorder()
        writes = cache.writes
        clips = synthesize_with_executor(items, FAKE, cache, client, batch_size=2,
                                         on_progress=recorder)
        assert list(clips) == [sentence_id for sentence_id, _ in items]
        assert clips == expected, f"book {CATALOG[index].name}"
        # Every sentence reported once; repeated texts (and "Contents", which the
        # first book made) as from the cache.
        assert sorted(sid for sid, _ in recorder.events) == sorted(clips)
        assert sum(not cached for _, cached in recorder.events) == cache.writes - writes > 0
    assert snapshot(tmp_path / "dask") == snapshot(tmp_path / "ref")


def test_second_run_submits_nothing(client, tmp_path: Path) -> None:
    items = catalog_items()[0]
    cache = ClipCache(tmp_path)
    first = synthesize_with_executor(items, FAKE, cache, client)

    class Refusing(concurrent.futures.ThreadPoolExecutor):
        def submit(self, *args, **kwargs):
            raise AssertionError("a cached clip was synthesized again")

    recorder = Recorder()
    again = ClipCache(tmp_path)
    with Refusing(1) as executor:
        assert synthesize_with_executor(items, FAKE, again, executor,
                                        on_progress=recorder) == first
    assert all(cached for _, cached in recorder.events) and len(recorder.events) == len(items)
    assert again.writes == 0


def test_workers_write_into_a_shared_cache(client, tmp_path: Path) -> None:
    items = catalog_items()[0]
    expected = reference(items, FAKE, tmp_path / "ref")
    cache = ClipCache(tmp_path / "shared")
    clips = synthesize_with_executor(items, FAKE, cache, client, shared_cache=True)
    assert clips == expected
    # The workers wrote them; read back here, they count as this cache's writes.
    assert cache.writes == len({text for _, text in items})
    assert snapshot(tmp_path / "shared") == snapshot(tmp_path / "ref")


def test_stream_yields_each_clip_once_stored_and_holds_none(client, tmp_path: Path) -> None:
    items = catalog_items()[0]
    expected = reference(items, FAKE, tmp_path / "ref")
    cache = ClipCache(tmp_path / "c")
    seen: dict[str, Clip] = {}
    for sentence_id, clip, _cached in stream_with_executor(items, FAKE, cache, client,
                                                           batch_size=2):
        assert sentence_id not in seen
        assert cache.get(cache.key(FakeEngine().identity, dict(items)[sentence_id])) == clip
        seen[sentence_id] = clip
    assert seen == expected


def test_closing_the_stream_early_cancels_the_rest(client, tmp_path: Path) -> None:
    items = one_list(book_items(FIRST_BOOK))
    cache = ClipCache(tmp_path)
    stream = stream_with_executor(items, FAKE, cache, client, batch_size=1)
    next(stream)
    stream.close()
    client.wait_for_workers(2, timeout=240)  # a restarted worker is slow on a busy 2-core machine
    assert len(list(tmp_path.rglob("*.clip"))) < len({text for _, text in items})
    # What was not made is made by the next run, and nothing else.
    again = ClipCache(tmp_path)
    assert synthesize_with_executor(items, FAKE, again, client) == reference(
        items, FAKE, tmp_path / "ref")


def test_connects_to_a_running_scheduler(client, tmp_path: Path) -> None:
    items = catalog_items()[1]
    with open_executor(client.scheduler.address, timeout_s=10) as remote:
        clips = synthesize_with_executor(items, FAKE, ClipCache(tmp_path / "c"), remote)
    assert clips == reference(items, FAKE, tmp_path / "ref")


def test_worker_killed_mid_run_still_gives_the_same_bytes(client, tmp_path: Path) -> None:
    wait_for_two_workers(client)
    items = one_list(book_items(FIRST_BOOK), *catalog_items())
    expected = reference(items, FAKE, tmp_path / "ref")
    killed = kill_a_busy_worker_on_first_result(client)
    clips = synthesize_with_executor(items, FAKE, ClipCache(tmp_path / "c"), client,
                                     batch_size=1, on_progress=killed)
    assert killed.pid, "no worker was killed"
    assert clips == expected
    assert snapshot(tmp_path / "c") == snapshot(tmp_path / "ref")
    wait_for_two_workers(client)
    assert killed.pid not in client.run(os.getpid).values()  # the nanny started a new one


class kill_a_busy_worker_on_first_result:  # noqa: N801 - used like a function
    """A progress callback that SIGKILLs a worker holding a task, once."""

    def __init__(self, client) -> None:
        self.client = client
        self.pid = 0

    def __call__(self, sentence_id: str, clip: Clip, from_cache: bool) -> None:
        if self.pid or from_cache:
            return
        busy = [address for address, keys in self.client.processing().items() if keys]
        assert busy, "every batch finished before a worker could be killed"
        nannies = {n.worker_address: n for n in self.client.cluster.workers.values()}
        self.pid = nannies[busy[0]].process.process.pid
        os.kill(self.pid, signal.SIGKILL)


def test_engine_failure_names_the_sentence_and_keeps_the_clips(client, tmp_path: Path) -> None:
    items = catalog_items()[0]
    failing = EngineSpec("fake", options=(("fail_on", "market"),))
    bad_id, bad_text = next((sid, text) for sid, text in items if "market" in text)
    cache = ClipCache(tmp_path)
    # One batch, so the clips made before the failing sentence come back with the error.
    with pytest.raises(SpeechError) as caught:
        synthesize_with_executor(items, failing, cache, client, batch_size=len(items))
    message = str(caught.value)
    assert f"sentence '{bad_id}'" in message and bad_text in message
    assert "fake engine told to fail on 'market'" in message

    identity = FakeEngine().identity
    distinct = list(dict.fromkeys(text for _, text in items))
    before = distinct[:distinct.index(bad_text)]
    assert before, "the fixture must have sentences before the failing one"
    for text in distinct:
        assert (cache.key(identity, text) in cache) == (text in before), text

    # Fixed: only what was missing is made, and the result is the same as ever.
    again = ClipCache(tmp_path)
    clips = synthesize_with_executor(items, FAKE, again, client)
    assert again.writes == len(distinct) - len(before)
    assert clips == reference(items, FAKE, tmp_path / "ref")


def test_engine_failure_in_a_small_batch_keeps_the_other_batches(client,
                                                                 tmp_path: Path) -> None:
    items = one_list(*catalog_items())
    failing = EngineSpec("fake", options=(("fail_on", "A third paragraph"),))  # near the end
    cache = ClipCache(tmp_path)
    with pytest.raises(SpeechError, match="A third paragraph"):
        synthesize_with_executor(items, failing, cache, client, batch_size=1)
    assert cache.writes > 0
    for path in (tmp_path).rglob("*.clip"):
        key = path.stem
        assert cache.get(key) is not None  # whole, checked entries only


def test_cluster_clips_then_builds_find_every_clip_in_the_cache(client, tmp_path: Path) -> None:
    options = BuildOptions(out_root=tmp_path / "out", engine="fake", workers=1)
    cache = ClipCache(tmp_path / "out" / ".cache")
    for items in catalog_items():
        clips = synthesize_with_executor(items, FAKE, cache, client)
        assert len(clips) == len(items)
    assert cache.writes == len({text for items in catalog_items() for _, text in items}) > 0
    for source in CATALOG:
        result = build(source, options)
        # The keys the cluster used are the ones narrate.py looks up.
        assert result.stats["clips_synthesized"] == 0, source.name


# --- any concurrent.futures executor ---------------------------------------------


def test_a_process_pool_gives_the_same_bytes(tmp_path: Path) -> None:
    items = catalog_items()[0]
    expected = reference(items, FAKE, tmp_path / "ref")
    context = multiprocessing.get_context("forkserver")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        assert synthesize_with_executor(items, FAKE, ClipCache(tmp_path / "a"), pool) == expected
        shared = ClipCache(tmp_path / "b")
        assert synthesize_with_executor(items, FAKE, shared, pool, shared_cache=True) == expected
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b") == snapshot(tmp_path / "ref")


def test_a_worker_with_another_engine_is_refused(monkeypatch, tmp_path: Path) -> None:
    # As if the worker machine had another voice or ONNX Runtime: other audio, other keys.
    monkeypatch.setitem(cluster._ENGINES, FAKE, FakeEngine(sample_rate_hz=16000))
    with concurrent.futures.ThreadPoolExecutor(1) as executor, \
            pytest.raises(PublisherError, match="engine differs from this machine's"):
        synthesize_with_executor(catalog_items()[1], FAKE, ClipCache(tmp_path), executor)
    assert not list(tmp_path.rglob("*.clip"))


def test_an_engine_that_cannot_run_on_a_worker_is_unavailable(monkeypatch,
                                                             tmp_path: Path) -> None:
    def no_voice(spec: EngineSpec):
        raise EngineUnavailable("Piper voice 'x.onnx' does not exist.")

    monkeypatch.setattr(cluster, "_engine_for", no_voice)
    with concurrent.futures.ThreadPoolExecutor(1) as executor, \
            pytest.raises(EngineUnavailable, match="cannot run on worker .*x.onnx"):
        synthesize_with_executor(catalog_items()[1], FAKE, ClipCache(tmp_path), executor)


# --- opening executors --------------------------------------------------------------


def test_unreachable_scheduler_is_named(tmp_path: Path) -> None:
    with pytest.raises(PublisherError) as caught, open_executor("tcp://127.0.0.1:9", 1,
                                                                timeout_s=1):
        pass
    message = str(caught.value)
    assert "tcp://127.0.0.1:9" in message and "`dask scheduler` is running" in message


def test_scheduler_without_workers_says_how_to_start_them() -> None:
    with distributed.LocalCluster(n_workers=0, dashboard_address=":0",
                                  processes=False) as empty:
        with pytest.raises(PublisherError, match="has no workers.*dask worker"), \
                open_executor(empty.scheduler_address, timeout_s=1):
            pass


def test_missing_dask_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(PublisherError, match=r"pip install 'publisher\[cluster\]'"), \
            open_executor(None, 1):
        pass


# --- Piper ------------------------------------------------------------------------------


@pytest.mark.slow
def test_piper_on_two_workers_is_byte_identical_even_when_one_dies(client,
                                                                   tmp_path: Path) -> None:
    wait_for_two_workers(client)
    books = catalog_items()
    items = one_list(*books)
    expected = reference(items, PIPER, tmp_path / "ref")

    # The catalog, book by book, as narrate.py would ask for it.
    cache = ClipCache(tmp_path / "dask")
    for n, book in enumerate(books):
        clips = synthesize_with_executor(book, PIPER, cache, client, batch_size=2)
        assert clips == {sid: expected[f"{n}/{sid}"] for sid, _ in book}
    assert snapshot(tmp_path / "dask") == snapshot(tmp_path / "ref")

    # Again into an empty cache, killing a worker in the middle of a batch.
    killed = kill_a_busy_worker_on_first_result(client)
    clips = synthesize_with_executor(items, PIPER, ClipCache(tmp_path / "killed"), client,
                                     batch_size=2, on_progress=killed)
    assert killed.pid
    assert clips == expected
    assert snapshot(tmp_path / "killed") == snapshot(tmp_path / "ref")
    # The last test on this cluster: Dask's nanny restarting the killed worker is
    # Dask's business, and on a busy 2-core CI machine it took over 4 minutes.


def test_workers_write_a_voice_model_cache_only_on_our_disk() -> None:
    """Piper's prepared-model folder is ours: remote workers get none, local ones an
    absolute path (their working folder may differ)."""
    from publisher.cluster import _spec_for_workers

    spec = EngineSpec("piper", None, 1.0, "en", (("model_cache", "output/.cache/voices"),))
    remote = _spec_for_workers(spec, shared_cache=False)
    assert dict(remote.options) == {}
    local = _spec_for_workers(spec, shared_cache=True)
    assert dict(local.options) == {"model_cache": str(Path("output/.cache/voices").resolve())}
    plain = EngineSpec("fake", None, 1.0, "en")
    assert _spec_for_workers(plain, shared_cache=False) is plain
