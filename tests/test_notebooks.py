"""notebooks/quickstart.ipynb executed in a real kernel (nbclient), on the offline demo server.

The notebook is run once per module; each test then checks what one part of it shows.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "notebooks" / "quickstart.ipynb"


def _offline_env(tmp: Path) -> dict[str, str]:
    """The environment without HAOEE_* (so the notebook starts its own offline server)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAOEE_")}
    env.update(IPYTHONDIR=str(tmp / "ipythondir"), PYTHONDONTWRITEBYTECODE="1")
    return env


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(QUICKSTART, as_version=4)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _offline_env(tmp_path_factory.mktemp("kernel")).items():
            patch.setenv(name, value)
        for name in [n for n in os.environ if n.startswith("HAOEE_")]:
            patch.delenv(name)
        client = NotebookClient(
            notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(QUICKSTART.parent)}}
        )
        client.execute()
    return notebook


def cell(notebook: Any, starts_with: str) -> Any:
    """The code cell whose source starts with this text (the first one, if several)."""
    for candidate in notebook.cells:
        if candidate.cell_type == "code" and candidate.source.startswith(starts_with):
            return candidate
    raise AssertionError(f"no code cell starts with {starts_with!r}")


def cells(notebook: Any, starts_with: str) -> list[Any]:
    return [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(starts_with)]


def only_display(code_cell: Any) -> dict[str, str]:
    """The data of a cell's single display_data output (stream updates are merged into it)."""
    displays = [output for output in code_cell.outputs if output.output_type == "display_data"]
    assert len(displays) == 1, code_cell.outputs
    return dict(displays[0].data)


def stdout(code_cell: Any) -> str:
    return "".join(
        output.text for output in code_cell.outputs if output.output_type == "stream" and output.name == "stdout"
    )


def result(code_cell: Any) -> str:
    [output] = [output for output in code_cell.outputs if output.output_type == "execute_result"]
    return str(output.data["text/plain"])


FOOTER = r"gpt-4\.1 · [\d,]+ in / [\d,]+ out tokens · \d+\.\d s"


def test_no_cell_failed(notebook: Any) -> None:
    for code_cell in notebook.cells:
        if code_cell.cell_type != "code":
            continue
        for output in code_cell.outputs:
            assert output.output_type != "error", f"{code_cell.source!r}: {output.get('ename')}: {output.get('evalue')}"
            if output.output_type == "stream":
                assert output.name != "stderr" or not output.text.strip(), (code_cell.source, output.text)


def test_setup_cell_starts_the_offline_server(notebook: Any) -> None:
    assert "Offline demo server at http://127.0.0.1:" in only_display(notebook.cells[1])["text/plain"]


def test_first_answer_is_rendered_markdown(notebook: Any) -> None:
    data = only_display(cell(notebook, "%%haoee\nGive me a short overview"))
    assert set(data) == {"text/markdown", "text/plain"}
    markdown = data["text/markdown"]
    assert re.search(r"^## \S", markdown, re.M), "a heading"
    assert re.search(r"^- \S", markdown, re.M), "a list"
    assert re.search(r"^\|---\|", markdown, re.M), "a table"
    assert re.search(r"^```python\n.+?\n```$", markdown, re.M | re.S), "a fenced code block"
    assert "▍" not in markdown  # the final render, not a streaming one
    assert re.search(r"<sub>" + FOOTER + r"</sub>$", markdown)
    assert data["text/plain"].startswith("## ") and re.search(r"\[" + FOOTER + r"\]$", data["text/plain"])


def test_out_sets_the_variable_and_braces_are_kept(notebook: Any) -> None:
    data = only_display(cell(notebook, "%%haoee -o explanation"))
    printed = stdout(cell(notebook, "print(explanation[:200])"))
    assert printed.startswith("## Offline demo answer")
    assert printed.strip() in data["text/markdown"]
    assert '> Explain gradient descent. Keep JSON like {"steps": 3} as it is.' in data["text/markdown"]


def test_instructions_are_filled_from_variables(notebook: Any) -> None:
    # -i "Answer for a {audience[level]}." with audience = {"level": "beginner"}
    markdown = only_display(cell(notebook, "%%haoee -o explanation"))["text/markdown"]
    assert "Following your instructions: Answer for a beginner." in markdown


def test_usage_cells_show_numbers(notebook: Any) -> None:
    usage = result(cell(notebook, "haoee_usage"))
    assert re.fullmatch(r"Usage\(input_tokens=[1-9]\d*, output_tokens=[1-9]\d*, total_tokens=[1-9]\d*.*\)", usage)
    totals_cell = cell(notebook, "print(haoee_usage.total_tokens")
    last, total, calls = (int(word) for word in stdout(totals_cell).split())
    assert calls == 2 and total > last > 0
    totals = [o for o in totals_cell.outputs if o.output_type == "execute_result"][0].data
    assert "| **all (2 calls)** |" in totals["text/markdown"] and "calls=2" in totals["text/plain"]


def test_chat_second_turn_mentions_the_first(notebook: Any) -> None:
    first, second = cells(notebook, "%%haoee --chat lesson")
    assert "Earlier you asked" not in only_display(first)["text/markdown"]
    assert (
        "Turn 2 of this conversation. Earlier you asked: “What is a prime number?”"
        in only_display(second)["text/markdown"]
    )
    listing = only_display(cell(notebook, "%haoee chats"))
    assert re.match(r"lesson: 2 turns, last resp_\w+", listing["text/plain"])


def test_web_search_lists_sources(notebook: Any) -> None:
    markdown = only_display(cell(notebook, "%%haoee --web"))["text/markdown"]
    sources = markdown[markdown.index("**Sources**") :]
    assert re.search(r"^1\. \[.+\]\(https://(example\.\w+)/.+\) — \1$", sources, re.M)  # title, then domain
    citations = ast.literal_eval(result(cell(notebook, "[(c.title, c.url) for c in haoee_response.citations]")))
    assert len(citations) >= 2
    for title, url in citations:
        assert f"[{title}]({url})" in sources


def test_schema_output_is_a_dict(notebook: Any) -> None:
    [book_cell] = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip() == "book"]
    book = ast.literal_eval(result(book_cell))
    assert isinstance(book, dict)
    assert isinstance(book["title"], str) and isinstance(book["year"], int)
    assert '"title"' in only_display(cell(notebook, "%%haoee --schema book_schema"))["text/markdown"]


def test_max_tokens_cell_is_incomplete(notebook: Any) -> None:
    assert (
        result(cell(notebook, "haoee_response.status, haoee_response.incomplete_reason"))
        == "('incomplete', 'max_output_tokens')"
    )
    data = only_display(cell(notebook, "%%haoee --max-tokens 20"))
    assert (
        "incomplete: max_output_tokens" in data["text/markdown"]
        and "incomplete: max_output_tokens]" in data["text/plain"]
    )


def test_dry_run_shows_the_request_without_the_key(notebook: Any) -> None:
    plain = only_display(cell(notebook, "%%haoee --dry-run"))["text/plain"]
    assert plain.startswith("Dry run: nothing was sent.")
    assert '"model": "gpt-5.2"' in plain and '"effort": "low"' in plain
    assert '"input": "Summarize gradient descent in one sentence."' in plain
    assert re.search(r"^Authorization: Bearer …+$", plain, re.M)
    assert "offline-demo" not in plain  # the offline session's key


def test_python_client_cell(notebook: Any) -> None:
    assert ast.literal_eval(result(cell(notebook, "from haoee_jupyter import Client")))[0][0] == "completed"


def test_final_usage_table_lists_the_calls(notebook: Any) -> None:
    table = only_display(cell(notebook, "%haoee usage"))["text/markdown"]
    magic_cells = [
        c
        for c in notebook.cells
        if c.cell_type == "code" and c.source.startswith("%%haoee") and "--dry-run" not in c.source
    ]
    # | number | In [cell] | start of the prompt | model | status |
    rows = re.findall(r"^\| (\d+) \| In \[(\d+)\] \| (?:[^|\\]|\\.)* \| ([\w.-]+) \| (\w+) \|", table, re.M)
    assert [int(number) for number, _, _, _ in rows] == list(range(1, len(magic_cells) + 1))
    assert [int(count) for _, count, _, _ in rows] == [c.execution_count for c in magic_cells]
    assert rows[-1][3] == "incomplete" and all(status == "completed" for _, _, _, status in rows[:-1])
    assert f"{len(magic_cells)} calls" in table


def test_run_notebooks_script(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "run_notebooks.py"
    completed = subprocess.run(
        [sys.executable, str(script), str(QUICKSTART)],
        cwd=tmp_path,
        env=_offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "offline demo server" in completed.stdout and ", ok ->" in completed.stdout
    written = tmp_path / "build" / "notebooks" / "quickstart.ipynb"
    import nbformat

    executed = nbformat.read(written, as_version=4)
    outputs = [output for c in executed.cells if c.cell_type == "code" for output in c.outputs]
    assert outputs and not any(output.output_type == "error" for output in outputs)
