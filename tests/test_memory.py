"""Memory stays flat in book length: a 100,000-word book narrates in under 750 MB.

The book is about 12 hours of speech with the fake engine: 1.9 GB of 22.05 kHz
16-bit PCM, so any stage that held the whole book's audio would fail here.
The narration runs in a subprocess (this file, run as a script), and the test
polls the resident memory of that process and all its children (the synthesis
workers, and the helper process that encodes beside the assembler) and checks
the peak of their sum. Measured: about 450 MB for the narrating process (the
longest section's 29-minute master is 150 MB of float32, and mastering needs a
few temporaries), 150 MB for the helper (120 MB of it the audio libraries, the
same for any book: it reads the master from a file, chunk by chunk), 40 MB for
each synthesis worker.

The subprocess runs the real ``narrate.narrate_book``, which streams clips
through the cache and assembles one section at a time: ``local`` lets it
synthesize with its own two worker processes; ``cluster`` first fills the
cache on a Dask LocalCluster of two workers (``publisher.cluster``), as
``publisher build --scheduler`` does. Encoding 12 hours of audio twice would
take half an hour on a CI machine, so only the longest section (29 minutes) is
really assembled and encoded; every other section goes through a stand-in
that still reads all its clips and places them into one float32 array, as the
assembler does, but does not master and encode it. Memory in the assembler
depends on the section, not on the book (see publisher.audio).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

LIMIT_MB = 750
WORDS = 100_000
CHAPTERS = 25


def write_long_book(path: Path, words: int = WORDS, chapters: int = CHAPTERS) -> Path:
    """A deterministic book of ``words`` words in ``chapters`` chapters of plain prose."""
    rng = random.Random(20240611)
    vocabulary = ("harm reduction care body mind safety choice support listen rest breathe "
                  "friend time feeling relief pain research people agency trust slow kind "
                  "morning evening window garden river quiet steady honest gentle").split()
    parts = ["---\ntitle: A long book\nlanguage: en\n"
             "identifier: urn:uuid:00000000-0000-4000-8000-0000000a1000\n---\n\n"]
    number = 0
    for chapter in range(1, chapters + 1):
        parts.append(f"## Chapter {chapter}\n\n")
        written = 0
        while written < words // chapters:
            sentences = []
            for _ in range(rng.randint(3, 6)):
                length = rng.randint(8, 24)
                number += 1
                sentences.append(" ".join(rng.choice(vocabulary) for _ in range(length))
                                 .capitalize() + f" number {number}.")
                written += length + 2
            parts.append(" ".join(sentences) + "\n\n")
    path.write_text("".join(parts), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("synthesis", ["local", "cluster"])
def test_a_100000_word_book_narrates_in_flat_memory(synthesis: str, tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    if synthesis == "cluster":
        pytest.importorskip("distributed")
    book = write_long_book(tmp_path / "long.md")
    assert len(book.read_text(encoding="utf-8").split()) >= WORDS

    command = [sys.executable, __file__, synthesis, str(book), str(tmp_path / "cache"),
               str(tmp_path / "staging")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    root = psutil.Process(process.pid)
    peak_bytes = 0
    deadline = time.monotonic() + 1200
    while process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the narration took more than 20 minutes")
        total = 0
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for member in tree:
            try:
                total += member.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        peak_bytes = max(peak_bytes, total)
        time.sleep(0.05)
    stdout, stderr = process.communicate()
    assert process.returncode == 0, stderr[-4000:]
    report = json.loads(stdout.strip().splitlines()[-1])

    hours = report["audio_ms"] / 3_600_000
    pcm_mb = report["audio_ms"] / 1000 * 22050 * 2 / 2**20
    assert hours > 10 and pcm_mb > 2.5 * LIMIT_MB, report  # holding it all could not pass
    # Every chapter and the title page, and the contents, went through the assembler.
    assert report["assembled"] == CHAPTERS + 2, report
    assert report["encoded_section_minutes"] > 25, report
    peak_mb = peak_bytes / 2**20
    print(f"{synthesis}: {hours:.1f} hours of audio ({pcm_mb:.0f} MB of PCM): peak {peak_mb:.0f} "
          f"MB for the process tree; {json.dumps(report)}")
    assert peak_mb < LIMIT_MB, (
        f"narrating {hours:.1f} hours ({pcm_mb:.0f} MB of PCM) peaked at {peak_mb:.0f} MB "
        f"for the process tree (narrating process alone: {report['self_peak_mb']:.0f} MB)")


# --- the subprocess ---------------------------------------------------------------


def _narrate(synthesis: str, source: Path, cache_dir: Path, staging: Path) -> dict[str, float]:
    """Narrate ``source`` as a build does; return what was made.

    ``synthesis``: ``local`` lets narrate.py synthesize (two worker processes);
    ``cluster`` first fills the cache on a Dask LocalCluster of two workers
    (publisher.cluster.stream_with_executor, every clip let go as it comes),
    then narrates from the cache.
    """
    import resource

    # audio_helpers is beside this file, which runs as a script: its folder is on sys.path.
    import audio_helpers
    import numpy as np

    from publisher import audio, narrate
    from publisher.build import load_book
    from publisher.model import Clip, SectionAudio, Timing
    from publisher.options import BuildOptions, Reporter
    from publisher.script import script_book

    book = load_book(source, BuildOptions())
    longest = max(book.sections, key=lambda s: sum(len(x.spoken) for x in s.sentences))
    # audio_helpers.assemble_section calls the package's assemble_section_files,
    # so replacing that one replaces both.
    real_files, real_one = audio.assemble_section_files, audio_helpers.assemble_section
    encoded_ms = 0
    assembled = 0

    def stand_in(items: Sequence[tuple[str, Clip, int]], profile: audio.AudioProfile,
                 dest: Path, section_id: str) -> SectionAudio:
        """The section as one float32 array, as the assembler holds it; no encoding."""
        rate = profile.sample_rate_hz
        starts, offset = [], 0
        for _, clip, pause_ms in items:
            starts.append(offset)
            offset += clip.num_samples + rate * pause_ms // 1000
        signal = np.zeros(offset, dtype=np.float32)
        for (_, clip, _), start in zip(items, starts, strict=True):
            pcm = np.frombuffer(clip.pcm, dtype="<i2")
            signal[start:start + len(pcm)] = pcm / 32768.0
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"stand-in")
        ends = [*starts[1:], offset]
        timings = tuple(Timing(sid, 1000 * s // rate, 1000 * e // rate)
                        for (sid, _, _), s, e in zip(items, starts, ends, strict=True))
        return SectionAudio(section_id=section_id, path=dest, duration_ms=1000 * offset // rate,
                            sample_rate_hz=rate, timings=timings, loudness_lufs=-19.0)

    def assemble_files(items: Sequence[tuple[str, Clip, int]],
                       outputs: Sequence[tuple[audio.AudioProfile | str, Path]], *,
                       tags: audio.SectionTags, section_id: str,
                       **helping: object) -> tuple[SectionAudio, ...]:
        nonlocal encoded_ms, assembled
        assembled += 1
        if section_id == longest.id:
            made = real_files(items, outputs, tags=tags, section_id=section_id,
                              **helping)  # type: ignore[arg-type]
            encoded_ms = made[0].duration_ms
            return made
        return tuple(stand_in(items, audio.get_profile(profile) if isinstance(profile, str)
                              else profile, Path(dest), section_id)
                     for profile, dest in outputs)

    def assemble_one(items: Sequence[tuple[str, Clip, int]], *,
                     profile: audio.AudioProfile | str, tags: audio.SectionTags, dest: Path,
                     section_id: str) -> SectionAudio:
        return assemble_files(items, [(profile, dest)], tags=tags, section_id=section_id)[0]

    # Encoding 12 hours of audio would take half an hour: only the longest section is.
    import inspect

    if "audio.assemble_section" not in inspect.getsource(narrate):
        raise SystemExit("narrate.py no longer calls audio.assemble_section(_files): "
                         "update the stand-in in tests/test_memory.py")
    audio.assemble_section_files = assemble_files  # type: ignore[assignment]
    audio_helpers.assemble_section = assemble_one  # type: ignore[assignment]
    assert real_one is not None

    options = BuildOptions(engine="fake", workers=2, cache_dir=cache_dir)
    script = script_book(book)
    if synthesis == "cluster":
        from publisher.cache import ClipCache
        from publisher.cluster import open_executor, stream_with_executor
        from publisher.options import engine_spec

        with open_executor(None, 2) as client:
            for _ in stream_with_executor(script.items, engine_spec(book, options),
                                          ClipCache(options.cache_root), client):
                pass
    result = narrate.narrate_book(book, script, staging, options, Reporter())
    return {
        "audio_ms": float(result.duration_ms),
        "sentences": float(len(script.items)),
        "assembled": float(assembled),
        "encoded_section_minutes": encoded_ms / 60000,
        "clips_synthesized": float(result.clips_synthesized),
        "self_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "largest_child_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    synthesis = sys.argv[1]
    source, cache_dir, staging = (Path(arg) for arg in sys.argv[2:5])
    staging.mkdir(parents=True, exist_ok=True)
    print(json.dumps(_narrate(synthesis, source, cache_dir, staging)))
