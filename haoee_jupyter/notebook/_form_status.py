"""What the form shows around its answer: the answer without a footer, one status line, its CSS.

The cell magic ends an answer with a footer (model, tokens, time). The form says that once, in
one status line under its answer, with the session's total after it; so the answer in the
form's Output is the display's bundle with that footer taken off. A Stop is said there in the
same muted colour as the facts: the user chose it, it is not an error. An error of the call
itself is red, in the same line; a value the form cannot send is said next to Run instead (the
form's ``error_line``), and the answer left from before is dimmed so it is not read as its answer.

    >>> status_html(call, session.total)
    'gpt-4.1 · 10 in / 128 out tokens · 10.6 s · this session: 138 tokens in 1 call'
"""

from __future__ import annotations

import html
import re
from typing import Any

from ..render import footer_facts
from ._session import Call

STOPPED = "Stopped; the partial answer is kept"
STOPPED_EMPTY = "Stopped before any answer arrived"

# The display's footer, as render.footer_markdown / footer_plain and the html format end an
# answer with it; the facts inside are HTML-escaped, so they hold no "<".
_FOOTERS = {
    "text/markdown": re.compile(r"\n*<sub>[^<>]*</sub>\s*\Z"),
    "text/html": re.compile(r"<div><sub>[^<>]*</sub></div>\s*\Z"),
    "text/plain": re.compile(r"\n*\[[^\[\]\n]*\]\s*\Z"),
}

#: The form's own styles, in an HTML widget of the form (theme variables: light and dark alike).
CSS = """<style>
.haoee-form .haoee-stale { opacity: 0.4; }
.haoee-form .haoee-status { color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size1); }
.haoee-form .haoee-status .haoee-failed { color: var(--jp-error-color1); }
.haoee-form .haoee-error { color: var(--jp-error-color1); margin-left: 0.8em; align-self: center; }
.haoee-form .haoee-error .widget-html-content { line-height: 1.3; white-space: normal; }
.haoee-form button.haoee-busy .fa { animation: haoee-spin 1.2s linear infinite; }
@keyframes haoee-spin { to { transform: rotate(360deg); } }
</style>"""


def without_footer(data: dict[str, str]) -> dict[str, str]:
    """A final answer's bundle without the footer the status line says instead."""
    bare = dict(data)
    for mime, pattern in _FOOTERS.items():
        if mime in bare:
            bare[mime] = pattern.sub("", bare[mime])
    return bare


def is_empty(data: dict[str, str]) -> bool:
    """Nothing to show (an error before any text): the Output is cleared rather than left blank."""
    return not any(str(value).strip() for value in data.values())


def status_html(call: Call, total: Any, problem: str | None = None) -> str:
    """The one status line under the form's answer, as HTML.

    ``problem``: what is wrong with an answer that did arrive (not the JSON asked for).
    """
    failed = False
    if call.interrupted:
        lead: str | None = STOPPED if call.answer else STOPPED_EMPTY
    elif call.error is not None:
        lead, failed = " ".join(str(call.error).split()), True
    elif problem:
        lead, failed = problem, True
    else:
        lead = None
    parts = []
    if lead:
        parts.append(f'<span class="{"haoee-failed" if failed else "haoee-stopped"}">{html.escape(lead)}</span>')
    if call.error is None or call.answer:  # an error before any text: its message says it all
        facts = footer_facts(
            call.response,
            model=call.model,
            latency=call.latency,
            # the lead says how it ended; otherwise an unusual status ("incomplete: ...") is named
            status="" if call.interrupted or call.error is not None else None,
            effort=_effort(call),
        )
        calls = f"{total.calls} call{'s' if total.calls != 1 else ''}"
        facts.append(f"this session: {total.total_tokens:,} tokens in {calls}")
        parts += [html.escape(fact) for fact in facts]
    return " · ".join(parts)


def _effort(call: Call) -> str | None:
    reasoning = call.body.get("reasoning") if isinstance(call.body, dict) else None
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    return str(effort) if effort else None
