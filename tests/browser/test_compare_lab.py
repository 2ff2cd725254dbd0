"""Models side by side, and a batch's progress and summary, in a real JupyterLab in headless Chromium.

A MutationObserver records each state of the cell's outputs while the answers stream, so the
test checks what the user saw along the way, not only at the end. Screenshots go to
test-artifacts/ (compare-grid.png, compare-streaming.png, batch-summary.png).
"""

from __future__ import annotations

from typing import Any

import pytest
from _lab import ARTIFACTS, Lab, cell, open_notebook, run_cell

pytestmark = pytest.mark.browser

MODELS = ["gpt-4.1", "qwen3-max", "deepseek-v4-flash"]

# Transient states are recorded as they happen (polling could miss them on a fast run).
RECORD = """(index) => {
    const node = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
    window.__states = [];
    new MutationObserver(() => {
        const columns = [...node.querySelectorAll('.haoee-grid-column')];
        window.__states.push({
            outputs: node.querySelectorAll('.jp-OutputArea-output').length,
            columns: columns.length,
            streaming: columns.filter(c => c.innerText.includes('streaming…')).length,
            cursor: columns.filter(c => c.innerText.includes('▍')).length,
            progress: node.querySelectorAll('.haoee-progress').length,
            text: node.innerText.slice(0, 400),
        });
    }).observe(node, {childList: true, subtree: true, characterData: true});
}"""


def test_the_answers_stream_side_by_side_in_a_grid(page: Any, lab: Lab) -> None:
    cells = [
        "%load_ext haoee_jupyter",
        "%haoee offline --latency-ms 15",
        f"%%haoee --models {','.join(MODELS)}\nExplain entropy",
    ]
    open_notebook(page, lab, cells)
    page.evaluate(RECORD, 2)
    for index in range(len(cells)):
        run_cell(page, index)
    target = cell(page, 2)
    page.wait_for_function("() => window.__states.some(s => s.streaming > 0)", timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compare-streaming.png"))
    page.wait_for_function(
        """(n) => { const cols = [...document.querySelectorAll('.haoee-grid-column')];
                    return cols.length === n && cols.every(c => c.innerText.includes('out tokens')); }""",
        arg=len(MODELS),
        timeout=60_000,
    )
    grid = target.locator(".haoee-grid")
    assert grid.count() == 1 and target.locator(".jp-OutputArea-output").count() == 1
    assert grid.evaluate("g => getComputedStyle(g).display") == "grid"
    columns = grid.locator(".haoee-grid-column")
    boxes = [columns.nth(i).bounding_box() for i in range(len(MODELS))]
    assert all(abs(box["y"] - boxes[0]["y"]) < 2 for box in boxes), "side by side, tops aligned"
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    assert max(b["width"] for b in boxes) - min(b["width"] for b in boxes) < 2, "equal widths"
    for index, model in enumerate(MODELS):
        column = columns.nth(index)
        text = column.inner_text()
        assert column.locator("strong").first.inner_text() == model
        # Rendered Markdown in each column: a heading, a table, code; no raw markers left.
        assert column.locator("h2").count() >= 1 and column.locator("table").count() == 1
        assert column.locator("pre code, pre").count() >= 1
        assert "**" not in text and "```" not in text and "▍" not in text
        footer = column.locator("sub").last.inner_text()
        assert footer.startswith(f"{model} · ") and "out tokens" in footer
    states = [s for s in page.evaluate("() => window.__states") if s["columns"]]
    assert any(s["streaming"] >= 2 and s["cursor"] >= 1 for s in states), "seen streaming in several columns at once"
    assert all(s["outputs"] == 1 and s["columns"] == len(MODELS) for s in states), "one output, never more"
    grid.screenshot(path=str(ARTIFACTS / "compare-grid.png"))


def test_a_batch_shows_progress_then_its_summary(page: Any, lab: Lab) -> None:
    cells = [
        "%load_ext haoee_jupyter",
        "%haoee offline --latency-ms 100",
        "import pandas as pd\nbooks = pd.DataFrame({'title': ['Dune', 'Emma', 'Ulysses', 'Middlemarch', 'Beloved', 'Kindred']})",
        "%%haoee --over books -o out --concurrency 1\nOne line about {title}",
        "list(out.columns), out.answer.str.contains('One line about').all()",
    ]
    open_notebook(page, lab, cells)
    page.evaluate(RECORD, 3)
    for index in range(len(cells)):
        run_cell(page, index)
    batch = cell(page, 3)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[3].innerText.includes('Batch over books')",
        timeout=60_000,
    )
    output = batch.locator(".jp-OutputArea-output")
    assert output.count() == 1 and batch.locator(".haoee-progress").count() == 0, "the summary replaced the bar"
    bars = [s["text"] for s in page.evaluate("() => window.__states") if s["progress"]]
    assert bars and any(" finished · " in text and "rows/s" in text for text in bars), "the bar, while it ran"
    assert all(s["outputs"] <= 1 for s in page.evaluate("() => window.__states"))
    assert "6 done · 0 failed" in output.inner_text()
    table = output.locator("table")
    assert table.count() == 1 and table.locator("tbody tr").count() == 5  # the first rows of the result
    assert "Dune" in table.inner_text()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[4].innerText.includes('True')", timeout=30_000
    )
    assert "['title', 'answer']" in cell(page, 4).locator(".jp-OutputArea-output").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    output.screenshot(path=str(ARTIFACTS / "batch-summary.png"))
