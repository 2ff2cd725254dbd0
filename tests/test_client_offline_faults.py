"""Retry, timeout and error behaviour of the public clients against the offline server's faults.

Each fault is reached the two ways a user can: injected from Python (`server.inject`) and by
the model name (`fault-<name>`).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from haoee_jupyter import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    Client,
    HaoeeError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ResponseFailedError,
    ServerError,
)

KEY = "sk-faults-0123456789abcdef"


def client(server, **options) -> Client:
    return Client(api_key=KEY, base_url=server.url, **options)


def posts(server) -> int:
    return sum(1 for r in server.requests if r["path"].endswith("/responses"))


def test_a_429_once_is_retried_after_its_retry_after(offline_server):
    offline_server.inject("429", times=1)
    started = time.monotonic()
    answer = client(offline_server).respond("Explain entropy")
    assert answer.status == "completed" and "entropy" in answer.text
    assert posts(offline_server) == 2
    assert time.monotonic() - started >= 1.0  # Retry-After: 1


def test_a_429_that_persists_ends_as_rate_limit_error_after_the_retries(offline_server):
    with pytest.raises(RateLimitError) as caught:
        client(offline_server, max_retries=1).respond("hi", model="fault-429")
    assert caught.value.status_code == 429 and caught.value.retry_after == 1.0
    assert posts(offline_server) == 2


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_proxy_html_pages_are_server_errors_with_a_short_excerpt(offline_server, status):
    with pytest.raises(ServerError) as caught:
        client(offline_server, max_retries=2).respond("hi", model=f"fault-{status}", stream=True)
    message = str(caught.value)
    assert f"HTTP {status}" in message and "<" not in message and len(message) < 300
    assert posts(offline_server) == 3  # first try + 2 retries
    assert caught.value.partial is None


@pytest.mark.parametrize(
    "fault,error", [("401", AuthenticationError), ("403", PermissionDeniedError), ("404", NotFoundError)]
)
def test_client_errors_are_not_retried(offline_server, fault, error):
    with pytest.raises(error):
        client(offline_server).respond("hi", model=f"fault-{fault}")
    assert posts(offline_server) == 1


def test_a_reset_mid_stream_is_not_retried_and_keeps_the_text(offline_server):
    deltas: list[str] = []
    with pytest.raises(APIConnectionError) as caught:
        client(offline_server).respond("hi", model="fault-reset", stream=True, on_text=deltas.append)
    assert posts(offline_server) == 1
    assert deltas and caught.value.partial is not None
    assert caught.value.partial.text == "".join(deltas)


def test_a_stall_mid_stream_times_out_with_the_partial_text(offline_server):
    deltas: list[str] = []
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        client(offline_server, timeout=httpx.Timeout(5, read=0.5)).respond(
            "hi", model="fault-stall", stream=True, on_text=deltas.append
        )
    assert time.monotonic() - started < 3
    assert posts(offline_server) == 1
    assert deltas and caught.value.partial.text == "".join(deltas)


def test_a_stream_without_a_terminal_event_is_an_error_not_an_empty_answer(offline_server):
    with pytest.raises(ProtocolError) as caught:
        client(offline_server).respond("hi", model="fault-truncated", stream=True)
    assert "ended before" in str(caught.value)
    assert caught.value.partial.text


@pytest.mark.parametrize("stream", [True, False])
def test_malformed_json_is_a_protocol_error(offline_server, stream):
    # A whole body whose JSON stops halfway was cut off; a stream frame of half JSON is just not JSON.
    with pytest.raises(ProtocolError, match="not JSON" if stream else "cut off"):
        client(offline_server).respond("hi", model="fault-malformed", stream=stream)


@pytest.mark.parametrize("fault", ["error-event", "failed"])
@pytest.mark.parametrize("stream", [True, False])
def test_failed_responses_raise_with_the_servers_message(offline_server, fault, stream):
    deltas: list[str] = []
    with pytest.raises(ResponseFailedError) as caught:
        client(offline_server).respond("hi", model=f"fault-{fault}", stream=stream, on_text=deltas.append)
    assert caught.value.code == "server_error" and "offline server" in str(caught.value)
    assert posts(offline_server) == 1
    if stream and fault == "error-event":
        assert deltas and caught.value.partial.text == "".join(deltas)


def test_the_async_client_meets_the_same_faults(offline_server):
    async def main() -> list[object]:
        async with AsyncClient(api_key=KEY, base_url=offline_server.url, max_retries=0) as async_client:
            return await async_client.map(["ok", "bad", "ok too"], concurrency=3, stream=True) + [
                await async_client.map(["x"], model="fault-reset", stream=True)
            ]

    offline_server.inject("500", times=1)
    results = asyncio.run(main())
    errors = [r for r in results[:3] if isinstance(r, HaoeeError)]
    assert len(errors) == 1 and isinstance(errors[0], ServerError)
    assert sum(1 for r in results[:3] if not isinstance(r, HaoeeError)) == 2
    (reset,) = results[3]
    assert isinstance(reset, APIConnectionError) and reset.partial.text
