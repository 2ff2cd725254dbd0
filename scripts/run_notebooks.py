"""Execute notebooks in a real kernel and save the executed copies under build/notebooks/.

Without HAOEE_API_KEY the notebooks run on the offline demo server (they start it themselves
with `%haoee offline`), so this needs no key and no network.

    python scripts/run_notebooks.py notebooks/*.ipynb
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main(paths: list[str]) -> int:
    out_dir = Path("build/notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    mode = (
        "the Haoee API (HAOEE_API_KEY is set)"
        if os.environ.get("HAOEE_API_KEY")
        else "the offline demo server (no HAOEE_API_KEY)"
    )
    print(f"Running {len(paths)} notebook(s) on {mode}")
    failed = 0
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        started = time.perf_counter()
        client = NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(Path(path).parent)}}
        )
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as e:
            failed += 1
            status = "FAILED: " + str(e).strip().splitlines()[-1]
        target = out_dir / Path(path).name
        nbformat.write(notebook, target)
        code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
        print(f"  {path}: {code_cells} code cells, {time.perf_counter() - started:.1f} s, {status} -> {target}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or sorted(str(p) for p in Path("notebooks").glob("*.ipynb"))))
