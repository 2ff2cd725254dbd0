"""The README's screenshot: a streamed answer as JupyterLab renders it, from the offline demo server.

The picture is kept in test-artifacts/readme-streamed-answer.png on every run; with
HAOEE_UPDATE_SCREENSHOT=1 it also replaces docs/streamed-answer.png, the one the README shows:

    HAOEE_UPDATE_SCREENSHOT=1 .venv/bin/pytest tests/browser/test_readme_screenshot.py
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from typing import Any

import pytest
from _lab import ARTIFACTS, REPO, Lab, cell, open_notebook, run_cell

pytestmark = pytest.mark.browser

README_PICTURE = REPO / "docs" / "streamed-answer.png"
PROMPT = "%%haoee\nExplain entropy, with a small table and a Python snippet."


# Notes whether the cell's outputs ever showed the streaming cursor (a MutationObserver sees
# every state, however quickly the answer streams).
WATCH_FOR_CURSOR = """(index) => {
    const node = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
    window.__sawCursor = false;
    new MutationObserver(() => {
        const outputs = node.querySelector('.jp-OutputArea');
        if (outputs && outputs.innerText.includes('▍')) window.__sawCursor = true;
    }).observe(node, {childList: true, subtree: true, characterData: true});
}"""


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_a_streamed_answer_for_the_readme(page: Any, lab: Lab) -> None:
    page.set_viewport_size({"width": 1000, "height": 1000})
    open_notebook(page, lab, ["%load_ext haoee_jupyter\n%haoee offline --latency-ms 10", PROMPT])
    run_cell(page, 0)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[0].innerText.includes('Offline demo server')"
    )
    page.evaluate(WATCH_FOR_CURSOR, 1)
    run_cell(page, 1)  # returns once the cell has run
    answer = cell(page, 1)
    output = answer.locator(".jp-OutputArea-output")
    page.wait_for_function(
        """() => { const text = document.querySelectorAll('.jp-Notebook .jp-Cell')[1].innerText;
                   return text.includes('out tokens') && !text.includes('▍'); }""",
        timeout=60_000,
    )
    assert page.evaluate("() => window.__sawCursor"), "it streamed: the cursor showed at the open end"
    # Rendered, not raw: a heading, a table, highlighted code, and the footer.
    assert output.locator("h2").count() >= 1 and output.locator("table").count() == 1
    assert output.locator("pre").count() >= 1 and output.locator("code").count() >= 1
    text = output.inner_text()
    assert "##" not in text and "|---|" not in text and "```" not in text
    assert re.search(r"gpt-4\.1 · \d+ in / \d+ out tokens · \d+\.\d s", text)
    # The first cell active, so this one shows no selection bar nor cell toolbar in the picture.
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 0; }")
    page.mouse.move(0, 0)  # no hover highlight in the picture
    ARTIFACTS.mkdir(exist_ok=True)
    kept = ARTIFACTS / "readme-streamed-answer.png"
    answer.screenshot(path=str(kept))
    width, height = png_size(kept.read_bytes())
    assert 600 <= width <= 1000 and height >= 300, (width, height)
    if os.environ.get("HAOEE_UPDATE_SCREENSHOT") == "1":
        README_PICTURE.parent.mkdir(exist_ok=True)
        shutil.copy(kept, README_PICTURE)
