"""The persistent call log through the magic: what each call leaves (success, error, interrupt),
--no-log and Haoee.log, %haoee history, %haoee rerun, haoee_jupyter.history(), and the form's path."""

from __future__ import annotations

import _thread
import asyncio
import threading
from typing import Any

import pytest
from _haoee_shell import *  # noqa: F403  (the shell fixtures)
from _haoee_shell import FAKE_KEY, ask, line_magic, posts, publishes, wait_for
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import haoee_jupyter
from haoee_jupyter import HaoeeError
from haoee_jupyter.notebook._core import arun, prepare
from haoee_jupyter.notebook._options import Options


def test_a_call_leaves_a_row_with_what_was_asked_and_answered(ip: Any, offline_server: Any, state: Any) -> None:
    ask(ip, "-t 0.2 -i 'Be brief.'", "Explain entropy")
    [entry] = state.call_log.search()
    response = ip.user_ns["haoee_response"]
    assert (entry.status, entry.source, entry.model, entry.endpoint) == ("completed", "magic", "gpt-4.1", "/responses")
    assert entry.prompt == "Explain entropy" and entry.text == response.text
    assert entry.request == {
        "model": "gpt-4.1",
        "input": "Explain entropy",
        "instructions": "Be brief.",
        "temperature": 0.2,
    }
    assert entry.usage == response.usage and entry.response_id == response.id and entry.latency > 0
    assert entry.base_url == offline_server.url and entry.to_response().text == response.text
    assert ip.user_ns["haoee_usage_total"].calls == 1


def test_an_error_is_logged_with_its_line(ip: Any, offline_server: Any, state: Any) -> None:
    with pytest.raises(HaoeeError):
        ask(ip, "-m fault-500", "Hello")
    [entry] = state.call_log.search()
    assert entry.status == "error" and entry.model == "fault-500" and entry.error and "\n" not in entry.error


def test_an_interrupted_stream_is_logged_with_what_arrived(ip: Any, offline_server: Any, state: Any) -> None:
    offline_server.latency_ms = 20
    threading.Thread(
        target=lambda: (wait_for(lambda: len(posts(offline_server)) == 1), _thread.interrupt_main()), daemon=True
    ).start()
    with pytest.raises(KeyboardInterrupt):
        ask(ip, "", "Explain entropy")
    [entry] = state.call_log.search()
    assert entry.status == "interrupted" and entry.error == "Interrupted"
    assert entry.text == (ip.user_ns["haoee_response"].text if ip.user_ns["haoee_response"] else "")


def test_no_log_for_a_cell_and_for_the_session(ip: Any, offline_server: Any, state: Any, haoee_home: Any) -> None:
    ask(ip, "--no-log", "A secret prompt")
    assert state.call_log.search() == [] and not (haoee_home / "calls.sqlite3").exists()
    ip.run_line_magic("config", "Haoee.log = False")
    ask(ip, "", "Another secret")
    ip.user_ns["items"] = [1, 2]
    ask(ip, "--over items", "Row {item}")
    ask(ip, "--models gpt-4.1,qwen3-max", "Both")
    assert state.call_log.search() == []
    ask(ip, "--log", "This one is kept")
    assert [e.prompt for e in state.call_log.search()] == ["This one is kept"]


def test_history_shows_recent_calls_and_finds_them(ip: Any, offline_server: Any) -> None:
    ask(ip, "", "Explain entropy")
    ask(ip, "-m qwen3-max", "Explain enthalpy")
    ask(ip, "", "Tell a joke")
    table = publishes(line_magic(ip, "history"))[-1]["data"]["text/markdown"]
    lines = table.splitlines()
    assert lines[0] == "| id | time | model | status | tokens | latency | prompt |"
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| #3", "| #2", "| #1"]  # newest first
    found = publishes(line_magic(ip, "history --search ENTH"))[-1]["data"]["text/plain"]
    assert "Explain enthalpy" in found and "entropy" not in found and "joke" not in found
    by_model = publishes(line_magic(ip, "history -n 1 --model gpt-4.1"))[-1]["data"]["text/plain"]
    assert "Tell a joke" in by_model and "Explain entropy" not in by_model
    with pytest.raises(UsageError, match="-n must be a whole number, 1 or more"):
        line_magic(ip, "history -n 0")
    entries = haoee_jupyter.history(2, as_frame=False)
    assert [e.prompt for e in entries] == ["Tell a joke", "Explain enthalpy"]
    frame = haoee_jupyter.history(search="entropy")
    assert list(frame["prompt"]) == ["Explain entropy"] and list(frame["model"]) == ["gpt-4.1"]


def test_rerun_sends_the_logged_request_again_on_another_model(ip: Any, offline_server: Any, state: Any) -> None:
    ask(ip, "-t 0.2 -i 'Be brief.'", "Explain entropy")
    line_magic(ip, "rerun #1")
    line_magic(ip, "rerun 1 -m qwen3-max")
    first, again, other = posts(offline_server)
    assert again == first and other == {**first, "model": "qwen3-max"}
    entries = state.call_log.search()
    assert [(e.source, e.model) for e in entries] == [
        ("rerun", "qwen3-max"),
        ("rerun", "gpt-4.1"),
        ("magic", "gpt-4.1"),
    ]
    assert ip.user_ns["haoee_response"].model == "qwen3-max"
    with pytest.raises(UsageError, match="No call #99 in the call log"):
        line_magic(ip, "rerun 99")
    with pytest.raises(UsageError, match="'abc' is not a call id"):
        line_magic(ip, "rerun abc")


def test_rerun_says_it_sends_text_calls_and_refuses_an_image_call(ip: Any, offline_server: Any, tmp_path: Any) -> None:
    ip.run_line_magic("config", f"Haoee.media_dir = {str(tmp_path)!r}")
    with capture_output():
        ip.run_cell_magic("haoee", "image", "A red circle")
    before = len(offline_server.requests)
    with pytest.raises(
        UsageError, match=r"^Call #1 went to /images/generations; %haoee rerun sends text calls again; run"
    ):
        line_magic(ip, "rerun 1")
    assert len(offline_server.requests) == before
    (line,) = [line for line in line_magic(ip, "help").stdout.splitlines() if line.startswith("%haoee rerun")]
    assert "Send a logged text call again" in line


def test_the_form_path_logs_too(ip: Any, offline_server: Any, state: Any) -> None:
    class View:
        def update(self, call: Any, final: bool) -> None:
            pass

    prepared = prepare("From the form", Options(), state)
    asyncio.run(arun(prepared, state, View()))
    asyncio.run(state.aclose())  # the async client belongs to that loop
    [entry] = state.call_log.search()
    assert (entry.source, entry.prompt, entry.status) == ("form", "From the form", "completed")


def test_the_key_is_never_in_the_log(ip: Any, offline_server: Any, haoee_home: Any) -> None:
    ask(ip, "", f"My key is {FAKE_KEY}, keep it secret")  # even a prompt that holds it
    with pytest.raises(HaoeeError):
        ask(ip, "-m fault-401", "Hello")
    for path in haoee_home.iterdir():
        data = path.read_bytes()
        assert FAKE_KEY.encode() not in data and FAKE_KEY[4:-4].encode() not in data
