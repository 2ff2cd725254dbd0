"""The %%haoee magic through a real LiteLLM proxy in front of the offline demo server.

LiteLLM is the relay users most often put between a notebook and their providers. Here it
runs as a subprocess (``litellm --config``), each model name mapped to the offline server as
an ``openai/<model>`` deployment, and the magic talks to it in a real IPython shell with the
proxy's master key, exactly as a user would configure it::

    %config Haoee.base_url = "http://127.0.0.1:<port>/v1"
    %config Haoee.api_key = "<the proxy's master key>"

What LiteLLM does on the way (seen with litellm 1.108): an ``openai/`` deployment passes
``POST /v1/responses`` through to ``{api_base}/responses`` rather than translating it to chat
completions; it re-encodes response ids (and decodes them again in ``previous_response_id``);
its stream has ``data:`` lines only (no ``event:`` lines) and ends with ``data: [DONE]``; and
it wraps upstream errors as ``litellm.<Class>: <Class>: OpenAIException - <upstream body>``
followed by a line about the model group and fallbacks.

The proxy starts once per test session; the test is skipped only where litellm is not
installed (``pip install 'litellm[proxy]'``, part of the test extras), never in CI.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output

from haoee_jupyter import Client, RateLimitError, ServerError

if importlib.util.find_spec("litellm") is None:
    if os.environ.get("CI"):
        raise RuntimeError("litellm is not installed, but CI must run the relay test: pip install -e '.[test]'")
    pytest.skip("litellm is not installed: pip install 'litellm[proxy]' to run the relay test", allow_module_level=True)

#: The proxy's master key: what the notebook sends. It must never show up in any output.
MASTER_KEY = "sk-litellm-relay-R7c4Vq9Zt2Lm8Xw"
#: Model names the proxy maps to the offline server (the fault- ones make it fail on purpose).
MODELS = ("gpt-4.1", "fault-500", "fault-429")
STARTUP_SECONDS = 180  # a cold start imports a lot; a loaded 2-core machine is slow


@dataclass
class Relay:
    url: str  # ends in /v1, as Haoee.base_url expects
    log: Path


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


@pytest.fixture(scope="session")
def relay(_offline_server_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    """A LiteLLM proxy on an ephemeral loopback port, in front of the session's offline server."""
    folder = tmp_path_factory.mktemp("litellm")
    config = {
        "model_list": [
            {
                "model_name": model,
                "litellm_params": {
                    "model": f"openai/{model}",
                    "api_base": _offline_server_session.url,  # already ends in /v1
                    "api_key": "offline-demo-needs-no-key",
                },
            }
            for model in MODELS
        ],
        "general_settings": {"master_key": MASTER_KEY},
        # One upstream request per call, so the test can count them (the client retries, if anyone).
        "litellm_settings": {"num_retries": 0},
    }
    config_file = folder / "config.yaml"
    config_file.write_text(json.dumps(config, indent=2))  # JSON is YAML
    log = folder / "litellm.log"
    environment = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONUNBUFFERED="1")
    environment["NO_PROXY"] = environment["no_proxy"] = "127.0.0.1,localhost"
    command = [
        sys.executable,
        "-c",
        "import sys; from litellm import run_server; sys.argv[0] = 'litellm'; run_server()",
    ]
    command += ["--config", str(config_file), "--host", "127.0.0.1", "--port", "0"]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=environment, cwd=folder)
    try:
        url = _wait_until_ready(process, log)
        yield Relay(url=url, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _wait_until_ready(process: subprocess.Popen[bytes], log: Path) -> str:
    """The proxy's /v1 URL once /health/liveliness answers (the port is read from its log)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    base = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the LiteLLM proxy exited with code {process.returncode}:\n{_log_tail(log)}")
        if base is None:
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", _log_tail(log))
            base = found.group(1) if found else None
        if base is not None:
            try:
                if httpx.get(f"{base}/health/liveliness", timeout=5).status_code == 200:
                    return f"{base}/v1"
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    pytest.fail(f"the LiteLLM proxy was not ready after {STARTUP_SECONDS} s:\n{_log_tail(log)}")


# --- the shell, pointed at the relay ----------------------------------------------------------


@pytest.fixture(scope="module")
def ip() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    loaded_here = "haoee_jupyter" not in shell.extension_manager.loaded
    shell.run_line_magic("load_ext", "haoee_jupyter")
    yield shell
    if loaded_here:
        shell.run_line_magic("unload_ext", "haoee_jupyter")


@pytest.fixture(autouse=True)
def through_the_relay(
    ip: InteractiveShell, relay: Relay, offline_server: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Each test: the magic's settings point at the relay; afterwards they are as they were."""
    for name in [name for name in os.environ if name.startswith("HAOEE_")]:
        monkeypatch.delenv(name)
    magics = ip.magics_manager.registry["Haoee"]
    before = {name: getattr(magics, name) for name in type(magics).class_traits(config=True)}
    ip.run_line_magic("config", f"Haoee.base_url = {relay.url!r}")
    ip.run_line_magic("config", f"Haoee.api_key = {MASTER_KEY!r}")
    ip.run_line_magic("config", 'Haoee.model = "gpt-4.1"')
    ip.run_line_magic("config", "Haoee.max_retries = 0")  # a failure shows at once, one upstream request
    ip.run_line_magic("config", "Haoee.timeout = 120")
    yield
    for name, value in before.items():
        setattr(magics, name, value)


def ask(ip: InteractiveShell, line: str, cell: str) -> CapturedIO:
    with capture_output() as captured:
        ip.run_cell_magic("haoee", line, cell)
    return captured


def everything_shown(captured: CapturedIO) -> str:
    parts = [captured.stdout, captured.stderr]
    for output in captured._outputs:
        parts += [value if isinstance(value, str) else json.dumps(value) for value in output["data"].values()]
    return "\n".join(parts)


def posts(server: Any) -> list[dict[str, Any]]:
    """The bodies of the POSTs that reached the offline server (through the relay)."""
    return [request["body"] for request in server.requests if request["method"] == "POST"]


def direct_answer(server: Any, prompt: str) -> str:
    """The same prompt asked of the offline server without the relay (its answers are deterministic)."""
    with Client(api_key="direct", base_url=server.url, max_retries=0) as client:
        text = client.respond(prompt, model="gpt-4.1").text
    server.reset()
    return text


# --- answers -----------------------------------------------------------------------------------


def test_plain_answer_through_the_relay(ip: InteractiveShell, offline_server: Any) -> None:
    expected = direct_answer(offline_server, "Explain entropy")
    captured = ask(ip, "--no-stream", "Explain entropy")
    [body] = posts(offline_server)  # LiteLLM passed /v1/responses through, unchanged
    assert body["model"] == "gpt-4.1" and body["input"] == "Explain entropy" and "stream" not in body
    response = ip.user_ns["haoee_response"]
    assert response.text == expected and response.status == "completed"
    final = captured._outputs[-1]["data"]
    assert final["text/markdown"].startswith(expected) and "gpt-4.1 · " in final["text/plain"]
    usage = ip.user_ns["haoee_usage"]
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens > 0
    assert MASTER_KEY not in everything_shown(captured)


def test_streamed_answer_through_the_relay(ip: InteractiveShell, offline_server: Any) -> None:
    expected = direct_answer(offline_server, "Explain entropy")
    offline_server.latency_ms = 10  # about 1.2 s for the whole answer: the relay must pass it on as it comes
    captured = ask(ip, "", "Explain entropy")
    [body] = posts(offline_server)
    assert body["stream"] is True
    assert ip.user_ns["haoee_response"].text == expected
    outputs = captured._outputs
    # The text was shown while it arrived, not only at the end.
    partial = [o["data"]["text/plain"].rstrip("▍ \n") for o in outputs[1:-1]]
    assert any(text and text in expected and len(text) < len(expected) for text in partial), partial
    final = outputs[-1]["data"]
    assert final["text/markdown"].startswith(expected) and not final["text/markdown"].endswith("▍")
    assert ip.user_ns["haoee_usage"].output_tokens > 0
    assert MASTER_KEY not in everything_shown(captured)


def test_web_search_sources_through_the_relay(ip: InteractiveShell, offline_server: Any) -> None:
    captured = ask(ip, "--web", "What is new in Python 3.13?")
    [body] = posts(offline_server)
    assert body["tools"] == [{"type": "web_search"}]
    citations = ip.user_ns["haoee_response"].citations
    assert len(citations) >= 2
    final = captured._outputs[-1]["data"]
    sources = final["text/markdown"][final["text/markdown"].index("**Sources**") :]
    for number, citation in enumerate(citations, 1):
        assert f"{number}. [{citation.title}]({citation.url})" in sources
        assert f"{number}. {citation.title} <{citation.url}>" in final["text/plain"]


def test_two_turn_chat_through_the_relay(ip: InteractiveShell, offline_server: Any) -> None:
    chat = f"relay_chat_{os.getpid()}"
    ask(ip, f"--chat {chat}", "What is a prime number?")
    first_id = ip.user_ns["haoee_response"].id
    captured = ask(ip, f"--chat {chat}", "And why is 1 not one?")
    first, second = posts(offline_server)
    assert "previous_response_id" not in first
    # LiteLLM hands out ids of its own and maps them back to the server's on the way in.
    assert second["previous_response_id"].startswith("resp_") and first_id.startswith("resp_")
    text = ip.user_ns["haoee_response"].text
    assert "Turn 2 of this conversation" in text and "Earlier you asked: “What is a prime number?”" in text
    assert ip.user_ns["haoee_usage"].cached_tokens > 0  # the server did carry the first turn over
    assert "Earlier you asked" in captured._outputs[-1]["data"]["text/markdown"]


# --- errors --------------------------------------------------------------------------------------

# What LiteLLM answered (litellm 1.108), for each fault of the offline server behind it:
#   500: {"error": {"message": "litellm.InternalServerError: InternalServerError: OpenAIException - <html>\r\n
#        <head><title>500 Internal Server Error</title></head>\r\n<body>\r\n<center><h1>500 Internal Server
#        Error</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n\n\nLiteLLM: model group
#        'fault-500' failed with the error above. No fallback was attempted.", "type": "internal_server_error",
#        "param": null, "code": "500"}}
#   429: the same shape around the server's own JSON error, as text: "litellm.RateLimitError: RateLimitError:
#        OpenAIException - {\"error\": {\"message\": \"Rate limit reached for fault-429 (...). Please try again
#        in 1s.\", ...}}\n\nLiteLLM: model group ...", code "429"; the upstream Retry-After comes back only as
#        an `llm_provider-retry-after` header.


@pytest.mark.parametrize(
    ("model", "error", "innermost"),
    [
        ("fault-500", ServerError, "500 Internal Server Error"),
        ("fault-429", RateLimitError, "Rate limit reached for fault-429"),
    ],
)
def test_relayed_error_shows_the_innermost_message_in_one_line(
    ip: InteractiveShell, offline_server: Any, model: str, error: type[Exception], innermost: str
) -> None:
    with capture_output() as captured:
        result = ip.run_cell(f"%%haoee -m {model}\nHello")
    assert isinstance(result.error_in_exec, error)
    assert len(posts(offline_server)) == 1
    message = str(result.error_in_exec)
    shown = captured.stdout.strip()
    assert "\n" not in message and innermost in message
    assert shown.startswith(f"{error.__name__}: ") and innermost in shown and "Traceback" not in shown
    # LiteLLM's wrapping is peeled off: no class-name chain, no HTML, no doubled status code.
    for wrapper in ("OpenAIException", "litellm.", "InternalServerError: InternalServerError", "<html", "<center>"):
        assert wrapper not in message, (wrapper, message)
    assert not re.search(r"\[HTTP (\d+), \1\]", message), message
    assert len(shown) <= 300, shown
    assert MASTER_KEY not in everything_shown(captured)
