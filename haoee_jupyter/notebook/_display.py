"""Showing a call: one live display that streams Markdown, then the final answer with a footer."""

from __future__ import annotations

import html
import json
import re
import sys
from typing import Any

from ..render import body_markdown, body_plain, bundle, footer_facts, footer_markdown, footer_plain
from ._session import Call

FORMATS = ("markdown", "text", "code", "json", "html", "math")
CURSOR = " ▍"


def call_status(call: Call) -> str | None:
    """The footer's status word, when the call did not simply complete."""
    kept = "partial answer kept" if call.answer else "nothing had arrived"
    if call.interrupted:
        return f"interrupted ({kept})"
    if call.error is not None:
        return f"{'failed' if call.status == 'failed' else 'error'} ({kept})"
    return None


def call_bundle(call: Call, final: bool, fmt: str = "markdown") -> dict[str, str]:
    """The mimebundle for a call in progress (``final=False``) or done."""
    response = call.response if final else None
    text = call.answer if final else call.text
    if not final:
        if not text:
            return bundle(
                f"<sub>{html.escape(call.model)} · waiting for the answer…</sub>",
                f"[{call.model}: waiting for the answer…]",
            )
        if fmt == "text":
            return {"text/plain": text}
        # After a fence opener the cursor would become the code block's language label.
        cursor = "" if text.rstrip(" ").rsplit("\n", 1)[-1].startswith("```") else CURSOR
        return bundle(text + cursor, text)
    facts = footer_facts(response, model=call.model, latency=call.latency, status=call_status(call))
    plain_footer = footer_plain(facts)
    plain = body_plain(response, text)
    if fmt == "text":
        return {"text/plain": plain + plain_footer}
    if fmt == "html" and text:
        return {
            "text/html": text + f"<div><sub>{html.escape(' · '.join(facts))}</sub></div>",
            "text/plain": plain + plain_footer,
        }
    if fmt == "math" and text:
        latex = text.strip()
        if not latex.startswith("$"):
            latex = f"$$\n{latex}\n$$"
        return {
            "text/latex": latex,
            "text/markdown": latex + footer_markdown(facts),
            "text/plain": plain + plain_footer,
        }
    if fmt == "json" and text:
        try:
            pretty = json.dumps(parse_json(text), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = text  # shown as it came; the magic reports the parse error
        return bundle(f"```json\n{pretty}\n```" + footer_markdown(facts), pretty + plain_footer)
    return bundle(body_markdown(response, text) + footer_markdown(facts), plain + plain_footer)


class NotebookView:
    """Streams into one display (a display id), updated in place; works in any frontend."""

    def __init__(self, fmt: str = "markdown") -> None:
        self.fmt = fmt
        self.handle: Any = None

    def update(self, call: Call, final: bool) -> None:
        from IPython.display import display

        data = call_bundle(call, final, self.fmt)
        if self.handle is None:
            self.handle = display(data, raw=True, display_id=True)
        else:
            self.handle.update(data, raw=True)


class TerminalView:
    """In terminal IPython: print the text as it streams, then what the stream did not carry
    (refusal, sources, why it stopped) and a one-line footer.

    With ``-f json`` the object is printed once, pretty, at the end: a terminal cannot replace
    the raw fragments a notebook shows while they stream.
    """

    def __init__(self, fmt: str = "markdown") -> None:
        self.fmt = fmt
        self.printed = ""

    def update(self, call: Call, final: bool) -> None:
        text = "" if self.fmt == "json" else call.text
        if final:
            text = body_plain(call.response, call.answer) or call.answer
            if call.response is not None and not text and call.response.status == "incomplete":
                text = f"(no text; stopped: {call.response.incomplete_reason})"
            if self.fmt == "json" and call.answer:
                try:
                    text = json.dumps(parse_json(call.answer), indent=2, ensure_ascii=False)
                except ValueError:
                    pass
        if text.startswith(self.printed):
            sys.stdout.write(text[len(self.printed) :])
        else:  # the final rendering differs from what streamed (e.g. pretty JSON): print it whole
            sys.stdout.write("\n" + text)
        self.printed = text
        if final:
            facts = footer_facts(call.response, model=call.model, latency=call.latency, status=call_status(call))
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
