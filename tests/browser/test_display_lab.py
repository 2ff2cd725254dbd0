"""What a streamed answer looks like in a real JupyterLab, in headless Chromium.

A MutationObserver in the page records every state of a cell's outputs while the answer
streams, so the tests can check what the user saw at each moment, not only at the end.
Screenshots of each case are kept in test-artifacts/.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _lab import ARTIFACTS, Lab, cell, open_notebook, run_cell

pytestmark = pytest.mark.browser

CURSOR = "▍"

# Records each state of one cell's outputs: how many, their text, their identity (a node that
# is re-created or re-rendered shows up as a new id or new HTML), where the cursor is.
RECORD = """(index) => {
    const node = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
    let next = 0;
    window.__states = [];
    const record = () => {
        const outputs = [...node.querySelectorAll('.jp-OutputArea-output')];
        if (outputs.some(o => !o.firstElementChild)) return;  // a render still under way
        // a node re-rendered gets new children: tag the first child of each output
        const ids = outputs.map(o => o.firstElementChild.__id ?? (o.firstElementChild.__id = next++));
        window.__states.push({
            count: outputs.length,
            ids: ids,
            text: outputs.map(o => o.innerText).join('\\n'),
            cursorInCode: outputs.some(o => [...o.querySelectorAll('pre')].some(p => p.innerText.includes('▍'))),
            folds: outputs.map(o => { const d = o.querySelector('details'); return d ? (d.open ? 'open' : 'closed') : ''; }),
        });
    };
    new MutationObserver(record).observe(node, {childList: true, subtree: true, characterData: true});
}"""


def snapshot(locator: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / name))


def snapshot_now(page: Any, name: str) -> None:
    """The page as it is this moment (an element's screenshot waits for it to stop changing)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def run_recorded(page: Any, lab: Lab, cells: list[str]) -> Any:
    """Open a notebook, record the last cell's outputs, run every cell; the last cell's locator."""
    open_notebook(page, lab, cells)
    last = len(cells) - 1
    page.evaluate(RECORD, last)
    for index in range(len(cells)):
        run_cell(page, index)
    return cell(page, last)


def wait_until_done(page: Any, index: int, words: str = "out tokens") -> None:
    page.wait_for_function(
        """([index, words]) => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
               return [...c.querySelectorAll('.jp-OutputArea-output')].some(o => o.innerText.includes(words)); }""",
        arg=[index, words],
        timeout=60_000,
    )


def states(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("() => window.__states"))


def sse(text: str, chunk: int = 12) -> bytes:
    """A streamed Responses-API answer of this text."""
    events: list[dict[str, Any]] = [{"type": "response.created", "response": {"id": "r1", "status": "in_progress"}}]
    events += [
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": text[i : i + chunk]}
        for i in range(0, len(text), chunk)
    ]
    message = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
    usage = {"input_tokens": 4, "output_tokens": len(text) // 4, "total_tokens": 4 + len(text) // 4}
    done = {"id": "r1", "status": "completed", "model": "gpt-4.1", "output": [message], "usage": usage}
    events.append({"type": "response.completed", "response": done})
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def long_answer() -> str:
    sections = []
    for number in range(1, 11):
        code = "".join(f"    total += weight({n}) * value({n})\n" for n in range(12))
        rows = "".join(f"| item {n} | {n * number} |\n" for n in range(6))
        sections.append(
            f"## Part {number}\n\n"
            + "Entropy counts the **microscopic states** behind one _macroscopic_ state, and `S = k log W` "
            "says how. "
            * 4
            + f"\n\n```python\ndef part_{number}():\n    total = 0\n{code}    return total\n```\n\n"
            + f"| name | value |\n|---|--:|\n{rows}\n"
        )
    return "".join(sections) + "That is all."


def test_a_long_answer_streams_in_frozen_pieces_then_shows_as_one(page: Any, lab: Lab, http_server: Any) -> None:
    answer = long_answer()
    body = sse(answer)
    http_server.add(
        body=[part for start in range(0, len(body), 2000) for part in (body[start : start + 2000], 0.1)],
        content_type="text/event-stream",
    )
    setup = (
        "%load_ext haoee_jupyter\n"
        f"%config Haoee.base_url = {http_server.url!r}\n%config Haoee.api_key = 'sk-browser-test'"
    )
    output = run_recorded(page, lab, [setup, "%%haoee\nExplain entropy at length"])
    page.wait_for_function("() => window.__states.some(s => s.count >= 3)", timeout=60_000)
    snapshot_now(page, "display-long-streaming.png")
    wait_until_done(page, 1)
    seen = states(page)
    final = seen[-1]
    assert final["count"] == 1 and CURSOR not in final["text"]
    assert output.locator(".jp-OutputArea-output h2").count() == 10
    assert output.locator(".jp-OutputArea-output table").count() == 10
    assert output.locator(".jp-OutputArea-output pre").count() == 10
    assert "That is all." in final["text"]
    # while it streamed: several outputs, and a frozen one is never rendered again
    streaming = [s for s in seen if s["count"] >= 2 and CURSOR in s["text"]]
    assert max(s["count"] for s in streaming) >= 4
    first = streaming[0]["ids"][0]
    assert all(state["ids"][0] == first for state in streaming)
    assert len({state["ids"][1] for state in streaming if state["count"] >= 3}) == 1
    assert any(s["cursorInCode"] for s in streaming)  # the cursor stays visible inside an open code block
    snapshot(output, "display-long-final.png")
    # saved, the notebook holds one clean output: the whole answer
    path = page.evaluate(
        """async () => { const panel = window.jupyterapp.shell.currentWidget;
                          await panel.context.save(); return panel.context.path; }"""
    )
    saved = json.loads((lab.root / path).read_text())["cells"][1]["outputs"]
    assert [output["output_type"] for output in saved] == ["display_data"]
    markdown = "".join(saved[0]["data"]["text/markdown"])
    assert markdown.startswith(answer) and CURSOR not in markdown


def test_pieces_merge_before_jupyterlab_hides_outputs(page: Any, lab: Lab, http_server: Any) -> None:
    # JupyterLab shows 50 outputs of a cell, then "Show more outputs"; with room for 5 here, the
    # frozen pieces are merged into one output (sent again once) before the sixth
    answer = long_answer()
    body = sse(answer)
    http_server.add(
        body=[part for start in range(0, len(body), 3000) for part in (body[start : start + 3000], 0.05)],
        content_type="text/event-stream",
    )
    setup = (
        "%load_ext haoee_jupyter\n"
        f"%config Haoee.base_url = {http_server.url!r}\n%config Haoee.api_key = 'sk-browser-test'\n"
        "from haoee_jupyter.notebook._display import NotebookView\n"
        "NotebookView.max_outputs, NotebookView.soft_limit = 5, 600"
    )
    output = run_recorded(page, lab, [setup, "%%haoee\nExplain entropy at length"])
    wait_until_done(page, 1)
    seen = [s for s in states(page) if CURSOR in s["text"]]
    assert max(s["count"] for s in seen) <= 5 and page.locator(".jp-TrimmedOutputs").count() == 0
    counts = [s["count"] for s in seen]
    assert any(later < earlier for earlier, later in zip(counts, counts[1:])), counts  # merged while streaming
    for state in seen:  # nothing shown twice: each part's heading once
        headings = [line for line in state["text"].splitlines() if line.startswith("Part ")]
        assert len(headings) == len(set(headings)), headings
    assert states(page)[-1]["count"] == 1 and output.locator(".jp-OutputArea-output h2").count() == 10


def test_raw_markdown_does_not_flash_while_streaming(page: Any, lab: Lab) -> None:
    cells = [
        "%load_ext haoee_jupyter\n%haoee offline --latency-ms 25\n%config Haoee.updates_per_second = 1000",
        "%%haoee\nExplain entropy",
    ]
    output = run_recorded(page, lab, cells)
    page.wait_for_function("() => window.__states.some(s => s.text.includes('fingerprint'))")
    snapshot_now(page, "display-markdown-streaming.png")
    wait_until_done(page, 1)
    seen = [s for s in states(page) if CURSOR in s["text"]]
    assert len(seen) > 20  # token by token (about 120 tokens)
    for state in seen:
        text = state["text"]
        for raw in ("**", "`", "|", "##", "](", "_Offline", "> Explain"):
            assert raw not in text, f"raw {raw!r} showed: {text[-200:]!r}"
        assert not any(line.startswith(("- ", "* ", "#")) for line in text.splitlines()), text[-200:]
    assert any(s["cursorInCode"] for s in seen)  # inside the code block the cursor is still there
    final = states(page)[-1]
    assert CURSOR not in final["text"] and output.locator(".jp-OutputArea-output table").count() == 1
    snapshot(output, "display-markdown-final.png")


def _fold_styles(output: Any) -> dict[str, str]:
    return dict(
        output.evaluate(
            """(cell) => { const out = cell.querySelector('.jp-OutputArea-output');
                const fold = out.querySelector('details > div'), answer = out.querySelector('details ~ p, h2 ~ p');
                const f = getComputedStyle(fold), a = getComputedStyle(answer);
                return {fold: f.color, answer: a.color, border: f.borderLeftWidth + ' ' + f.borderLeftStyle,
                        borderColor: f.borderLeftColor, background: getComputedStyle(document.body).backgroundColor}; }"""
        )
    )


def test_reasoning_streams_in_a_fold_above_the_answer(page: Any, lab: Lab) -> None:
    cells = [
        "%load_ext haoee_jupyter\n%haoee offline --latency-ms 40\n%config Haoee.updates_per_second = 1000",
        "%%haoee --reasoning low -m gpt-5.2\nWhy is the sky blue?",
    ]
    output = run_recorded(page, lab, cells)
    page.wait_for_function(
        "() => window.__states.some(s => s.folds[0] === 'open' && s.text.includes('offline demo server'))"
    )
    snapshot_now(page, "display-reasoning-streaming.png")
    page.wait_for_function("() => window.__states.some(s => s.count >= 2 && s.text.includes('What the demo'))")
    heading = output.locator("h2").first
    streaming_top = heading.bounding_box()["y"]
    wait_until_done(page, 1)
    seen = states(page)
    with_text = [s for s in seen if s["count"]]
    assert all(s["folds"][0] in ("open", "closed") for s in with_text)  # the fold is the first output from the start
    reasoning = [s for s in with_text if s["folds"][0] == "open"]
    assert len({s["text"] for s in reasoning}) > 5  # the summary grew while the fold was open
    answering = [s["folds"][0] for s in with_text if s["count"] >= 2]
    # folded once the answer begins (an open one for a moment: the fold re-renders after the answer shows)
    assert answering[-1] == "closed" and answering.count("open") < answering.count("closed") / 4
    final = seen[-1]
    assert final["count"] == 1 and final["folds"] == ["closed"]
    assert abs(heading.bounding_box()["y"] - streaming_top) < 2  # the answer did not move at the end
    assert "effort low" in output.locator(".jp-OutputArea-output sub").last.inner_text()
    output.locator("summary").click()
    light = _fold_styles(output)
    snapshot(output, "display-reasoning-light.png")
    try:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        page.wait_for_timeout(300)  # the theme's CSS applies after the attribute
        dark = _fold_styles(output)
        snapshot(output, "display-reasoning-dark.png")
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
    for styles in (light, dark):
        assert styles["fold"] != styles["answer"], styles  # muted
        assert styles["border"] == "3px solid" and styles["borderColor"] != styles["background"], styles
    assert light["fold"] != dark["fold"]  # it follows the theme


def test_a_cut_answer_is_marked_at_its_end(page: Any, lab: Lab) -> None:
    cells = ["%load_ext haoee_jupyter\n%haoee offline --latency-ms 0", "%%haoee --max-tokens 30\nExplain entropy"]
    output = run_recorded(page, lab, cells)
    wait_until_done(page, 1, "incomplete")
    rendered = output.locator(".jp-OutputArea-output")
    note = rendered.locator("blockquote").last
    assert note.inner_text().startswith("Cut off here.") and "raise --max-tokens and run it again" in note.inner_text()
    assert note.locator("code").first.inner_text() == "--max-tokens"
    text = rendered.inner_text()
    assert text.index("Cut off here.") > text.index("Offline demo answer") and "**" not in text and "`" not in text
    snapshot(output, "display-cut-answer.png")


def test_the_status_line_above_an_error_has_no_empty_time(page: Any, lab: Lab) -> None:
    output = run_recorded(page, lab, ["%load_ext haoee_jupyter", "%%haoee\nhello"])
    wait_until_done(page, 1, "not sent")
    status = output.locator(".jp-OutputArea-output").first.inner_text().strip()
    assert status == "gpt-4.1 · not sent"
    output.locator(".jp-OutputArea-output").nth(1).wait_for()  # the error itself, below it
    snapshot(output, "display-error.png")


def test_web_sources_show_the_title_and_the_domain(page: Any, lab: Lab) -> None:
    cells = ["%load_ext haoee_jupyter\n%haoee offline --latency-ms 0", "%%haoee --web\nWhat is new in Python 3.13?"]
    output = run_recorded(page, lab, cells)
    wait_until_done(page, 1)
    items = output.locator(".jp-OutputArea-output ol li")
    assert items.count() >= 2
    for index in range(items.count()):
        item = items.nth(index)
        title, text = item.locator("a").inner_text(), item.inner_text()
        domain = item.locator("a").get_attribute("href").split("/")[2]
        assert text == f"{title} — {domain}" and not title.endswith("…")
    snapshot(output, "display-sources.png")
