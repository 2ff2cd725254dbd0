"""What a notebook session remembers: its recent calls, token totals and named chats."""

from __future__ import annotations

import dataclasses
import html
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..client._models import Response, Usage

#: Names set in the user's namespace after every call.
RESPONSE_VAR, USAGE_VAR, TOTAL_VAR = "haoee_response", "haoee_usage", "haoee_usage_total"
RESPONSES, CHAT_COMPLETIONS = "/responses", "/chat/completions"  # the endpoints of text calls


class Call:
    """One call made from the notebook: what was asked, what came back, what it cost.

    While an answer streams, its deltas are kept as a list of pieces (appending never copies
    the text so far); :attr:`text` joins them when asked, once per change. When the final
    Response holds the text, the pieces are dropped: a finished call keeps its answer once.

    >>> call = Call(body={"model": "gpt-4.1", "input": "hi"})
    >>> call.add_text("Hel"); call.add_text("lo")
    >>> call.text
    'Hello'
    """

    def __init__(
        self,
        body: dict[str, Any],
        source: str = "magic",
        chat: str | None = None,
        *,
        cell: int | None = None,
        endpoint: str = RESPONSES,
        text: str = "",
        response: Response | None = None,
        error: BaseException | None = None,
        interrupted: bool = False,
        latency: float | None = None,
    ) -> None:
        self.body = body
        self.source = source
        # The path it went to: /responses, /chat/completions, /images/generations, /videos ...
        self.endpoint = endpoint
        self.chat = chat
        self.cell = cell  # the execution count of the cell it came from, when known
        self.number: int | None = None  # its place in the session, set when it is recorded
        self.started_at = time.time()
        self.latency = latency
        self.error = error
        self.interrupted = interrupted
        self.cached = False  # answered from the response cache: nothing was sent, nothing spent
        self.log_id: int | None = None  # its row in the call log (#12), once written there
        self._pieces: list[str] = [text] if text else []
        self._joined: str | None = None
        self._reasoning: list[str] = []
        self._reasoning_joined: str | None = None
        self._response: Response | None = None
        self.response = response

    def __repr__(self) -> str:
        return f"<Call {self.model} {self.status}, {len(self.text):,} characters>"

    # --- what arrives ---------------------------------------------------------------------
    def add_text(self, delta: str) -> None:
        """Keep one streamed piece of the answer."""
        self._pieces.append(delta)
        self._joined = None

    def add_reasoning(self, delta: str) -> None:
        """Keep one streamed piece of the reasoning summary."""
        self._reasoning.append(delta)
        self._reasoning_joined = None

    @property
    def response(self) -> Response | Any:
        """The Response; for a media call its ImageResult, Video or VideoResult."""
        return self._response

    @response.setter
    def response(self, response: Response | Any) -> None:
        self._response = response
        if getattr(response, "text", None):  # it holds the text now: keep it once
            self._pieces, self._joined = [], None
        if getattr(response, "reasoning", None):
            self._reasoning, self._reasoning_joined = [], None

    @property
    def text(self) -> str:
        """The answer so far (all of it once the call is done)."""
        if self._response is not None and not self._pieces:
            return str(getattr(self._response, "text", "") or "")
        if self._joined is None:
            self._joined = "".join(self._pieces)
            self._pieces = [self._joined] if self._joined else []
        return self._joined

    #: The same as :attr:`text` (the name the displays used first).
    answer = text

    @property
    def reasoning_text(self) -> str:
        """The reasoning summary so far, as it streams (all of it once the call is done)."""
        if self._response is not None and not self._reasoning:
            return "\n\n".join(getattr(self._response, "reasoning", None) or ())
        if self._reasoning_joined is None:
            self._reasoning_joined = "".join(self._reasoning)
            self._reasoning = [self._reasoning_joined] if self._reasoning_joined else []
        return self._reasoning_joined

    # --- what it was ------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return str(self.body.get("model") or "")

    @property
    def prompt(self) -> str:
        """The prompt text that was sent (this turn's, and its first text part when images came with it)."""
        if "input" not in self.body:  # an image or video prompt
            return str(self.body.get("prompt") or "")
        content = turn_message(self.body)["content"]
        if isinstance(content, list):
            texts = (p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "input_text")
            return str(next(texts, "") or "")
        return str(content or "")

    @property
    def usage(self) -> Usage:
        return getattr(self.response, "usage", None) or Usage()

    @property
    def status(self) -> str:
        """completed, incomplete, failed, error, interrupted or pending (a video job: queued, in_progress)."""
        if self.interrupted:
            return "interrupted"
        if self.error is not None:
            return "failed" if type(self.error).__name__ in ("ResponseFailedError", "VideoFailedError") else "error"
        if self.response is None:
            return "pending"
        return str(getattr(self.response, "status", "") or "completed")  # an ImageResult has none: it is done


def turn_message(body: dict[str, Any]) -> dict[str, Any]:
    """The user message of this turn: the last item of a body's ``input`` (what came before it is
    a conversation's earlier messages)."""
    sent = body.get("input")
    if isinstance(sent, list) and sent and isinstance(sent[-1], dict):
        return dict(sent[-1])
    return {"role": "user", "content": sent if isinstance(sent, str) else ""}


@dataclass(frozen=True)
class UsageTotal(Usage):
    """The session's running token total, with a breakdown per model.

    >>> haoee_usage_total.total_tokens, haoee_usage_total.calls
    >>> haoee_usage_total.by_model["gpt-4.1"].output_tokens
    """

    calls: int = 0
    by_model: dict[str, Usage] = field(default_factory=dict, compare=False, hash=False)
    #: Calls answered from the response cache (counted in ``calls`` too), and the tokens they
    #: would have cost: apart from the tokens above, which were spent.
    cached_calls: int = 0
    saved_tokens: int = 0

    def add(self, model: str, usage: Usage, *, cached: bool = False) -> UsageTotal:
        """The total with one more call; a cached call spends nothing and adds to ``saved_tokens``."""
        if cached:
            return dataclasses.replace(
                self,
                calls=self.calls + 1,
                cached_calls=self.cached_calls + 1,
                saved_tokens=self.saved_tokens + usage.total_tokens,
            )
        by_model = dict(self.by_model)
        by_model[model] = by_model.get(model, Usage()) + usage
        summed = Usage(*(getattr(self, name) + getattr(usage, name) for name in usage.as_dict()))
        return dataclasses.replace(self, **summed.as_dict(), calls=self.calls + 1, by_model=by_model)

    def _repr_markdown_(self) -> str:
        rows = [
            f"| {html.escape(model)} | {u.input_tokens:,} | {u.output_tokens:,} | {u.total_tokens:,} |"
            for model, u in self.by_model.items()
        ]
        rows.append(
            f"| **all ({self.calls} call{'s' if self.calls != 1 else ''})** | {self.input_tokens:,} | {self.output_tokens:,} | {self.total_tokens:,} |"
        )
        if self.cached_calls:
            rows.append(
                f"| *from the cache ({self.cached_calls} call{'s' if self.cached_calls != 1 else ''})* | | | {self.saved_tokens:,} saved |"
            )
        return "| model | input | output | total |\n|---|--:|--:|--:|\n" + "\n".join(rows)


@dataclass
class Chat:
    """A named conversation. On /v1/responses a turn continues from the last answer's id; the
    messages are kept too, for the chat-completions wire (which has no such id) and for a
    conversation that moves from one wire to the other."""

    name: str
    last_response_id: str | None = None  # only when the last turn went to /v1/responses
    instructions: str | None = None
    turns: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)


#: How many calls a session keeps in memory; the totals count every call.
HISTORY = 100


@dataclass
class Session:
    """What the magic and the forms of one shell share: recent calls, token totals, named chats.

    ``calls`` holds the last :data:`HISTORY` calls (oldest first); ``total`` counts them all.
    """

    calls: deque[Call] = field(default_factory=lambda: deque(maxlen=HISTORY))
    total: UsageTotal = field(default_factory=UsageTotal)
    chats: dict[str, Chat] = field(default_factory=dict)
    last_error: BaseException | None = None

    def start_chat(self, name: str, instructions: str | None) -> Chat:
        """The named chat, begun now if it is new (its instructions are resent every turn)."""
        if name not in self.chats:
            self.chats[name] = Chat(name, instructions=instructions)
        return self.chats[name]

    def record(self, call: Call, namespace: dict[str, Any] | None) -> None:
        """Keep the call, add its tokens, and publish the variables to the user's namespace."""
        call.number = self.total.calls + 1
        self.calls.append(call)
        if call.error is not None:
            self.last_error = call.error
        # Every call counts, so the total's calls match %haoee usage (zero tokens when none came).
        self.total = self.total.add(
            call.model or (call.response.model if call.response else ""), call.usage, cached=call.cached
        )
        chat = self.chats.get(call.chat or "")
        if chat is not None and call.response is not None and call.status in ("completed", "incomplete"):
            response_id = getattr(call.response, "id", None)
            chat.last_response_id = response_id if call.endpoint == RESPONSES and response_id else None
            chat.messages += [turn_message(call.body), {"role": "assistant", "content": call.text}]
            chat.turns += 1
        if namespace is not None:
            # None after a call that brought nothing back: never the previous cell's answer.
            namespace[RESPONSE_VAR] = call.response
            namespace[USAGE_VAR] = call.usage
            namespace[TOTAL_VAR] = self.total

    def usage_table(self, markdown: bool = True) -> str:
        """A Markdown table of this session's recent calls (the cell or form each came from, and
        the start of its prompt) and its totals; ``markdown=False``: the same for plain text (no
        HTML escapes). A cached call's tokens are in parentheses: saved, not in the total."""
        if not self.calls:
            return "No calls yet in this session."
        lines = [
            "| # | from | prompt | model | status | input | output | total | latency |",
            "|--:|---|---|---|---|--:|--:|--:|--:|",
        ]
        for call in self.calls:
            u = call.usage
            origin = f"In [{call.cell}]" if call.cell is not None else call.source
            latency = f"{call.latency:.1f} s" if call.latency is not None else ""
            status = "cached" if call.cached else call.status
            tokens = [f"{n:,}" for n in (u.input_tokens, u.output_tokens, u.total_tokens)]
            if call.cached:  # nothing spent: the tokens it saved, apart from the total
                tokens = [f"({n})" for n in tokens]
            model = html.escape(call.model) if markdown else call.model
            lines.append(
                f"| {call.number} | {origin} | {_cell_text(call.prompt, markdown=markdown)} | {model} | {status} | {' | '.join(tokens)} | {latency} |"
            )
        t = self.total
        lines.append(
            f"| | | | **total** | {t.calls} call{'s' if t.calls != 1 else ''} | {t.input_tokens:,} | {t.output_tokens:,} | {t.total_tokens:,} | |"
        )
        if t.cached_calls:
            lines.append(
                f"\n{t.cached_calls} of them answered from the response cache: nothing spent, {t.saved_tokens:,} tokens saved (in parentheses)."
            )
        if t.calls > len(self.calls):
            lines.append(f"\nThe table shows the last {len(self.calls)} calls; the total counts all {t.calls}.")
        return "\n".join(lines)


def _cell_text(prompt: str, limit: int = 40, *, markdown: bool = True) -> str:
    """The start of a prompt, on one line, safe inside a Markdown table cell (or a plain one)."""
    text = " ".join(prompt.split())
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    if not markdown:
        return text.replace("|", "\\|")
    return html.escape(text).replace("|", "\\|").replace("`", "\\`")
