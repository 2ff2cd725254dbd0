"""What a user sees in JupyterLab (headless Chromium): the form's one status line, its busy
state, a Stop that is not an error, a bad value said beside Run; -f code placing its code in
the next cell once however often it runs; error hints and %haoee offline as readable text.

Screenshots of each are kept in test-artifacts/ (ux-*.png), the form's in both themes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from _lab import ARTIFACTS, Lab, cell, open_notebook, run_cell

pytestmark = pytest.mark.browser

SETUP = ["%load_ext haoee_jupyter", "%haoee offline --latency-ms 30"]
CODE_CELL = "%%haoee -f code\nWrite a snippet that counts words"
CODE = 'prompt_words = 6\nprint(prompt_words, "words")'  # the offline server's -f code answer
STATUS = re.compile(r"^gpt-4\.1 · [\d,]+ in / [\d,]+ out tokens · \d+\.\d s · this session: [\d,]+ tokens in 1 call$")


def snapshot(locator: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / name))


def show_form(page: Any, lab: Lab, latency_ms: int = 30) -> Any:
    page.set_viewport_size({"width": 1280, "height": 1800})  # the whole form and its answer in the screenshots
    open_notebook(page, lab, ["%load_ext haoee_jupyter", f"%haoee offline --latency-ms {latency_ms}", "%haoee form"])
    for index in range(3):
        run_cell(page, index)
    form = page.locator(".haoee-form")
    form.locator(".haoee-prompt textarea").wait_for()
    return form


def sources(page: Any) -> list[str]:
    return list(
        page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells.map(c => c.source)")
    )


def color(locator: Any) -> str:
    return str(locator.evaluate("node => getComputedStyle(node).color"))


def css_color(page: Any, variable: str) -> str:
    """The computed colour of a theme variable, as getComputedStyle reports colours."""
    return str(
        page.evaluate(
            """(variable) => { const probe = document.createElement('span');
                   probe.style.color = `var(${variable})`; document.body.appendChild(probe);
                   const value = getComputedStyle(probe).color; probe.remove(); return value; }""",
            variable,
        )
    )


@pytest.fixture
def dark(page: Any) -> Iterator[Any]:
    """Switch the page to JupyterLab Dark (call it), back to Light at the end."""

    def switch(theme: str = "JupyterLab Dark") -> None:
        page.evaluate("(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme)
        light = "true" if theme == "JupyterLab Light" else "false"
        page.wait_for_function("(light) => document.body.dataset.jpThemeLight === light", arg=light)
        page.wait_for_timeout(300)  # the theme's CSS applies after the attribute

    yield switch
    switch("JupyterLab Light")


# --- the form ---------------------------------------------------------------------------------


def test_the_form_says_how_a_run_went_in_one_line_and_is_busy_meanwhile(page: Any, lab: Lab, dark: Any) -> None:
    form = show_form(page, lab)
    form.locator(".haoee-prompt textarea").fill("Explain entropy")
    form.locator("button.haoee-run").click()

    # streaming: the form itself is busy (Run reads Running… with a turning icon, only Stop works)
    page.wait_for_function(
        "() => document.querySelector('.haoee-form .haoee-answer').innerText.includes('▍')", timeout=20_000
    )
    run = form.locator("button.haoee-run")
    assert run.is_disabled() and run.inner_text().strip() == "Running…"
    assert run.locator("i.fa-spinner").count() == 1
    animation = run.locator("i.fa-spinner").evaluate("node => getComputedStyle(node).animationName")
    assert animation == "haoee-spin" and form.locator("button.haoee-stop").is_enabled()
    assert form.locator(".haoee-status").is_hidden()
    snapshot(form, "ux-form-busy.png")

    status = form.locator(".haoee-status")
    page.wait_for_function(
        "() => document.querySelector('.haoee-form .haoee-status').innerText.includes('this session')", timeout=20_000
    )
    assert STATUS.match(status.inner_text().strip()), status.inner_text()
    answer = form.locator(".haoee-answer")
    assert "out tokens" not in answer.inner_text() and answer.locator("sub").count() == 0  # said once
    assert answer.locator("h1, h2").count() >= 1 and "▍" not in answer.inner_text()
    assert run.inner_text().strip() == "Run" and run.is_enabled() and form.locator("button.haoee-stop").is_disabled()
    assert form.locator(".haoee-error").is_hidden()
    assert color(status) == css_color(page, "--jp-ui-font-color2")  # muted
    snapshot(form, "ux-form-status-light.png")

    dark()
    assert color(status) == css_color(page, "--jp-ui-font-color2")
    assert STATUS.match(status.inner_text().strip())
    snapshot(form, "ux-form-status-dark.png")


def test_stop_is_not_an_error_and_keeps_the_partial_answer(page: Any, lab: Lab, dark: Any) -> None:
    form = show_form(page, lab, latency_ms=300)
    form.locator(".haoee-prompt textarea").fill("Explain entropy")
    form.locator("button.haoee-run").click()
    page.wait_for_function(
        "() => document.querySelector('.haoee-form .haoee-answer').innerText.includes('demo answer')", timeout=20_000
    )
    form.locator("button.haoee-stop").click()

    status = form.locator(".haoee-status")
    page.wait_for_function(
        "() => document.querySelector('.haoee-form .haoee-status').innerText.startsWith('Stopped')", timeout=20_000
    )
    text = status.inner_text().strip()
    assert text.startswith("Stopped; the partial answer is kept · gpt-4.1 · ") and "this session:" in text
    assert "interrupted" not in form.locator(".haoee-answer").inner_text()  # one line says it, once
    assert "Offline demo answer" in form.locator(".haoee-answer").inner_text()
    assert form.locator(".haoee-error").is_hidden() and form.locator(".haoee-failed").count() == 0
    stopped = status.locator(".haoee-stopped")
    assert color(stopped) == css_color(page, "--jp-ui-font-color2") != css_color(page, "--jp-error-color1")
    snapshot(form, "ux-form-stopped-light.png")
    dark()
    assert color(stopped) == css_color(page, "--jp-ui-font-color2") != css_color(page, "--jp-error-color1")
    snapshot(form, "ux-form-stopped-dark.png")


def test_a_bad_value_is_said_beside_run_and_the_old_answer_is_dimmed(page: Any, lab: Lab) -> None:
    form = show_form(page, lab, latency_ms=0)
    form.locator(".haoee-prompt textarea").fill("Explain entropy")
    form.locator("button.haoee-run").click()
    page.wait_for_function(
        "() => document.querySelector('.haoee-form .haoee-status').innerText.includes('this session')", timeout=20_000
    )
    form.locator(".haoee-temperature input").fill("3")
    form.locator("button.haoee-run").click()

    error = form.locator(".haoee-error")
    error.wait_for()
    assert "Temperature must be from 0 to 2, not 3" in error.inner_text()
    assert color(error) == css_color(page, "--jp-error-color1")
    copy_box, error_box = form.locator("button.haoee-copy").bounding_box(), error.bounding_box()
    assert error_box["x"] > copy_box["x"] + copy_box["width"]  # in the buttons' row, after them
    assert error_box["y"] < copy_box["y"] + copy_box["height"] and copy_box["y"] < error_box["y"] + error_box["height"]
    answer_box = form.locator(".haoee-answer").bounding_box()
    assert error_box["y"] < answer_box["y"]
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.haoee-form .haoee-answer')).opacity < 0.5"
    )  # the answer from before, dimmed: not read as this error's
    assert float(form.locator(".haoee-status").evaluate("node => getComputedStyle(node).opacity")) < 0.5
    snapshot(form, "ux-form-bad-value.png")

    form.locator(".haoee-temperature input").fill("0.5")
    form.locator("button.haoee-run").click()
    page.wait_for_function(
        "() => document.querySelector('.haoee-form .haoee-status').innerText.includes('in 2 calls')", timeout=20_000
    )
    assert error.is_hidden()
    assert form.locator(".haoee-answer").evaluate("node => getComputedStyle(node).opacity") == "1"


# --- -f code ----------------------------------------------------------------------------------


def code_note(page: Any, index: int) -> str:
    return str(cell(page, index).locator(".haoee-code-note").inner_text()).strip()


def test_code_goes_into_the_next_cell_once_however_often_the_cell_runs(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, [*SETUP, CODE_CELL, "1 + 1"])
    for index in range(2):
        run_cell(page, index)
    # the first run as a user runs it: Shift+Enter, which moves on to the cell below
    cell(page, 2).locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[2].querySelector('.haoee-code-note')",
        timeout=30_000,
    )
    assert code_note(page, 2) == "The code is in the next cell."
    first = sources(page)
    assert len(first) == 5 and first[:3] == [*SETUP, CODE_CELL] and first[4] == "1 + 1"
    marker, code = first[3].split("\n", 1)
    assert re.fullmatch(r"# haoee: code from In \[\d+\] \(running that cell again replaces this one\)", marker)
    assert code == CODE
    assert "jp-mod-active" in (cell(page, 3).get_attribute("class") or "")  # the new cell, ready to run
    output = cell(page, 2).locator(".jp-OutputArea")
    assert output.locator("h1, h2, pre").count() >= 1 and "The code is in the next cell." in output.inner_text()
    snapshot(page.locator(".jp-Notebook"), "ux-code-first-run.png")

    # again: the same one cell below holds the new code (its marker names the new In [n])
    run_cell(page, 2)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[2].innerText.includes('replaced the code from the last run')",
        timeout=30_000,
    )
    second = sources(page)
    assert len(second) == 5 and second[4] == "1 + 1", second
    assert second[3].split("\n", 1)[1] == CODE and second[3] != first[3]  # a new In [n]
    assert sum(source.startswith("# haoee: code from") for source in second) == 1
    assert code_note(page, 2) == "The code is in the next cell (it replaced the code from the last run)."

    # and the cell it put there runs
    run_cell(page, 3)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[3].innerText.includes('6 words')", timeout=20_000
    )
    snapshot(page.locator(".jp-Notebook"), "ux-code-second-run.png")


def test_a_cell_below_without_the_marker_is_left_alone(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, [*SETUP, CODE_CELL, "my_own = 'code'"])
    for index in range(3):
        run_cell(page, index)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[2].querySelector('.haoee-code-note')",
        timeout=30_000,
    )
    shown = sources(page)
    assert len(shown) == 5 and shown[3].endswith("\n" + CODE) and shown[4] == "my_own = 'code'"


# --- what errors and %haoee offline read like -----------------------------------------------------


def test_a_refused_key_reads_as_two_plain_lines(page: Any, lab: Lab, dark: Any) -> None:
    open_notebook(page, lab, [*SETUP, "%%haoee -m fault-401\nExplain entropy"])
    for index in range(3):
        run_cell(page, index)
    error = cell(page, 2).locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
    error.wait_for(timeout=20_000)
    text = error.inner_text().strip()
    lines = text.splitlines()  # folded at words: a line starting with two spaces goes on the last
    assert all(len(line) <= 100 for line in lines), lines
    what, todo = " ".join(lines).replace("\n", " ").split(" → ")
    what, todo = " ".join(what.split()), "→ " + " ".join(todo.split())
    assert what.startswith("AuthenticationError: Incorrect API key provided") and todo.startswith("→ Run %haoee key")
    assert text.count("HAOEE_API_KEY") == 1 and "`" not in text
    dark()
    snapshot(cell(page, 2), "ux-error-401-dark.png")


def test_offline_says_where_its_server_is_in_rendered_markdown(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, SETUP)
    for index in range(2):
        run_cell(page, index)
    output = cell(page, 1).locator(".jp-RenderedMarkdown")
    output.wait_for(timeout=20_000)
    text = output.inner_text().strip()
    assert re.fullmatch(
        r"Offline demo server at http://127\.0\.0\.1:\d+\S* \(30 ms per token\): this session uses it, no key needed\. "
        r"%haoee offline stop goes back to your own settings\.",
        text,
    ), text
    assert "`" not in text and output.locator("strong").inner_text() == "Offline demo server"
    assert output.locator("code").count() == 2 and output.locator("pre").count() == 0  # no monospace block
    assert output.locator("p").count() == 1
    snapshot(cell(page, 1), "ux-offline.png")
