"""The offline demo server: a real HTTP/1.1 server on loopback that speaks `POST /v1/responses`.

Standard library only, so it starts instantly and can run in a background thread of a Jupyter
kernel. Faults (rate limits, proxy errors, broken streams) can be injected for teaching and tests.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections import deque
from contextlib import suppress
from types import TracebackType
from typing import Any

from ._http import LoopbackHTTPServer
from ._protocol import normalize_fault
from ._responses import Conversations

__all__ = ["OfflineServer", "is_loopback"]

REQUEST_LOG_LIMIT = 100


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class OfflineServer:
    """A local stand-in for the Haoee `/v1/responses` API: no key, no network, same protocol.

    Answers are deterministic Markdown built from the prompt, streamed token by token with
    `latency_ms` between deltas. Faults can be injected with `inject()`, or per request with the
    model name `fault-<name>` (for example `%%haoee -m fault-429`).

        >>> from haoee_jupyter.offline import OfflineServer
        >>> with OfflineServer(port=0, latency_ms=0) as server:
        ...     server.url.startswith("http://127.0.0.1:")
        True

    Attributes:
        requests: the last 100 requests received, oldest first, as dicts with `method`, `path`,
            `body` (parsed JSON or None), `headers` (lower-case names, credentials removed),
            `authorization_present` and `authorization_scheme` (e.g. "Bearer").
        conversations: the responses remembered for `previous_response_id`.
    """

    def __init__(self, port: int = 0, latency_ms: float = 20, host: str = "127.0.0.1") -> None:
        if not is_loopback(host):
            raise ValueError(
                f"The offline server only listens on loopback addresses, not {host!r}; use 127.0.0.1, ::1 or localhost."
            )
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {port}")
        self.host = host
        self.latency_ms = latency_ms
        self.requests: list[dict[str, Any]] = []
        self.conversations = Conversations()
        self._requested_port = port
        self._bound_port: int | None = None
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> OfflineServer:
        """Listen and serve in a daemon thread; returns self once the port accepts connections."""
        with self._lock:
            if self._httpd is not None:
                return self
            self._stopping = threading.Event()
            httpd = LoopbackHTTPServer((self.host.strip("[]"), self._requested_port), self)
            self._bound_port = int(httpd.server_address[1])
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"haoee-offline-{self._bound_port}",
                daemon=True,
            )
            self._httpd, self._thread = httpd, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections, promptly even while a stall is held."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
            connections = list(self._connections)
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=2)

    def __enter__(self) -> OfflineServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The port listened on (the one picked by the system when created with port=0)."""
        if self._bound_port is not None:
            return self._bound_port
        if self._requested_port:
            return self._requested_port
        raise RuntimeError("The offline server picks its port in start(); call start() first.")

    @property
    def url(self) -> str:
        """The base URL clients use, including /v1, e.g. "http://127.0.0.1:8765/v1"."""
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def latency_ms(self) -> float:
        """Milliseconds between stream deltas (and before a non-streamed answer); settable."""
        return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"latency_ms must be a number >= 0, not {value!r}")
        self._latency_ms = float(value)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = self.url if self._bound_port or self._requested_port else "port not chosen yet"
        return f"<OfflineServer {where} {state}>"

    # -- faults and state ------------------------------------------------------------------

    def inject(self, name: str, times: int = 1) -> None:
        """Make the next `times` requests to /v1/responses fail with fault `name`.

        Names: 429, 500, 502, 503, 401, 403, 404, reset, stall, truncated, malformed,
        error-event, failed (a "fault-" prefix is accepted too). Faults queue in order.

            >>> server = OfflineServer()
            >>> server.inject("429", times=2)
        """
        fault = normalize_fault(name)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, not {times!r}")
        with self._lock:
            self._faults.extend([fault] * times)

    def reset(self) -> None:
        """Forget recorded requests, pending faults and remembered conversations."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()
        self.conversations.clear()

    def _take_fault(self) -> str | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _record(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(record)
            # Trimmed in place so that references to server.requests stay valid.
            del self.requests[:-REQUEST_LOG_LIMIT]

    def _pause(self, seconds: float) -> bool:
        """Sleep unless stopping; True means the server is stopping and the caller should quit."""
        if seconds <= 0:
            return self._stopping.is_set()
        return self._stopping.wait(seconds)

    def _track(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)
