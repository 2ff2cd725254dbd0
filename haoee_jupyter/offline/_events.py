"""Stream events of the offline demo server, in the order the real API sends them.

Events come without `sequence_number` (the HTTP layer numbers them as it writes) and with the
pause before each one, in units of the server's latency, so only deltas are paced.

    >>> from haoee_jupyter.offline._protocol import parse_request
    >>> from haoee_jupyter.offline._responses import Conversations, Draft
    >>> draft = Draft.create(parse_request({"model": "m", "input": "hi"}), Conversations())
    >>> [event["type"] for event, _pause in stream_steps(draft)][:3]
    ['response.created', 'response.in_progress', 'response.output_item.added']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._answers import tokenize
from ._responses import Draft, text_part

__all__ = [
    "ERROR_EVENT_MESSAGE",
    "FAILED_MESSAGE",
    "FAULT_AFTER_DELTAS",
    "Step",
    "error_event",
    "fault_steps",
    "stream_steps",
]

Step = tuple[dict[str, Any], float]
"""A stream event without its sequence_number, and the pause before it in units of latency."""

# A web search "takes" this many latency units, so the searching state is visible in demos.
_SEARCH_PAUSE = 5.0


def error_event(message: str) -> dict[str, Any]:
    """The `error` event in the nested shape OpenAI really sends (fixture 15)."""
    return {
        "type": "error",
        "error": {"type": "server_error", "code": "server_error", "message": message, "param": None},
    }


def _reasoning_steps(draft: Draft, index: int) -> Iterator[Step]:
    item_id = draft.reasoning_id
    summary = draft.summary or ""
    yield {"type": "response.output_item.added", "output_index": index, "item": draft.reasoning_item(done=False)}, 0
    where = {"item_id": item_id, "output_index": index, "summary_index": 0}
    yield {"type": "response.reasoning_summary_part.added", **where, "part": {"type": "summary_text", "text": ""}}, 0
    for token in tokenize(summary):
        yield {"type": "response.reasoning_summary_text.delta", **where, "delta": token}, 1
    yield {"type": "response.reasoning_summary_text.done", **where, "text": summary}, 0
    yield (
        {"type": "response.reasoning_summary_part.done", **where, "part": {"type": "summary_text", "text": summary}},
        0,
    )
    yield {"type": "response.output_item.done", "output_index": index, "item": draft.reasoning_item(done=True)}, 0


def _search_steps(draft: Draft, index: int) -> Iterator[Step]:
    where = {"item_id": draft.search_id, "output_index": index}
    yield {"type": "response.output_item.added", "output_index": index, "item": draft.search_item(done=False)}, 0
    yield {"type": "response.web_search_call.in_progress", **where}, 0
    yield {"type": "response.web_search_call.searching", **where}, 0
    yield {"type": "response.web_search_call.completed", **where}, _SEARCH_PAUSE
    yield {"type": "response.output_item.done", "output_index": index, "item": draft.search_item(done=True)}, 0


def _message_steps(draft: Draft, index: int) -> Iterator[Step]:
    where = {"item_id": draft.message_id, "output_index": index, "content_index": 0}
    yield (
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": draft.message_item("in_progress", None, []),
        },
        0,
    )
    yield {"type": "response.content_part.added", **where, "part": text_part("", [])}, 0
    annotations = draft.annotations()
    pending = list(enumerate(annotations))
    sent = 0
    for token in draft.text_tokens:
        yield {"type": "response.output_text.delta", **where, "delta": token, "logprobs": []}, 1
        sent += len(token)
        # As in the recordings, a citation follows the delta that completes its link.
        while pending and pending[0][1]["end_index"] <= sent:
            number, annotation = pending.pop(0)
            yield (
                {
                    "type": "response.output_text.annotation.added",
                    **where,
                    "annotation_index": number,
                    "annotation": annotation,
                },
                0,
            )
    yield {"type": "response.output_text.done", **where, "text": draft.text, "logprobs": []}, 0
    yield {"type": "response.content_part.done", **where, "part": text_part(draft.text, annotations)}, 0
    yield (
        {
            "type": "response.output_item.done",
            "output_index": index,
            "item": draft.message_item(draft.status, draft.text, annotations),
        },
        0,
    )


def stream_steps(draft: Draft, *, terminal: bool = True) -> Iterator[Step]:
    """Every event of a normal stream, in the recorded order, ending with the terminal event."""
    yield {"type": "response.created", "response": draft.snapshot("in_progress")}, 0
    yield {"type": "response.in_progress", "response": draft.snapshot("in_progress")}, 0
    index = 0
    if draft.summary is not None:
        yield from _reasoning_steps(draft, index)
        index += 1
    if draft.search_query is not None:
        yield from _search_steps(draft, index)
        index += 1
    if draft.message_id is not None:
        yield from _message_steps(draft, index)
    if terminal:
        kind = "response.incomplete" if draft.incomplete else "response.completed"
        # finish() runs only when the generator gets here, so a broken stream is not remembered.
        yield {"type": kind, "response": draft.finish()}, 0


FAULT_AFTER_DELTAS = 3
"""Stream faults strike after this many text deltas, so clients have partial text to keep."""

ERROR_EVENT_MESSAGE = "The offline server injected an error event."
FAILED_MESSAGE = "The offline server injected a failed response."


def fault_steps(draft: Draft, fault: str) -> Iterator[Step]:
    """The events of a stream that goes wrong; what happens after them is up to the server."""
    steps = stream_steps(draft, terminal=False)
    if fault == "failed":
        yield next(steps)
        yield next(steps)
        yield {"type": "response.failed", "response": draft.failed(FAILED_MESSAGE)}, 0
        return
    deltas = 0
    for event, pause in steps:
        yield event, pause
        if event["type"] == "response.output_text.delta":
            deltas += 1
            if deltas == FAULT_AFTER_DELTAS:
                break
    if fault == "error-event":
        yield error_event(ERROR_EVENT_MESSAGE), 0
        yield {"type": "response.failed", "response": draft.failed(ERROR_EVENT_MESSAGE)}, 0
