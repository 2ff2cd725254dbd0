"""What a shell holds and what a call keeps, through the magic and the form in a real IPython
shell: clients built from the settings and replaced (the old one closed) when they change, a
bounded history, a call's memory, streamed reasoning, images read by their content, and the
dry run showing exactly the request a call sends."""

from __future__ import annotations

import asyncio
import base64
import gc
import io
import json
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output

from haoee_jupyter.notebook import _session
from haoee_jupyter.notebook._form import form
from haoee_jupyter.notebook._session import Session

KEY = "sk-shellstate-Mv5Qw1Ct9Kd3Xr7B"


@pytest.fixture(scope="module")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "haoee_jupyter")
    return shell


@pytest.fixture
def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["Haoee"]


@pytest.fixture
def state(magics: Any) -> Any:
    return magics.state


@pytest.fixture(autouse=True)
def clean(ip: InteractiveShell, magics: Any, offline_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [name for name in os.environ if name.startswith("HAOEE_")]:
        monkeypatch.delenv(name)
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)
    magics.base_url, magics.api_key, magics.max_retries = offline_server.url, KEY, 0
    magics.state.session = Session()
    magics.state.replace_clients()
    yield
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)
    magics.state.replace_clients()


def ask(ip: InteractiveShell, line: str = "", cell: str = "Explain entropy") -> CapturedIO:
    with capture_output() as captured:
        ip.run_cell_magic("haoee", line, cell)
    return captured


def posts(server: Any) -> list[dict[str, Any]]:
    return [r["body"] for r in server.requests if r["method"] == "POST"]


def record_closing(monkeypatch: pytest.MonkeyPatch, cls: type, name: str) -> list[Any]:
    """Calls of ``cls.<name>`` (close / aclose), which still close."""
    closed: list[Any] = []
    original = getattr(cls, name)
    if asyncio.iscoroutinefunction(original):

        async def wrapper(self: Any) -> None:
            closed.append(self)
            await original(self)

    else:

        def wrapper(self: Any) -> None:
            closed.append(self)
            original(self)

    monkeypatch.setattr(cls, name, wrapper)
    return closed


# --- clients ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        "timeout = 30.0",
        "connect_timeout = 5.0",
        "max_retries = 1",
        "model = 'gpt-5.2'",
        "api_key = 'sk-another-key-00000000'",
    ],
)
def test_a_changed_setting_replaces_the_client_and_closes_the_old_one(
    ip: InteractiveShell, state: Any, offline_server: Any, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    from haoee_jupyter import Client

    ask(ip)
    old = state.client()
    closed = record_closing(monkeypatch, Client, "close")
    ip.run_line_magic("config", f"Haoee.{setting}")
    assert closed == [old]
    ask(ip)
    new = state.client()
    assert new is not old and len(posts(offline_server)) == 2
    name = setting.split("=")[0].strip()
    if name == "timeout":
        assert new.timeout.read == 30.0
    if name == "max_retries":
        assert new.max_retries == 1
    if name == "model":
        assert new.model == "gpt-5.2" and posts(offline_server)[-1]["model"] == "gpt-5.2"


def test_a_form_answer_streaming_while_the_key_changes_finishes_then_its_client_closes(
    ip: InteractiveShell, magics: Any, state: Any, offline_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from haoee_jupyter import AsyncClient

    offline_server.latency_ms = 10
    closed = record_closing(monkeypatch, AsyncClient, "aclose")
    f = form(prompt="Explain entropy")
    loop = asyncio.new_event_loop()

    async def scenario() -> Any:
        f.run_button.click()
        while not (f.answer.outputs and len(f.answer.outputs[0]["data"]["text/plain"]) > 30):
            await asyncio.sleep(0.01)
        streaming = state.client("async")
        magics.api_key = "sk-changed-while-streaming-0000"  # as %config or %haoee key would
        assert closed == []  # not under the running answer
        call = await f.task
        return streaming, call

    try:
        streaming, call = loop.run_until_complete(asyncio.wait_for(scenario(), 30))
        assert call.status == "completed" and "Ask again" in call.text
        assert closed == [streaming]  # closed once the answer was done
        assert state.client("async") is not streaming
        loop.run_until_complete(state.aclose())
    finally:
        loop.close()


def test_unloading_closes_the_clients_and_stops_the_offline_server(
    ip: InteractiveShell, state: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from haoee_jupyter import Client

    with capture_output():
        ip.run_line_magic("haoee", "offline --latency-ms 0")
    server = state.offline_server
    ask(ip)
    client = state.client()
    closed = record_closing(monkeypatch, Client, "close")
    ip.run_line_magic("unload_ext", "haoee_jupyter")
    try:
        assert closed == [client] and not server.running
    finally:
        ip.run_line_magic("load_ext", "haoee_jupyter")


# --- history and memory ---------------------------------------------------------------------------


def test_the_session_keeps_a_bounded_history_and_counts_every_call(
    ip: InteractiveShell, magics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_session, "HISTORY", 3)
    magics.state.session = Session()
    for number in range(5):
        ask(ip, "--no-stream", f"question {number}")
    session = magics.state.session
    assert [call.number for call in session.calls] == [3, 4, 5]
    assert [call.prompt for call in session.calls] == ["question 2", "question 3", "question 4"]
    assert session.total.calls == ip.user_ns["haoee_usage_total"].calls == 5
    with capture_output() as captured:
        ip.run_line_magic("haoee", "usage")
    table = captured.outputs[-1].data["text/markdown"]
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:5]] == ["3", "4", "5"]
    assert "| 5 calls |" in table and "the last 3 calls; the total counts all 5" in table


def streamed_answer(size: int, delta: int = 7) -> list[bytes]:
    """A Responses stream whose text is ``size`` characters, sent in pieces of ``delta``."""
    text = ("entropy " * (size // 8 + 1))[:size]
    item = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed"}
    frames = [{"type": "response.created", "response": {"id": "resp_big", "status": "in_progress", "output": []}}]
    frames += [
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": text[i : i + delta],
        }
        for i in range(0, size, delta)
    ]
    done = dict(item, content=[{"type": "output_text", "text": text, "annotations": []}])
    frames.append(
        {
            "type": "response.completed",
            "response": {
                "id": "resp_big",
                "object": "response",
                "status": "completed",
                "model": "gpt-4.1",
                "output": [done],
                "usage": {"input_tokens": 3, "output_tokens": size // 4, "total_tokens": 3 + size // 4},
            },
        }
    )
    return [b"".join(f"event: {f['type']}\ndata: {json.dumps(f)}\n\n".encode() for f in frames)]


def test_a_finished_call_keeps_its_answer_about_once(
    ip: InteractiveShell, magics: Any, http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 1_000_000
    http_server.add(
        http_server.Reply(body=streamed_answer(1000), content_type="text/event-stream"),
        http_server.Reply(body=streamed_answer(size, delta=100), content_type="text/event-stream"),
    )
    magics.base_url = http_server.url
    magics.updates_per_second = 2
    # What a kernel keeps, not what a frontend is sent: the display's bundles are not held here.
    monkeypatch.setattr(ip.display_pub, "publish", lambda *args, **kwargs: None)
    ip.run_cell_magic("haoee", "", "A first, small call: whatever it imports is not counted")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        ip.run_cell_magic("haoee", "", "Say entropy many times")
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    kept = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    call = magics.state.session.calls[-1]
    assert call.status == "completed" and len(call.text) == size
    assert kept < 1.2 * size, f"the call keeps {kept / size:.2f} times its answer"


# --- reasoning --------------------------------------------------------------------------------------


def test_the_reasoning_summary_streams_before_the_answer(
    ip: InteractiveShell, magics: Any, offline_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from haoee_jupyter.notebook._display import NotebookView

    offline_server.latency_ms = 2
    magics.updates_per_second = 1000
    seen: list[tuple[str, str]] = []
    original = NotebookView.update

    def update(self: Any, call: Any, final: bool) -> None:
        seen.append((call.reasoning_text, call.text))
        original(self, call, final)

    monkeypatch.setattr(NotebookView, "update", update)
    ask(ip, "--reasoning low -m gpt-5.2", "Why is the sky blue?")
    summary = "\n\n".join(ip.user_ns["haoee_response"].reasoning)
    assert summary
    before_text = [reasoning for reasoning, text in seen if reasoning and not text]
    assert len(before_text) >= 2 and summary.startswith(before_text[0]) and before_text[0] != summary
    assert seen[-1] == (summary, ip.user_ns["haoee_response"].text)


# --- images by their content ----------------------------------------------------------------------


def image_bytes(kind: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(buffer, format=kind)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("kind", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")]
)
def test_an_image_file_is_known_by_its_content_not_its_name(
    ip: InteractiveShell, offline_server: Any, tmp_path: Path, kind: str, mime: str
) -> None:
    path = tmp_path / "picture.txt"  # a misleading name
    path.write_bytes(image_bytes(kind))
    ask(ip, f"--image {path}", "What is this?")
    [message] = posts(offline_server)[0]["input"]
    url = message["content"][1]["image_url"]
    assert url.startswith(f"data:{mime};base64,") and base64.b64decode(url.split(",", 1)[1]) == path.read_bytes()


@pytest.mark.parametrize("content", [b"just some notes, not a picture\n", b"", b"\x89PNX not quite"])
def test_a_file_that_is_not_an_image_is_refused_in_one_line_and_nothing_is_sent(
    ip: InteractiveShell, offline_server: Any, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(content)
    with capture_output() as captured, pytest.raises(UsageError) as info:
        ip.run_cell_magic("haoee", f"--image {path}", "What is this?")
    message = str(info.value)
    assert message.startswith(f"--image {path}: the file's content is not a PNG, JPEG, GIF or WebP image")
    assert "\n" not in message and captured.outputs == []
    assert offline_server.requests == []


# --- the dry run ------------------------------------------------------------------------------------


ANSWER = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "gpt-5.2",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hi.", "annotations": []}],
        }
    ],
    "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
}


@pytest.mark.parametrize("stream", ["--no-stream", ""])
def test_the_dry_run_shows_exactly_the_request_a_call_sends(
    ip: InteractiveShell, magics: Any, http_server: Any, stream: str
) -> None:
    magics.base_url = http_server.url
    http_server.add(body=json.dumps(ANSWER).encode())
    ip.user_ns["topic"] = "entropy"
    line = f"-m gpt-5.2 -i 'Be brief.' -t 0.2 --web --reasoning low {stream}"
    captured = ask(ip, line + " --dry-run", "Explain {topic}")
    assert http_server.requests == []
    plain = captured._outputs[-1]["data"]["text/plain"]
    ask(ip, line, "Explain {topic}")
    [sent] = http_server.requests
    head, body = plain.split("\n\n", 1)
    title, request_line, *header_lines = head.splitlines()
    assert title == "Dry run: nothing was sent." and request_line == f"POST {http_server.url}{sent.path}"
    shown = dict(header.split(": ", 1) for header in header_lines)
    assert {"Authorization", "ModelName", "User-Agent", "Accept", "Content-Type"} <= set(shown)
    shown = {name.lower(): value for name, value in shown.items()}
    real = dict(sent.headers)
    assert shown.pop("authorization") == "Bearer sk-…" + KEY[-4:] and real.pop("authorization") == f"Bearer {KEY}"
    assert shown == real  # every header the call sent, as it sent it, and no other
    assert json.loads(body) == sent.json
    assert KEY[4:-4] not in json.dumps(captured._outputs)


def test_the_dry_run_shortens_image_data_and_says_when_no_key_is_set(
    ip: InteractiveShell, magics: Any, offline_server: Any
) -> None:
    from PIL import Image

    magics.api_key = ""
    ip.user_ns["pic"] = Image.new("RGB", (64, 64), "green")
    plain = ask(ip, "--dry-run --image pic", "What colour?")._outputs[-1]["data"]["text/plain"]
    assert offline_server.requests == []
    assert "Authorization: (not set: run %haoee key)" in plain.splitlines()
    body = json.loads(plain.split("\n\n", 1)[1])
    url = body["input"][0]["content"][1]["image_url"]
    assert url.startswith("data:image/png;base64,") and url.endswith(" characters)") and len(url) < 80
