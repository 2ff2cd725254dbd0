"""`POST /v1/responses` and `GET /v1/responses/{id}`: the Responses API of the offline server."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._events import ERROR_EVENT_MESSAGE, FAILED_MESSAGE, Step, fault_steps, stream_steps
from ._exchange import (
    Disconnect,
    Frame,
    Reply,
    Request,
    StreamReply,
    broken_sse,
    check_auth,
    json_reply,
    sse,
)
from ._faults import plain_fault_reply, status_fault_reply, stream_ending
from ._protocol import ApiError, fault_for_model, parse_request
from ._responses import Conversations, Draft
from ._state import ServerState

__all__ = ["BAD_JSON", "create_response", "get_response"]

BAD_JSON = (
    "We could not parse the JSON body of your request. The offline demo server expects "
    "a JSON object with at least 'model' and 'input'."
)


def create_response(state: ServerState, request: Request, injected: str | None) -> Reply | StreamReply | Disconnect:
    body, parsed = request.parsed_json
    fault = injected
    if fault is None:
        check_auth(request)
        if not parsed:
            raise ApiError(400, BAD_JSON)
        fault = fault_for_model(body.get("model") if isinstance(body, Mapping) else None)
    if fault is not None:
        return _fault_reply(state, fault, body)
    draft = Draft.create(parse_request(body), state.conversations)
    if draft.request.stream:
        return StreamReply(_frames(stream_steps(draft)))
    return json_reply(200, draft.finish(), delay=1)


def get_response(state: ServerState, request: Request, response_id: str) -> Reply:
    check_auth(request)
    turn = state.conversations.get(response_id)
    if turn is None:
        raise ApiError(404, f"Response with id '{response_id}' not found.")
    return json_reply(200, turn.response)


def _fault_reply(state: ServerState, fault: str, body: Any) -> Reply | StreamReply | Disconnect:
    fields = body if isinstance(body, Mapping) else {}
    requested = fields.get("model")
    model = requested if isinstance(requested, str) else "offline-demo"
    status = status_fault_reply(fault, model)
    if status is not None:
        return status
    draft = _fault_draft(fields, model, state.conversations)
    if fields.get("stream") is True:
        return StreamReply(_frames(fault_steps(draft, fault), broken_end=fault == "malformed"), stream_ending(fault))
    if fault in ("error-event", "failed"):
        return json_reply(200, draft.failed(ERROR_EVENT_MESSAGE if fault == "error-event" else FAILED_MESSAGE))
    return plain_fault_reply(fault, draft.final())


def _fault_draft(body: Mapping[str, Any], model: str, conversations: Conversations) -> Draft:
    """A draft for a faulty response; an injected fault must not depend on a valid body."""
    try:
        return Draft.create(parse_request(body), conversations)
    except ApiError:
        return Draft.create(parse_request({"model": model, "input": ""}), conversations)


def _payload(event: dict[str, Any], sequence: int) -> dict[str, Any]:
    # sequence_number goes second, as in the recordings; the rest keeps the builder's order.
    return {"type": event["type"], "sequence_number": sequence, **event}


def _frames(steps: Iterable[Step], *, broken_end: bool = False) -> Iterator[Frame]:
    """Events as `event:` + `data:` frames, numbered as they are sent."""
    sequence = 0
    last: dict[str, Any] = {"type": "response.output_text.delta"}
    for event, pause in steps:
        yield sse(_payload(event, sequence), event["type"]), pause
        sequence, last = sequence + 1, event
    if broken_end:
        yield broken_sse(_payload(last, sequence), last["type"]), 0
