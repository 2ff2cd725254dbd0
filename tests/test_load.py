"""``%load_ext haoee_jupyter`` imports only what registering the magic needs.

Checked structurally, in a fresh process (which modules are imported), never by timing: the
core, the display, batches, comparisons, media cells, the call log, the cache, httpx and
pandas are imported by the first cell or subcommand that uses them, and ``%haoee help`` still
lists every subcommand without importing the modules that run them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from haoee_jupyter.notebook._subcommands import SUBCOMMANDS, Deferred

ROOT = Path(__file__).parents[1]

#: Not imported by %load_ext (nor by %haoee help): each is imported on first use.
LATER = (
    "httpx",
    "pandas",
    "ipywidgets",
    "haoee_jupyter.client._client",
    "haoee_jupyter.render",
    "haoee_jupyter.notebook._core",
    "haoee_jupyter.notebook._display",
    "haoee_jupyter.notebook._session",
    "haoee_jupyter.notebook._store",
    "haoee_jupyter.notebook._log",
    "haoee_jupyter.notebook._cache",
    "haoee_jupyter.notebook._history",
    "haoee_jupyter.notebook._recall",
    "haoee_jupyter.notebook._batch",
    "haoee_jupyter.notebook._compare",
    "haoee_jupyter.notebook._scale",
    "haoee_jupyter.notebook._media",
    "haoee_jupyter.notebook._form",
)


def loaded_after(lines: str, tmp_path: Path) -> dict[str, list[str]]:
    """Run ``lines`` (IPython magics, one per line) in a fresh shell; the modules that were not
    imported before ``%load_ext``, after each line, and what each line printed."""
    code = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        before = set(sys.modules)
        found = {{}}
        for line in {lines.splitlines()!r}:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                shell.run_line_magic(*line.lstrip("%").partition(" ")[::2])
            found[line] = sorted(set(sys.modules) - before)
            found[line + " (printed)"] = out.getvalue().splitlines()
        print(json.dumps(found))
        """
    )
    environment = dict(os.environ, IPYTHONDIR=str(tmp_path / "ipython"), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_load_ext_imports_nothing_that_only_a_call_needs(tmp_path: Path) -> None:
    found = loaded_after("%load_ext haoee_jupyter\n%haoee help", tmp_path)
    loaded, helped = found["%load_ext haoee_jupyter"], found["%haoee help"]
    assert "haoee_jupyter.notebook._magics" in loaded  # the check sees our modules
    assert [name for name in LATER if name in loaded] == []
    assert [name for name in LATER if name in helped] == []
    listed = [line.split()[1] for line in found["%haoee help (printed)"] if line.startswith("%haoee ")]
    assert listed == list(SUBCOMMANDS) and {"history", "rerun", "cache"} <= set(listed)


def test_a_deferred_subcommand_imports_its_module_when_it_runs(tmp_path: Path) -> None:
    found = loaded_after("%load_ext haoee_jupyter\n%haoee cache", tmp_path)
    assert "haoee_jupyter.notebook._recall" not in found["%load_ext haoee_jupyter"]
    assert {"haoee_jupyter.notebook._recall", "haoee_jupyter.notebook._cache"} <= set(found["%haoee cache"])
    assert any(line.startswith("Response cache: ") for line in found["%haoee cache (printed)"])


def test_every_deferred_subcommand_names_a_function_that_exists() -> None:
    deferred = {name: command.run for name, command in SUBCOMMANDS.items() if isinstance(command.run, Deferred)}
    assert {"history", "rerun", "cache"} <= set(deferred)
    for name, run in deferred.items():
        assert callable(run.resolve()), name
