"""The voices table's figures (``bench/run.py --only voices``): each installed voice
says a 40-45-word passage in its language; the recognizer hears it back.

For every voice of ``publisher/speech/voices.json`` (and eSpeak NG's German, which
is the German books' voice) whose packages are installed:

- the passage below, in the voice's language, is made a one-section book and
  scripted as a build scripts it (the book's language's normalization), then
  each sentence is synthesized in this process with the engine on one thread,
  joined with 300 ms pauses into one WAV;
- ``rtf``: CPU seconds (this process and its children: eSpeak synthesizes in
  forked children) over seconds of speech, synthesis only, after one warm-up
  sentence (loading the voice is not counted);
- ``wer``: the WAV heard by the multilingual Whisper base, the language forced,
  compared with the written passage after the proof tool's normalization
  (``publisher.hearing.normalize_words``, in the passage's language), as
  ``publisher proof`` compares; characters for Chinese, both sides in Simplified
  (OpenCC). Not given when the recognizer wrote another script (Whisper base
  writes Hindi speech in Urdu's). English voices are also
  heard by tiny.en (``wer_tiny_en``), the proof's default for English.

``--write`` puts ``wer`` and ``rtf`` into voices.json (keys kept in their order).
Passages are about coping with distress, like the first book; each has a
number written in digits where the language's normalization says numbers.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "publisher" / "speech" / "voices.json"

#: Primary language -> (title, passage).
PASSAGES: dict[str, tuple[str, str]] = {
    "en": ("Slowing down", "When everything feels like too much, it can help to slow down. "
           "Take a slow breath and notice five things you can see around you. You are not "
           "alone, and this feeling will pass. Call a friend, drink some water, and rest "
           "for 10 minutes."),
    "es": ("Ir más despacio", "Cuando todo parece demasiado, puede ayudar ir más despacio. "
           "Respira despacio y mira cinco cosas a tu alrededor. No estás solo, y este "
           "sentimiento pasará. Llama a una amiga, bebe un poco de agua y descansa durante "
           "10 minutos."),
    "fr": ("Ralentir", "Quand tout semble trop lourd, ralentir peut aider. Respirez "
           "lentement et regardez cinq choses autour de vous. Vous n'êtes pas seul, et ce "
           "sentiment va passer. Appelez une amie, buvez un peu d'eau et reposez-vous "
           "pendant 10 minutes."),
    "it": ("Rallentare", "Quando tutto sembra troppo, rallentare può aiutare. Respira "
           "lentamente e guarda cinque cose intorno a te. Non sei solo, e questa sensazione "
           "passerà. Chiama un'amica, bevi un po' d'acqua e riposa per 10 minuti."),
    "pt": ("Desacelerar", "Quando tudo parece demais, desacelerar pode ajudar. Respire "
           "devagar e observe cinco coisas ao seu redor. Você não está sozinho, e esse "
           "sentimento vai passar. Ligue para uma amiga, beba um pouco de água e descanse "
           "por 10 minutos."),
    "de": ("Langsamer werden", "Wenn alles zu viel wird, hilft es, langsamer zu werden. "
           "Atme ruhig ein und aus und schau dir fünf Dinge um dich herum an. Du bist "
           "nicht allein, und dieses Gefühl geht vorbei. Ruf eine Freundin an, trink etwas "
           "Wasser und ruh dich 10 Minuten aus."),
    "hi": ("धीरे चलना", "जब सब कुछ बहुत ज़्यादा लगे, तो धीरे चलना मदद कर सकता है। धीरे से "
           "साँस लें और अपने आसपास की पाँच चीज़ें देखें। आप अकेले नहीं हैं, और यह भावना "
           "गुज़र जाएगी। किसी दोस्त को फ़ोन करें, थोड़ा पानी पिएँ और दस मिनट आराम करें।"),
    "zh": ("放慢脚步", "当一切都让人觉得太多的时候，放慢脚步会有帮助。慢慢地呼吸，看看你周围"
           "的五样东西。你并不孤单，这种感觉会过去的。给朋友打个电话，喝点水，休息十分钟。"),
}
PAUSE_MS = 300


def _script(text: str) -> str:
    """The script most of ``text``'s letters are in (the first word of their names)."""
    import collections
    import unicodedata

    names = collections.Counter(unicodedata.name(c, "?").split()[0] for c in text
                                if c.isalpha())
    return names.most_common(1)[0][0] if names else ""


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _sentences(language: str, title: str, passage: str, folder: Path) -> list[str]:
    """The passage's sentences as a build says them (normalized in ``language``)."""
    from publisher.build import load_book
    from publisher.options import BuildOptions
    from publisher.script import script_book

    source = folder / "passage.md"
    source.write_text(f"---\ntitle: {title}\nlanguage: {language}\n"
                      "identifier: urn:uuid:00000000-0000-4000-8000-00000000b0ce\n---\n\n"
                      f"## {title}\n\n{passage}\n", encoding="utf-8")
    book = load_book(source, BuildOptions())
    ids = {s.id for s in book.sections[-1].sentences}
    return [said for sid, said in script_book(book).items if sid in ids][1:]  # no heading


def measure(engine_name: str, voice: str, language: str, whisper: dict[str, Any],
            folder: Path) -> dict[str, Any]:
    """One voice's figures (see the module docs)."""
    from publisher.audio.phrase import write_wav
    from publisher.hearing import normalize_words
    from publisher.proof import _errors
    from publisher.speech import make_engine

    primary = language.split("-")[0]
    title, passage = PASSAGES[primary]
    sentences = _sentences(language, title, passage, folder)
    extra: dict[str, Any] = {"threads": 1} if engine_name in ("kokoro", "piper") else {}
    if engine_name == "kokoro":
        extra["model_cache"] = folder.parent / "voices"
    engine = make_engine(engine_name, voice if engine_name != "piper" else None, 1.0,
                         language, **extra)
    engine.synthesize(sentences[0])  # the voice loaded and warm: not counted
    cpu = _cpu_s()
    clips = [engine.synthesize(sentence) for sentence in sentences]
    cpu = _cpu_s() - cpu
    speech_s = sum(clip.num_samples / clip.sample_rate_hz for clip in clips)
    wav = write_wav([(str(i), clip, PAUSE_MS) for i, clip in enumerate(clips)],
                    folder / f"{voice}.wav")
    result: dict[str, Any] = {"engine": engine_name, "voice": voice, "language": language,
                              "speech_s": round(speech_s, 2), "cpu_s": round(cpu, 2),
                              "rtf": round(cpu / speech_s, 3)}
    hearers = [("wer", whisper["base"])]
    if primary == "en":
        hearers.append(("wer_tiny_en", whisper["tiny.en"]))
    for key, hearer in hearers:
        heard = " ".join(w.text for w in hearer.transcribe(wav, primary))
        # Characters for Chinese (normalize_words makes each one a word), in Simplified.
        said = normalize_words(passage, language=language)
        got = normalize_words(heard, language=language)
        result[f"{key}_words"] = len(said)
        result[f"{key}_heard"] = heard
        if _script(heard) != _script(passage):
            # Whisper base writes Hindi speech in Urdu's script: not comparable.
            result[key] = None
            result[f"{key}_why"] = f"heard in {_script(heard)} script"
            continue
        result[key] = round(_errors(said, got) / len(said), 3)
    return result


def run(write: bool = False, only: str | None = None) -> list[dict[str, Any]]:
    from publisher.hearing import load_whisper, multilingual_model_path
    from publisher.speech.choose import installed, voice_table

    entries = [(e.engine, e.voice, e.language) for e in voice_table() if installed(e)]
    entries.append(("espeak", "de", "de"))
    if only:
        entries = [e for e in entries if e[1] == only]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-voices-") as tmp:
        cache = Path(tmp) / "cache"
        whisper = {"base": load_whisper(multilingual_model_path(cache)),
                   "tiny.en": load_whisper(None)}
        for engine_name, voice, language in entries:
            folder = Path(tmp) / voice
            folder.mkdir()
            started = time.monotonic()
            figures = measure(engine_name, voice, language, whisper, folder)
            results.append(figures)
            tiny = (f", tiny.en {figures['wer_tiny_en']:.1%}" if "wer_tiny_en" in figures
                    else "")
            wer = (f"{figures['wer']:.1%}" if figures["wer"] is not None
                   else f"not comparable ({figures['wer_why']})")
            print(f"{voice:18} {engine_name:7} {language:6} WER {wer}{tiny} "
                  f"RTF {figures['rtf']:.3f} ({figures['speech_s']:.1f} s of speech, "
                  f"{time.monotonic() - started:.0f} s)", flush=True)
    if write:
        data = json.loads(TABLE.read_text(encoding="utf-8"))
        measured = {(r["engine"], r["voice"]): r for r in results}
        for voice in data["voices"]:
            figures = measured.get((voice["engine"], voice["voice"]))
            if figures:
                voice["rtf"] = figures["rtf"]
                if figures["wer"] is None:
                    voice.pop("wer", None)
                else:
                    voice["wer"] = figures["wer"]
        TABLE.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n",
                         encoding="utf-8")
    return results


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="update voices.json")
    parser.add_argument("--voice", help="measure this voice only")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    results = run(args.write, args.voice)
    out = ROOT / "bench" / "voices-results.json"
    out.write_text(json.dumps({"measured": time.strftime("%Y-%m-%d"),
                               "load_average": os.getloadavg()[0],
                               "rtf_median": statistics.median(r["rtf"] for r in results),
                               "voices": results}, ensure_ascii=False, indent=1) + "\n",
                   encoding="utf-8")
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
