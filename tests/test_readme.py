"""README.md against the code: the generated magic reference, the quick start, the files it names.

When the reference drifts (an option, a subcommand or a setting added, changed or removed), run
``python scripts/update_readme.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")


def _update_readme() -> Any:
    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update_readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


update_readme = _update_readme()


def section(title: str) -> str:
    """The text of one ``## title`` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", TEXT, re.M | re.S)
    assert match, f"README.md has no section '## {title}'"
    return match.group(1)


def test_reference_is_the_generated_one() -> None:
    assert update_readme.updated(TEXT) == TEXT, "the magic reference drifted: run python scripts/update_readme.py"


def test_a_drifted_reference_is_regenerated() -> None:
    row = next(line for line in TEXT.splitlines() if line.startswith("| `--top-p P` |"))
    drifted = TEXT.replace(row + "\n", "").replace("| `%haoee chats` |", "| `%haoee chat` |")
    assert drifted != TEXT and update_readme.updated(drifted) == TEXT


def test_check_command_says_it_is_up_to_date() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_readme.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.strip() == "README.md's magic reference is up to date."


def test_every_option_of_every_cell_is_in_the_reference() -> None:
    from haoee_jupyter.notebook._media_options import COMMANDS
    from haoee_jupyter.notebook._options import OPTIONS, all_flags

    reference = section("Magic reference")
    tables = {"": OPTIONS} | {name: command.options for name, command in COMMANDS.items()}
    for name, table in tables.items():
        heading = f"### `%%haoee {name + ' ' if name else ''}[options]`"
        assert heading in reference, heading
        part = reference.split(heading, 1)[1].split("\n### ", 1)[0]
        for flag in all_flags(table):
            assert re.search(rf"`[^`]*(?<![\w-]){re.escape(flag)}(?![\w-])[^`]*`", part), f"{name or 'text'}: {flag}"


def test_every_subcommand_and_its_arguments_are_in_the_reference() -> None:
    from haoee_jupyter.notebook import _magics  # noqa: F401  (registers every subcommand)
    from haoee_jupyter.notebook._subcommands import SUBCOMMANDS

    reference = section("Magic reference")
    assert len(SUBCOMMANDS) >= 14
    for name, command in SUBCOMMANDS.items():
        assert f"| `%haoee {name}" in reference, name
        for flags, _ in command.arguments:
            if flags[0].startswith("-"):
                assert flags[-1] in reference, f"%haoee {name} {flags[-1]}"


def test_every_setting_is_in_the_reference() -> None:
    from haoee_jupyter.notebook._magics import Haoee

    reference = section("Magic reference")
    for name in Haoee.class_trait_names(config=True):
        assert f"| `Haoee.{name}` |" in reference, name


def test_quick_start_commands_are_makefile_targets() -> None:
    block = re.search(r"```bash\n(.*?)```", section("Quick start"), re.S)
    assert block, "the quick start has a bash block"
    commands = [line.split("#")[0].split() for line in block.group(1).splitlines() if line.strip()]
    assert commands == [["make", "demo"], ["make", "test"]]
    makefile = (ROOT / "Makefile").read_text()
    for _, target in commands:
        assert re.search(rf"^{target}:", makefile, re.M), f"no '{target}:' target in the Makefile"
    demo = re.search(r"^demo:.*?(?=^\S)", makefile, re.M | re.S)
    assert demo and "scripts/run_notebooks.py" in demo.group(0)


@pytest.mark.parametrize(
    "path", sorted(set(re.findall(r"\]\(((?:docs|notebooks|tests|scripts|bench)/[^)#\s]+)\)", TEXT)))
)
def test_files_the_readme_links_to_exist(path: str) -> None:
    assert (ROOT / path).is_file(), path


def test_screenshot_is_a_png() -> None:
    [picture] = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", TEXT)
    data = (ROOT / picture).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_every_notebook_is_described() -> None:
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"(notebooks/{notebook.name})" in section("Quick start"), notebook.name


def test_benchmarks_are_given_as_ratios_with_their_machine() -> None:
    benchmarks = section("Benchmarks")
    assert re.search(r"Measured on .*?\d+[- ]CPU", benchmarks, re.S), "the machine they were measured on"
    assert len(re.findall(r"\d+\.\d+x", benchmarks)) >= 8, "ratios"


def test_python_api_example_runs(tmp_path: Path, offline_server: Any) -> None:
    """The README's Python example, run as written against a server of the same protocol."""
    [example] = re.findall(r"```python\n(.*?)```", section("Python API"), re.S)
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAOEE_")}
    env |= {"HAOEE_API_KEY": "sk-readme-example-0123", "HAOEE_BASE_URL": offline_server.url}
    env["HAOEE_HOME"] = str(tmp_path / "home")
    completed = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert {path.suffix for path in (tmp_path / "haoee-media").iterdir()} == {".png", ".mp4"}
    assert "0 done" in completed.stdout and "1 done" in completed.stdout  # map's on_result
