"""Loading cost: `%load_ext haoee_jupyter` against a bare IPython start, in fresh processes.

Each process times itself from its first line: import IPython and build an InteractiveShell
(the bare start), then, in every other process, `%load_ext haoee_jupyter`. The two kinds of
process alternate one by one (bare, loaded, loaded, bare, ...), so a machine that gets busier
or quieter during the run shifts both alike; the ratio is taken within each round. Wall and
CPU time are both reported (jupyter-ai-magics 2.31.7 took about 1.6 s of CPU for its load on
the reference machine).

It also checks, in a fresh process, that `import haoee_jupyter` imports none of the heavy
modules (httpx, ipywidgets, sqlite3, IPython, pandas): the exit status is 1 if one is.

    python bench/bench_load.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HEAVY = ("httpx", "ipywidgets", "sqlite3", "IPython", "pandas")

CHILD = """
import json, sys, time
wall, cpu = time.perf_counter(), time.process_time()
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
start = (time.perf_counter() - wall, time.process_time() - cpu)
if sys.argv[1] == "load":
    shell.run_line_magic("load_ext", "haoee_jupyter")
    assert shell.find_cell_magic("haoee") is not None
total = (time.perf_counter() - wall, time.process_time() - cpu)
print(json.dumps({"start": start, "total": total}))
"""

IMPORT_CHECK = f"""
import sys
import haoee_jupyter
print(" ".join(name for name in {HEAVY!r} if name in sys.modules))
"""


def _environment(cache: str, ipython_dir: str) -> dict[str, str]:
    environment = dict(os.environ, IPYTHONDIR=ipython_dir, PYTHONPYCACHEPREFIX=cache)
    # Bytecode is written (to a private cache) so that both sides read compiled modules, as a
    # user's machine does; only the first, discarded round compiles.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def _run(kind: str, environment: dict[str, str]) -> dict[str, list[float]]:
    done = subprocess.run([sys.executable, "-c", CHILD, kind], capture_output=True, text=True, env=environment)
    if done.returncode != 0:
        sys.exit(f"load: the {kind} process failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _spread(values: list[float]) -> str:
    quartiles = statistics.quantiles(values, n=4)
    return f"quartiles {quartiles[0]:.3f}–{quartiles[2]:.3f}, range {min(values):.3f}–{max(values):.3f}"


def bench_load(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as ipython_dir:
        environment = _environment(cache, ipython_dir)
        _run("bare", environment), _run("load", environment)  # warm-up: compile into the cache
        ratios, cpu_ratios, bare_ms, loaded_ms, load_ext_ms, load_ext_cpu_ms = [], [], [], [], [], []
        for round_number in range(rounds):
            order = ("bare", "load") if round_number % 2 == 0 else ("load", "bare")
            result = {kind: _run(kind, environment) for kind in order}
            bare, loaded = result["bare"]["total"], result["load"]["total"]
            ratios.append(loaded[0] / bare[0])
            cpu_ratios.append(loaded[1] / bare[1])
            bare_ms.append(bare[0] * 1000)
            loaded_ms.append(loaded[0] * 1000)
            load_ext_ms.append((loaded[0] - result["load"]["start"][0]) * 1000)
            load_ext_cpu_ms.append((loaded[1] - result["load"]["start"][1]) * 1000)
    median = statistics.median
    print(
        f"load: bare IPython start {median(bare_ms):.0f} ms, with %load_ext haoee_jupyter {median(loaded_ms):.0f} ms "
        f"({rounds} rounds, alternating)"
    )
    print(f"load: ratio with/bare, wall: median {median(ratios):.3f} ({_spread(ratios)})")
    print(f"load: ratio with/bare, CPU:  median {median(cpu_ratios):.3f} ({_spread(cpu_ratios)})")
    print(
        f"load: %load_ext haoee_jupyter alone: {median(load_ext_ms):.1f} ms wall, {median(load_ext_cpu_ms):.1f} ms CPU"
    )


def check_import() -> bool:
    with tempfile.TemporaryDirectory() as ipython_dir:
        environment = dict(os.environ, IPYTHONDIR=ipython_dir)
        found = subprocess.run(
            [sys.executable, "-c", IMPORT_CHECK], check=True, capture_output=True, text=True, env=environment
        ).stdout.split()
    if found:
        print(f"import: FAIL: `import haoee_jupyter` imported {', '.join(found)}")
        return False
    print(f"import: ok: `import haoee_jupyter` imports none of {', '.join(HEAVY)}")
    return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="pairs of processes (default 15)")
    options = parser.parse_args()
    clean = check_import()
    bench_load(options.rounds)
    sys.exit(0 if clean else 1)
