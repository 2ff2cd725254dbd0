"""Run every benchmark in bench/ (each bench_*.py), one after another, in fresh processes.

Each script prints ratios measured within its own run (these machines are noisy, so a ratio
of two things measured side by side means more than either number alone). The exit status is
1 if any script failed.

    python bench/run.py            # all of them
    python bench/run.py load client  # only bench_load.py and bench_client.py
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [script for script in scripts if script.stem.removeprefix("bench_") in names]
    print(
        f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs"
    )
    failed = []
    for script in scripts:
        print(f"## {script.name}", flush=True)
        started = time.perf_counter()
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    if failed:
        print(f"# failed: {', '.join(failed)}")
    return 1 if failed or not scripts else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
