"""The one path every notebook call takes: prepare the request, run it, show it, record it.

The magic, the form (and batch runs and comparisons) all call the same functions:

    prepared = prepare(cell, options, state)      # PrepareError: one line saying what to fix
    call = run(prepared, state, view)             # blocking, for a cell (Ctrl-C: Interrupted)
    call = await arun(prepared, state, view)      # a task on the kernel's loop, for a form
    value = answer_value(call, prepared)          # the text, or the parsed JSON / schema object
    text = request_text(prepared, state)          # --dry-run (in _dry_run): the exact request, key masked
    send(prepared, state, call, client)           # a batch row or a comparison's column, in a thread
    log_call(state, call)                         # the call log (run and arun do it themselves)

With ``--cache`` a request answered before is answered from the response cache (``call.cached``)
and nothing is sent; ``--refresh`` sends it and replaces the cached answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..client import _settings
from ..client._exceptions import ConfigurationError, HaoeeError
from ._display import parse_json
from ._inputs import InputError, image_url, schema_format
from ._interpolate import InterpolationError, interpolate
from ._options import resolve
from ._session import CHAT_COMPLETIONS, RESPONSES, Call, Session

if TYPE_CHECKING:
    from ._state import ShellState


class PrepareError(Exception):
    """The cell or form cannot be sent as it is; the message says what to change."""


class EmptyPromptError(PrepareError):
    """Nothing to send; each front end says where the prompt goes."""


class AnswerError(Exception):
    """The answer is not what was asked for (not JSON, or not the schema); the text is kept."""


@dataclass
class Prepared:
    """A request ready to send, and what to do with its answer."""

    prompt: str  # interpolated
    instructions: str | None  # interpolated (a chat turn without any resends the chat's own)
    images: list[str]  # image URLs or data: URLs
    text_format: dict[str, Any] | None  # the request's text.format for --schema
    parse: Callable[[str], Any] | None  # turns the answer into the object asked for (json, schema)
    format: str  # how it is shown
    chat: str | None  # the named conversation this is a turn of
    stream: bool
    options: Any  # the resolved Options
    body: dict[str, Any] = field(default_factory=dict)  # the JSON body, without "stream"


def prepare(template: str, options: Any, state: ShellState, namespace: Any = None) -> Prepared:
    """Everything before sending: fill ``{name}`` in the prompt and instructions, read images
    and the schema, take the chat's turn, and build the request body.

    ``namespace`` is where ``{name}`` is looked up (default: the user's); a batch passes each
    row's names layered over the user's.

    >>> prepared = prepare("Explain {topic}", Options(temperature=0.2), state)
    >>> prepared.body
    {'model': 'gpt-4.1', 'input': 'Explain entropy', 'temperature': 0.2}
    """
    namespace = state.namespace if namespace is None else namespace
    format_ = options.format or ("json" if options.schema else None)
    options = resolve(options, state.settings)
    try:
        images = [image_url(ref, namespace) for ref in options.images]
        text_format, parse = schema_format(options.schema, namespace) if options.schema else (None, None)
    except InputError as e:
        raise PrepareError(str(e)) from e
    try:
        prompt = template if options.raw else interpolate(template, namespace)
        instructions = options.instructions
        if instructions and not options.raw:
            instructions = interpolate(instructions, namespace)
    except InterpolationError as e:
        raise PrepareError(str(e)) from e
    prompt = prompt.strip("\n")
    if not prompt.strip():
        raise EmptyPromptError("The prompt is empty")
    format_ = format_ or options.format or "markdown"
    if parse is None and format_ == "json":
        parse = parse_json
    prepared = Prepared(
        prompt=prompt,
        instructions=instructions or None,
        images=images,
        text_format=text_format,
        parse=parse,
        format=format_,
        chat=options.chat,
        stream=bool(options.stream),
        options=options,
    )
    prepared.body = build_body(prepared, state.session)
    if options.api == "chat":
        chat_body(prepared)  # what this wire cannot say is refused before anything is sent
    return prepared


def endpoint(prepared: Prepared) -> str:
    """The path a prepared call goes to: ``/responses``, or ``/chat/completions`` for ``--api chat``."""
    return CHAT_COMPLETIONS if prepared.options.api == "chat" else RESPONSES


def chat_body(prepared: Prepared) -> dict[str, Any]:
    """The ``/v1/chat/completions`` body of a prepared call, as ``respond(api="chat")`` sends it."""
    from ..client import _chat, _responses

    fields = {key: value for key, value in prepared.body.items() if key not in ("model", "input")}
    try:
        return _chat.chat_body(_responses.body(prepared.body["input"], prepared.body["model"], prepared.stream, fields))
    except ConfigurationError as e:
        raise PrepareError(f"{e} (the chat-completions wire, --api chat)") from e


def build_body(prepared: Prepared, session: Session) -> dict[str, Any]:
    """The JSON body for ``POST /v1/responses`` (without ``stream``)."""
    options = prepared.options
    if prepared.images:
        content: list[dict[str, Any]] = [{"type": "input_text", "text": prepared.prompt}]
        content += [{"type": "input_image", "image_url": url, "detail": "auto"} for url in prepared.images]
        input_: Any = [{"role": "user", "content": content}]
    else:
        input_ = prepared.prompt
    body: dict[str, Any] = {"model": _settings.resolve_model(options.model), "input": input_}
    instructions = prepared.instructions
    chat = session.chats.get(prepared.chat or "")
    if chat is not None:
        if chat.last_response_id and options.api != "chat":
            body["previous_response_id"] = chat.last_response_id
        elif chat.messages:
            # The chat wire has no previous_response_id (nor had the last turn, if it went there):
            # the conversation so far is sent again, this turn's message last.
            turn = input_ if isinstance(input_, list) else [{"role": "user", "content": input_}]
            body["input"] = [*chat.messages, *turn]
        # instructions are not carried over by previous_response_id: resend the chat's own
        instructions = instructions or chat.instructions
    optional = {
        "instructions": instructions,
        "temperature": options.temperature,
        "top_p": options.top_p,
        "max_output_tokens": options.max_tokens,
        # A summary too, so the model's reasoning can be shown.
        "reasoning": {"effort": options.reasoning, "summary": "auto"} if options.reasoning else None,
        "tools": [{"type": "web_search"}] if options.web else None,
        "text": {"format": prepared.text_format} if prepared.text_format else None,
    }
    body.update({key: value for key, value in optional.items() if value not in (None, "")})
    return body


def answer_value(call: Call, prepared: Prepared, kept_in: str | None = None) -> Any:
    """The answer's text, or the object parsed from it for ``-f json`` / ``--schema``.

    AnswerError when it does not parse; ``kept_in`` names where the text is kept meanwhile.
    """
    if prepared.parse is None:
        return call.text
    try:
        return prepared.parse(call.text)
    except Exception as e:  # json.JSONDecodeError or pydantic.ValidationError
        kept = f"; the text is kept in {kept_in or 'haoee_response.text'}"
        if call.response is not None and call.response.status == "incomplete":
            raise AnswerError(
                f"The answer was cut off ({call.response.incomplete_reason}) before its JSON was complete{kept}. Raise --max-tokens and run it again"
            ) from e
        raise AnswerError(
            f"The answer is not the JSON asked for ({type(e).__name__}: {str(e).splitlines()[0]}){kept}. Ask for JSON only, or use --schema"
        ) from e


# --- running --------------------------------------------------------------------------------


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a call: shown as one line, after the partial answer was kept."""

    def __init__(self, call: Call) -> None:
        super().__init__("Interrupted")
        self.call = call
        self.partial = call.response

    def _render_traceback_(self) -> list[str]:
        kept = (
            f"the partial answer ({len(self.call.text):,} characters) is kept in haoee_response"
            if self.call.text
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

    def text(self, delta: str) -> None:
        self.call.add_text(delta)
        self._tick()

    def reasoning(self, delta: str) -> None:
        self.call.add_reasoning(delta)
        self._tick()

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self.view.update(self.call, False)


def run(prepared: Prepared, state: ShellState, view: View, *, source: str = "magic", cell: int | None = None) -> Call:
    """Run one call to the end, blocking. Errors end up in ``call.error``; Ctrl-C is re-raised
    (as :class:`Interrupted`) after the partial answer has been shown and recorded."""
    throttle = _begin(prepared, state, view, source, cell)
    call = throttle.call
    try:
        with state.lease() as client:
            send(prepared, state, call, client, on_text=throttle.text, on_reasoning=throttle.reasoning)
    except KeyboardInterrupt as e:
        call.interrupted = call.error is None
        _finish(throttle, state, prepared)
        raise Interrupted(call) from e
    _finish(throttle, state, prepared)
    return call


def send(
    prepared: Prepared,
    state: ShellState,
    call: Call,
    client: Any,
    *,
    on_text: Callable[[str], Any] | None = None,
    on_reasoning: Callable[[str], Any] | None = None,
) -> None:
    """Answer ``call`` from the response cache (``--cache``) or from the server through
    ``client``, and keep a new answer in the cache. Shows and records nothing, so the threads
    of a batch or a comparison call it too.

    A HaoeeError ends up in ``call.error``; a KeyboardInterrupt (or whatever a callback raises
    to stop the stream) is raised again once what arrived is kept in ``call``.
    """
    if _cached(prepared, state, call):
        return
    try:
        call.response = client.respond(
            **_arguments(prepared, on_text or call.add_text, on_reasoning or call.add_reasoning)
        )
    except HaoeeError as e:
        _absorb(call, e, prepared.chat)
    except BaseException as e:
        _absorb(call, e)
        raise
    else:
        _keep(prepared, state, call)


def _caching(prepared: Prepared) -> bool:
    return bool(getattr(prepared.options, "cache", False) or getattr(prepared.options, "refresh", False))


def _cached(prepared: Prepared, state: ShellState, call: Call) -> bool:
    """Answer the call from the cache if it is on and holds this request (not with --refresh)."""
    if not _caching(prepared) or getattr(prepared.options, "refresh", False):
        return False
    hit = state.cache_get(call.endpoint, prepared.body)
    if hit is None:
        return False
    call.cached = True
    call.response = hit  # all of it at once, streamed or not
    return True


def _keep(prepared: Prepared, state: ShellState, call: Call) -> None:
    """Keep a completed answer in the cache (--cache, --refresh: replacing the entry)."""
    if _caching(prepared) and call.response is not None:
        state.cache_put(call.endpoint, prepared.body, call.response)


async def arun(
    prepared: Prepared, state: ShellState, view: View, *, source: str = "form", cell: int | None = None
) -> Call:
    """The same as :func:`run`, awaited; cancelling the task stops it and keeps the partial text."""
    import asyncio

    throttle = _begin(prepared, state, view, source, cell)
    call = throttle.call
    if not _cached(prepared, state, call):
        try:
            async with state.alease() as client:
                call.response = await client.respond(**_arguments(prepared, throttle.text, throttle.reasoning))
        except (HaoeeError, asyncio.CancelledError) as e:
            _absorb(call, e, prepared.chat)
        else:
            _keep(prepared, state, call)
    _finish(throttle, state, prepared)
    return call


def _arguments(prepared: Prepared, on_text: Callable[[str], Any], on_reasoning: Callable[[str], Any]) -> dict[str, Any]:
    """``respond``'s arguments: the body's fields, and callbacks for the text and the reasoning."""
    arguments = {key: value for key, value in prepared.body.items() if key != "stream"}
    arguments["stream"] = prepared.stream
    if prepared.stream:  # not streamed: the answer is shown once, whole, when it is done
        arguments.update(on_text=on_text, on_reasoning=on_reasoning)
    if prepared.options.api == "chat":
        arguments["api"] = "chat"
    return arguments


def _absorb(call: Call, error: BaseException, chat: str | None = None) -> None:
    """Keep what a failure leaves behind: the partial response, and the error itself (its hint
    naming the chat it is a turn of)."""
    partial = getattr(error, "partial", None)
    if partial is not None:
        call.response = partial
    if isinstance(error, HaoeeError):
        if chat and "%haoee reset NAME" in (error.hint or ""):
            error.hint = error.hint.replace("%haoee reset NAME", f"%haoee reset {chat}")
        call.error = error
    else:  # KeyboardInterrupt, or the form's Stop (task cancelled)
        call.interrupted = True


def _begin(prepared: Prepared, state: ShellState, view: View, source: str, cell: int | None) -> Throttle:
    """A new call, shown at once as waiting; its Throttle carries it and its start time."""
    if prepared.chat:
        state.session.start_chat(prepared.chat, prepared.instructions)
    call = Call(body=prepared.body, source=source, chat=prepared.chat, cell=cell, endpoint=endpoint(prepared))
    throttle = Throttle(view, call, state.settings.updates_per_second)
    view.update(call, False)
    return throttle


def log_call(state: ShellState, call: Call, **where: Any) -> int | None:
    """Write a call that ended (also on error or interrupt) to the persistent call log; every
    front end calls this once per call. ``where``: :meth:`ShellState.log_call`'s ``job_id=``,
    ``batch_id=``, ``enabled=`` (a cell's --no-log)."""
    return state.log_call(call, **where)


def _finish(throttle: Throttle, state: ShellState, prepared: Prepared) -> None:
    call = throttle.call
    call.latency = time.perf_counter() - throttle.started
    state.session.record(call, state.namespace)
    log_call(state, call, enabled=getattr(prepared.options, "log", None))
    throttle.view.update(call, True)
