"""Memory stays flat in book length: a 100,000-word book narrates in under 800 MB.

The book is about 13 hours of speech with the fake engine: 1.95 GB of 22.05 kHz
16-bit PCM, so any stage that held the whole book's audio would fail here.
The narration runs in a subprocess, and the test polls the resident memory of
that process and all its children (the synthesis workers, the helper process
that encodes beside the assembler, multiprocessing's forkserver and resource
tracker) and checks the peak of their sum. Measured on 2026-12-02: 715 MB in
all for ``local`` (539 MB for ``cluster``, which encodes nothing); 462 MB for the narrating process (the longest section's 31-minute master
is 164 MB of float32, and mastering needs a few temporaries), 170 MB for the
helper (most of it the audio libraries, the same for any book: it reads the
master from a file, chunk by chunk), 59 MB for each synthesis worker, 42 MB
for the forkserver and resource tracker.

The subprocess (tests/memory_child.py, which imports neither pytest nor this
file, so its synthesis workers and helper are what a build's are) runs the real
``narrate.narrate_book``, which streams clips
through the cache and assembles one section at a time: ``local`` lets it
synthesize with its own two worker processes; ``cluster`` first fills the
cache on a Dask LocalCluster of two workers (``publisher.cluster``), as
``publisher build --scheduler`` does. Encoding 13 hours of audio twice would
take half an hour on a CI machine, so only the longest section (31 minutes) is
really assembled and encoded, and only in ``local``; every other section goes through a stand-in
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
from pathlib import Path

import pytest

LIMIT_MB = 800
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
    for chapter in range(1, chapters + 1):
        parts.append(f"## Chapter {chapter}\n\n")
        written = 0
        while written < words // chapters:
            sentences = []
            for _ in range(rng.randint(3, 6)):
                length = rng.randint(8, 24)
                # No numerals: they are read out in words (publisher.normalize), which
                # would make the speech, not the book, longer.
                sentences.append(" ".join(rng.choice(vocabulary) for _ in range(length))
                                 .capitalize() + ".")
                written += length
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

    command = [sys.executable, str(Path(__file__).with_name("memory_child.py")), synthesis, str(book), str(tmp_path / "cache"),
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
    assert hours > 10 and pcm_mb > 2.4 * LIMIT_MB, report  # holding it all could not pass
    # Every chapter and the title page, and the contents, went through the assembler.
    assert report["assembled"] == CHAPTERS + 2, report
    if synthesis == "local":  # the real assembler and encoders on the longest section
        assert report["encoded_section_minutes"] > 25, report
    peak_mb = peak_bytes / 2**20
    print(f"{synthesis}: {hours:.1f} hours of audio ({pcm_mb:.0f} MB of PCM): peak {peak_mb:.0f} "
          f"MB for the process tree; {json.dumps(report)}")
    assert peak_mb < LIMIT_MB, (
        f"narrating {hours:.1f} hours ({pcm_mb:.0f} MB of PCM) peaked at {peak_mb:.0f} MB "
        f"for the process tree (narrating process alone: {report['self_peak_mb']:.0f} MB)")
