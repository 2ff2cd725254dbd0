"""The call log's schema: version 1, and every migration step since (see ``_store.Migration``).

A step is only ever appended: files in the wild are at every version.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3


def loads(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _text(value: Any) -> str:
    """The user's words in a message's content: a string, or its text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [_text(part.get("text")) if isinstance(part, dict) else _text(part) for part in value]
        return "\n".join(part for part in parts if part)
    return ""


def prompt_of(endpoint: str, request: dict[str, Any]) -> str:
    """The input text of a request: the last user turn of a message list, or the prompt."""
    value = request.get("input", request.get("messages", request.get("prompt")))
    if isinstance(value, list):
        users = [m for m in value if isinstance(m, dict) and m.get("role", "user") == "user"]
        if users:
            return _text(users[-1].get("content"))
        return _text(value)
    return _text(value)


# --- the schema ------------------------------------------------------------------------------
# Version 1 is the first shape of the table; each later step moves a file one version on.
# A step is only ever appended: files in the wild are at every version.

_V1 = """
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    request TEXT NOT NULL DEFAULT '{}',
    response TEXT,
    text TEXT NOT NULL DEFAULT '',
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    latency REAL,
    status TEXT NOT NULL,
    error TEXT,
    source TEXT NOT NULL DEFAULT ''
)
"""

_V2_SQL = """
ALTER TABLE calls ADD COLUMN prompt TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN base_url TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN notebook TEXT;
ALTER TABLE calls ADD COLUMN cell INTEGER;
ALTER TABLE calls ADD COLUMN batch_id TEXT;
ALTER TABLE calls ADD COLUMN batch_row INTEGER;
ALTER TABLE calls ADD COLUMN job_id TEXT;
ALTER TABLE calls ADD COLUMN response_id TEXT;
CREATE INDEX calls_model ON calls (model COLLATE NOCASE);
CREATE INDEX calls_batch ON calls (batch_id, batch_row) WHERE batch_id IS NOT NULL;
CREATE INDEX calls_job ON calls (job_id) WHERE job_id IS NOT NULL
"""


def _v2(connection: sqlite3.Connection) -> None:
    """Version 2: the columns for cells, batches, jobs and the prompt, which it fills for the
    rows version 1 wrote (search reads it)."""
    for statement in _V2_SQL.split(";"):
        if statement.strip():
            connection.execute(statement)
    rows = connection.execute("SELECT id, endpoint, request, response FROM calls").fetchall()
    for row_id, endpoint, request, response in rows:
        body = loads(request)
        answer = loads(response)
        connection.execute(
            "UPDATE calls SET prompt = ?, response_id = ? WHERE id = ?",
            (
                prompt_of(endpoint, body) if isinstance(body, dict) else "",
                str(answer.get("id")) if isinstance(answer, dict) and answer.get("id") else None,
                row_id,
            ),
        )


# Version 3: the runs of a batch, so that running one again after an interrupt (or a kernel
# restart) resumes it; a run is finished once every row was tried.
_V3 = """
CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    rows INTEGER NOT NULL,
    started TEXT NOT NULL,
    finished TEXT
);
CREATE INDEX batches_key ON batches (key)
"""

MIGRATIONS = (_V1, _v2, _V3)
