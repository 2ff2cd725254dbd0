"""A real IPython shell with the extension loaded, pointed at the offline server, clean per test.

Imported by the batch, comparison, cache and call-log tests (``from _haoee_shell import *``
brings in the fixtures); the same shape as the fixtures of test_magics.py.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output

from haoee_jupyter.notebook._session import Session

__all__ = [
    "FAKE_KEY",
    "ask",
    "clean_shell",
    "everything_shown",
    "ip",
    "line_magic",
    "magics",
    "posts",
    "publishes",
    "state",
    "wait_for",
    "wait_for_threads",
]

#: A distinctive fake key: it must never show up in anything kept or shown.
FAKE_KEY = "sk-haoeescale-Z8q3Lx7Wm2Kp5Nv9Rt4Y"


@pytest.fixture(scope="session")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "haoee_jupyter")
    if not hasattr(shell, "_haoee_baseline_ns"):
        shell._haoee_baseline_ns = set(shell.user_ns)  # type: ignore[attr-defined]
    return shell


@pytest.fixture
def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["Haoee"]


@pytest.fixture
def state(magics: Any) -> Any:
    return magics.state


@pytest.fixture(autouse=True)
def clean_shell(ip: InteractiveShell, offline_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Default settings pointed at the offline server, a new session, none of the last test's variables."""
    for name in [n for n in os.environ if n.startswith("HAOEE_") and n != "HAOEE_HOME"]:
        monkeypatch.delenv(name)
    if "Haoee" not in ip.magics_manager.registry:  # a test unloaded it
        ip.run_line_magic("load_ext", "haoee_jupyter")
    magics = ip.magics_manager.registry["Haoee"]
    magics.state.stop_offline()
    for name, trait in type(magics).class_traits(config=True).items():
        ip.run_line_magic("config", f"Haoee.{name} = {trait.default_value!r}")
    ip.run_line_magic("config", f"Haoee.base_url = {offline_server.url!r}")
    ip.run_line_magic("config", f"Haoee.api_key = {FAKE_KEY!r}")
    ip.run_line_magic("config", "Haoee.max_retries = 0")
    magics.state.session = Session()
    magics.state.replace_clients()
    baseline = ip._haoee_baseline_ns  # type: ignore[attr-defined]
    for name in [n for n in ip.user_ns if n not in baseline and not n.startswith("_")]:
        del ip.user_ns[name]
    yield
    wait_for_threads()
    magics = ip.magics_manager.registry.get("Haoee")
    if magics is not None:
        for name, trait in type(magics).class_traits(config=True).items():
            setattr(magics, name, trait.default_value)


def ask(ip: InteractiveShell, line: str = "", cell: str = "Explain entropy") -> CapturedIO:
    """Run one %%haoee cell; everything it printed and displayed."""
    with capture_output() as captured:
        ip.run_cell_magic("haoee", line, cell)
    return captured


def line_magic(ip: InteractiveShell, line: str) -> CapturedIO:
    with capture_output() as captured:
        ip.run_line_magic("haoee", line)
    return captured


def publishes(captured: CapturedIO) -> list[dict[str, Any]]:
    """Every display publish, in order, including in-place updates (``update=True``)."""
    return list(captured._outputs)


def everything_shown(captured: CapturedIO) -> str:
    parts = [captured.stdout, captured.stderr]
    for output in publishes(captured):
        parts += [value if isinstance(value, str) else json.dumps(value) for value in output["data"].values()]
    return "\n".join(parts)


def posts(server: Any, path: str = "/v1/responses") -> list[dict[str, Any]]:
    """The JSON bodies of the POSTs the offline server received at ``path``."""
    return [r["body"] for r in server.requests if r["method"] == "POST" and r["path"] == path]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``condition()`` holds (a test's own thread polls; the assertion is the condition)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        time.sleep(0.01)


def wait_for_threads(timeout: float = 20.0) -> None:
    """Let the rows and streams still in flight after a Ctrl-C finish (they are logged as they end)."""
    wait_for(
        lambda: not [t for t in threading.enumerate() if t.name.startswith(("haoee-batch", "haoee-compare"))],
        timeout,
    )
