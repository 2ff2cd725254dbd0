"""What a review of the client layer found, each through the public API: the key hidden
everywhere (and nothing but the key), malformed URLs as one-line errors, whole numbers in ASCII,
billing and rate-limit wording, callbacks without a stream, the chat wire's fields, image answers
checked like downloads, and the offline server answering a too-deep JSON body.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from typing import Any

import httpx
import pytest

from haoee_jupyter import (
    AsyncClient,
    Client,
    ConfigurationError,
    HaoeeError,
    ProtocolError,
    RateLimitError,
)
from haoee_jupyter.client._videos import Video, VideoFailedError
from haoee_jupyter.notebook._state import OFFLINE_KEY
from haoee_jupyter.offline import MODELS

KEY = "sk-review-5f2a9c81d7e34b6a0c"
SSE = "text/event-stream; charset=utf-8"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)


def mock(handler: Any, key: str = KEY, **options: Any) -> Client:
    return Client(api_key=key, base_url="https://maas.haoee.com/v1", transport=httpx.MockTransport(handler), **options)


def answer(text: str, model: str = "gpt-4.1") -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "model": model,
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}],
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    }


def frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def shown(error: BaseException) -> str:
    """Everything an error shows: str, repr, IPython's rendering, its fields."""
    parts = [str(error), repr(error), *getattr(error, "_render_traceback_", list)()]
    parts += [str(getattr(error, name, "")) for name in ("message", "hint", "body", "code")]
    return "\n".join(parts)


# --- 0. the offline key hides nothing but itself -------------------------------------------


def test_offline_key_shares_no_beginning_with_any_offline_model():
    assert not any(OFFLINE_KEY[:8] in model for model in MODELS)


def test_offline_key_lists_the_offline_models_intact(offline_server):
    client = Client(api_key=OFFLINE_KEY, base_url=offline_server.url, max_retries=0)
    models = client.models()
    assert "offline-demo" in models and set(MODELS) <= set(models)
    assert not any("…" in model for model in models)


def test_an_answer_quoting_the_offline_model_is_not_cut():
    text = "The offline-demo model said offline-demo-not-a-secret is a phrase."
    client = mock(lambda request: httpx.Response(200, json=answer(text, "offline-demo")), key=OFFLINE_KEY)
    response = client.respond("hi")
    assert response.text == text and response.model == "offline-demo"


def test_a_short_key_is_hidden_only_where_it_appears_whole():
    short = "test-key-123"  # a test key, not a secret's length
    text = "test-key-1 is not the key; test-key-123 is"
    client = mock(lambda request: httpx.Response(200, json=answer(text)), key=short)
    assert client.respond("hi").text == "test-key-1 is not the key; ……… is"


def test_a_real_key_is_hidden_even_when_cut():
    text = f"echo {KEY} and {KEY[:12]}"
    client = mock(lambda request: httpx.Response(200, json=answer(text)))
    got = client.respond("hi").text
    assert KEY[:8] not in got and got.startswith("echo sk-…")


# --- 1. a failed video's error and job never show the key ----------------------------------


def failed_job(request: httpx.Request) -> httpx.Response:
    job = {
        "id": "video_1",
        "object": "video",
        "status": "failed",
        "model": "sora-2",
        "error": {"code": "bad_key", "message": f"upstream refused key {KEY} ({KEY[:10]})"},
    }
    return httpx.Response(200, json=job)


def test_a_failed_video_job_never_shows_the_key():
    with pytest.raises(VideoFailedError) as info:
        mock(failed_job).wait_video("video_1")
    error = info.value
    assert KEY[:8] not in shown(error) and KEY[:8] not in json.dumps(error.video.raw)
    assert "upstream refused key sk-…" in str(error)


def test_a_failed_video_job_never_shows_the_key_async():
    async def wait() -> None:
        transport = httpx.MockTransport(failed_job)
        async with AsyncClient(api_key=KEY, base_url="https://maas.haoee.com/v1", transport=transport) as client:
            await client.wait_video("video_1")

    with pytest.raises(VideoFailedError) as info:
        asyncio.run(wait())
    assert KEY[:8] not in shown(info.value) and KEY[:8] not in json.dumps(info.value.video.raw)


# --- 2. streamed answers are masked as whole ones are --------------------------------------


def echo_stream(complete: bool) -> bytes:
    head = frame({"type": "response.created", "response": {"id": "r", "status": "in_progress", "output": []}})
    delta = frame({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": KEY})
    tail = frame({"type": "response.completed", "response": answer(f"{KEY}")}) if complete else b""
    return head + delta + tail


@pytest.mark.parametrize("complete", [True, False])
def test_a_streamed_echo_of_the_key_is_masked(complete):
    seen: list[str] = []
    client = mock(lambda request: httpx.Response(200, headers={"content-type": SSE}, content=echo_stream(complete)))
    if complete:
        response = client.respond("hi", stream=True, on_text=seen.append)
        assert response.text == "sk-…6a0c" and KEY not in json.dumps(response.raw)
    else:
        with pytest.raises(ProtocolError) as info:
            client.respond("hi", stream=True, on_text=seen.append)
        partial = info.value.partial
        assert partial is not None and partial.text == "sk-…6a0c" and KEY[:8] not in json.dumps(partial.raw)
    assert seen == ["sk-…6a0c"]


def test_a_streamed_chat_echo_of_the_key_is_masked():
    chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": KEY}}]}
    body = f"data: {json.dumps(chunk)}\n\n".encode()  # the stream stops before its end
    client = mock(lambda request: httpx.Response(200, headers={"content-type": SSE}, content=body), api="chat")
    with pytest.raises(HaoeeError) as info:
        client.respond("hi", stream=True)
    assert info.value.partial is not None and KEY[:8] not in info.value.partial.text


# --- 3. malformed URLs are one-line errors -----------------------------------------------


@pytest.mark.parametrize("base_url", ["http://[::1", "http://127.0.0.1:notaport/v1"])
def test_a_malformed_base_url_is_a_configuration_error(base_url):
    client = Client(api_key=KEY, base_url=base_url)
    assert base_url in repr(client) and KEY not in repr(client)
    with pytest.raises(ConfigurationError) as info:
        client.respond("hi")
    assert len(str(info.value).splitlines()) == 1


def test_a_malformed_image_link_is_a_protocol_error():
    client = mock(lambda request: httpx.Response(200, json={"data": [{"url": "http://[::1"}]}))
    with pytest.raises(ProtocolError):
        client.generate_image("x")


def test_a_malformed_video_link_is_a_protocol_error():
    job = Video({"id": "video_1", "object": "video", "status": "completed", "model": "sora-2"})
    client = mock(lambda request: httpx.Response(200, json={"url": "http://[::1"}))
    with pytest.raises(ProtocolError):
        client.download_video(job)


def test_a_malformed_input_image_url_is_a_configuration_error():
    sent: list[httpx.Request] = []
    client = mock(lambda request: sent.append(request) or httpx.Response(500))
    with pytest.raises(ConfigurationError):
        client.generate_image("x", images="http://[::1/x.png")
    assert sent == []


# --- 4. whole numbers are ASCII digits -------------------------------------------------------


def test_superscript_seconds_are_refused_and_shown():
    with pytest.raises(ConfigurationError):
        mock(lambda request: httpx.Response(500)).create_video("x", seconds="²")
    job = Video({"id": "video_1", "object": "video", "status": "queued", "seconds": "²"})
    assert job.seconds is None and job._repr_mimebundle_()


def test_the_offline_server_refuses_superscript_numbers_with_400(offline_server):
    headers = {"Authorization": "Bearer x"}
    with httpx.Client(base_url=offline_server.url, headers=headers) as http:
        made = http.post("/videos", data={"prompt": "x", "seconds": "²"}, files={"unused": ("a", b"a")})
        assert made.status_code == 400 and made.json()["error"]["param"] == "seconds"
        sized = http.post("/videos", data={"prompt": "x", "size": "²x720"}, files={"unused": ("a", b"a")})
        assert sized.status_code == 400 and sized.json()["error"]["param"] == "size"
        assert http.get("/videos", params={"limit": "²"}).status_code == 400


# --- 5 and 6. billing codes and the server's wait ------------------------------------------


def test_haoee_quota_not_enough_is_billing_and_never_retried():
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(429, json={"error": {"message": "quota", "code": "quota_not_enough"}})

    with pytest.raises(HaoeeError) as info:
        mock(handler, max_retries=2).respond("hi")
    assert info.value.billing and len(sent) == 1 and "balance" in str(info.value)


def test_a_short_wait_is_said_when_no_retry_follows():
    client = mock(lambda request: httpx.Response(429, headers={"Retry-After": "30"}), max_retries=0)
    with pytest.raises(RateLimitError) as info:
        client.respond("hi")
    assert "the server asks to wait 30 s" in str(info.value).lower()


def test_a_create_that_is_never_retried_says_the_wait():
    client = mock(lambda request: httpx.Response(429, headers={"Retry-After": "30"}), max_retries=2)
    with pytest.raises(RateLimitError) as info:
        client.create_video("x")
    assert "the server asks to wait 30 s" in str(info.value).lower() and info.value.attempts == 1


@pytest.mark.parametrize(
    ("headers", "wait"), [({"retry-after-ms": "inf"}, None), ({"retry-after-ms": "inf", "Retry-After": "7"}, 7.0)]
)
def test_an_infinite_wait_is_no_wait(headers, wait):
    client = mock(lambda request: httpx.Response(429, headers=headers), max_retries=0)
    with pytest.raises(RateLimitError) as info:
        client.respond("hi")
    assert info.value.retry_after == wait


# --- 7. callbacks hear a whole answer once -------------------------------------------------


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_on_text_hears_a_whole_answer_once(api):
    chat = {
        "id": "c",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Bonjour", "reasoning_content": "hm"}}],
    }
    body = chat if api == "chat" else answer("Bonjour")
    text: list[str] = []
    thought: list[str] = []
    client = mock(lambda request: httpx.Response(200, json=body), api=api)
    response = client.respond("hi", on_text=text.append, on_reasoning=thought.append)
    assert text == ["Bonjour"] == [response.text]
    assert thought == (["hm"] if api == "chat" else [])


# --- 8. the chat wire sends every field or refuses it ---------------------------------------


def chat_client(sent: list[httpx.Request]) -> Client:
    reply = {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"content": "ok"}}]}
    return mock(lambda request: sent.append(request) or httpx.Response(200, json=reply), api="chat")


@pytest.mark.parametrize(
    "params",
    [
        {"text": {"format": {"type": "text"}, "colour": "red"}},
        {"reasoning": {"effort": "low", "summary": "detailed"}},
        {"stream_options": {"include_usage": True}},
    ],
)
def test_the_chat_wire_refuses_what_it_cannot_send(params):
    sent: list[httpx.Request] = []
    with pytest.raises(ConfigurationError) as info:
        chat_client(sent).respond("hi", **params)
    assert sent == [] and len(str(info.value).splitlines()) == 1


def test_the_chat_wire_drops_only_an_auto_summary():
    sent: list[httpx.Request] = []
    chat_client(sent).respond("hi", reasoning={"effort": "low", "summary": "auto"}, text={"verbosity": "low"})
    body = json.loads(sent[0].content)
    assert body["reasoning_effort"] == "low" and body["verbosity"] == "low" and "summary" not in json.dumps(body)


# --- 9. image answers are checked like downloads -------------------------------------------


def test_inline_image_bytes_that_are_not_an_image_are_refused():
    fake = base64.b64encode(b"<html>not an image</html>").decode()
    client = mock(lambda request: httpx.Response(200, json={"data": [{"b64_json": fake}]}))
    with pytest.raises(ProtocolError):
        client.generate_image("x")
    good = base64.b64encode(PNG).decode()
    assert mock(lambda request: httpx.Response(200, json={"data": [{"b64_json": good}]})).generate_image("x")[0].data


@pytest.mark.parametrize("url", ["ftp://files.example/x.png", "/x.png", "x.png"])
def test_a_link_that_is_not_http_is_never_fetched(url):
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"data": [{"url": url}]})

    with pytest.raises(ProtocolError):
        mock(handler).generate_image("x")
    assert [request.url.path for request in sent] == ["/v1/images/generations"]


# --- 10. the offline server answers a too-deep JSON body ------------------------------------


def test_the_offline_server_answers_too_deep_json_with_400_and_closes(offline_server):
    body = b"[" * 200_000 + b"]" * 200_000
    url = httpx.URL(offline_server.url)
    host, port = url.host, url.port or 80
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            f"POST /v1/responses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk  # the server closes the connection after its answer
    status, _, rest = reply.partition(b"\r\n")
    assert b" 400 " in status and b"connection: close" in rest.lower()
    assert b"nested too deeply" in reply
