"""The offline demo server over real HTTP on loopback, checked with plain httpx.

Shapes are compared with the recorded OpenAI payloads in tests/fixtures/responses-api.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from haoee_jupyter.offline import FAULTS, MODELS, OfflineServer
from haoee_jupyter.offline._answers import count_tokens, tokenize

FIXTURES = Path(__file__).parent / "fixtures" / "responses-api"
AUTH = {"Authorization": "Bearer offline-test"}
PROMPT = "Explain what a p-value is, with one example."
BOOK_FORMAT = {
    "type": "json_schema",
    "name": "Book",
    "strict": True,
    "schema": {
        "$defs": {
            "Author": {
                "properties": {"first_name": {"type": "string"}, "last_name": {"type": "string"}},
                "required": ["first_name", "last_name"],
                "type": "object",
                "additionalProperties": False,
            }
        },
        "properties": {
            "title": {"type": "string"},
            "author": {"$ref": "#/$defs/Author"},
            "rating": {"type": "integer"},
        },
        "required": ["title", "author", "rating"],
        "type": "object",
        "additionalProperties": False,
    },
}


# One client for the module: building an httpx.Client (its SSL context) costs ~15 ms each time.
HTTP = httpx.Client(timeout=5)


@pytest.fixture(scope="module", autouse=True)
def _close_http_client() -> Any:
    yield
    HTTP.close()


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def post(server: OfflineServer, body: Any, headers: dict[str, str] | None = AUTH, timeout: float = 5) -> httpx.Response:
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return HTTP.post(
        f"{server.url}/responses",
        content=content,
        timeout=timeout,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def raw_stream(server: OfflineServer, body: dict[str, Any], timeout: float = 5) -> tuple[httpx.Response, str]:
    with HTTP.stream(
        "POST", f"{server.url}/responses", json={**body, "stream": True}, headers=AUTH, timeout=timeout
    ) as response:
        text = response.read().decode()
    return response, text


def parse_sse(text: str) -> list[dict[str, Any]]:
    """Strict: every frame is exactly `event:` + one `data:` line whose type matches."""
    assert text.endswith("\n\n") and "[DONE]" not in text
    events = []
    for frame in text.split("\n\n")[:-1]:
        event_line, data_line = frame.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: ")
        data = json.loads(data_line[len("data: ") :])
        assert data["type"] == event_line[len("event: ") :]
        events.append(data)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


def stream_events(server: OfflineServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    response, text = raw_stream(server, body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["transfer-encoding"] == "chunked"
    return parse_sse(text)


def message_text(response: dict[str, Any]) -> str:
    return "".join(
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


def deltas(events: list[dict[str, Any]]) -> list[str]:
    return [e["delta"] for e in events if e["type"] == "response.output_text.delta"]


# -- shape and determinism -----------------------------------------------------------------


def test_response_has_the_recorded_shape(offline_server: OfflineServer) -> None:
    recorded = fixture("01-openai-text.json")
    response = post(offline_server, {"model": "gpt-4.1", "input": PROMPT})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(recorded) - {"billing"} <= set(body)
    assert body["id"].startswith("resp_offline_") and body["object"] == "response"
    assert body["status"] == "completed" and body["model"] == "gpt-4.1"
    assert isinstance(body["completed_at"], int) and body["error"] is None
    assert body["text"] == {"format": {"type": "text"}, "verbosity": "medium"}
    [item] = body["output"]
    assert list(item) == list(recorded["output"][0])
    assert item["id"].startswith("msg_") and item["status"] == "completed"
    [part] = item["content"]
    assert list(part) == ["type", "annotations", "logprobs", "text"]
    assert set(body["usage"]) == set(recorded["usage"])
    assert set(body["usage"]["input_tokens_details"]) == {"cached_tokens"}
    assert set(body["usage"]["output_tokens_details"]) == {"reasoning_tokens"}


def test_stream_follows_the_recorded_order_and_matches_the_plain_answer(
    offline_server: OfflineServer,
) -> None:
    request = {"model": "gpt-4.1", "input": PROMPT}
    plain = post(offline_server, request).json()
    events = stream_events(offline_server, request)
    types = [e["type"] for e in events]
    n = len(deltas(events))
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * n,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["usage"] is None
    assert events[3]["part"] == {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    delta = events[4]
    assert set(delta) == {"type", "sequence_number", "item_id", "output_index", "content_index", "delta", "logprobs"}
    final = events[-1]["response"]
    assert "".join(deltas(events)) == message_text(final) == message_text(plain)
    assert events[-4]["text"] == message_text(plain)
    assert final["usage"]["output_tokens"] == n == plain["usage"]["output_tokens"]
    assert final["usage"]["total_tokens"] == final["usage"]["input_tokens"] + n
    assert final["usage"]["input_tokens"] == count_tokens(PROMPT)


def test_answer_is_labelled_markdown_about_the_prompt(offline_server: OfflineServer) -> None:
    text = message_text(post(offline_server, {"model": "qwen3-max", "input": PROMPT}).json())
    assert "offline" in text.lower() and PROMPT in text and "qwen3-max" in text
    assert re.search(r"^## ", text, re.M) and re.search(r"^- ", text, re.M)
    assert re.search(r"\*\*\w", text) and re.search(r"\b_\w[^_]*_", text)
    assert "```python\n" in text and re.search(r"^\|---\|", text, re.M)
    assert 120 <= len(tokenize(text)) <= 200


def test_answers_are_deterministic_and_differ_by_prompt(offline_server: OfflineServer) -> None:
    first = message_text(post(offline_server, {"model": "m", "input": "alpha"}).json())
    again = message_text(post(offline_server, {"model": "m", "input": "alpha"}).json())
    other = message_text(post(offline_server, {"model": "m", "input": "beta"}).json())
    assert first == again != other


def test_message_list_input_with_images(offline_server: OfflineServer) -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"}
    body = {
        "model": "gpt-4.1",
        "input": [
            {"role": "user", "content": "an earlier question"},
            {"role": "assistant", "content": "an earlier answer"},
            {"role": "user", "content": [{"type": "input_text", "text": "What is in these pictures?"}, image, image]},
        ],
    }
    response = post(offline_server, body).json()
    text = message_text(response)
    assert "What is in these pictures?" in text and "2 images received" in text
    assert "Turn 2" in text and "an earlier question" in text
    assert response["usage"]["input_tokens"] >= 2 * 85


def test_instructions_are_visible_and_brief_ones_shorten(offline_server: OfflineServer) -> None:
    text = message_text(
        post(offline_server, {"model": "m", "input": PROMPT, "instructions": "Answer like a pirate."}).json()
    )
    assert "Following your instructions: Answer like a pirate." in text
    brief = post(offline_server, {"model": "m", "input": PROMPT, "instructions": "Be brief."}).json()
    assert PROMPT in message_text(brief) and brief["usage"]["output_tokens"] < 40
    assert brief["instructions"] == "Be brief."


def test_previous_response_id_builds_a_conversation(offline_server: OfflineServer) -> None:
    first = post(offline_server, {"model": "m", "input": "first question"}).json()
    second = post(
        offline_server, {"model": "m", "input": "second question", "previous_response_id": first["id"]}
    ).json()
    events = stream_events(
        offline_server, {"model": "m", "input": "third question", "previous_response_id": second["id"]}
    )
    third = events[-1]["response"]
    text = message_text(third)
    assert "Turn 3 of this conversation" in text
    assert "first question" in text and "second question" in text
    assert third["previous_response_id"] == second["id"]
    usage = third["usage"]
    assert usage["input_tokens_details"]["cached_tokens"] > 0
    assert usage["input_tokens"] > second["usage"]["input_tokens"] > first["usage"]["input_tokens"]
    stored = HTTP.get(f"{offline_server.url}/responses/{third['id']}", headers=AUTH).json()
    assert stored == third


def test_unknown_previous_response_id(offline_server: OfflineServer) -> None:
    response = post(offline_server, {"model": "m", "input": "x", "previous_response_id": "resp_nope"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Previous response with id 'resp_nope' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    }
    unstored = post(offline_server, {"model": "m", "input": "x", "store": False}).json()
    follow_up = post(offline_server, {"model": "m", "input": "y", "previous_response_id": unstored["id"]})
    assert follow_up.status_code == 400


# -- tools, formats, reasoning, limits -------------------------------------------------------


def check_citations(text: str, annotations: list[dict[str, Any]]) -> None:
    assert 2 <= len(annotations) <= 3
    for annotation in annotations:
        assert set(annotation) == {"type", "start_index", "end_index", "title", "url"}
        assert annotation["type"] == "url_citation"
        assert re.match(r"https://example\.(org|com|net)/", annotation["url"])
        domain = annotation["url"].split("/")[2]
        assert text[annotation["start_index"] : annotation["end_index"]] == f"([{domain}]({annotation['url']}))"


def test_web_search_output_and_citations(offline_server: OfflineServer) -> None:
    recorded = fixture("05-openai-web-search.json")
    body = {"model": "gpt-4.1", "input": PROMPT, "tools": [{"type": "web_search"}]}
    response = post(offline_server, body).json()
    search, message = response["output"]
    assert list(search) == list(recorded["output"][0])
    assert search["id"].startswith("ws_") and search["status"] == "completed"
    assert search["action"]["type"] == "search" and search["action"]["queries"] == [PROMPT]
    assert search["action"]["query"] == PROMPT
    part = message["content"][0]
    check_citations(part["text"], part["annotations"])
    assert response["tools"] == [{"type": "web_search"}]


@pytest.mark.parametrize("tool", ["web_search_preview", "web_search_2025_08_26"])
def test_web_search_tool_variants(offline_server: OfflineServer, tool: str) -> None:
    response = post(offline_server, {"model": "m", "input": "q", "tools": [{"type": tool}]}).json()
    assert response["output"][0]["type"] == "web_search_call"


def test_web_search_stream_interleaves_annotations(offline_server: OfflineServer) -> None:
    body = {"model": "gpt-4.1", "input": PROMPT, "tools": [{"type": "web_search"}]}
    events = stream_events(offline_server, body)
    types = [e["type"] for e in events]
    assert types[2:7] == [
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
    ]
    assert events[2]["item"] == {
        "id": events[2]["item"]["id"],
        "type": "web_search_call",
        "status": "in_progress",
        "action": {"type": "search"},
    }
    assert set(events[3]) == {"type", "sequence_number", "item_id", "output_index"}
    final = events[-1]["response"]
    part = final["output"][1]["content"][0]
    text_so_far = last_delta = ""
    added: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == "response.output_text.delta":
            text_so_far += event["delta"]
            last_delta = event["delta"]
        elif event["type"] == "response.output_text.annotation.added":
            annotation = event["annotation"]
            # Sent right after the delta that completes the link, as in fixture 06.
            assert len(text_so_far) - len(last_delta) < annotation["end_index"] <= len(text_so_far)
            assert event["annotation_index"] == len(added) and event["output_index"] == 1
            added.append(annotation)
    assert added == part["annotations"] and text_so_far == part["text"]
    check_citations(part["text"], added)
    assert part["text"] == message_text(post(offline_server, body).json())


def test_json_schema_output_validates(offline_server: OfflineServer) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    recorded_format = fixture("10-openai-json-schema.json")["text"]["format"]
    for fmt in (BOOK_FORMAT, recorded_format):
        body = {"model": "gpt-4.1", "input": "A book please", "text": {"format": fmt}}
        response = post(offline_server, body).json()
        text = message_text(response)
        jsonschema.validate(json.loads(text), fmt["schema"])
        assert response["text"]["format"] == fmt
        assert "".join(deltas(stream_events(offline_server, body))) == text


def test_json_object_output(offline_server: OfflineServer) -> None:
    body = {"model": "m", "input": "Reply in JSON", "text": {"format": {"type": "json_object"}}}
    value = json.loads(message_text(post(offline_server, body).json()))
    assert isinstance(value, dict) and value["prompt"] == "Reply in JSON"


def test_reasoning_summary(offline_server: OfflineServer) -> None:
    body = {"model": "gpt-5.2", "input": PROMPT, "reasoning": {"effort": "low", "summary": "auto"}}
    response = post(offline_server, body).json()
    reasoning, _message = response["output"]
    assert reasoning["type"] == "reasoning" and reasoning["id"].startswith("rs_")
    [summary] = reasoning["summary"]
    assert summary["type"] == "summary_text" and "offline" in summary["text"]
    usage = response["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] > 0
    assert response["reasoning"] == {"effort": "low", "summary": "auto"}
    events = stream_events(offline_server, body)
    types = [e["type"] for e in events]
    assert types[2:4] == ["response.output_item.added", "response.reasoning_summary_part.added"]
    summary_deltas = [e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta"]
    assert "".join(summary_deltas) == summary["text"]
    after = types.index("response.reasoning_summary_text.done")
    assert types[after : after + 3] == [
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    final_usage = events[-1]["response"]["usage"]
    assert (
        final_usage["output_tokens"] == len(deltas(events)) + final_usage["output_tokens_details"]["reasoning_tokens"]
    )
    no_summary = post(offline_server, {"model": "m", "input": "x", "reasoning": {"effort": "low"}}).json()
    assert [item["type"] for item in no_summary["output"]] == ["message"]


def test_max_output_tokens_truncates(offline_server: OfflineServer) -> None:
    body = {"model": "gpt-4.1", "input": PROMPT, "max_output_tokens": 20}
    response = post(offline_server, body).json()
    assert response["status"] == "incomplete" and response["completed_at"] is None
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["output"][0]["status"] == "incomplete"
    assert response["usage"]["output_tokens"] == 20
    full = message_text(post(offline_server, {"model": "gpt-4.1", "input": PROMPT}).json())
    assert full.startswith(message_text(response)) and len(full) > len(message_text(response))
    events = stream_events(offline_server, body)
    assert events[-1]["type"] == "response.incomplete"
    assert "response.completed" not in [e["type"] for e in events]
    assert len(deltas(events)) == 20 and events[-2]["item"]["status"] == "incomplete"


def test_max_output_tokens_below_minimum(offline_server: OfflineServer) -> None:
    response = post(offline_server, {"model": "m", "input": "x", "max_output_tokens": 15})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Invalid 'max_output_tokens': integer below minimum value. "
        "Expected a value >= 16, but got 15 instead.",
        "type": "invalid_request_error",
        "param": "max_output_tokens",
        "code": "integer_below_min_value",
    }


def test_temperature_bounds(offline_server: OfflineServer) -> None:
    recorded = fixture("12-openai-error-400-decimal_below_min_value.json")
    below = post(offline_server, {"model": "m", "input": "x", "temperature": -1})
    assert below.status_code == 400 and below.json() == recorded
    above = post(offline_server, {"model": "m", "input": "x", "temperature": 2.5})
    assert above.status_code == 400 and above.json()["error"]["code"] == "decimal_above_max_value"
    assert above.json()["error"]["param"] == "temperature"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": 3, "input": "x"}, "model"),
        ({"model": "m", "input": {"text": "x"}}, "input"),
    ],
)
def test_invalid_requests(offline_server: OfflineServer, body: dict[str, Any], param: str) -> None:
    response = post(offline_server, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"


def test_bad_json_and_unknown_fields(offline_server: OfflineServer) -> None:
    bad = post(offline_server, b"{not json")
    assert bad.status_code == 400 and set(bad.json()["error"]) == {"message", "type", "param", "code"}
    ok = post(offline_server, {"model": "m", "input": "x", "some_future_field": {"a": 1}})
    assert ok.status_code == 200


def test_authorization(offline_server: OfflineServer) -> None:
    missing = post(offline_server, {"model": "m", "input": "x"}, headers=None)
    assert missing.status_code == 401
    assert missing.json() == {
        "error": {
            "message": "Missing API key: send Authorization: Bearer <key> (any key works on the offline server).",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    assert post(offline_server, {"model": "m", "input": "x"}, headers={"Authorization": "Bearer"}).status_code == 401
    assert post(offline_server, {"model": "m", "input": "x"}, headers={"Authorization": "sk-bare"}).status_code == 200
    assert HTTP.get(f"{offline_server.url}/models").status_code == 401


def test_models_and_unknown_urls(offline_server: OfflineServer) -> None:
    listing = HTTP.get(f"{offline_server.url}/models", headers=AUTH).json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == list(MODELS)
    assert all(m["object"] == "model" and m["owned_by"] == "haoee-offline" for m in listing["data"])
    unknown = HTTP.post(f"{offline_server.url}/completions", headers=AUTH, json={})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_url"
    assert HTTP.get(f"{offline_server.url}/chat/completions", headers=AUTH).status_code == 404  # POST only
    bare = HTTP.post(
        f"http://127.0.0.1:{offline_server.port}/responses", headers=AUTH, json={"model": "m", "input": "x"}
    )
    assert bare.status_code == 200


def test_request_log_hides_the_key(offline_server: OfflineServer) -> None:
    post(offline_server, {"model": "m", "input": "x"}, headers={"Authorization": "Bearer sk-secret-123"})
    post(offline_server, {"model": "m", "input": "x"}, headers={"Authorization": "sk-bare-456"})
    with_scheme, bare = offline_server.requests[-2:]
    assert with_scheme["path"] == "/v1/responses" and with_scheme["body"] == {"model": "m", "input": "x"}
    assert with_scheme["authorization_present"] and with_scheme["authorization_scheme"] == "Bearer"
    assert bare["authorization_present"] and bare["authorization_scheme"] is None
    assert "secret" not in repr(offline_server.requests) and "bare-456" not in repr(offline_server.requests)
    assert "authorization" not in with_scheme["headers"]
    for _ in range(105):
        HTTP.get(f"{offline_server.url}/models", headers=AUTH)
    assert len(offline_server.requests) == 100


def test_concurrent_requests(offline_server: OfflineServer) -> None:
    results: list[int] = []

    def call(i: int) -> None:
        results.append(post(offline_server, {"model": "m", "input": f"q{i}", "stream": i % 2 == 0}).status_code)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 12


def test_latency_paces_deltas(offline_server: OfflineServer) -> None:
    offline_server.latency_ms = 20
    started = time.monotonic()
    events = stream_events(offline_server, {"model": "m", "input": "x", "instructions": "be brief"})
    assert time.monotonic() - started >= 0.8 * 0.02 * len(deltas(events))
    with pytest.raises(ValueError):
        offline_server.latency_ms = -1


# -- faults --------------------------------------------------------------------------------

JSON_FAULTS = {
    "429": ("rate_limit_exceeded", "requests"),
    "401": ("invalid_api_key", "invalid_request_error"),
    "403": ("permission_denied", "permission_error"),
    "404": ("model_not_found", "invalid_request_error"),
}


def trigger(server: OfflineServer, how: str, fault: str, body: dict[str, Any]) -> dict[str, Any]:
    """Arrange for `fault` via inject() or the fault-<name> model; returns the body to send."""
    if how == "inject":
        server.inject(fault)
        return body
    return {**body, "model": f"fault-{fault}"}


@pytest.fixture(params=["inject", "model"])
def how(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("fault", sorted(JSON_FAULTS))
def test_json_error_faults(offline_server: OfflineServer, how: str, fault: str) -> None:
    for stream in (False, True):
        response = post(
            offline_server, trigger(offline_server, how, fault, {"model": "m", "input": "x", "stream": stream})
        )
        assert response.status_code == int(fault)
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert (error["code"], error["type"]) == JSON_FAULTS[fault]
        assert set(error) == {"message", "type", "param", "code"}
        if fault == "429":
            assert response.headers["retry-after"] == "1" and "try again in 1s" in error["message"]


@pytest.mark.parametrize(
    ("fault", "title"),
    [("500", "500 Internal Server Error"), ("502", "502 Bad Gateway"), ("503", "503 Service Temporarily Unavailable")],
)
def test_proxy_html_faults(offline_server: OfflineServer, how: str, fault: str, title: str) -> None:
    response = post(offline_server, trigger(offline_server, how, fault, {"model": "m", "input": "x"}))
    assert response.status_code == int(fault)
    assert response.headers["content-type"] == "text/html"
    assert f"<title>{title}</title>" in response.text and "nginx" in response.text


def test_injected_faults_are_counted_and_only_hit_responses(offline_server: OfflineServer) -> None:
    offline_server.inject("503", times=2)
    assert HTTP.get(f"{offline_server.url}/models", headers=AUTH).status_code == 200
    codes = [post(offline_server, {"model": "m", "input": "x"}).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    offline_server.inject("fault-429")
    assert post(offline_server, {"model": "m", "input": "x"}).status_code == 429
    with pytest.raises(ValueError, match="known faults"):
        offline_server.inject("418")


def test_unknown_fault_model(offline_server: OfflineServer) -> None:
    response = post(offline_server, {"model": "fault-teapot", "input": "x"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "model" and all(name in error["message"] for name in FAULTS)


def test_reset_fault(offline_server: OfflineServer, how: str) -> None:
    body = trigger(offline_server, how, "reset", {"model": "m", "input": PROMPT})
    with pytest.raises(httpx.TransportError):
        raw_stream(offline_server, body)
    body = trigger(offline_server, how, "reset", {"model": "m", "input": PROMPT})
    with pytest.raises(httpx.TransportError):
        post(offline_server, body)
    assert post(offline_server, {"model": "m", "input": "x"}).status_code == 200


def test_stall_fault(offline_server: OfflineServer, how: str) -> None:
    body = trigger(offline_server, how, "stall", {"model": "m", "input": PROMPT, "stream": True})
    received: list[str] = []
    with HTTP.stream(
        "POST", f"{offline_server.url}/responses", json=body, headers=AUTH, timeout=httpx.Timeout(5, read=0.2)
    ) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            for line in response.iter_lines():
                received.append(line)
    assert sum(line.startswith('data: {"type":"response.output_text.delta"') for line in received) == 3
    body = trigger(offline_server, how, "stall", {"model": "m", "input": PROMPT})
    with pytest.raises(httpx.ReadTimeout):
        post(offline_server, body, timeout=0.2)


def test_truncated_fault(offline_server: OfflineServer, how: str) -> None:
    body = trigger(offline_server, how, "truncated", {"model": "m", "input": PROMPT})
    _response, text = raw_stream(offline_server, body)
    events = parse_sse(text)
    assert events[-1]["type"] == "response.output_text.delta" and len(deltas(events)) == 3
    body = trigger(offline_server, how, "truncated", {"model": "m", "input": PROMPT})
    with pytest.raises(httpx.RemoteProtocolError):
        post(offline_server, body)


def test_malformed_fault(offline_server: OfflineServer, how: str) -> None:
    body = trigger(offline_server, how, "malformed", {"model": "m", "input": PROMPT})
    _response, text = raw_stream(offline_server, body)
    frames = text.split("\n\n")
    assert frames[-1] == ""
    good = parse_sse("\n\n".join(frames[:-2]) + "\n\n")
    assert len(deltas(good)) == 3
    broken = frames[-2].split("\n")[1]
    assert broken.startswith("data: {")
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken[len("data: ") :])
    body = trigger(offline_server, how, "malformed", {"model": "m", "input": PROMPT})
    plain = post(offline_server, body)
    assert plain.status_code == 200 and plain.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(plain.text)


def test_error_event_fault(offline_server: OfflineServer, how: str) -> None:
    body = trigger(offline_server, how, "error-event", {"model": "m", "input": PROMPT})
    events = stream_events(offline_server, body)
    types = [e["type"] for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-2:] == ["error", "response.failed"] and len(deltas(events)) == 3
    error = events[-2]
    assert error == {
        "type": "error",
        "sequence_number": error["sequence_number"],
        "error": {
            "type": "server_error",
            "code": "server_error",
            "message": "The offline server injected an error event.",
            "param": None,
        },
    }
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["output"] == [] and failed["usage"] is None
    assert failed["error"] == {"code": "server_error", "message": "The offline server injected an error event."}
    body = trigger(offline_server, how, "error-event", {"model": "m", "input": PROMPT})
    plain = post(offline_server, body)
    assert plain.status_code == 200 and plain.json()["status"] == "failed"


def test_failed_fault(offline_server: OfflineServer, how: str) -> None:
    recorded = (
        json.loads((FIXTURES / "15-openai-stream-error-event-then-failed.jsonl").read_text().splitlines()[3])
        if (FIXTURES / "15-openai-stream-error-event-then-failed.jsonl").exists()
        else None
    )
    body = trigger(offline_server, how, "failed", {"model": "m", "input": PROMPT})
    events = stream_events(offline_server, body)
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "response.failed"]
    failed = events[-1]["response"]
    assert failed["error"]["code"] == "server_error" and failed["output"] == []
    if recorded is not None:
        assert set(recorded["response"]) <= set(failed)
    body = trigger(offline_server, how, "failed", {"model": "m", "input": PROMPT})
    plain = post(offline_server, body).json()
    assert plain["status"] == "failed" and plain["error"]["code"] == "server_error" and plain["output"] == []


def test_injected_fault_ignores_a_broken_body(offline_server: OfflineServer) -> None:
    offline_server.inject("failed")
    response = post(offline_server, b"{broken", headers=None)
    assert response.status_code == 200 and response.json()["status"] == "failed"


# -- lifecycle and CLI ---------------------------------------------------------------------


def test_stop_is_prompt_while_a_stall_is_held() -> None:
    server = OfflineServer(latency_ms=0).start()
    server.inject("stall")
    errors: list[BaseException] = []

    def client() -> None:
        try:
            raw_stream(server, {"model": "m", "input": PROMPT}, timeout=10)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], httpx.TransportError)
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/models", headers=AUTH)


def test_constructor_rules() -> None:
    with pytest.raises(ValueError, match="loopback"):
        OfflineServer(host="0.0.0.0")
    with pytest.raises(RuntimeError):
        _ = OfflineServer(port=0).url
    server = OfflineServer(port=0)
    assert server.start() is server and server.start() is server
    assert server.url == f"http://127.0.0.1:{server.port}/v1" and "running" in repr(server)
    server.stop()
    server.stop()


def run_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "haoee_jupyter.offline", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).parents[1],
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_and_exits_cleanly(signum: int) -> None:
    process = run_cli("--port", "0", "--latency-ms", "0")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(
            r"Haoee offline demo server on (http://127\.0\.0\.1:\d+/v1) "
            r"\(no key needed; Ctrl-C stops\)\n",
            line,
        )
        assert match, line
        response = httpx.post(f"{match.group(1)}/responses", headers=AUTH, json={"model": "m", "input": "hi"})
        assert response.status_code == 200 and "hi" in message_text(response.json())
        process.send_signal(signum)
        out, err = process.communicate(timeout=5)
    finally:
        process.kill()
    assert process.returncode == 0 and err == "" and out == ""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_cli_serves_chat_images_and_videos() -> None:
    process = run_cli("--port", "0", "--latency-ms", "0", "--video-ms", "0")
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(" on ", 1)[1].split(" ", 1)[0]
        with httpx.Client(base_url=url, headers=AUTH, timeout=5) as client:
            chat = client.post(
                "/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            )
            assert chat.json()["choices"][0]["message"]["content"]
            image = client.post("/images/generations", json={"prompt": "a fox", "size": "32x32"})
            assert image.json()["data"][0]["b64_json"].startswith("iVBORw0KGgo")
            job = client.post("/videos", files=[("prompt", (None, "a cat"))]).json()
            assert client.get(f"/videos/{job['id']}").json()["status"] == "completed"
            assert client.get(f"/videos/{job['id']}/content").content[4:8] == b"ftyp"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=5)
    finally:
        process.kill()
    assert process.returncode == 0 and err == "" and out == ""
    refused = run_cli("--port", "0", "--video-ms", "-5")
    _out, err = refused.communicate(timeout=5)
    assert refused.returncode == 2 and "video_ms must be a number >= 0" in err


def test_cli_refuses_other_hosts() -> None:
    process = run_cli("--host", "0.0.0.0", "--port", "0")
    _out, err = process.communicate(timeout=5)
    assert process.returncode == 2 and "loopback" in err


def test_web_search_keeps_its_sources_under_brief_instructions(offline_server: OfflineServer) -> None:
    body = {
        "model": "gpt-4.1",
        "input": "Python release dates",
        "instructions": "Be brief.",
        "tools": [{"type": "web_search"}],
    }
    data = post(offline_server, body).json()
    kinds = [item["type"] for item in data["output"]]
    assert kinds == ["web_search_call", "message"]
    assert data["output"][1]["content"][0]["annotations"]


@pytest.mark.parametrize("instructions", ["Be brief.", "Keep it concise", "A short answer", "Answer in one word"])
def test_a_brief_web_answer_is_brief_and_cited_streamed_or_not(
    offline_server: OfflineServer, instructions: str
) -> None:
    body = {
        "model": "gpt-4.1",
        "input": "Python release dates",
        "instructions": instructions,
        "tools": [{"type": "web_search"}],
    }
    whole = post(offline_server, body).json()
    search, message = whole["output"]
    assert search["type"] == "web_search_call" and search["action"]["queries"] == ["Python release dates"]
    part = message["content"][0]
    assert whole["usage"]["output_tokens"] < 80  # brief, as instructed
    check_citations(part["text"], part["annotations"])
    streamed = stream_events(offline_server, body)
    assert [e["annotation"] for e in streamed if e["type"] == "response.output_text.annotation.added"] == part[
        "annotations"
    ]
    assert streamed[-1]["response"]["output"][1]["content"][0]["text"] == part["text"]  # deterministic
    assert message_text(post(offline_server, body).json()) == part["text"]
