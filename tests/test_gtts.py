"""The gTTS engine against a fake Google: real MP3 bytes, real failure shapes.

No test talks to Google: every session here has :class:`FakeGoogle` mounted
for all http(s) URLs, which answers from a script.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import urllib.parse
from collections.abc import Callable

import av
import numpy as np
import pytest
import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NameResolutionError, ProtocolError

from publisher.errors import ConfigError, EngineUnavailable, SpeechError
from publisher.speech.gtts import SAMPLE_RATE_HZ, GttsEngine

MS_PER_CHAR = 40


def mp3_tone(duration_ms: float, freq_hz: float = 220.0, rate_hz: int = 24000) -> bytes:
    """A real MP3 (LAME) of a tone, like Google's 24 kHz mono answers."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate_hz, layout="mono")
        n = round(rate_hz * duration_ms / 1000)
        tone = 0.3 * np.sin(2 * np.pi * freq_hz * np.arange(n) / rate_hz)
        frame = av.AudioFrame.from_ndarray(
            (tone * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = rate_hz
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def batchexecute(mp3: bytes) -> bytes:
    """Google's batchexecute envelope around the base64 audio, as gTTS parses it."""
    compact = {"separators": (",", ":")}
    payload = json.dumps([base64.b64encode(mp3).decode("ascii")], **compact)
    row = json.dumps([["wrb.fr", "jQ1olc", payload, None, None, None, "generic"]], **compact)
    return f')]}}\'\n\n{len(row)}\n{row}\n25\n[["e",4,null,null,137]]\n'.encode()


def spoken_part(request: requests.PreparedRequest) -> list:
    """[text, lang, speed, "null"] from a gTTS request body."""
    body = request.body if isinstance(request.body, str) else request.body.decode()
    rpc = json.loads(urllib.parse.unquote(body.removeprefix("f.req=").rstrip("&")))
    return json.loads(rpc[0][0][1])


Step = int | BaseException | Callable[[requests.PreparedRequest], bytes]


def speak(request: requests.PreparedRequest) -> bytes:
    """200 with a tone as long as the requested text."""
    return batchexecute(mp3_tone(MS_PER_CHAR * len(spoken_part(request)[0])))


class FakeGoogle(BaseAdapter):
    """A transport that answers from a script; the last step repeats.

    A step is an HTTP status (answered with an empty body), an exception to
    raise (as requests' own adapter would), or a function of the request
    returning a 200 body.
    """

    def __init__(self, *script: Step) -> None:
        super().__init__()
        self.script = list(script)
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, BaseException):
            raise step
        response = requests.Response()
        response.request, response.url = request, request.url
        if isinstance(step, int):
            response.status_code, response._content = step, b""
            response.reason = {429: "Too Many Requests", 503: "Service Unavailable"}.get(step, "")
            response.headers = CaseInsensitiveDict()
        else:
            response.status_code, response.reason = 200, "OK"
            response._content = step(request)
            response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        return response

    def close(self) -> None:
        pass


def engine_with(adapter: BaseAdapter, **kw) -> tuple[GttsEngine, list[float]]:
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    sleeps: list[float] = []
    return GttsEngine("en", session=session, sleep=sleeps.append, **kw), sleeps


def test_success_decodes_real_mp3_to_one_clip() -> None:
    google = FakeGoogle(speak)
    engine, sleeps = engine_with(google)
    text = "You are not alone."
    clip = engine.synthesize(text)
    assert clip.sample_rate_hz == SAMPLE_RATE_HZ == 24000
    assert clip.duration_ms == pytest.approx(MS_PER_CHAR * len(text), abs=80)
    audio = np.frombuffer(clip.pcm, dtype="<i2")
    assert np.abs(audio).max() > 5000
    assert sleeps == []
    (request,) = google.requests
    assert request.url.startswith("https://translate.google.com/")
    assert spoken_part(request)[:3] == [text, "en", None]


def test_long_sentence_is_split_but_stays_one_clip() -> None:
    google = FakeGoogle(speak)
    engine, _ = engine_with(google)
    text = " ".join(["When everything feels like too much, it can help to slow down,"] * 4)
    clip = engine.synthesize(text)
    parts = [spoken_part(r)[0] for r in google.requests]
    assert len(parts) >= 3
    expected_ms = sum(MS_PER_CHAR * len(p) for p in parts)
    # Each MP3 part adds encoder padding (about 50 ms at 24 kHz).
    assert expected_ms <= clip.duration_ms <= expected_ms + 80 * len(parts)


def test_offline_dns_failure_fails_fast_naming_piper() -> None:
    dns = requests.ConnectionError(
        MaxRetryError(
            None,
            "/_/TranslateWebserverUi/data/batchexecute",
            NameResolutionError(
                "translate.google.com",
                None,
                socket.gaierror(-3, "Temporary failure in name resolution"),
            ),
        )
    )
    google = FakeGoogle(dns)
    engine, sleeps = engine_with(google)
    with pytest.raises(EngineUnavailable) as info:
        engine.synthesize("Hello.")
    assert "--engine piper" in str(info.value)
    assert "name resolution" in str(info.value)
    assert len(google.requests) == 1 and sleeps == []


class RefusingAdapter(HTTPAdapter):
    """A real HTTP adapter whose every request goes to a closed local port."""

    def __init__(self) -> None:
        super().__init__()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.calls = 0

    def send(self, request, **kw):
        self.calls += 1
        request = request.copy()
        request.url = f"http://127.0.0.1:{self.port}/"
        return super().send(request, **kw)


def test_connection_refused_fails_fast() -> None:
    adapter = RefusingAdapter()
    engine, sleeps = engine_with(adapter, timeout_s=5)
    with pytest.raises(EngineUnavailable, match=r"refused.*--engine piper"):
        engine.synthesize("Hello.")
    assert adapter.calls == 1 and sleeps == []


def test_429_then_success_backs_off() -> None:
    google = FakeGoogle(429, speak)
    engine, sleeps = engine_with(google)
    clip = engine.synthesize("Breathe in.")
    assert clip.duration_ms > 0
    assert sleeps == [1.0]
    assert len(google.requests) == 2


def test_retry_after_is_honoured() -> None:
    google = FakeGoogle(429, speak)
    original = google.send

    def send(request, **kw):
        response = original(request, **kw)
        if response.status_code == 429:
            response.headers["Retry-After"] = "7"
        return response

    google.send = send  # type: ignore[method-assign]
    engine, sleeps = engine_with(google)
    engine.synthesize("Breathe in.")
    assert sleeps == [7.0]


def test_timeouts_and_resets_are_retried() -> None:
    reset = requests.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    )
    google = FakeGoogle(requests.ReadTimeout("read timed out"), reset, speak)
    engine, sleeps = engine_with(google)
    assert engine.synthesize("Breathe out.").duration_ms > 0
    assert sleeps == [1.0, 2.0]


def test_server_errors_exhausted_is_speech_error() -> None:
    google = FakeGoogle(503)
    engine, sleeps = engine_with(google)
    with pytest.raises(SpeechError) as info:
        engine.synthesize("Hello.")
    assert not isinstance(info.value, EngineUnavailable)
    message = str(info.value)
    assert "failed 4 times" in message and "HTTP 503" in message and "--engine piper" in message
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(google.requests) == 4


def test_client_error_is_not_retried() -> None:
    google = FakeGoogle(403)
    engine, sleeps = engine_with(google)
    with pytest.raises(SpeechError, match="HTTP 403.*upgrade"):
        engine.synthesize("Hello.")
    assert sleeps == [] and len(google.requests) == 1


def test_answer_without_audio_or_with_bad_audio() -> None:
    engine, _ = engine_with(FakeGoogle(lambda request: b")]}'\n\n[]\n"))
    with pytest.raises(SpeechError, match="without audio"):
        engine.synthesize("Hello.")
    engine, _ = engine_with(FakeGoogle(lambda request: batchexecute(b"not an mp3 at all" * 50)))
    with pytest.raises(SpeechError, match="cannot be decoded"):
        engine.synthesize("Hello.")


def test_slow_rate_and_identity() -> None:
    google = FakeGoogle(speak)
    engine, _ = engine_with(google, rate=0.7)
    engine.synthesize("Slowly now.")
    assert spoken_part(google.requests[0])[2] is True
    normal, _ = engine_with(FakeGoogle(speak), rate=1.3)
    assert normal.identity == engine_with(FakeGoogle(speak))[0].identity
    assert engine.identity["slow"] == "yes" and normal.identity["slow"] == "no"
    assert engine.identity["gtts"]


def test_language_resolution() -> None:
    assert GttsEngine("en-US").lang == "en"
    assert GttsEngine("zh-tw").lang == "zh-TW"
    assert GttsEngine("fr_CA").lang == "fr-CA"
    assert GttsEngine("fr-BE").lang == "fr"
    with pytest.raises(ConfigError, match="no voice for language 'tlh'"):
        GttsEngine("tlh")


def test_nothing_to_say_is_short_silence_without_requests() -> None:
    google = FakeGoogle(speak)
    engine, _ = engine_with(google)
    clip = engine.synthesize("...")
    assert google.requests == [] and 0 < clip.duration_ms <= 500
