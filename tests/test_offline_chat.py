"""`POST /v1/chat/completions` of the offline server over real HTTP, against the recorded shapes.

The recordings are fixtures/chat-completions (01 plain, 02 streamed with include_usage, 03/04
cut by max_tokens, 05 a 401, 09 DeepSeek's reasoner stream).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from haoee_jupyter.offline import OfflineServer
from haoee_jupyter.offline._answers import tokenize

AUTH = {"Authorization": "Bearer offline-test"}
QUESTION = [{"role": "user", "content": "What is 4200 + 42?"}]
HTTP = httpx.Client(timeout=5)


@pytest.fixture(scope="module", autouse=True)
def _close_http_client() -> Any:
    yield
    HTTP.close()


def recorded(name: str) -> str:
    """A chat-completions fixture, from tests/fixtures or the shared recordings beside the repo."""
    for folder in (Path(__file__).parent / "fixtures", Path(__file__).parents[2] / "shared" / "fixtures"):
        path = folder / "chat-completions" / name
        if path.exists():
            return path.read_text()
    raise FileNotFoundError(f"chat-completions/{name}: not in tests/fixtures nor ../shared/fixtures")


def recorded_chunks(name: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in recorded(name).splitlines() if line.startswith("data: {")]


def post(server: OfflineServer, body: Any, headers: dict[str, str] | None = AUTH) -> httpx.Response:
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return HTTP.post(
        f"{server.url}/chat/completions",
        content=content,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def stream_lines(server: OfflineServer, body: dict[str, Any]) -> tuple[httpx.Response, list[str]]:
    with HTTP.stream("POST", f"{server.url}/chat/completions", json={**body, "stream": True}, headers=AUTH) as reply:
        text = reply.read().decode()
    return reply, text.split("\n")


def parse_stream(lines: list[str], done: bool = True) -> list[dict[str, Any]]:
    """Strict: only `data:` lines each followed by a blank line, no `event:` lines, [DONE] last."""
    assert lines[-2:] == ["", ""] if done else lines[-1] == ""
    frames = "\n".join(lines).split("\n\n")[:-1]
    assert all(frame.startswith("data: ") and "\n" not in frame for frame in frames), frames[:3]
    if done:
        assert frames[-1] == "data: [DONE]"
        frames = frames[:-1]
    else:
        assert "data: [DONE]" not in frames
    return [json.loads(frame[6:]) for frame in frames]


def content_of(chunks: list[dict[str, Any]], key: str = "content") -> str:
    return "".join(c["choices"][0]["delta"].get(key) or "" for c in chunks if c["choices"])


# -- shapes --------------------------------------------------------------------------------


def test_completion_has_the_recorded_shape(offline_server: OfflineServer) -> None:
    fixture = json.loads(recorded("01-openai-gpt4o-text.json"))
    reply = post(offline_server, {"model": "gpt-4.1", "messages": QUESTION})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert list(body) == list(fixture)
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion" and body["model"] == "gpt-4.1"
    [choice] = body["choices"]
    assert list(choice) == list(fixture["choices"][0]) and choice["finish_reason"] == "stop"
    assert list(choice["message"]) == list(fixture["choices"][0]["message"])
    assert choice["message"]["role"] == "assistant" and "4200 + 42" in choice["message"]["content"]
    usage = body["usage"]
    assert list(usage) == list(fixture["usage"])
    assert set(usage["completion_tokens_details"]) == set(fixture["usage"]["completion_tokens_details"])
    assert usage["completion_tokens"] == len(tokenize(choice["message"]["content"]))
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_stream_with_include_usage_is_shaped_like_openai(offline_server: OfflineServer) -> None:
    fixture = recorded_chunks("02-openai-gpt4o-text-include_usage.sse")
    body = {"model": "gpt-4.1", "messages": QUESTION, "stream_options": {"include_usage": True}}
    reply, lines = stream_lines(offline_server, body)
    assert reply.headers["content-type"] == "text/event-stream; charset=utf-8"
    chunks = parse_stream(lines)
    assert set(chunks[0]) == set(fixture[0]) - {"obfuscation"}
    assert chunks[0]["choices"][0]["delta"] == fixture[0]["choices"][0]["delta"]  # role, "" content, refusal
    assert all(c["usage"] is None for c in chunks[:-1]) and len({c["id"] for c in chunks}) == 1
    *_, finish, last = chunks
    assert finish["choices"][0]["delta"] == {} and finish["choices"][0]["finish_reason"] == "stop"
    assert last["choices"] == [] and set(last["usage"]) == set(fixture[-1]["usage"])
    plain = post(offline_server, {"model": "gpt-4.1", "messages": QUESTION}).json()
    assert content_of(chunks) == plain["choices"][0]["message"]["content"]
    assert last["usage"] == plain["usage"]
    assert sum(1 for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")) == len(
        tokenize(content_of(chunks))
    )


def test_stream_without_include_usage_has_no_usage(offline_server: OfflineServer) -> None:
    _reply, lines = stream_lines(offline_server, {"model": "gpt-4.1", "messages": QUESTION})
    chunks = parse_stream(lines)
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_token_limit_cuts_the_answer_with_finish_reason_length(offline_server: OfflineServer, field: str) -> None:
    fixture = recorded_chunks("04-openai-gpt4o-max_tokens-length-include_usage.sse")
    full = post(offline_server, {"model": "gpt-4.1", "messages": QUESTION}).json()["choices"][0]["message"]["content"]
    body = {"model": "gpt-4.1", "messages": QUESTION, field: 12}
    cut = post(offline_server, body).json()
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 12
    text = cut["choices"][0]["message"]["content"]
    assert full.startswith(text) and text == "".join(tokenize(full)[:12])
    _reply, lines = stream_lines(offline_server, {**body, "stream_options": {"include_usage": True}})
    chunks = parse_stream(lines)
    assert chunks[-2]["choices"][0]["finish_reason"] == fixture[-2]["choices"][0]["finish_reason"] == "length"
    assert content_of(chunks) == text and chunks[-1]["usage"] == cut["usage"]
    assert post(offline_server, {**body, field: 10_000}).json()["choices"][0]["finish_reason"] == "stop"


def test_reasoner_streams_reasoning_content_before_content(offline_server: OfflineServer) -> None:
    fixture = recorded_chunks("09-deepseek-reasoner-reasoning_content.sse")
    body = {"model": "deepseek-reasoner", "messages": [{"role": "user", "content": "Hello"}]}
    _reply, lines = stream_lines(offline_server, {**body, "stream_options": {"include_usage": True}})
    chunks = parse_stream(lines)
    assert chunks[0]["choices"][0]["delta"] == fixture[0]["choices"][0]["delta"]
    deltas = [c["choices"][0]["delta"] for c in chunks[1:] if c["choices"] and c["choices"][0]["finish_reason"] is None]
    kinds = ["reasoning" if d.get("reasoning_content") else "content" for d in deltas]
    assert kinds == sorted(kinds, reverse=True) and "reasoning" in kinds and "content" in kinds
    first_content = next(d for d in deltas if d.get("content"))
    assert set(first_content) == set(fixture[-3]["choices"][0]["delta"])  # content + reasoning_content null
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == kinds.count("reasoning")
    assert usage["completion_tokens"] == len(deltas)
    plain = post(offline_server, body).json()
    message = plain["choices"][0]["message"]
    assert message["reasoning_content"] == content_of(chunks, "reasoning_content")
    assert message["content"] == content_of(chunks) and plain["usage"] == usage


def test_a_conversation_answer_quotes_earlier_turns_like_previous_response_id(offline_server: OfflineServer) -> None:
    first = HTTP.post(
        f"{offline_server.url}/responses", headers=AUTH, json={"model": "gpt-4.1", "input": "Name a prime."}
    ).json()
    second = HTTP.post(
        f"{offline_server.url}/responses",
        headers=AUTH,
        json={"model": "gpt-4.1", "input": "And an even one?", "previous_response_id": first["id"]},
    ).json()
    messages = [
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": first["output"][0]["content"][0]["text"]},
        {"role": "user", "content": "And an even one?"},
    ]
    chat = post(offline_server, {"model": "gpt-4.1", "messages": messages}).json()
    text = chat["choices"][0]["message"]["content"]
    assert "Turn 2 of this conversation. Earlier you asked: “Name a prime.”" in text
    assert text == second["output"][0]["content"][0]["text"]
    system = post(
        offline_server,
        {"model": "gpt-4.1", "messages": [{"role": "system", "content": "Use metric units."}, *messages]},
    )
    assert "Following your instructions: Use metric units." in system.json()["choices"][0]["message"]["content"]


def test_content_parts_with_images(offline_server: OfflineServer) -> None:
    parts = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    plain = post(
        offline_server, {"model": "gpt-4.1", "messages": [{"role": "user", "content": "What is in this picture?"}]}
    )
    with_image = post(offline_server, {"model": "gpt-4.1", "messages": [{"role": "user", "content": parts}]}).json()
    assert "1 image received" in with_image["choices"][0]["message"]["content"]
    assert with_image["usage"]["prompt_tokens"] == plain.json()["usage"]["prompt_tokens"] + 85


def test_answers_are_deterministic(offline_server: OfflineServer) -> None:
    body = {"model": "gpt-4.1", "messages": QUESTION, "temperature": 0.2, "top_p": 0.5}
    texts = {post(offline_server, body).json()["choices"][0]["message"]["content"] for _ in range(3)}
    assert len(texts) == 1


def test_web_search_options_cite_sources(offline_server: OfflineServer) -> None:
    body = {"model": "gpt-4o-search-preview", "messages": [{"role": "user", "content": "Python releases"}]}
    message = post(offline_server, {**body, "web_search_options": {}}).json()["choices"][0]["message"]
    annotations = message["annotations"]
    assert annotations and all(a["type"] == "url_citation" for a in annotations)
    for annotation in annotations:
        cited = annotation["url_citation"]
        assert cited["url"] in message["content"][cited["start_index"] : cited["end_index"]]
    assert post(offline_server, body).json()["choices"][0]["message"]["annotations"] == []


def test_json_schema_response_format(offline_server: OfflineServer) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body = {
        "model": "gpt-4.1",
        "messages": QUESTION,
        "response_format": {"type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": True}},
    }
    content = post(offline_server, body).json()["choices"][0]["message"]["content"]
    assert isinstance(json.loads(content)["city"], str)


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"messages": None}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": None}, "model"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": -1}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": "many"}, "max_completion_tokens"),
        ({"n": 2}, "n"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
    ],
)
def test_invalid_requests(offline_server: OfflineServer, change: dict[str, Any], param: str) -> None:
    body = {key: value for key, value in {"model": "m", "messages": QUESTION, **change}.items() if value is not None}
    reply = post(offline_server, body)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == param


def test_missing_key_and_bad_json(offline_server: OfflineServer) -> None:
    fixture = json.loads(recorded("05-openai-error-401-invalid_api_key.json"))
    missing = post(offline_server, {"model": "m", "messages": QUESTION}, headers=None)
    assert missing.status_code == 401 and set(missing.json()["error"]) == set(fixture["error"])
    assert missing.json()["error"]["code"] == fixture["error"]["code"] == "invalid_api_key"
    bad = post(offline_server, b"{nope")
    assert bad.status_code == 400 and "'messages'" in bad.json()["error"]["message"]


# -- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["inject", "model"])
def test_status_faults(offline_server: OfflineServer, how: str) -> None:
    for fault, status in (("429", 429), ("401", 401), ("502", 502)):
        body = {"model": f"fault-{fault}" if how == "model" else "m", "messages": QUESTION}
        if how == "inject":
            offline_server.inject(fault)
        reply = post(offline_server, body)
        assert reply.status_code == status
        if fault == "429":
            assert reply.headers["retry-after"] == "1" and reply.json()["error"]["code"] == "rate_limit_exceeded"
        if fault == "502":
            assert reply.headers["content-type"] == "text/html" and "Bad Gateway" in reply.text


def test_error_event_and_failed_streams(offline_server: OfflineServer) -> None:
    _reply, lines = stream_lines(offline_server, {"model": "fault-error-event", "messages": QUESTION})
    chunks = parse_stream(lines, done=False)
    *deltas, error = chunks
    assert content_of(deltas) and len(deltas) == 4  # the role chunk and three deltas
    assert set(error) == {"error"} and error["error"]["code"] == "server_error"
    _reply, lines = stream_lines(offline_server, {"model": "fault-failed", "messages": QUESTION})
    role, error = parse_stream(lines, done=False)
    assert role["choices"][0]["delta"]["role"] == "assistant" and error["error"]["type"] == "server_error"
    plain = post(offline_server, {"model": "fault-error-event", "messages": QUESTION})
    assert plain.status_code == 500 and plain.json()["error"]["code"] == "server_error"


def test_transport_faults(offline_server: OfflineServer) -> None:
    reply, lines = stream_lines(offline_server, {"model": "fault-truncated", "messages": QUESTION})
    chunks = parse_stream(lines, done=False)
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks) and len(chunks) == 4
    reply, lines = stream_lines(offline_server, {"model": "fault-malformed", "messages": QUESTION})
    assert reply.headers["connection"] == "close"
    with pytest.raises(json.JSONDecodeError):
        parse_stream(lines, done=False)
    with pytest.raises(httpx.RemoteProtocolError):
        post(offline_server, {"model": "fault-truncated", "messages": QUESTION})
    with pytest.raises(httpx.TransportError):
        stream_lines(offline_server, {"model": "fault-reset", "messages": QUESTION})
    with pytest.raises(httpx.ReadTimeout):
        HTTP.post(
            f"{offline_server.url}/chat/completions",
            headers=AUTH,
            json={"model": "fault-stall", "messages": QUESTION},
            timeout=httpx.Timeout(5, read=0.2),
        )
    assert post(offline_server, {"model": "m", "messages": QUESTION}).status_code == 200
