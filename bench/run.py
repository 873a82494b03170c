"""Benchmarks (`make bench`): build speed against pandoc, and narration speed
against the raw Piper engine. Prints a table; writes bench/results.json.

Usage: python bench/run.py [--quick] [--only text|audio]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_BOOK = ROOT / "content" / "unpacking-self-harm.md"
PUBLISHER = [sys.executable, "-m", "publisher"]


def timed(command: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall seconds of ``runs`` runs of ``command``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
            row: dict[str, object] = {"publisher_s": round(ours, 3),
                                      "bytes": source.stat().st_size}
            if pandoc:
                theirs = timed([pandoc, "-f", "markdown", "-t", "epub3", "-o",
                                str(tmpdir / "pandoc.epub"), str(source)], runs)
                row["pandoc_s"] = round(theirs, 3)
                row["ratio_publisher_over_pandoc"] = round(ours / theirs, 2)
            results[name] = row
    return results


def bench_audio(quick: bool) -> dict[str, object]:
    """Cold, warm and one-edit builds of the first book with Piper, vs the raw engine."""
    sys.path.insert(0, str(ROOT))
    from publisher.build import BuildOptions, load_book
    from publisher.lexicon import load_lexicon
    from publisher.speech import make_engine

    book = load_book(FIRST_BOOK, BuildOptions(audio=True))
    lexicon = load_lexicon(book.meta.pronunciations, book.meta.lexicon)
    texts = [lexicon.apply(s.spoken) for s in book.sentences]
    if quick:
        texts = texts[:10]

    engine = make_engine("piper", None, 1.0, "en")
    engine.synthesize("Warm up.")
    start = time.perf_counter()
    audio_s = 0.0
    for text in texts:
        clip = engine.synthesize(text)
        audio_s += clip.duration_ms / 1000
    raw_s = time.perf_counter() - start
    result: dict[str, object] = {
        "sentences": len(texts),
        "raw_engine_s": round(raw_s, 2),
        "raw_engine_rtf": round(raw_s / audio_s, 4),
        "audio_s_raw": round(audio_s, 1),
    }
    if quick:
        return result

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        out = tmpdir / "out"
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
        cmd = [*PUBLISHER, "build", "-q", "-o", str(out), str(FIRST_BOOK)]
        cold = timed(cmd, 1, env)
        record = json.loads((out / "unpacking-self-harm" / "build.json").read_text())
        book_audio_s = sum(s.get("duration_ms", 0) for s in record["sections"]) / 1000
        warm = timed(cmd, 1, env)
        edited = tmpdir / "unpacking-self-harm.md"
        edited.write_text(FIRST_BOOK.read_text(encoding="utf-8").replace(
            "Self-harm can be cyclical.", "Self-harm can often be cyclical."), encoding="utf-8")
        one_edit = timed([*PUBLISHER, "build", "-q", "-o", str(out), "--cache-dir",
                          str(out / ".cache"), str(edited)], 1, env)
    result.update({
        "book_audio_s": round(book_audio_s, 1),
        "cold_build_s": round(cold, 2),
        "cold_build_rtf": round(cold / book_audio_s, 4),
        "cold_over_raw_engine": round(cold / raw_s, 3),
        "warm_build_s": round(warm, 2),
        "warm_over_cold": round(warm / cold, 4),
        "one_edit_build_s": round(one_edit, 2),
        "one_edit_over_cold": round(one_edit / cold, 4),
        "peak_rss_mb_children": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    })
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, short texts")
    parser.add_argument("--only", choices=("text", "audio"))
    args = parser.parse_args()
    results: dict[str, object] = {}
    if args.only in (None, "text"):
        results["text_only_build"] = bench_text(runs=1 if args.quick else 3)
    if args.only in (None, "audio"):
        results["narration"] = bench_audio(args.quick)
    print(json.dumps(results, indent=2))
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
