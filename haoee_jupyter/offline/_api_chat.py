"""`POST /v1/chat/completions`: JSON or an SSE stream of `data:` chunks ending `data: [DONE]`.

Faults: the status faults answer as everywhere. In a stream, `truncated`, `malformed`, `reset`
and `stall` strike after three deltas; `error-event` sends `data: {"error": ...}` there (what
the SDK raises as `APIError`), `failed` sends it right after the first chunk; neither ends with
`[DONE]`. Not streamed, `error-event` and `failed` are a 500 `server_error`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._api_responses import BAD_JSON
from ._chat import ChatDraft, parse_chat
from ._errors import ApiError
from ._exchange import (
    Disconnect,
    Frame,
    Reply,
    Request,
    StreamReply,
    broken_sse,
    check_auth,
    error_reply,
    json_reply,
    sse,
)
from ._faults import plain_fault_reply, status_fault_reply, stream_ending, until_deltas
from ._protocol import fault_for_model
from ._state import ServerState

__all__ = ["STREAM_ERROR_MESSAGE", "create_completion"]

STREAM_ERROR_MESSAGE = "The offline server injected an error into this chat completion."
_FALLBACK_BODY = {"model": "offline-demo", "messages": [{"role": "user", "content": ""}]}


def create_completion(state: ServerState, request: Request, injected: str | None) -> Reply | StreamReply | Disconnect:
    body, parsed = request.parsed_json
    fault = injected
    if fault is None:
        check_auth(request)
        if not parsed:
            raise ApiError(400, BAD_JSON.replace("'input'", "'messages'"))
        fault = fault_for_model(body.get("model") if isinstance(body, Mapping) else None)
    if fault is not None:
        return _fault_reply(fault, body)
    draft = ChatDraft.create(parse_chat(body))
    if draft.request.stream:
        return StreamReply(_frames(draft.steps(), done=True))
    return json_reply(200, draft.completion(), delay=1)


def _server_error() -> ApiError:
    return ApiError(500, STREAM_ERROR_MESSAGE, type="server_error", code="server_error")


def _fault_reply(fault: str, body: Any) -> Reply | StreamReply | Disconnect:
    fields = body if isinstance(body, Mapping) else {}
    requested = fields.get("model")
    status = status_fault_reply(fault, requested if isinstance(requested, str) else "offline-demo")
    if status is not None:
        return status
    try:
        draft = ChatDraft.create(parse_chat(fields))
    except ApiError:  # an injected fault must not depend on a valid body
        draft = ChatDraft.create(parse_chat({**_FALLBACK_BODY, "stream": fields.get("stream") is True}))
    if not draft.request.stream:
        if fault in ("error-event", "failed"):
            return error_reply(_server_error())
        return plain_fault_reply(fault, draft.completion())
    steps = draft.steps()
    shown = [next(steps)] if fault == "failed" else list(until_deltas(steps))
    frames = list(_frames(shown, done=False))
    if fault in ("error-event", "failed"):
        frames.append((sse({"error": _server_error().body()["error"]}), 0))
    elif fault == "malformed":
        frames.append((broken_sse(shown[-1][0]), 0))
    return StreamReply(frames, stream_ending(fault))


def _frames(steps: Iterable[tuple[dict[str, Any], float]], *, done: bool) -> Iterator[Frame]:
    for chunk, pause in steps:
        yield sse(chunk), pause
    if done:
        yield sse("[DONE]"), 0
