"""The connection pool a client sends through: built once, under a lock, sized for the concurrency asked.

Making an httpx client is not free (its TLS context alone costs tens of milliseconds), and each
holds its own connections: a client that made one per thread would pay that per thread and leave
unclosed pools behind. So every client owns one :class:`Pool`; requests lease its httpx client for
as long as they read the answer. When ``map`` asks for more connections than the pool keeps, a
larger one replaces it, and the old one is closed once the last request using it is done.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import httpx

__all__ = ["DEFAULT_CONNECTIONS", "Pool"]

#: httpx's own default for the number of connections; a pool is never built smaller.
DEFAULT_CONNECTIONS = 100
KEEPALIVE = 20

H = TypeVar("H", httpx.Client, httpx.AsyncClient)

_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def ssl_context() -> ssl.SSLContext:
    """One TLS context for every pool of the process (loading the CA bundle is the slow part)."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context()
        return _ssl_context


class Pool(Generic[H]):
    """Holds the httpx client of one Client or AsyncClient.

    ``factory(limits)`` builds an httpx client. ``fixed`` (a caller's own transport) means the
    pool cannot be resized: the transport holds the connections, not us.
    """

    def __init__(self, factory: Callable[[httpx.Limits | None], H], *, fixed: bool = False) -> None:
        self._factory: Callable[[httpx.Limits | None], H] = factory
        self._fixed = fixed
        self._lock = threading.Lock()
        self._current: H | None = None
        self._size = 0
        self._leases: dict[int, int] = {}  # id(httpx client) -> requests using it now
        self._retired: list[H] = []  # replaced by a larger pool, closed once unused

    @property
    def size(self) -> int:
        """Connections the current pool keeps open (0 before the first request)."""
        return self._size

    def acquire(self, connections: int = 0) -> H:
        """The httpx client to send through, built (or enlarged to ``connections``) if needed.

        Every acquire is followed by one :meth:`release` of the same client.
        """
        with self._lock:
            current = self._current
            if current is None or (connections > self._size and not self._fixed):
                if current is not None:
                    self._retired.append(current)  # requests in flight finish on it
                size = max(connections, self._size, KEEPALIVE)
                limits = httpx.Limits(max_connections=max(size, DEFAULT_CONNECTIONS), max_keepalive_connections=size)
                current = self._current = self._factory(None if self._fixed else limits)
                self._size = size
            self._leases[id(current)] = self._leases.get(id(current), 0) + 1
            return current

    def release(self, http: H) -> list[H]:
        """Give a lease back; returns the replaced clients nobody uses any more, for the caller to close."""
        with self._lock:
            left = self._leases.get(id(http), 1) - 1
            if left > 0:
                self._leases[id(http)] = left
            else:
                self._leases.pop(id(http), None)
            done = [old for old in self._retired if not self._leases.get(id(old))]
            self._retired = [old for old in self._retired if self._leases.get(id(old))]
            return done

    def detach(self) -> list[H]:
        """Forget every client (current and replaced) for the caller to close; the next acquire builds anew."""
        with self._lock:
            clients: list[H] = list(self._retired)
            if self._current is not None:
                clients.append(self._current)
            self._current, self._size = None, 0
            self._retired = []
            self._leases.clear()
            return clients
