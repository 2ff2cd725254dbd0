"""Execute notebooks in a real kernel and save the executed copies under build/notebooks/.

Without HAOEE_API_KEY the notebooks run on the offline demo server (they start it themselves
with `%haoee offline`), so this needs no key and no network. Each notebook runs in its own
folder (images and videos go to haoee-media/ there); the kernel's own messages go to
build/notebooks/<name>.kernel.log, so the output here is one line per notebook.

    python scripts/run_notebooks.py notebooks/*.ipynb
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

OUT_DIR = Path("build/notebooks")
#: The order a newcomer reads them in; any other notebook after these, by name.
FIRST = ("quickstart.ipynb", "prompt-prototyping.ipynb", "teaching-demo.ipynb")


def run(path: Path, out_dir: Path) -> tuple[bool, str]:
    """Execute one notebook, write the executed copy; (ok, what to say about it)."""
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(out_dir)}},  # media land beside the executed copy
    )
    log = out_dir / f"{path.stem}.kernel.log"
    ok, detail = True, "ok"
    with open(log, "wb") as kernel_output:
        try:
            client.execute(stdout=kernel_output, stderr=kernel_output)
        except CellExecutionError as e:
            ok, detail = False, "FAILED: " + (str(e).strip().splitlines() or ["a cell raised an error"])[-1]
        except (CellTimeoutError, DeadKernelError) as e:
            ok, detail = False, f"FAILED: {e} (kernel output in {log})"
    target = out_dir / path.name
    nbformat.write(notebook, target)
    cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    return ok, f"{path}: {cells} code cells, {time.perf_counter() - started:.1f} s, {detail} -> {target}"


def main(paths: list[str]) -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("HAOEE_API_KEY"):
        mode = "on the offline demo server (no HAOEE_API_KEY)"
    elif os.environ.get("HAOEE_BASE_URL"):
        mode = f"against {os.environ['HAOEE_BASE_URL']} (HAOEE_API_KEY and HAOEE_BASE_URL are set)"
    else:
        mode = "against the Haoee API (HAOEE_API_KEY is set)"
    print(f"Running {len(paths)} notebook(s) {mode}; executed copies go to {OUT_DIR}/", flush=True)
    failed = 0
    for path in sorted(paths, key=lambda p: (FIRST.index(Path(p).name) if Path(p).name in FIRST else len(FIRST), p)):
        ok, line = run(Path(path), OUT_DIR)
        failed += not ok
        print(f"  {line}", flush=True)
    if failed:
        print(f"{failed} notebook(s) failed; open the executed copy to see the cell and its error.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or sorted(str(p) for p in Path("notebooks").glob("*.ipynb"))))
