"""Keep-alive honesty of the offline server, checked on raw sockets.

After every answer, either the answer said `Connection: close` and the server closes, or the
same connection serves the next request. A client that reuses a connection the server dropped
without saying so fails at random under load; here that shows up every time, deterministically.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from haoee_jupyter.offline import OfflineServer

AUTH = "Authorization: Bearer offline-test\r\n"


def http_request(method: str, path: str, body: Any = None, headers: str = AUTH, raw: bytes | None = None) -> bytes:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
    if data or method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    return (head + "\r\n").encode() + data


class Connection:
    """One keep-alive connection and a strict reader of HTTP/1.1 answers."""

    def __init__(self, server: OfflineServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_answer(self) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and body; a cut-off body is returned as far as it got."""
        status_line = self.file.readline()
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size_line = self.file.readline()
                if not size_line:
                    break
                size = int(size_line.strip(), 16)
                chunk = self.file.read(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = self.file.read(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, body

    def at_eof(self) -> bool:
        try:
            return self.file.read(1) == b""
        except ConnectionResetError:
            return True


def check_keep_alive_honesty(server: OfflineServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    connection = Connection(server)
    try:
        connection.send(request)
        status, headers, body = connection.read_answer()
        if headers.get("connection", "").lower() == "close":
            assert connection.at_eof(), "said Connection: close but kept the connection open"
        else:
            # Not announced, so the connection must still serve: this is what a pooled client does.
            connection.send(http_request("GET", "/v1/models"))
            again, _headers, listing = connection.read_answer()
            assert again == 200 and json.loads(listing)["object"] == "list"
        return status, headers, body
    finally:
        connection.close()


def responses_body(model: str = "gpt-4.1", stream: bool = False) -> dict[str, Any]:
    return {"model": model, "input": "Explain a p-value.", "stream": stream}


CASES = {
    "plain": http_request("POST", "/v1/responses", responses_body()),
    "stream": http_request("POST", "/v1/responses", responses_body(stream=True)),
    "models": http_request("GET", "/v1/models"),
    "unknown-url": http_request("GET", "/v1/nothing-here"),
    "bad-json": http_request("POST", "/v1/responses", raw=b"{not json"),
    "missing-key": http_request("POST", "/v1/responses", responses_body(), headers=""),
    "client-asks-to-close": http_request("GET", "/v1/models", headers=AUTH + "Connection: close\r\n"),
    "too-large": (
        b"POST /v1/responses HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"Content-Length: 999999999999\r\n\r\n"
    ),
    "bad-chunked": (
        b"POST /v1/responses HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"
    ),
    **{
        f"fault-{fault}{'-stream' if stream else ''}": http_request(
            "POST", "/v1/responses", responses_body(f"fault-{fault}", stream)
        )
        for fault in ("429", "500", "truncated", "malformed", "error-event", "failed")
        for stream in (False, True)
    },
    **{
        f"{endpoint}-{fault}{'-stream' if stream else ''}": http_request(
            "POST", path, {**body, "model": f"fault-{fault}" if fault != "ok" else "m", "stream": stream}
        )
        for endpoint, path, body in (
            ("chat", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
            ("image", "/v1/images/generations", {"prompt": "a fox", "size": "32x32", "partial_images": 1}),
        )
        for fault in ("ok", "429", "502", "truncated", "malformed", "error-event", "failed")
        for stream in (False, True)
    },
    **{
        f"video-{fault}": http_request("POST", "/v1/videos", {"prompt": "a cat", "model": f"fault-{fault}"})
        for fault in ("429", "503", "truncated", "malformed", "failed")
    },
    "video-list": http_request("GET", "/v1/videos"),
    "video-missing": http_request("GET", "/v1/videos/video_nope/content"),
    "image-download-missing": http_request("GET", "/v1/files/images/img_nope.png", headers=""),
    "edit-not-multipart": http_request("POST", "/v1/images/edits", raw=b"--x--"),
}
ANNOUNCED = {
    "too-large",
    "bad-chunked",
    "client-asks-to-close",
    "fault-truncated",
    "fault-malformed-stream",
    "chat-truncated",
    "chat-malformed-stream",
    "image-truncated",
    "image-malformed-stream",
    "video-truncated",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_close_is_announced(offline_server: OfflineServer, case: str) -> None:
    status, headers, _body = check_keep_alive_honesty(offline_server, CASES[case])
    assert 200 <= status < 600
    if case in ANNOUNCED:
        assert headers.get("connection") == "close", case


def test_truncated_answer_promises_more_than_it_sends(offline_server: OfflineServer) -> None:
    connection = Connection(offline_server)
    try:
        connection.send(http_request("POST", "/v1/responses", responses_body("fault-truncated")))
        status, headers, body = connection.read_answer()
        assert status == 200 and headers["connection"] == "close"
        assert 0 < len(body) < int(headers["content-length"])
        assert connection.at_eof()
    finally:
        connection.close()


def test_stop_during_the_answer_delay_says_503_and_close() -> None:
    server = OfflineServer(latency_ms=5000).start()
    connection = Connection(server)
    try:
        connection.send(http_request("POST", "/v1/responses", responses_body()))
        # The server now waits 5 s before answering; stopping it must not leave the client hanging.
        deadline = time.monotonic() + 10
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        server.stop()
        try:
            status, headers, body = connection.read_answer()
        except (AssertionError, ConnectionError):
            return  # the stop closed the socket before the 503 went out: also an honest end
        assert status == 503 and headers["connection"] == "close"
        assert json.loads(body)["error"]["code"] == "stopping"
    finally:
        connection.close()
        server.stop()
