"""The persistent call log: every call from the notebook, kept in ``HAOEE_HOME/calls.sqlite3``.

A call is written when it ends, and may be written when it starts too (a video job's id then
survives a lost kernel): writing a :class:`CallRecord` again updates its row. Whatever a call
left behind on error or interrupt (partial text, usage) is written the same way.

    log = CallLog()
    record = CallRecord(endpoint="/responses", request=body, source="magic", cell=7)
    ...                                     # the call runs
    record.response, record.text, record.status, record.latency = response.raw, response.text, "completed", 1.2
    log.write(record, secret=api_key)       # the row's id is now record.id (shown as #12)
    log.search(5, search="entropy")         # newest first: [LogEntry(...), ...]

Whether to log at all (``%config Haoee.log``, ``--no-log``) is the caller's decision: it simply
does not call :meth:`CallLog.write`. The key is never stored: credential fields are dropped from
the request, and the ``secret`` given to :meth:`~CallLog.write` is masked wherever it appears.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client._models import Response, Usage
from ._log_schema import MIGRATIONS, loads, prompt_of
from ._store import Store, StoreError, dumps, haoee_home, normalize_base_url, redact, without_secrets

if TYPE_CHECKING:
    import sqlite3

__all__ = ["CallLog", "CallRecord", "LogEntry", "cell_origin", "prompt_of"]

FILE_NAME = "calls.sqlite3"

#: Statuses a row can have: pending/in_progress while it runs, then how it ended.
STATUSES = ("pending", "queued", "in_progress", "completed", "incomplete", "failed", "error", "interrupted", "cached")


@dataclass
class CallRecord:
    """What a caller hands to :meth:`CallLog.write`; ``id`` is set by the first write.

    ``request`` is the JSON body (no headers, so no key); ``response`` the raw JSON answer or
    ``None``; ``usage`` defaults to the response's; ``error`` may be the exception itself.
    """

    endpoint: str = "/responses"
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] | None = None
    text: str = ""
    model: str = ""  # defaults to the request's, then the response's
    usage: Usage | None = None
    latency: float | None = None  # seconds
    status: str = "pending"
    error: BaseException | str | None = None
    source: str = "magic"  # magic, form, batch, compare, media, rerun
    base_url: str = ""
    notebook: str | None = None
    cell: int | None = None  # the cell's execution count
    batch_id: str | None = None
    batch_row: int | None = None
    job_id: str | None = None  # a video job, to find it again after a lost kernel
    started: float = field(default_factory=time.time)  # epoch seconds
    id: int | None = None


@dataclass
class LogEntry:
    """One row of the call log.

    >>> entry = CallLog().get(12)
    >>> entry.label, entry.model, entry.status, entry.usage.total_tokens, entry.prompt
    ('#12', 'gpt-4.1', 'completed', 42, 'Explain entropy')
    >>> entry.to_response().text
    """

    id: int
    time: str  # UTC, ISO 8601
    endpoint: str
    model: str
    status: str
    prompt: str
    text: str
    usage: Usage
    latency: float | None
    error: str | None
    source: str
    base_url: str
    notebook: str | None
    cell: int | None
    batch_id: str | None
    batch_row: int | None
    job_id: str | None
    response_id: str | None
    request_json: str = field(repr=False)
    response_json: str | None = field(repr=False)

    @property
    def label(self) -> str:
        """The id as users type it: ``#12``."""
        return f"#{self.id}"

    @cached_property
    def request(self) -> dict[str, Any]:
        value = loads(self.request_json)
        return value if isinstance(value, dict) else {}

    @cached_property
    def response(self) -> dict[str, Any] | None:
        value = loads(self.response_json)
        return value if isinstance(value, dict) else None

    def to_response(self) -> Response:
        """The client's :class:`Response` of a ``/responses`` row; a partial answer (error,
        interrupt) comes back as an ``incomplete`` Response holding the text that had arrived."""
        if self.endpoint != "/responses":
            raise StoreError(
                f"Call {self.label} went to {self.endpoint}, not /responses",
                hint="Read its .response (the raw JSON) instead",
            )
        if self.response is not None and (self.response.get("output") or not self.text):
            return Response(raw=self.response)
        raw: dict[str, Any] = {
            "id": self.response_id or "",
            "model": self.model,
            "status": "incomplete",
            "incomplete_details": {"reason": self.status},
            "output": [{"type": "message", "content": [{"type": "output_text", "text": self.text}]}],
            "usage": self.usage.as_dict(),
        }
        return Response(raw=raw)


def cell_origin(shell: Any) -> tuple[str | None, int | None]:
    """The notebook path (when the frontend tells it) and the running cell's execution count."""
    import os

    namespace = getattr(shell, "user_ns", None) or {}
    # VS Code puts the path in the namespace; Jupyter Server 2 in the kernel's environment.
    notebook = namespace.get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME") or None
    count = getattr(shell, "execution_count", None)
    return (str(notebook) if notebook else None), (count if isinstance(count, int) else None)


def _error_line(error: BaseException | str | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, BaseException):
        text = str(error) or type(error).__name__
        if isinstance(error, KeyboardInterrupt) and text == "KeyboardInterrupt":
            text = "Interrupted"
    else:
        text = error
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else None


_COLUMNS = (
    "time endpoint model request response text input_tokens output_tokens total_tokens latency status error "
    "source prompt cached_tokens reasoning_tokens base_url notebook cell batch_id batch_row job_id response_id"
).split()
_INSERT = (
    f"INSERT INTO calls (id, {', '.join(_COLUMNS)}) VALUES (?{', ?' * len(_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS)}"
)
_SELECT = f"SELECT id, {', '.join(_COLUMNS)} FROM calls"


class CallLog:
    """The call log in one SQLite file (default ``HAOEE_HOME/calls.sqlite3``); thread-safe.

    >>> log = CallLog()
    >>> [entry.label for entry in log.search(3, model="gpt-4.1")]
    ['#41', '#40', '#37']
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else haoee_home() / FILE_NAME
        self._store = Store(self.path, MIGRATIONS, "call log", on_open=_add_functions)

    def __enter__(self) -> CallLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._store.close()

    def write(self, record: CallRecord, *, secret: str | None = None) -> int:
        """Insert the record, or update its row when it was written before; returns its id.

        ``secret`` (the API key in use) is masked wherever it appears in what is stored.
        """
        if record.status not in STATUSES:
            raise ValueError(f"status {record.status!r} is not one of {', '.join(STATUSES)}")
        request = without_secrets(record.request) if isinstance(record.request, dict) else {}
        response = without_secrets(record.response) if isinstance(record.response, dict) else None
        usage = record.usage if record.usage is not None else Usage.from_dict((response or {}).get("usage"))
        response_id = str(response["id"]) if response and response.get("id") else None
        model = record.model or str(request.get("model") or (response or {}).get("model") or "")
        when = datetime.fromtimestamp(record.started, timezone.utc).isoformat(timespec="milliseconds")

        def clean(text: str | None) -> str | None:
            return redact(text, secret) if text else text

        values = (
            record.id,
            when,
            record.endpoint,
            model,
            clean(dumps(request)),
            clean(dumps(response)) if response is not None else None,
            clean(record.text) or "",
            usage.input_tokens,
            usage.output_tokens,
            usage.total_tokens,
            record.latency,
            record.status,
            clean(_error_line(record.error)),
            record.source,
            clean(prompt_of(record.endpoint, request)) or "",
            usage.cached_tokens,
            usage.reasoning_tokens,
            clean(normalize_base_url(record.base_url)) or "",
            record.notebook,
            record.cell,
            record.batch_id,
            record.batch_row,
            record.job_id,
            response_id,
        )
        with self._store.connect() as connection:
            cursor = connection.execute(_INSERT, values)
            if record.id is None:
                record.id = int(cursor.lastrowid or 0)
        return record.id

    def get(self, call_id: int | str) -> LogEntry:
        """The row with this id (``12``, ``"12"`` or ``"#12"``)."""
        number = _parse_id(call_id)
        rows = self._select(" WHERE id = ?", (number,)) if self._store.exists else []
        if not rows:
            raise StoreError(f"No call #{number} in the call log at {self.path}", hint="%haoee history lists them")
        return rows[0]

    def search(self, n: int | None = 20, search: str | None = None, model: str | None = None) -> list[LogEntry]:
        """The newest ``n`` calls (all with ``n=None``), newest first.

        ``search`` matches the prompt or the answer, ignoring case; ``model`` is the model's
        name, ignoring case.
        """
        if not self._store.exists:
            return []  # reading never creates the file
        where: list[str] = []
        params: list[Any] = []
        if search:
            if search.isascii():
                # LIKE is case-blind for ASCII, which is all an ASCII needle can match.
                pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                where.append("(prompt LIKE ? ESCAPE '\\' OR text LIKE ? ESCAPE '\\')")
                params += [pattern, pattern]
            else:
                where.append("(haoee_contains(prompt, ?) OR haoee_contains(text, ?))")
                params += [search.casefold()] * 2
        if model:
            where.append("model = ? COLLATE NOCASE")
            params.append(model)
        sql = (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if n is not None:
            sql += " LIMIT ?"
            params.append(max(int(n), 0))
        return self._select(sql, tuple(params))

    def open_batch(self, key: str, rows: int) -> tuple[str, bool]:
        """The run to write a batch's rows under: its last unfinished run, if there is one
        (``(id, True)``: resume it), else a new one (``(id, False)``).

        ``key`` names the batch (its template, options and inputs); ``rows`` is how many tasks
        it has, so a run of another size is never resumed.
        """
        import uuid

        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        with self._store.connect() as connection:
            row = connection.execute(
                "SELECT id FROM batches WHERE key = ? AND rows = ? AND finished IS NULL ORDER BY started DESC LIMIT 1",
                (key, rows),
            ).fetchone()
            if row is not None:
                return str(row[0]), True
            batch_id = f"{key[:12]}-{uuid.uuid4().hex[:8]}"
            connection.execute(
                "INSERT INTO batches (id, key, rows, started) VALUES (?, ?, ?, ?)", (batch_id, key, rows, now)
            )
        return batch_id, False

    def finish_batch(self, batch_id: str) -> None:
        """Mark a run as finished (every row tried): running the batch again starts a new run."""
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        with self._store.connect() as connection:
            connection.execute("UPDATE batches SET finished = ? WHERE id = ?", (now, batch_id))

    def batch_rows(self, batch_id: str) -> list[LogEntry]:
        """Every row written for one batch, by row index (to resume: send only the rest)."""
        if not self._store.exists:
            return []
        return self._select(" WHERE batch_id = ? ORDER BY batch_row, id", (batch_id,))

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[LogEntry]:
        with self._store.connect() as connection:
            rows = connection.execute(_SELECT + sql, params).fetchall()
        return [_entry(row) for row in rows]


def _add_functions(connection: sqlite3.Connection) -> None:
    connection.create_function("haoee_contains", 2, _contains, deterministic=True)


def _contains(haystack: str | None, needle: str) -> bool:
    """Case-blind containment for any script (SQLite's LIKE folds ASCII only)."""
    return haystack is not None and needle in haystack.casefold()


def _entry(row: tuple[Any, ...]) -> LogEntry:
    c = dict(zip(("id", *_COLUMNS), row))
    tokens = [c.pop(f"{kind}_tokens") for kind in ("input", "output", "total", "cached", "reasoning")]
    request_json, response_json = c.pop("request"), c.pop("response")
    return LogEntry(**c, usage=Usage(*tokens), request_json=request_json, response_json=response_json)


def _parse_id(call_id: int | str) -> int:
    text = str(call_id).strip().lstrip("#")
    if not text.isdigit():
        raise StoreError(f"{call_id!r} is not a call id", hint="Use the number from %haoee history, such as 12 or #12")
    return int(text)
