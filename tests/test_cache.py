"""The clip cache: round trips, corruption, atomic and concurrent writes."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from publisher.cache import ClipCache
from publisher.model import Clip

IDENTITY = {"engine": "fake", "rate": "1"}


def make_clip(n: int = 1000, rate_hz: int = 22050) -> Clip:
    pcm = b"".join((i * 37 % 65536 - 32768).to_bytes(2, "little", signed=True) for i in range(n))
    return Clip(pcm=pcm, sample_rate_hz=rate_hz)


def test_key_depends_on_identity_and_text_not_dict_order() -> None:
    key = ClipCache.key(IDENTITY, "Hello.")
    assert len(key) == 64
    assert key == ClipCache.key({"rate": "1", "engine": "fake"}, "Hello.")
    assert key != ClipCache.key(IDENTITY, "Hello!")
    assert key != ClipCache.key({**IDENTITY, "rate": "1.2"}, "Hello.")


def test_round_trip_and_counters(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    key = cache.key(IDENTITY, "Hello.")
    assert cache.get(key) is None
    clip = make_clip()
    path = cache.put(key, clip)
    assert path == tmp_path / key[:2] / key[2:4] / f"{key}.clip"
    assert cache.get(key) == clip
    assert (cache.hits, cache.misses, cache.writes) == (1, 1, 1)
    # Another process (another ClipCache) sees the same entry.
    assert ClipCache(tmp_path).get(key) == clip


def test_empty_clip_round_trips(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    key = cache.key(IDENTITY, "")
    cache.put(key, Clip(pcm=b"", sample_rate_hz=24000))
    assert cache.get(key) == Clip(pcm=b"", sample_rate_hz=24000)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:20], id="truncated-header"),
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="flipped-bit"),
        pytest.param(lambda data: b"garbage" + data[7:], id="bad-magic"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_corrupt_entry_is_a_miss_and_is_deleted(tmp_path: Path, damage, caplog) -> None:
    cache = ClipCache(tmp_path)
    key = cache.key(IDENTITY, "Hello.")
    path = cache.put(key, make_clip())
    path.write_bytes(damage(path.read_bytes()))

    assert cache.get(key) is None
    assert not path.exists()
    assert "corrupt cache entry" in caplog.text
    # ... and is made again.
    cache.put(key, make_clip())
    assert cache.get(key) == make_clip()


def test_put_is_atomic_and_leaves_no_temporary_files(tmp_path: Path, monkeypatch) -> None:
    cache = ClipCache(tmp_path)
    key = cache.key(IDENTITY, "Hello.")
    old = make_clip(10)
    cache.put(key, old)

    # A failure in the middle of replacing an entry keeps the old entry whole.
    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        cache.put(key, make_clip(5000))
    monkeypatch.undo()

    assert cache.get(key) == old
    assert sorted(p.name for p in cache.path(key).parent.iterdir()) == [f"{key}.clip"]


def test_rejects_keys_that_are_not_digests(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a cache key"):
        ClipCache(tmp_path).get("../../etc/passwd")


def _writer(root: str, worker: int, keys: list[str], rounds: int) -> None:
    cache = ClipCache(Path(root))
    for round_ in range(rounds):
        for index, key in enumerate(keys):
            # Same key -> same clip, as with a real engine.
            cache.put(key, make_clip(200 + index))
            clip = cache.get(key)
            assert clip == make_clip(200 + index), (worker, round_, key)


def test_concurrent_writers_never_expose_partial_entries(tmp_path: Path) -> None:
    keys = [ClipCache.key(IDENTITY, f"sentence {i}") for i in range(8)]
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_writer, args=(str(tmp_path), w, keys, 15)) for w in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]

    cache = ClipCache(tmp_path)
    for index, key in enumerate(keys):
        assert cache.get(key) == make_clip(200 + index)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.name.startswith(".tmp-")]
    assert leftovers == []


# --------------------------------------------------------------------------- outputs


def test_output_cache_round_trip_and_corrupt_entries_are_misses(tmp_path: Path) -> None:
    from publisher.cache import OutputCache

    cache = OutputCache(tmp_path)
    key = OutputCache.key({"kind": "test", "parts": [1, 2]})
    assert key == OutputCache.key({"parts": [1, 2], "kind": "test"})  # canonical JSON
    assert cache.fetch(key, ".mp3", tmp_path / "out.mp3") is None
    source = tmp_path / "made.mp3"
    source.write_bytes(b"ID3 encoded audio")
    cache.store(key, ".mp3", source, {"duration_ms": 1234})
    meta = cache.fetch(key, ".mp3", tmp_path / "out.mp3")
    assert meta is not None and meta["duration_ms"] == 1234
    assert (tmp_path / "out.mp3").read_bytes() == b"ID3 encoded audio"
    # A truncated file (a power cut) no longer matches its digest: rebuilt, not used.
    (stored,) = (tmp_path / "outputs").rglob("*.mp3")
    stored.write_bytes(b"ID3 enc")
    assert cache.fetch(key, ".mp3", tmp_path / "again.mp3") is None
    assert not (tmp_path / "again.mp3").exists()
