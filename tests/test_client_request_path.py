"""One request path: build_request is the request that is sent, transport= is the seam, one pool
per client, and which failures are sent again (never once an answer has begun, never a billed job
the server may have accepted).

In-process cases use ``httpx.MockTransport``; connection faults use real loopback sockets.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from haoee_jupyter import APIConnectionError, APIStatusError, AsyncClient, Client, ConfigurationError, Response
from haoee_jupyter.client import _base, _client

KEY = "sk-request-path-7d1e0c5b9a3f"
ENV = ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL")


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def no_backoff(monkeypatch):
    """Retry waits of zero (the jitter is the only random part of the wait)."""
    monkeypatch.setattr(_base, "random", SimpleNamespace(uniform=lambda a, b: 0.0))
    slept: list[float] = []
    monkeypatch.setattr(_client, "time", SimpleNamespace(sleep=slept.append))
    return slept


def answer(text: str = "Hello.") -> dict[str, Any]:
    return {
        "id": "resp_1",
        "status": "completed",
        "model": "gpt-4.1",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
    }


class Recorder:
    def __init__(self, reply: Any = None) -> None:
        self.requests: list[httpx.Request] = []
        self.reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.reply):
            return self.reply(request)  # type: ignore[no-any-return]
        return httpx.Response(200, json=self.reply or answer())


# --- build_request -------------------------------------------------------------------------


def test_build_request_is_exactly_what_respond_sends():
    recorder = Recorder()
    client = Client(api_key=KEY, base_url="https://maas.haoee.com", transport=httpx.MockTransport(recorder))
    client.respond("Say hi", model="deepseek-v3", stream=False, temperature=0.5)
    (sent,) = recorder.requests
    body = {"model": "deepseek-v3", "input": "Say hi", "temperature": 0.5}
    built = client.build_request("POST", "/responses", json=body)
    assert built.method == sent.method == "POST"
    assert built.url == sent.url == "https://maas.haoee.com/v1/responses"
    assert built.content == sent.content and json.loads(built.content) == body
    assert list(built.headers.items()) == list(sent.headers.items())  # every header, nothing added on the way
    assert built.headers["Authorization"] == f"Bearer {KEY}"
    assert built.headers["ModelName"] == "deepseek-v3"
    assert built.headers["Accept"] == "application/json"
    assert built.headers["Content-Type"] == "application/json"
    assert built.headers["User-Agent"].startswith("haoee-jupyter/")


def test_build_request_for_a_stream_and_for_a_get():
    client = Client(api_key=KEY)
    streamed = client.build_request(
        "POST", "/responses", json={"model": "m1", "input": "x", "stream": True}, stream=True
    )
    assert streamed.headers["Accept"] == "text/event-stream" and streamed.headers["ModelName"] == "m1"
    listing = client.build_request("GET", "models")
    assert listing.url == "https://maas.haoee.com/v1/models" and listing.content == b""
    assert "ModelName" not in listing.headers and "Content-Type" not in listing.headers
    assert client.build_request("GET", "/videos/v1", model="sora-2").headers["ModelName"] == "sora-2"


def test_build_request_multipart():
    client = Client(api_key=KEY, headers={"X-Trace": "t1"})
    request = client.build_request(
        "POST",
        "/videos",
        data={"model": "sora-2", "prompt": "a cat"},
        files={"input_reference": ("cat.png", b"\x89PNG")},
    )
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request.headers["ModelName"] == "sora-2" and request.headers["X-Trace"] == "t1"
    assert b'name="prompt"' in request.content and b"\x89PNG" in request.content
    with pytest.raises(ConfigurationError):
        client.build_request("POST", "/videos", json={"a": 1}, files={"f": b"x"})


def test_a_url_on_another_host_gets_no_key():
    client = Client(api_key=KEY, base_url="https://maas.haoee.com/v1")
    download = client.build_request("GET", "https://cdn.example.com/video.mp4", model="sora-2")
    assert "Authorization" not in download.headers and "ModelName" not in download.headers
    own = client.build_request("GET", "https://maas.haoee.com/v1/videos/v1/content")
    assert own.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("body", [{"x": float("nan")}, {"x": object()}])
def test_a_body_that_is_not_json_is_refused_before_sending(body):
    recorder = Recorder()
    client = Client(api_key=KEY, transport=httpx.MockTransport(recorder))
    with pytest.raises(ConfigurationError, match="JSON"):
        client.respond("hi", metadata=body)
    assert recorder.requests == []


def test_build_request_without_a_key_says_how_to_set_one():
    with pytest.raises(ConfigurationError, match="HAOEE_API_KEY"):
        Client().build_request("POST", "/responses", json={"model": "m", "input": "x"})


# --- transport= ----------------------------------------------------------------------------


def test_async_client_takes_a_transport():
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer("async"))

    async def main() -> Response:
        async with AsyncClient(api_key=KEY, transport=httpx.MockTransport(handler)) as client:
            return await client.respond("hi")

    assert asyncio.run(main()).text == "async"
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"


def test_models_goes_through_the_same_path():
    recorder = Recorder(lambda request: httpx.Response(200, json={"data": [{"id": "b"}, {"id": "a"}]}))
    assert Client(api_key=KEY, transport=httpx.MockTransport(recorder)).models() == ["a", "b"]
    (request,) = recorder.requests
    assert request.method == "GET" and request.url.path == "/v1/models"
    assert request.headers["Authorization"] == f"Bearer {KEY}"


# --- the pool ------------------------------------------------------------------------------


@pytest.fixture
def constructions(monkeypatch):
    """Every httpx.Client made while the test runs."""
    made: list[httpx.Client] = []
    original = httpx.Client.__init__

    def counting(self: httpx.Client, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(httpx.Client, "__init__", counting)
    return made


def test_a_fresh_map_at_concurrency_30_builds_one_pool(http_server, constructions):
    http_server.handler = lambda request: http_server.Reply(200, json.dumps(answer("ok")).encode())
    client = Client(api_key=KEY, base_url=http_server.url)
    results = client.map([f"p{i}" for i in range(60)], concurrency=30)
    assert all(isinstance(r, Response) for r in results)
    assert len(constructions) == 1
    client.close()
    assert all(http.is_closed for http in constructions)  # none dropped unclosed


def test_the_pool_grows_with_the_concurrency_asked_for(http_server, constructions):
    http_server.handler = lambda request: http_server.Reply(200, json.dumps(answer("ok")).encode())
    client = Client(api_key=KEY, base_url=http_server.url)
    client.respond("first")
    assert len(constructions) == 1
    client.map(["a", "b"], concurrency=2)  # fits: no new pool
    assert len(constructions) == 1
    results = client.map([f"p{i}" for i in range(150)], concurrency=150)
    assert all(isinstance(r, Response) for r in results)
    assert len(constructions) == 2  # rebuilt once, larger
    assert constructions[0].is_closed  # the old one is closed once nothing uses it
    client.map([f"p{i}" for i in range(20)], concurrency=150)
    assert len(constructions) == 2
    client.close()
    assert all(http.is_closed for http in constructions)


def test_dropping_a_client_closes_its_pool(http_server, constructions):
    http_server.add(http_server.Reply(200, json.dumps(answer()).encode()))
    client = Client(api_key=KEY, base_url=http_server.url)
    client.respond("hi")
    (http,) = constructions
    del client
    gc.collect()
    assert http.is_closed


def test_a_closed_client_is_used_again_with_a_new_pool(http_server, constructions):
    http_server.add(http_server.Reply(200, json.dumps(answer()).encode()))
    with Client(api_key=KEY, base_url=http_server.url) as client:
        client.respond("hi")
    assert constructions[0].is_closed
    assert client.respond("again").text == "Hello."
    assert len(constructions) == 2 and not constructions[1].is_closed
    client.close()


def test_async_client_builds_one_pool_and_closes_it(http_server, monkeypatch):
    made: list[httpx.AsyncClient] = []
    original = httpx.AsyncClient.__init__

    def counting(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting)
    http_server.handler = lambda request: http_server.Reply(200, json.dumps(answer("ok")).encode())

    async def main() -> None:
        client = AsyncClient(api_key=KEY, base_url=http_server.url)
        assert all(isinstance(r, Response) for r in await client.map([f"p{i}" for i in range(40)], concurrency=20))
        await client.aclose()
        assert (await client.respond("again")).text == "ok"  # usable after aclose
        await client.aclose()

    asyncio.run(main())
    assert len(made) == 2 and all(http.is_closed for http in made)


# --- which failures are sent again -----------------------------------------------------------


class Flaky:
    """A raw loopback server: the first ``faults`` connections read the request and then close
    (``"fin"``: no answer at all) or reset (``"rst"``); later ones answer 200."""

    def __init__(self, faults: int, how: str) -> None:
        self.faults, self.how = faults, how
        self.requests = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        body = json.dumps(answer("after the fault")).encode()
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests += 1
                if self.requests <= self.faults:
                    if self.how == "rst":
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    continue
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                conn.sendall(head.encode() + body)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_a_connection_closed_before_any_answer_is_sent_again(no_backoff, how):
    server = Flaky(faults=2, how=how)
    try:
        result = Client(api_key=KEY, base_url=server.url, max_retries=2).respond("hi")
        assert result.text == "after the fault" and server.requests == 3
    finally:
        server.close()


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_retries_used_up_say_how_many_tries(no_backoff, how):
    server = Flaky(faults=5, how=how)
    try:
        with pytest.raises(APIConnectionError) as caught:
            Client(api_key=KEY, base_url=server.url, max_retries=2).respond("hi")
        assert server.requests == 3 and caught.value.attempts == 3
        assert "tried 3 times" in str(caught.value) and "before the answer began" in str(caught.value)
        assert "\n" not in str(caught.value)
    finally:
        server.close()


@pytest.mark.parametrize(
    "fault",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.ConnectError("[Errno 111] Connection refused"),
    ],
    ids=["disconnected", "reset", "refused"],
)
def test_failures_before_any_answer_are_retried_for_both_clients(no_backoff, fault):
    def handler(request: httpx.Request) -> httpx.Response:
        if len(calls) < 2:
            calls.append(request)
            raise type(fault)(str(fault), request=request)
        calls.append(request)
        return httpx.Response(200, json=answer("third time"))

    calls: list[httpx.Request] = []
    assert Client(api_key=KEY, transport=httpx.MockTransport(handler)).respond("hi").text == "third time"
    assert len(calls) == 3

    async def ahandler(request: httpx.Request) -> httpx.Response:
        return handler(request)

    async def main() -> Response:
        return await AsyncClient(api_key=KEY, transport=httpx.MockTransport(ahandler)).respond("hi")

    calls.clear()
    assert asyncio.run(main()).text == "third time" and len(calls) == 3


@pytest.mark.parametrize(
    "fault",
    [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("illegal status line: bytearray(b'HTP/1.1 200')")],
    ids=["read-timeout", "garbled-answer"],
)
def test_failures_once_the_server_may_be_answering_are_not_retried(no_backoff, fault):
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise type(fault)(str(fault), request=request)

    with pytest.raises(APIConnectionError):
        Client(api_key=KEY, transport=httpx.MockTransport(handler)).respond("hi")
    assert len(calls) == 1


def test_a_billed_job_is_sent_again_only_when_the_connection_was_never_made(no_backoff):
    """``idempotent=False``: a reset or a 5xx may mean the server took the job, so it is not sent twice."""
    faults: list[Exception | int] = []
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        fault = faults.pop(0) if faults else None
        if isinstance(fault, int):
            return httpx.Response(fault, json={"error": {"message": "busy"}})
        if fault is not None:
            raise type(fault)(str(fault), request=request)
        return httpx.Response(200, json={"id": "video_1", "status": "queued"})

    client = Client(api_key=KEY, transport=httpx.MockTransport(handler), max_retries=3)

    def create() -> Any:
        return client.create_video("p")

    faults[:] = [httpx.ConnectError("refused"), httpx.ConnectTimeout("timed out")]
    assert create().id == "video_1" and len(calls) == 3
    for fault in (
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        503,
        429,
    ):
        calls.clear()
        faults[:] = [fault]
        with pytest.raises((APIConnectionError, APIStatusError)):
            create()
        assert len(calls) == 1, fault


class _Backlog(ThreadingHTTPServer):
    request_queue_size = 5  # the listen backlog: most of 50 concurrent connects overflow it
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = json.dumps(answer("ok")).encode()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Connection", "close")  # every request a new connection: the worst case
        self.end_headers()
        self.wfile.write(self.body)


def test_map_of_500_at_concurrency_50_against_a_listen_backlog_of_5_loses_none():
    server = _Backlog(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        client = Client(api_key=KEY, base_url=f"http://127.0.0.1:{server.server_address[1]}")
        started = time.monotonic()
        results = client.map([f"item {i}" for i in range(500)], concurrency=50)
        failed = [str(r) for r in results if not isinstance(r, Response)]
        assert failed == [], f"{len(failed)} lost, e.g. {failed[:2]}"
        assert time.monotonic() - started < 60
        client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_dropping_an_async_client_in_its_loop_closes_its_pool(http_server, monkeypatch):
    made: list[httpx.AsyncClient] = []
    original = httpx.AsyncClient.__init__

    def counting(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting)
    http_server.add(http_server.Reply(200, json.dumps(answer()).encode()))

    async def main() -> None:
        client = AsyncClient(api_key=KEY, base_url=http_server.url)
        await client.respond("hi")
        del client
        gc.collect()
        for _ in range(500):  # the close runs as a task on this loop
            if made[0].is_closed:
                break
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert len(made) == 1 and made[0].is_closed
