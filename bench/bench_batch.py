"""Batches, the cache and the call log at scale, through the magic in a real IPython shell.

The server runs in a child process (its CPU and memory are not counted here): it answers a
small finished response after a fixed latency, with an answer of N characters when the input
says ``size N``. Ratios are of medians from this one run, the runs interleaved.

- batch: ``%%haoee --over items --concurrency C`` of 300 rows at 200 ms (the log on, as by
  default; a fresh client each run) against the limit rows / C x latency (2.0 s), and against a
  bare ``ThreadPoolExecutor(C)`` sharing one ``httpx.Client`` posting the same bodies.
- cache hit: a ``%%haoee --cache`` cell answered from the cache, the whole cell.
- log: ``ShellState.log_call`` of a finished call with a 1 KB answer, per call.
- memory: tracemalloc's peak during a batch of 10,000 rows (latency 0, --no-log), with answers of
  100 and of 2,000 characters: the peak beyond the result's own answers stays flat.

    python bench/bench_batch.py [--rounds 5] [--rows 300] [--concurrency 30] [--latency-ms 200] [--memory-rows 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

KEY = "sk-bench-0123456789abcdef"


def serve(latency: float) -> None:
    """The child: a threaded keep-alive HTTP/1.1 server on an ephemeral loopback port, printed first."""
    import re
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            size = re.search(r"size (\d+)", str(request.get("input")))
            text = ("word " * (int(size.group(1)) // 5 + 1))[: int(size.group(1))] if size else "An answer."
            answer = {
                "id": "resp_bench",
                "object": "response",
                "status": "completed",
                "model": request.get("model", "gpt-4.1"),
                "output": [{"type": "message", "content": [{"type": "output_text", "text": text, "annotations": []}]}],
                "usage": {"input_tokens": 3, "output_tokens": len(text) // 4 + 1, "total_tokens": len(text) // 4 + 4},
            }
            if latency:
                time.sleep(latency)
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(latency)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, f"http://127.0.0.1:{child.stdout.readline().strip()}"


def shell(url: str) -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "haoee_jupyter")
    ip.run_line_magic("config", f"Haoee.base_url = {url + '/v1'!r}")
    ip.run_line_magic("config", f"Haoee.api_key = {KEY!r}")
    return ip


def cell(ip: Any, line: str, body: str) -> float:
    from IPython.utils.capture import capture_output

    started = time.perf_counter()
    with capture_output():
        ip.run_cell_magic("haoee", line, body)
    return time.perf_counter() - started


def alternate(rounds: int, runs: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for turn in range(rounds):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            results[name].append(runs[name]())
    return results


def bench_batch(ip: Any, url: str, rounds: int, rows: int, concurrency: int, latency: float) -> None:
    import httpx

    state = ip.magics_manager.registry["Haoee"].state
    ip.user_ns["items"] = [f"item {n}" for n in range(rows)]

    def batch(line: str) -> Callable[[], float]:
        def run() -> float:
            state.replace_clients()  # a fresh client each run
            elapsed = cell(ip, f"--over items --concurrency {concurrency} -o out {line}", "Say {item}")
            out = ip.user_ns["out"]
            assert len(out) == rows and all(isinstance(a, str) for a in out), [str(a) for a in out][:3]
            return elapsed

        return run

    def bare() -> float:
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {KEY}"}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        with httpx.Client(limits=limits) as http, ThreadPoolExecutor(concurrency) as pool:

            def one(item: str) -> Any:
                body = {"model": "gpt-4.1", "input": f"Say {item}"}
                return http.post(f"{url}/v1/responses", json=body, headers=headers).raise_for_status().json()

            results = list(pool.map(one, ip.user_ns["items"]))
        assert len(results) == rows
        return time.perf_counter() - started

    cell(ip, "--no-log", "warm up")  # imports, first connections
    times = alternate(rounds, {"batch": batch(""), "batch --no-log": batch("--no-log"), "bare": bare})
    limit = rows / concurrency * latency
    base = statistics.median(times["bare"])
    print(f"batch of {rows} at concurrency {concurrency}, {latency * 1000:.0f} ms latency (limit {limit:.2f} s):")
    for name in ("batch", "batch --no-log", "bare"):
        mine = statistics.median(times[name])
        print(f"  {name:15} {mine:.3f} s   vs limit {mine / limit:.3f}x   vs bare thread pool {mine / base:.3f}x")


def bench_cache(ip: Any, rounds: int) -> None:
    state = ip.magics_manager.registry["Haoee"].state
    cell(ip, "--cache", "A question for the cache")
    hits = [cell(ip, "--cache", "A question for the cache") for _ in range(max(rounds, 5) * 4)]
    assert ip.user_ns["haoee_usage_total"].cached_calls >= len(hits)
    body = {"model": "gpt-4.1", "input": "A question for the cache"}
    lookups = []
    for _ in range(200):
        started = time.perf_counter()
        assert state.cache_get("/responses", body) is not None
        lookups.append(time.perf_counter() - started)
    print(
        f"cache hit: whole %%haoee --cache cell {statistics.median(hits) * 1000:.2f} ms (median of {len(hits)}), "
        f"the lookup alone {statistics.median(lookups) * 1000:.3f} ms"
    )


def bench_log(ip: Any) -> None:
    from haoee_jupyter import Response
    from haoee_jupyter.notebook._session import Call

    state = ip.magics_manager.registry["Haoee"].state
    text = "An answer of about a kilobyte. " * 33
    raw = {
        "id": "resp_1",
        "status": "completed",
        "model": "gpt-4.1",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}],
        "usage": {"input_tokens": 12, "output_tokens": 250, "total_tokens": 262},
    }
    times = []
    for n in range(2000):
        call = Call(body={"model": "gpt-4.1", "input": f"Question {n}", "temperature": 0.2}, response=Response(raw=raw))
        call.latency = 0.5
        started = time.perf_counter()
        state.log_call(call)
        times.append(time.perf_counter() - started)
    print(
        f"log: {statistics.median(times) * 1e6:.0f} µs per call (median of {len(times)}; p99 {sorted(times)[int(len(times) * 0.99)] * 1e6:.0f} µs)"
    )


def bench_memory(ip: Any, rows: int, concurrency: int) -> None:
    print(f"memory, {rows:,} rows at concurrency {concurrency}, latency 0 (tracemalloc peak of the cell):")
    for size in (100, 2000):
        ip.user_ns["items"] = [f"size {size} item {n}" for n in range(rows)]
        ip.user_ns.pop("out", None)
        ip.user_ns.pop("haoee_results", None)
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        cell(ip, f"--over items --concurrency {concurrency} -o out --no-log", "Say {item}")
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out = ip.user_ns["out"]
        assert len(out) == rows and all(isinstance(a, str) and len(a) == size for a in out)
        answers = sum(sys.getsizeof(a) for a in out)
        print(
            f"  answers of {size:>5,} chars: peak {(peak - baseline) / 1e6:7.1f} MB, the answers kept "
            f"{answers / 1e6:6.1f} MB, peak beyond them {(peak - baseline - answers) / 1e6:6.1f} MB "
            f"({elapsed:.0f} s under tracemalloc)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--memory-rows", type=int, default=10_000)
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    os.environ["HAOEE_HOME"] = tempfile.mkdtemp(prefix="haoee-bench-")  # never the user's own log
    latency = args.latency_ms / 1000
    slow, slow_url = start_server(latency)
    fast, fast_url = start_server(0.0)
    try:
        ip = shell(slow_url)
        bench_batch(ip, slow_url, args.rounds, args.rows, args.concurrency, latency)
        bench_cache(ip, args.rounds)
        bench_log(ip)
        if args.memory_rows:
            ip.run_line_magic("config", f"Haoee.base_url = {fast_url + '/v1'!r}")
            bench_memory(ip, args.memory_rows, args.concurrency)
    finally:
        for child in (slow, fast):
            child.terminate()
            child.wait()


if __name__ == "__main__":
    main()
