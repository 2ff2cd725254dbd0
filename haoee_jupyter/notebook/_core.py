"""The one path every notebook call takes: build the request, run it, show it, record it.

The magic and the widget form both call :func:`build_body` then :func:`run` (blocking, for a
cell) or :func:`arun` (a task on the kernel's event loop, for a form).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..client import _settings
from ..client._exceptions import HaoeeError
from ._session import Call, Session

if TYPE_CHECKING:
    from ..client._client import AsyncClient, Client

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


@dataclass
class Options:
    """What a notebook user can ask for, already validated and converted."""

    model: str | None = None
    instructions: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    reasoning: str | None = None
    web: bool = False
    stream: bool = True
    images: list[str] = field(default_factory=list)  # image URLs or data: URLs
    text_format: dict[str, Any] | None = None
    chat: str | None = None


def build_body(prompt: str, options: Options, session: Session) -> dict[str, Any]:
    """The JSON body for ``POST /v1/responses`` (without ``stream``)."""
    if options.images:
        content: list[dict[str, Any]] = [{"type": "input_text", "text": prompt}]
        content += [{"type": "input_image", "image_url": url, "detail": "auto"} for url in options.images]
        input_: Any = [{"role": "user", "content": content}]
    else:
        input_ = prompt
    body: dict[str, Any] = {"model": _settings.resolve_model(options.model), "input": input_}
    instructions = options.instructions
    if options.chat:
        chat = session.chats.get(options.chat)
        if chat is not None:
            if chat.last_response_id:
                body["previous_response_id"] = chat.last_response_id
            # instructions are not carried over by previous_response_id: resend the chat's own
            instructions = instructions or chat.instructions
    optional = {
        "instructions": instructions,
        "temperature": options.temperature,
        "top_p": options.top_p,
        "max_output_tokens": options.max_output_tokens,
        # A summary too, so the model's reasoning can be shown (in a collapsed block).
        "reasoning": {"effort": options.reasoning, "summary": "auto"} if options.reasoning else None,
        "tools": [{"type": "web_search"}] if options.web else None,
        "text": {"format": options.text_format} if options.text_format else None,
    }
    body.update({key: value for key, value in optional.items() if value not in (None, "")})
    return body


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a call: shown as one line, after the partial answer was kept."""

    def __init__(self, call: Call) -> None:
        super().__init__("Interrupted")
        self.call = call
        self.partial = call.response

    def _render_traceback_(self) -> list[str]:
        kept = (
            f"the partial answer ({len(self.call.answer):,} characters) is kept in haoee_response"
            if self.call.answer
            else "nothing had arrived yet"
        )
        return [f"Interrupted: {kept}."]


class View(Protocol):
    """Where a call shows up: a notebook display, a terminal, a widget."""

    def update(self, call: Call, final: bool) -> None: ...


class Throttle:
    """Passes updates on at a bounded rate, however fast deltas arrive; the final one always."""

    def __init__(self, view: View, call: Call, per_second: float = 10.0) -> None:
        self.view, self.call = view, call
        self.started = time.perf_counter()
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.last = 0.0

    def delta(self, text: str) -> None:
        self.call.text += text
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self.view.update(self.call, False)


def _params(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in ("model", "input", "stream")}


def _absorb(call: Call, error: BaseException) -> None:
    """Keep what a failure leaves behind: the partial response, and the error itself."""
    partial = getattr(error, "partial", None)
    if partial is not None:
        call.response = partial
    if isinstance(error, HaoeeError):
        call.error = error
    else:  # KeyboardInterrupt, or the form's Stop (task cancelled)
        call.interrupted = True


def _begin(view: View, body: dict[str, Any], source: str, chat: str | None, per_second: float) -> Throttle:
    """A new call, shown at once as waiting; its Throttle carries it and its start time."""
    throttle = Throttle(view, Call(body=body, source=source, chat=chat), per_second)
    view.update(throttle.call, False)
    return throttle


def _finish(throttle: Throttle, session: Session, namespace: dict[str, Any] | None) -> None:
    call = throttle.call
    call.latency = time.perf_counter() - throttle.started
    session.record(call, namespace)
    throttle.view.update(call, True)


def run(
    client: Client,
    body: dict[str, Any],
    *,
    session: Session,
    view: View,
    stream: bool = True,
    namespace: dict[str, Any] | None = None,
    chat: str | None = None,
    source: str = "magic",
    per_second: float = 10.0,
) -> Call:
    """Run one call to the end, blocking. Errors end up in ``call.error``; Ctrl-C is re-raised
    after the partial answer has been shown and recorded."""
    throttle = _begin(view, body, source, chat, per_second)
    call = throttle.call
    try:
        call.response = client.respond(
            body["input"], model=body["model"], stream=stream, on_text=throttle.delta, **_params(body)
        )
    except (HaoeeError, KeyboardInterrupt) as e:
        _absorb(call, e)
        if isinstance(e, KeyboardInterrupt):
            _finish(throttle, session, namespace)
            raise Interrupted(call) from e
    _finish(throttle, session, namespace)
    return call


async def arun(
    client: AsyncClient,
    body: dict[str, Any],
    *,
    session: Session,
    view: View,
    stream: bool = True,
    namespace: dict[str, Any] | None = None,
    chat: str | None = None,
    source: str = "form",
    per_second: float = 10.0,
) -> Call:
    """The same as :func:`run`, awaited; cancelling the task stops it and keeps the partial text."""
    throttle = _begin(view, body, source, chat, per_second)
    call = throttle.call
    try:
        call.response = await client.respond(
            body["input"], model=body["model"], stream=stream, on_text=throttle.delta, **_params(body)
        )
    except (HaoeeError, asyncio.CancelledError) as e:
        _absorb(call, e)
    _finish(throttle, session, namespace)
    return call
