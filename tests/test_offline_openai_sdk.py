"""The official `openai` SDK against the offline demo server: every payload parses into its types.

What the SDK does with the fault streams (documented by the tests below):
- `error-event`: the SDK raises `openai.APIError` when it reads the nested `error` event, with
  the event's message and `body` = the inner error object; the `response.failed` after it is
  never seen.
- `failed`: no exception; the stream ends with a typed `ResponseFailedEvent`.
- `truncated`: plain iteration just stops (the last event is a delta); the `responses.stream()`
  helper raises RuntimeError ("Didn't receive a `response.completed` event.").
- `malformed`: `json.JSONDecodeError` escapes unwrapped, streamed or not.
- `reset` / `stall`: `openai.APIConnectionError` / `openai.APITimeoutError`.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")

import pydantic  # noqa: E402 - the openai SDK depends on it
from openai.types.responses import (  # noqa: E402
    Response,
    ResponseFunctionWebSearch,
    ResponseOutputMessage,
    ResponseReasoningItem,
    ResponseStreamEvent,
)

from haoee_jupyter.offline import MODELS, OfflineServer  # noqa: E402

PROMPT = "Explain what a p-value is, with one example."


def _known_event_classes() -> dict[str, type]:
    """Event type string -> SDK class, read from the SDK's own discriminated union."""
    union = typing.get_args(ResponseStreamEvent)[0]
    classes = typing.get_args(union)
    return {typing.get_args(cls.model_fields["type"].annotation)[0]: cls for cls in classes}


EVENT_CLASSES = _known_event_classes()


@pytest.fixture
def client(offline_server: OfflineServer) -> Iterator[Any]:
    with openai.OpenAI(base_url=offline_server.url, api_key="offline", max_retries=0, timeout=5) as sdk:
        yield sdk


def check_typed(events: list[Any]) -> None:
    """Every event is the SDK class for its type (not a loose fallback model)."""
    assert events
    for event in events:
        assert event.type in EVENT_CLASSES, event.type
        assert type(event) is EVENT_CLASSES[event.type], (event.type, type(event))


def delta_text(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


def test_create_parses(client: Any) -> None:
    response = client.responses.create(model="gpt-4.1", input=PROMPT)
    assert isinstance(response, Response) and response.status == "completed"
    [message] = response.output
    assert isinstance(message, ResponseOutputMessage)
    [part] = message.content
    assert part.type == "output_text"
    assert response.output_text == part.text and PROMPT in response.output_text
    usage = response.usage
    assert usage is not None
    assert usage.output_tokens > 0 and usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert response._request_id and response._request_id.startswith("req_offline_")


def test_stream_events_are_typed(client: Any) -> None:
    events = list(client.responses.create(model="gpt-4.1", input=PROMPT, stream=True))
    check_typed(events)
    final = events[-1]
    assert final.type == "response.completed"
    assert delta_text(events) == final.response.output_text
    assert final.response.output_text == client.responses.create(model="gpt-4.1", input=PROMPT).output_text
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_stream_helper_accumulates(client: Any) -> None:
    body = {
        "model": "gpt-5.2",
        "input": PROMPT,
        "tools": [{"type": "web_search"}],
        "reasoning": {"effort": "low", "summary": "auto"},
    }
    with client.responses.stream(**body) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.output_text == client.responses.create(**body).output_text
    # The helper adds its own event classes for text events; the rest are the plain SDK types.
    assert {e.type for e in events} >= {
        "response.output_text.annotation.added",
        "response.reasoning_summary_text.delta",
    }


def test_web_search(client: Any) -> None:
    response = client.responses.create(model="gpt-4.1", input=PROMPT, tools=[{"type": "web_search"}])
    search, message = response.output
    assert isinstance(search, ResponseFunctionWebSearch) and search.status == "completed"
    assert search.action.type == "search" and search.action.queries == [PROMPT]
    part = message.content[0]
    assert 2 <= len(part.annotations) <= 3
    for annotation in part.annotations:
        assert type(annotation).__name__ == "AnnotationURLCitation"
        assert annotation.url in part.text[annotation.start_index : annotation.end_index]
    events = list(client.responses.create(model="gpt-4.1", input=PROMPT, tools=[{"type": "web_search"}], stream=True))
    check_typed(events)
    added = [e.annotation for e in events if e.type == "response.output_text.annotation.added"]
    assert [a.url for a in added] == [a.url for a in part.annotations]


class Author(pydantic.BaseModel):
    first_name: str
    last_name: str


class Book(pydantic.BaseModel):
    title: str
    author: Author
    rating: int


def test_structured_output(client: Any) -> None:
    parsed = client.responses.parse(model="gpt-4.1", input="A book please", text_format=Book)
    assert isinstance(parsed.output_parsed, Book)
    assert parsed.output_parsed.title.startswith("offline demo")
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 100}},
        "required": ["n"],
        "additionalProperties": False,
    }
    raw = client.responses.create(
        model="m",
        input="numbers",
        text={"format": {"type": "json_schema", "name": "N", "schema": schema, "strict": True}},
    )
    assert json.loads(raw.output_text)["n"] >= 100


def test_max_output_tokens(client: Any) -> None:
    response = client.responses.create(model="gpt-4.1", input=PROMPT, max_output_tokens=16)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens == 16 and response.output[0].status == "incomplete"
    events = list(client.responses.create(model="gpt-4.1", input=PROMPT, max_output_tokens=16, stream=True))
    check_typed(events)
    assert events[-1].type == "response.incomplete"
    assert delta_text(events) == response.output_text
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-4.1", input=PROMPT, max_output_tokens=8)
    assert info.value.code == "integer_below_min_value" and info.value.param == "max_output_tokens"


def test_previous_response_id(client: Any) -> None:
    first = client.responses.create(model="m", input="first question")
    second = client.responses.create(model="m", input="second question", previous_response_id=first.id)
    assert "Turn 2" in second.output_text and "first question" in second.output_text
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="m", input="x", previous_response_id="resp_missing")
    assert info.value.code == "previous_response_not_found"


def test_reasoning_summary(client: Any) -> None:
    body = {"model": "gpt-5.2", "input": PROMPT, "reasoning": {"effort": "low", "summary": "auto"}}
    response = client.responses.create(**body)
    reasoning = response.output[0]
    assert isinstance(reasoning, ResponseReasoningItem) and reasoning.summary[0].text
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    events = list(client.responses.create(**body, stream=True))
    check_typed(events)
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert summary == reasoning.summary[0].text


def test_models_list(client: Any) -> None:
    assert [model.id for model in client.models.list()] == list(MODELS)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("429", "RateLimitError"),
        ("500", "InternalServerError"),
        ("502", "InternalServerError"),
        ("503", "InternalServerError"),
        ("401", "AuthenticationError"),
        ("403", "PermissionDeniedError"),
        ("404", "NotFoundError"),
    ],
)
def test_status_faults_raise_sdk_errors(client: Any, offline_server: OfflineServer, fault: str, error: str) -> None:
    offline_server.inject(fault)
    with pytest.raises(getattr(openai, error)) as info:
        client.responses.create(model="m", input="x")
    assert info.value.status_code == int(fault)
    with pytest.raises(getattr(openai, error)):
        client.responses.create(model=f"fault-{fault}", input="x", stream=True)
    if fault == "429":
        assert info.value.response.headers["retry-after"] == "1"
        assert info.value.code == "rate_limit_exceeded"


def test_error_event_raises_api_error(client: Any) -> None:
    seen: list[Any] = []
    with pytest.raises(openai.APIError) as info:
        for event in client.responses.create(model="fault-error-event", input=PROMPT, stream=True):
            seen.append(event)
    assert str(info.value.message) == "The offline server injected an error event."
    assert info.value.body["code"] == "server_error"
    check_typed(seen)
    assert [e.type for e in seen][-1] == "response.output_text.delta"
    plain = client.responses.create(model="fault-error-event", input=PROMPT)
    assert plain.status == "failed" and plain.error.code == "server_error"


def test_failed_stream_ends_with_typed_failed_event(client: Any) -> None:
    events = list(client.responses.create(model="fault-failed", input=PROMPT, stream=True))
    check_typed(events)
    assert events[-1].type == "response.failed" and events[-1].response.error.code == "server_error"


def test_transport_faults(client: Any, offline_server: OfflineServer) -> None:
    with pytest.raises(openai.APIConnectionError):
        client.responses.create(model="fault-reset", input=PROMPT)
    with pytest.raises(openai.APIConnectionError):
        list(client.responses.create(model="fault-reset", input=PROMPT, stream=True))
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).responses.create(model="fault-stall", input=PROMPT)
    truncated = list(client.responses.create(model="fault-truncated", input=PROMPT, stream=True))
    assert truncated[-1].type == "response.output_text.delta"
    with pytest.raises(RuntimeError, match="response.completed"):
        with client.responses.stream(model="fault-truncated", input=PROMPT) as stream:
            for _ in stream:
                pass
            stream.get_final_response()
    with pytest.raises(json.JSONDecodeError):
        list(client.responses.create(model="fault-malformed", input=PROMPT, stream=True))
