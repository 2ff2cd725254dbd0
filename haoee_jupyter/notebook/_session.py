"""What a notebook session remembers: its calls, token totals and named chats."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from typing import Any

from ..client._models import Response, Usage

#: Names set in the user's namespace after every call.
RESPONSE_VAR, USAGE_VAR, TOTAL_VAR = "haoee_response", "haoee_usage", "haoee_usage_total"


@dataclass
class Call:
    """One call made from the notebook: what was asked, what came back, what it cost.

    ``text`` holds the streamed text as it arrives, so it survives an error or interrupt
    even when no Response was assembled.
    """

    body: dict[str, Any]
    source: str = "magic"
    chat: str | None = None
    started_at: float = field(default_factory=time.time)
    latency: float | None = None
    text: str = ""
    response: Response | None = None
    error: BaseException | None = None
    interrupted: bool = False
    cached: bool = False  # for the planned response cache; nothing sets it yet

    @property
    def model(self) -> str:
        return str(self.body.get("model") or "")

    @property
    def usage(self) -> Usage:
        return self.response.usage if self.response is not None else Usage()

    @property
    def status(self) -> str:
        """completed, incomplete, failed, error or interrupted."""
        if self.interrupted:
            return "interrupted"
        if self.error is not None:
            return "failed" if type(self.error).__name__ == "ResponseFailedError" else "error"
        return self.response.status if self.response is not None else "pending"

    @property
    def answer(self) -> str:
        return (self.response.text if self.response is not None else "") or self.text


@dataclass(frozen=True)
class UsageTotal(Usage):
    """The session's running token total, with a breakdown per model.

    >>> haoee_usage_total.total_tokens, haoee_usage_total.calls
    >>> haoee_usage_total.by_model["gpt-4.1"].output_tokens
    """

    calls: int = 0
    by_model: dict[str, Usage] = field(default_factory=dict, compare=False, hash=False)

    def add(self, model: str, usage: Usage) -> UsageTotal:
        by_model = dict(self.by_model)
        by_model[model] = by_model.get(model, Usage()) + usage
        summed = Usage(*(getattr(self, name) + getattr(usage, name) for name in usage.as_dict()))
        return UsageTotal(**summed.as_dict(), calls=self.calls + 1, by_model=by_model)

    def _repr_markdown_(self) -> str:
        rows = [
            f"| {html.escape(model)} | {u.input_tokens:,} | {u.output_tokens:,} | {u.total_tokens:,} |"
            for model, u in self.by_model.items()
        ]
        rows.append(
            f"| **all ({self.calls} calls)** | {self.input_tokens:,} | {self.output_tokens:,} | {self.total_tokens:,} |"
        )
        return "| model | input | output | total |\n|---|--:|--:|--:|\n" + "\n".join(rows)


@dataclass
class Chat:
    """A named conversation: each turn continues from the last answer's id."""

    name: str
    last_response_id: str | None = None
    instructions: str | None = None
    turns: int = 0


@dataclass
class Session:
    """Per-shell state shared by the magic and the forms."""

    calls: list[Call] = field(default_factory=list)
    total: UsageTotal = field(default_factory=UsageTotal)
    chats: dict[str, Chat] = field(default_factory=dict)
    last_error: BaseException | None = None

    def record(self, call: Call, namespace: dict[str, Any] | None) -> None:
        """Keep the call, add its tokens, and publish the variables to the user's namespace."""
        self.calls.append(call)
        if call.error is not None:
            self.last_error = call.error
        # Every call counts, so the total's calls match %haoee usage (zero tokens when none came).
        self.total = self.total.add(call.model or (call.response.model if call.response else ""), call.usage)
        if call.response is not None:
            chat = self.chats.get(call.chat or "")
            if chat is not None and call.response.id and call.status in ("completed", "incomplete"):
                chat.last_response_id = call.response.id
                chat.turns += 1
        if namespace is not None:
            # None after a call that brought nothing back: never the previous cell's answer.
            namespace[RESPONSE_VAR] = call.response
            namespace[USAGE_VAR] = call.usage
            namespace[TOTAL_VAR] = self.total

    def usage_table(self) -> str:
        """A Markdown table of this session's calls and totals."""
        if not self.calls:
            return "No calls yet in this session."
        lines = ["| # | model | status | input | output | total | latency |", "|--:|---|---|--:|--:|--:|--:|"]
        for number, call in enumerate(self.calls, 1):
            u = call.usage
            latency = f"{call.latency:.1f} s" if call.latency is not None else ""
            lines.append(
                f"| {number} | {html.escape(call.model)} | {call.status} | {u.input_tokens:,} | {u.output_tokens:,} | {u.total_tokens:,} | {latency} |"
            )
        t = self.total
        lines.append(
            f"| | **total** | {t.calls} calls | {t.input_tokens:,} | {t.output_tokens:,} | {t.total_tokens:,} | |"
        )
        return "\n".join(lines)
