"""Client overhead: `Client.respond` against a bare `httpx.Client.post` plus `json` parse, and
against the openai SDK's `responses.create`, on the same loopback server.

The server runs in a child process and answers every `POST /v1/responses` with the same small
finished response, at once, so what is measured is the client's own work. The three clients
take turns one call at a time (the order rotating every round), each with its own kept-alive
connection; the ratios are of medians measured in this one run. CPU time is this process's
alone (the server's is in the child).

    python bench/bench_overhead.py [--calls 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

ANSWER = {
    "id": "resp_bench",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "gpt-4.1",
    "output": [
        {
            "type": "message",
            "id": "msg_bench",
            "status": "completed",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Entropy measures how spread out energy is. " * 8, "annotations": []}
            ],
        }
    ],
    "usage": {
        "input_tokens": 3,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 64,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 67,
    },
}


def serve() -> None:
    """The child: a keep-alive HTTP/1.1 server on an ephemeral loopback port, printed first."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = json.dumps(ANSWER).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: without this, Nagle holds the body back until
        # the client's delayed ACK (tens of ms), which would swamp what is measured.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def bench_overhead(calls: int) -> None:
    import httpx
    import openai

    from haoee_jupyter import Client

    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        url = f"http://127.0.0.1:{child.stdout.readline().strip()}/v1"
        body = {"model": "gpt-4.1", "input": "Explain entropy"}
        headers = {"Authorization": "Bearer bench-key"}
        with (
            httpx.Client() as http,
            Client(api_key="bench-key", base_url=url, max_retries=0) as ours,
            openai.OpenAI(api_key="bench-key", base_url=url, max_retries=0) as sdk,
        ):

            def bare() -> str:
                answer = json.loads(http.post(f"{url}/responses", json=body, headers=headers).content)
                return "".join(
                    part["text"]
                    for item in answer["output"]
                    if item["type"] == "message"
                    for part in item["content"]
                    if part["type"] == "output_text"
                )

            contenders: dict[str, Callable[[], str]] = {
                "bare httpx": bare,
                "Client.respond": lambda: ours.respond("Explain entropy", model="gpt-4.1").text,
                "openai SDK": lambda: sdk.responses.create(model="gpt-4.1", input="Explain entropy").output_text,
            }
            texts = {name: call() for name, call in contenders.items()}  # warm-up, and the same answer
            assert len(set(texts.values())) == 1, texts
            wall: dict[str, list[float]] = {name: [] for name in contenders}
            cpu: dict[str, list[float]] = {name: [] for name in contenders}
            names = list(contenders)
            for round_number in range(calls):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    started, cpu_started = time.perf_counter(), time.process_time()
                    contenders[name]()
                    wall[name].append(time.perf_counter() - started)
                    cpu[name].append(time.process_time() - cpu_started)
    finally:
        child.terminate()
        child.wait(timeout=10)
    # process_time ticks coarsely on some systems: the mean of many calls is the fair CPU figure.
    wall_ms = {name: statistics.median(values) * 1000 for name, values in wall.items()}
    cpu_ms = {name: statistics.fmean(values) * 1000 for name, values in cpu.items()}
    for name in names:
        print(f"overhead: {name:<15} {wall_ms[name]:.3f} ms wall (median), {cpu_ms[name]:.3f} ms CPU (mean)")
    for name, base in (
        ("Client.respond", "bare httpx"),
        ("openai SDK", "bare httpx"),
        ("openai SDK", "Client.respond"),
    ):
        print(
            f"overhead: {name} / {base}: {wall_ms[name] / wall_ms[base]:.3f} wall, {cpu_ms[name] / cpu_ms[base]:.3f} CPU"
            f" ({calls} calls each, alternated)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per client (default 1000)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve()
    else:
        bench_overhead(options.calls)
