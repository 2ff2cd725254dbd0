"""``--api chat`` and ``%config Haoee.api = "chat"``: the same ``%%haoee`` cell sent to
``/v1/chat/completions``, in a real IPython shell against the offline demo server.

The answer must look and behave as on ``/v1/responses`` (rendering, variables, usage); what
differs is the wire, checked in what the server received.
"""

from __future__ import annotations

import io
import json
import os
import re
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output

from haoee_jupyter.notebook._session import Session

FAKE_KEY = "sk-haoeetest-Ch4tW1reKeyVw8Nf3Jd"


@pytest.fixture(scope="session")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "haoee_jupyter")
    return shell


@pytest.fixture
def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["Haoee"]


@pytest.fixture(autouse=True)
def clean_shell(ip: InteractiveShell, magics: Any, offline_server: Any, tmp_path: Any, monkeypatch: Any) -> Any:
    for name in list(os.environ):
        if name.startswith("HAOEE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HAOEE_HOME", str(tmp_path))
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)
    ip.run_line_magic("config", f"Haoee.base_url = {offline_server.url!r}")
    ip.run_line_magic("config", f"Haoee.api_key = {FAKE_KEY!r}")
    ip.run_line_magic("config", "Haoee.max_retries = 0")
    ip.run_line_magic("config", "Haoee.updates_per_second = 1000")
    magics.state.session = Session()
    magics.state.replace_clients()
    before = set(ip.user_ns) - {"haoee_response", "haoee_usage", "haoee_usage_total"}
    yield
    for name in set(ip.user_ns) - before:  # leave no variable for the next file's tests
        del ip.user_ns[name]
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)


def ask(ip: InteractiveShell, line: str, cell: str = "Explain entropy") -> CapturedIO:
    with capture_output() as captured:
        ip.run_cell_magic("haoee", line, cell)
    return captured


def chat_posts(server: Any) -> list[dict[str, Any]]:
    return [r["body"] for r in server.requests if r["method"] == "POST" and r["path"] == "/v1/chat/completions"]


def final(captured: CapturedIO) -> dict[str, str]:
    return dict(captured._outputs[-1]["data"])


def test_a_cell_goes_to_chat_completions_with_every_field(ip: InteractiveShell, offline_server: Any) -> None:
    captured = ask(ip, "--api chat --no-stream -i 'Be brief.' -t 0.2 --top-p 0.9 --max-tokens 400 -o answer")
    (body,) = chat_posts(offline_server)
    assert not [r for r in offline_server.requests if r["path"] == "/v1/responses"]
    assert body == {
        "model": "gpt-4.1",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Explain entropy"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 400,
    }
    response = ip.user_ns["haoee_response"]
    assert response.status == "completed" and response.text == ip.user_ns["answer"]
    assert response.text.strip() in final(captured)["text/markdown"]
    usage = ip.user_ns["haoee_usage"]
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert ip.user_ns["haoee_usage_total"].total_tokens == usage.total_tokens


def test_the_setting_sends_every_cell_there_and_streams(ip: InteractiveShell, offline_server: Any) -> None:
    ip.run_line_magic("config", "Haoee.api = 'chat'")
    captured = ask(ip, "")
    (body,) = chat_posts(offline_server)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    updates = [o["data"].get("text/markdown", "") for o in captured._outputs[:-1]]
    assert len([u for u in updates if u]) >= 2  # it streamed in, piece by piece
    response = ip.user_ns["haoee_response"]
    assert response.usage.output_tokens > 0  # the usage of the stream's last chunk
    assert response.text.strip() in final(captured)["text/markdown"]
    # --api responses goes back for one cell
    ask(ip, "--api responses")
    assert [r["path"] for r in offline_server.requests if r["method"] == "POST"][-1] == "/v1/responses"


def test_a_chat_conversation_resends_its_messages(ip: InteractiveShell, offline_server: Any) -> None:
    ask(ip, "--api chat --chat demo -i 'Answer in English.'", "My name is Ada.")
    first_answer = ip.user_ns["haoee_response"].text
    ask(ip, "--api chat --chat demo", "What is my name?")
    first, second = chat_posts(offline_server)
    assert first["messages"][-1] == {"role": "user", "content": "My name is Ada."}
    assert "previous_response_id" not in json.dumps(second)
    assert second["messages"] == [
        {"role": "system", "content": "Answer in English."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": first_answer},
        {"role": "user", "content": "What is my name?"},
    ]
    assert "My name is Ada." in ip.user_ns["haoee_response"].text  # the offline answer quotes earlier turns
    with capture_output() as captured:
        ip.run_line_magic("haoee", "chats")
    shown = captured.outputs[0].data
    assert "| demo | 2 turns | its 4 messages (resent each turn) |" in shown["text/markdown"]
    assert shown["text/plain"] == "demo: 2 turns, continues from its 4 messages (resent each turn)"
    ask(ip, "--chat other", "Hello")
    with capture_output() as captured:
        ip.run_line_magic("haoee", "chats")
    plain = captured.outputs[0].data["text/plain"]
    assert f"other: 1 turn, continues from {ip.user_ns['haoee_response'].id}" in plain.splitlines()
    with capture_output() as captured:
        ip.run_line_magic("haoee", "reset other")
        ip.run_line_magic("haoee", "reset")
    assert captured.stdout.splitlines()[-1] == "Forgot 1 chat."


def test_a_conversation_moves_between_the_wires(ip: InteractiveShell, offline_server: Any) -> None:
    ask(ip, "--chat move", "First question")
    first_id = ip.user_ns["haoee_response"].id
    ask(ip, "--chat move --api chat", "Second question")
    ask(ip, "--chat move", "Third question")
    posts = [r for r in offline_server.requests if r["method"] == "POST"]
    assert [p["path"] for p in posts] == ["/v1/responses", "/v1/chat/completions", "/v1/responses"]
    second, third = posts[1]["body"], posts[2]["body"]
    assert [m["content"] for m in second["messages"] if m["role"] == "user"] == ["First question", "Second question"]
    # The last turn had no Responses id to continue from: the messages go as the input.
    assert "previous_response_id" not in third
    assert [m["role"] for m in third["input"]] == ["user", "assistant", "user", "assistant", "user"]
    assert third["input"][-1]["content"] == "Third question"
    assert first_id and first_id not in json.dumps(third)


def test_a_cut_answer_is_shown_incomplete(ip: InteractiveShell, offline_server: Any) -> None:
    captured = ask(ip, "--api chat --max-tokens 5")
    response = ip.user_ns["haoee_response"]
    assert response.status == "incomplete" and response.incomplete_reason == "max_output_tokens"
    shown = final(captured)
    assert "Cut off here" in shown["text/markdown"] and "incomplete" in shown["text/plain"]
    assert response.text  # the partial text is kept


def test_reasoning_content_streams_as_reasoning(ip: InteractiveShell, offline_server: Any, monkeypatch: Any) -> None:
    import IPython.display

    offline_server.latency_ms = 1  # token by token
    # The view clears its pieces at the end (one clean output); keep every publish to look at.
    monkeypatch.setattr(IPython.display, "clear_output", lambda wait=False: None)
    captured = ask(ip, "--api chat -m deepseek-reasoner")
    response = ip.user_ns["haoee_response"]
    assert response.reasoning and response.text
    reasoning = "\n\n".join(response.reasoning)
    # the reasoning streamed into its fold before any of the answer came
    updates = [o["data"].get("text/markdown", "") for o in captured._outputs]
    first_fold = next(i for i, u in enumerate(updates) if "<details" in u and "Reasoning" in u)
    assert response.text[:30] not in updates[first_fold]
    assert reasoning[:30] in updates[-1] and response.text[:30] in updates[-1]


def test_images_and_web_search_on_the_chat_wire(ip: InteractiveShell, offline_server: Any, tmp_path: Any) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(buffer, format="PNG")
    (tmp_path / "dot.png").write_bytes(buffer.getvalue())
    ask(ip, f"--api chat --web --image {tmp_path / 'dot.png'}", "What is this?")
    (body,) = chat_posts(offline_server)
    (message,) = body["messages"]
    assert message["content"][0] == {"type": "text", "text": "What is this?"}
    assert message["content"][1]["type"] == "image_url"
    assert message["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert body["web_search_options"] == {}


def test_the_dry_run_shows_the_chat_request_it_would_send(ip: InteractiveShell, offline_server: Any) -> None:
    ask(ip, "--api chat --chat dry", "Remember 7.")
    captured = ask(ip, "--api chat --chat dry --dry-run -t 0.5", "What did I say?")
    text = captured.outputs[0].data["text/plain"]
    assert f"POST {offline_server.url}/chat/completions" in text
    shown = json.loads(text[text.index("\n{") :])
    ask(ip, "--api chat --chat dry -t 0.5", "What did I say?")
    assert chat_posts(offline_server)[-1] == shown  # the dry run is the request
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant", "user"]
    assert FAKE_KEY[6:-4] not in text


def test_what_the_chat_wire_cannot_say_is_refused_before_sending(ip: InteractiveShell, offline_server: Any) -> None:
    ip.user_ns["Answer"] = {"type": "object", "properties": {"n": {"type": "integer"}}}
    ask(ip, "--api chat --schema Answer --no-stream", "Give n as JSON")  # json_schema maps over
    assert chat_posts(offline_server)[0]["response_format"]["type"] == "json_schema"
    with pytest.raises(UsageError, match=re.escape("--api must be one of responses, chat, not 'grpc'")):
        ask(ip, "--api grpc")


def test_the_forms_api_choice(ip: InteractiveShell, magics: Any, offline_server: Any) -> None:
    import asyncio

    from haoee_jupyter import form

    f = form(prompt="Explain entropy", model="gpt-4.1", api="chat")
    assert f.api.description == "API" and list(f.api.options) == ["responses", "chat"]
    assert f.cell_text() == "%%haoee -m gpt-4.1 --api chat\nExplain entropy"
    loop = asyncio.new_event_loop()
    try:

        async def click() -> Any:
            f.run_button.click()
            assert f.task is not None
            return await f.task

        call = loop.run_until_complete(asyncio.wait_for(click(), 30))
        loop.run_until_complete(magics.state.aclose())
    finally:
        loop.close()
    assert call.status == "completed" and call.endpoint == "/chat/completions"
    (body,) = chat_posts(offline_server)
    assert body["messages"] == [{"role": "user", "content": "Explain entropy"}]
    # at the setting, the choice shows it and Copy as cell leaves it out
    magics.api = "chat"
    g = form(prompt="Hi", model="gpt-4.1")
    assert g.api.value == "chat" and g.cell_text() == "%%haoee -m gpt-4.1\nHi"
