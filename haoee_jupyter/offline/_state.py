"""The state of one offline server that its request handlers read and change.

`OfflineServer` owns one `ServerState` and the HTTP layer gets it, never the server itself,
so the server module and the HTTP module do not import each other.
"""

from __future__ import annotations

import math
import socket
import threading
from collections import OrderedDict, deque
from typing import Any

from ._protocol import normalize_fault
from ._responses import Conversations
from ._video_jobs import VideoJobs

__all__ = ["ImageStore", "ServerState"]

REQUEST_LOG_LIMIT = 100
# A video job takes this many latency units from queued to completed unless video_ms is set:
# 100 x the default 20 ms is 2 s, quick enough for a live demo, and 0 latency finishes at once.
VIDEO_LATENCY_UNITS = 100


def _check_milliseconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ValueError(f"{name} must be a number >= 0, not {value!r}")
    return float(value)


class ImageStore:
    """Generated images kept for their download URLs; bounded, oldest forgotten first."""

    def __init__(self, limit_images: int = 64, limit_bytes: int = 256 * 1024 * 1024) -> None:
        self._images: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._limits = (limit_images, limit_bytes)
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, image_id: str, data: bytes, mime: str) -> None:
        with self._lock:
            self._images[image_id] = (data, mime)
            self._bytes += len(data)
            while len(self._images) > 1 and (len(self._images) > self._limits[0] or self._bytes > self._limits[1]):
                _old, (old_data, _mime) = self._images.popitem(last=False)
                self._bytes -= len(old_data)

    def get(self, image_id: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._images.get(image_id)

    def clear(self) -> None:
        with self._lock:
            self._images.clear()
            self._bytes = 0


class ServerState:
    """Faults, the request log, pacing, remembered responses, video jobs and stored images."""

    def __init__(self, latency_ms: float = 20, video_ms: float | None = None) -> None:
        self.latency_ms = latency_ms
        self.video_ms = video_ms
        self.requests: list[dict[str, Any]] = []
        self.conversations = Conversations()
        self.videos = VideoJobs()
        self.images = ImageStore()
        self.base_url = ""
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()

    @property
    def latency_ms(self) -> float:
        return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        self._latency_ms = _check_milliseconds("latency_ms", value)

    @property
    def video_ms(self) -> float | None:
        """The time a video job takes; None means VIDEO_LATENCY_UNITS x latency_ms."""
        return self._video_ms

    @video_ms.setter
    def video_ms(self, value: float | None) -> None:
        self._video_ms = None if value is None else _check_milliseconds("video_ms", value)

    def video_seconds(self) -> float:
        """How long a video job takes now, in seconds."""
        ms = self._video_ms if self._video_ms is not None else VIDEO_LATENCY_UNITS * self._latency_ms
        return ms / 1000

    def inject(self, name: str, times: int = 1) -> None:
        fault = normalize_fault(name)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, not {times!r}")
        with self._lock:
            self._faults.extend([fault] * times)

    def take_fault(self) -> str | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()
        self.conversations.clear()
        self.videos.clear()
        self.images.clear()

    def record(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(record)
            # Trimmed in place so that references to server.requests stay valid.
            del self.requests[:-REQUEST_LOG_LIMIT]

    def pause(self, seconds: float) -> bool:
        """Sleep unless stopping; True means the server is stopping and the caller should quit."""
        if seconds <= 0:
            return self.stopping.is_set()
        return self.stopping.wait(seconds)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self.connections.add(connection)
            else:
                self.connections.discard(connection)

    def open_connections(self) -> list[socket.socket]:
        with self._lock:
            return list(self.connections)
