"""The chat-completions wire through the public clients: ``api="chat"`` against the offline server and fixtures.

The offline server's answers are deterministic, so what the client makes of a call is checked
against the same call's raw JSON, fetched here with plain httpx: text, usage, finish reason,
reasoning. Every recorded fixture in tests/fixtures/chat-completions is served by the scriptable
loopback server and read by the real client over HTTP; expectations come from the fixture itself.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from haoee_jupyter import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    Response,
    ResponseFailedError,
    ServerError,
)

KEY = "sk-test-chat-0123456789abcdef"
FIXTURES = Path(__file__).parent / "fixtures" / "chat-completions"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(offline_server):
    with Client(api_key=KEY, base_url=offline_server.url, max_retries=0, api="chat") as client:
        yield client


def raw_completion(server: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The server's own answer to a chat body, without the client."""
    answer = httpx.post(f"{server.url}/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def usage_of(response: Response) -> tuple[int, int, int, int]:
    u = response.usage
    return u.input_tokens, u.output_tokens, u.total_tokens, u.reasoning_tokens


def chat_usage(usage: dict[str, Any]) -> tuple[int, int, int, int]:
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)
    return usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"], reasoning


def chats(server: Any) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["path"] == "/v1/chat/completions"]


# --- the offline server ---------------------------------------------------------------


def test_a_plain_call_is_the_same_response_the_server_sent(client, offline_server):
    response = client.respond("What is entropy?", instructions="Be brief.", temperature=0.2)
    (sent,) = chats(offline_server)
    body = sent["body"]
    assert body == {
        "model": "gpt-4.1",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is entropy?"}],
        "temperature": 0.2,
    }
    assert sent["headers"]["modelname"] == "gpt-4.1" and sent["authorization_present"]
    raw = raw_completion(offline_server, body)
    assert response.text == raw["choices"][0]["message"]["content"] and response.text
    assert usage_of(response) == chat_usage(raw["usage"]) and response.status == "completed"
    assert response.id.startswith("chatcmpl-") and response.model == raw["model"]


def test_a_streamed_call_with_usage(client, offline_server):
    deltas: list[str] = []
    streamed = client.respond("What is entropy?", stream=True, on_text=deltas.append)
    (sent,) = chats(offline_server)
    assert sent["body"]["stream"] is True and sent["body"]["stream_options"] == {"include_usage": True}
    assert sent["headers"]["accept"] == "text/event-stream"
    whole = client.respond("What is entropy?")
    assert len(deltas) > 3 and "".join(deltas) == streamed.text == whole.text
    assert usage_of(streamed) == usage_of(whole) and streamed.usage.total_tokens > 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_cut_answer_is_incomplete_not_an_error(client, offline_server, stream):
    response = client.respond("Explain entropy at length", max_output_tokens=5, stream=stream)
    (sent,) = chats(offline_server)
    assert sent["body"]["max_tokens"] == 5 and "max_output_tokens" not in sent["body"]
    assert response.status == "incomplete" and response.incomplete_reason == "max_output_tokens"
    assert response.text and response.usage.output_tokens == 5


@pytest.mark.parametrize("stream", [False, True])
def test_a_reasoners_reasoning_content_is_the_reasoning(client, offline_server, stream):
    thoughts: list[str] = []
    text: list[str] = []
    response = client.respond(
        "Why is the sky blue?",
        model="deepseek-reasoner",
        stream=stream,
        on_text=text.append,
        on_reasoning=thoughts.append,
    )
    raw = raw_completion(
        offline_server,
        {"model": "deepseek-reasoner", "messages": [{"role": "user", "content": "Why is the sky blue?"}]},
    )
    message = raw["choices"][0]["message"]
    assert response.reasoning == [message["reasoning_content"]] and response.text == message["content"]
    assert usage_of(response) == chat_usage(raw["usage"]) and response.usage.reasoning_tokens > 0
    if stream:
        assert (
            len(thoughts) > 1 and "".join(thoughts) == message["reasoning_content"] and "".join(text) == response.text
        )
    else:  # an answer that came whole is heard once, whole
        assert thoughts == [message["reasoning_content"]] and text == [response.text]


@pytest.mark.parametrize(
    "model,cls",
    [
        ("fault-401", AuthenticationError),
        ("fault-404", NotFoundError),
        ("fault-500", ServerError),
        ("fault-429", RateLimitError),
    ],
)
def test_error_statuses_map_to_their_classes(client, model, cls):
    with pytest.raises(cls) as caught:
        client.respond("hi", model=model)
    assert "\n" not in str(caught.value) and KEY not in str(caught.value)


def test_a_rate_limit_is_tried_again_as_on_the_responses_wire(offline_server):
    offline_server.inject("429")
    with Client(api_key=KEY, base_url=offline_server.url, max_retries=1, api="chat") as client:
        assert client.respond("hi").text
    assert len(chats(offline_server)) == 2


def test_an_error_in_the_stream_keeps_what_arrived(client):
    deltas: list[str] = []
    with pytest.raises(ResponseFailedError, match="injected an error") as caught:
        client.respond("hi", model="fault-error-event", stream=True, on_text=deltas.append)
    partial = caught.value.partial
    assert isinstance(partial, Response) and partial.text == "".join(deltas) and len(deltas) == 3
    assert "\n" not in str(caught.value)


def test_the_client_default_the_per_call_choice_and_map(offline_server):
    with (
        Client(api_key=KEY, base_url=offline_server.url) as responses,
        Client(api_key=KEY, base_url=offline_server.url, api="chat") as chat,
    ):
        assert chat.respond("one").text == responses.respond("one", api="chat").text
        results = responses.map(["a", "b", "c"], api="chat", concurrency=3)
        chat.respond("two", api="responses")
    assert all(isinstance(r, Response) and r.text for r in results)
    paths = [r["path"] for r in offline_server.requests]
    assert paths.count("/v1/chat/completions") == 5 and paths.count("/v1/responses") == 1
    assert "api='chat'" in repr(chat) and "api=" not in repr(responses) and KEY not in repr(chat)


@pytest.mark.parametrize(
    "call,words",
    [
        (lambda c: c.respond("hi", previous_response_id="resp_1"), "previous_response_id"),
        (lambda c: c.respond("hi", api="soap"), "'responses' or 'chat'"),
        (lambda c: c.respond("hi", truncation="auto"), "truncation"),
    ],
)
def test_what_this_wire_cannot_say_is_refused_before_sending(client, offline_server, call, words):
    with pytest.raises(ConfigurationError, match=words):
        call(client)
    assert offline_server.requests == []
    with pytest.raises(ConfigurationError, match="'responses' or 'chat'"):
        Client(api="chats")


def test_async_chat_streams_and_maps(offline_server):
    deltas: list[str] = []

    async def main() -> tuple[Response, list[Any]]:
        async with AsyncClient(api_key=KEY, base_url=offline_server.url, api="chat") as client:
            streamed = await client.respond("What is entropy?", stream=True, on_text=deltas.append)
            return streamed, await client.map(["x", "y"], concurrency=2)

    streamed, results = asyncio.run(main())
    assert "".join(deltas) == streamed.text and streamed.usage.total_tokens > 0
    assert all(isinstance(r, Response) for r in results) and len(chats(offline_server)) == 3


# --- recorded answers, served by the loopback server ------------------------------------


def fixture(prefix: str) -> Path:
    (path,) = FIXTURES.glob(f"{prefix}-*")
    return path


def expected_from_chunks(raw: str) -> tuple[str, str, str | None, dict[str, Any] | None]:
    """Text, reasoning, finish reason and usage of a recorded stream, read here line by line."""
    text, reasoning, finish, usage = [], [], None, None
    for line in raw.splitlines():
        if not line.startswith("data: {"):
            continue
        chunk = json.loads(line[6:])
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or "")
            finish = choice.get("finish_reason") or finish
    return "".join(text), "".join(reasoning), finish, usage


def status_of(finish: str | None) -> str:
    return "incomplete" if finish == "length" else "completed"


@pytest.mark.parametrize("prefix", ["01", "03", "08", "10"])
def test_answer_fixture_over_http(http_server, prefix):
    data = json.loads(fixture(prefix).read_text("utf-8"))
    http_server.add(body=fixture(prefix).read_bytes())
    with Client(api_key=KEY, base_url=http_server.url, api="chat") as client:
        response = client.respond("hi", model=data["model"])
    (sent,) = http_server.requests
    assert sent.path == "/v1/chat/completions" and sent.json["messages"] == [{"role": "user", "content": "hi"}]
    choice = data["choices"][0]
    assert response.text == choice["message"]["content"] and response.status == status_of(choice["finish_reason"])
    assert usage_of(response) == chat_usage(data["usage"]) and response.id == data["id"]


@pytest.mark.parametrize("prefix", ["02", "04", "09"])
def test_stream_fixture_over_http(http_server, prefix):
    raw = fixture(prefix).read_text("utf-8")
    text, reasoning, finish, usage = expected_from_chunks(raw)
    body = raw.encode()
    http_server.add(body=[body[i : i + 97] for i in range(0, len(body), 97)], content_type="text/event-stream")
    deltas: list[str] = []
    thoughts: list[str] = []
    with Client(api_key=KEY, base_url=http_server.url, api="chat") as client:
        response = client.respond("hi", stream=True, on_text=deltas.append, on_reasoning=thoughts.append)
    assert response.text == "".join(deltas) == text and "".join(thoughts) == reasoning
    assert response.reasoning == ([reasoning] if reasoning else [])
    assert response.status == status_of(finish)
    assert usage is not None and usage_of(response) == chat_usage(usage)


@pytest.mark.parametrize(
    "prefix,status,cls,code",
    [
        ("05", 401, AuthenticationError, "invalid_api_key"),
        ("06", 400, BadRequestError, "unsupported_parameter"),
        ("07", 404, NotFoundError, "model_not_found"),
    ],
)
def test_error_fixture_over_http(http_server, prefix, status, cls, code):
    http_server.add(status=status, body=fixture(prefix).read_bytes())
    with Client(api_key=KEY, base_url=http_server.url, api="chat", max_retries=2) as client:
        with pytest.raises(cls) as caught:
            client.respond("hi", model="gpt-5-nano", max_output_tokens=20)
    assert caught.value.code == code and caught.value.status_code == status and len(http_server.requests) == 1
    assert http_server.requests[0].json["max_completion_tokens"] == 20  # an OpenAI reasoning model's name for it
