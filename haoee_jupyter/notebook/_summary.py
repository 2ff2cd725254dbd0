"""What a batch shows when it ends: rows done and failed, the first rows of the result, total
usage, wall time and requests per second, and where the result is."""

from __future__ import annotations

import re
from typing import Any

from ..render import bundle
from ._history import markdown_table, shorten
from ._rows import RowError

# The batch (a ``_batch.Batch``) is passed in, never imported: _batch imports this module.
Batch = Any

#: How many rows of the result the summary shows, and how wide each cell is.
HEAD, WIDTH = 5, 60
#: How many failures it names.
FAILURES = 3


def summary_bundle(
    batch: Batch, result: Any, elapsed: float, *, where: str, column: str, interrupted: bool
) -> dict[str, str]:
    counts, rows = batch.counts, batch.rows
    models = batch.models
    size = f"{len(rows):,} row{'s' if len(rows) != 1 else ''}" + (f" × {len(models)} models" if len(models) > 1 else "")
    head = f"Batch over {rows.name}: {size}" + (", interrupted" if interrupted else "")
    facts = [f"{counts.done:,} done", f"{counts.failed:,} failed"]
    if counts.total < len(batch.results.values):
        facts.append(f"{len(batch.results.values) - counts.total:,} kept from the earlier result")
    if counts.cached:
        facts.append(f"{counts.cached:,} from the cache")
    if counts.reused:
        facts.append(f"{counts.reused:,} from the call log of the interrupted run")
    usage = batch.usage
    facts.append(f"{usage.total_tokens:,} tokens ({usage.input_tokens:,} in / {usage.output_tokens:,} out)")
    rate = counts.sent / elapsed if elapsed > 0 else 0.0
    facts.append(f"{elapsed:.1f} s, {counts.sent:,} requests ({rate:.1f}/s)")
    failures = [(i, value) for i, value in enumerate(batch.results.values) if isinstance(value, RowError)][:FAILURES]
    failed_lines = [
        f"row {rows.labels[i // len(models)]!r}"
        + (f" ({models[i % len(models)]})" if len(models) > 1 else "")
        + f": {e.line}"
        for i, e in failures
    ]
    kind = (
        f"a DataFrame with column{'s' if len(batch.results.all_columns()) > 1 else ''} "
        + ", ".join(batch.results.all_columns())
        if rows.kind == "frame"
        else f"a list of {len(rows):,}"
    )
    ending = f"The result is in {where} ({kind})."
    if counts.failed or interrupted:
        ending += " Run the cell again with --retry-failed to send only the failed and missing rows."
    headers, table = _head(batch, result)
    markdown = [f"**{head}**", "", " · ".join(facts)]
    plain = [head, " · ".join(facts)]
    if failed_lines:
        markdown += ["", "Failed: " + "; ".join(f"`{line}`" if "`" not in line else line for line in failed_lines)]
        plain += ["Failed: " + "; ".join(failed_lines)]
    markdown += ["", markdown_table(headers, table), "", ending]
    plain += [markdown_table(headers, table, escape_html=False), ending]
    return bundle("\n".join(markdown), "\n".join(plain))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return shorten(str(value), WIDTH)


_BLOCK_MARK = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+|`{3,}\w*\s*)+")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(?<![\w*_~])[*_~]+|[*_~]+(?![\w*_~])|`+")


def _preview(value: Any) -> str:
    """An answer in a table cell: its first line as plain text (Markdown markers dropped)."""
    if not isinstance(value, str):
        return _cell(value)
    for line in value.splitlines():
        text = _EMPHASIS.sub("", _LINK.sub(r"\1", _BLOCK_MARK.sub("", line))).strip()
        if text:
            return shorten(text, WIDTH)
    return ""


def _head(batch: Batch, result: Any) -> tuple[list[str], list[list[str]]]:
    """The first rows of the result: index, the item (or two of a DataFrame's columns), the answers."""
    rows = batch.rows
    count = min(HEAD, len(rows))
    if rows.kind == "frame":
        answers = batch.results.all_columns()
        inputs = [c for c in rows.columns if c not in answers][:2]
        headers = ["", *inputs, *answers]
        frame = result.head(count)
        table = [
            [_cell(label), *(_cell(frame[c].iloc[k]) for c in inputs), *(_preview(frame[c].iloc[k]) for c in answers)]
            for k, label in enumerate(frame.index)
        ]
        return headers, table
    models = batch.models
    if len(models) > 1:
        headers = ["", "item", *models]
        table = [[str(i), _cell(rows.items[i]), *(_preview(result[i].get(m)) for m in models)] for i in range(count)]
    else:
        headers = ["", "item", "answer"]
        table = [[_cell(rows.labels[i]), _cell(rows.items[i]), _preview(result[i])] for i in range(count)]
    return headers, table
