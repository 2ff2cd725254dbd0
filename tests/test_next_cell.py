"""Where ``%%haoee -f code`` puts the code, in a real IPython shell: a script for JupyterLab (told
apart by its execute request's metadata), set_next_input elsewhere, and a line that says which.
The browser half (the script replaces the cell it put there before) is in tests/browser/test_ux_lab.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from haoee_jupyter.notebook._next_cell import ADDED_ELSEWHERE, MARKER, marker_line
from haoee_jupyter.notebook._session import Session

CODE = 'prompt_words = 6\nprint(prompt_words, "words")'  # the offline server's -f code answer
JUPYTERLAB = {"deletedCells": [], "recordTiming": False, "cellId": "0f6c4b3a"}  # as JupyterLab 4 sends it


@pytest.fixture(scope="module")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "haoee_jupyter")
    return shell


@pytest.fixture(autouse=True)
def clean(ip: InteractiveShell, offline_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    for name in list(os.environ):
        if name.startswith("HAOEE_"):
            monkeypatch.delenv(name)
    magics = ip.magics_manager.registry["Haoee"]
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)
    magics.base_url, magics.api_key, magics.max_retries = offline_server.url, "offline-demo", 0
    magics.state.session = Session()
    yield []
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)


@pytest.fixture
def next_inputs(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    calls: list[tuple[str, bool]] = []
    monkeypatch.setattr(ip, "set_next_input", lambda text, replace=False: calls.append((text, replace)), raising=False)
    return calls


def run_code_cell(ip: InteractiveShell, **kwargs: Any) -> tuple[Any, list[dict[str, Any]]]:
    with capture_output() as captured:
        result = ip.run_cell("%%haoee -f code\nWrite a snippet that counts words", store_history=True, **kwargs)
    assert result.error_in_exec is None, result.error_in_exec
    return result, list(captured._outputs)


def test_in_jupyterlab_a_script_puts_the_marked_code_in_the_next_cell(
    ip: InteractiveShell, next_inputs: list[Any]
) -> None:
    result, outputs = run_code_cell(ip, cell_id=JUPYTERLAB["cellId"], cell_meta=JUPYTERLAB)
    assert next_inputs == []  # set_next_input would add a cell on every run
    data = outputs[-1]["data"]
    assert set(data) == {"application/javascript", "text/markdown", "text/plain"}
    assert data["text/plain"] == "The code is in the next cell."
    script = data["application/javascript"]
    text = json.loads(re.search(r"const text = (.*);\n", script).group(1))
    assert text == f"{marker_line(result.execution_count)}\n{CODE}"
    assert text.startswith(f"{MARKER}In [{result.execution_count}] ")
    assert json.loads(re.search(r"const marker = (.*);\n", script).group(1)) == MARKER
    assert "notebook:insert-cell-below" in script and "view.dispatch" in script
    assert "The code is in the next cell (it replaced the code from the last run)." in script

    _, again = run_code_cell(ip, cell_id=JUPYTERLAB["cellId"], cell_meta=JUPYTERLAB)
    assert again[-1]["data"]["application/javascript"] != script  # a new script (nonce) for each run


def test_elsewhere_set_next_input_adds_a_cell_and_the_note_says_so(
    ip: InteractiveShell, next_inputs: list[Any]
) -> None:
    _, outputs = run_code_cell(ip)  # no JupyterLab metadata: Notebook 6, VS Code, nbclient...
    assert next_inputs == [(CODE, False)]
    assert outputs[-1]["data"] == {"text/markdown": f"<sub>{ADDED_ELSEWHERE}</sub>", "text/plain": ADDED_ELSEWHERE}
    assert "application/javascript" not in json.dumps(outputs)


def test_a_failed_answer_puts_no_code_anywhere(ip: InteractiveShell, next_inputs: list[Any]) -> None:
    with capture_output() as captured:
        result = ip.run_cell("%%haoee -f code -m fault-500\nWrite code", cell_meta=JUPYTERLAB)
    assert result.error_in_exec is not None and next_inputs == []
    assert "application/javascript" not in json.dumps(list(captured._outputs))


def test_in_terminal_ipython_the_code_is_at_the_next_prompt(tmp_path: Any, offline_server: Any) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAOEE_")}
    env.update(HAOEE_BASE_URL=offline_server.url, HAOEE_API_KEY="offline-demo", IPYTHONDIR=str(tmp_path))
    code = (
        "ip = get_ipython(); ip.run_cell_magic('haoee', '-f code', 'Write a snippet that counts words'); "
        "print(type(ip).__name__, repr(ip.rl_next_input))"
    )
    command = [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "--ext=haoee_jupyter", "-c", code]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    *_, note, last = result.stdout.rstrip("\n").split("\n")
    assert note == "The code is at the next prompt."
    assert last == f"TerminalInteractiveShell {CODE!r}"
