"""Google Translate text-to-speech through the ``gtts`` package (online).

gTTS cuts text longer than 100 characters into several requests and returns
MP3. We let gTTS tokenize and prepare the requests (so its knowledge of the
undocumented API stays in one place), but send them ourselves through a
``requests.Session`` we own, because gTTS opens a fresh session per request
and hides the cause of failures. Owning the session gives us:

- retries with exponential backoff for the transient failures (HTTP 429 and
  5xx, timeouts, dropped connections), per request part;
- fail-fast for "there is no network" (DNS failure, connection refused,
  network unreachable, proxy down), with the offline engine as the fix;
- TLS verification (gTTS turns it off) and the environment's proxy settings;
- a seam for tests: mount a fake transport adapter on the session.

Each part's MP3 is decoded with PyAV to mono int16 at :data:`SAMPLE_RATE_HZ`
and the parts are joined, so a long sentence is still one clip.

Speed: Google offers only normal and slow speech. ``rate`` below
:data:`SLOW_BELOW_RATE` asks for slow speech; any other rate is normal speed.
"""

from __future__ import annotations

import base64
import errno
import importlib.metadata
import io
import logging
import re
import socket
import time
from collections.abc import Callable, Iterator

import requests
from gtts import gTTS
from gtts.lang import tts_langs
from urllib3.exceptions import NewConnectionError

from ..errors import ConfigError, EngineUnavailable, SpeechError
from ..model import Clip

__all__ = ["GttsEngine", "SAMPLE_RATE_HZ", "SLOW_BELOW_RATE", "resolve_language"]

log = logging.getLogger(__name__)

#: Google's MP3s are 24 kHz mono; decoding at that rate avoids resampling.
SAMPLE_RATE_HZ = 24_000
SLOW_BELOW_RATE = 0.8
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER_S = 60.0
#: What gTTS itself looks for in the batchexecute response.
_AUDIO_PATTERN = re.compile(rb'jQ1olc","\[\\"(.*)\\"]')
_OFFLINE_FIX = "Check the network connection, or use the offline engine: --engine piper."


class GttsEngine:
    """Speech from Google Translate's text-to-speech.

    ``lang`` is a gTTS language code (``en``, ``fr``, ``zh-TW``; see
    ``publisher voices``) or a BCP 47 tag that maps to one (``en-US`` -> ``en``).
    ``tld`` picks the Google host, which changes the accent (``co.uk``,
    ``com.au``). ``session`` is the ``requests.Session`` to send with (tests
    mount a fake adapter on it). A failed request is tried ``max_tries`` times
    in all, waiting ``backoff_s``, then twice as long each time, through
    ``sleep``.
    """

    name = "gtts"

    def __init__(
        self,
        lang: str,
        tld: str = "com",
        rate: float = 1.0,
        session: requests.Session | None = None,
        *,
        timeout_s: float = 20.0,
        max_tries: int = 4,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ConfigError([f"rate must be positive (1.0 is normal speed), got {rate}."])
        if max_tries < 1:
            raise ValueError(f"max_tries must be at least 1, got {max_tries}")
        self.lang = resolve_language(lang)
        self.tld = tld
        self.rate = rate
        self.slow = rate < SLOW_BELOW_RATE
        self.session = session if session is not None else requests.Session()
        self.timeout_s = timeout_s
        self.max_tries = max_tries
        self.backoff_s = backoff_s
        self.sleep = sleep

    @property
    def identity(self) -> dict[str, str]:
        """What the clips depend on: the engine, language, rate and library version."""
        # The rate only matters through ``slow``: rates 1.0 and 1.3 sound the
        # same, so they share cache entries.
        return {
            "engine": self.name,
            "lang": self.lang,
            "tld": self.tld,
            "slow": "yes" if self.slow else "no",
            "sample_rate_hz": str(SAMPLE_RATE_HZ),
            "gtts": _version("gTTS"),
        }

    @property
    def voice_name(self) -> str:
        """The voice's name, as the narrator is credited."""
        language = tts_langs().get(self.lang, self.lang)
        return f"Google Translate {language} (translate.google.{self.tld})"

    def synthesize(self, text: str) -> Clip:
        """Google Translate's speech for ``text``, decoded to PCM (retried on 429/5xx)."""
        # lang_check=False: the language was resolved once, in __init__.
        tts = gTTS(text, tld=self.tld, lang=self.lang, slow=self.slow, lang_check=False)
        try:
            prepared = tts._prepare_requests()
        except AssertionError:
            # gTTS found nothing to say (only punctuation, say): keep the
            # sentence and its timing with a short pause instead of failing.
            log.warning("gTTS found nothing to say in %r; using a short silence", text)
            return Clip(pcm=bytes(2 * SAMPLE_RATE_HZ * 3 // 10), sample_rate_hz=SAMPLE_RATE_HZ)
        pcm = bytearray()
        for number, request in enumerate(prepared, start=1):
            body = self._send(request, f"part {number} of {len(prepared)}")
            mp3 = _extract_mp3(body)
            if mp3 is None:
                raise SpeechError(
                    f"Google Translate answered without audio (part {number} of "
                    f"{len(prepared)}, language '{self.lang}'). The language may not "
                    f"be spoken by Google, or its API changed: upgrade gtts, or use "
                    f"--engine piper."
                )
            pcm += _decode_mp3(mp3)
        return Clip(pcm=bytes(pcm), sample_rate_hz=SAMPLE_RATE_HZ)

    def _send(self, request: requests.PreparedRequest, where: str) -> bytes:
        """The response body, after up to ``max_tries`` tries."""
        # session.send() ignores the environment (proxies, CA bundle):
        # merge it in as session.request() would.
        settings = self.session.merge_environment_settings(request.url or "", {}, None, None,
                                                            None)
        problem = ""
        for attempt in range(1, self.max_tries + 1):
            wait_s = self.backoff_s * 2 ** (attempt - 1)
            try:
                response = self.session.send(request, timeout=self.timeout_s, **settings)
            except requests.Timeout as exc:
                problem = f"no answer within {self.timeout_s:g} s ({type(exc).__name__})"
            except requests.ConnectionError as exc:
                if _is_unreachable(exc):
                    raise EngineUnavailable(
                        f"Cannot reach Google Translate at translate.google.{self.tld}: "
                        f"{_root_cause(exc)}. {_OFFLINE_FIX}"
                    ) from exc
                problem = f"connection lost ({_root_cause(exc)})"
            except requests.RequestException as exc:
                raise SpeechError(f"Request to Google Translate failed: {exc}") from exc
            else:
                status = response.status_code
                if status == 200:
                    return response.content
                reason = f"HTTP {status} {response.reason or ''}".strip()
                if status not in _RETRY_STATUSES:
                    hint = (
                        "gTTS may be out of date: upgrade it (pip install -U gtts)"
                        if status in (400, 403, 404)
                        else "check the --engine options"
                    )
                    raise SpeechError(
                        f"Google Translate refused the request: {reason}. {hint}, or use --engine piper."
                    )
                problem = reason
                wait_s = max(wait_s, _retry_after_s(response))
                response.close()
            if attempt < self.max_tries:
                log.info(
                    "Google Translate %s, try %d of %d failed: %s; retrying in %.1f s",
                    where,
                    attempt,
                    self.max_tries,
                    problem,
                    wait_s,
                )
                self.sleep(wait_s)
        raise SpeechError(
            f"Google Translate failed {self.max_tries} times ({where}); last: {problem}. "
            "Try again later (the cache keeps every sentence made so far), "
            "or use the offline engine: --engine piper."
        )


def resolve_language(lang: str) -> str:
    """The gTTS language code for ``lang``; ConfigError listing valid codes if none."""
    langs = tts_langs()
    by_lower = {code.lower(): code for code in langs}
    # Exact tag first (zh-TW differs from zh), then the primary language (en-US -> en).
    candidates = [lang.replace("_", "-"), lang.replace("_", "-").split("-")[0]]
    for candidate in candidates:
        if candidate.lower() in by_lower:
            return by_lower[candidate.lower()]
    raise ConfigError(
        [
            f"Google Translate has no voice for language '{lang}'. "
            f"Use one of: {', '.join(sorted(langs))} (see 'publisher voices'), "
            "or another engine."
        ]
    )


def _extract_mp3(body: bytes) -> bytes | None:
    """The MP3 inside a batchexecute response, or None."""
    for line in body.splitlines():
        if b"jQ1olc" in line:
            match = _AUDIO_PATTERN.search(line)
            if match:
                return base64.b64decode(match.group(1))
    return None


def _decode_mp3(mp3: bytes) -> bytes:
    """MP3 bytes -> mono int16 PCM at SAMPLE_RATE_HZ."""
    import av  # deferred: PyAV takes ~0.1 s to import, only a received clip needs it

    out = bytearray()
    try:
        with av.open(io.BytesIO(mp3), mode="r", format="mp3") as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE_HZ)
            for frame in container.decode(stream):
                for resampled in resampler.resample(frame):
                    out += _plane_bytes(resampled)
            for resampled in resampler.resample(None):
                out += _plane_bytes(resampled)
    except (av.error.FFmpegError, IndexError) as exc:
        raise SpeechError(
            f"Google Translate sent audio that cannot be decoded as MP3 ({exc}). "
            "Try again, or use --engine piper."
        ) from exc
    return bytes(out)


def _plane_bytes(frame: object) -> bytes:
    """The frame's samples without the plane's alignment padding."""
    return frame.to_ndarray().astype("<i2", copy=False).tobytes()  # type: ignore[attr-defined]


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: args, urllib3's ``reason``, cause, context."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [*current.args, getattr(current, "reason", None)]
        nested += [current.__cause__, current.__context__]
        todo.extend(e for e in nested if isinstance(e, BaseException))


def _is_unreachable(exc: BaseException) -> bool:
    """True when the failure means "no network here", not a passing hiccup."""
    for cause in _causes(exc):
        # NameResolutionError is a NewConnectionError; so is "connection refused".
        if isinstance(cause, (NewConnectionError, socket.gaierror, ConnectionRefusedError)):
            return True
        if isinstance(cause, requests.exceptions.ProxyError):
            return True
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return True
    return False


def _root_cause(exc: BaseException) -> str:
    """The innermost reason, e.g. "[Errno 111] Connection refused"."""
    current = exc
    for _ in range(10):  # wrapped a few levels deep at most; never loop forever
        reason = getattr(current, "reason", None)
        inner = [a for a in current.args if isinstance(a, BaseException)]
        nested = reason if isinstance(reason, BaseException) else (inner[0] if inner else None)
        nested = nested or current.__cause__ or current.__context__
        if nested is None:
            break
        current = nested
    return str(current) or type(current).__name__


def _retry_after_s(response: requests.Response) -> float:
    """Seconds the server asked us to wait (Retry-After in seconds), capped."""
    try:
        return min(float(response.headers.get("Retry-After", 0)), _MAX_RETRY_AFTER_S)
    except ValueError:
        return 0.0


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
