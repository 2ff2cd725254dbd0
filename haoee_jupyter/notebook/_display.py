"""Showing a call: Markdown that streams in pieces, then the whole answer once, with a footer.

While an answer streams, :class:`NotebookView` freezes its finished part in outputs of their own,
each sent once, and updates only the open tail (where the pieces end: ``render._stream``). So the
bytes sent to the frontend grow with the answer, not with its square, and the browser re-renders
a few lines ten times a second, not the whole answer. At the end one output holds the whole
answer (the pieces are cleared), which is also what a saved notebook keeps.

Reasoning streams into a fold in the first output, above the answer; once the answer begins the
fold closes, as it stays in the final rendering, so nothing moves when the answer ends.
"""

from __future__ import annotations

import html
import json
import re
import sys
from typing import Any

from ..client._exceptions import ConfigurationError
from ..render import body_markdown, body_plain, bundle, footer_facts, footer_markdown, footer_plain
from ..render._stream import CURSOR, Cut, find_cut, settle
from ..render._text import reasoning_fold
from ._option import FORMATS as FORMATS  # named here too: the formats this module shows
from ._session import Call

#: What a cut answer says to raise when it hit its token limit.
LIMIT_OPTION = "--max-tokens"


def call_status(call: Call) -> str | None:
    """The footer's status word, when the call did not simply complete."""
    kept = "partial answer kept" if call.answer else "nothing had arrived"
    if getattr(call, "cached", False):  # answered from the response cache (--cache)
        return "cached: nothing sent"
    if call.interrupted:
        return f"interrupted ({kept})"
    if isinstance(call.error, ConfigurationError):
        return "not sent"
    if call.error is not None:
        return f"{'failed' if call.status == 'failed' else 'error'} ({kept})"
    return None


def _latency(call: Call) -> float | None:
    # "0.0 s" above an error says nothing: no time is shown for a call that never got going.
    if call.error is not None and not call.answer:
        if isinstance(call.error, ConfigurationError) or (call.latency or 0.0) < 0.05:
            return None
    return call.latency


def _effort(call: Call) -> str | None:
    reasoning = call.body.get("reasoning") if isinstance(call.body, dict) else None
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    return str(effort) if effort else None


def _reasoning(call: Call) -> str:
    return getattr(call, "reasoning_text", "") or ""


def _reasoning_tail(reasoning: str, limit: int) -> str:
    """The end of a long reasoning summary, from a paragraph on: a bounded update, not all of it."""
    if len(reasoning) <= limit:
        return reasoning
    start = reasoning.find("\n\n", len(reasoning) - limit)
    start = len(reasoning) - limit if start < 0 else start + 2
    return "…\n\n" + reasoning[start:]


def waiting_bundle(call: Call, reasoning: str = "", limit: int = 3000) -> dict[str, str]:
    """Before any answer text: the reasoning so far in an open fold, or a line saying it waits."""
    if reasoning:
        shown = _reasoning_tail(reasoning, limit)
        return bundle(reasoning_fold(settle(shown, CURSOR), open=True), f"[Reasoning] {shown} ▍")
    if _effort(call):  # the fold the reasoning will stream into, in place from the start
        note = f"<sub>{html.escape(call.model)} · waiting for its reasoning…</sub>"
        return bundle(reasoning_fold(note, open=True), f"[{call.model}: waiting for its reasoning…]")
    return bundle(
        f"<sub>{html.escape(call.model)} · waiting for the answer…</sub>", f"[{call.model}: waiting for the answer…]"
    )


def call_bundle(call: Call, final: bool, fmt: str = "markdown", *, footer: bool = True) -> dict[str, str]:
    """The whole mimebundle for a call in progress (``final=False``) or done.

    ``footer=False``: the final answer without its footer (the form's status line says it), so
    a call that failed before any text gives a bundle of empty strings.
    """
    if not final:
        text, reasoning = call.text, _reasoning(call)
        if not text:
            return waiting_bundle(call, reasoning)
        if fmt == "text":
            return {"text/plain": text}
        fold = reasoning_fold(reasoning) if reasoning else ""
        return bundle(fold + settle(text, CURSOR), text)
    response = call.response
    text = call.answer
    facts = footer_facts(
        response, model=call.model, latency=_latency(call), status=call_status(call), effort=_effort(call)
    )
    plain_footer, markdown_footer = (footer_plain(facts), footer_markdown(facts)) if footer else ("", "")
    plain = body_plain(response, text, limit=LIMIT_OPTION)
    if fmt == "text":
        return {"text/plain": (plain + plain_footer).lstrip("\n")}
    if fmt == "html" and text:
        return {
            "text/html": text + (f"<div><sub>{html.escape(' · '.join(facts))}</sub></div>" if footer else ""),
            "text/plain": plain + plain_footer,
        }
    if fmt == "math" and text:
        latex = text.strip()
        if not latex.startswith("$"):
            latex = f"$$\n{latex}\n$$"
        return {
            "text/latex": latex,
            "text/markdown": latex + markdown_footer,
            "text/plain": plain + plain_footer,
        }
    if fmt == "json" and text:
        try:
            pretty = json.dumps(parse_json(text), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = text  # shown as it came; the magic reports the parse error
        return bundle(f"```json\n{pretty}\n```" + markdown_footer, pretty + plain_footer)
    partial = call.interrupted or call.error is not None
    markdown = body_markdown(response, text, partial=partial, limit=LIMIT_OPTION) + markdown_footer
    return bundle(markdown.lstrip("\n"), (plain + plain_footer).lstrip("\n"))


class NotebookView:
    """Streams a call into a cell's outputs: finished pieces frozen, the open tail updated, then
    one output with the whole answer. Works in any frontend that shows display updates.

    The view keeps offsets into ``call.text``, never copies of the answer. ``footer=False`` ends
    the answer without its footer. Where the outputs go is two methods, ``_new_output`` and
    ``_clear_outputs``: the form's ``WidgetView`` puts them in widgets instead of the cell.
    """

    #: A piece is frozen once it holds at least this many characters of finished blocks.
    soft_limit = 2000
    #: Past this many open characters the tail is cut at a line, also inside a code block or table.
    hard_limit = 5000
    #: JupyterLab hides a cell's outputs past 50 behind "Show more outputs": before that many,
    #: the frozen pieces are merged into one output.
    max_outputs = 46
    #: While reasoning streams, the fold shows at most its last this many characters.
    reasoning_limit = 3000

    def __init__(self, fmt: str = "markdown", *, footer: bool = True) -> None:
        self.fmt, self.footer = fmt, footer
        self.handle: Any = None  # the first output: waiting, then reasoning or the answer's first piece
        self._first = ""  # what it shows: "waiting", "reasoning", "folded" (reasoning, closed) or "answer"
        self._tail: Any = None  # the output the open tail is updated in
        self._outputs = 0  # outputs shown in the cell so far
        self._start = 0  # call.text[_start:] is the open tail
        self._cut: Cut | None = None  # how the last piece ended (what the tail re-opens)
        self._reasoning_shown = -1  # how much reasoning the first output shows

    def update(self, call: Call, final: bool) -> None:
        if final:
            self._finish(call)
            return
        text = call.text
        if not text:
            self._wait(call, _reasoning(call))
            return
        if self._first in ("", "waiting", "reasoning"):  # the answer begins
            if self._first == "reasoning":
                self.handle.update(bundle(*self._fold(call)), raw=True)
                self._first = "folded"
            else:
                self._tail, self._first = self.handle, "answer"
        code = self.fmt in ("text", "json")
        reopen = self._cut.reopen if self._cut is not None else None
        cut = find_cut(text, self._start, reopen, soft=self.soft_limit, hard=self.hard_limit, code=code)
        if cut is not None:
            self._put(self._piece(text, cut))
            self._start, self._cut, self._tail = cut.end, cut, None
            if self._outputs >= self.max_outputs - 1:
                self._merge(call, text)
        self._put(self._open_tail(text))

    # --- the outputs ----------------------------------------------------------------------
    def _new_output(self, data: dict[str, str]) -> Any:
        """Show a new output below the others; its handle has ``update(data, raw=True)``."""
        from IPython.display import display

        return display(data, raw=True, display_id=True)

    def _clear_outputs(self) -> None:
        """Remove every output shown, once the next one arrives (so nothing flickers)."""
        from IPython.display import clear_output

        clear_output(wait=True)

    def _display(self, data: dict[str, str]) -> Any:
        self._outputs += 1
        handle = self._new_output(data)
        if self.handle is None:
            self.handle = handle
        return handle

    def _put(self, data: dict[str, str]) -> None:
        if self._tail is None:
            self._tail = self._display(data)
        else:
            self._tail.update(data, raw=True)

    def _clear(self) -> None:
        self._clear_outputs()
        self.handle, self._tail, self._outputs = None, None, 0

    def _wait(self, call: Call, reasoning: str) -> None:
        if len(reasoning) == self._reasoning_shown or self._first not in ("", "waiting", "reasoning"):
            return
        self._reasoning_shown = len(reasoning)
        data = waiting_bundle(call, reasoning, self.reasoning_limit)
        self._first = "reasoning" if reasoning else "waiting"
        if self.handle is None:
            self._display(data)
        else:
            self.handle.update(data, raw=True)

    def _fold(self, call: Call) -> tuple[str, str]:
        reasoning = _reasoning(call)
        return reasoning_fold(reasoning), f"[Reasoning] {reasoning}"

    def _merge(self, call: Call, text: str) -> None:
        """Too many outputs: show the frozen pieces again as one (sent once more, all of them)."""
        folded = self._first == "folded"
        self._clear()
        if folded:
            self._display(bundle(*self._fold(call)))
        frozen = text[: self._start]
        if self.fmt == "text":
            self._display({"text/plain": frozen})
            return
        close = self._cut.close if self._cut is not None else ""
        markdown = _fenced(frozen) if self.fmt == "json" else frozen + (_line_end(frozen) + close if close else "")
        self._display(bundle(markdown, frozen))

    def _piece(self, text: str, cut: Cut) -> dict[str, str]:
        piece = text[self._start : cut.end]
        if self.fmt == "text":
            return {"text/plain": piece}
        if self.fmt == "json":
            return bundle(_fenced(piece), piece)
        return bundle(self._reopened(text) + piece + (_line_end(piece) + cut.close if cut.close else ""), piece)

    def _open_tail(self, text: str) -> dict[str, str]:
        tail = text[self._start :]
        if self.fmt == "text":
            return {"text/plain": tail}
        if self.fmt == "json":
            return bundle(_fenced(tail + CURSOR), tail)
        return bundle(settle(self._reopened(text) + tail, CURSOR), tail)

    def _reopened(self, text: str) -> str:
        reopen = self._cut.reopen if self._cut is not None else None
        return text[reopen.start : reopen.end] if reopen is not None else ""

    def _finish(self, call: Call) -> None:
        self._end(call_bundle(call, True, self.fmt, footer=self.footer))

    def _end(self, data: dict[str, str]) -> None:
        """The final output: the whole answer in one output."""
        if self.handle is not None and self._outputs == 1:
            self.handle.update(data, raw=True)  # one output all along: replace it in place
            return
        if self._outputs:
            self._clear()  # then one clean output with the whole answer
        self._display(data)


def _line_end(text: str) -> str:
    return "" if text.endswith("\n") else "\n"


def _fenced(code: str) -> str:
    return f"```json\n{code}{_line_end(code)}```"


class TerminalView:
    """In terminal IPython: print the text as it streams, then what the stream did not carry
    (refusal, sources, why it stopped) and a one-line footer.

    With ``-f json`` the object is printed once, pretty, at the end: a terminal cannot replace
    the raw fragments a notebook shows while they stream.
    """

    def __init__(self, fmt: str = "markdown") -> None:
        self.fmt = fmt
        self.printed = 0  # how much is on screen: call.text[:printed] while it streams

    def update(self, call: Call, final: bool) -> None:
        text = "" if self.fmt == "json" else call.text
        if final:
            text = body_plain(call.response, call.answer, limit=LIMIT_OPTION) or call.answer
            if self.fmt == "json" and call.answer:
                try:
                    text = json.dumps(parse_json(call.answer), indent=2, ensure_ascii=False)
                except ValueError:
                    pass
        if not self.printed or text.startswith(call.text[: self.printed]):
            sys.stdout.write(text[self.printed :])
        else:  # the final rendering differs from what streamed (e.g. pretty JSON): print it whole
            sys.stdout.write("\n" + text)
        self.printed = len(text)
        if final:
            facts = footer_facts(
                call.response,
                model=call.model,
                latency=_latency(call),
                status=call_status(call),
                effort=_effort(call),
            )
            sys.stdout.write(f"\n[{' · '.join(facts)}]\n")
        sys.stdout.flush()


def in_terminal(shell: Any) -> bool:
    return type(shell).__name__ == "TerminalInteractiveShell"


def extract_code(text: str) -> str:
    """The code of an answer: its fenced blocks joined, or the whole text when it has none."""
    blocks = re.findall(r"```[^\n`]*\n(.*?)```", text, re.S)
    return "\n\n".join(block.strip("\n") for block in blocks) if blocks else text.strip()


def parse_json(text: str) -> Any:
    """JSON from an answer, also when the model wrapped it in a ```json fence."""
    stripped = text.strip()
    fenced = re.search(r"```(?:json)?\s*\n(.*?)```", stripped, re.S)
    return json.loads(fenced.group(1) if fenced else stripped)
