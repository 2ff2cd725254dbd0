"""Shared fixtures for the haoee_jupyter tests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

import pytest

# --- the call log and the response cache never go to the real user data directory --------


def pytest_configure(config: pytest.Config) -> None:
    """Before any fixture runs (kernels and JupyterLab servers of module scope included, which
    inherit the environment): HAOEE_HOME and the XDG data directory it falls back to (for the
    tests that clear every HAOEE_* variable) are a temporary folder for the whole run."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="haoee-tests-")
    config._haoee_saved_env = {name: os.environ.get(name) for name in ("HAOEE_HOME", "XDG_DATA_HOME")}  # type: ignore[attr-defined]
    config._haoee_folder = folder  # type: ignore[attr-defined]
    os.environ["HAOEE_HOME"] = os.path.join(folder, "haoee-home")
    os.environ["XDG_DATA_HOME"] = os.path.join(folder, "xdg-data")


def pytest_unconfigure(config: pytest.Config) -> None:
    for name, value in getattr(config, "_haoee_saved_env", {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    folder = getattr(config, "_haoee_folder", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def haoee_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Each test its own call log and cache (HAOEE_HOME, made on the first write)."""
    folder = tmp_path_factory.mktemp("haoee", numbered=True) / "home"
    monkeypatch.setenv("HAOEE_HOME", str(folder))
    return folder


# --- http_server: a scriptable loopback HTTP server ----------------------------------------
#
# Tests queue replies (status, headers, body chunks, pauses, how the connection ends) and
# read back the requests that arrived. It is a real socket on 127.0.0.1, so the client's
# whole HTTP stack (httpx, h11, chunked decoding, timeouts) is exercised.

#: One element of a reply body: bytes are sent (one HTTP chunk each), a float is a pause,
#: a threading.Event is waited for (up to 5 s): the test sets it once the client has read enough.
BodyPart = Union[bytes, float, threading.Event]


@dataclass
class Reply:
    status: int = 200
    #: bytes, or a list of chunks (bytes), pauses (float seconds) and events to wait for.
    body: bytes | list[BodyPart] = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: "chunked" (Transfer-Encoding: chunked), "length" (Content-Length) or "close"
    #: (neither: the body ends when the connection closes).
    mode: str = "chunked"
    #: "ok" (a complete body), "reset" (abort with a TCP RST, no terminating chunk),
    #: "fin" (close the connection cleanly but without the terminating chunk),
    #: "hang" (send nothing more until the test ends or `hang` seconds pass),
    #: "drip" (keep sending `: ping` comment frames every 20 ms until the client goes away).
    end: str = "ok"
    hang: float = 5.0


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class LoopbackServer:
    """Serves queued Replies in order (the last one repeats), or whatever `handler` returns."""

    Reply = Reply

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.replies: list[Reply] = []
        self.handler: Callable[[Recorded], Reply] | None = None
        self.release = threading.Event()
        self.disconnected = threading.Event()  # a write failed: the client closed the connection
        self.inflight = 0
        self.max_inflight = 0
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.release.set()  # let any hanging handler of the previous test finish
        with self.lock:
            self.requests = []
            self.replies = []
            self.handler = None
            self.release = threading.Event()
            self.disconnected = threading.Event()
            self.inflight = self.max_inflight = 0

    def add(self, *replies: Reply, **fields: Any) -> LoopbackServer:
        """Queue replies: ``add(Reply(...), ...)`` or ``add(status=..., body=...)``."""
        with self.lock:
            self.replies.extend(replies or [Reply(**fields)])
        return self

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # called from handler threads
    def _next(self, request: Recorded) -> Reply:
        with self.lock:
            self.requests.append(request)
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            handler = self.handler
            if handler is None:
                if not self.replies:
                    return Reply(500, b'{"error":{"message":"no reply queued in the test server"}}')
                return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return handler(request)

    def _done(self) -> None:
        with self.lock:
            self.inflight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away is part of what we test


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        owner = self.server.owner
        release = owner.release
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        reply = owner._next(recorded)
        self._finished = False
        try:
            self._send(reply, release, owner)
        finally:
            self._finish(owner)
            self.close_connection = True

    def _finish(self, owner: LoopbackServer) -> None:
        # Called just before the client can see the end of the reply, so that a client sending
        # its next request at once is not counted as concurrent with this one (max_inflight).
        if not self._finished:
            self._finished = True
            owner._done()

    def _send(self, reply: Reply, release: threading.Event, owner: LoopbackServer) -> None:
        parts = [reply.body] if isinstance(reply.body, bytes) else list(reply.body)
        chunks = [p for p in parts if isinstance(p, bytes)]
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif reply.mode == "length":
            self.send_header("Content-Length", str(sum(len(c) for c in chunks)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        last = max((i for i, p in enumerate(parts) if isinstance(p, bytes)), default=-1)
        try:
            for i, part in enumerate(parts):
                if isinstance(part, bytes):
                    if i == last and reply.mode == "length" and reply.end == "ok":
                        self._finish(owner)
                    self._write(part, reply.mode)
                elif isinstance(part, threading.Event):
                    part.wait(5)
                else:
                    time.sleep(part)
            if reply.end == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                return
            if reply.end == "fin":
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.end == "hang":
                release.wait(reply.hang)
            elif reply.end == "drip":
                deadline = time.monotonic() + reply.hang
                while time.monotonic() < deadline and not release.is_set():
                    self._write(b": ping\n\n", reply.mode)
                    time.sleep(0.02)
            if reply.mode == "chunked":
                self._finish(owner)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except OSError:
            owner.disconnected.set()

    def _write(self, data: bytes, mode: str) -> None:
        if not data:
            return
        if mode == "chunked":
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.wfile.write(data)
        self.wfile.flush()


@pytest.fixture(scope="session")
def _loopback_server():
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
def http_server(_loopback_server: LoopbackServer):
    """A loopback HTTP server; queue replies with ``http_server.add(...)``, read ``.requests``."""
    _loopback_server.reset()
    yield _loopback_server
    _loopback_server.reset()


# --- offline_server: the package's own offline demo server (haoee_jupyter.offline) ---------


@pytest.fixture(scope="session")
def _offline_server_session():
    from haoee_jupyter.offline import OfflineServer

    server = OfflineServer(port=0, latency_ms=0).start()
    yield server
    server.stop()


@pytest.fixture
def offline_server(_offline_server_session):
    """A running OfflineServer (latency 0) with requests, faults and conversations cleared."""
    server = _offline_server_session
    server.reset()
    server.latency_ms = 0
    yield server
    server.reset()
