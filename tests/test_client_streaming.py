"""Streaming stays linear in the answer's length, reasoning streams to on_reasoning, and a
finished streamed Response holds its text once.

Streams are served in-process (``httpx.MockTransport``) or from the recorded fixtures through
the loopback server of conftest.py.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from haoee_jupyter import AsyncClient, Client, HaoeeError, Response

KEY = "sk-streaming-5e2a9c1d7b3f"
SSE = "text/event-stream; charset=utf-8"
FIXTURES = Path(__file__).parent / "fixtures" / "responses-api"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)


def frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def stream_bytes(deltas: int, size: int = 40, *, reasoning: int = 0, complete: bool = True) -> bytes:
    """A stream of ``reasoning`` summary deltas, then ``deltas`` text deltas of ``size`` characters."""
    piece = ("abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]
    head = frame({"type": "response.created", "response": {"id": "r", "status": "in_progress", "output": []}})
    think = frame(
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "hm "}
    )
    delta = frame({"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": piece})
    text = piece * deltas
    final = {
        "id": "r",
        "status": "completed",
        "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm " * reasoning}]}
            if reasoning
            else None,
            {"type": "message", "content": [{"type": "output_text", "text": text, "annotations": []}]},
        ],
        "usage": {"input_tokens": 1, "output_tokens": deltas, "total_tokens": deltas + 1},
    }
    final["output"] = [item for item in final["output"] if item]
    tail = frame({"type": "response.completed", "response": final}) if complete else b""
    return head + think * reasoning + delta * deltas + tail


def chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def streaming_client(body: bytes) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": SSE}, content=chunks(body))

    return Client(api_key=KEY, transport=httpx.MockTransport(handler))


def cpu_per_delta(body: bytes, deltas: int) -> float:
    client = streaming_client(body)
    started = time.process_time()
    response = client.respond("hi", stream=True, on_text=lambda delta: None)
    elapsed = time.process_time() - started
    assert len(response.text) == 40 * deltas
    return elapsed / deltas


def test_cpu_per_delta_stays_flat_from_5k_to_50k_deltas():
    """Joining text on every delta makes the 50,000th delta cost ten times the 5,000th; chunks do not."""
    small, large = stream_bytes(5_000), stream_bytes(50_000)
    ratios = []
    for _ in range(3):  # interleaved, best of three: a loaded machine slows both alike
        ratios.append(cpu_per_delta(large, 50_000) / cpu_per_delta(small, 5_000))
    assert min(ratios) < 3.0, ratios  # a copy of the text per delta gives about 12 at this size


def test_every_delta_reaches_on_text_in_order_and_the_text_is_whole():
    body = stream_bytes(3_000, size=7)
    seen: list[str] = []
    response = streaming_client(body).respond("hi", stream=True, on_text=seen.append)
    assert len(seen) == 3_000 and "".join(seen) == response.text and len(response.text) == 21_000


def test_a_finished_streamed_response_holds_its_text_once():
    body = stream_bytes(20_000, size=50)  # a 1 MB answer
    client = streaming_client(body)
    client.respond("warm up", stream=True)  # the pool and imports, outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        response = client.respond("hi", stream=True)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(response.text) == 1_000_000
    assert held < 1.3 * len(response.text), f"{held:,} bytes held for a {len(response.text):,}-character answer"


def test_an_interrupted_stream_keeps_its_text_and_reasoning():
    body = stream_bytes(1_000, size=3, reasoning=4, complete=False)
    with pytest.raises(HaoeeError) as caught:
        streaming_client(body).respond("hi", stream=True)
    partial = caught.value.partial
    assert partial is not None and partial.text == "abc" * 1_000
    assert partial.reasoning == ["hm " * 4]


# --- reasoning as it streams -----------------------------------------------------------------


def fixture_stream(prefix: str) -> bytes:
    (path,) = FIXTURES.glob(f"{prefix}-*.sse")
    return path.read_bytes()


def test_on_reasoning_hears_the_summary_as_it_streams(http_server):
    http_server.add(status=200, body=[fixture_stream("08")], content_type=SSE)
    order: list[tuple[str, str]] = []
    response = Client(api_key=KEY, base_url=http_server.url).respond(
        "hi",
        stream=True,
        on_text=lambda delta: order.append(("text", delta)),
        on_reasoning=lambda delta: order.append(("reasoning", delta)),
    )
    reasoning = "".join(delta for kind, delta in order if kind == "reasoning")
    assert len(response.reasoning) == 3  # three summary parts in this recording
    assert reasoning == "\n\n".join(response.reasoning)  # a blank line between parts, as rendered
    assert "".join(delta for kind, delta in order if kind == "text") == response.text
    first_text = next(i for i, (kind, _) in enumerate(order) if kind == "text")
    assert all(kind == "reasoning" for kind, _ in order[:first_text])  # reasoning came first, as it streamed


def test_async_on_reasoning(http_server):
    http_server.add(status=200, body=[fixture_stream("08")], content_type=SSE)
    heard: list[str] = []

    async def main() -> Response:
        async with AsyncClient(api_key=KEY, base_url=http_server.url) as client:
            return await client.respond("hi", stream=True, on_reasoning=heard.append)

    response = asyncio.run(main())
    assert "".join(heard) == "\n\n".join(response.reasoning) and heard


def test_reasoning_given_only_in_done_events_still_reaches_on_reasoning():
    events = [
        {"type": "response.reasoning_summary_text.done", "output_index": 0, "summary_index": 0, "text": "Thinking."},
        {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "Answer."},
        {"type": "response.completed", "response": {"id": "r", "status": "completed", "output": []}},
    ]
    heard: list[str] = []
    response = streaming_client(b"".join(frame(e) for e in events)).respond(
        "hi", stream=True, on_reasoning=heard.append
    )
    assert heard == ["Thinking."] and response.text == "Answer." and response.reasoning == ["Thinking."]


def test_a_relay_answering_a_stream_in_one_body_still_feeds_both_callbacks(http_server):
    (path,) = FIXTURES.glob("09-*.json")
    http_server.add(status=200, body=path.read_bytes())
    heard: dict[str, list[str]] = {"text": [], "reasoning": []}
    response = Client(api_key=KEY, base_url=http_server.url).respond(
        "hi", stream=True, on_text=heard["text"].append, on_reasoning=heard["reasoning"].append
    )
    assert heard["text"] == [response.text] and heard["reasoning"] == ["\n\n".join(response.reasoning)]
