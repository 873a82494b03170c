"""Passages in another language and several voices in one book (issue 16, items 4 and 5).

The fake engine stands in for every voice (under the voice's name, so each has
its own cache keys and its own sound) wherever timings and files are what is
tested; one short Kokoro test shows a French passage really is said by
``ff_siwis``.
"""

from __future__ import annotations

import json
import zipfile

import pytest
from lxml import etree
from mutagen.id3 import ID3
from mutagen.mp4 import MP4

from publisher.audio import pause_after
from publisher.build import build, load_book
from publisher.cache import ClipCache
from publisher.model import Voicing
from publisher.options import BuildOptions
from publisher.script import script_book
from publisher.scriptview import collect_script, render_json, render_text
from publisher.speech.fake import FakeEngine

from .helpers import NS, epub_names, epub_xml, run_cli, snapshot, write_book

MIXED = """\
## Mixed

The narrator reads this. A word like *bonjour* stays in the sentence's voice.

Le chat dort sur la table. Il fait beau aujourd'hui.
{lang=fr}

Die Katze schläft auf dem Tisch. Heute ist es schön.
{lang=de}

Back to English.
"""

FRENCH = ("Le chat dort sur la table.", "Il fait beau aujourd’hui.")
GERMAN = ("Die Katze schläft auf dem Tisch.", "Heute ist es schön.")

TWO_VOICES = """\
## Scene

The room is quiet.

> I am here.
{voice=quote}

I am here.

**Alice:** Who is there?

It was only the wind.
{.quote}
"""

CAST = "{narrator: af_heart, quote: am_michael, Alice: bf_emma}"


def _options(tmp_path, run="out", **kw) -> BuildOptions:
    return BuildOptions(out_root=tmp_path / run, cache_dir=tmp_path / "cache", engine="fake",
                        workers=1, daisy=(), **kw)


def _sentence(book, text):
    return next(s for s in book.sentences if s.spoken == text)


# --------------------------------------------------------------------------- languages


def test_each_sentence_knows_its_language_and_a_phrase_keeps_the_sentences(tmp_path):
    book = load_book(write_book(tmp_path, MIXED), BuildOptions(engine="fake"))
    assert [_sentence(book, t).language for t in FRENCH] == ["fr", "fr"]
    assert [_sentence(book, t).language for t in GERMAN] == ["de", "de"]
    phrase = next(s for s in book.sentences if "bonjour" in s.spoken)
    assert phrase.language == ""  # a foreign word inside a sentence: the sentence's voice
    assert _sentence(book, "Back to English.").language == ""


def test_a_passage_without_a_voice_is_announced_never_read(tmp_path):
    book = load_book(write_book(tmp_path, MIXED), BuildOptions(engine="fake"))
    script = script_book(book)  # the default: installed offline voices (none for German)
    texts = script.texts
    first, second = (_sentence(book, t).id for t in GERMAN)
    assert texts[first] == "A passage in German follows; it is shown in the text."
    assert texts[second] == ""  # silent: never a German sentence in an English voice
    assert script.voicing(first) == script.voicing(second) == Voicing(skipped="de")
    for text in FRENCH:  # French has a voice (ff_siwis)
        assert script.voicing(_sentence(book, text).id) == Voicing(language="fr")
        assert texts[_sentence(book, text).id] == text
    # When German can be spoken (e.g. --engine gtts), it is read, by a German voice.
    spoken = script_book(book, speaks=lambda language: True)
    assert spoken.texts[first] == GERMAN[0]
    assert spoken.voicing(first) == Voicing(language="de")


def test_the_announcement_is_in_the_books_language():
    from publisher.script import announcement

    assert announcement("de", "fr") == "Suit un passage en allemand, affiché dans le texte."
    assert "alemán" in announcement("de", "es")
    assert "German" in announcement("de-AT", "en-GB")


def test_publisher_script_shows_the_voice_and_language(tmp_path):
    book = load_book(write_book(tmp_path, MIXED), BuildOptions(engine="fake"))
    lines = collect_script(book, script_book(book))
    text = render_text(lines)
    assert f"[fr]: {FRENCH[0]}" in text
    assert "[de, not read]: A passage in German follows" in text
    assert "[de, not read]: (silent)" in text
    assert "[fr]" not in next(line for line in text.splitlines() if "bonjour" in line)
    data = json.loads(render_json(lines))
    sentences = [s for section in data["sections"] for s in section["sentences"]]
    german = next(s for s in sentences if s["display"] == GERMAN[0])
    assert (german["language"], german["skipped"]) == ("en", "de")
    assert next(s for s in sentences if s["display"] == FRENCH[0])["language"] == "fr"
    jsonschema = pytest.importorskip("jsonschema")
    from publisher.scriptview import SCHEMA_PATH

    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def test_mixed_book_french_by_its_voice_german_announced(tmp_path):
    source = write_book(tmp_path, MIXED)
    result = build(source, _options(tmp_path))
    book = load_book(source, BuildOptions(engine="fake"))
    cache = ClipCache(tmp_path / "cache")
    narrator, french = FakeEngine(), FakeEngine(voice="ff_siwis")
    for text in FRENCH:  # said by (the stand-in for) ff_siwis, not by the narrator
        assert cache.key(french.identity, text) in cache
        assert cache.key(narrator.identity, text) not in cache
    announced = "A passage in German follows; it is shown in the text."
    assert cache.key(narrator.identity, announced) in cache
    assert not any(cache.key(identity, text) in cache for text in GERMAN
                   for identity in (narrator.identity, french.identity))
    narration = result.record["narration"]
    assert narration["narrators"] == ["Fake test voice", "Fake test voice (ff_siwis)"]
    # The silent German sentence keeps its place (read-along, transcript): a tenth of
    # a second, and the paragraph's pause after it (a timing ends where the next starts).
    timings = {t["id"]: t for s in result.record["sections"] for t in s["timings"]}
    second = timings[_sentence(book, GERMAN[1]).id]
    assert 90 <= second["end_ms"] - second["start_ms"] - pause_after("paragraph") <= 110
    first = timings[_sentence(book, GERMAN[0]).id]
    assert first["end_ms"] - first["start_ms"] >= FakeEngine().duration_ms(announced) - 5

    out = result.out_dir
    vtt = next((out / "transcripts").glob("*mixed.vtt")).read_text(encoding="utf-8")
    assert f"<lang fr>{FRENCH[0]}</lang>" in vtt
    assert f"<lang de>{GERMAN[0]}</lang>" in vtt  # shown in the text, and marked
    assert "<v " not in vtt  # one role: no speaker tags
    epub = out / f"{result.slug}.epub"
    document = epub_xml(epub, next(n for n in epub_names(epub) if n.endswith("-mixed.xhtml")))
    languages = {p.get("lang") for p in document.iter(f"{{{NS['x']}}}p")}
    assert {"fr", "de"} <= languages
    opf = epub_xml(out / f"{result.slug}.epub", "EPUB/content.opf")
    assert [m.text for m in opf.iterfind(".//opf:meta[@property='media:narrator']", NS)] == \
        narration["narrators"]


def test_a_whole_run_in_another_script_gets_its_voice(tmp_path):
    body = "## One\n\nAn English sentence.\n\nこんにちは、元気ですか。\n\nA last one.\n"
    book = load_book(write_book(tmp_path, body), BuildOptions(engine="fake"))
    japanese = next(s for s in book.sentences if "元気" in s.spoken)
    assert japanese.language == "ja"  # marked by the parser's script detection
    voicing = script_book(book).voicing(japanese.id)
    # Kokoro has Japanese voices in its table; whichever is installed, never English.
    assert voicing in (Voicing(language="ja"), Voicing(skipped="ja"))


@pytest.mark.slow
def test_kokoro_says_the_french_passage_with_ff_siwis(tmp_path):
    from publisher.speech.kokoro import KokoroEngine

    source = write_book(tmp_path, "Take a breath.\n\nBonjour à tous.\n{lang=fr}\n")
    options = BuildOptions(out_root=tmp_path / "out", cache_dir=tmp_path / "cache", workers=1,
                           daisy=())
    result = build(source, options)
    narration = result.record["narration"]
    assert narration["engine_identity"]["voice"] == "af_heart"
    french = KokoroEngine("ff_siwis", model_cache=tmp_path / "cache" / "voices")
    english = KokoroEngine("af_heart", model_cache=tmp_path / "cache" / "voices")
    cache = ClipCache(tmp_path / "cache")
    clip = cache.get(cache.key(french.identity, "Bonjour à tous."))
    assert clip is not None and clip == french.synthesize("Bonjour à tous.")
    assert cache.key(english.identity, "Bonjour à tous.") not in cache
    assert len(narration["narrators"]) == 2 and "ff_siwis" in narration["narrators"][1]


def test_a_voice_installed_for_a_passage_makes_the_book_again(tmp_path, monkeypatch):
    """The up-to-date check compares the voice of every language of the book: a German
    voice installed after a build that announced the German passage, or a better
    French one, makes the book again (a module on a path that is not a
    site-packages folder, which the check's package-folder stamps do not see)."""
    import importlib

    from publisher.speech import choose

    def entry(voice, language, wer, module):
        return choose.VoiceEntry(engine="kokoro", voice=voice, language=language,
                                 description="test", licence="test", size_mb=0.0, wer=wer,
                                 rtf=None, default=True, needs=(module,))

    # ff_test first: it is as good as ff_siwis (0.0 measured), and a tie goes to the
    # voice listed first.
    table = ((entry("ff_test", "fr", 0.0, "publisher_test_voice_fr"),) + choose.voice_table()
             + (entry("df_test", "de", 0.05, "publisher_test_voice_de"),))
    monkeypatch.setattr(choose, "voice_table", lambda: table)
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(module):
        (site / f"{module}.py").write_text("", encoding="utf-8")
        importlib.invalidate_caches()

    source = write_book(tmp_path, MIXED)
    book = load_book(source, BuildOptions(engine="fake"))
    german, french = _sentence(book, GERMAN[0]).id, _sentence(book, FRENCH[0]).id

    def timing(result, sentence_id):
        return next(t for s in result.record["sections"] for t in s.get("timings", ())
                    if t["id"] == sentence_id)

    first = build(source, _options(tmp_path))
    assert timing(first, german)["skipped"] == "de"
    assert build(source, _options(tmp_path)).stats.get("up_to_date") is True

    install("publisher_test_voice_de")
    again = build(source, _options(tmp_path))
    assert not again.stats.get("up_to_date")
    assert timing(again, german) | {"start_ms": 0, "end_ms": 0} == {
        "id": german, "start_ms": 0, "end_ms": 0, "text": GERMAN[0], "language": "de"}
    assert "Fake test voice (df_test)" in again.record["narration"]["narrators"]
    assert build(source, _options(tmp_path)).stats.get("up_to_date") is True

    install("publisher_test_voice_fr")  # a French voice chosen before ff_siwis
    third = build(source, _options(tmp_path))
    assert not third.stats.get("up_to_date")
    assert "Fake test voice (ff_test)" in third.record["narration"]["narrators"]
    assert timing(third, french)["language"] == "fr"
    assert build(source, _options(tmp_path)).stats.get("up_to_date") is True


# --------------------------------------------------------------------------- several voices


def test_a_span_picks_a_voice_only_for_a_whole_sentence(tmp_path):
    body = ("## One\n\nFirst one. <span voice=\"quote\">A quoted sentence.</span> Last, "
            "with *a phrase*{voice=quote} inside.\n")
    book = load_book(write_book(tmp_path, body, voices=CAST), BuildOptions(engine="fake"))
    assert _sentence(book, "A quoted sentence.").voice == "quote"
    assert _sentence(book, "Last, with a phrase inside.").voice == ""
    assert _sentence(book, "First one.").voice == ""
    assert all("voice=" not in s.html for s in book.sentences)


def test_two_voices_right_clips_tags_and_credits(tmp_path):
    source = write_book(tmp_path, TWO_VOICES, voices=CAST)
    result = build(source, _options(tmp_path))
    book = load_book(source, BuildOptions(engine="fake"))
    said = [(s.spoken, s.voice) for s in book.sentences]
    assert ("I am here.", "quote") in said and ("I am here.", "") in said
    assert ("Alice: Who is there?", "Alice") in said
    assert ("It was only the wind.", "quote") in said  # by class
    assert ("The room is quiet.", "") in said

    cache = ClipCache(tmp_path / "cache")
    narrator, quote = FakeEngine(voice="af_heart"), FakeEngine(voice="am_michael")
    keys = [cache.key(engine.identity, "I am here.") for engine in (narrator, quote)]
    assert keys[0] != keys[1] and all(key in cache for key in keys)
    assert cache.get(keys[0]) != cache.get(keys[1])  # two voices, two sounds
    assert cache.key(FakeEngine(voice="bf_emma").identity, "Alice: Who is there?") in cache
    assert cache.key(quote.identity, "The room is quiet.") not in cache

    out = result.out_dir
    vtt = next((out / "transcripts").glob("*scene.vtt")).read_text(encoding="utf-8")
    assert "<v narrator>The room is quiet." in vtt
    assert "<v quote>I am here." in vtt and "<v narrator>I am here." in vtt
    assert "<v Alice>Alice: Who is there?" in vtt
    names = ["Fake test voice (af_heart)", "Fake test voice (am_michael)",
             "Fake test voice (bf_emma)"]
    assert result.record["narration"]["narrators"] == names
    assert result.record["narration"]["voices"] == {
        "narrator": "af_heart", "quote": "am_michael", "Alice": "bf_emma"}

    epub = out / f"{result.slug}.epub"
    opf = epub_xml(epub, "EPUB/content.opf")
    assert [m.text for m in opf.iterfind(".//opf:meta[@property='media:narrator']", NS)] == names
    contributors = {c.get("id"): c.text for c in opf.iterfind(".//dc:contributor", NS)}
    roles = {m.get("refines"): m.text
             for m in opf.iterfind(".//opf:meta[@property='role']", NS)}
    assert sorted(contributors.values()) == sorted(names)
    assert all(roles[f"#{cid}"] == "nrt" for cid in contributors)
    with zipfile.ZipFile(epub) as archive:
        xhtml = archive.read(next(n for n in archive.namelist()
                                  if n.endswith("-scene.xhtml"))).decode("utf-8")
    assert "voice=" not in xhtml  # the source's attribute stays in the source

    feed = (out / "feed.xml").read_text(encoding="utf-8")
    for name in names:
        assert f'<podcast:person role="narrator" group="cast">{name}</podcast:person>' in feed
    mp3 = sorted((out / "audio").glob("*.mp3"))[0]
    id3 = ID3(mp3)
    assert id3.getall("TCOM")[0].text == ["/".join(names)]  # ID3 v2.3 joins values with '/'
    assert id3.getall("TXXX:NARRATOR")[0].text == ["/".join(names)]
    m4b = MP4(next(out.glob("*.m4b")))
    assert m4b.tags["\xa9nrt"] == names
    assert [bytes(v).decode() for v in m4b.tags["----:com.apple.iTunes:NARRATOR"]] == names
    with zipfile.ZipFile(next(out.glob("*.audiobook"))) as archive:
        assert json.loads(archive.read("manifest.json"))["metadata"]["narrator"] == names
    onix = etree.parse(str(out / "onix.xml"))
    read_by = onix.xpath("//*[local-name()='Contributor'][*[local-name()='ContributorRole']"
                         "='E07']/*[local-name()='PersonName']/text()")
    assert set(read_by) == set(names)


def test_daisy_names_each_narrator_in_its_own_element(tmp_path):
    from publisher.daisycheck import read_daisy

    source = write_book(tmp_path, TWO_VOICES, voices=CAST)
    result = build(source, BuildOptions(out_root=tmp_path / "out", cache_dir=tmp_path / "cache",
                                        engine="fake", workers=1, daisy=("202", "3")))
    names = result.record["narration"]["narrators"]
    assert len(names) == 3
    out = result.out_dir
    with zipfile.ZipFile(out / f"{result.slug}_daisy202.zip") as archive:
        ncc = etree.fromstring(archive.read("ncc.html"))
    assert ncc.xpath("//*[local-name()='meta'][@name='ncc:narrator']/@content") == names
    with zipfile.ZipFile(out / f"{result.slug}_daisy3.zip") as archive:
        opf = etree.fromstring(archive.read(next(n for n in archive.namelist()
                                                 if n.endswith(".opf"))))
    assert opf.xpath("//*[local-name()='x-metadata']/*[@name='dtb:narrator']/@content") == names
    for fmt in ("202", "3"):
        book = read_daisy(out / f"{result.slug}_daisy{fmt}.zip")
        assert book.ok, book.summary()
        assert book.values["narrator"] == tuple(names)
        assert book.metadata["narrator"] == names[0]


def test_daisycheck_refuses_a_repeated_single_value_and_an_empty_narrator(tmp_path):
    from publisher.daisycheck import read_daisy

    result = build(write_book(tmp_path, TWO_VOICES, voices=CAST), BuildOptions(
        out_root=tmp_path / "out", cache_dir=tmp_path / "cache", engine="fake", workers=1,
        daisy=("202",)))
    original = result.out_dir / f"{result.slug}_daisy202.zip"
    spoiled = tmp_path / "spoiled.zip"
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(spoiled, "w") as dest:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "ncc.html":
                text = data.decode("utf-8")
                total = next(line for line in text.splitlines() if "ncc:totalTime" in line)
                text = text.replace(total, total + "\n" + total)
                text = text.replace('content="Fake test voice (am_michael)"', 'content=" "')
                data = text.encode("utf-8")
            dest.writestr(item, data)
    problems = read_daisy(spoiled).problems
    assert "metadata: totalTime appears 2 times; it may appear once" in problems
    assert "metadata: a narrator element is empty" in problems


@pytest.mark.slow
def test_a_book_of_several_voices_and_languages_passes_epubcheck(tmp_path, epubcheck):
    source = write_book(tmp_path, TWO_VOICES + "\n" + MIXED.replace("## Mixed", "## More"),
                        voices=CAST)
    result = build(source, _options(tmp_path))
    report = epubcheck(result.out_dir / f"{result.slug}.epub")
    assert not report.errors, report.errors


def test_same_input_same_bytes_with_several_voices(tmp_path):
    source = write_book(tmp_path, TWO_VOICES + "\n" + MIXED.replace("## Mixed", "## More"),
                        voices=CAST)
    first = snapshot(build(source, _options(tmp_path, "a")).out_dir)
    # A cold cache the second time: the bytes come from the voices, not from the cache.
    second = snapshot(build(source, BuildOptions(
        out_root=tmp_path / "b", cache_dir=tmp_path / "cache-b", engine="fake", workers=2,
        daisy=())).out_dir)
    assert first == second


def test_a_one_voice_book_has_no_speaker_tags_or_people(tmp_path):
    result = build(write_book(tmp_path, "## One\n\nOnly the narrator.\n"), _options(tmp_path))
    vtt = next((result.out_dir / "transcripts").glob("*.vtt")).read_text(encoding="utf-8")
    assert "<v " not in vtt and "<lang" not in vtt
    assert "podcast:person" not in (result.out_dir / "feed.xml").read_text(encoding="utf-8")
    assert "narrators" not in result.record["narration"]


# --------------------------------------------------------------------------- front matter


def test_voices_front_matter_problems_are_collected(tmp_path, capsys):
    source = write_book(tmp_path, "## One\n\nText.\n", voice="bf_emma",
                        voices="{narrator: af_heart, quote: am_michael, whisper: am_michel, "
                               "french: ff_siwis, '<b>': af_bella, Quote: bf_emma}")
    code, text = run_cli(["build", str(source), "-o", str(tmp_path / "out"), "--no-audio"],
                         capsys)
    assert code == 1 and "Traceback" not in text
    assert "'am_michel', which is not a voice publisher knows. Did you mean 'am_michael'?" \
        in text
    assert "'ff_siwis', which speaks 'fr', and the book's language is 'en'" in text
    assert "role '<b>' is not a name" in text
    assert "names the role 'Quote' twice" in text
    assert "'voice' is 'bf_emma' and 'voices' gives the narrator 'af_heart'" in text
    assert not (tmp_path / "out" / "book").exists()


def test_the_command_line_voice_is_the_narrator(tmp_path):
    from publisher.options import engine_spec

    source = write_book(tmp_path, "## One\n\nText.\n", voices=CAST)
    assert engine_spec(load_book(source, BuildOptions()), BuildOptions()).voice == "af_heart"
    options = BuildOptions(voice="bf_emma")  # --voice wins over voices: narrator
    assert engine_spec(load_book(source, options), options).voice == "bf_emma"


def test_voices_must_be_a_mapping(tmp_path, capsys):
    source = write_book(tmp_path, "## One\n\nText.\n", voices="af_heart")
    code, text = run_cli(["build", str(source), "-o", str(tmp_path / "out"), "--no-audio"],
                         capsys)
    assert code == 1 and "'voices' is 'af_heart'; expected 'role: voice' lines" in text


def test_an_unknown_role_warns_and_the_narrator_reads(tmp_path):
    source = write_book(tmp_path, "## One\n\nSaid by whom?\n{voice=ghost}\n", voices=CAST)
    book = load_book(source, BuildOptions(engine="fake"))
    assert any("asks for the voice 'ghost'" in w and "quote" in w for w in book.warnings)
    assert _sentence(book, "Said by whom?").voice == ""
    alone = load_book(write_book(tmp_path, "## One\n\nSaid by whom?\n{voice=ghost}\n",
                                 name="alone.md"), BuildOptions(engine="fake"))
    assert any("asks for the voice 'ghost'" in w and "names: none" in w for w in alone.warnings)
