"""A preview server for a built book: ``publisher serve output/<slug>``.

A plain static file server (``http.server``) for the folder a build wrote, so
the listening site, its audio and the downloads can be tried in a browser as
they will be published. It is made for ``127.0.0.1``, not for the internet:

- only regular files under the folder are served; ``..`` segments, encoded
  slashes or backslashes (``%2f``, ``%5c``), encoded or double-encoded dots
  that decode to ``..``, NUL bytes, and symlinks that lead outside the folder
  are refused (403); hidden files and anything else missing are 404;
- media types are fixed here (``.mp3`` audio/mpeg, ``.vtt`` text/vtt, ``.m4b``
  audio/mp4, ``feed.xml`` application/rss+xml ...), not guessed from the
  system's tables, so a preview behaves the same on every machine;
- single byte ranges (``bytes=a-b``, ``a-``, ``-n``) get 206 with
  Content-Range, so audio players can seek; an unsatisfiable or malformed
  range gets 416. A request for several ranges gets the whole file (200),
  which HTTP allows.
"""

from __future__ import annotations

import logging
import os
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from .errors import PublisherError
from .layout import SITE_DIR

__all__ = ["MEDIA_TYPES", "BookHandler", "make_server", "resolve_folder", "site_url"]

log = logging.getLogger(__name__)


MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".vtt": "text/vtt; charset=utf-8",
    ".mp3": "audio/mpeg",
    ".m4b": "audio/mp4",
    ".m4a": "audio/mp4",
    ".epub": "application/epub+zip",
    ".lpf": "application/lpf+zip",
    ".audiobook": "application/audiobook+zip",
    ".pls": "application/pls+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
#: Files whose name says more than their extension.
_NAMED_TYPES = {"feed.xml": "application/rss+xml"}
_DEFAULT_TYPE = "application/octet-stream"
_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_CHUNK_BYTES = 64 * 1024


def resolve_folder(folder: Path | None, out_root: Path = Path("output")) -> Path:
    """The book folder to serve: the one given, or the only book in ``out_root``.

    Accepts ``output/<slug>`` or its ``site`` folder. Raises PublisherError,
    saying how to fix it, when there is no built site there.
    """
    if folder is None:
        candidates = sorted(p.parent.parent for p in out_root.glob(f"*/{SITE_DIR}/index.html"))
        if len(candidates) == 1:
            return candidates[0].resolve()
        if not candidates:
            raise PublisherError(f"{out_root}: no built book with a web site here. Build one "
                                 "first with 'publisher build content/<book>.md', then run "
                                 "'publisher serve output/<slug>'.")
        names = ", ".join(str(c) for c in candidates)
        raise PublisherError(f"{out_root} holds {len(candidates)} books ({names}); "
                             "say which one: 'publisher serve output/<slug>'.")
    if folder.name == SITE_DIR and (folder / "index.html").is_file():
        folder = folder.parent
    if not folder.is_dir():
        raise PublisherError(f"{folder}: no such folder. Build the book first with "
                             "'publisher build content/<book>.md' (it writes output/<slug>/).")
    if not (folder / SITE_DIR / "index.html").is_file():
        raise PublisherError(f"{folder}: no web site here ({SITE_DIR}/index.html is missing). "
                             "Run 'publisher build' first: it writes output/<slug>/site/.")
    return folder.resolve()


def make_server(folder: Path, host: str = "127.0.0.1", port: int = 8000,
                handler: type[BookHandler] | None = None) -> ThreadingHTTPServer:
    """A server for ``folder`` (not yet serving: call ``serve_forever()``).

    Port 0 picks a free port; ``server.server_address`` says which.
    ``handler``: a :class:`BookHandler` subclass with routes of its own
    (``publisher preview``'s live reload).
    """
    root = folder.resolve()
    base: type[BookHandler] = handler or BookHandler

    class Handler(base):  # type: ignore[valid-type,misc]  # a class per server: its own root
        pass

    Handler.root = root
    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise PublisherError(f"cannot serve on {host}:{port} ({exc.strerror}); choose another "
                             "port with --port N (or --port 0 for any free port).") from exc
    # Browsers keep media connections open: never wait for them on shutdown.
    server.daemon_threads = True
    return server


def site_url(server: ThreadingHTTPServer) -> str:
    """The address of the site's front page on ``server``."""
    host, port = server.server_address[:2]
    if isinstance(host, bytes):
        host = host.decode()
    shown = f"[{host}]" if ":" in str(host) else str(host)
    return f"http://{shown}:{port}/{SITE_DIR}/index.html"


class BookHandler(BaseHTTPRequestHandler):
    """GET and HEAD for files under ``root``; nothing else.

    Subclasses may add routes (:meth:`answer`), refuse clients
    (:meth:`refusal`) and change HTML pages as they are sent
    (:meth:`rewrite_html`); the file rules above hold for everything else.
    """

    root: Path
    server_version = "publisher-serve"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._respond(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(send_body=False)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)

    # ----------------------------------------------------------------- hooks

    def refusal(self) -> HTTPStatus | None:
        """Why this request is refused before anything is looked up (None: it is not)."""
        return None

    def answer(self, target: str, send_body: bool) -> bool:
        """Answer ``target`` (a URL path) with a route of the subclass; False if none."""
        return False

    def rewrite_html(self, data: bytes) -> bytes | None:
        """An HTML page as it is to be sent (None: as it is on disk, with ranges)."""
        return None

    def send_bytes(self, data: bytes, media_type: str, send_body: bool = True,
                   status: HTTPStatus = HTTPStatus.OK) -> None:
        """A whole response from memory (never cached by the browser)."""
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    # ----------------------------------------------------------------- routing

    def _respond(self, send_body: bool) -> None:
        refused = self.refusal()
        if refused is not None:
            self._error(refused)
            return
        target = self.path
        if not target.startswith("/") and "://" in target:
            target = urlsplit(target).path or "/"  # absolute-form: http://host/path
        target = target.split("?", 1)[0].split("#", 1)[0]
        if self.answer(target, send_body):
            return
        if target in ("", "/"):
            self._redirect(f"/{SITE_DIR}/index.html")
            return
        path, status = self._resolve(target)
        if path is None:
            self._error(status)
            return
        if path.is_dir():
            if not target.endswith("/"):
                self._redirect(target + "/")
                return
            path = path / "index.html"
            if not path.is_file():
                self._error(HTTPStatus.NOT_FOUND)
                return
        self._send_file(path, send_body)

    def _resolve(self, target: str) -> tuple[Path | None, HTTPStatus]:
        """The file a URL path names, or (None, why not)."""
        if not target.startswith("/"):
            return None, HTTPStatus.BAD_REQUEST
        lowered = target.lower()
        # Encoded separators and encoded percent signs have no place in our
        # file names; refusing them closes %2f, %5c and double-encoding tricks.
        if "%2f" in lowered or "%5c" in lowered or "%25" in lowered or "\\" in target:
            return None, HTTPStatus.FORBIDDEN
        try:
            decoded = unquote(target, errors="strict")
        except UnicodeDecodeError:
            return None, HTTPStatus.BAD_REQUEST
        if "\x00" in decoded or "\\" in decoded:
            return None, HTTPStatus.FORBIDDEN
        parts = [p for p in decoded.split("/") if p]
        if any(p in (".", "..") for p in parts):
            return None, HTTPStatus.FORBIDDEN
        if any(p.startswith(".") for p in parts):
            return None, HTTPStatus.NOT_FOUND  # hidden files: locks, caches
        candidate = self.root.joinpath(*parts)
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):  # missing, or a symlink loop
            return None, HTTPStatus.NOT_FOUND
        if real != self.root and not real.is_relative_to(self.root):
            return None, HTTPStatus.FORBIDDEN  # a symlink that leads outside
        if not (real.is_file() or real.is_dir()):
            return None, HTTPStatus.NOT_FOUND
        return real, HTTPStatus.OK

    # ----------------------------------------------------------------- responses

    def _send_file(self, path: Path, send_body: bool) -> None:
        try:
            handle = path.open("rb")
        except OSError:
            self._error(HTTPStatus.NOT_FOUND)
            return
        with handle:
            if path.suffix == ".html":
                page = self.rewrite_html(handle.read())
                if page is not None:
                    self.send_bytes(page, _media_type(path), send_body)
                    return
                handle.seek(0)
            stat = os.fstat(handle.fileno())  # the file opened, even if a rebuild swaps it
            size = stat.st_size
            try:
                byte_range = _parse_range(self.headers.get("Range"), size)
            except _NotSatisfiable:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                return
            if byte_range is None:
                start, length = 0, size
                self.send_response(HTTPStatus.OK)
            else:
                first, last = byte_range
                start, length = first, last - first + 1
                self.send_response(HTTPStatus.PARTIAL_CONTENT)
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Content-Type", _media_type(path))
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Last-Modified", self.date_time_string(int(stat.st_mtime)))
            # A preview: a rebuild must show at once, never a cached page.
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if not send_body:
                return
            handle.seek(start)
            try:
                _copy(handle, self.wfile, length)
            except (BrokenPipeError, ConnectionResetError):
                # Media elements drop connections when they seek: not an error.
                self.close_connection = True

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _error(self, status: HTTPStatus) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _media_type(path: Path) -> str:
    return _NAMED_TYPES.get(path.name) or MEDIA_TYPES.get(path.suffix.lower(), _DEFAULT_TYPE)


class _NotSatisfiable(Exception):
    """A byte range that is malformed or lies outside the file: 416."""


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single range, or None for the whole file.

    Only the ``bytes`` unit is understood; other units are ignored (whole
    file), as HTTP says. Several ranges are also answered with the whole file.
    Raises _NotSatisfiable for a malformed range or one outside the file.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _RANGE.match(spec)
    if match is None:
        raise _NotSatisfiable(spec)
    first_text, last_text = match.groups()
    if first_text:
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
        if last < first or first >= size:
            raise _NotSatisfiable(spec)
        return first, min(last, size - 1)
    if not last_text:
        raise _NotSatisfiable(spec)  # "bytes=-"
    suffix = int(last_text)
    if suffix == 0 or size == 0:
        raise _NotSatisfiable(spec)
    return max(0, size - suffix), size - 1


def _copy(source: BinaryIO, destination: BufferedIOBase, length: int) -> None:
    """Copy ``length`` bytes in chunks (a whole MP3 never sits in memory)."""
    remaining = length
    while remaining > 0:
        chunk = source.read(min(_CHUNK_BYTES, remaining))
        if not chunk:
            break
        destination.write(chunk)
        remaining -= len(chunk)

