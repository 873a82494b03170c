"""Spoken audio end to end: the real Piper voice, real encoding, real tags."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import soundfile
from mutagen.id3 import ID3

from publisher.audio import get_profile, measure_levels
from publisher.build import build
from publisher.options import BuildOptions

from .helpers import FIXTURES, write_book


@pytest.fixture(scope="module")
def piper_book(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("piper")
    result = build(FIXTURES / "short-audio.md", BuildOptions(out_root=out, engine="piper"))
    return result.out_dir, json.loads((result.out_dir / "build.json").read_text())


@pytest.mark.slow
def test_one_mp3_per_section_matching_the_record(piper_book):
    folder, record = piper_book
    sections = record["sections"]
    mp3s = sorted((folder / "audio").glob("*.mp3"))
    assert [folder / s["audio"] for s in sections] == mp3s
    profile = get_profile("podcast")
    for section in sections:
        path = folder / section["audio"]
        info = soundfile.info(str(path))
        assert info.samplerate == section["sample_rate_hz"] == profile.sample_rate_hz
        assert info.channels == 1
        assert abs(info.frames * 1000 / info.samplerate - section["duration_ms"]) <= 5
        levels = measure_levels(path)
        assert abs(levels.integrated_lufs - profile.loudness_target_db) <= 1.0
        assert levels.true_peak_dbtp <= profile.peak_limit_dbtp


@pytest.mark.slow
def test_timings_are_contiguous_and_add_up_to_the_file(piper_book):
    _, record = piper_book
    for section in record["sections"]:
        timings = section["timings"]
        assert timings
        for before, after in zip(timings, timings[1:], strict=False):
            assert before["start_ms"] < before["end_ms"] == after["start_ms"]
        tail = section["duration_ms"] - timings[-1]["end_ms"]
        head = timings[0]["start_ms"]
        assert 500 <= head <= 1000 and 1000 <= tail <= 3000
        covered = timings[-1]["end_ms"] - head + head + tail
        assert abs(covered - section["duration_ms"]) <= 50


@pytest.mark.slow
def test_tags_name_the_section_book_author_voice_and_track(piper_book):
    folder, record = piper_book
    total = len(record["sections"])
    for number, section in enumerate(record["sections"], start=1):
        tags = ID3(folder / section["audio"])
        assert tags.version[:2] == (2, 3)
        assert str(tags["TIT2"]) == section["title"]
        assert str(tags["TALB"]) == "A short book for audio tests"
        assert str(tags["TPE1"]) == "Test Author"
        assert str(tags["TRCK"]) == f"{number}/{total}"
        assert "joe" in str(tags["TCOM"]).lower()
        assert str(tags["TLAN"]) == "eng"
        assert tags.getall("APIC")  # the cover


def _build_counts(source: Path, out: Path, cache: Path) -> dict:
    return build(source, BuildOptions(out_root=out, engine="piper", cache_dir=cache)).stats


@pytest.mark.slow
def test_cache_rebuild_synthesizes_nothing_and_an_edit_one_sentence(tmp_path):
    source = tmp_path / "book.md"
    text = (FIXTURES / "short-audio.md").read_text(encoding="utf-8")
    source.write_text(text, encoding="utf-8")
    cache = tmp_path / "cache"
    first = _build_counts(source, tmp_path / "a", cache)
    assert first["clips_synthesized"] > 0
    again = _build_counts(source, tmp_path / "b", cache)
    assert again["clips_synthesized"] == 0
    source.write_text(text.replace("It was time to rest.", "It was time to sleep."),
                      encoding="utf-8")
    edited = _build_counts(source, tmp_path / "c", cache)
    assert edited["clips_synthesized"] == 1


def test_lexicon_rewrites_spoken_text_and_ships_a_linked_pls(tmp_path):
    from publisher.build import load_book
    from publisher.script import script_book

    source = write_book(tmp_path, "## NSSI\n\nNSSI and self-harm are named here.\n",
                        pronunciations="{NSSI: N S S I, self-harm: self harm}")
    book = load_book(source, BuildOptions())
    texts = script_book(book).texts
    said = [texts[s.id] for s in book.sentences]
    assert "N S S I and self harm are named here." in said
    result = build(source, BuildOptions(out_root=tmp_path / "o", engine="fake", workers=1))
    import zipfile

    from .helpers import NS, epub_xml

    epub = result.out_dir / "book.epub"
    assert "EPUB/lexicon.pls" in zipfile.ZipFile(epub).namelist()
    doc = epub_xml(epub, "EPUB/01-nssi.xhtml")  # a lone top heading opens the book
    assert doc.find(".//x:link[@rel='pronunciation']", NS).get("href") == "lexicon.pls"


def test_a_rebuild_copies_encoded_sections_and_an_edit_reencodes_one(tmp_path, monkeypatch):
    from publisher import audio

    source = write_book(tmp_path, "## One\n\nFirst part. It goes on.\n\n## Two\n\n"
                                  "Second part here.\n\n## Three\n\nThird and last.\n")
    cache = tmp_path / "cache"
    options = BuildOptions(out_root=tmp_path / "a", engine="fake", workers=1, cache_dir=cache)
    first = build(source, options)
    made: list[str] = []
    real = audio.assemble_section_files

    def counting(items, outputs, *, section_id, **rest):
        made.append(section_id)
        return real(items, outputs, section_id=section_id, **rest)

    monkeypatch.setattr(audio, "assemble_section_files", counting)
    again = build(source, BuildOptions(out_root=tmp_path / "b", engine="fake", workers=1,
                                       cache_dir=cache))
    assert made == []
    assert {p.name: p.read_bytes() for p in first.files} == \
        {p.name: p.read_bytes() for p in again.files}
    source.write_text(source.read_text().replace("Second part here.", "Second part there."))
    build(source, BuildOptions(out_root=tmp_path / "c", engine="fake", workers=1,
                               cache_dir=cache))
    assert made == ["sec-03"]  # title page, One, *Two*, Three: the contents are unchanged


def test_with_every_clip_cached_both_processes_make_whole_sections(tmp_path, monkeypatch):
    """An emptied .cache/outputs/ (an upgrade, --force): sections are shared between this
    process and the helper, whole, and the files are the bytes one process makes alone."""
    from publisher import helper as helper_module
    from publisher import narrate

    body = "".join(f"## Part {n}\n\nSentence {n} of the book. It goes on.\n\n"
                   for n in ("one", "two", "three", "four"))
    source = write_book(tmp_path, body)
    cache = tmp_path / "cache"
    alone = build(source, BuildOptions(out_root=tmp_path / "a", engine="fake", workers=1,
                                       cache_dir=cache))
    lent: list[str] = []
    here: list[str] = []
    submit, assemble = helper_module.Helper.submit, narrate._assemble

    def counting_submit(self, function, *args, **rest):
        if function is narrate._assemble_whole:
            lent.append(args[0].section_id)
        return submit(self, function, *args, **rest)

    def counting_assemble(job, *args):
        here.append(job.section_id)
        return assemble(job, *args)

    monkeypatch.setattr(helper_module.Helper, "submit", counting_submit)
    monkeypatch.setattr(narrate, "_assemble", counting_assemble)
    shutil.rmtree(cache / "outputs")
    both = build(source, BuildOptions(out_root=tmp_path / "b", engine="fake", workers=2,
                                      cache_dir=cache, force=True))
    assert both.stats["clips_synthesized"] == 0
    # How many each makes depends on the machine; each section is made once, by one.
    assert lent and here and sorted(lent + here) == ["nav", *(f"sec-0{n}" for n in range(1, 6))]
    assert {p.name: p.read_bytes() for p in alone.files} == \
        {p.name: p.read_bytes() for p in both.files}
    # A one-sentence edit makes the files of its section only, here.
    lent.clear()
    here.clear()
    source.write_text(source.read_text().replace("Sentence two of", "Sentence 2 of"))
    build(source, BuildOptions(out_root=tmp_path / "c", engine="fake", workers=2,
                               cache_dir=cache))
    assert (lent, here) == ([], ["sec-03"])
