"""HTTP/1.1 for the offline demo server: reading requests, writing replies, closing honestly.

One `_Handler` per connection (keep-alive). It reads the whole request, asks `_routes.route` for
a reply and writes it. Every way this module closes a connection after it has answered is
announced first with `Connection: close` on that answer, so a client never sends its next
request into a connection that is already gone:

- a reply that `closes` (a truncated body, a malformed or broken stream) and every error sent
  before the request body was read (too large, bad chunked framing) carry the header;
- a stop during the pause before an answer is answered with a 503 that carries it;
- the client asked to close (`Connection: close`, HTTP/1.0): the answer says so too;
- `http.server`'s own errors (a bad request line, headers too long) use `send_error`, which
  always adds it.

What cannot be announced, because there is no answer to carry the header: the `reset` and
`stall` faults (that is their point), a client that hung up, a stop in the middle of a stream,
and an idle keep-alive connection timing out after `_Handler.timeout` seconds.
"""

from __future__ import annotations

import select
import socket
import struct
import sys
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from ._exchange import Disconnect, Reply, Request, StreamReply, error_reply, request_id
from ._protocol import ApiError
from ._routes import route
from ._state import ServerState

__all__ = ["MAX_BODY_BYTES", "LoopbackHTTPServer"]

MAX_BODY_BYTES = 64 * 1024 * 1024
# Headers that carry credentials; the request log keeps only whether Authorization was sent.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie"})


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose handlers read and change one `ServerState`."""

    daemon_threads = True
    # socketserver's default backlog is 5: a batch at concurrency 24 on a busy machine overflows
    # it and connections are reset before they are served. A real API server queues far more.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.state = state
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


def _too_large() -> ApiError:
    return ApiError(413, f"Request body too large for the offline server (over {MAX_BODY_BYTES // 2**20} MiB).")


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
    def state(self) -> ServerState:
        return cast(LoopbackHTTPServer, self.server).state

    def setup(self) -> None:
        super().setup()
        self.state.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.state.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        # Silent: inside a notebook, background-thread logging lands in whichever cell runs.
        pass

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except ApiError as error:
            # What follows an unread body on this connection is unknown: answer, then close.
            self.close_connection = True
            self._deliver(error_reply(error))
            return
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path.rstrip("/") or "/",
            query=dict(parse_qsl(parts.query)),
            headers=self.headers,
            body=body,
        )
        try:
            self._record(request)
            reply = route(self.state, request)
        except ApiError as error:
            reply = error_reply(error)
        except RecursionError:
            # JSON nested deeper than the parser goes: refuse it, and end a connection that
            # sent something this odd.
            self.close_connection = True
            reply = error_reply(ApiError(400, "The JSON body is nested too deeply to read.", code="invalid_json"))
        except Exception as exc:
            self.close_connection = True
            bug = ApiError(500, f"The offline demo server hit a bug: {exc!r}", type="server_error", code="server_error")
            self._deliver(error_reply(bug))
            raise
        self._deliver(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    # -- writing ---------------------------------------------------------------------------

    def _deliver(self, reply: Reply | StreamReply | Disconnect) -> None:
        if reply.closes:
            self.close_connection = True
        if isinstance(reply, Disconnect):
            if reply.how == "hold":
                self._hold()
            self._hang_up()
        elif isinstance(reply, StreamReply):
            self._stream(reply)
        else:
            if reply.delay and self.state.pause(reply.delay * self.state.latency_ms / 1000):
                self.close_connection = True
                stopping = ApiError(503, "The offline demo server is stopping.", type="server_error", code="stopping")
                reply = error_reply(stopping)
            self._send(reply)
            if reply.cut:
                self._hang_up()

    def _send_head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("x-request-id", request_id())
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _send(self, reply: Reply) -> None:
        data = reply.body[: len(reply.body) // 2] if reply.cut else reply.body
        head = {"Content-Type": reply.content_type, "Content-Length": str(len(reply.body)), **reply.headers}
        with suppress(ConnectionError):
            self._send_head(reply.status, head)
            self.wfile.write(data)

    def _stream(self, reply: StreamReply) -> None:
        """Send frames over chunked encoding, pausing `latency_ms` per unit of each frame's pause."""
        head = {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
            **reply.headers,
        }
        latency = self.state.latency_ms / 1000
        try:
            self._send_head(200, head)
            for data, pause in reply.frames:
                if self.state.pause(pause * latency):
                    self.close_connection = True
                    return
                self._write_chunk(data)
            if reply.ending == "reset":
                self._reset()
            elif reply.ending == "hold":
                self._hold()
            else:
                self._write_chunk(b"")
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:
            self.close_connection = True
            raise

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _hang_up(self) -> None:
        """Close the connection as it is, without (the rest of) a response."""
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _reset(self) -> None:
        """Abort the TCP connection with an RST, as a crashed proxy or a cut network does."""
        self.close_connection = True
        # Give the client a moment to read what was sent; an RST can discard unread data.
        self.state.pause(max(0.05, self.state.latency_ms / 1000))
        with suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # rfile holds a reference to the socket; close() only really closes without it.
            self.rfile.close()
            self.connection.close()

    def _hold(self) -> None:
        """Send nothing more until the client gives up or the server stops."""
        self.close_connection = True
        while not self.state.pause(0.05):
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return
            except (OSError, ValueError):
                return

    # -- reading ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ApiError(400, "Invalid Content-Length header.") from None
        if length > MAX_BODY_BYTES:
            raise _too_large()
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise ApiError(400, "Invalid chunked request body: a chunk size is not a hex number.") from None
            total += size
            if total > MAX_BODY_BYTES:
                raise _too_large()
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _record(self, request: Request) -> None:
        authorization = self.headers.get("Authorization")
        parts = (authorization or "").split(None, 1)
        try:
            body = request.log_body()
        except ApiError:  # a form that does not parse; the endpoint will say why
            body = None
        self.state.record(
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
