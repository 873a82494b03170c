"""The synthesis stage: caching, dedupe, errors, worker processes."""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from publisher.cache import ClipCache
from publisher.errors import EngineUnavailable, SpeechError
from publisher.model import Clip
from publisher.speech.fake import FakeEngine
from publisher.synthesize import MIN_BATCH_FOR_WORKERS, synthesize_clips

from .helpers import Recorder

ITEMS = [
    ("s1", "You are not alone."),
    ("s2", "Take a slow breath."),
    ("s3", "Notice five things you can see."),
    ("s4", "You are not alone."),  # repeated text
]




def run(items, cache, engine, **kw):
    recorder = Recorder()
    clips = synthesize_clips(items, lambda: engine, cache, on_progress=recorder, **kw)
    return clips, recorder


def test_second_run_synthesizes_nothing(tmp_path: Path) -> None:
    engine = FakeEngine()
    clips, first = run(ITEMS, ClipCache(tmp_path), engine)
    assert list(clips) == ["s1", "s2", "s3", "s4"]
    assert clips["s1"] == clips["s4"] == FakeEngine().synthesize("You are not alone.")
    assert engine.calls == 3  # the repeated text once
    assert first.synthesized == 3 and len(first.events) == 4

    again = FakeEngine()
    cache = ClipCache(tmp_path)
    clips2, second = run(ITEMS, cache, again)
    assert clips2 == clips
    assert again.calls == 0 and second.synthesized == 0
    assert sorted(second.events) == [("s1", True), ("s2", True), ("s3", True), ("s4", True)]
    assert (cache.hits, cache.writes) == (3, 0)


def test_changing_one_text_synthesizes_exactly_one(tmp_path: Path) -> None:
    run(ITEMS, ClipCache(tmp_path), FakeEngine())
    edited = [*ITEMS[:2], ("s3", "Notice four things you can hear."), ITEMS[3]]
    engine = FakeEngine()
    cache = ClipCache(tmp_path)
    _, recorder = run(edited, cache, engine)
    assert engine.calls == 1 and cache.writes == 1
    assert [sid for sid, cached in recorder.events if not cached] == ["s3"]


def test_engine_settings_are_part_of_the_key(tmp_path: Path) -> None:
    run(ITEMS, ClipCache(tmp_path), FakeEngine())
    faster = FakeEngine(rate=1.2)
    clips, _ = run(ITEMS, ClipCache(tmp_path), faster)
    assert faster.calls == 3
    assert clips["s1"].duration_ms < FakeEngine().synthesize(ITEMS[0][1]).duration_ms


def test_error_names_sentence_and_keeps_earlier_clips(tmp_path: Path) -> None:
    items = [("s1", "Fine."), ("intro-s2", "This one will BOOM now."), ("s3", "Never reached.")]
    cache = ClipCache(tmp_path)
    with pytest.raises(SpeechError) as info:
        run(items, cache, FakeEngine(fail_on="BOOM"))
    message = str(info.value)
    assert "'intro-s2'" in message and "This one will BOOM now." in message
    assert cache.writes == 1
    assert cache.get(cache.key(FakeEngine().identity, "Fine.")) is not None


class Unplugged(FakeEngine):
    def synthesize(self, text: str) -> Clip:
        raise EngineUnavailable("no network; use --engine piper")


def test_engine_unavailable_passes_through(tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable, match="^no network"):
        run(ITEMS, ClipCache(tmp_path), Unplugged())


def test_bad_clip_from_engine_is_refused(tmp_path: Path) -> None:
    class Odd(FakeEngine):
        def synthesize(self, text: str) -> Clip:
            return Clip(pcm=b"\x00", sample_rate_hz=22050)

    with pytest.raises(SpeechError, match="'s1'.*bad clip"):
        run(ITEMS, ClipCache(tmp_path), Odd())


def many(n: int, marker: str = "") -> list[tuple[str, str]]:
    return [(f"s{i}", f"Sentence number {i} {marker}".strip() + ".") for i in range(n)]


def test_workers_give_the_same_clips(tmp_path: Path) -> None:
    items = many(MIN_BATCH_FOR_WORKERS + 4)
    serial = synthesize_clips(items, FakeEngine, ClipCache(tmp_path / "a"))
    recorder = Recorder()
    cache = ClipCache(tmp_path / "b")
    parallel = synthesize_clips(items, FakeEngine, cache, workers=2, on_progress=recorder)
    assert parallel == serial and list(parallel) == [sid for sid, _ in items]
    assert cache.writes == len(items) and recorder.synthesized == len(items)
    assert multiprocessing.active_children() == []


def test_worker_error_names_sentence(tmp_path: Path) -> None:
    items = many(MIN_BATCH_FOR_WORKERS)
    items[5] = ("bad-one", "Please BOOM here.")
    factory = functools.partial(FakeEngine, fail_on="BOOM")
    with pytest.raises(SpeechError, match=r"'bad-one' \('Please BOOM here.'\)"):
        synthesize_clips(items, factory, ClipCache(tmp_path), workers=2)
    assert multiprocessing.active_children() == []


class Crashing(FakeEngine):
    """Dies like a worker killed for using too much memory."""

    def synthesize(self, text: str) -> Clip:
        if "CRASH" in text:
            os._exit(137)
        return super().synthesize(text)


def test_worker_that_dies_is_reported_not_waited_for(tmp_path: Path) -> None:
    items = many(MIN_BATCH_FOR_WORKERS)
    items[3] = ("doomed", "This will CRASH.")
    with pytest.raises(SpeechError, match=r"worker process died \(exit code 137\).*'doomed'"):
        synthesize_clips(items, Crashing, ClipCache(tmp_path), workers=2)
    assert multiprocessing.active_children() == []


class Sluggish(FakeEngine):
    """Takes a while per sentence, so an interrupt arrives mid-queue."""

    def synthesize(self, text: str) -> Clip:
        time.sleep(0.2)
        return super().synthesize(text)


def test_keyboard_interrupt_stops_the_pool_promptly(tmp_path: Path) -> None:
    items = many(40)

    def interrupt(sentence_id: str, clip: Clip, from_cache: bool) -> None:
        raise KeyboardInterrupt

    cache = ClipCache(tmp_path)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        synthesize_clips(items, Sluggish, cache, workers=2, on_progress=interrupt)
    # 40 sentences at 0.2 s on 2 workers would take 4 s to drain.
    assert time.monotonic() - started < 3.5
    assert multiprocessing.active_children() == []
    assert 1 <= cache.writes < len(items)


def test_stream_hands_clips_over_as_they_come_and_closing_stops_the_workers(
        tmp_path: Path) -> None:
    import contextlib

    from publisher.synthesize import stream_clips

    items = many(MIN_BATCH_FOR_WORKERS + 6)
    ClipCache(tmp_path).put(ClipCache.key(FakeEngine().identity, items[3][1]),
                            FakeEngine().synthesize(items[3][1]))
    cache = ClipCache(tmp_path)
    seen = []
    with contextlib.closing(stream_clips(items, FakeEngine, cache, workers=2)) as stream:
        for sentence_id, clip, cached in stream:
            # The caller may take its time: the workers have the next texts queued.
            time.sleep(0.01)
            seen.append((sentence_id, cached))
            assert clip == FakeEngine().synthesize(dict(items)[sentence_id])
    assert seen[0] == ("s3", True)  # cached clips first
    assert sorted(sid for sid, _ in seen) == sorted(sid for sid, _ in items)
    assert cache.writes == len(items) - 1
    with contextlib.closing(stream_clips(many(40, "again"), Sluggish, cache,
                                         workers=2)) as stream:
        next(stream)  # then stop early: the workers are stopped, not drained
    assert multiprocessing.active_children() == []


def test_one_missing_clip_can_go_to_a_worker_while_the_caller_prepares(
        tmp_path: Path) -> None:
    """An edit of one sentence: the worker starts first, the caller works meanwhile."""
    from publisher.synthesize import stream_clips

    items = many(6)
    cache = ClipCache(tmp_path)
    engine = FakeEngine()
    for _, text in items[1:]:
        cache.put(ClipCache.key(engine.identity, text), engine.synthesize(text))
    cache = ClipCache(tmp_path)
    events: list[str] = []

    def while_waiting() -> None:
        # Workers are already running: their process exists before the caller prepares.
        events.append(f"waiting with {len(multiprocessing.active_children())} worker(s)")

    for sentence_id, clip, cached in stream_clips(items, FakeEngine, cache, workers=2,
                                                  min_batch_for_workers=1,
                                                  while_waiting=while_waiting):
        assert clip == engine.synthesize(dict(items)[sentence_id])
        events.append(f"{sentence_id} {'cached' if cached else 'made'}")
    assert events == [*(f"{sid} cached" for sid, _ in items[1:]),
                      "waiting with 1 worker(s)", f"{items[0][0]} made"]
    assert cache.writes == 1
    assert multiprocessing.active_children() == []
    # The default keeps a small batch in this process, and nothing is waited for.
    calls = []
    list(stream_clips(many(3, "other"), FakeEngine, ClipCache(tmp_path), workers=2,
                      while_waiting=lambda: calls.append(len(multiprocessing.active_children()))))
    assert calls == [0]


def test_closing_the_stream_among_cached_clips_stops_the_started_workers(
        tmp_path: Path) -> None:
    from publisher.synthesize import stream_clips

    items = many(MIN_BATCH_FOR_WORKERS + 6, "early")
    engine = FakeEngine()
    for _, text in items[:3]:
        ClipCache(tmp_path).put(ClipCache.key(engine.identity, text), engine.synthesize(text))
    stream = stream_clips(items, Sluggish, ClipCache(tmp_path), workers=2)
    assert next(stream)[2] is True  # a cached clip; the workers are running by now
    assert multiprocessing.active_children() != []
    stream.close()
    assert multiprocessing.active_children() == []
