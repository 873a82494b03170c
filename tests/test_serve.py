"""Tests for publisher.serve: the preview server of a built book.

tests/fixtures/short-audio.md is built once with the fake engine; a server
for its output folder runs in a thread on a free port. Requests are sent with
http.client, which sends the path exactly as written (no normalization), so
traversal attempts reach the server as an attacker would send them.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from publisher import cli
from publisher.build import build
from publisher.errors import PublisherError
from publisher.options import BuildOptions
from publisher.serve import make_server, resolve_folder, site_url
from tests.helpers import FIXTURES

pytestmark = pytest.mark.xdist_group("serve")

SECRET = b"secret outside the book folder"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve")
    result = build(FIXTURES / "short-audio.md",
                   BuildOptions(out_root=folder / "output", engine="fake", workers=1,
                                cache_dir=folder / "cache"))
    # A file beside the output, and links to it and to a file inside.
    (folder / "secret.txt").write_bytes(SECRET)
    (folder / "output" / "secret.txt").write_bytes(SECRET)
    (result.out_dir / "outside.txt").symlink_to(folder / "secret.txt")
    (result.out_dir / "outside-dir").symlink_to(folder, target_is_directory=True)
    (result.out_dir / "inside.xml").symlink_to(result.out_dir / "feed.xml")
    return result.out_dir


@pytest.fixture(scope="module")
def server(book: Path) -> Iterator[tuple[str, int]]:
    httpd = make_server(book, port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[0], httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def request(server: tuple[str, int], path: str, method: str = "GET",
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(*server, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


# --------------------------------------------------------------------------- files


def test_site_url_names_the_front_page(book):
    httpd = make_server(book, port=0)
    try:
        port = httpd.server_address[1]
        assert site_url(httpd) == f"http://127.0.0.1:{port}/site/index.html"
    finally:
        httpd.server_close()


def test_serves_the_site_and_the_files_beside_it(server, book):
    status, headers, body = request(server, "/site/index.html")
    assert status == 200 and body == (book / "site" / "index.html").read_bytes()
    assert headers["content-length"] == str(len(body))
    assert headers["accept-ranges"] == "bytes"
    mp3 = sorted((book / "audio").glob("*.mp3"))[0]
    status, _, body = request(server, f"/audio/{mp3.name}")
    assert status == 200 and body == mp3.read_bytes()


def test_root_and_folders_redirect(server):
    status, headers, _ = request(server, "/")
    assert status == 301 and headers["location"] == "/site/index.html"
    status, headers, _ = request(server, "/site")
    assert status == 301 and headers["location"] == "/site/"
    status, _, body = request(server, "/site/")
    assert status == 200 and b"<main" in body


def test_head_sends_headers_only(server, book):
    status, headers, body = request(server, "/feed.xml", method="HEAD")
    assert status == 200 and body == b""
    assert headers["content-length"] == str((book / "feed.xml").stat().st_size)


@pytest.mark.parametrize(("path", "media_type"), [
    ("/site/index.html", "text/html; charset=utf-8"),
    ("/site/site.css", "text/css; charset=utf-8"),
    ("/site/readalong.js", "text/javascript; charset=utf-8"),
    ("/audio/02-morning.mp3", "audio/mpeg"),
    ("/transcripts/02-morning.vtt", "text/vtt; charset=utf-8"),
    ("/chapters/02-morning.json", "application/json"),
    ("/short-audio.epub", "application/epub+zip"),
    ("/short-audio.m4b", "audio/mp4"),
    ("/feed.xml", "application/rss+xml"),
    ("/onix.xml", "application/xml"),
    ("/build.json", "application/json"),
    ("/cover.jpg", "image/jpeg"),
])
def test_media_types(server, path, media_type):
    status, headers, _ = request(server, path, method="HEAD")
    assert status == 200, path
    assert headers["content-type"] == media_type
    assert headers["x-content-type-options"] == "nosniff"


def test_missing_files_and_hidden_files_are_404(server):
    assert request(server, "/nope.html")[0] == 404
    assert request(server, "/site/nope.html")[0] == 404
    assert request(server, "/.hidden")[0] == 404


# --------------------------------------------------------------------------- traversal


@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/../../secret.txt",
    "/site/../../secret.txt",
    "/site/../../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/%2e%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/..%2f..%2fsecret.txt",
    "/site/..%2f..%2fsecret.txt",
    "/%252e%252e%252fsecret.txt",
    "/%252e%252e/secret.txt",
    "/..%252fsecret.txt",
    "/..%5csecret.txt",
    "/..\\secret.txt",
    "/site/%2e%2e/%2e%2e/secret.txt",
    "/./../secret.txt",
    "/%00/../secret.txt",
    "/outside.txt",
    "/outside-dir/secret.txt",
    "//etc/passwd",
    "/etc/passwd",
    "http://127.0.0.1/../secret.txt",
])
def test_path_traversal_is_refused(server, path):
    status, _, body = request(server, path)
    assert status in (400, 403, 404), (path, status)
    assert SECRET not in body


def test_a_symlink_inside_the_folder_is_served(server, book):
    status, _, body = request(server, "/inside.xml")
    assert status == 200 and body == (book / "feed.xml").read_bytes()


def test_only_get_and_head(server):
    assert request(server, "/site/index.html", method="POST")[0] == 501
    assert request(server, "/site/index.html", method="PUT")[0] == 501


# --------------------------------------------------------------------------- ranges


@pytest.fixture(scope="module")
def mp3(book: Path) -> tuple[str, bytes]:
    path = book / "audio" / "02-morning.mp3"
    return "/audio/02-morning.mp3", path.read_bytes()


@pytest.mark.parametrize(("spec", "first", "last"), [
    ("bytes=0-0", 0, 0),
    ("bytes=0-99", 0, 99),
    ("bytes=100-199", 100, 199),
    ("bytes=1000-", 1000, None),
    ("bytes=-500", None, None),
    ("bytes=10-999999999", 10, None),
    ("bytes=-999999999", 0, None),
    ("BYTES = 5 - 9", 5, 9),
])
def test_ranges_get_206_and_the_exact_bytes(server, mp3, spec, first, last):
    path, data = mp3
    size = len(data)
    if first is None:  # suffix range: the last n bytes
        first = size - 500
    if last is None:
        last = size - 1
    status, headers, body = request(server, path, headers={"Range": spec})
    assert status == 206, spec
    assert headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert headers["content-length"] == str(last - first + 1)
    assert headers["content-type"] == "audio/mpeg"
    assert body == data[first:last + 1]


@pytest.mark.parametrize("spec", [
    "bytes=999999999-",
    "bytes={size}-",
    "bytes=200-100",
    "bytes=-0",
    "bytes=-",
    "bytes=abc",
    "bytes=1-2-3",
    "bytes=--5",
])
def test_unsatisfiable_or_malformed_ranges_get_416(server, mp3, spec):
    path, data = mp3
    status, headers, body = request(server, path,
                                    headers={"Range": spec.format(size=len(data))})
    assert status == 416, spec
    assert headers["content-range"] == f"bytes */{len(data)}"
    assert body == b""


def test_other_units_and_several_ranges_get_the_whole_file(server, mp3):
    path, data = mp3
    for spec in ("items=0-5", "bytes=0-5,10-20"):
        status, _, body = request(server, path, headers={"Range": spec})
        assert status == 200 and body == data, spec


def test_a_range_on_head(server, mp3):
    path, data = mp3
    status, headers, body = request(server, path, method="HEAD", headers={"Range": "bytes=0-9"})
    assert status == 206 and body == b"" and headers["content-length"] == "10"


# --------------------------------------------------------------------------- folder and CLI


def test_the_folder_must_hold_a_site(tmp_path, book):
    with pytest.raises(PublisherError, match="publisher build"):
        resolve_folder(tmp_path)
    with pytest.raises(PublisherError, match="no such folder"):
        resolve_folder(tmp_path / "missing")
    assert resolve_folder(book) == book.resolve()
    assert resolve_folder(book / "site") == book.resolve()
    # No folder given: the only book in the output folder.
    assert resolve_folder(None, out_root=book.parent) == book.resolve()
    with pytest.raises(PublisherError, match="no built book"):
        resolve_folder(None, out_root=tmp_path)


def test_the_only_book_or_a_clear_choice(tmp_path, book):
    out = tmp_path / "output"
    for slug in ("one", "two"):
        shutil.copytree(book / "site", out / slug / "site")
    with pytest.raises(PublisherError, match="holds 2 books"):
        resolve_folder(None, out_root=out)


def test_cli_serve_without_a_site_says_to_build_first(tmp_path, capsys):
    assert cli.main(["serve", str(tmp_path)]) == cli.EXIT_ERROR
    assert capsys.readouterr().err == (
        f"error: {tmp_path}: no web site here (site/index.html is missing). "
        "Run 'publisher build' first: it writes output/<slug>/site/.\n")


def test_cli_serve_rejects_a_bad_port(book, capsys):
    assert cli.main(["serve", str(book), "--port", "70000"]) == cli.EXIT_ERROR
    assert capsys.readouterr().err == \
        "error: --port 70000: expected a port number from 0 to 65535.\n"


def test_cli_serve_prints_the_url_and_stops_cleanly_on_ctrl_c(book):
    # A fresh interpreter with the default SIGINT handler (a background job's
    # parent may have set SIGINT to "ignore", which children inherit).
    process = subprocess.Popen(
        [sys.executable, "-m", "publisher", "serve", str(book), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"Serving {book.resolve()} at http://127.0.0.1:")
        assert line.rstrip().endswith("/site/index.html")
        url = line.split(" at ", 1)[1].strip()
        host, port = url.split("/")[2].split(":")
        assert request((host, int(port)), "/site/index.html")[0] == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_a_port_in_use_is_a_clear_error(book):
    first = make_server(book, port=0)
    try:
        port = first.server_address[1]
        with pytest.raises(PublisherError, match=f"cannot serve on 127.0.0.1:{port}.*--port"):
            make_server(book, port=port)
    finally:
        first.server_close()
