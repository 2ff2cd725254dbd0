"""The notebooks in notebooks/, each executed in a real kernel (nbclient) on the offline demo server.

Each notebook runs once per module, in a temporary folder of its own (its images and videos go
to haoee-media/ there) with a temporary HAOEE_HOME and no other HAOEE_* variable, so it starts
its own offline server. Every message the kernel sends is recorded too, so the tests can check
what was shown while a cell ran (a streaming answer, a progress bar), not only its final output.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
QUICKSTART = NOTEBOOKS / "quickstart.ipynb"
PROTOTYPING = NOTEBOOKS / "prompt-prototyping.ipynb"
TEACHING = NOTEBOOKS / "teaching-demo.ipynb"
ALL = (QUICKSTART, PROTOTYPING, TEACHING)
FOOTER = r"gpt-4\.1 · [\d,]+ in / [\d,]+ out tokens · \d+\.\d s"
CURSOR = "▍"


def _offline_env(tmp: Path) -> dict[str, str]:
    """The environment without HAOEE_* (so the notebook starts its own offline server), with a
    temporary HAOEE_HOME for the call log and the cache."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAOEE_")}
    env.update(IPYTHONDIR=str(tmp / "ipythondir"), PYTHONDONTWRITEBYTECODE="1", HAOEE_HOME=str(tmp / "haoee-home"))
    return env


@dataclass
class Executed:
    """An executed notebook, the folder it ran in, and what the kernel sent for each cell."""

    notebook: Any
    folder: Path
    messages: dict[int, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)

    def cell(self, starts_with: str) -> Any:
        """The code cell whose source starts with this text (the first one, if several)."""
        return self.cells(starts_with)[0]

    def cells(self, starts_with: str) -> list[Any]:
        found = [c for c in self.notebook.cells if c.cell_type == "code" and c.source.startswith(starts_with)]
        assert found, f"no code cell starts with {starts_with!r}"
        return found

    def sent(self, code_cell: Any) -> list[tuple[str, dict[str, Any]]]:
        """Every display message (display_data, update_display_data) the kernel sent for this cell."""
        return self.messages.get(self.notebook.cells.index(code_cell), [])


def execute(path: Path, folder: Path) -> Executed:
    import nbformat
    from nbclient import NotebookClient

    executed = Executed(nbformat.read(path, as_version=4), folder)

    class Recording(NotebookClient):  # type: ignore[misc]
        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            if msg["msg_type"] in ("display_data", "update_display_data"):
                data = dict(msg["content"].get("data") or {})
                executed.messages.setdefault(cell_index, []).append((msg["msg_type"], data))
            return super().process_message(msg, cell, cell_index)

    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("HAOEE_")]:
            patch.delenv(name)
        for name, value in _offline_env(folder).items():
            patch.setenv(name, value)
        client = Recording(
            executed.notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        )
        client.execute()
    return executed


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    return execute(QUICKSTART, tmp_path_factory.mktemp("quickstart"))


@pytest.fixture(scope="module")
def prototyping(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    return execute(PROTOTYPING, tmp_path_factory.mktemp("prototyping"))


@pytest.fixture(scope="module")
def teaching(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    return execute(TEACHING, tmp_path_factory.mktemp("teaching"))


def only_display(code_cell: Any) -> dict[str, str]:
    """The data of a cell's single display_data output (stream updates are merged into it)."""
    displays = [output for output in code_cell.outputs if output.output_type == "display_data"]
    assert len(displays) == 1, code_cell.outputs
    return dict(displays[0].data)


def stdout(code_cell: Any) -> str:
    return "".join(o.text for o in code_cell.outputs if o.output_type == "stream" and o.name == "stdout")


def stderr(code_cell: Any) -> str:
    return "".join(o.text for o in code_cell.outputs if o.output_type == "stream" and o.name == "stderr")


def result(code_cell: Any) -> str:
    [output] = [output for output in code_cell.outputs if output.output_type == "execute_result"]
    return str(output.data["text/plain"])


def error(code_cell: Any) -> Any:
    [output] = [output for output in code_cell.outputs if output.output_type == "error"]
    return output


def assert_clean_run(executed: Executed) -> None:
    """No cell failed except those tagged raises-exception, and nothing went to stderr elsewhere."""
    for code_cell in executed.notebook.cells:
        if code_cell.cell_type != "code" or "raises-exception" in code_cell.metadata.get("tags", []):
            continue
        for output in code_cell.outputs:
            assert output.output_type != "error", f"{code_cell.source!r}: {output.get('ename')}: {output.get('evalue')}"
            if output.output_type == "stream":
                assert output.name != "stderr" or not output.text.strip(), (code_cell.source, output.text)


# --- the stored notebooks -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_stored_notebook_is_clean(path: Path) -> None:
    """Stored without outputs, so no key, local path or answer is ever committed with them."""
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    for stored in notebook["cells"]:
        if stored["cell_type"] == "code":
            assert stored["outputs"] == [] and stored["execution_count"] is None, "".join(stored["source"])[:60]
    assert set(notebook["metadata"]) <= {"kernelspec", "language_info"}  # no widget state
    for pattern in (
        r"/(?:home|root|tmp|work|Users)/",
        r"[A-Z]:\\\\",
        r"\bsk-[\w-]{8,}",
        r"Bearer \w",
        r"127\.0\.0\.1:\d",
    ):
        assert not re.search(pattern, text), pattern
    # Each runs offline without a key and on the real API with one: the offline server only when unset.
    setup = "".join(next(c for c in notebook["cells"] if c["cell_type"] == "code")["source"])
    assert 'if not os.environ.get("HAOEE_API_KEY"):\n    %haoee offline' in setup


def test_media_folder_is_ignored() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "notebooks/haoee-media/x.png"], cwd=ROOT, capture_output=True, check=False
    )
    assert ignored.returncode == 0, "notebooks/haoee-media/ must be in .gitignore"


# --- quickstart.ipynb ---------------------------------------------------------------------------


def test_quickstart_runs_clean(quickstart: Executed) -> None:
    assert_clean_run(quickstart)
    assert "Offline demo server at http://127.0.0.1:" in only_display(quickstart.notebook.cells[1])["text/plain"]


def test_quickstart_first_answer_streams_then_renders_markdown(quickstart: Executed) -> None:
    first = quickstart.cell("%%haoee\nGive me a short overview")
    data = only_display(first)
    assert set(data) == {"text/markdown", "text/plain"}
    markdown = data["text/markdown"]
    assert re.search(r"^## \S", markdown, re.M), "a heading"
    assert re.search(r"^- \S", markdown, re.M), "a list"
    assert re.search(r"^\|---\|", markdown, re.M), "a table"
    assert re.search(r"^```python\n.+?\n```$", markdown, re.M | re.S), "a fenced code block"
    assert CURSOR not in markdown  # the final render, not a streaming one
    assert re.search(r"<sub>" + FOOTER + r"</sub>$", markdown)
    assert data["text/plain"].startswith("## ") and re.search(r"\[" + FOOTER + r"\]$", data["text/plain"])
    # While it streamed: states with the cursor at the open end, before the final answer.
    streaming = [d for _, d in quickstart.sent(first) if CURSOR in d.get("text/markdown", "")]
    assert streaming, "the answer was shown while it streamed"


def test_quickstart_variables_fill_the_prompt_and_keep_the_answer(quickstart: Executed) -> None:
    markdown = only_display(quickstart.cell("%%haoee -o explanation"))["text/markdown"]
    printed = stdout(quickstart.cell("print(explanation[:200])"))
    assert printed.startswith("## Offline demo answer") and printed.strip() in markdown
    assert '> Explain gradient descent. Keep JSON like {"steps": 3} as it is.' in markdown
    assert "Following your instructions: Answer for a beginner." in markdown  # -i "... {audience[level]}."


def test_quickstart_usage_variables(quickstart: Executed) -> None:
    usage = result(quickstart.cell("haoee_usage"))
    assert re.fullmatch(r"Usage\(input_tokens=[1-9]\d*, output_tokens=[1-9]\d*, total_tokens=[1-9]\d*.*\)", usage)
    totals_cell = quickstart.cell("print(haoee_usage.total_tokens")
    last, total, calls = (int(word) for word in stdout(totals_cell).split())
    assert calls == 2 and total > last > 0
    totals = next(o for o in totals_cell.outputs if o.output_type == "execute_result").data
    assert "| **all (2 calls)** |" in totals["text/markdown"] and "calls=2" in totals["text/plain"]


def test_quickstart_conversation(quickstart: Executed) -> None:
    first, second = quickstart.cells("%%haoee --chat lesson")
    assert "Earlier you asked" not in only_display(first)["text/markdown"]
    assert (
        "Turn 2 of this conversation. Earlier you asked: “What is a prime number?”"
        in only_display(second)["text/markdown"]
    )
    assert re.match(
        r"lesson: 2 turns, continues from resp_\w+", only_display(quickstart.cell("%haoee chats"))["text/plain"]
    )


def test_quickstart_config_sets_defaults_and_names_their_sources(quickstart: Executed) -> None:
    table = only_display(quickstart.cell("%haoee config"))["text/plain"]
    rows = {line.split()[0]: line for line in table.splitlines()}
    assert rows["temperature"].split()[1:] == ["0.2", "%config", "Haoee.temperature"]
    assert rows["base_url"].endswith("%haoee offline") and rows["model"].endswith("default")
    assert "offline-demo-not-a-secret" not in table  # the key masked
    markdown = only_display(quickstart.cell("%%haoee\nWhat does a learning rate do?"))["text/markdown"]
    assert "Following your instructions: Answer in at most three sentences." in markdown
    # set back to empty in the next cell: later answers follow no instructions
    assert (
        "Following your instructions" not in only_display(quickstart.cell("%%haoee --max-tokens 20"))["text/markdown"]
    )


def test_quickstart_cut_answer_and_dry_run(quickstart: Executed) -> None:
    assert (
        result(quickstart.cell("haoee_response.status, haoee_response.incomplete_reason"))
        == "('incomplete', 'max_output_tokens')"
    )
    assert "incomplete: max_output_tokens" in only_display(quickstart.cell("%%haoee --max-tokens 20"))["text/markdown"]
    plain = only_display(quickstart.cell("%%haoee --dry-run"))["text/plain"]
    assert plain.startswith("Dry run: nothing was sent.")
    assert '"model": "gpt-5.2"' in plain and '"effort": "low"' in plain
    assert '"input": "Summarize gradient descent in one sentence."' in plain
    assert re.search(r"^Authorization: Bearer sk-…cret$", plain, re.M) and "offline-demo-not" not in plain


def test_quickstart_python_client_and_usage_table(quickstart: Executed) -> None:
    answers = ast.literal_eval(result(quickstart.cell("from haoee_jupyter import Client")))
    assert [status for status, _ in answers] == ["completed", "completed"] and all(tokens > 0 for _, tokens in answers)
    table = only_display(quickstart.cell("%haoee usage"))["text/markdown"]
    magic_cells = [c for c in quickstart.notebook.cells if c.cell_type == "code" and c.source.startswith("%%haoee")]
    magic_cells = [c for c in magic_cells if "--dry-run" not in c.source]
    # | number | In [cell] | start of the prompt | model | status | ...
    rows = re.findall(r"^\| (\d+) \| In \[(\d+)\] \| (?:[^|\\]|\\.)* \| ([\w.-]+) \| (\w+) \|", table, re.M)
    assert [int(count) for _, count, _, _ in rows] == [c.execution_count for c in magic_cells]
    assert [status for *_, status in rows] == ["completed"] * (len(rows) - 1) + ["incomplete"]


def test_quickstart_last_cell_goes_back_to_own_settings(quickstart: Executed) -> None:
    assert stdout(quickstart.cell("%haoee offline stop")).startswith("Offline server stopped")


# --- prompt-prototyping.ipynb -------------------------------------------------------------------


def test_prototyping_runs_clean(prototyping: Executed) -> None:
    assert_clean_run(prototyping)


def test_prototyping_template_from_variables(prototyping: Executed) -> None:
    markdown = only_display(prototyping.cell("%%haoee -o tagline"))["text/markdown"]
    assert "> Write a one-line tagline for a reusable water bottle." in markdown
    assert "Following your instructions: Write in a playful tone." in markdown
    words, tokens = ast.literal_eval(result(prototyping.cell("len(tagline.split())")))
    assert words > 10 and tokens > 0


def test_prototyping_batch_shows_progress_then_a_result_column(prototyping: Executed) -> None:
    batch = prototyping.cell("%%haoee --over reviews")
    bars = [d for _, d in prototyping.sent(batch) if "haoee-progress" in d.get("text/html", "")]
    assert bars and re.search(r"^0/4 finished", bars[0]["text/plain"]), "a progress bar from the start"
    summary = only_display(batch)
    assert "text/html" not in summary or "haoee-progress" not in summary["text/html"]  # replaced by the summary
    assert summary["text/plain"].startswith("Batch over reviews: 4 rows\n4 done · 0 failed · ")
    assert "The result is in labelled (a DataFrame with column sentiment)." in summary["text/plain"]
    frame = result(prototyping.cell('labelled[["product", "sentiment"]]'))
    lines = frame.splitlines()
    assert lines[0].split() == ["product", "sentiment"]
    assert [line.split()[1] for line in lines[1:]] == ["kettle", "headphones", "desk", "backpack"]
    assert all("Offline demo answer" in line for line in lines[1:])  # the answer of each row in its place


def test_prototyping_comparison(prototyping: Executed) -> None:
    grid = only_display(prototyping.cell("%%haoee --models gpt-4.1,deepseek-v4-flash"))
    assert "gpt-4.1" in grid["text/plain"] and "deepseek-v4-flash" in grid["text/plain"]
    tokens = ast.literal_eval(result(prototyping.cell("{model: response.usage.total_tokens")))
    assert list(tokens) == ["gpt-4.1", "deepseek-v4-flash"] and all(count > 0 for count in tokens.values())


def test_prototyping_structured_output(prototyping: Executed) -> None:
    [verdict_cell] = [c for c in prototyping.notebook.cells if c.cell_type == "code" and c.source == "verdict"]
    verdict = ast.literal_eval(result(verdict_cell))
    assert set(verdict) == {"sentiment", "score"}
    assert isinstance(verdict["sentiment"], str) and isinstance(verdict["score"], int)
    lines = result(prototyping.cell('scored[["product", "sentiment", "score"]]')).splitlines()
    assert lines[0].split() == ["product", "sentiment", "score"] and len(lines) == 5
    assert all(re.fullmatch(r"-?\d+", line.split()[-1]) for line in lines[1:])  # one column per field


def test_prototyping_cache(prototyping: Executed) -> None:
    sent, cached = (only_display(c)["text/plain"] for c in prototyping.cells("%%haoee --cache"))
    assert "cached: nothing sent" not in sent and sent.rstrip().endswith("s]")
    assert cached.rstrip().endswith("· cached: nothing sent]")
    assert sent.split("[gpt-4.1")[0] == cached.split("[gpt-4.1")[0]  # the same answer
    calls, saved = ast.literal_eval(result(prototyping.cell("haoee_usage_total.cached_calls")))
    assert calls == 1 and saved > 0
    assert re.match(r"Response cache: 1 answer, ", only_display(prototyping.cell("%haoee cache"))["text/plain"])


def test_prototyping_history_and_rerun(prototyping: Executed) -> None:
    table = only_display(prototyping.cell("%haoee history"))["text/plain"]
    rows = re.findall(r"^\| #(\d+) \| [\d: -]+ \| gpt-4\.1 \| (\w+) \|", table, re.M)
    assert [status for _, status in rows] == ["cached", "completed"]  # newest first
    frame = result(prototyping.cell("import haoee_jupyter\n\ncalls = haoee_jupyter.history(50)")).splitlines()
    assert frame[0].split() == ["id", "model", "status", "tokens"] and len(frame) == 6
    rerun = only_display(prototyping.cell("tagline_call = "))["text/markdown"]
    assert "You asked `gpt-5.2`" in rerun and "> Write a one-line tagline for a reusable water bottle." in rerun
    # Every call of the session, batch rows and compared models included: 1 + 4 + 2 + 1 + 4 + 2 + 1.
    usage = only_display(prototyping.cell("%haoee usage"))["text/markdown"]
    assert "| **total** | 15 calls |" in usage and "1 of them answered from the response cache" in usage


# --- teaching-demo.ipynb ------------------------------------------------------------------------


def test_teaching_runs_clean(teaching: Executed) -> None:
    assert_clean_run(teaching)


def test_teaching_form_runs_and_copies_as_a_cell(teaching: Executed) -> None:
    shown = teaching.cell("import haoee_jupyter\n\ndemo_form").outputs[0]
    assert "application/vnd.jupyter.widget-view+json" in shown.data
    line = stdout(teaching.cell("demo_form.run_button.click()"))
    assert re.fullmatch(r"## Offline demo answer · [1-9]\d* tokens\n", line)
    assert stdout(teaching.cell("print(demo_form.cell_text())")) == (
        "%%haoee -m gpt-4.1 -t 0.3\nExplain photosynthesis in three short steps.\n"
    )


def test_teaching_web_search_sources(teaching: Executed) -> None:
    markdown = only_display(teaching.cell("%%haoee --web"))["text/markdown"]
    sources = markdown[markdown.index("**Sources**") :]
    printed = stdout(teaching.cell("for citation in haoee_response.citations")).splitlines()
    assert len(printed) >= 2
    for line in printed:
        title, url = line.split(" -> ")
        assert f"[{title}]({url})" in sources


def test_teaching_image_is_shown_and_saved(teaching: Executed) -> None:
    import base64

    data = only_display(teaching.cell("%%haoee image"))
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    [(mime, size, name)] = ast.literal_eval(result(teaching.cell("[(image.mime_type")))
    assert (mime, size) == ("image/png", (1024, 1024))
    saved = teaching.folder / "haoee-media" / name
    assert saved.read_bytes() == png and f"saved as haoee-media/{name}" in data["text/plain"]


def test_teaching_video_is_played_and_saved(teaching: Executed) -> None:
    data = only_display(teaching.cell("%%haoee video"))
    status, name = ast.literal_eval(result(teaching.cell("clip.video.status")))
    assert status == "completed" and name.endswith(".mp4")
    saved = teaching.folder / "haoee-media" / name
    assert saved.read_bytes()[4:8] == b"ftyp"  # an MP4
    assert "<video" in data["text/html"] and f"haoee-media/{name}" in data["text/plain"]
    assert len(teaching.sent(teaching.cell("%%haoee video"))) > 1, "the job's progress was shown before the player"


def test_teaching_errors_are_one_line_and_the_notebook_recovers(teaching: Executed) -> None:
    assert (
        stderr(teaching.cell("%%haoee -t 5"))
        .strip()
        .endswith("--temperature must be from 0 to 2, not 5 (see %%haoee? for all options)")
    )
    assert "refers to 'unknown_topic', which is not defined" in stderr(
        teaching.cell("%%haoee\nExplain {unknown_topic}")
    )
    refused = error(teaching.cell("%%haoee -m fault-401"))
    assert refused.ename == "AuthenticationError"
    assert [line.split(":")[0] for line in refused.traceback[:1]] == ["AuthenticationError"]
    assert refused.traceback[-1].startswith("→ Run %haoee key") and len(refused.traceback) <= 3
    failed = error(teaching.cell("%%haoee -m fault-error-event"))
    assert failed.ename == "ResponseFailedError"
    assert "partial answer kept" in only_display(teaching.cell("%%haoee -m fault-error-event"))["text/plain"]
    status, partial = ast.literal_eval(result(teaching.cell("# haoee_response is None when nothing arrived")))
    assert status == "failed" and partial.startswith("## Offline demo")
    assert "ResponseFailedError" in stdout(teaching.cell("%haoee error"))  # the full traceback on demand
    again = only_display(teaching.cell("%%haoee\nHello again"))["text/markdown"]
    assert "> Hello again: explain the seasons in one sentence." in again and re.search(FOOTER, again)


def test_executed_outputs_hold_no_key(quickstart: Executed, prototyping: Executed, teaching: Executed) -> None:
    for executed in (quickstart, prototyping, teaching):
        for code_cell in executed.notebook.cells:
            for output in code_cell.get("outputs", []):
                assert "offline-demo-not" not in json.dumps(output), code_cell.source[:60]


# --- scripts/run_notebooks.py (make demo) -------------------------------------------------------


def test_run_notebooks_script_offline(tmp_path: Path) -> None:
    """make demo: the offline demo server, one line per notebook, the executed copy saved."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), str(TEACHING)],
        cwd=tmp_path,
        env=_offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == (
        "Running 1 notebook(s) on the offline demo server (no HAOEE_API_KEY); executed copies go to build/notebooks/"
    )
    assert re.fullmatch(
        r"  \S+teaching-demo\.ipynb: \d+ code cells, \d+\.\d s, ok -> build/notebooks/teaching-demo\.ipynb", lines[1]
    )
    assert len(lines) == 2 and not completed.stderr.strip()  # the kernel's own messages go to its log
    assert (tmp_path / "build" / "notebooks" / "teaching-demo.kernel.log").exists()
    import nbformat

    executed = nbformat.read(tmp_path / "build" / "notebooks" / "teaching-demo.ipynb", as_version=4)
    assert any(output.output_type == "display_data" for c in executed.cells for output in c.get("outputs", []))


def test_every_notebook_runs_with_a_key_from_the_environment(tmp_path: Path, offline_server: Any) -> None:
    """With HAOEE_API_KEY set the notebooks start no offline server and use the environment's API:
    here a server of the same protocol at HAOEE_BASE_URL, as the Haoee API would be."""
    env = _offline_env(tmp_path) | {
        "HAOEE_API_KEY": "sk-notebook-test-0123456789",
        "HAOEE_BASE_URL": offline_server.url,
    }
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), *map(str, reversed(ALL))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith(f"Running 3 notebook(s) against {offline_server.url} (HAOEE_API_KEY and HAOEE_BASE_URL")
    assert [line.split(":")[0].rsplit("/", 1)[-1] for line in lines[1:]] == [path.name for path in ALL]  # in order
    assert all(", ok -> build/notebooks/" in line for line in lines[1:])
    import nbformat

    for path in ALL:
        executed = nbformat.read(tmp_path / "build" / "notebooks" / path.name, as_version=4)
        text = json.dumps([c.get("outputs", []) for c in executed.cells])
        assert "Offline demo server at" not in text  # the setup cell started none
        assert "sk-notebook-test-0123456789" not in text
    sent = [request for request in offline_server.requests if request["path"].endswith("/responses")]
    assert sent and all(r["authorization_present"] and r["authorization_scheme"] == "Bearer" for r in sent)
