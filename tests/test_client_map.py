"""Client.map and AsyncClient.map: a progress callback as each item finishes, and on Ctrl-C (or a
cancelled task) every finished item kept, with the same types as a normal return.

Against the loopback server of conftest.py; Ctrl-C is a real SIGINT sent to the main thread.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from typing import Any

import pytest

from haoee_jupyter import AsyncClient, BadRequestError, Client, ConfigurationError, HaoeeError, Response

KEY = "sk-map-4c7a1e9b2d5f8a3c"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _settled():
    """After an interrupted map, the requests already in flight finish in the background (the
    caller got control back at once); wait for them so they do not reach the next test's server."""
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("haoee-map"):
            thread.join(10)


def answer(text: str) -> bytes:
    return json.dumps(
        {
            "id": "r",
            "status": "completed",
            "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}],
        }
    ).encode()


def echo(server, hold: threading.Event | None = None, after: int = 0):
    """Answers ``echo: <prompt>`` (a 400 for prompts starting with FAIL); past ``after`` requests, waits for ``hold``."""
    count = 0
    lock = threading.Lock()

    def handle(request):
        nonlocal count
        with lock:
            count += 1
            mine = count
        if hold is not None and mine > after:
            hold.wait(10)
        prompt = request.json["input"]
        if prompt.startswith("FAIL"):
            return server.Reply(400, json.dumps({"error": {"message": f"refused {prompt}"}}).encode())
        return server.Reply(200, answer(f"echo: {prompt}"))

    return handle


PROMPTS = [f"FAIL {i}" if i % 5 == 3 else f"p{i}" for i in range(20)]


def check_in_place(results: list[Any], finished_only: bool = False) -> None:
    for prompt, result in zip(PROMPTS, results):
        if result is None and finished_only:
            continue
        if prompt.startswith("FAIL"):
            assert isinstance(result, BadRequestError) and prompt in str(result)
        else:
            assert isinstance(result, Response) and result.text == f"echo: {prompt}"


def test_on_result_hears_every_item_once_in_the_calling_thread(http_server):
    http_server.handler = echo(http_server)
    heard: list[tuple[int, Any, int]] = []
    results = Client(api_key=KEY, base_url=http_server.url, max_retries=0).map(
        PROMPTS, concurrency=4, on_result=lambda i, r: heard.append((i, r, threading.get_ident()))
    )
    check_in_place(results)
    assert sorted(i for i, _, _ in heard) == list(range(len(PROMPTS)))
    assert all(results[i] is r for i, r, _ in heard)
    assert {thread for _, _, thread in heard} == {threading.get_ident()}


def test_ctrl_c_keeps_what_finished_in_a_list_of_the_usual_types(http_server):
    hold = threading.Event()
    http_server.handler = echo(http_server, hold, after=8)
    main = threading.main_thread().ident
    assert main == threading.get_ident()
    heard: list[int] = []

    def on_result(index: int, result: Any) -> None:
        heard.append(index)
        if len(heard) == 8:  # the rest wait at the server: Ctrl-C now
            threading.Timer(0.05, signal.pthread_kill, (main, signal.SIGINT)).start()

    client = Client(api_key=KEY, base_url=http_server.url, max_retries=0)
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            client.map(PROMPTS, concurrency=4, on_result=on_result)
    finally:
        hold.set()
    partial = caught.value.partial  # type: ignore[attr-defined]
    assert isinstance(partial, list) and len(partial) == len(PROMPTS)
    assert sorted(i for i, r in enumerate(partial) if r is not None) == sorted(heard)
    assert 8 <= len(heard) < len(PROMPTS)
    check_in_place(partial, finished_only=True)
    client.close()


def test_an_error_in_on_result_stops_the_map_and_keeps_the_partial_list(http_server):
    http_server.handler = echo(http_server)

    def on_result(index: int, result: Any) -> None:
        raise ValueError("the progress bar broke")

    with pytest.raises(ValueError) as caught:
        Client(api_key=KEY, base_url=http_server.url).map(PROMPTS, concurrency=2, on_result=on_result)
    assert sum(r is not None for r in caught.value.partial) >= 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("concurrency", [0, -3, 2.5, "8"])
def test_a_concurrency_that_is_not_a_positive_whole_number_is_refused(http_server, concurrency):
    with pytest.raises(ConfigurationError, match="concurrency"):
        Client(api_key=KEY, base_url=http_server.url).map(["a"], concurrency=concurrency)
    assert http_server.requests == []


# --- AsyncClient ---------------------------------------------------------------------------


def test_async_on_result_and_order(http_server):
    http_server.handler = echo(http_server)
    heard: list[int] = []

    async def main() -> list[Any]:
        async with AsyncClient(api_key=KEY, base_url=http_server.url, max_retries=0) as client:
            return await client.map(PROMPTS, concurrency=4, on_result=lambda i, r: heard.append(i))

    check_in_place(asyncio.run(main()))
    assert sorted(heard) == list(range(len(PROMPTS)))
    assert http_server.max_inflight <= 4


def test_a_cancelled_async_map_keeps_what_finished(http_server):
    hold = threading.Event()
    http_server.handler = echo(http_server, hold, after=6)
    heard: list[int] = []

    async def main() -> BaseException:
        async with AsyncClient(api_key=KEY, base_url=http_server.url, max_retries=0) as client:
            task = asyncio.ensure_future(client.map(PROMPTS, concurrency=3, on_result=lambda i, r: heard.append(i)))
            while len(heard) < 6:
                await asyncio.sleep(0.01)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError as e:
                return e
            raise AssertionError("the map was not cancelled")

    try:
        cancelled = asyncio.run(main())
    finally:
        hold.set()
    partial = cancelled.partial  # type: ignore[attr-defined]
    assert isinstance(partial, list) and len(partial) == len(PROMPTS)
    assert sorted(i for i, r in enumerate(partial) if r is not None) == sorted(heard)
    check_in_place(partial, finished_only=True)


def test_keyboard_interrupt_inside_an_async_map_keeps_what_finished(http_server):
    http_server.handler = echo(http_server)

    def on_result(index: int, result: Any) -> None:
        if index == 5:
            raise KeyboardInterrupt

    async def main() -> None:
        async with AsyncClient(api_key=KEY, base_url=http_server.url, max_retries=0) as client:
            await client.map(PROMPTS, concurrency=1, on_result=on_result)

    with pytest.raises(KeyboardInterrupt) as caught:
        asyncio.run(main())
    partial = caught.value.partial  # type: ignore[attr-defined]
    assert [r is not None for r in partial] == [i <= 5 for i in range(len(PROMPTS))]
    check_in_place(partial, finished_only=True)
    assert all(isinstance(r, (Response, HaoeeError)) for r in partial[:6])
