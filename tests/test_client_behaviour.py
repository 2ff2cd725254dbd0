"""How the client behaves: settings, headers, transport safety, secrecy of the key, retries,
timeouts, cancellation, concurrency, import weight, and robustness against garbage servers.

Everything goes through the public API against a real loopback HTTP server (``http_server``
in conftest.py), except where a request must provably never leave the process.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import socket
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import haoee_jupyter
from haoee_jupyter import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigurationError,
    HaoeeError,
    InsecureTransportError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    Response,
    ServerError,
    Usage,
)
from haoee_jupyter.client import _base, _client, _exceptions, _settings

KEY = "sk-behaviour-5f3c9a7e1b2d4c6e8a0f"
SSE = "text/event-stream; charset=utf-8"
ENV = ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL")


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    """No setting leaks in from the environment."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sleeps(monkeypatch):
    """Retry waits are recorded instead of slept (the sync client's time.sleep)."""
    slept: list[float] = []
    fake_time = SimpleNamespace(sleep=slept.append, time=time.time, monotonic=time.monotonic)
    monkeypatch.setattr(_client, "time", fake_time)
    return slept


def answer(text: str = "Hello.", **extra: Any) -> dict[str, Any]:
    """A minimal completed response body."""
    return {
        "id": "resp_test",
        "object": "response",
        "status": "completed",
        "model": "gpt-4.1",
        "output": [
            {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        **extra,
    }


def ok(server, text: str = "Hello.", **options: Any):
    return server.Reply(200, json.dumps(answer(text)).encode(), **options)


def error_body(
    message: str, code: str | None = None, type: str = "invalid_request_error", param: str | None = None
) -> bytes:
    return json.dumps({"error": {"message": message, "type": type, "param": param, "code": code}}).encode()


def sse(*events: dict[str, Any]) -> list[bytes]:
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]


def text_stream(deltas: list[str], *, complete: bool = True) -> list[bytes]:
    """A plausible stream: created, item, part, the deltas, and (optionally) the terminal events."""
    events: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "response": {"id": "resp_s", "status": "in_progress", "output": [], "usage": None},
        },
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "msg_s", "type": "message", "role": "assistant", "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            "item_id": "msg_s",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
    ]
    events += [
        {"type": "response.output_text.delta", "item_id": "msg_s", "output_index": 0, "content_index": 0, "delta": d}
        for d in deltas
    ]
    if complete:
        events.append({"type": "response.completed", "response": dict(answer("".join(deltas)), id="resp_s")})
    return sse(*events)


def client_for(server, **options: Any) -> Client:
    options.setdefault("api_key", KEY)
    return Client(base_url=server.url, **options)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """An httpx transport that records requests and answers with a fixed body (no network)."""

    def __init__(self, body: dict[str, Any] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.body = body or answer()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=self.body)


def offline_client(recorder: Recorder, **options: Any) -> Client:
    return Client(transport=httpx.MockTransport(recorder), **options)  # never touches the network


# --- settings resolution -------------------------------------------------------------------


def test_defaults():
    client = Client(api_key=KEY)
    assert client.base_url == "https://maas.haoee.com/v1"
    assert client.model == "gpt-4.1"
    assert _settings.DEFAULT_BASE_URL == "https://maas.haoee.com/v1"
    assert _settings.DEFAULT_MODEL == "gpt-4.1"


def test_defaults_are_used_for_the_request():
    recorder = Recorder()
    offline_client(recorder, api_key=KEY).respond("hi")
    (request,) = recorder.requests
    assert str(request.url) == "https://maas.haoee.com/v1/responses"
    assert json.loads(request.content)["model"] == "gpt-4.1"
    assert request.headers["ModelName"] == "gpt-4.1"


LEVELS = ("explicit", "env")


@pytest.mark.parametrize(
    "present",
    [combo for n in range(1, 3) for combo in itertools.combinations(LEVELS, n)],
    ids=lambda combo: "+".join(combo),
)
def test_resolution_order(http_server, monkeypatch, present):
    """explicit > environment (a client reads nothing else); each level set only where `present` says."""
    http_server.add(ok(http_server))
    values = {
        level: {
            "api_key": f"sk-{level}-0123456789abcdef",
            "base_url": f"{http_server.url}/{level}",
            "model": f"model-{level}",
        }
        for level in LEVELS
    }
    if "env" in present:
        monkeypatch.setenv("HAOEE_API_KEY", values["env"]["api_key"])
        monkeypatch.setenv("HAOEE_BASE_URL", values["env"]["base_url"])
        monkeypatch.setenv("HAOEE_MODEL", values["env"]["model"])
    client = Client(**values["explicit"]) if "explicit" in present else Client()
    winner = values[present[0]]
    assert client.base_url == winner["base_url"] + "/v1"
    assert client.model == winner["model"]
    client.respond("hi")
    (request,) = http_server.requests
    assert request.path == f"/{present[0]}/v1/responses"
    assert request.headers["authorization"] == f"Bearer {winner['api_key']}"
    assert request.json["model"] == winner["model"]
    assert request.headers["modelname"] == winner["model"]


def test_empty_explicit_values_fall_through_to_the_environment(http_server, monkeypatch):
    http_server.add(ok(http_server))
    monkeypatch.setenv("HAOEE_API_KEY", KEY)
    monkeypatch.setenv("HAOEE_BASE_URL", http_server.url)
    monkeypatch.setenv("HAOEE_MODEL", "env-model")
    Client(api_key="", base_url="  ", model=None).respond("hi")
    (request,) = http_server.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["model"] == "env-model"


def test_a_key_set_after_the_client_was_made_is_used(http_server, monkeypatch):
    http_server.add(ok(http_server))
    client = Client(base_url=http_server.url)
    with pytest.raises(MissingAPIKeyError):
        client.respond("hi")
    monkeypatch.setenv("HAOEE_API_KEY", KEY)
    assert client.respond("hi").text == "Hello."
    assert len(http_server.requests) == 1


def test_per_call_model_overrides_the_client_model(http_server):
    http_server.add(ok(http_server))
    client = client_for(http_server, model="client-model")
    client.respond("hi")
    client.respond("hi", model="call-model")
    assert [r.json["model"] for r in http_server.requests] == ["client-model", "call-model"]
    assert [r.headers["modelname"] for r in http_server.requests] == ["client-model", "call-model"]


@pytest.mark.parametrize(
    "suffix,path",
    [
        ("", "/v1/responses"),
        ("/", "/v1/responses"),
        ("/v1", "/v1/responses"),
        ("/v1/", "/v1/responses"),
        ("/api", "/api/v1/responses"),
        ("/api/v1/", "/api/v1/responses"),
    ],
)
def test_base_url_paths(http_server, suffix, path):
    http_server.add(ok(http_server))
    Client(api_key=KEY, base_url=http_server.url + suffix).respond("hi")
    assert http_server.requests[0].path == path
    assert http_server.requests[0].method == "POST"


def test_request_body_and_params(http_server):
    http_server.add(ok(http_server))
    messages = [{"role": "user", "content": "Bonjour"}]
    client_for(http_server).respond(
        messages, instructions="Be brief.", temperature=0.2, max_output_tokens=64, previous_response_id=None
    )
    body = http_server.requests[0].json
    assert body == {
        "model": "gpt-4.1",
        "input": messages,
        "instructions": "Be brief.",
        "temperature": 0.2,
        "max_output_tokens": 64,
    }
    assert http_server.requests[0].headers["content-type"] == "application/json"


@pytest.mark.parametrize("bad", [42, None, object()])
def test_bad_input_type_is_a_configuration_error(http_server, bad):
    with pytest.raises(ConfigurationError):
        client_for(http_server).respond(bad)
    assert http_server.requests == []


def test_unserializable_param_is_a_configuration_error(http_server):
    with pytest.raises(ConfigurationError):
        client_for(http_server).respond("hi", metadata={"when": object()})
    assert http_server.requests == []


def test_non_http_base_url_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        Client(api_key=KEY, base_url="ftp://maas.haoee.com/v1").respond("hi")
    with pytest.raises(ConfigurationError):
        Client(api_key=KEY, base_url="maas.haoee.com").respond("hi")


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key,header",
    [
        (KEY, f"Bearer {KEY}"),
        (f"Bearer {KEY}", f"Bearer {KEY}"),
        (f"  {KEY}\n", f"Bearer {KEY}"),  # pasted with spaces and a newline
    ],
)
def test_authorization_header(http_server, key, header):
    http_server.add(ok(http_server))
    Client(api_key=key, base_url=http_server.url).respond("hi")
    assert http_server.requests[0].headers["authorization"] == header


def test_model_name_header_and_extra_headers(http_server):
    http_server.add(ok(http_server))
    client_for(http_server, model="deepseek-v3", headers={"X-Trace": "abc"}).respond("hi")
    request = http_server.requests[0]
    assert request.headers["modelname"] == "deepseek-v3" == request.json["model"]
    assert request.headers["x-trace"] == "abc"
    assert request.headers["accept"] == "application/json"


# --- missing key and insecure transport: nothing is sent ------------------------------------


def test_missing_key(http_server):
    client = Client(base_url=http_server.url)
    with pytest.raises(MissingAPIKeyError) as info:
        client.respond("hi")
    message = str(info.value)
    assert isinstance(info.value, ConfigurationError)
    assert "HAOEE_API_KEY" in message and "%haoee key" in message
    assert "\n" not in message
    assert http_server.requests == []


def test_missing_key_async(http_server):
    async def main() -> None:
        async with AsyncClient(base_url=http_server.url) as client:
            await client.respond("hi")

    with pytest.raises(MissingAPIKeyError):
        asyncio.run(main())
    assert http_server.requests == []


@pytest.mark.parametrize(
    "url", ["http://maas.haoee.com/v1", "http://10.0.0.7:8080", "http://haoee.invalid/v1", "http://[2001:db8::1]:80/v1"]
)
def test_plain_http_to_a_remote_host_is_refused_before_connecting(url):
    recorder = Recorder()
    client = offline_client(recorder, api_key=KEY, base_url=url)
    with pytest.raises(InsecureTransportError) as info:
        client.respond("hi")
    assert recorder.requests == []
    assert KEY not in str(info.value)


def test_plain_http_refusal_does_not_even_resolve_the_host():
    # A connection attempt to a .invalid host would fail differently (APIConnectionError).
    started = time.monotonic()
    with pytest.raises(InsecureTransportError):
        Client(api_key=KEY, base_url="http://haoee.invalid/v1", max_retries=0).respond("hi")
    with pytest.raises(InsecureTransportError):
        asyncio.run(AsyncClient(api_key=KEY, base_url="http://haoee.invalid/v1", max_retries=0).respond("hi"))
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/v1",
        "http://localhost:9/v1",
        "http://[::1]:9/v1",
        "http://127.0.0.2:9",
        "https://maas.haoee.com/v1",
    ],
)
def test_loopback_and_https_are_allowed(url):
    recorder = Recorder()
    offline_client(recorder, api_key=KEY, base_url=url).respond("hi")
    assert len(recorder.requests) == 1
    assert recorder.requests[0].url.path.endswith("/v1/responses")


def test_plain_http_to_localhost_really_connects(http_server):
    http_server.add(ok(http_server))
    Client(api_key=KEY, base_url=f"http://localhost:{http_server.port}").respond("hi")
    assert len(http_server.requests) == 1


# --- the key never shows ------------------------------------------------------------------


def leaks(error: BaseException, secret: str) -> list[str]:
    """Every place an error shows the secret (its text, repr, fields, and the printed traceback)."""
    views = {
        "str": str(error),
        "repr": repr(error),
        "args": repr(error.args),
        "traceback": "".join(traceback.format_exception(error)),
    }
    for field in ("message", "hint", "body", "code", "param", "type"):
        views[field] = repr(getattr(error, field, None))
    if hasattr(error, "_render_traceback_"):
        views["ipython"] = "\n".join(error._render_traceback_())
    return [name for name, view in views.items() if secret in view]


@pytest.mark.parametrize(
    "key",
    [KEY, f"Bearer {KEY}"],
    ids=["bare", "bearer"],
)
def test_key_not_in_client_repr(monkeypatch, key):
    assert KEY not in repr(Client(api_key=key))
    assert KEY not in repr(AsyncClient(api_key=key))
    monkeypatch.setenv("HAOEE_API_KEY", key)
    assert KEY not in repr(Client())
    assert "…" in repr(Client())  # it says a key is set, masked


ECHOES = {
    "401-json": dict(status=401, body=error_body(f"Incorrect API key provided: {KEY}.", "invalid_api_key")),
    "401-json-bearer": dict(status=401, body=error_body(f"Bad header 'Bearer {KEY}'", "invalid_api_key")),
    "400-json-fields": dict(status=400, body=error_body("Invalid key", code=KEY, param=KEY)),
    "400-flat-message": dict(status=400, body=json.dumps({"message": f"invalid token {KEY}"}).encode()),
    "502-html": dict(
        status=502,
        body=f"<html><head><title>Bad key {KEY}</title></head><body>{KEY}</body></html>".encode(),
        content_type="text/html",
    ),
    "403-text": dict(status=403, body=f"forbidden for {KEY}".encode(), content_type="text/plain"),
    "200-not-json": dict(status=200, body=f"token {KEY} is not valid".encode(), content_type="text/plain"),
    "200-failed-json": dict(
        status=200,
        body=json.dumps(
            {"id": "r", "status": "failed", "output": [], "error": {"code": "bad_key", "message": f"key {KEY} revoked"}}
        ).encode(),
    ),
    "stream-error-event": dict(
        status=200,
        body=sse({"type": "error", "error": {"code": "invalid_api_key", "message": f"key {KEY} revoked"}}),
        content_type=SSE,
    ),
    "stream-flat-error-event": dict(
        status=200,
        body=sse({"type": "error", "code": KEY, "message": f"key {KEY} revoked", "param": KEY}),
        content_type=SSE,
    ),
    "stream-failed": dict(
        status=200,
        body=sse(
            {
                "type": "response.failed",
                "response": {
                    "id": "r",
                    "status": "failed",
                    "output": [],
                    "error": {"code": "x", "message": f"key {KEY}"},
                },
            }
        ),
        content_type=SSE,
    ),
    "stream-not-json": dict(status=200, body=[f"data: not json, key {KEY}\n\n".encode()], content_type=SSE),
}


@pytest.mark.parametrize("given_key", [KEY, f"Bearer {KEY}"], ids=["bare", "bearer"])
@pytest.mark.parametrize("case", list(ECHOES))
def test_key_echoed_by_the_server_never_shows_in_the_error(http_server, case, given_key):
    http_server.add(http_server.Reply(**ECHOES[case]))
    stream = case.startswith("stream")
    with pytest.raises(HaoeeError) as info:
        Client(api_key=given_key, base_url=http_server.url, max_retries=0).respond("hi", stream=stream)
    assert leaks(info.value, KEY) == []


def test_key_not_in_connection_errors():
    with pytest.raises(APIConnectionError) as info:
        Client(api_key=KEY, base_url=f"http://127.0.0.1:{closed_port()}", max_retries=0).respond("hi")
    assert leaks(info.value, KEY) == []


# --- retries -------------------------------------------------------------------------------


def test_429_with_retry_after_zero_then_success(http_server):
    http_server.add(
        http_server.Reply(429, error_body("Rate limit reached", "rate_limit_exceeded"), headers={"Retry-After": "0"}),
        ok(http_server, "after the wait"),
    )
    started = time.monotonic()
    result = client_for(http_server).respond("hi")
    assert result.text == "after the wait"
    assert len(http_server.requests) == 2
    assert http_server.requests[0].body == http_server.requests[1].body
    assert time.monotonic() - started < 1


def test_429_before_a_stream_is_retried(http_server):
    http_server.add(
        http_server.Reply(429, error_body("slow down"), headers={"Retry-After": "0"}),
        http_server.Reply(200, text_stream(["Hel", "lo"]), content_type=SSE),
    )
    deltas: list[str] = []
    assert client_for(http_server).respond("hi", stream=True, on_text=deltas.append).text == "Hello"
    assert deltas == ["Hel", "lo"] and len(http_server.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried(http_server, sleeps, status):
    http_server.add(http_server.Reply(status, error_body("upstream failed", type="server_error")), ok(http_server))
    assert client_for(http_server).respond("hi").text == "Hello."
    assert len(http_server.requests) == 2
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 8


def test_429_without_retry_after_backs_off(http_server, sleeps):
    http_server.add(
        http_server.Reply(429, error_body("slow down")),
        http_server.Reply(429, error_body("slow down")),
        ok(http_server),
    )
    assert client_for(http_server).respond("hi").text == "Hello."
    assert len(http_server.requests) == 3
    assert len(sleeps) == 2 and 0 < sleeps[0] < sleeps[1] <= 8


@pytest.mark.parametrize(
    "status,cls",
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, BadRequestError),
        (422, BadRequestError),
    ],
)
def test_4xx_is_not_retried(http_server, sleeps, status, cls):
    http_server.add(http_server.Reply(status, error_body("no", "some_code")), ok(http_server))
    with pytest.raises(cls) as info:
        client_for(http_server).respond("hi")
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert len(http_server.requests) == 1 and sleeps == []


def test_max_retries_zero_sends_one_request(http_server, sleeps):
    http_server.add(http_server.Reply(503, error_body("overloaded")), ok(http_server))
    with pytest.raises(ServerError):
        client_for(http_server, max_retries=0).respond("hi")
    assert len(http_server.requests) == 1 and sleeps == []


def test_retries_exhausted_raise_the_last_error(http_server, sleeps):
    http_server.add(
        http_server.Reply(503, error_body("first")),
        http_server.Reply(502, error_body("second")),
        http_server.Reply(500, error_body("third")),
        ok(http_server),
    )
    with pytest.raises(ServerError) as info:
        client_for(http_server, max_retries=2).respond("hi")
    assert info.value.status_code == 500 and "third" in str(info.value)
    assert len(http_server.requests) == 3 and len(sleeps) == 2


def test_negative_max_retries_is_refused():
    with pytest.raises(ConfigurationError):
        Client(api_key=KEY, max_retries=-1)


def test_connection_refused_after_retries(sleeps):
    client = Client(api_key=KEY, base_url=f"http://127.0.0.1:{closed_port()}", max_retries=2)
    with pytest.raises(APIConnectionError) as info:
        client.respond("hi")
    assert not isinstance(info.value, APITimeoutError)
    assert len(sleeps) == 2  # three attempts
    assert info.value.partial is None
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("header", ["120", "61"])
def test_long_retry_after_is_raised_not_slept(http_server, sleeps, header):
    http_server.add(
        http_server.Reply(429, error_body("quota", "rate_limit_exceeded"), headers={"Retry-After": header}),
        ok(http_server),
    )
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        client_for(http_server).respond("hi")
    assert info.value.retry_after == float(header)
    assert info.value.status_code == 429 and info.value.code == "rate_limit_exceeded"
    assert len(http_server.requests) == 1 and sleeps == []
    assert time.monotonic() - started < 1


def test_stream_is_never_retried_once_bytes_arrived(http_server, sleeps):
    received = threading.Event()  # the server resets only once the client has read the deltas
    http_server.add(
        http_server.Reply(
            200, [*text_stream(["Once ", "upon ", "a "], complete=False), received], content_type=SSE, end="reset"
        ),
        http_server.Reply(200, text_stream(["WRONG"]), content_type=SSE),
    )
    deltas: list[str] = []

    def on_text(delta: str) -> None:
        deltas.append(delta)
        if len(deltas) == 3:
            received.set()

    with pytest.raises(APIConnectionError) as info:
        client_for(http_server, max_retries=3).respond("hi", stream=True, on_text=on_text)
    assert len(http_server.requests) == 1 and sleeps == []
    assert info.value.partial is not None and info.value.partial.text == "Once upon a "
    assert "".join(deltas) == "Once upon a "


def test_non_stream_body_cut_is_not_retried(http_server, sleeps):
    body = json.dumps(answer("x" * 5000)).encode()
    http_server.add(http_server.Reply(200, [body[:1000]], end="fin"), ok(http_server))
    with pytest.raises(APIConnectionError):
        client_for(http_server, max_retries=3).respond("hi")
    assert len(http_server.requests) == 1


# --- timeouts ------------------------------------------------------------------------------


def test_read_timeout_mid_stream(http_server):
    http_server.add(
        http_server.Reply(200, text_stream(["The ", "answer ", "is"], complete=False), content_type=SSE, end="hang")
    )
    deltas: list[str] = []
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        client_for(http_server, timeout=httpx.Timeout(5, read=0.3)).respond("hi", stream=True, on_text=deltas.append)
    assert time.monotonic() - started < 2
    assert info.value.partial is not None and info.value.partial.text == "The answer is"
    assert "".join(deltas) == "The answer is"
    assert len(http_server.requests) == 1
    assert "\n" not in str(info.value)


def test_read_timeout_before_any_body_is_not_retried(http_server, sleeps):
    http_server.add(http_server.Reply(200, [], end="hang"))
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        client_for(http_server, timeout=0.3).respond("hi")
    assert time.monotonic() - started < 2
    assert len(http_server.requests) == 1 and sleeps == []


def test_async_read_timeout_mid_stream(http_server):
    http_server.add(http_server.Reply(200, text_stream(["par", "tial"], complete=False), content_type=SSE, end="hang"))

    async def main() -> None:
        async with AsyncClient(api_key=KEY, base_url=http_server.url, timeout=httpx.Timeout(5, read=0.3)) as client:
            await client.respond("hi", stream=True)

    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        asyncio.run(main())
    assert time.monotonic() - started < 2
    assert info.value.partial is not None and info.value.partial.text == "partial"


def test_timeout_arguments():
    assert Client(api_key=KEY, timeout=7).timeout.read == 7
    assert Client(api_key=KEY, timeout=2.5).timeout.connect == 2.5
    custom = httpx.Timeout(30, connect=1, read=90)
    assert Client(api_key=KEY, timeout=custom).timeout is custom
    assert AsyncClient(api_key=KEY, timeout=custom).timeout is custom
    default = Client(api_key=KEY).timeout
    assert default.connect and default.read and default.read >= 60  # reasoning models think silently
    for bad in (0, -1, "10", [1]):
        with pytest.raises(ConfigurationError):
            Client(api_key=KEY, timeout=bad)


# --- map -----------------------------------------------------------------------------------


def echo_handler(server, seed: int = 0):
    delays = random.Random(seed)
    lock = threading.Lock()

    def handle(request):
        prompt = request.json["input"]
        with lock:
            delay = delays.uniform(0, 0.04)
        time.sleep(delay)
        if prompt.startswith("FAIL-"):
            status = int(prompt[5:])
            return server.Reply(status, error_body(f"failed on purpose: {prompt}", "on_purpose"))
        return server.Reply(200, json.dumps(answer(f"echo: {prompt}")).encode())

    return handle


def test_map_keeps_input_order(http_server):
    http_server.handler = echo_handler(http_server)
    prompts = [f"prompt {i}" for i in range(24)]
    results = client_for(http_server).map(prompts, concurrency=6)
    assert [r.text for r in results] == [f"echo: {p}" for p in prompts]
    assert len(http_server.requests) == 24
    assert 1 < http_server.max_inflight <= 6


def test_map_keeps_failures_in_place(http_server):
    http_server.handler = echo_handler(http_server, seed=1)
    prompts = ["a", "FAIL-400", "b", "FAIL-500", "c", "FAIL-401", "d"]
    results = client_for(http_server, max_retries=0).map(prompts, concurrency=3)
    assert [type(r) for r in results] == [
        Response,
        BadRequestError,
        Response,
        ServerError,
        Response,
        AuthenticationError,
        Response,
    ]
    assert [r.text for r in results if isinstance(r, Response)] == ["echo: a", "echo: b", "echo: c", "echo: d"]
    assert "FAIL-500" in str(results[3])
    assert len(http_server.requests) == len(prompts)


def test_map_passes_params_and_accepts_any_iterable(http_server):
    http_server.handler = echo_handler(http_server)
    results = client_for(http_server).map((p for p in ["x", "y"]), concurrency=1, instructions="Be brief.")
    assert [r.text for r in results] == ["echo: x", "echo: y"]
    assert all(r.json["instructions"] == "Be brief." for r in http_server.requests)
    assert http_server.max_inflight == 1
    assert client_for(http_server).map([]) == []


def test_map_configuration_errors_are_kept_in_place(http_server):
    results = Client(base_url=http_server.url).map(["a", "b"])  # no key anywhere
    assert all(isinstance(r, MissingAPIKeyError) for r in results)
    assert http_server.requests == []


# --- AsyncClient ---------------------------------------------------------------------------


def test_async_respond_and_stream(http_server):
    http_server.add(ok(http_server, "plain"), http_server.Reply(200, text_stream(["str", "eam"]), content_type=SSE))
    deltas: list[str] = []

    async def main() -> tuple[Response, Response]:
        async with AsyncClient(api_key=KEY, base_url=http_server.url) as client:
            return await client.respond("a"), await client.respond("b", stream=True, on_text=deltas.append)

    plain, streamed = asyncio.run(main())
    assert plain.text == "plain" and streamed.text == "stream" and deltas == ["str", "eam"]
    assert http_server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert http_server.requests[1].json["stream"] is True


def test_async_map_order_failures_and_concurrency(http_server):
    http_server.handler = echo_handler(http_server, seed=2)
    prompts = [f"p{i}" if i % 7 else f"FAIL-40{i % 3}" for i in range(20)]

    async def main() -> list[Any]:
        async with AsyncClient(api_key=KEY, base_url=http_server.url, max_retries=0) as client:
            return await client.map(prompts, concurrency=4)

    results = asyncio.run(main())
    assert len(results) == len(prompts)
    for prompt, result in zip(prompts, results):
        if prompt.startswith("FAIL-"):
            assert isinstance(result, APIStatusError) and prompt in str(result)
        else:
            assert isinstance(result, Response) and result.text == f"echo: {prompt}"
    assert 1 < http_server.max_inflight <= 4


def test_async_retry_after_zero(http_server):
    http_server.add(http_server.Reply(429, error_body("wait"), headers={"Retry-After": "0"}), ok(http_server))

    async def main() -> Response:
        async with AsyncClient(api_key=KEY, base_url=http_server.url) as client:
            return await client.respond("hi")

    assert asyncio.run(main()).text == "Hello."
    assert len(http_server.requests) == 2


def test_async_5xx_retried_and_4xx_not(http_server, monkeypatch):
    monkeypatch.setattr(_base, "random", SimpleNamespace(uniform=lambda a, b: 0.0))  # no backoff wait
    http_server.add(
        http_server.Reply(502, b"bad gateway", content_type="text/plain"),
        ok(http_server),
        http_server.Reply(400, error_body("bad")),
    )

    async def main() -> None:
        async with AsyncClient(api_key=KEY, base_url=http_server.url) as client:
            assert (await client.respond("hi")).text == "Hello."
            with pytest.raises(BadRequestError):
                await client.respond("hi")

    asyncio.run(main())
    assert len(http_server.requests) == 3


# --- Ctrl-C --------------------------------------------------------------------------------


def test_keyboard_interrupt_in_on_text_keeps_the_partial_and_closes_the_connection(http_server):
    deltas = [f"word{i} " for i in range(10)]
    http_server.add(http_server.Reply(200, text_stream(deltas, complete=False), content_type=SSE, end="drip", hang=5))
    seen: list[str] = []

    def on_text(delta: str) -> None:
        seen.append(delta)
        if len(seen) == 3:
            raise KeyboardInterrupt

    client = client_for(http_server)
    with pytest.raises(KeyboardInterrupt) as info:
        client.respond("hi", stream=True, on_text=on_text)
    partial = info.value.partial  # type: ignore[attr-defined]
    assert isinstance(partial, Response)
    assert partial.text == "".join(deltas[:3]) == "".join(seen)
    # The server notices the client went away (its writes fail) well before its 5 s drip ends.
    assert http_server.disconnected.wait(2), "the connection was left open after the interrupt"
    assert len(http_server.requests) == 1


def test_keyboard_interrupt_async(http_server):
    http_server.add(
        http_server.Reply(200, text_stream(["a", "b", "c", "d"], complete=False), content_type=SSE, end="drip", hang=5)
    )

    def on_text(delta: str) -> None:
        if delta == "b":
            raise KeyboardInterrupt

    async def main() -> None:
        async with AsyncClient(api_key=KEY, base_url=http_server.url) as client:
            await client.respond("hi", stream=True, on_text=on_text)

    with pytest.raises(KeyboardInterrupt) as info:
        asyncio.run(main())
    assert info.value.partial.text == "ab"  # type: ignore[attr-defined]
    assert http_server.disconnected.wait(2)


# --- package surface -----------------------------------------------------------------------


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_is_light():
    out = run_python(
        """
        import sys, haoee_jupyter
        print(sorted(m for m in ("httpx", "IPython", "ipywidgets") if m in sys.modules))
        """
    )
    assert out == "[]"


def test_using_the_answer_types_and_errors_is_light():
    out = run_python(
        """
        import sys, haoee_jupyter
        haoee_jupyter.HaoeeError, haoee_jupyter.Response, haoee_jupyter.Usage, haoee_jupyter.RateLimitError
        print(sorted(m for m in ("httpx", "IPython", "ipywidgets") if m in sys.modules))
        """
    )
    assert out == "[]"


@pytest.mark.parametrize("name", haoee_jupyter.__all__)
def test_every_public_name_is_importable(name):
    assert getattr(haoee_jupyter, name) is not None
    namespace: dict[str, Any] = {}
    exec(f"from haoee_jupyter import {name}", namespace)
    assert namespace[name] is getattr(haoee_jupyter, name)


def test_all_is_complete():
    names = set(haoee_jupyter.__all__)
    assert {"Client", "AsyncClient", "Response", "Usage", "Citation", "HaoeeError", "form"} <= names
    assert set(_exceptions.__all__) <= names
    assert len(haoee_jupyter.__all__) == len(names)
    assert names <= set(dir(haoee_jupyter))


@pytest.mark.parametrize("name", _exceptions.__all__)
def test_every_exception_derives_from_haoee_error(name):
    cls = getattr(_exceptions, name)
    assert issubclass(cls, HaoeeError)
    assert getattr(haoee_jupyter, name) is cls
    error = cls("Something went wrong.")
    assert "\n" not in str(error) and str(error).startswith("Something went wrong")
    assert error.partial is None and error.status_code is None


def test_error_tree_shape():
    assert issubclass(MissingAPIKeyError, ConfigurationError) and issubclass(InsecureTransportError, ConfigurationError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(NotFoundError, BadRequestError)
    for cls in (BadRequestError, AuthenticationError, PermissionDeniedError, RateLimitError, ServerError):
        assert issubclass(cls, APIStatusError)


def test_usage_addition():
    a = Usage(input_tokens=10, output_tokens=5, total_tokens=15, cached_tokens=2, reasoning_tokens=1)
    b = Usage(input_tokens=1, output_tokens=2, total_tokens=3)
    assert a + b == Usage(11, 7, 18, 2, 1)
    assert sum([a, b], Usage()) == a + b


# --- garbage servers: nothing but HaoeeError escapes ----------------------------------------

EVENT_TYPES = [
    "response.created",
    "response.in_progress",
    "response.queued",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
    "keepalive",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.output_text.annotation.added",
    "response.refusal.delta",
    "response.refusal.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
    "response.function_call_arguments.delta",
    "something.else",
]
KEYS = [
    "type",
    "response",
    "output",
    "content",
    "text",
    "delta",
    "item",
    "part",
    "output_index",
    "content_index",
    "summary_index",
    "annotations",
    "annotation",
    "usage",
    "status",
    "error",
    "message",
    "code",
    "param",
    "id",
    "model",
    "refusal",
    "summary",
    "url",
    "title",
    "incomplete_details",
    "reason",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "input_tokens_details",
    "cached_tokens",
    "arguments",
    "name",
    "action",
    "queries",
    "query",
]
VALUES = [
    "message",
    "output_text",
    "refusal",
    "reasoning",
    "summary_text",
    "url_citation",
    "web_search_call",
    "function_call",
    "completed",
    "failed",
    "incomplete",
]
small_index = st.integers(-2, 3)
leaves = (
    st.none()
    | st.booleans()
    | small_index
    | st.integers(-(10**4), 10**4)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=4)
    | st.sampled_from(EVENT_TYPES + VALUES)
)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=8,
)
objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4)
#: Events shaped like the real ones, with wrong types and odd values where it matters.
events = st.fixed_dictionaries(
    {"type": st.one_of(*[st.sampled_from(EVENT_TYPES)] * 4, st.text(max_size=4))},
    optional={
        "output_index": small_index | leaves,
        "content_index": small_index | leaves,
        "summary_index": small_index | leaves,
        "delta": st.text(min_size=1, max_size=3) | leaves,
        "text": st.text(max_size=3) | leaves,
        "refusal": st.text(max_size=3) | leaves,
        "item": objects,
        "part": objects,
        "response": objects,
        "annotation": objects,
        "error": objects | leaves,
        "message": leaves,
        "code": leaves,
    },
)
GARBAGE = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples every run
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def use(response: Response) -> None:
    """Touch everything a user might read from a Response."""
    _ = response.text, response.usage, response.id, response.model, response.status, response.citations
    _ = response.reasoning, response.refusal, response.incomplete_reason, response.error, response.web_searches
    response.function_calls, response.raw, repr(response), str(response)
    response.usage + response.usage


@pytest.fixture(scope="module")
def garbage_client(_loopback_server):
    """One client for all the examples of a test (making an httpx client costs ~20 ms)."""
    with Client(api_key=KEY, base_url=_loopback_server.url, max_retries=0) as client:
        yield client


def outcome(server, reply, *, stream: bool, client: Client | None = None) -> None:
    server.reset()
    server.add(reply)
    client = client or Client(api_key=KEY, base_url=server.url, max_retries=0)
    try:
        response = client.respond("hi", stream=stream, on_text=lambda d: None)
    except HaoeeError as e:
        str(e), repr(e)
        if e.partial is not None:
            use(e.partial)
    else:
        use(response)


@GARBAGE
@given(body=st.binary(max_size=600))
def test_random_bytes_as_a_stream(http_server, garbage_client, body):
    outcome(http_server, http_server.Reply(200, [body], content_type=SSE), stream=True, client=garbage_client)


@GARBAGE
@given(body=st.binary(max_size=600), content_type=st.sampled_from(["application/json", "text/plain", None]))
def test_random_bytes_as_a_json_body(http_server, garbage_client, body, content_type):
    outcome(http_server, http_server.Reply(200, body, content_type=content_type), stream=False, client=garbage_client)


SSE_LINES = st.sampled_from(
    [b"", b"data: ", b"data: [DONE]", b"event: error", b": PING", b"data:{", b"{", b"\r", b"id: 1", b"retry: x"]
)


@GARBAGE
@given(
    lines=st.lists(
        SSE_LINES | st.binary(max_size=20) | events.map(lambda e: b"data: " + json.dumps(e).encode()), max_size=12
    )
)
def test_random_sse_lines(http_server, garbage_client, lines):
    outcome(
        http_server, http_server.Reply(200, [b"\n".join(lines)], content_type=SSE), stream=True, client=garbage_client
    )


@settings(GARBAGE, max_examples=250)
@given(stream=st.lists(events, min_size=1, max_size=8))
def test_random_event_sequences(http_server, garbage_client, stream):
    outcome(
        http_server,
        http_server.Reply(200, [f"data: {json.dumps(e)}\n\n".encode() for e in stream], content_type=SSE),
        stream=True,
        client=garbage_client,
    )


@GARBAGE
@given(body=json_values)
def test_random_json_bodies(http_server, garbage_client, body):
    outcome(http_server, http_server.Reply(200, json.dumps(body).encode()), stream=False, client=garbage_client)


@GARBAGE
@given(status=st.integers(400, 599), body=json_values | st.binary(max_size=100).map(lambda b: b.decode("latin-1")))
def test_random_error_bodies(http_server, garbage_client, status, body):
    http_server.reset()
    http_server.add(http_server.Reply(status, json.dumps(body).encode()))
    with pytest.raises(APIStatusError) as info:
        garbage_client.respond("hi")
    assert info.value.status_code == status
    assert "\n" not in str(info.value)


DEEP = b"[" * 100_000


@pytest.mark.parametrize(
    "status,body,content_type,stream",
    [
        (200, DEEP, "application/json", False),
        (400, DEEP, "application/json", False),
        (200, [b"data: " + DEEP + b"\n\n"], SSE, True),
        (
            200,
            [
                b"data: "
                + json.dumps(
                    {
                        "type": "response.output_item.added",
                        "output_index": 0,
                        "item": {"type": "message", "content": json.loads("[" * 700 + "]" * 700)},
                    }
                ).encode()
                + b"\n\n"
            ],
            SSE,
            True,
        ),
    ],
    ids=["json-200", "json-400", "stream-data", "stream-deep-item"],
)
def test_deeply_nested_json_is_not_a_recursion_error(http_server, status, body, content_type, stream):
    http_server.add(http_server.Reply(status, body, content_type=content_type))
    with pytest.raises(HaoeeError):
        Client(api_key=KEY, base_url=http_server.url, max_retries=0).respond("hi", stream=stream)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "content": 5}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "message", "content": ["not a part"]},
        },
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "summary": "oops"}},
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "content_index": -3,
            "part": {"type": "output_text"},
        },
        {"type": "response.output_text.delta", "output_index": 0, "content_index": -1, "delta": "x"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": -2, "delta": "x"},
    ],
)
def test_odd_shapes_in_a_stream(http_server, garbage_client, event):
    follow = [
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "x"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "y"},
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "z"},
    ]
    outcome(
        http_server, http_server.Reply(200, sse(event, *follow), content_type=SSE), stream=True, client=garbage_client
    )


def test_huge_indexes_do_not_exhaust_memory(http_server):
    """content_index 10**12 from a broken server must not make the client build a list that long.

    Run in a subprocess with a memory cap, so a regression fails instead of taking the machine down.
    """
    events = [
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 10**12, "delta": "x"},
        {"type": "response.reasoning_text.delta", "output_index": 1, "content_index": 10**12, "delta": "y"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 2, "summary_index": 10**12, "delta": "z"},
    ]
    http_server.add(http_server.Reply(200, sse(*events), content_type=SSE))
    out = run_python(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
        from haoee_jupyter import Client, HaoeeError
        try:
            Client(api_key="{KEY}", base_url="{http_server.url}", max_retries=0).respond("hi", stream=True)
        except HaoeeError as e:
            print("HaoeeError")
        """
    )
    assert out == "HaoeeError"


# --- review follow-ups: odd keys and models, redirects, pages, hints, URLs -----------------


def test_a_key_cut_by_an_excerpt_is_still_hidden(http_server):
    http_server.add(status=400, body=b"Bad key: " + b"y" * 140 + KEY.encode(), content_type="text/plain")
    with pytest.raises(BadRequestError) as caught:
        Client(api_key=KEY, base_url=http_server.url, max_retries=0).respond("hi")
    shown = str(caught.value) + repr(caught.value) + str(caught.value.body)
    assert KEY[:8] not in shown


def test_invisible_characters_around_a_pasted_key_are_dropped(http_server):
    http_server.add(ok(http_server))
    Client(api_key="\u200b" + KEY + "\ufeff ", base_url=http_server.url).respond("hi")
    assert http_server.requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("key", ["ключ-0123456789", "sk-abc def-0123456789"])
def test_a_key_no_header_can_carry_is_a_configuration_error(http_server, key):
    with pytest.raises(ConfigurationError) as caught:
        Client(api_key=key, base_url=http_server.url).respond("hi")
    assert "key" in str(caught.value) and key not in str(caught.value)
    assert not http_server.requests


@pytest.mark.parametrize("model", ["模型", "bad\nname", "two words"])
def test_a_model_name_no_header_can_carry_is_a_configuration_error(http_server, model):
    with pytest.raises(ConfigurationError, match="model name"):
        Client(api_key=KEY, base_url=http_server.url).respond("hi", model=model)
    assert not http_server.requests


def test_an_html_page_answering_a_stream_request_says_it_is_not_json(http_server):
    http_server.add(
        status=200, body=b"<html><head><title>Login</title></head><body>Sign in</body></html>", content_type="text/html"
    )
    with pytest.raises(ProtocolError) as caught:
        Client(api_key=KEY, base_url=http_server.url).respond("hi", stream=True)
    assert "not JSON" in str(caught.value) and "Login" in str(caught.value)


def test_a_redirect_is_an_error_that_names_where_to(http_server):
    http_server.add(status=302, body=b"", headers={"Location": "https://elsewhere.example/v1/responses"})
    with pytest.raises(APIStatusError) as caught:
        Client(api_key=KEY, base_url=http_server.url, max_retries=0).respond("hi", stream=True)
    assert "elsewhere.example" in str(caught.value) and "HAOEE_BASE_URL" in str(caught.value)


def test_retry_after_is_honoured_on_503_too(http_server, sleeps):
    http_server.add(
        http_server.Reply(503, b"busy", content_type="text/plain", headers={"Retry-After": "3"}), ok(http_server)
    )
    assert Client(api_key=KEY, base_url=http_server.url).respond("hi").text == "Hello."
    assert sleeps == [3.0]


def test_a_lost_conversation_hints_at_resetting_the_chat(http_server):
    http_server.add(
        status=400,
        body=error_body(
            "Previous response with id 'resp_x' not found.", "previous_response_not_found", param="previous_response_id"
        ),
    )
    with pytest.raises(NotFoundError, match="%haoee reset"):
        Client(api_key=KEY, base_url=http_server.url).respond("hi", previous_response_id="resp_x")


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://maas.haoee.com", "https://maas.haoee.com/v1"),
        ("https://maas.haoee.com/v1/responses", "https://maas.haoee.com/v1"),
        ("https://relay.example/api/v2/openai", "https://relay.example/api/v2/openai"),
        ("https://relay.example/api/", "https://relay.example/api/v1"),
    ],
)
def test_base_url_forms(url, expected):
    assert Client(api_key=KEY, base_url=url).base_url == expected


def test_a_closed_client_can_be_used_again(http_server):
    http_server.add(ok(http_server))
    client = Client(api_key=KEY, base_url=http_server.url)
    client.respond("hi")
    client.close()
    assert client.respond("again").text == "Hello."
