"""The client's own cost: CPU per streamed delta against bare httpx, and a fresh `Client.map`
against a bare thread pool of `httpx.Client` calls, on the same loopback server.

The server runs in a child process (its CPU is not counted here). It streams a Responses SSE
answer of N text deltas (N from the request's input), or answers a small finished response
after a fixed latency. Runs alternate (client, bare, client, bare, ...) and the ratios are of
medians from this one run:

- stream: `Client.respond(stream=True, on_text=...)` against `httpx.Client.stream` +
  `iter_lines` + `json.loads` of each `data:` line, CPU time of this process per delta, at 1k
  and 100k deltas. A client that copied the whole text per delta would grow with N.
- map: a fresh `Client(...).map(items, concurrency=C)` against a fresh `httpx.Client` shared by a
  `ThreadPoolExecutor(C)` posting the same bodies, wall time.

    python bench/bench_client.py [--rounds 5] [--items 300] [--concurrency 30] [--latency-ms 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

ANSWER = {
    "id": "resp_bench",
    "object": "response",
    "status": "completed",
    "model": "gpt-4.1",
    "output": [{"type": "message", "content": [{"type": "output_text", "text": "An answer.", "annotations": []}]}],
    "usage": {"input_tokens": 3, "output_tokens": 3, "total_tokens": 6},
}


def serve(latency: float) -> None:
    """The child: a threaded keep-alive HTTP/1.1 server on an ephemeral loopback port, printed first."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    plain = json.dumps(ANSWER).encode()
    streams: dict[int, bytes] = {}

    def stream(deltas: int) -> bytes:
        if deltas not in streams:
            delta = {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "word "}
            frame = f"event: response.output_text.delta\ndata: {json.dumps(delta)}\n\n".encode()
            done = dict(
                ANSWER, output=[{"type": "message", "content": [{"type": "output_text", "text": "word " * deltas}]}]
            )
            tail = (
                f"event: response.completed\ndata: {json.dumps({'type': 'response.completed', 'response': done})}\n\n"
            )
            streams[deltas] = frame * deltas + tail.encode()
        return streams[deltas]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if request.get("stream"):
                body, content_type = stream(int(request["input"])), "text/event-stream"
            else:
                time.sleep(latency)
                body, content_type = plain, "application/json"
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # the map is measured, not the listen backlog

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def alternate(rounds: int, runs: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for turn in range(rounds):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            results[name].append(runs[name]())
    return results


def bench_stream(url: str, rounds: int) -> None:
    import httpx

    from haoee_jupyter import Client

    client = Client(api_key="sk-bench-0123456789abcdef", base_url=url)
    bare = httpx.Client()
    client.respond("10", stream=True)  # connections open, imports done

    def ours(deltas: int) -> Callable[[], float]:
        def run() -> float:
            started = time.process_time()
            response = client.respond(str(deltas), stream=True, on_text=lambda delta: None)
            elapsed = time.process_time() - started
            assert len(response.text) == 5 * deltas
            return elapsed / deltas

        return run

    def theirs(deltas: int) -> Callable[[], float]:
        body = {"model": "gpt-4.1", "input": str(deltas), "stream": True}

        def run() -> float:
            started = time.process_time()
            with bare.stream("POST", f"{url}/v1/responses", json=body) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        json.loads(line[6:])
            return (time.process_time() - started) / deltas

        return run

    for deltas in (1_000, 100_000):
        times = alternate(rounds, {"client": ours(deltas), "bare": theirs(deltas)})
        mine, base = statistics.median(times["client"]), statistics.median(times["bare"])
        print(
            f"stream {deltas:>7,} deltas: client {mine * 1e6:.2f} µs/delta, bare httpx iter_lines+json.loads "
            f"{base * 1e6:.2f} µs/delta, ratio {mine / base:.2f}"
        )
    client.close()
    bare.close()


def bench_map(url: str, rounds: int, items: int, concurrency: int, latency: float) -> None:
    import httpx

    from haoee_jupyter import Client, Response

    prompts = [f"item {i}" for i in range(items)]

    def ours() -> float:
        started = time.perf_counter()
        with Client(api_key="sk-bench-0123456789abcdef", base_url=url) as client:
            results = client.map(prompts, concurrency=concurrency)
        elapsed = time.perf_counter() - started
        assert all(isinstance(r, Response) for r in results), [str(r) for r in results if not isinstance(r, Response)][
            :3
        ]
        return elapsed

    def theirs() -> float:
        started = time.perf_counter()
        headers = {"Authorization": "Bearer sk-bench-0123456789abcdef"}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        with httpx.Client(limits=limits) as http, ThreadPoolExecutor(concurrency) as pool:

            def one(prompt: str) -> dict[str, object]:
                response = http.post(f"{url}/v1/responses", json={"model": "gpt-4.1", "input": prompt}, headers=headers)
                return response.raise_for_status().json()  # type: ignore[no-any-return]

            results = list(pool.map(one, prompts))
        elapsed = time.perf_counter() - started
        assert len(results) == items
        return elapsed

    times = alternate(rounds, {"client": ours, "bare": theirs})
    mine, base = statistics.median(times["client"]), statistics.median(times["bare"])
    ideal = items / concurrency * latency
    print(
        f"map {items} at concurrency {concurrency}, {latency * 1000:.0f} ms latency (ideal {ideal:.2f} s): "
        f"fresh Client.map {mine:.3f} s, bare ThreadPoolExecutor + httpx.Client {base:.3f} s, ratio {mine / base:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    latency = args.latency_ms / 1000
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(latency)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        url = f"http://127.0.0.1:{child.stdout.readline().strip()}"
        bench_stream(url, args.rounds)
        bench_map(url, args.rounds, args.items, args.concurrency, latency)
    finally:
        child.terminate()
        child.wait()


if __name__ == "__main__":
    main()
