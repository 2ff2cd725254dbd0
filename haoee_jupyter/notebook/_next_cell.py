"""Where ``%%haoee -f code`` puts the answer's code: the next cell, once, however often it runs.

IPython's ``set_next_input(text)`` makes JupyterLab add a new cell on every run, and its
``replace=True`` replaces the running cell itself. So in JupyterLab (and Notebook 7, the same
frontend) a one-shot script does it instead, as the form's Copy as cell does: the code's first
line is a marker naming the cell it came from; when the cell below starts with the marker, its
code is replaced, otherwise a new cell is inserted below. The script then says which, under the
answer. Elsewhere ``set_next_input`` is used, and the note says what it does there: a new cell
per run in other notebook frontends, the next prompt in a terminal.

    >>> place_code(shell, "print('hi')", number=7)   # the next cell: "# haoee: code from In [7] ..."
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ..render import bundle
from ._copy_script import NEXT_CELL_SCRIPT, PLACED
from ._display import in_terminal

#: How the first line of code put in a cell starts; the script replaces only a cell that starts so.
MARKER = "# haoee: code from "
#: Said where set_next_input adds a cell (a frontend other than JupyterLab).
ADDED_ELSEWHERE = "The code is in a new cell below (each run of this cell adds one)."
AT_PROMPT = "The code is at the next prompt."


def marker_line(number: int | None) -> str:
    cell = f"In [{number}]" if number is not None else "the cell above"
    return f"{MARKER}{cell} (running that cell again replaces this one)"


def place_code(shell: Any, code: str, number: int | None = None) -> str:
    """Put ``code`` in the cell after the running one (or the next prompt); returns how:
    "script" (JupyterLab: replaced or inserted by the browser), "next input" or "prompt"."""
    from IPython.display import display

    if in_terminal(shell):
        shell.set_next_input(code)
        print(AT_PROMPT)
        return "prompt"
    if not in_jupyterlab(shell):
        shell.set_next_input(code, replace=False)
        display(bundle(_note(ADDED_ELSEWHERE), ADDED_ELSEWHERE), raw=True)
        return "next input"
    text = f"{marker_line(number)}\n{code}"
    constants = {
        "nonce": uuid.uuid4().hex,
        "text": text,
        "marker": MARKER,
        "created": int(time.time() * 1000),
        "PLACED": PLACED,
    }
    script = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in constants.items())
    # The script wins where outputs run JavaScript (JupyterLab ranks it first for a trusted
    # output); a reopened notebook's untrusted output, and nbconvert, show the note instead.
    data = bundle(_note(PLACED["inserted"]), PLACED["inserted"])
    display({"application/javascript": script + NEXT_CELL_SCRIPT, **data}, raw=True)
    return "script"


def in_jupyterlab(shell: Any) -> bool:
    """Whether the running cell was sent by JupyterLab (or Notebook 7): its execute request's
    metadata carries the cell's id and JupyterLab's own ``deletedCells`` / ``recordTiming``."""
    result = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    meta = getattr(getattr(result, "info", None), "cell_meta", None)
    return isinstance(meta, dict) and "cellId" in meta and ("deletedCells" in meta or "recordTiming" in meta)


def _note(text: str) -> str:
    return f"<sub>{text}</sub>"
