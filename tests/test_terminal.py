"""%%haoee in terminal IPython (a real ``ipython`` process): plain text, a one-line footer,
one-line errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

KEY = "sk-terminaltest-Zq81Lw03Xv6Pn4Ty"


def run_ipython(tmp_path: Path, server: Any, code: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAOEE_")}
    env.update(
        HAOEE_BASE_URL=server.url,
        HAOEE_API_KEY=KEY,
        IPYTHONDIR=str(tmp_path / "ipythondir"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    command = [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "--ext=haoee_jupyter", "-c", code]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def server(offline_server: Any) -> Any:
    return offline_server


def test_answer_is_plain_text_with_a_one_line_footer(tmp_path: Path, server: Any) -> None:
    result = run_ipython(tmp_path, server, "%%haoee -m gpt-5.2\nSay hi")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.rstrip("\n").split("\n")
    assert lines[0] == "## Offline demo answer"
    assert "> Say hi" in lines and "| Measure | Value |" in lines
    assert re.fullmatch(r"\[gpt-5\.2 · [\d,]+ in / [\d,]+ out tokens · \d+\.\d s\]", lines[-1]), lines[-1]
    assert lines[-2] == "Ask again, streamed or not: the text is identical."  # the answer, then the footer
    assert "<sub>" not in result.stdout and "▍" not in result.stdout  # no notebook markup
    assert "Traceback" not in result.stdout + result.stderr
    [request] = server.requests
    assert request["body"]["stream"] is True and request["authorization_present"]


def test_incomplete_answer_footer_says_why(tmp_path: Path, server: Any) -> None:
    result = run_ipython(tmp_path, server, "%%haoee --max-tokens 20 --no-stream\nList the planets")
    assert result.returncode == 0, result.stdout + result.stderr
    footer = result.stdout.rstrip("\n").split("\n")[-1]
    assert re.fullmatch(
        r"\[gpt-4\.1 · [\d,]+ in / 20 out tokens · \d+\.\d s · incomplete: max_output_tokens\]", footer
    ), footer


def test_error_is_one_line_without_a_traceback(tmp_path: Path, server: Any) -> None:
    result = run_ipython(
        tmp_path,
        server,
        "%config Haoee.max_retries = 0\nget_ipython().run_cell_magic('haoee', '-m fault-500', 'Say hi')",
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if "Error" in line]
    assert len(errors) == 1, output
    assert errors[0].startswith("ServerError: ") and "HTTP 500" in errors[0]
    assert KEY not in output


def test_partial_answer_is_printed_before_the_error(tmp_path: Path, server: Any) -> None:
    result = run_ipython(tmp_path, server, "%%haoee -m fault-reset\nSay hi")
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.stdout.startswith("## Offline demo")  # what arrived stays on screen
    assert "error (partial answer kept)]" in result.stdout
    assert len([line for line in output.splitlines() if line.startswith("APIConnectionError: ")]) == 1


def test_usage_error_is_one_line(tmp_path: Path, server: Any) -> None:
    result = run_ipython(tmp_path, server, "%%haoee -t 5\nSay hi")
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "UsageError: " in output and "--temperature must be from 0 to 2" in output
    assert server.requests == []


def test_terminal_view_prints_what_the_stream_did_not_carry(capsys) -> None:
    """A refusal, sources and why an empty answer stopped all reach a terminal, not only the text."""
    import json
    from pathlib import Path

    from haoee_jupyter.client._models import Response
    from haoee_jupyter.notebook._display import TerminalView
    from haoee_jupyter.notebook._session import Call

    fixtures = Path(__file__).parent / "fixtures" / "responses-api"
    frames = [
        json.loads(line[6:])
        for line in (fixtures / "11-openai-refusal.sse").read_text().splitlines()
        if line.startswith("data: ")
    ]
    refusal = Response(frames[-1]["response"])
    web = Response(json.loads((fixtures / "05-openai-web-search.json").read_text()))
    empty = Response({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []})
    for response, expected in (
        (refusal, "The model refused: " + (refusal.refusal or "")),
        (web, web.citations[0].url),
        (empty, "The output token limit (max_output_tokens) was reached before any answer text"),
    ):
        call = Call(body={"model": "m"}, response=response, latency=0.1)
        TerminalView().update(call, True)
        assert expected in capsys.readouterr().out


def test_web_answer_prints_its_sources_once_after_the_streamed_text(tmp_path: Path, server: Any) -> None:
    result = run_ipython(tmp_path, server, "%%haoee --web\nPython release dates")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.count("## Offline demo: web search") == 1  # streamed once, not printed again at the end
    sources = out.index("\nSources:\n  1. ")
    assert out.index("citations**.") < sources < out.index("Searched the web for: Python release dates")
    assert re.fullmatch(r"\[gpt-4\.1 · [\d,]+ in / [\d,]+ out tokens · \d+\.\d s\]", out.rstrip("\n").split("\n")[-1])


def test_json_format_prints_the_parsed_json_pretty(tmp_path: Path, server: Any) -> None:
    code = (
        "schema = {'type': 'object', 'properties': {'name': {'type': 'string'}, 'size': {'type': 'integer'}}, 'required': ['name', 'size']}\n"
        "get_ipython().run_cell_magic('haoee', '--schema schema -o obj', 'Describe a planet')\n"
        "print('obj:', sorted(obj))"
    )
    result = run_ipython(tmp_path, server, code)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.rstrip("\n").split("\n")
    assert lines[-1] == "obj: ['name', 'size']"
    start = lines.index("{")
    assert start == 0  # no raw fragments before it
    assert lines[start + 1].startswith('  "name": ') and lines[start + 3] == "}"  # indented, one key a line
    assert lines[start + 4].startswith("[gpt-4.1 · ")


def test_terminal_view_json_and_stream_then_final(capsys: Any) -> None:
    """What streamed is not printed twice; -f json prints the object once, pretty, then the footer."""
    from haoee_jupyter.notebook._display import TerminalView
    from haoee_jupyter.notebook._session import Call

    call = Call(body={"model": "m"}, latency=0.2)
    view = TerminalView("json")
    for delta in ('{"a":', " [1, 2]}"):
        call.add_text(delta)
        view.update(call, False)
    view.update(call, True)
    assert capsys.readouterr().out == '{\n  "a": [\n    1,\n    2\n  ]\n}\n[m · 0.2 s]\n'
    call, view = Call(body={"model": "m"}, text="partial", interrupted=True), TerminalView()
    view.update(call, False)
    view.update(call, True)
    assert capsys.readouterr().out == "partial\n[m · interrupted (partial answer kept)]\n"
