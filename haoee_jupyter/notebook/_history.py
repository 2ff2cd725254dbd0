"""Past calls for people: ``haoee_jupyter.history()`` and the table ``%haoee history`` shows.

Also the one Markdown-table builder of the notebook layer (:func:`markdown_table`), so tables
stop being assembled by hand in each place that shows one.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..render import bundle
from ._log import CallLog, LogEntry
from ._store import StoreError

__all__ = ["history", "history_bundle", "history_markdown", "markdown_table", "shorten"]

_ALIGN = {"l": "---", "r": "--:", "c": ":-:"}


def markdown_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | Sequence[str] = "", *, escape_html: bool = True
) -> str:
    """A GitHub-style Markdown table; every cell made safe to sit in one.

    ``align`` has one letter per column, ``l`` (the default), ``r`` or ``c``. A cell's line
    breaks become spaces and ``|`` is escaped; with ``escape_html`` (for rendered Markdown) so
    are ``<``, ``>`` and ``&``, so a prompt holding HTML shows as text instead of breaking the table.

    >>> print(markdown_table(["model", "tokens"], [["gpt-4.1", "1,024"]], "lr"))
    | model | tokens |
    |---|--:|
    | gpt-4.1 | 1,024 |
    """

    def cell(value: Any) -> str:
        text = " ".join(str("" if value is None else value).split())
        if escape_html:
            text = html.escape(text, quote=False)
        return text.replace("|", "\\|")

    kinds = [_ALIGN.get(a, "---") for a in align] + ["---"] * (len(headers) - len(align))
    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join(kinds[: len(headers)]) + "|",
    ]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def shorten(text: str, width: int = 60) -> str:
    """The text on one line, cut to ``width`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def _local_time(entry: LogEntry) -> str:
    try:
        return datetime.fromisoformat(entry.time).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return entry.time


def _rows(entries: Sequence[LogEntry], width: int) -> list[list[str]]:
    return [
        [
            entry.label,
            _local_time(entry),
            entry.model,
            entry.status,
            f"{entry.usage.total_tokens:,}",
            f"{entry.latency:.1f} s" if entry.latency is not None else "",
            shorten(entry.prompt, width),
        ]
        for entry in entries
    ]


_HEADERS = ("id", "time", "model", "status", "tokens", "latency", "prompt")


def history_markdown(entries: Sequence[LogEntry], *, width: int = 60) -> str:
    """The ``%haoee history`` table: id, local time, model, status, tokens, latency, prompt start."""
    if not entries:
        return "No calls found in the call log."
    return markdown_table(_HEADERS, _rows(entries, width), "rlllrrl")


def history_bundle(entries: Sequence[LogEntry], *, width: int = 60) -> dict[str, str]:
    """The table as a mimebundle: Markdown, and the same table as plain text for terminals."""
    plain = markdown_table(_HEADERS, _rows(entries, width), "rlllrrl", escape_html=False) if entries else ""
    return bundle(history_markdown(entries, width=width), plain or "No calls found in the call log.")


def history(
    n: int | None = 20, search: str | None = None, model: str | None = None, *, as_frame: bool | None = None
) -> Any:
    """Recent calls from the call log, newest first.

    A pandas DataFrame (columns id, time, model, status, tokens, latency, prompt, answer; the
    prompt and answer shortened) when pandas is installed, else a list of ``LogEntry``;
    ``as_frame=False`` asks for the list, with every field, always.

    >>> import haoee_jupyter
    >>> haoee_jupyter.history(5, search="entropy", model="gpt-4.1")
    >>> entry = haoee_jupyter.history(1, as_frame=False)[0]
    >>> entry.label, entry.text, entry.request, entry.usage.total_tokens
    """
    with CallLog() as log:
        entries = log.search(n, search=search, model=model)
    if as_frame is False:
        return entries
    try:
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    except ImportError as e:
        if as_frame:
            raise StoreError("history(as_frame=True) needs pandas", hint="Run pip install pandas") from e
        return entries
    return pd.DataFrame(
        {
            "id": pd.Series([entry.id for entry in entries], dtype="int64"),
            "time": pd.to_datetime([entry.time for entry in entries], utc=True, format="ISO8601"),
            "model": [entry.model for entry in entries],
            "status": [entry.status for entry in entries],
            "tokens": pd.Series([entry.usage.total_tokens for entry in entries], dtype="int64"),
            "latency": pd.Series([entry.latency for entry in entries], dtype="float64"),
            "prompt": [shorten(entry.prompt, 80) for entry in entries],
            "answer": [shorten(entry.text, 80) for entry in entries],
        }
    )
