"""``%haoee SUBCOMMAND`` in a real IPython shell: the registry, each subcommand's own parser, the
help made from it, where each setting comes from, and ``%haoee key`` in a kernel without stdin."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output

from haoee_jupyter.notebook import _subcommands
from haoee_jupyter.notebook._session import Session
from haoee_jupyter.notebook._subcommands import SUBCOMMANDS, argument, subcommand

KEY = "sk-subcommands-Hq4Zt8Wm2Rx6Lp0V"


@pytest.fixture(scope="module")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "haoee_jupyter")
    return shell


@pytest.fixture
def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["Haoee"]


@pytest.fixture(autouse=True)
def clean(ip: InteractiveShell, magics: Any, offline_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [name for name in os.environ if name.startswith("HAOEE_")]:
        monkeypatch.delenv(name)
    magics.state.stop_offline()
    for name, trait in type(magics).class_traits(config=True).items():
        ip.run_line_magic("config", f"Haoee.{name} = {trait.default_value!r}")
    magics.state.session = Session()
    yield
    magics.state.stop_offline()
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)
    magics.state.replace_clients()


def line_magic(ip: InteractiveShell, line: str) -> CapturedIO:
    with capture_output() as captured:
        ip.run_line_magic("haoee", line)
    return captured


def sources(ip: InteractiveShell) -> dict[str, str]:
    """%haoee config's plain table as {setting: from}."""
    with capture_output() as captured:
        ip.run_line_magic("haoee", "config")
    plain = captured.outputs[-1].data["text/plain"]
    return {line.split()[0]: line.rsplit("  ", 1)[-1].strip() for line in plain.splitlines()}


# --- each subcommand has its own parser -----------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("usage foo bar", r"^%haoee usage: unrecognized arguments: foo bar \(usage: %haoee usage\)$"),
        ("config --all", r"^%haoee config: unrecognized arguments: --all \(usage: %haoee config\)$"),
        ("chats x", r"^%haoee chats: unrecognized arguments: x"),
        ("error now", r"^%haoee error: unrecognized arguments: now"),
        ("help me", r"^%haoee help: unrecognized arguments: me"),
        ("key sk-pasted-here", r"^%haoee key: unrecognized arguments: sk-pasted-here"),
        ("form big", r"^%haoee form: unrecognized arguments: big"),
        ("models all", r"^%haoee models: unrecognized arguments: all"),
        ("reset a b", r"^%haoee reset: unrecognized arguments: b \(usage: %haoee reset \[NAME\]\)$"),
        ("offline pause", r"^%haoee offline: .*invalid choice: 'pause'.*\(usage: %haoee offline"),
        ("offline --latency 5", r"^%haoee offline: .*\(usage: %haoee offline"),  # no abbreviations
        ("offline stop --latency-ms 3", r"^%haoee offline stop takes no --latency-ms"),
        ("offline --latency-ms -1", r"^%haoee offline: --latency-ms must be 0 or more"),
    ],
)
def test_arguments_a_subcommand_does_not_take_are_refused_in_one_line(
    ip: InteractiveShell, magics: Any, offline_server: Any, line: str, message: str
) -> None:
    with capture_output() as captured, pytest.raises(UsageError) as info:
        ip.run_line_magic("haoee", line)
    assert re.search(message, str(info.value)), str(info.value)
    assert "\n" not in str(info.value)
    assert captured.stdout == "" and captured.outputs == []  # nothing else happened
    assert magics.state.offline_server is None and offline_server.requests == []


def test_help_lists_every_subcommand_with_its_arguments(ip: InteractiveShell) -> None:
    shown = line_magic(ip, "help").stdout
    lines = shown.splitlines()
    assert lines[0].startswith("%%haoee [options]")
    listed = [line.split()[1] for line in lines if line.startswith("%haoee ")]
    assert listed == list(SUBCOMMANDS)  # the registry's order, one line each
    for command in SUBCOMMANDS.values():
        [line] = [line for line in lines if line.startswith(command.usage() + " ")]
        assert line.endswith(command.summary)
    assert re.search(r"^%haoee offline \[--latency-ms N\] \[start\|stop\] ", shown, re.M)
    assert re.search(r"^    start\|stop +start the server \(the default\), or stop it", shown, re.M)
    assert re.search(r"^    --latency-ms N +milliseconds between streamed tokens", shown, re.M)
    assert re.search(r"^    NAME +the chat to forget", shown, re.M)
    assert line_magic(ip, "").stdout == shown  # bare %haoee is help


def test_a_new_subcommand_is_one_registered_function(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_subcommands, "SUBCOMMANDS", dict(SUBCOMMANDS))
    seen: list[argparse.Namespace] = []

    @subcommand(argument("-n", type=int, default=20, metavar="N", help="how many to show"))
    def recent(state: Any, args: argparse.Namespace) -> None:
        """The most recent calls."""
        seen.append(args)

    line_magic(ip, "recent -n 3")
    assert seen[0].n == 3
    help_text = line_magic(ip, "help").stdout
    assert re.search(r"^%haoee recent \[-n N\] +The most recent calls\.$", help_text, re.M)
    assert re.search(r"^    -n N +how many to show$", help_text, re.M)
    with pytest.raises(UsageError, match=r"^%haoee recent: unrecognized arguments: extra"):
        ip.run_line_magic("haoee", "recent extra")
    assert "| `%haoee recent [-n N]` |" in _subcommands.reference_markdown()


def test_a_subcommand_line_is_filled_from_the_notebook_as_any_line_magic(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_subcommands, "SUBCOMMANDS", dict(SUBCOMMANDS))
    seen: list[argparse.Namespace] = []

    @subcommand(argument("call", metavar="ID"))
    def again(state: Any, args: argparse.Namespace) -> None:
        """Another call."""
        seen.append(args)

    ip.user_ns["call_id"] = "#12"
    line_magic(ip, "again {call_id}")
    line_magic(ip, "again $call_id")
    line_magic(ip, "again {no_such_name}")  # as IPython does: left as written
    assert [args.call for args in seen] == ["#12", "#12", "{no_such_name}"]


def test_reference_markdown_has_a_row_per_subcommand() -> None:
    rows = _subcommands.reference_markdown().splitlines()[2:]
    assert [row.split("`")[1].split()[1] for row in rows] == list(SUBCOMMANDS)
    assert any("\\|" in row for row in rows)  # start|stop escaped inside the table


# --- where each setting comes from ------------------------------------------------------------


def test_config_names_the_real_source_of_each_value(
    ip: InteractiveShell, magics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = sources(ip)
    assert (
        found["model"] == "default" and found["base_url"] == "default" and found["api_key"] == "not set: run %haoee key"
    )
    assert {found[name] for name in ("instructions", "temperature", "stream", "format", "timeout")} == {"default"}

    monkeypatch.setenv("HAOEE_MODEL", "env-model")
    monkeypatch.setenv("HAOEE_API_KEY", KEY)
    ip.run_line_magic("config", "Haoee.temperature = 0.5")
    ip.run_line_magic("config", "Haoee.base_url = 'https://relay.example.org/v1'")
    found = sources(ip)
    assert found["model"] == "$HAOEE_MODEL" and found["api_key"] == "$HAOEE_API_KEY"
    assert found["temperature"] == "%config Haoee.temperature" and found["base_url"] == "%config Haoee.base_url"
    assert found["timeout"] == "default"

    monkeypatch.setattr("getpass.getpass", lambda prompt="": "sk-typed-in-key-abcdefgh5678")
    line_magic(ip, "key")
    assert sources(ip)["api_key"] == "%haoee key"

    line_magic(ip, "offline --latency-ms 0")
    found = sources(ip)
    assert found["base_url"] == "%haoee offline" and found["api_key"] == "%haoee offline"
    line_magic(ip, "offline stop")  # back to what was before, sources too
    found = sources(ip)
    assert found["base_url"] == "%config Haoee.base_url" and found["api_key"] == "%haoee key"
    assert magics.base_url == "https://relay.example.org/v1"

    ip.run_line_magic("config", "Haoee.api_key = 'sk-configured-key-0000'")
    assert sources(ip)["api_key"] == "%config Haoee.api_key"
    ip.run_line_magic("config", "Haoee.api_key = ''")
    assert sources(ip)["api_key"] == "$HAOEE_API_KEY"


def test_a_setting_from_ipython_config_is_named_as_config(tmp_path: Path) -> None:
    import subprocess
    import sys

    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "ipython_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["haoee_jupyter"]\nc.Haoee.timeout = 30.0\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAOEE_")}
    env.update(IPYTHONDIR=str(tmp_path / "ipythondir"))
    command = [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", f"--profile-dir={profile}"]
    result = subprocess.run([*command, "-c", "%haoee config"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^timeout\s+30\.0\s+%config Haoee\.timeout$", result.stdout, re.M), result.stdout
    assert re.search(r"^connect_timeout\s+10\.0\s+default$", result.stdout, re.M)


# --- %haoee key in a kernel whose frontend has no stdin ----------------------------------------


def test_key_in_a_kernel_without_stdin_says_what_to_do_in_one_line(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("%load_ext haoee_jupyter"), nbformat.v4.new_code_cell("%haoee key")]
    )
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("HAOEE_")]:
            patch.delenv(name)
        patch.setenv("IPYTHONDIR", str(tmp_path / "ipythondir"))
        # nbclient, as a frontend that cannot answer input requests (allow_stdin is False)
        NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True).execute()
    # IPython shows a UsageError as one line on stderr, never as a traceback
    [shown] = notebook.cells[1].outputs
    assert shown.output_type == "stream" and shown.name == "stderr"
    [line] = shown.text.strip().splitlines()
    assert line.startswith("UsageError: This frontend cannot ask for input") and "HAOEE_API_KEY" in line
    assert "Traceback" not in shown.text and "StdinNotImplementedError" not in shown.text


def test_offline_stop_keeps_a_setting_made_while_it_ran(ip: InteractiveShell, magics: Any) -> None:
    ip.run_line_magic("config", "Haoee.base_url = 'https://relay.example.org/v1'")
    line_magic(ip, "offline --latency-ms 0")
    ip.run_line_magic("config", f"Haoee.api_key = {KEY!r}")  # the user's own key, set meanwhile
    line_magic(ip, "offline stop")
    assert magics.base_url == "https://relay.example.org/v1"  # what offline replaced comes back
    assert magics.api_key == KEY  # what the user set stays
    found = sources(ip)
    assert found["base_url"] == "%config Haoee.base_url" and found["api_key"] == "%config Haoee.api_key"
