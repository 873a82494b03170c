"""``publisher preview SOURCE``: the author's loop of build, listen, edit, listen again.

    first build --> serve OUTDIR/.preview/<slug>/ on 127.0.0.1 --> watch the inputs
      save --> rebuild in this process (voice and libraries kept loaded)
           --> the pages reload (server-sent events), keep their place, and offer
               to play the first changed sentence from its start

What a rebuild redoes is what changed: the clip cache makes every unchanged
sentence free, the encoded-audio cache every unchanged section, and
:func:`publisher.build.build` with ``preview=True`` leaves out what the
listening site never shows and what costs a whole book's audio on every save:
the M4B audiobook (every section re-encoded to AAC), the Readium and LPF
packages and the DAISY zips (every MP3 copied into a zip), and the EPUB's
own audio (the EPUB is written text-only, and the edited section is encoded
once, in the podcast profile, instead of once more in the EPUB's compact one).
The section files it encodes are drafts: one fast encode, not decoded again
to check loudness and true peak (:mod:`publisher.audio.encode`), and no part
of the audiobook made ahead; those three were three quarters of a save.
``publisher build`` makes all of it, checked; the preview writes to
``OUTDIR/.preview/<slug>/`` so it never replaces a finished book with a
partial one, and writes no up-to-date stamp, so the next build does make the
whole book (from the same clip cache; drafts are cached under keys of their
own, never taken for a checked file). Ctrl-C stops the preview and does not
run that build: stopping is what it means, and the source may be mid-edit.

The server is :mod:`publisher.serve`'s, with its file rules (only files
under the book's folder; no ``..``, encoded separators or symlinks out), bound
to 127.0.0.1 and refusing any client that is not this computer, and any
request whose Host is not a local name (a web page elsewhere cannot reach it
through DNS rebinding). Besides the book's files it answers three routes
under ``/__preview__/``: ``preview.js`` (the live-reload script, shipped
here), ``status.json`` and ``events`` (server-sent events, one per build).
HTML pages get the script's tag as they are sent; the files on disk stay
what a build writes.

A build that fails (invalid front matter, a missing image ...) is said in
the terminal and on every open page, and the last good book stays served.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .build import build
from .cache import ClipCache
from .errors import PublisherError
from .layout import PREVIEW_DIR
from .model import Clip
from .options import BuildOptions, BuildResult, Reporter, default_workers, engine_spec
from .serve import BookHandler, make_server, site_url
from .site import page_href
from .speech import Engine, EngineSpec
from .synthesize import MIN_BATCH_FOR_WORKERS, Synthesis, stream_clips
from .templates import read_static

__all__ = ["ROUTE", "Change", "PreviewSession", "PreviewState", "is_local_client",
           "preview_options"]

log = logging.getLogger(__name__)

#: The preview's own routes; no book file has this name (hidden and reserved).
ROUTE = "/__preview__/"
#: Server-sent events: a comment this often keeps proxies and browsers from timing out.
_HEARTBEAT_S = 15.0
_LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class Change:
    """A sentence said differently from the last good build (new, edited, or re-pronounced)."""

    sentence_id: str
    #: Its section's page, relative to the site folder.
    page: str
    section_title: str
    #: The words said for it now.
    text: str


@dataclass(frozen=True, slots=True)
class PreviewState:
    """What the pages are told after each build."""

    #: Builds tried so far (good or not).
    attempt: int = 0
    #: The build now served: pages showing an older one reload.
    generation: int = 0
    #: Why the last build failed ('' when it did not).
    error: str = ""
    #: The sentences the served build changed, in reading order.
    changed: tuple[Change, ...] = ()
    #: How long the last build took.
    seconds: float = 0.0

    def to_json(self) -> bytes:
        """The state as the preview script reads it."""
        data = dataclasses.asdict(self)
        data["changed"] = [{"id": c.sentence_id, "page": c.page, "section": c.section_title,
                            "text": c.text} for c in self.changed]
        data["ok"] = not self.error
        return json.dumps(data, ensure_ascii=False).encode("utf-8")


def preview_options(options: BuildOptions) -> BuildOptions:
    """The options of a preview's builds: into ``OUTDIR/.preview``, with the builds' cache.

    The EPUB's audio profile is the section files' own, so each section is
    encoded once, not twice (the second file is a copy; the preview's EPUB
    carries no audio anyway): that is half of what a save costs.
    """
    return dataclasses.replace(options, out_root=options.out_root / PREVIEW_DIR,
                               cache_dir=options.cache_root,
                               epub_audio_profile=options.audio_profile)


class PreviewSession:
    """One preview: the first build, the server, and a rebuild per save.

    ``start()`` builds and serves; ``run()`` watches until Ctrl-C (or ``stop``
    is set); ``close()`` stops the server. Nothing is printed here: the
    address is for the caller to show, and builds are logged.
    """

    def __init__(self, source: Path, options: BuildOptions,
                 reporter: Reporter | None = None) -> None:
        self.source = source
        self.options = preview_options(options)
        self.reporter = reporter or _PreviewReporter()
        self.live = _Live()
        self.voices = _KeptVoices(options.workers or default_workers())
        self.server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._last: BuildResult | None = None
        self._seen: dict[Path, tuple[int, int] | None] = {}

    @property
    def state(self) -> PreviewState:
        """The state the pages were last told."""
        return self.live.current()

    @property
    def inputs(self) -> tuple[Path, ...]:
        """The files watched: the source, its images, cover and lexicon (absolute)."""
        found = self._last.inputs if self._last is not None else (self.source,)
        return tuple(sorted({p.resolve() for p in found}))

    @property
    def url(self) -> str:
        """The address of the site's front page."""
        if self.server is None:
            raise RuntimeError("the preview is not started")
        return site_url(self.server)

    def start(self, port: int = 8000) -> str:
        """Build the book, serve it on 127.0.0.1:``port``, load the voice; the address.

        Raises PublisherError when the first build fails (there is no book to show yet).
        """
        state = self.rebuild()
        if state.error:
            raise PublisherError(f"{self.source}: the preview cannot start: {state.error}")
        assert self._last is not None
        self.server = make_server(self._last.out_dir, host="127.0.0.1", port=port,
                                  handler=_handler(self.live))
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        name="preview-server", daemon=True)
        self._thread.start()
        self._warm_up()
        return self.url

    def rebuild(self) -> PreviewState:
        """Build once more; tell the pages (a failure keeps the last good book served)."""
        started = time.monotonic()
        before = self.live.current()
        # Taken before the build reads them: a save during the build is seen after it.
        self._seen = _stats(self.inputs)
        try:
            result = build(self.source, self.options, self.reporter,
                           synthesis=self.voices.synthesis(), preview=True)
        except PublisherError as exc:
            state = dataclasses.replace(before, attempt=before.attempt + 1, error=str(exc),
                                        seconds=round(time.monotonic() - started, 3))
            if self._last is not None:  # else start() raises it: said once
                log.error("%s", exc)
                log.error("The preview keeps showing the last good build; fix the source "
                          "and save again.")
            self.live.publish(state)
            return state
        changed = _changes(self._last, result) if self._last is not None else ()
        self._last = result
        for path, stat in _stats(self.inputs).items():  # inputs found by this build
            self._seen.setdefault(path, stat)
        if self.server is not None:
            self.server.RequestHandlerClass.root = result.out_dir.resolve()  # type: ignore[attr-defined]
        state = PreviewState(attempt=before.attempt + 1, generation=before.generation + 1,
                             changed=changed, seconds=round(time.monotonic() - started, 3))
        self.live.publish(state)
        stats = result.stats
        log.info("Built %s in %.2f s (%s clip(s) synthesized); %s", self.source,
                 state.seconds, stats.get("clips_synthesized", 0), _said(changed))
        return state

    def run(self, stop: threading.Event | None = None) -> None:
        """Rebuild on every save of an input until Ctrl-C or ``stop`` is set."""
        import watchfiles  # only the preview watches files

        stop = stop or threading.Event()
        while not stop.is_set():
            if self._stale():
                self.rebuild()  # saved before the watch began (or while it was restarted)
            inputs = set(self.inputs)
            folders = sorted({p.parent for p in inputs if p.parent.is_dir()})

            def wanted(_change: object, path: str, inputs: set[Path] = inputs) -> bool:
                return Path(path).resolve() in inputs

            # The folders, not the files: editors save by writing a new file and
            # renaming it over the old one, which a watch on the file would lose.
            # A save made after the check above but before the watch was armed
            # raises no event: every quiet half second (yield_on_timeout) the
            # files' times and sizes are compared again, so no save is ever lost.
            for changes_seen in watchfiles.watch(*folders, watch_filter=wanted,
                                                 recursive=False, stop_event=stop,
                                                 debounce=400, step=30, rust_timeout=500,
                                                 yield_on_timeout=True):
                if not changes_seen and not self._stale():
                    continue
                self.rebuild()
                if set(self.inputs) != inputs:
                    break  # an image or lexicon came or went: watch the new set

    def _stale(self) -> bool:
        """Whether an input changed since the last build read it."""
        return any(self._seen.get(path, ()) != stat
                   for path, stat in _stats(self.inputs).items())

    def close(self) -> None:
        """Stop serving (open pages' event streams end) and release the port."""
        self.live.close()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def _warm_up(self) -> None:
        """Load the voice now, so the first save does not wait for it."""
        assert self._last is not None and self._last.book is not None
        try:
            engine = self.voices.engine(engine_spec(self._last.book, self.options))
            engine.synthesize("Ready.")
        except PublisherError as exc:  # the build worked: a rebuild will say it again
            log.debug("Could not load the voice ahead: %s", exc)


def _stats(paths: Sequence[Path]) -> dict[Path, tuple[int, int] | None]:
    """Modification time and size of each file (None: not there)."""
    found: dict[Path, tuple[int, int] | None] = {}
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            found[path] = None
        else:
            found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


def _changes(before: BuildResult, after: BuildResult) -> tuple[Change, ...]:
    """The sentences of ``after`` said otherwise than in ``before`` (or not there)."""
    said_before = _said_texts(before.record)
    book = after.book
    if book is None:
        return ()
    said_now = _said_texts(after.record)
    changes = []
    for section in book.sections:
        for sentence in section.sentences:
            text = said_now.get(sentence.id)
            if text is not None and said_before.get(sentence.id) != text:
                changes.append(Change(sentence.id, page_href(section), section.title, text))
    return tuple(changes)


def _said_texts(record: dict[str, object]) -> dict[str, str]:
    """Sentence id -> the words said (from build.json's timings, lexicon applied)."""
    found: dict[str, str] = {}
    sections = record.get("sections")
    for section in sections if isinstance(sections, list) else ():
        for timing in section.get("timings") or ():
            found[str(timing["id"])] = str(timing["text"])
    return found


def _said(changed: Sequence[Change]) -> str:
    if not changed:
        return "no sentence is said differently."
    first = changed[0]
    more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
    return f"changed: {first.text!r} ({first.section_title}){more}; open pages reload."


class _PreviewReporter(Reporter):
    """Stages quietly; each warning once per session, not on every save."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def stage(self, name: str) -> None:
        log.debug("%s", name)

    def warn(self, message: str) -> None:
        if message not in self.seen:
            self.seen.add(message)
            log.warning("%s", message)


class _KeptVoices:
    """The voices of this session, loaded once and kept for every rebuild."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def engine(self, spec: EngineSpec) -> Engine:
        """The session's engine for ``spec``, made on first use."""
        with self._lock:
            key = repr(spec)
            if key not in self._engines:
                self._engines[key] = spec()
            return self._engines[key]

    def synthesis(self) -> Synthesis:
        """Where a rebuild's clips are made: here, by the kept voice, unless there are many."""

        def stream(items: Sequence[tuple[str, str]], spec: EngineSpec, cache: ClipCache,
                   while_waiting: Any) -> Iterator[tuple[str, Clip, bool]]:
            engine = self.engine(spec)
            identity = engine.identity
            missing = len({text for _, text in items if cache.key(identity, text) not in cache})
            if self.workers > 1 and missing >= MIN_BATCH_FOR_WORKERS:
                # A first build (or a new voice): worker processes are faster than
                # one voice here, even counting their start.
                return stream_clips(items, spec, cache, workers=self.workers,
                                    min_batch_for_workers=MIN_BATCH_FOR_WORKERS,
                                    while_waiting=while_waiting)
            return stream_clips(items, lambda: engine, cache, workers=1)

        return Synthesis(stream=stream)


class _Live:
    """The state shared by the builds (one thread) and the page requests (many)."""

    def __init__(self) -> None:
        self._state = PreviewState()
        self._changed = threading.Condition()
        self.closed = False

    def current(self) -> PreviewState:
        with self._changed:
            return self._state

    def publish(self, state: PreviewState) -> None:
        with self._changed:
            self._state = state
            self._changed.notify_all()

    def wait_past(self, attempt: int, timeout: float) -> PreviewState:
        """The state once a build later than ``attempt`` is over (or after ``timeout``)."""
        with self._changed:
            self._changed.wait_for(lambda: self.closed or self._state.attempt > attempt,
                                   timeout=timeout)
            return self._state

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()


def is_local_client(address: str) -> bool:
    """Whether a client address is this computer (a loopback address)."""
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _handler(live: _Live) -> type[BookHandler]:
    script = read_static("site/preview.js")

    class PreviewHandler(BookHandler):
        server_version = "publisher-preview"

        def refusal(self) -> HTTPStatus | None:
            if not is_local_client(str(self.client_address[0])):
                return HTTPStatus.FORBIDDEN
            host = self.headers.get("Host")
            if host is not None and _host_name(host) not in _LOCAL_NAMES:
                return HTTPStatus.FORBIDDEN  # DNS rebinding: a page elsewhere, our address
            return None

        def answer(self, target: str, send_body: bool) -> bool:
            if not target.startswith(ROUTE):
                return False
            name = target[len(ROUTE):]
            if name == "preview.js":
                self.send_bytes(script, "text/javascript; charset=utf-8", send_body)
            elif name == "status.json":
                self.send_bytes(live.current().to_json(), "application/json", send_body)
            elif name == "events" and send_body:
                self._events()
            else:
                self.send_bytes(b"404 Not Found\n", "text/plain; charset=utf-8", send_body,
                                HTTPStatus.NOT_FOUND)
            return True

        def rewrite_html(self, data: bytes) -> bytes | None:
            state = live.current()
            tag = (f'<script src="{ROUTE}preview.js" data-route="{ROUTE}" '
                   f'data-generation="{state.generation}" defer></script>\n').encode()
            head = data.find(b"</head>")
            return data[:head] + tag + data[head:] if head >= 0 else data + tag

        def _events(self) -> None:
            """One event per build: the state; a comment now and then in between."""
            query = parse_qs(urlsplit(self.path).query)
            try:
                seen = int(query.get("attempt", ["-1"])[0])
            except ValueError:
                seen = -1
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.close_connection = True  # the stream has no length: it ends the connection
            try:
                state = live.current()
                if state.attempt > seen or seen < 0:
                    self._event(state)
                    seen = state.attempt
                while not live.closed:
                    state = live.wait_past(seen, _HEARTBEAT_S)
                    if live.closed:
                        break
                    if state.attempt > seen:
                        self._event(state)
                        seen = state.attempt
                    else:
                        self.wfile.write(b": still here\n\n")
                        self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the page went away

        def _event(self, state: PreviewState) -> None:
            self.wfile.write(b"event: build\ndata: " + state.to_json() + b"\n\n")
            self.wfile.flush()

    return PreviewHandler


def _host_name(host: str) -> str:
    """The name in a Host header, without its port: '127.0.0.1', 'localhost', '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

