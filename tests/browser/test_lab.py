"""The form and the magic in a real JupyterLab, in headless Chromium.

`window.jupyterapp` (from --expose-app-in-browser) is used only by the tests, to wait for the
kernel, run cells and read the notebook model; the form itself never relies on it.
"""

from __future__ import annotations

from typing import Any

import pytest
from _lab import ARTIFACTS, Lab, cell, open_notebook, run_cell

pytestmark = pytest.mark.browser

SETUP = ["%load_ext haoee_jupyter", "%haoee offline --latency-ms 30"]
CURSOR = "▍"
STOPPED = "Stopped; the partial answer is kept"


def show_form(page: Any, lab: Lab, cells: list[str]) -> Any:
    """Open a notebook with these cells and run them up to `%haoee form`; the form's locator."""
    open_notebook(page, lab, cells)
    for index in range(cells.index("%haoee form") + 1):
        run_cell(page, index)
    form = page.locator(".haoee-form")
    form.locator(".haoee-prompt textarea").wait_for()
    return form


def snapshot(locator: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / name))


def answer_text(form: Any) -> str:
    return str(form.locator(".haoee-answer").inner_text())


def sources(page: Any) -> list[str]:
    return list(
        page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells.map(c => c.source)")
    )


def test_form_streams_rendered_markdown_and_shows_usage(page: Any, lab: Lab) -> None:
    form = show_form(page, lab, [*SETUP, "%haoee form"])
    form.locator(".haoee-prompt textarea").fill("Explain entropy")
    form.locator("button.haoee-run").click()

    # while it streams: the text grows with a cursor, Run is disabled and Stop enabled
    page.wait_for_function(
        "() => { const a = document.querySelector('.haoee-form .haoee-answer'); return a && a.innerText.includes('▍'); }"
    )
    assert form.locator("button.haoee-run").is_disabled() and form.locator("button.haoee-stop").is_enabled()

    answer = form.locator(".haoee-answer .jp-OutputArea-output")
    answer.locator("table").wait_for(timeout=20_000)
    page.wait_for_function("() => document.querySelector('.haoee-form .haoee-status').innerText.includes('out tokens')")
    assert answer.locator("h1, h2").count() >= 1
    assert answer.locator("li").count() >= 2
    assert answer.locator("pre code, pre").count() >= 1
    assert CURSOR not in answer_text(form)
    assert "Offline demo answer" in answer.locator("h1, h2").first.inner_text()
    assert form.locator("button.haoee-run").is_enabled() and form.locator("button.haoee-stop").is_disabled()
    assert form.locator(".haoee-error").is_hidden()
    snapshot(form, "form.png")  # for a look at the layout


def test_other_cells_run_while_it_streams_and_stop_keeps_the_partial_answer(page: Any, lab: Lab) -> None:
    form = show_form(page, lab, ["%load_ext haoee_jupyter", "%haoee offline --latency-ms 300", "%haoee form", "6 * 7"])
    form.locator(".haoee-prompt textarea").fill("Explain entropy")
    form.locator("button.haoee-run").click()
    page.wait_for_function(
        "() => document.querySelector('.haoee-form .haoee-answer').innerText.includes('demo answer')"
    )  # a few tokens in

    run_cell(page, 3)  # the kernel is not blocked by the request
    assert cell(page, 3).locator(".jp-OutputArea-output").inner_text().strip() == "42"
    assert CURSOR in answer_text(form) and form.locator("button.haoee-stop").is_enabled()

    form.locator("button.haoee-stop").click()

    status = form.locator(".haoee-status")  # the one status line under the answer; not an error
    status.wait_for()
    assert status.inner_text().strip().startswith(STOPPED + " · ")
    page.wait_for_function("() => !document.querySelector('.haoee-form .haoee-answer').innerText.includes('▍')")
    kept = answer_text(form)
    assert "Offline demo answer" in kept
    page.wait_for_timeout(700)  # two more token intervals: nothing is added after Stop
    assert answer_text(form) == kept
    assert form.locator("button.haoee-run").is_enabled() and form.locator("button.haoee-stop").is_disabled()
    snapshot(form, "form-stopped.png")


# Records each state of the form's answer while it streams: how many outputs, and its text.
RECORD_ANSWER = """() => {
    const node = document.querySelector('.haoee-form .haoee-answer');
    window.__answer = [];
    new MutationObserver(() => {
        const outputs = [...node.querySelectorAll('.jp-OutputArea-output')];
        window.__answer.push({count: outputs.length, text: outputs.map(o => o.innerText).join('\\n')});
    }).observe(node, {childList: true, subtree: true, characterData: true});
}"""


def test_form_streams_in_pieces_then_shows_one_answer(page: Any, lab: Lab) -> None:
    # small pieces and room for 4, so the offline answer (about 530 characters) is cut and merged
    pieces = "from haoee_jupyter.notebook._form_status import WidgetView\nWidgetView.soft_limit, WidgetView.max_outputs = 60, 4"
    form = show_form(page, lab, [*SETUP, pieces, "%haoee form"])
    page.evaluate(RECORD_ANSWER)
    form.locator(".haoee-prompt textarea").fill("Explain entropy")
    form.locator("button.haoee-run").click()
    page.wait_for_function(
        "() => document.querySelector('.haoee-form .haoee-status').innerText.includes('this session')", timeout=30_000
    )
    seen = [state for state in page.evaluate("() => window.__answer") if CURSOR in state["text"]]
    counts = [state["count"] for state in seen]
    assert max(counts) >= 2 and max(counts) <= 4, counts  # in pieces, merged before a fifth
    assert any(later < earlier for earlier, later in zip(counts, counts[1:])), counts
    for state in seen:  # nothing shown twice
        assert state["text"].count("Offline demo answer") <= 1 and state["text"].count("What the demo noticed") <= 1
    answer = form.locator(".haoee-answer .jp-OutputArea-output")
    assert answer.count() == 1 and answer.locator("table").count() == 1 and answer.locator("h2").count() == 1
    assert CURSOR not in answer_text(form) and "out tokens" not in answer_text(form)
    assert answer.locator("pre").count() == 1 and "identical" in answer_text(form)  # the whole answer, once


def test_magic_cell_streams_rendered_markdown(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, [*SETUP, "%%haoee\nExplain entropy"])
    for index in range(2):
        run_cell(page, index)
    output = cell(page, 2).locator(".jp-OutputArea-output")
    page.evaluate(
        "() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 2; window.jupyterapp.commands.execute('notebook:run-cell'); }"
    )
    # an intermediate state: partial Markdown with the streaming cursor, already rendered
    page.wait_for_function(
        """() => { const out = document.querySelectorAll('.jp-Notebook .jp-Cell')[2].querySelector('.jp-OutputArea-output');
                   return out && out.innerText.includes('▍') && out.querySelector('h1, h2'); }"""
    )
    output.locator("table").wait_for(timeout=20_000)
    assert output.locator("h1, h2").count() >= 1 and output.locator("li").count() >= 2
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[2].querySelector('.jp-OutputArea-output').innerText.includes('out tokens')"
    )
    assert CURSOR not in output.inner_text() and output.locator("pre").count() >= 1


def test_copy_as_cell_inserts_a_working_cell_below(page: Any, lab: Lab) -> None:
    form = show_form(page, lab, [*SETUP, "%haoee form", "1 + 1"])
    form.locator(".haoee-instructions textarea").fill("Don't ramble.")
    form.locator(".haoee-temperature input").fill("0.5")
    form.locator(".haoee-prompt textarea").fill("Explain entropy")
    form.locator("button.haoee-copy").click()

    expected = '%%haoee -m gpt-4.1 -i "Don\'t ramble." -t 0.5\nExplain entropy'
    page.wait_for_function("() => document.querySelector('.haoee-form .haoee-copy-note').innerText.includes('Added')")
    assert form.locator(".haoee-copy-note").inner_text().strip() == "Added as a new code cell below this one."
    assert sources(page) == [*SETUP, "%haoee form", expected, "1 + 1"]
    new_cell = cell(page, 3)
    assert "jp-mod-active" in (new_cell.get_attribute("class") or "")

    # the inserted cell is active in command mode: Shift+Enter runs it, and it answers
    page.keyboard.press("Shift+Enter")
    new_cell.locator(".jp-OutputArea-output table").wait_for(timeout=20_000)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[3].querySelector('.jp-OutputArea-output').innerText.includes('out tokens')"
    )

    # without the toolbar button to press, it falls back to the clipboard and a selected text box
    page.evaluate(
        "() => document.querySelectorAll('.jp-NotebookPanel-toolbar [data-command=\"notebook:insert-cell-below\"]').forEach(b => b.remove())"
    )
    form.locator("button.haoee-copy").click()
    note = form.locator(".haoee-copy-note")
    page.wait_for_function(
        "() => document.querySelector('.haoee-form .haoee-copy-note').innerText.includes('Copied to the clipboard')"
    )
    assert note.inner_text().strip() == "Copied to the clipboard. Paste this into a new cell:"
    assert page.evaluate("() => navigator.clipboard.readText()") == expected
    box = form.locator(".haoee-copy-text textarea")
    assert box.input_value() == expected and box.is_visible()
    assert page.evaluate(
        """() => { const box = document.querySelector('.haoee-form .haoee-copy-text textarea');
                   return box.readOnly && document.activeElement === box && box.selectionStart === 0 && box.selectionEnd === box.value.length; }"""
    )
    assert len(sources(page)) == 5
