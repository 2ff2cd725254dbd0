"""Benchmarks of the call log and the response cache (on a fresh folder; nothing else runs).

1. Logging: the time one ``CallLog.write`` adds to a call (a recorded /responses answer), alone
   and as the start-and-end pair a video job writes; then 16 threads writing at once.
2. Cache: the time of a hit (key, lookup, JSON) with 10,000 entries in the cache.
3. Reading: ``search`` over the same 10,000 logged calls (newest 20, text search, model filter).

    python bench/bench_store.py [--rows 10000] [--writes 2000]

The issue's limits: logging adds under 1 ms per call, a cache hit is answered in under 5 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from haoee_jupyter.notebook._cache import ResponseCache
from haoee_jupyter.notebook._log import CallLog, CallRecord

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "responses-api" / "01-openai-text.json"
KEY = "sk-bench0123456789abcdefghijklmnop"


def _ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"median {statistics.median(ordered) * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms, max {ordered[-1] * 1000:.3f} ms"
    )


def _answer(number: int, words: int = 150) -> tuple[dict, str]:
    raw = json.loads(FIXTURE.read_text())
    text = f"Answer {number}: " + " ".join(
        random.choice(("entropy", "order", "heat", "time", "arrow")) for _ in range(words)
    )
    raw["output"][0]["content"][0]["text"] = text
    return raw, text


def _record(number: int) -> CallRecord:
    raw, text = _answer(number)
    body = {"model": "gpt-4.1", "input": f"Question {number}: explain entropy", "temperature": 0.3}
    return CallRecord(request=body, response=raw, text=text, status="completed", latency=0.8, cell=number)


def bench_log(folder: Path, writes: int, rows: int) -> None:
    log = CallLog(folder / "calls.sqlite3")
    log.write(_record(0), secret=KEY)  # opens the file: not part of a call's cost
    records = [_record(i) for i in range(writes)]
    single = []
    for record in records:
        started = time.perf_counter()
        log.write(record, secret=KEY)
        single.append(time.perf_counter() - started)
    print(f"log write, one per call ({writes} calls): {_ms(single)}")

    pairs = []
    for number in range(writes // 2):
        record = _record(number)
        record.status, record.job_id = "in_progress", f"video_{number}"
        started = time.perf_counter()
        log.write(record, secret=KEY)
        record.status = "completed"
        log.write(record, secret=KEY)
        pairs.append(time.perf_counter() - started)
    print(f"log write, start + end upsert ({writes // 2} calls): {_ms(pairs)}")

    per_thread = 200
    batch = [[_record(t * per_thread + i) for i in range(per_thread)] for t in range(16)]
    start = threading.Barrier(16)

    def worker(mine: list[CallRecord]) -> None:
        start.wait()
        for record in mine:
            log.write(record, secret=KEY)

    threads = [threading.Thread(target=worker, args=(mine,)) for mine in batch]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    print(f"log write, 16 threads x {per_thread}: {wall:.2f} s wall, {16 * per_thread / wall:,.0f} rows/s")

    # Fill to `rows` for the reading benchmark.
    filler = rows - len(log.search(None))
    for number in range(max(filler, 0)):
        log.write(_record(number))
    for label, kwargs in (
        ("newest 20", {}),
        ("search 'question 5'", {"search": "question 5"}),
        ("search 'Entropié' (non-ASCII path)", {"search": "Entropié"}),
        ("model filter", {"model": "GPT-4.1"}),
    ):
        times = []
        for _ in range(20):
            started = time.perf_counter()
            log.search(20, **kwargs)
            times.append(time.perf_counter() - started)
        print(f"log search over {len(log.search(None)):,} rows, {label}: {_ms(times)}")
    log.close()


def bench_cache(folder: Path, rows: int, gets: int) -> None:
    cache = ResponseCache(folder / "cache.sqlite3")
    bodies = []
    for number in range(rows):
        body = {"model": "gpt-4.1", "input": f"Question {number}: explain entropy", "temperature": 0.3}
        raw, text = _answer(number)
        cache.put("/responses", body, "https://maas.haoee.com/v1", raw, text=text)
        bodies.append(body)
    entries, size = cache.stats()
    hits = []
    for _ in range(gets):
        body = dict(random.choice(bodies), stream=True)
        started = time.perf_counter()
        hit = cache.get("/responses", body, "https://maas.haoee.com/v1")
        hits.append(time.perf_counter() - started)
        assert hit is not None
    print(f"cache hit with {entries:,} entries ({size / 1e6:.1f} MB), {gets} gets: {_ms(hits)}")
    misses = []
    for number in range(gets // 4):
        started = time.perf_counter()
        cache.get("/responses", {"model": "gpt-4.1", "input": f"never asked {number}"}, "https://maas.haoee.com/v1")
        misses.append(time.perf_counter() - started)
    print(f"cache miss: {_ms(misses)}")
    cache.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="entries in the cache and rows in the log")
    parser.add_argument("--writes", type=int, default=2000, help="single writes timed")
    args = parser.parse_args()
    random.seed(7)
    with tempfile.TemporaryDirectory() as folder:
        bench_log(Path(folder), args.writes, args.rows)
        bench_cache(Path(folder), args.rows, args.writes)


if __name__ == "__main__":
    main()
