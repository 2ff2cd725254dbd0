"""Helpers for the browser tests: a JupyterLab server and a few ways to drive a notebook.

Follows shared/reference/browser-testing.md: Debian's /usr/bin/chromium driven by Playwright
(never `playwright install`), a lab server on a free loopback port with a temporary HOME and
Jupyter directories, `--expose-app-in-browser` only so that the tests can wait for the kernel and
run cells (the form itself never relies on it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def require_chromium() -> None:
    """Skip when Debian's Chromium is missing; fail instead when $CI is set."""
    if os.path.exists(CHROMIUM):
        return
    reason = f"{CHROMIUM} is missing (apt-get install -y --no-install-recommends chromium)"
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI is set, so the browser tests must run")
    print(f"\nSkipping the browser tests: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def notebook(self, cells: list[str]) -> tuple[str, str]:
        """Write a notebook with these code cells; returns its name and URL (in a new workspace,
        so that no tab of an earlier test is restored)."""
        name = f"nb-{uuid.uuid4().hex[:8]}.ipynb"
        notebook = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": uuid.uuid4().hex[:8],
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
                for source in cells
            ],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (self.root / name).write_text(json.dumps(notebook))
        return name, f"{self.url}/lab/workspaces/{uuid.uuid4().hex[:8]}/tree/{name}?token={self.token}"

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None

    def stop(self) -> None:
        """SIGTERM: the server shuts its kernels down."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def shut_down_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")


def start_lab(base: Path) -> Lab:
    """Start JupyterLab on a free loopback port, everything it writes under `base`."""
    root, home = base / "root", base / "home"
    settings = base / "settings" / "@jupyterlab" / "apputils-extension"
    for folder in (root, home, settings):
        folder.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = _free_port(), uuid.uuid4().hex
    assert _port_is_free(port), f"port {port} is taken"
    env = dict(
        os.environ,
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        IPYTHONDIR=str(base / "ipython"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),  # this checkout
    )
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        env.pop(name, None)
    log = base / "lab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--allow-root",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--expose-app-in-browser",
        f"--LabApp.user_settings_dir={base / 'settings'}",
        f"--LabApp.workspaces_dir={base / 'ws'}",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                lab.api("GET", "/api/status")
                return lab
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer in 60 s:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.1)
    except BaseException:
        lab.stop()
        raise


def open_notebook(page: Any, lab: Lab, cells: list[str]) -> None:
    """Open a new notebook with these cells and wait until its kernel is connected and idle."""
    name, url = lab.notebook(cells)
    page.goto(url)
    page.wait_for_function(
        """(name) => {
            const app = window.jupyterapp, widget = app && app.shell.currentWidget;
            if (!widget || !widget.context || widget.context.path !== name) return false;
            const context = widget.sessionContext;
            const kernel = context && context.session && context.session.kernel;
            return !!(context && context.isReady && kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle');
        }""",
        arg=name,
        timeout=60_000,
    )


def run_cell(page: Any, index: int) -> None:
    """Run one cell (through the app's command, as Shift+Enter would) without moving on."""
    page.evaluate(
        """(index) => {
            const panel = window.jupyterapp.shell.currentWidget;
            panel.content.activeCellIndex = index;
            return window.jupyterapp.commands.execute('notebook:run-cell');
        }""",
        index,
    )


def cell(page: Any, index: int) -> Any:
    """The locator of the index-th notebook cell."""
    return page.locator(".jp-Notebook .jp-Cell").nth(index)
