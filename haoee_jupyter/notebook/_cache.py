"""The response cache: an identical request is answered from disk, without sending anything.

Opt-in (``--cache``, ``%config Haoee.cache``). It lives in its own file,
``HAOEE_HOME/cache.sqlite3``, apart from the call log, so clearing it never touches the log.

The key is the SHA-256 of a canonical JSON (sorted keys, no whitespace) of the endpoint, the
normalized base URL and the request body without ``stream`` / ``stream_options`` (a streamed and
a plain call get the same answer) and without any credential field. The base URL is part of
the key because the same request to another server (the offline demo, a relay, the real API)
is another answer: a demo's canned reply must never be served as the real model's. The API key
is never part of it, nor stored: two keys of one account get the same answers.

    cache = ResponseCache()
    hit = cache.get("/responses", body, base_url)
    if hit is None:                          # or --refresh: ask again, put() replaces
        response = client.respond(...)
        cache.put("/responses", body, base_url, response.raw, text=response.text)
    else:
        response = Response(raw=hit.response)   # shown at once, marked cached, tokens counted as saved
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._store import Store, dumps, haoee_home, normalize_base_url, redact, without_secrets

__all__ = ["CachedEntry", "ResponseCache", "cache_key"]

FILE_NAME = "cache.sqlite3"

#: Body fields that change how an answer travels, not what it is.
_TRANSPORT_FIELDS = frozenset({"stream", "stream_options"})

_V1 = """
CREATE TABLE responses (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    response TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID
"""
MIGRATIONS = (_V1,)


@dataclass(frozen=True)
class CachedEntry:
    """A stored answer: the raw response JSON and its text, from ``created`` (epoch seconds)."""

    key: str
    endpoint: str
    model: str
    created: float
    response: dict[str, Any]
    text: str


def _canonical(value: Any) -> Any:
    # 1 and 1.0 are the same request to the server; give them one key.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def cache_key(endpoint: str, body: dict[str, Any], base_url: str) -> str:
    """The SHA-256 (hex) that names a request in the cache.

    >>> cache_key("/responses", {"model": "gpt-4.1", "input": "hi", "stream": True}, "https://maas.haoee.com/v1") \\
    ...     == cache_key("/responses", {"input": "hi", "model": "gpt-4.1"}, "https://MAAS.haoee.com/v1/")
    True
    """
    request = {k: v for k, v in without_secrets(body).items() if k not in _TRANSPORT_FIELDS}
    identity = {"endpoint": "/" + endpoint.strip("/"), "base_url": normalize_base_url(base_url), "body": request}
    canonical = json.dumps(_canonical(identity), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Answers stored by request, in one SQLite file (default ``HAOEE_HOME/cache.sqlite3``).

    Thread-safe: a batch's rows read and write it at once.

    >>> cache = ResponseCache()
    >>> cache.stats()
    (12, 98304)
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else haoee_home() / FILE_NAME
        self._store = Store(self.path, MIGRATIONS, "response cache")

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._store.close()

    def get(self, endpoint: str, body: dict[str, Any], base_url: str) -> CachedEntry | None:
        """The stored answer to this request, or ``None``."""
        if not self._store.exists:
            return None  # reading never creates the file
        key = cache_key(endpoint, body, base_url)
        with self._store.connect() as connection:
            row = connection.execute(
                "SELECT endpoint, model, created, response, text FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        try:
            response = json.loads(row[3])
        except ValueError:
            return None  # an unreadable entry is a miss; the next put replaces it
        if not isinstance(response, dict):
            return None
        return CachedEntry(key, row[0], row[1], row[2], response, row[4])

    def put(
        self,
        endpoint: str,
        body: dict[str, Any],
        base_url: str,
        response: dict[str, Any],
        *,
        text: str = "",
        status: str | None = None,
        secret: str | None = None,
    ) -> bool:
        """Store a completed answer, replacing any earlier one (``--refresh``); ``True`` if stored.

        ``status`` defaults to the response's own (``completed`` when it has none, as an image
        or chat answer). Anything but ``completed`` is not stored: an incomplete or failed
        answer may be a passing fault (a cut-off stream, an overloaded server), and a cache
        must not keep serving it; asking again is what the user wants. ``secret`` (the key in
        use) is masked should the server have echoed it.
        """
        status = status if status is not None else str(response.get("status") or "completed")
        if status != "completed" or not isinstance(response, dict):
            return False
        key = cache_key(endpoint, body, base_url)
        model = str(body.get("model") or response.get("model") or "")
        with self._store.connect() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO responses (key, endpoint, model, created, response, text) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key,
                    "/" + endpoint.strip("/"),
                    model,
                    time.time(),
                    redact(dumps(response), secret),
                    redact(text, secret),
                ),
            )
        return True

    def stats(self) -> tuple[int, int]:
        """``(entries, bytes on disk)``."""
        if not self._store.exists:
            return 0, 0
        with self._store.connect() as connection:
            entries = connection.execute("SELECT count(*) FROM responses").fetchone()[0]
        return int(entries), self._store.size()

    def clear(self) -> int:
        """Remove every entry and give the space back; returns how many were removed."""
        if not self._store.exists:
            return 0
        with self._store.connect() as connection:
            removed = connection.execute("DELETE FROM responses").rowcount
            connection.execute("VACUUM")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(removed)
