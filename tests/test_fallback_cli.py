"""``publisher build --engine gtts`` when Google cannot be reached, through the CLI.

With ``--fallback piper`` (or ``fallback:`` in the front matter) the book is
finished with the fallback engine, says so, and records which engine made its
audio; without one the build fails with a message naming the offline engine,
writes nothing into the output folder, and keeps the clips already made.

No test talks to Google. "No network" is made at the lowest layer requests
uses, urllib3's ``create_connection``, so the real gTTS engine, session,
retries and error handling all run; the builds use ``--workers 1`` so that
synthesis stays in this process, where the patch is. The last test drives
worker processes in a subprocess instead, through a proxy that refuses.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import urllib3.util.connection

from publisher.build import build
from publisher.options import BuildOptions

from .helpers import run_cli, snapshot, write_book
from .test_gtts import FakeGoogle, speak

EPOCH = "1700000000"
SLUG = "offline-book"
BODY = """\
## Breathing

Breathe in slowly. Hold it for a moment. Breathe out.

## Grounding

Name five things you can see. Name four things you can touch.
"""
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                   "all_proxy", "NO_PROXY", "no_proxy")

FAILURES: dict[str, tuple[Callable[[], OSError], str]] = {
    # what the socket layer raises, and the cause the user is shown
    "dns": (lambda: socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
            "[Errno -3] Temporary failure in name resolution"),
    "refused": (lambda: ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
                "[Errno 111] Connection refused"),
    "unreachable": (lambda: OSError(errno.ENETUNREACH, "Network is unreachable"),
                    "[Errno 101] Network is unreachable"),
}


def cannot_reach(cause: str) -> str:
    return (f"Cannot reach Google Translate at translate.google.com: {cause}. "
            "Check the network connection, or use the offline engine: --engine piper.")


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    for name in PROXY_VARIABLES:  # a proxy would change the shape of the failure
        monkeypatch.delenv(name, raising=False)


def go_offline(monkeypatch: pytest.MonkeyPatch, failure: str = "dns") -> list[str]:
    """Every connection fails as ``failure`` says; returns the hosts that were tried."""
    hosts: list[str] = []
    make_error = FAILURES[failure][0]

    def create_connection(address, *args, **kwargs):
        hosts.append(address[0])
        raise make_error()

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    return hosts


def google_answers(monkeypatch: pytest.MonkeyPatch, google: FakeGoogle) -> None:
    """Every session (gTTS's own included) sends through ``google``."""
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: google)


def network_drops_after(requests_answered: int) -> FakeGoogle:
    """Google answers that many requests, then the network is gone (DNS fails)."""
    cause = FAILURES["dns"][0]()
    unresolved = urllib3.exceptions.NameResolutionError("translate.google.com", None, cause)
    unresolved.__cause__ = cause  # as urllib3 raises it: "raise ... from e"
    gone = requests.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, "/_/TranslateWebserverUi/data/batchexecute", unresolved))
    return FakeGoogle(*([speak] * requests_answered), gone)


def assert_nothing_half_written(out: Path, *expected: str) -> None:
    """Only the cache, the lock files and ``expected`` in ``out``: no staging folder."""
    names = {p.name for p in out.iterdir() if not p.name.endswith(".lock")}
    assert names == {".cache", *expected}, names


run = run_cli


def build_args(source: Path, out: Path, *extra: str) -> list[str]:
    return ["build", "--workers", "1", "-o", str(out), *extra, str(source)]


def counts(text: str) -> tuple[int, int]:
    """(clips synthesized, clips from the cache) from the CLI's closing line."""
    match = re.search(r"(-?\d+) clips synthesized, (-?\d+) from the cache", text)
    assert match, text
    return int(match[1]), int(match[2])


def cached_clips(cache: Path) -> set[Path]:
    return {p for p in cache.rglob("*.clip") if not p.name.startswith(".tmp-")}


def assert_complete_book(out_dir: Path, engine: str) -> dict:
    """One MP3 per section, a narrated EPUB and transcripts; build.json names ``engine``."""
    record = json.loads((out_dir / "build.json").read_text(encoding="utf-8"))
    narration = record["narration"]
    assert narration["engine"] == engine == narration["engine_identity"]["engine"]
    sections = record["sections"]
    assert len(sections) >= 3  # the title page and the two sections
    mp3s = sorted(p.name for p in (out_dir / "audio").glob("*.mp3"))
    assert mp3s == sorted(Path(s["audio"]).name for s in sections)
    for section in sections:
        assert (out_dir / section["audio"]).stat().st_size > 1000
        assert section["duration_ms"] > 0 and section["timings"]
    assert len(list((out_dir / "transcripts").glob("*.vtt"))) == len(sections)
    assert record["epub"]["media_overlays"] is True
    with zipfile.ZipFile(out_dir / f"{SLUG}.epub") as epub:
        names = epub.namelist()
    assert sum(n.endswith(".mp3") for n in names) >= len(sections)
    assert sum(n.endswith(".smil") for n in names) >= len(sections)
    listed = {entry["path"] for entry in record["files"]}
    on_disk = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()}
    assert on_disk - listed == {"build.json"}
    return record


@pytest.mark.slow
def test_gtts_offline_falls_back_to_piper(tmp_path, capsys, monkeypatch):
    hosts = go_offline(monkeypatch, "dns")
    source = write_book(tmp_path, BODY, slug=SLUG)
    out = tmp_path / "out"
    code, text = run(build_args(source, out, "--engine", "gtts", "--fallback", "piper"), capsys)
    assert code == 0, text
    warning = (f"warning: {cannot_reach(FAILURES['dns'][1])} Finishing the book with the "
               "'piper' engine instead (--fallback).")
    assert warning in text.splitlines(), text
    assert "Narrating (piper)" in text
    assert "error:" not in text and "Traceback" not in text
    # Google was tried once and given up on at once: no retries when offline.
    assert hosts == ["translate.google.com"]
    record = assert_complete_book(out / SLUG, "piper")
    assert record["narration"]["voice"] == "en_US-joe-medium"
    synthesized, from_cache = counts(text)
    assert (synthesized, from_cache) == (len(cached_clips(out / ".cache")), 0)


@pytest.mark.slow
def test_front_matter_fallback_finishes_with_piper(tmp_path, capsys, monkeypatch):
    hosts = go_offline(monkeypatch, "refused")
    source = write_book(tmp_path, BODY, slug=SLUG, engine="gtts", fallback="piper")
    out = tmp_path / "out"
    code, text = run(build_args(source, out), capsys)
    assert code == 0, text
    assert f"warning: {cannot_reach(FAILURES['refused'][1])} Finishing the book with the " \
           "'piper' engine instead ('fallback' in the front matter)." in text, text
    assert hosts == ["translate.google.com"]
    assert_complete_book(out / SLUG, "piper")


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_gtts_offline_without_fallback_fails_cleanly(failure, tmp_path, capsys, monkeypatch):
    source = write_book(tmp_path, BODY, slug=SLUG)
    out = tmp_path / "out"
    # A book built before, while it could still be narrated.
    assert run(build_args(source, out, "--engine", "fake"), capsys)[0] == 0
    previous = snapshot(out / SLUG)
    catalog = (out / "catalog.json").read_bytes()
    clips = cached_clips(out / ".cache")

    hosts = go_offline(monkeypatch, failure)
    code, text = run(build_args(source, out, "--engine", "gtts"), capsys)
    assert code == 1, text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {cannot_reach(FAILURES[failure][1])}"], text
    assert "--engine piper" in errors[0] and "Traceback" not in text
    assert hosts == ["translate.google.com"]
    # Nothing half-written: the previous book as it was, no staging folder.
    assert snapshot(out / SLUG) == previous
    assert (out / "catalog.json").read_bytes() == catalog
    assert_nothing_half_written(out, SLUG, "catalog.json")
    assert cached_clips(out / ".cache") == clips


def test_network_lost_mid_book_without_fallback_keeps_the_clips(tmp_path, capsys,
                                                                 monkeypatch):
    source = write_book(tmp_path, BODY, slug=SLUG)
    out = tmp_path / "out"
    google_answers(monkeypatch, network_drops_after(3))
    code, text = run(build_args(source, out, "--engine", "gtts"), capsys)
    assert code == 1, text
    assert f"error: {cannot_reach('[Errno -3] Temporary failure in name resolution')}" \
        in text.splitlines(), text
    assert_nothing_half_written(out)
    made = cached_clips(out / ".cache")
    assert len(made) == 3  # every sentence Google answered is kept

    # The network is back: the build goes on from where it stopped.
    google = FakeGoogle(speak)
    google_answers(monkeypatch, google)
    code, text = run(build_args(source, out, "--engine", "gtts"), capsys)
    assert code == 0, text
    synthesized, from_cache = counts(text)
    assert from_cache == 3 and synthesized == len(google.requests) >= 5
    assert cached_clips(out / ".cache") > made
    record = assert_complete_book(out / SLUG, "gtts")
    assert record["narration"]["voice"] == "Google Translate English (translate.google.com)"


def test_network_lost_mid_book_with_fallback_never_mixes_voices(tmp_path, capsys,
                                                                monkeypatch):
    """The whole book is narrated again by the fallback engine, not just the rest."""
    source = write_book(tmp_path, BODY, slug=SLUG)
    out = tmp_path / "out"
    google_answers(monkeypatch, network_drops_after(3))
    code, text = run(build_args(source, out, "--engine", "gtts", "--fallback", "fake"), capsys)
    assert code == 0, text
    assert "Finishing the book with the 'fake' engine instead (--fallback)." in text
    assert_complete_book(out / SLUG, "fake")
    # Exactly the book the fallback engine makes on its own.
    reference = build(source, BuildOptions(out_root=tmp_path / "reference", engine="fake",
                                           workers=1))
    assert snapshot(out / SLUG) == snapshot(reference.out_dir)
    # Google's three clips stay in the cache for the next build with gTTS.
    assert len(cached_clips(out / ".cache")) == 3 + reference.stats["clips_synthesized"]


def test_fallback_counts_only_the_fallback_engine_clips(tmp_path, capsys, monkeypatch):
    """'N clips synthesized, M from the cache' describes the book as it was made."""
    source = write_book(tmp_path, BODY, slug=SLUG)
    google_answers(monkeypatch, network_drops_after(3))
    code, text = run(build_args(source, tmp_path / "out", "--engine", "gtts",
                                "--fallback", "fake"), capsys)
    assert code == 0, text
    synthesized, from_cache = counts(text)
    distinct = int(re.findall(r"Synthesizing \d+ of (\d+) distinct texts", text)[-1])
    assert (synthesized, from_cache) == (distinct, 0), text


def test_fallback_with_worker_processes_and_a_proxy_that_refuses(tmp_path):
    """A real subprocess: synthesis in worker processes, no network through a proxy."""
    with socket.socket() as probe:  # a local port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    body = BODY + "\n## More\n\n" + " ".join(f"Line {i} of the list." for i in range(1, 9))
    source = write_book(tmp_path, body, slug=SLUG)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    env.update(SOURCE_DATE_EPOCH=EPOCH, HTTPS_PROXY=f"http://127.0.0.1:{port}")
    result = subprocess.run(
        [sys.executable, "-m", "publisher", "build", "--engine", "gtts", "--fallback", "fake",
         "--workers", "2", "-o", str(out), str(source)],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Started 2 synthesis worker processes" in result.stderr  # Google tried from workers
    assert re.search(r"^warning: Cannot reach Google Translate at translate\.google\.com: .+"
                     r"--engine piper\. Finishing the book with the 'fake' engine instead",
                     result.stderr, re.MULTILINE), result.stderr
    assert "Traceback" not in result.stderr
    assert_complete_book(out / SLUG, "fake")
