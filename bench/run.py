"""Benchmarks, reported as ratios measured in one run (these machines are noisy).

1. Loading: `import haoee_jupyter` + `%load_ext haoee_jupyter` in a fresh IPython, against the
   same IPython start without the extension.
2. Client overhead: N streamed answers from the offline server (latency 0) read through
   `Client.respond(stream=True)`, against the same requests read with bare httpx and line
   splitting (the least any client must do).

    python bench/run.py [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import httpx

from haoee_jupyter import Client
from haoee_jupyter.offline import OfflineServer

START = "from IPython.core.interactiveshell import InteractiveShell; ip = InteractiveShell.instance()"


def _subprocess_seconds(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_load(repeat: int) -> None:
    base = _subprocess_seconds(START, repeat)
    loaded = _subprocess_seconds(START + "; ip.run_line_magic('load_ext', 'haoee_jupyter')", repeat)
    print(
        f"load: IPython alone {base * 1000:.0f} ms, with %load_ext haoee_jupyter {loaded * 1000:.0f} ms, ratio {loaded / base:.3f}"
    )


def _bare_httpx(http: httpx.Client, url: str, body: dict) -> str:
    text = []
    with http.stream("POST", url, json=body, headers={"Authorization": "Bearer x"}) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if event.get("type") == "response.output_text.delta":
                    text.append(event["delta"])
                elif event.get("type") in ("response.completed", "response.incomplete", "response.failed"):
                    break
    return "".join(text)


def bench_client(requests: int) -> None:
    with OfflineServer(latency_ms=0) as server:
        body = {"model": "gpt-4.1", "input": "Explain entropy", "stream": True}
        http = httpx.Client()
        client = Client(api_key="x", base_url=server.url)
        expected = _bare_httpx(http, f"{server.url}/responses", body)
        assert client.respond("Explain entropy", stream=True).text == expected
        bare, ours = [], []
        for _ in range(requests):  # interleaved so drift hits both alike
            started = time.perf_counter()
            _bare_httpx(http, f"{server.url}/responses", body)
            bare.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.respond("Explain entropy", stream=True, on_text=lambda delta: None)
            ours.append(time.perf_counter() - started)
        b, o = statistics.median(bare), statistics.median(ours)
        print(
            f"stream: bare httpx {b * 1000:.2f} ms, Client {o * 1000:.2f} ms per answer, ratio {o / b:.3f} ({requests} requests each)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    bench_load(options.repeat)
    bench_client(options.requests)
