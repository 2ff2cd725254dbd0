"""The response cache: what makes two requests the same, what is kept, refresh, stats and clear."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from haoee_jupyter import Response
from haoee_jupyter.notebook._cache import ResponseCache, cache_key
from haoee_jupyter.notebook._log import CallLog, CallRecord

FIXTURES = Path(__file__).parent / "fixtures" / "responses-api"
KEY = "sk-h6cacheKEY0123456789abcdefXYZ"
BASE = "https://maas.haoee.com/v1"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "haoee-home"
    monkeypatch.setenv("HAOEE_HOME", str(folder))
    return folder


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4.1", "input": "Explain entropy", "temperature": 0.5, **fields}


def answer(text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": f"resp_{abs(hash(text))}",
        "status": status,
        "model": "gpt-4.1",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}],
        "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
    }


def test_the_key_ignores_field_order_stream_and_credentials() -> None:
    first = cache_key("/responses", {"model": "gpt-4.1", "input": "hi", "temperature": 1.0, "stream": True}, BASE)
    same = [
        cache_key("/responses", {"temperature": 1, "input": "hi", "model": "gpt-4.1"}, BASE),
        cache_key("/responses", {"model": "gpt-4.1", "input": "hi", "temperature": 1.0, "stream": False}, BASE),
        cache_key("responses", {"model": "gpt-4.1", "input": "hi", "temperature": 1.0, "api_key": KEY}, BASE),
        cache_key(
            "/responses", {"model": "gpt-4.1", "input": "hi", "temperature": 1.0}, "https://MAAS.haoee.com:443/v1/"
        ),
    ]
    assert same == [first] * len(same)
    assert len(first) == 64 and int(first, 16) >= 0


def test_the_key_changes_with_what_changes_the_answer() -> None:
    base = cache_key("/responses", body(), BASE)
    different = [
        cache_key("/responses", body(model="gpt-4.1-mini"), BASE),
        cache_key("/responses", body(input="Explain entropy!"), BASE),
        cache_key("/responses", body(temperature=0.7), BASE),
        cache_key("/responses", body(instructions="Be brief"), BASE),
        cache_key("/chat/completions", body(), BASE),
        cache_key("/responses", body(), "http://127.0.0.1:8765/v1"),  # the offline demo is another server
    ]
    assert base not in different and len(set(different)) == len(different)


def test_a_miss_creates_nothing_then_a_hit_gives_the_answer_back(home: Path) -> None:
    cache = ResponseCache()
    assert cache.get("/responses", body(), BASE) is None
    assert not home.exists()
    raw = json.loads((FIXTURES / "01-openai-text.json").read_text())
    assert cache.put("/responses", body(stream=True), BASE, raw, text="4200 + 42 equals 4242.")
    hit = cache.get("/responses", body(), BASE)  # a plain call finds what a streamed one stored
    assert hit is not None and hit.response == raw and hit.text == "4200 + 42 equals 4242."
    assert (hit.endpoint, hit.model) == ("/responses", "gpt-4.1")
    assert Response(raw=hit.response).usage.total_tokens == 27
    assert cache.get("/responses", body(model="gpt-5"), BASE) is None
    cache.close()


def test_only_completed_answers_are_kept() -> None:
    with ResponseCache() as cache:
        assert not cache.put("/responses", body(), BASE, answer("cut off", "incomplete"))
        assert not cache.put("/responses", body(), BASE, answer("", "failed"))
        assert not cache.put("/responses", body(), BASE, answer("ok"), status="error")
        assert cache.get("/responses", body(), BASE) is None
        # An image or chat answer has no status field: it is complete when the caller says so.
        image = {"created": 1, "data": [{"url": "https://example.com/cat.png"}]}
        assert cache.put("/images/generations", {"model": "gpt-image-1", "prompt": "a cat"}, BASE, image)
        hit = cache.get("/images/generations", {"prompt": "a cat", "model": "gpt-image-1"}, BASE)
        assert hit is not None and hit.response == image


def test_refresh_replaces_the_entry() -> None:
    with ResponseCache() as cache:
        cache.put("/responses", body(), BASE, answer("first"), text="first")
        cache.put("/responses", body(), BASE, answer("second"), text="second")
        hit = cache.get("/responses", body(), BASE)
        assert hit is not None and hit.text == "second" and Response(raw=hit.response).text == "second"
        assert cache.stats()[0] == 1


def test_stats_and_clear_leave_the_call_log_alone(home: Path) -> None:
    CallLog().write(CallRecord(request=body(), text="logged", status="completed"))
    cache = ResponseCache()
    assert cache.stats() == (0, 0)
    for number in range(50):
        cache.put("/responses", body(input=f"question {number}"), BASE, answer("x" * 2000), text="x" * 2000)
    entries, size = cache.stats()
    assert entries == 50 and size > 50 * 2000
    assert cache.clear() == 50
    assert cache.stats()[0] == 0 and cache.stats()[1] < size
    assert cache.get("/responses", body(input="question 1"), BASE) is None
    assert [e.text for e in CallLog().search()] == ["logged"]
    cache.close()


def test_the_key_and_the_body_are_never_stored(home: Path) -> None:
    cache = ResponseCache()
    echoed = answer(f"Your key {KEY} is set")
    cache.put("/responses", body(api_key=KEY, input=f"secret prompt {KEY}"), BASE, echoed, text=f"{KEY}", secret=KEY)
    hit = cache.get("/responses", body(api_key="other", input=f"secret prompt {KEY}"), BASE)
    assert hit is not None and KEY not in json.dumps(hit.response) and KEY not in hit.text
    for path in home.iterdir():
        assert KEY[:8].encode() not in path.read_bytes(), path.name
    cache.close()


def test_concurrent_puts_and_gets() -> None:
    cache = ResponseCache()
    start = threading.Barrier(16)
    failures: list[BaseException] = []

    def worker(thread: int) -> None:
        try:
            start.wait()
            for row in range(50):
                request = body(input=f"{thread}-{row}")
                cache.put("/responses", request, BASE, answer(f"{thread}-{row}"), text=f"{thread}-{row}")
                hit = cache.get("/responses", request, BASE)
                assert hit is not None and hit.text == f"{thread}-{row}"
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and cache.stats()[0] == 800
    cache.close()


def test_the_cache_file_is_in_wal_mode(home: Path) -> None:
    with ResponseCache() as cache:
        cache.put("/responses", body(), BASE, answer("ok"))
    connection = sqlite3.connect(home / "cache.sqlite3")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()
