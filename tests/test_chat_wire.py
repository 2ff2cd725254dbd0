"""The chat-completions wire against every recorded fixture in tests/fixtures/chat-completions/.

Expected values are computed here from the fixture itself (the message, its chunks, their
usage), never copied from the code under test. Streams are fed through the client's SSE decoder
in many framings (whole, byte by byte, CRLF, pings, random chunks) and must give the same
Response and the same deltas. HTTP error statuses go through the public Client on a loopback
server: the error mapping is shared by every endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haoee_jupyter import (
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigurationError,
    HaoeeError,
    NotFoundError,
    ProtocolError,
    Response,
    ResponseFailedError,
)
from haoee_jupyter.client._chat import ChatReader, ChatStreamState, chat_body, response_from_chat
from haoee_jupyter.client._stream import SSEDecoder
from haoee_jupyter.render import response_bundle

FIXTURES = Path(__file__).parent / "fixtures" / "chat-completions"
ANSWERS = ["01", "03", "08", "10"]
STREAMS = ["02", "04", "09"]
ERRORS = [  # prefix, HTTP status as recorded (SOURCES.md), class, code, param
    ("05", 401, AuthenticationError, "invalid_api_key", None),
    ("06", 400, BadRequestError, "unsupported_parameter", "max_tokens"),
    ("07", 404, NotFoundError, "model_not_found", None),
]


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    from haoee_jupyter.client import _settings

    if hasattr(_settings, "session"):  # settings a notebook session set, where that layer keeps them
        monkeypatch.setattr(_settings, "session", {})


def fixture(prefix: str) -> Path:
    (path,) = FIXTURES.glob(f"{prefix}-*")
    return path


def load(prefix: str) -> dict[str, Any]:
    return json.loads(fixture(prefix).read_text("utf-8"))


def chunks(prefix: str) -> list[dict[str, Any]]:
    """The JSON chunks of a recorded stream, read independently of the client's decoder."""
    lines = fixture(prefix).read_text("utf-8").splitlines()
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


def expected_usage(usage: dict[str, Any]) -> tuple[int, int, int, int, int]:
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)
    return usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"], cached, reasoning


def usage_of(response: Response) -> tuple[int, int, int, int, int]:
    u = response.usage
    return u.input_tokens, u.output_tokens, u.total_tokens, u.cached_tokens, u.reasoning_tokens


def status_for(finish_reason: str) -> tuple[str, str | None]:
    return ("incomplete", "max_output_tokens") if finish_reason == "length" else ("completed", None)


# --- whole answers --------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ANSWERS)
def test_answer_fixture_reads_as_a_response(prefix):
    data = load(prefix)
    (choice,) = data["choices"]
    response = response_from_chat(data)
    assert response.id == data["id"] and response.model == data["model"]
    assert response.text == choice["message"]["content"]
    assert usage_of(response) == expected_usage(data["usage"])
    assert (response.status, response.incomplete_reason) == status_for(choice["finish_reason"])
    assert response.refusal is None and response.reasoning == [] and response.function_calls == []
    # It renders like any other answer: the text, and the stop reason when it was cut.
    plain = response_bundle(response)["text/plain"]
    assert choice["message"]["content"] in plain
    assert ("incomplete: max_output_tokens" in plain) == (choice["finish_reason"] == "length")


def test_reasoning_tokens_are_counted():
    response = response_from_chat(load("08"))
    assert response.usage.reasoning_tokens == 320 and response.usage.output_tokens == 377


@pytest.mark.parametrize("prefix,status,cls,code,param", ERRORS)
def test_error_envelope_in_a_success_body_is_a_failed_response(prefix, status, cls, code, param):
    data = load(prefix)
    with pytest.raises(ResponseFailedError) as caught:
        response_from_chat(data)
    assert caught.value.code == code and data["error"]["message"].split(".")[0] in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("prefix,status,cls,code,param", ERRORS)
def test_error_fixture_over_http_maps_to_its_class(http_server, prefix, status, cls, code, param):
    http_server.add(status=status, body=fixture(prefix).read_bytes(), content_type="application/json; charset=utf-8")
    with Client(api_key="sk-test-chat-0123456789", base_url=http_server.url, max_retries=0) as client:
        with pytest.raises(cls) as caught:
            client.respond("hi", model="gpt-4o")
    error = caught.value
    assert isinstance(error, HaoeeError) and error.status_code == status and error.code == code
    assert error.param == param and "\n" not in str(error)


def test_refusal_reasoning_citations_and_tool_calls_come_through():
    data = {
        "id": "chatcmpl-1",
        "model": "m",
        "created": 1,
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "See [docs](https://example.org).",
                    "reasoning_content": "The user wants a link.",
                    "annotations": [
                        {
                            "type": "url_citation",
                            "url_citation": {"url": "https://example.org", "title": "Docs", "start_index": 4},
                        }
                    ],
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
                    ],
                },
            }
        ],
    }
    response = response_from_chat(data)
    assert response.status == "completed" and response.reasoning == ["The user wants a link."]
    assert [(c.url, c.title, c.start_index) for c in response.citations] == [("https://example.org", "Docs", 4)]
    assert [(c["call_id"], c["name"], c["arguments"]) for c in response.function_calls] == [("call_1", "f", '{"x": 1}')]
    refused = response_from_chat({"choices": [{"message": {"content": None, "refusal": "I can't help with that."}}]})
    assert refused.refusal == "I can't help with that." and refused.text == ""
    filtered = response_from_chat({"choices": [{"message": {"content": "Par"}, "finish_reason": "content_filter"}]})
    assert (filtered.status, filtered.incomplete_reason, filtered.text) == ("incomplete", "content_filter", "Par")


def test_bodies_that_are_not_chat_completions():
    with pytest.raises(ProtocolError, match="not a chat completion"):
        response_from_chat({"object": "list", "data": []})
    with pytest.raises(ProtocolError):
        response_from_chat(["not", "an", "object"])
    # A relay that answers in the Responses shape is read as such.
    shaped = {"id": "resp_1", "status": "completed", "output": [{"type": "message", "content": []}]}
    assert response_from_chat(shaped).id == "resp_1"


# --- streams --------------------------------------------------------------------------


def expected_stream(prefix: str) -> dict[str, Any]:
    parts = chunks(prefix)
    deltas = [c["choices"][0]["delta"] for c in parts if c["choices"]]
    finish = [c["choices"][0]["finish_reason"] for c in parts if c["choices"] and c["choices"][0]["finish_reason"]]
    (usage,) = [c["usage"] for c in parts if c.get("usage")]
    return {
        "id": parts[0]["id"],
        "model": parts[0]["model"],
        "text": [d["content"] for d in deltas if d.get("content")],
        "reasoning": [d["reasoning_content"] for d in deltas if d.get("reasoning_content")],
        "finish": finish[-1],
        "usage": expected_usage(usage),
    }


def run_stream(pieces: list[bytes]) -> tuple[Response, list[str], list[str]]:
    """Feed raw bytes as the client does: decoder -> state, stopping at the done flag."""
    text: list[str] = []
    thought: list[str] = []
    decoder, state = SSEDecoder(), ChatStreamState(on_text=text.append, on_reasoning=thought.append)
    for piece in pieces:
        for payload in decoder.feed(piece):
            if state.feed_payload(payload):
                return state.result(), text, thought
    for payload in decoder.finish():
        if state.feed_payload(payload):
            break
    return state.result(), text, thought


def framings(prefix: str) -> dict[str, list[bytes]]:
    raw = fixture(prefix).read_bytes()
    no_done = raw.replace(b"data: [DONE]", b"")
    return {
        "whole": [raw],
        "bytes": [raw[i : i + 1] for i in range(len(raw))]
        if len(raw) < 20_000
        else [raw[i : i + 3] for i in range(0, len(raw), 3)],
        "lines": raw.splitlines(keepends=True),
        "crlf": [raw.replace(b"\n", b"\r\n")],
        "pings": [b": PING\n\n" + raw.replace(b"\n\ndata:", b"\n\n: keepalive\n\ndata:")],
        "no-done": [no_done],  # the connection closes after the last chunk: finish_reason is enough
        "no-space": [raw.replace(b"data: ", b"data:")],
    }


@pytest.mark.parametrize("framing", ["whole", "bytes", "lines", "crlf", "pings", "no-done", "no-space"])
@pytest.mark.parametrize("prefix", STREAMS)
def test_stream_fixture_in_every_framing(prefix, framing):
    exp = expected_stream(prefix)
    response, text, thought = run_stream(framings(prefix)[framing])
    assert text == exp["text"] and thought == exp["reasoning"]
    assert response.text == "".join(exp["text"])
    assert response.reasoning == (["".join(exp["reasoning"])] if exp["reasoning"] else [])
    assert (response.id, response.model) == (exp["id"], exp["model"])
    assert (response.status, response.incomplete_reason) == status_for(exp["finish"])
    assert usage_of(response) == exp["usage"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), prefix=st.sampled_from(STREAMS))
def test_stream_fixture_in_random_chunks(data, prefix):
    raw = fixture(prefix).read_bytes()
    cuts = sorted(data.draw(st.sets(st.integers(1, len(raw) - 1), max_size=60)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)])]
    whole = run_stream([raw])
    chunked = run_stream(pieces)
    assert chunked[0].raw == whole[0].raw and chunked[1:] == whole[1:]


def test_stream_cut_before_the_end_keeps_the_partial_answer():
    raw = fixture("04").read_bytes()
    cut = raw[: raw.index(b'"finish_reason":"length"') - 200]
    cut = cut[: cut.rindex(b"\n\n") + 2]  # whole chunks only, none of them the last
    sent = [json.loads(line[6:]) for line in cut.decode().splitlines() if line.startswith("data: {")]
    with pytest.raises(ProtocolError, match="no finish_reason") as caught:
        run_stream([cut])
    partial = caught.value.partial
    assert partial is not None and partial.status == "in_progress"
    assert partial.text == "".join(c["choices"][0]["delta"].get("content") or "" for c in sent)


def test_error_chunk_in_a_stream_fails_with_the_servers_words():
    raw = fixture("02").read_bytes()
    first = raw[: raw.index(b"\n\n") * 3]
    first = first[: first.rindex(b"\n\n") + 2]
    error = b"data: " + json.dumps(load("06")).encode() + b"\n\n"
    with pytest.raises(ResponseFailedError) as caught:
        run_stream([first, error, raw])
    assert caught.value.code == "unsupported_parameter" and "max_completion_tokens" in str(caught.value)
    assert caught.value.partial is not None


def test_stream_payload_that_is_not_json():
    with pytest.raises(ProtocolError, match="not JSON"):
        ChatStreamState().feed_payload("<html>")


def test_whole_message_chunk_and_reasoning_alias():
    # Some relays send the whole message in one chunk, or name the reasoning "reasoning".
    state = ChatStreamState()
    state.feed_payload('{"choices": [{"index": 0, "delta": {"reasoning": "hmm"}}]}')
    state.feed_payload('{"choices": [{"index": 0, "message": {"content": "Hi"}, "finish_reason": "stop"}]}')
    result = state.result()
    assert (result.text, result.reasoning, result.status) == ("Hi", ["hmm"], "completed")


# --- request bodies -------------------------------------------------------------------


def test_body_from_what_the_notebook_sends():
    body = chat_body(
        {
            "model": "qwen3-vl-plus",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is this?"},
                        {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "auto"},
                    ],
                }
            ],
            "instructions": "Answer in one line.",
            "temperature": 0.2,
            "top_p": 0.9,
            "max_output_tokens": 100,
            "reasoning": {"effort": "low", "summary": "auto"},
            "tools": [{"type": "web_search"}],
            "text": {"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}, "strict": True}},
            "stream": True,
        }
    )
    assert body == {
        "model": "qwen3-vl-plus",
        "messages": [
            {"role": "system", "content": "Answer in one line."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR", "detail": "auto"}},
                ],
            },
        ],
        "max_tokens": 100,
        "reasoning_effort": "low",
        "web_search_options": {},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": {"type": "object"}, "strict": True},
        },
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
        "top_p": 0.9,
    }


@pytest.mark.parametrize(
    "model,field",
    [
        ("gpt-4o", "max_tokens"),
        ("deepseek-reasoner", "max_tokens"),
        ("gpt-5-nano", "max_completion_tokens"),  # rejects max_tokens: fixture 06
        ("gpt-5.6-luna", "max_completion_tokens"),
        ("o3-mini", "max_completion_tokens"),
    ],
)
def test_token_limit_name_per_model(model, field):
    body = chat_body({"model": model, "input": "hi", "max_output_tokens": 64})
    assert body[field] == 64 and ({"max_tokens", "max_completion_tokens"} - {field}).isdisjoint(body)


def test_web_search_location_nests_as_on_the_chat_wire():
    tool = {
        "type": "web_search",
        "search_context_size": "low",
        "user_location": {"type": "approximate", "city": "Oslo"},
    }
    body = chat_body({"model": "gpt-4o-search-preview", "input": "news", "tools": [tool]})
    assert body["web_search_options"] == {
        "search_context_size": "low",
        "user_location": {"type": "approximate", "approximate": {"city": "Oslo"}},
    }
    assert "tools" not in body


def test_conversation_items_and_function_tools():
    body = chat_body(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "Weather?"},
                {"type": "reasoning", "summary": []},
                {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"city": "Oslo"}'},
                {"type": "function_call", "call_id": "c2", "name": "weather", "arguments": '{"city": "Bergen"}'},
                {"type": "function_call_output", "call_id": "c1", "output": "5 C"},
                {"role": "assistant", "content": [{"type": "output_text", "text": "It is 5 C."}]},
            ],
            "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "weather"},
        }
    )
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert [c["id"] for c in body["messages"][1]["tool_calls"]] == ["c1", "c2"]
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "c1", "content": "5 C"}
    assert body["messages"][3] == {"role": "assistant", "content": "It is 5 C."}
    assert body["tools"] == [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "weather"}}


@pytest.mark.parametrize(
    "fields,words",
    [
        ({"previous_response_id": "resp_1"}, "Pass the earlier messages"),
        ({"truncation": "auto"}, "'truncation'"),
        ({"include": ["web_search_call.action.sources"]}, "'include'"),
        ({"tools": [{"type": "file_search"}]}, "'file_search' tool"),
        ({"tools": [{"type": "web_search", "filters": {"allowed_domains": ["a.org"]}}]}, "'filters'"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}, "not by file_id"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "item_reference"),
        ({"n": 2}, "n=1"),
        ({"text": {"format": {"type": "grammar"}}}, "'grammar'"),
    ],
)
def test_what_this_wire_cannot_say_is_refused_in_one_line(fields, words):
    with pytest.raises(ConfigurationError) as caught:
        chat_body({"model": "m", "input": "hi", **fields})
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_reader_passes_a_whole_answer_to_a_stream_request_on_as_deltas():
    text: list[str] = []
    thought: list[str] = []
    data = {"choices": [{"message": {"content": "Hi", "reasoning_content": "Greet back."}, "finish_reason": "stop"}]}
    response = ChatReader(text.append, thought.append).whole(data)
    assert (text, thought, response.text) == (["Hi"], ["Greet back."], "Hi")
    assert ChatReader().json(load("10")).text == load("10")["choices"][0]["message"]["content"]
