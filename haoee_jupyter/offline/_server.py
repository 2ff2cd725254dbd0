"""The offline demo server: a real HTTP/1.1 server on loopback that speaks the Haoee API.

Standard library only, so it starts instantly and can run in a background thread of a Jupyter
kernel. Faults (rate limits, proxy errors, broken streams, failed jobs) can be injected for
teaching and tests.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from contextlib import suppress
from types import TracebackType

from ._http import LoopbackHTTPServer
from ._state import ServerState

__all__ = ["OfflineServer", "is_loopback"]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class OfflineServer:
    """A local stand-in for the Haoee API: no key, no network, the same protocols.

    Serves `/v1/responses`, `/v1/chat/completions`, `/v1/images/generations`, `/v1/images/edits`,
    `/v1/videos` (create, poll, download, remix, list, delete) and `/v1/models`. Answers are
    deterministic Markdown built from the prompt, streamed token by token with `latency_ms`
    between deltas; images are PNGs drawn from the prompt; video jobs finish after `video_ms`
    with a small real MP4. Faults can be injected with `inject()`, or per request with the model
    name `fault-<name>` (for example `%%haoee -m fault-429`).

        >>> from haoee_jupyter.offline import OfflineServer
        >>> with OfflineServer(port=0, latency_ms=0) as server:
        ...     server.url.startswith("http://127.0.0.1:")
        True

    Attributes:
        requests: the last 100 requests received, oldest first, as dicts with `method`, `path`,
            `body` (parsed JSON, a summary of a multipart form, or None), `headers` (lower-case
            names, credentials removed), `authorization_present` and `authorization_scheme`.
        conversations: the responses remembered for `previous_response_id`.
    """

    def __init__(
        self, port: int = 0, latency_ms: float = 20, host: str = "127.0.0.1", *, video_ms: float | None = None
    ) -> None:
        if not is_loopback(host):
            raise ValueError(
                f"The offline server only listens on loopback addresses, not {host!r}; use 127.0.0.1, ::1 or localhost."
            )
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {port}")
        self.host = host
        self._state = ServerState(latency_ms=latency_ms, video_ms=video_ms)
        self.requests = self._state.requests
        self.conversations = self._state.conversations
        self._requested_port = port
        self._bound_port: int | None = None
        self._lock = threading.Lock()
        self._httpd: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> OfflineServer:
        """Listen and serve in a daemon thread; returns self once the port accepts connections."""
        with self._lock:
            if self._httpd is not None:
                return self
            self._state.stopping = threading.Event()
            httpd = LoopbackHTTPServer((self.host.strip("[]"), self._requested_port), self._state)
            self._bound_port = int(httpd.server_address[1])
            self._state.base_url = self.url
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
        if httpd is None:
            return
        self._state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        for connection in self._state.open_connections():
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
        return self._state.latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        self._state.latency_ms = value

    @property
    def video_ms(self) -> float | None:
        """Milliseconds a video job takes from queued to completed; settable.

        None (the default) means 100 x `latency_ms`: 2 s at the default latency, at once at 0.
        A change applies to running jobs too, so a test can hold jobs (a large value), then let
        them finish (0). A job's status and progress never go back.
        """
        return self._state.video_ms

    @video_ms.setter
    def video_ms(self, value: float | None) -> None:
        self._state.video_ms = value

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = self.url if self._bound_port or self._requested_port else "port not chosen yet"
        return f"<OfflineServer {where} {state}>"

    # -- faults and state ------------------------------------------------------------------

    def inject(self, name: str, times: int = 1) -> None:
        """Make the next `times` generation requests fail with fault `name`.

        Generation requests are the POSTs to /responses, /chat/completions, /images/generations,
        /images/edits, /videos and /videos/{id}/remix; listings, polls and downloads are never
        hit. Names: 429, 500, 502, 503, 401, 403, 404, reset, stall, truncated, malformed,
        error-event, failed (a "fault-" prefix is accepted too). Faults queue in order.

            >>> server = OfflineServer()
            >>> server.inject("429", times=2)
        """
        self._state.inject(name, times)

    def reset(self) -> None:
        """Forget recorded requests, pending faults, conversations, video jobs and images."""
        self._state.reset()
