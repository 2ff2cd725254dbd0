"""The persistent call log: where it lives, what a row keeps, concurrency, migrations, history()."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import haoee_jupyter
from haoee_jupyter import HaoeeError, Response, Usage
from haoee_jupyter.notebook._history import history_bundle, history_markdown, markdown_table
from haoee_jupyter.notebook._log import MIGRATIONS, CallLog, CallRecord, cell_origin
from haoee_jupyter.notebook._store import StoreError, haoee_home

FIXTURES = Path(__file__).parent / "fixtures" / "responses-api"
KEY = "sk-h6secretKEY0123456789abcdefXYZ"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HAOEE_HOME (not made yet: the log makes it on the first write)."""
    folder = tmp_path / "haoee-home"
    monkeypatch.setenv("HAOEE_HOME", str(folder))
    return folder


def record(prompt: str = "Explain entropy", answer: str = "It is disorder.", **fields: Any) -> CallRecord:
    fields.setdefault("status", "completed")
    return CallRecord(request={"model": fields.pop("model", "gpt-4.1"), "input": prompt}, text=answer, **fields)


# --- where it lives ---------------------------------------------------------------------------


def test_home_is_the_override_else_the_xdg_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(tmp_path / "ada"))
    monkeypatch.setenv("HAOEE_HOME", "~/notes/haoee")
    assert haoee_home() == tmp_path / "ada" / "notes" / "haoee"
    monkeypatch.delenv("HAOEE_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert haoee_home() == tmp_path / "xdg" / "haoee-jupyter"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # the XDG spec says to ignore it
    assert haoee_home() == tmp_path / "ada" / ".local" / "share" / "haoee-jupyter"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert haoee_home() == tmp_path / "ada" / ".local" / "share" / "haoee-jupyter"
    assert CallLog().path == tmp_path / "ada" / ".local" / "share" / "haoee-jupyter" / "calls.sqlite3"


def test_import_and_reading_create_nothing_and_load_no_sqlite(home: Path) -> None:
    code = (
        "import sys, haoee_jupyter\n"
        "history = haoee_jupyter.history\n"
        "print('sqlite3' in sys.modules, 'pandas' in sys.modules)\n"
        "print(history(as_frame=False))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["False False", "[]"]
    assert not home.exists()
    CallLog().write(record())
    assert (home / "calls.sqlite3").is_file()


def test_the_file_is_in_wal_mode(home: Path) -> None:
    with CallLog() as log:
        log.write(record())
    connection = sqlite3.connect(home / "calls.sqlite3")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


# --- what a row keeps -------------------------------------------------------------------------


def test_a_completed_call_round_trips_and_gives_back_its_response() -> None:
    raw = json.loads((FIXTURES / "01-openai-text.json").read_text())
    body = {"model": "gpt-4o", "input": "What is 4200 + 42?", "temperature": 0.2}
    with CallLog() as log:
        row_id = log.write(
            CallRecord(
                request=body,
                response=raw,
                text="4200 + 42 equals 4242.",
                status="completed",
                latency=0.84,
                source="magic",
                base_url="http://127.0.0.1:9/v1",
                notebook="demo.ipynb",
                cell=7,
            )
        )
        entry = log.get(f"#{row_id}")
    assert (entry.id, entry.label, entry.endpoint, entry.model) == (row_id, f"#{row_id}", "/responses", "gpt-4o")
    assert entry.request == body and entry.response == raw and entry.prompt == "What is 4200 + 42?"
    assert entry.usage == Usage(16, 11, 27, 0, 0) and entry.latency == 0.84
    assert (entry.notebook, entry.cell, entry.source, entry.response_id) == ("demo.ipynb", 7, "magic", raw["id"])
    assert entry.time.endswith("+00:00")
    response = entry.to_response()
    assert isinstance(response, Response) and response.text == "4200 + 42 equals 4242." and response.id == raw["id"]


def test_error_and_interrupt_rows_keep_what_arrived() -> None:
    with CallLog() as log:
        failed = log.write(record(answer="", status="error", error=HaoeeError("The server is busy", hint="Try again")))
        odd = log.write(record(answer="", status="error", error="\n  first line\nsecond line"))
        stopped = log.write(
            record(answer="Entropy is", status="interrupted", error=KeyboardInterrupt(), usage=Usage(5, 2, 7))
        )
        assert log.get(failed).error == "The server is busy. Try again"
        assert log.get(odd).error == "first line"
        entry = log.get(stopped)
    assert (entry.status, entry.error, entry.usage.total_tokens) == ("interrupted", "Interrupted", 7)
    partial = entry.to_response()
    assert (partial.text, partial.status, partial.incomplete_reason) == ("Entropy is", "incomplete", "interrupted")


def test_a_started_call_is_updated_in_place_when_it_ends() -> None:
    job = CallRecord(endpoint="/videos", request={"model": "sora-2", "prompt": "a cat"}, source="media")
    job.job_id, job.status = "video_123", "in_progress"
    with CallLog() as log:
        first = log.write(job)
    with CallLog() as after_restart:  # a lost kernel: the job id is still there
        entry = after_restart.search(1)[0]
        assert (entry.id, entry.job_id, entry.status, entry.prompt) == (first, "video_123", "in_progress", "a cat")
        job.status, job.response, job.latency = "completed", {"id": "video_123", "status": "completed"}, 61.0
        assert after_restart.write(job) == first
        assert len(after_restart.search(None)) == 1
        assert after_restart.get(first).status == "completed"
        with pytest.raises(StoreError) as info:
            after_restart.get(first).to_response()
    assert "/videos" in str(info.value) and "\n" not in str(info.value)


def test_an_unknown_id_says_so_in_one_line() -> None:
    with CallLog() as log:
        log.write(record())
        for wrong in (999, "abc"):
            with pytest.raises(StoreError) as info:
                log.get(wrong)
            assert "\n" not in str(info.value) and "%haoee history" in str(info.value)


def test_the_key_is_never_stored(home: Path) -> None:
    log = CallLog()
    log.write(
        CallRecord(
            request={
                "model": "gpt-4.1",
                "input": f"my key is {KEY}",
                "api_key": KEY,
                "metadata": {"Authorization": KEY},
            },
            response={"id": "resp_1", "status": "failed", "error": {"message": f"bad key {KEY}"}},
            text=f"You sent {KEY}",
            status="error",
            error=HaoeeError(f"Incorrect API key provided: {KEY[:12]}...{KEY[-4:]}"),
            base_url=f"https://user:{KEY}@relay.example/v1",
        ),
        secret=KEY,
    )
    entry = log.search(1)[0]
    assert "api_key" not in entry.request and entry.request["metadata"] == {}
    assert entry.base_url == "https://relay.example/v1"
    for path in (home / "calls.sqlite3", home / "calls.sqlite3-wal"):  # while open: the WAL holds the row
        assert KEY[:8].encode() not in path.read_bytes()
    log.close()
    assert KEY[:8].encode() not in (home / "calls.sqlite3").read_bytes()


# --- many at once, and old files ------------------------------------------------------------


def test_concurrent_writes_lose_no_row(home: Path) -> None:
    logs = [CallLog(), CallLog()]  # two connections to one file too, as two kernels would be
    start = threading.Barrier(16)
    failures: list[BaseException] = []

    def worker(thread: int) -> None:
        try:
            start.wait()
            for row in range(200):
                logs[thread % 2].write(record(f"row {row}", source="batch", batch_id=f"b{thread}", batch_row=row))
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    entries = logs[0].search(None)
    assert len(entries) == 3200 and len({e.id for e in entries}) == 3200
    assert {(e.batch_id, e.batch_row) for e in entries} == {(f"b{t}", r) for t in range(16) for r in range(200)}
    assert [e.batch_row for e in logs[1].batch_rows("b3")] == list(range(200))
    for log in logs:
        log.close()


def test_a_version_1_file_is_migrated_with_its_rows_intact(home: Path) -> None:
    home.mkdir()
    old = sqlite3.connect(home / "calls.sqlite3")
    old.executescript(
        """
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, endpoint TEXT NOT NULL,
            model TEXT NOT NULL DEFAULT '', request TEXT NOT NULL DEFAULT '{}', response TEXT,
            text TEXT NOT NULL DEFAULT '', input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0, total_tokens INTEGER NOT NULL DEFAULT 0,
            latency REAL, status TEXT NOT NULL, error TEXT, source TEXT NOT NULL DEFAULT ''
        );
        PRAGMA user_version = 1;
        """
    )
    old.execute(
        "INSERT INTO calls (time, endpoint, model, request, response, text, input_tokens, output_tokens,"
        " total_tokens, latency, status, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "2025-01-02T03:04:05.000+00:00",
            "/responses",
            "gpt-4.1",
            json.dumps({"model": "gpt-4.1", "input": [{"role": "user", "content": "Old question"}]}),
            json.dumps({"id": "resp_old", "status": "completed"}),
            "Old answer",
            3,
            4,
            7,
            1.5,
            "completed",
            "magic",
        ),
    )
    old.commit()
    old.close()

    with CallLog() as log:
        [entry] = log.search(search="old QUESTION")  # the prompt column was filled from the old request
        assert (entry.id, entry.time, entry.text, entry.usage.total_tokens) == (
            1,
            "2025-01-02T03:04:05.000+00:00",
            "Old answer",
            7,
        )
        assert (entry.response_id, entry.cell, entry.usage.cached_tokens) == ("resp_old", None, 0)
        assert log.write(record(cell=3, batch_id="b", batch_row=0)) == 2
    check = sqlite3.connect(home / "calls.sqlite3")
    assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    check.close()


def test_a_file_from_a_newer_version_is_refused_in_one_line(home: Path) -> None:
    home.mkdir()
    newer = sqlite3.connect(home / "calls.sqlite3")
    newer.execute("PRAGMA user_version = 99")
    newer.close()
    with pytest.raises(StoreError) as info:
        CallLog().write(record())
    assert "newer" in str(info.value) and "HAOEE_HOME" in str(info.value) and "\n" not in str(info.value)


def test_a_file_that_is_not_a_database_says_what_to_do(home: Path) -> None:
    home.mkdir()
    (home / "calls.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as info:
        CallLog().search()
    assert "HAOEE_HOME" in str(info.value) and "\n" not in str(info.value)


# --- finding calls ----------------------------------------------------------------------------


def test_search_and_model_filters_newest_first() -> None:
    with CallLog() as log:
        log.write(record("Explain ENTROPY", "Disorder.", model="gpt-4.1"))
        log.write(record("Write a haiku", "Autumn moon, entropy", model="GPT-4.1-mini"))
        log.write(record("Привет, мир", "Hello", model="deepseek-v3"))
        log.write(record("Discount of 50% off", "ok", model="gpt-4.1"))
        log.write(record("Value 500", "ok", model="gpt-4.1"))
        assert [e.prompt for e in log.search(2)] == ["Value 500", "Discount of 50% off"]
        assert [e.prompt for e in log.search(search="entropy")] == ["Write a haiku", "Explain ENTROPY"]
        assert [e.prompt for e in log.search(search="entropy", model="gpt-4.1")] == ["Explain ENTROPY"]
        assert [e.model for e in log.search(model="gpt-4.1-MINI")] == ["GPT-4.1-mini"]
        assert [e.prompt for e in log.search(search="ПРИВЕТ")] == ["Привет, мир"]
        assert [e.prompt for e in log.search(search="50%")] == ["Discount of 50% off"]
        assert log.search(search="nothing like this") == []


def test_history_gives_a_list_or_a_dataframe() -> None:
    with CallLog() as log:
        log.write(record("First prompt", "First answer", latency=1.25, usage=Usage(10, 5, 15)))
        log.write(record("Second prompt " + "word " * 40, "Second answer", model="gpt-5", usage=Usage(1, 2, 3)))
    entries = haoee_jupyter.history(as_frame=False)
    assert [e.prompt for e in entries][1] == "First prompt" and entries[0].model == "gpt-5"
    frame = haoee_jupyter.history(5)
    assert list(frame.columns) == ["id", "time", "model", "status", "tokens", "latency", "prompt", "answer"]
    assert frame["tokens"].tolist() == [3, 15] and frame["model"].tolist() == ["gpt-5", "gpt-4.1"]
    assert frame["latency"].iloc[1] == 1.25 and str(frame["time"].dt.tz) == "UTC"
    assert len(frame["prompt"].iloc[0]) <= 80 and frame["prompt"].iloc[0].endswith("…")
    assert haoee_jupyter.history(search="first")["answer"].tolist() == ["First answer"]


def test_history_without_pandas_is_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    CallLog().write(record())
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    assert [e.prompt for e in haoee_jupyter.history()] == ["Explain entropy"]
    with pytest.raises(StoreError) as info:
        haoee_jupyter.history(as_frame=True)
    assert "pip install pandas" in str(info.value)


def test_the_history_table() -> None:
    with CallLog() as log:
        log.write(record("Compare <b>a</b> | b\nand more", latency=2.0, usage=Usage(1000, 234, 1234)))
        entries = log.search()
    markdown = history_markdown(entries)
    header, rule, row = markdown.split("\n")
    assert header == "| id | time | model | status | tokens | latency | prompt |"
    assert rule == "|--:|---|---|---|--:|--:|---|"
    assert row.startswith("| #1 | ") and "| gpt-4.1 | completed | 1,234 | 2.0 s |" in row
    assert row.endswith("| Compare &lt;b&gt;a&lt;/b&gt; \\| b and more |")
    plain = history_bundle(entries)["text/plain"]
    assert "Compare <b>a</b> \\| b and more" in plain
    assert history_markdown([]) == history_bundle([])["text/plain"] == "No calls found in the call log."
    assert markdown_table(["a", "b"], [[1, None]], "c") == "| a | b |\n|:-:|---|\n| 1 |  |"


def test_cell_origin_names_the_running_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/ada/demo.ipynb")
    result = shell.run_cell("from haoee_jupyter.notebook._log import cell_origin; cell_origin(get_ipython())")
    count = result.execution_count
    assert result.result == ("/home/ada/demo.ipynb", count)
    shell.user_ns["__vsc_ipynb_file__"] = "/work/vs.ipynb"
    try:
        assert cell_origin(shell)[0] == "/work/vs.ipynb"
    finally:
        del shell.user_ns["__vsc_ipynb_file__"]


def test_an_unusable_home_says_what_to_do(home: Path) -> None:
    home.parent.mkdir(exist_ok=True)
    home.write_text("a file where the folder should be")
    with pytest.raises(StoreError) as info:
        CallLog().write(record())
    assert "HAOEE_HOME" in str(info.value) and "\n" not in str(info.value)
