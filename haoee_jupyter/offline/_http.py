"""HTTP handling for the offline demo server: routing, SSE over chunked encoding, faults.

One `_Handler` per connection (HTTP/1.1 keep-alive); the state it reads and changes (the fault
queue, the request log, latency, remembered conversations) lives on `OfflineServer`.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import sys
import uuid
from collections.abc import Iterable, Mapping
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from ._events import ERROR_EVENT_MESSAGE, FAILED_MESSAGE, Step, fault_steps, stream_steps
from ._protocol import (
    MODELS,
    ApiError,
    fault_error,
    fault_for_model,
    html_error_page,
    parse_request,
)
from ._responses import Conversations, Draft

if TYPE_CHECKING:
    from ._server import OfflineServer

__all__ = ["LoopbackHTTPServer"]

MAX_BODY_BYTES = 32 * 1024 * 1024
MODELS_CREATED = 1735689600  # 2025-01-01, a fixed date so listings are deterministic

_MISSING_KEY = "Missing API key: send Authorization: Bearer <key> (any key works on the offline server)."
_BAD_JSON = (
    "We could not parse the JSON body of your request. The offline demo server expects "
    "a JSON object with at least 'model' and 'input'."
)
# Headers that carry credentials; the request log keeps only whether Authorization was sent.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie"})
# json.dumps leaves these raw, and str.splitlines() would break an SSE line on them.
_LINE_SAFE = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one OfflineServer, whose state its handlers use."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: OfflineServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can take
        # seconds on machines without network: exactly where the offline server is used.
        TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-stream is normal; anything else is a bug worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "haoee-offline/0.1"
    sys_version = ""
    # Idle keep-alive connections end eventually instead of pinning a thread forever.
    timeout = 300
    # Headers and body go out in separate writes; with Nagle on, each response would wait for
    # the client's delayed ACK (about 40 ms), and stream deltas would clump together.
    disable_nagle_algorithm = True

    @property
    def app(self) -> OfflineServer:
        return cast(LoopbackHTTPServer, self.server).app

    def setup(self) -> None:
        super().setup()
        self.app._track(self.connection, True)
        self.started = False

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.app._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        # Silent: inside a notebook, background-thread logging lands in whichever cell runs.
        pass

    # -- routing ---------------------------------------------------------------------------

    def _route(self) -> str:
        return urlsplit(self.path).path.rstrip("/") or "/"

    def do_GET(self) -> None:
        self.started = False
        path = self._route()
        self._record(None)
        if path in ("/", "/v1"):
            text = "Haoee offline demo server: POST /v1/responses with any Bearer key.\n"
            self._send_bytes(200, text.encode(), "text/plain; charset=utf-8")
            return
        try:
            self._check_auth()
            if path in ("/v1/models", "/models"):
                self._send_json(200, {"object": "list", "data": [_model(m) for m in MODELS]})
            elif path.startswith(("/v1/models/", "/models/")):
                self._send_json(200, _model(path.rsplit("/", 1)[1]))
            elif path.startswith(("/v1/responses/", "/responses/")):
                response_id = path.rsplit("/", 1)[1]
                turn = self.app.conversations.get(response_id)
                if turn is None:
                    raise ApiError(404, f"Response with id '{response_id}' not found.")
                self._send_json(200, turn.response)
            else:
                raise _unknown_url("GET", path)
        except ApiError as error:
            self._send_error(error)

    def do_POST(self) -> None:
        self.started = False
        try:
            raw = self._read_body()
        except ApiError as error:
            self.close_connection = True
            self._send_error(error)
            return
        try:
            body: Any = json.loads(raw) if raw.strip() else None
            parsed = True
        except (ValueError, UnicodeDecodeError):
            body, parsed = None, False
        self._record(body)
        path = self._route()
        try:
            if path not in ("/v1/responses", "/responses"):
                raise _unknown_url("POST", path)
            self._respond(body, parsed)
        except ApiError as error:
            self._send_error(error)
        except Exception as exc:
            if not self.started:
                self._send_error(
                    ApiError(
                        500,
                        f"The offline demo server hit a bug: {exc!r}",
                        type="server_error",
                        code="server_error",
                    )
                )
            self.close_connection = True
            raise

    def _respond(self, body: Any, parsed: bool) -> None:
        fault = self.app._take_fault()
        if fault is None:
            self._check_auth()
            if not parsed:
                raise ApiError(400, _BAD_JSON)
            fault = fault_for_model(body.get("model") if isinstance(body, Mapping) else None)
        if fault is not None:
            self._serve_fault(fault, body)
            return
        draft = Draft.create(parse_request(body), self.app.conversations)
        if draft.request.stream:
            self._stream(stream_steps(draft))
        elif not self.app._pause(self.app.latency_ms / 1000):
            self._send_json(200, draft.finish())
        else:
            self.close_connection = True

    # -- faults ----------------------------------------------------------------------------

    def _serve_fault(self, fault: str, body: Any) -> None:
        fields = body if isinstance(body, Mapping) else {}
        requested = fields.get("model")
        model = requested if isinstance(requested, str) else "offline-demo"
        if fault in ("429", "401", "403", "404"):
            self._send_error(fault_error(fault, model))
            return
        if fault in ("500", "502", "503"):
            page = html_error_page(int(fault)).encode()
            self._send_bytes(int(fault), page, "text/html")
            return
        draft = _fault_draft(fields, model, self.app.conversations)
        if fields.get("stream") is True:
            self._stream(fault_steps(draft, fault), fault=fault)
        elif fault == "reset":
            self._hang_up()
        elif fault == "stall":
            self._hold()
        elif fault in ("error-event", "failed"):
            message = ERROR_EVENT_MESSAGE if fault == "error-event" else FAILED_MESSAGE
            self._send_json(200, draft.failed(message))
        else:
            data = json.dumps(draft.final(), ensure_ascii=False).encode()
            # malformed: a clean 200 with broken JSON; truncated: the body stops halfway.
            self._send_bytes(
                200, data[: len(data) // 2], "application/json", length=len(data) if fault == "truncated" else None
            )
            if fault == "truncated":
                self._hang_up()

    def _hang_up(self) -> None:
        """Close the connection as it is, without (the rest of) a response."""
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _reset(self) -> None:
        """Abort the TCP connection with an RST, as a crashed proxy or a cut network does."""
        self.close_connection = True
        # Give the client a moment to read what was sent; an RST can discard unread data.
        self.app._pause(max(0.05, self.app.latency_ms / 1000))
        with suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # rfile holds a reference to the socket; close() only really closes without it.
            self.rfile.close()
            self.connection.close()

    def _hold(self) -> None:
        """Send nothing more until the client gives up or the server stops."""
        self.close_connection = True
        while not self.app._pause(0.05):
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return
            except (OSError, ValueError):
                return

    # -- writing ---------------------------------------------------------------------------

    def _stream(self, steps: Iterable[Step], fault: str | None = None) -> None:
        """Send events as SSE over chunked encoding, pausing `latency_ms` per delta."""
        self.started = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", _request_id())
        self.end_headers()
        latency = self.app.latency_ms / 1000
        sequence = 0
        last: dict[str, Any] = {"type": "response.output_text.delta"}
        try:
            for event, pause in steps:
                if self.app._pause(pause * latency):
                    self.close_connection = True
                    return
                self._write_chunk(_frame(event, sequence))
                sequence, last = sequence + 1, event
            if fault == "malformed":
                self._write_chunk(_broken_frame(last, sequence))
            if fault == "reset":
                self._reset()
            elif fault == "stall":
                self._hold()
            else:
                self._write_chunk(b"")
                if fault == "malformed":
                    self.close_connection = True
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _send_bytes(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.started = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.send_header("x-request-id", _request_id())
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        with suppress(ConnectionError):
            self.wfile.write(data)

    def _send_json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self._send_bytes(status, data, "application/json", headers)

    def _send_error(self, error: ApiError) -> None:
        self._send_json(error.status, error.body(), error.headers)

    # -- reading ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                total += size
                if total > MAX_BODY_BYTES:
                    raise ApiError(413, "Request body too large for the offline server.")
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ApiError(400, "Invalid Content-Length header.") from None
        if length > MAX_BODY_BYTES:
            raise ApiError(413, "Request body too large for the offline server.")
        return self.rfile.read(length) if length > 0 else b""

    def _record(self, body: Any) -> None:
        authorization = self.headers.get("Authorization")
        parts = (authorization or "").split(None, 1)
        self.app._record(
            {
                "method": self.command,
                "path": self.path,
                "body": body,
                "headers": {
                    name.lower(): value for name, value in self.headers.items() if name.lower() not in _SECRET_HEADERS
                },
                "authorization_present": bool(authorization and authorization.strip()),
                # A bare key has no scheme; recording its first word would record the key.
                "authorization_scheme": parts[0] if len(parts) == 2 else None,
            }
        )

    def _check_auth(self) -> None:
        value = (self.headers.get("Authorization") or "").strip()
        scheme, _, key = value.partition(" ")
        if not value or (scheme.lower() == "bearer" and not key.strip()):
            raise ApiError(401, _MISSING_KEY, code="invalid_api_key")


def _fault_draft(body: Mapping[str, Any], model: str, conversations: Conversations) -> Draft:
    """A draft for a faulty response; an injected fault must not depend on a valid body."""
    try:
        return Draft.create(parse_request(body), conversations)
    except ApiError:
        return Draft.create(parse_request({"model": model, "input": ""}), conversations)


def _frame(event: dict[str, Any], sequence: int) -> bytes:
    # sequence_number goes second, as in the recordings; the rest keeps the builder's order.
    payload = {"type": event["type"], "sequence_number": sequence, **event}
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).translate(_LINE_SAFE)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def _broken_frame(event: dict[str, Any], sequence: int) -> bytes:
    """A well-framed SSE event whose data line is JSON cut off halfway."""
    payload = {"type": event["type"], "sequence_number": sequence, **event}
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data[: len(data) // 2]}\n\n".encode()


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODELS_CREATED, "owned_by": "haoee-offline"}


def _request_id() -> str:
    return f"req_offline_{uuid.uuid4().hex}"


def _unknown_url(method: str, path: str) -> ApiError:
    return ApiError(404, f"Invalid URL ({method} {path}).", code="unknown_url")
