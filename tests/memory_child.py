"""The narrating subprocess of tests/test_memory.py, run as a script.

Kept apart from the test so that neither it nor the child processes it starts
(forked from a forkserver that preloads ``__main__``) import pytest: their
memory is then what a build's workers and helper use.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path


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
        if section_id == longest.id and synthesis == "local":
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

    # Encoding 12 hours of audio would take half an hour: only the longest section
    # is, and only in ``local``: the assembler and encoders hold the same whatever
    # filled the cache, and ``cluster`` is about the cluster's synthesis and the
    # narration from a full cache.
    import inspect

    if "audio.assemble_section" not in inspect.getsource(narrate):
        raise SystemExit("narrate.py no longer calls audio.assemble_section(_files): "
                         "update the stand-in in tests/test_memory.py")
    audio.assemble_section_files = assemble_files  # type: ignore[assignment]
    # With every clip cached (``cluster``), narrate shares whole sections with its
    # helper process, where this stand-in cannot reach: here every section is
    # assembled in this process, one after another. (Sharing holds at most one
    # more section's master in the helper, bounded as this one is.)
    narrate._share = lambda jobs, helper, cache, clip_keys, outputs_cache: {  # type: ignore
        job.section_id: narrate._assemble(job, cache, clip_keys, outputs_cache, helper)
        for job in jobs}
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
