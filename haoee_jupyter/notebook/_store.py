"""Where the call log and the response cache live, and how their SQLite files are opened.

Both are SQLite files under ``HAOEE_HOME`` (default: the user's data directory, e.g.
``~/.local/share/haoee-jupyter``). The folder is made on the first write, never on import, and
``sqlite3`` itself is imported only when a file is opened.

Every file is opened the same way: WAL mode (readers never block the writer, so a batch can
write while ``history()`` reads, from another kernel too), a busy timeout (two kernels writing
at once wait for each other instead of failing), and a schema version in ``PRAGMA user_version``
that a list of migration steps brings up to date, so a file written by an older version keeps
its rows.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ..client._exceptions import HaoeeError

if TYPE_CHECKING:
    import sqlite3

#: One step of a schema: SQL statements separated by ``;`` (none inside a literal), or a function
#: given the open connection (for steps SQL cannot express, such as filling a column from JSON).
#: Step i moves a file from version i to i + 1; steps are only ever appended.
Migration = Union[str, Callable[["sqlite3.Connection"], None]]

APP_NAME = "haoee-jupyter"
#: Request fields that may carry a secret: never written to disk, never part of a cache key.
SECRET_FIELDS = frozenset({"api_key", "apikey", "api-key", "authorization", "x-api-key"})


class StoreError(HaoeeError):
    """The call log or the response cache could not be read or written."""


def haoee_home() -> Path:
    """The folder of the call log and the cache: ``$HAOEE_HOME``, else the user's data directory.

    >>> haoee_home()
    PosixPath('/home/ada/.local/share/haoee-jupyter')
    """
    explicit = os.environ.get("HAOEE_HOME", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.environ.get("APPDATA")
        return Path(base) / APP_NAME if base else Path.home() / "AppData" / "Local" / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    # The XDG spec says a relative $XDG_DATA_HOME is invalid and must be ignored.
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    base_dir = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base_dir / APP_NAME


def dumps(value: Any) -> str:
    """Compact JSON that keeps non-ASCII text readable (and searchable) in the file."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def without_secrets(value: Any) -> Any:
    """A copy of a JSON value without fields named like a credential, at any depth."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if str(k).lower() not in SECRET_FIELDS}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def normalize_base_url(base_url: str) -> str:
    """Scheme and host in lower case, no credentials, no default port, no trailing slash.

    >>> normalize_base_url("https://user:pw@MAAS.haoee.com:443/v1/")
    'https://maas.haoee.com/v1'
    """
    if not base_url:
        return ""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    default_port = {"http": 80, "https": 443}.get(scheme)
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def redact(text: str, secret: str | None) -> str:
    """The text with the key (or any long run of its start) masked; for text from elsewhere."""
    from ..client._settings import redact as _redact

    return _redact(text, secret) if secret else text


class Store:
    """One SQLite file: a single connection shared by every thread, guarded by a lock.

    SQLite takes one writer at a time anyway, so a lock costs nothing and keeps each write
    whole; other processes (another kernel) are handled by WAL and the busy timeout.
    """

    def __init__(
        self,
        path: Path,
        migrations: Sequence[Migration],
        what: str,
        *,
        on_open: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.migrations = tuple(migrations)
        self.what = what  # "call log", "response cache": for messages
        self.on_open = on_open  # e.g. to add SQL functions
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """The open connection, held under the lock; the file and its folder are made if missing."""
        import sqlite3

        with self._lock:
            try:
                if self._connection is None or self._pid != os.getpid():  # a forked child opens its own
                    self._connection = self._open()
                    self._pid = os.getpid()
                yield self._connection
            except sqlite3.Error as e:
                raise self._error(e) from e
            except OSError as e:
                raise StoreError(
                    f"Could not open the {self.what} at {self.path}: {e.strerror or e}",
                    hint="Set HAOEE_HOME to a folder you can write to",
                ) from e

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None

    def _open(self) -> sqlite3.Connection:
        import sqlite3

        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: each statement commits on its own; migrations BEGIN explicitly.
        connection = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout = 10000")
            connection.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL loses no commit when the process dies (only on power loss), and
            # skips an fsync per write: what keeps a logged call well under a millisecond.
            connection.execute("PRAGMA synchronous = NORMAL")
            self._migrate(connection)
            if self.on_open is not None:
                self.on_open(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _migrate(self, connection: sqlite3.Connection) -> None:
        latest = len(self.migrations)
        if connection.execute("PRAGMA user_version").fetchone()[0] == latest:
            return
        # IMMEDIATE: two kernels opening an old file at once migrate it once, one after the other.
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > latest:
                raise StoreError(
                    f"The {self.what} at {self.path} has schema version {version}, newer than this "
                    f"haoee-jupyter knows ({latest})",
                    hint="Upgrade haoee-jupyter, or set HAOEE_HOME to another folder",
                )
            for step in self.migrations[version:]:
                if isinstance(step, str):
                    for statement in step.split(";"):
                        if statement.strip():
                            connection.execute(statement)
                else:
                    step(connection)
            connection.execute(f"PRAGMA user_version = {latest:d}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _error(self, error: Exception) -> StoreError:
        if isinstance(error, StoreError):
            return error
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "not a database" in message or "malformed" in message:
            hint = "Move the file away (it may be damaged), or set HAOEE_HOME to another folder"
        elif "locked" in message or "busy" in message:
            hint = "Another process holds it; try again, or set HAOEE_HOME to another folder"
        else:
            hint = "Check the disk and the folder's permissions, or set HAOEE_HOME to another folder"
        return StoreError(f"The {self.what} at {self.path} failed: {message}", hint=hint)

    def size(self) -> int:
        """Bytes on disk: the file with its write-ahead log."""
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
