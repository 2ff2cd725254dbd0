"""What the form shows of a call: its answer streamed into Output widgets, one status line, CSS.

The form's answer is a box of ``ipywidgets.Output`` children that :class:`WidgetView` fills as
:class:`~haoee_jupyter.notebook._display.NotebookView` fills a cell: finished pieces frozen in
Outputs of their own, each set once, only the open tail's Output updated, then one Output with
the whole answer. So the bytes of widget state sent to the frontend grow with the answer, not
with its square. The cell magic ends an answer with a footer (model, tokens, time); the form
says that once, in one status line under its answer, with the session's total after it, so its
answer has no footer. A Stop is said there in the same muted colour as the facts: the user chose
it, it is not an error. An error of the call itself is red, in the same line; a value the form
cannot send is said next to Run instead (the form's ``error_line``), and the answer left from
before is dimmed so it is not read as its answer.

    >>> status_html(call, session.total)
    'gpt-4.1 · 10 in / 128 out tokens · 10.6 s · this session: 138 tokens in 1 call'
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from ..render import footer_facts
from ._display import NotebookView
from ._session import Call

STOPPED = "Stopped; the partial answer is kept"
STOPPED_EMPTY = "Stopped before any answer arrived"

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


def is_empty(data: dict[str, str]) -> bool:
    """Nothing to show (an error before any text): the answer is cleared rather than left blank."""
    return not any(str(value).strip() for value in data.values())


class AnswerBox(widgets.VBox):  # type: ignore[misc]
    """The form's answer: Output widgets, one per piece while an answer streams, one after it.

    ``outputs`` reads what they show, in order, as an ``ipywidgets.Output``'s trait reads.
    """

    @property
    def outputs(self) -> tuple[dict[str, Any], ...]:
        return tuple(output for piece in self.children for output in piece.outputs)


class WidgetView(NotebookView):
    """A :class:`~haoee_jupyter.notebook._core.View` that streams a call into ``box``, a box of
    ``ipywidgets.Output`` children, with the same pieces, tail and final answer as a cell.

    It assigns the ``outputs`` trait of each child instead of using ``with output:``, so it works
    from a task on the event loop, where no cell's output context is active. The final answer has
    no footer (``footer=True`` keeps it); one that failed before any text leaves the box empty.

    Outputs are reused (the answer shown before, the pieces a merge cleared) and the ones left
    over at the end closed: at most ``max_outputs`` while an answer streams, one after it.

    >>> box = widgets.VBox()
    >>> view = WidgetView(box)   # then run(prepared, state, view) or arun(...) as for a cell
    """

    def __init__(self, box: widgets.Box, fmt: str = "markdown", *, footer: bool = False) -> None:
        super().__init__(fmt, footer=footer)
        self.box = box
        self._spare: list[widgets.Output] = list(box.children)  # Outputs to reuse
        self._replace = bool(box.children)  # the next output replaces what the box shows

    def _new_output(self, data: dict[str, str]) -> Any:
        # Filled while the box does not show it, then shown in one change of the box's children:
        # the frontend never shows the old pieces and the new output at once, nor an empty one.
        shown = self.box.children if self._replace else ()
        output = next((spare for spare in self._spare if spare not in shown), None)
        if output is None:
            output = widgets.Output(outputs=_display_data(data), layout=_shared_layout())
        else:
            self._spare.remove(output)
            output.outputs = _display_data(data)
        self.box.children = (output,) if self._replace else (*self.box.children, output)
        self._replace = False
        return _Piece(output)

    def _clear_outputs(self) -> None:
        # As clear_output(wait=True): what the box shows stays until the next output replaces it.
        self._spare += [output for output in self.box.children if output not in self._spare]
        self._replace = True

    def _end(self, data: dict[str, str]) -> None:
        if is_empty(data):  # failed before any text: the status line says why
            self._clear()
            self.box.children = ()
        else:
            super()._end(data)
        for output in self._spare:
            output.close()
        self._spare = []


class _Piece:
    """The handle of one Output in the box, updated as a cell's display handle is."""

    __slots__ = ("output",)

    def __init__(self, output: widgets.Output) -> None:
        self.output = output

    def update(self, data: dict[str, str], raw: bool = True) -> None:
        self.output.outputs = _display_data(data)


def _display_data(data: dict[str, str]) -> tuple[dict[str, Any], ...]:
    return ({"output_type": "display_data", "data": data, "metadata": {}},)


_LAYOUT: list[widgets.Layout] = []


def _shared_layout() -> widgets.Layout:
    """One Layout for every piece: a new Output then costs one widget, not two."""
    if not _LAYOUT or _LAYOUT[0].comm is None:  # none yet, or closed (Widget.close_all)
        _LAYOUT[:] = [widgets.Layout()]
    return _LAYOUT[0]


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
