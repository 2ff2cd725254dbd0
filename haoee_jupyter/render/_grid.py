"""Answers side by side: one column per model, each with its title and a footer under it.

The grid is Markdown holding HTML blocks: each column is a ``<div>`` whose content is Markdown
between blank lines (CommonMark reads Markdown inside an HTML block that blank lines close), so
JupyterLab renders each answer as it renders a single one, code blocks and tables included. The
columns are a CSS grid of equal widths, each allowed to shrink (``min-width: 0``) so a long code
line scrolls inside its column instead of widening the page. ``text/plain`` holds the answers one
after another, for terminals and nbconvert.

    >>> grid_bundle([GridColumn("gpt-4.1", "**Hi**", "Hi", ["gpt-4.1", "1.2 s"])])["text/plain"]
    '── gpt-4.1 ──\\nHi\\n[gpt-4.1 · 1.2 s]'
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["GridColumn", "grid_bundle"]

# JupyterLab's theme variables, so the grid reads in the light and the dark theme alike.
_GRID_STYLE = "display: grid; grid-template-columns: repeat({n}, minmax(0, 1fr)); gap: 0 1.5em; align-items: start"
_COLUMN_STYLE = "min-width: 0; overflow-x: auto; border-top: 2px solid var(--jp-border-color2); padding-top: 0.3em"
_FOOTER_STYLE = "color: var(--jp-ui-font-color2)"


@dataclass(frozen=True)
class GridColumn:
    """One model's column: its title, its answer (Markdown, and the same as plain text), the
    footer's facts (model, tokens, latency, status) and a note above the answer."""

    title: str
    markdown: str
    plain: str
    facts: Sequence[str] = field(default_factory=tuple)
    note: str = ""  # e.g. "… 2,345 characters above" while only the end of a long answer is shown


def _column_markdown(column: GridColumn) -> str:
    parts = [
        f'<div class="haoee-grid-column" style="{_COLUMN_STYLE}">',
        "",
        f"**{html.escape(column.title)}**",
        "",
    ]
    if column.note:
        parts += [f"<sub>{html.escape(column.note)}</sub>", ""]
    if column.markdown.strip():
        parts += [column.markdown.strip("\n"), ""]
    if column.facts:
        parts += [f'<sub style="{_FOOTER_STYLE}">{html.escape(" · ".join(column.facts))}</sub>', ""]
    parts.append("</div>")
    return "\n".join(parts)


def grid_markdown(columns: Sequence[GridColumn]) -> str:
    """The grid as Markdown (HTML blocks with Markdown inside)."""
    style = _GRID_STYLE.format(n=max(len(columns), 1))
    return "\n".join([f'<div class="haoee-grid" style="{style}">', *map(_column_markdown, columns), "</div>"]) + "\n"


def grid_plain(columns: Sequence[GridColumn]) -> str:
    """The answers one after another under their titles, each with its footer in brackets."""
    blocks = []
    for column in columns:
        lines = [f"── {column.title} ──"]
        if column.note:
            lines.append(column.note)
        if column.plain:
            lines.append(column.plain)
        if column.facts:
            lines.append(f"[{' · '.join(column.facts)}]")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def grid_bundle(columns: Sequence[GridColumn]) -> dict[str, str]:
    """The mimebundle of a grid of answers: Markdown for notebooks, plain text for the rest."""
    return {"text/markdown": grid_markdown(columns), "text/plain": grid_plain(columns)}
