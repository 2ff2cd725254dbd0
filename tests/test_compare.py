"""%%haoee --models a,b: the same prompt to several models at once, side by side, in a real
IPython shell against the offline server (and the loopback server for long streams)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _haoee_shell import *  # noqa: F403  (the shell fixtures)
from _haoee_shell import ask, posts, publishes
from IPython.core.error import UsageError

from haoee_jupyter import HaoeeError, Response
from haoee_jupyter.notebook import _compare
from haoee_jupyter.notebook._compare import WINDOW, CompareInterrupted

MODELS = ["gpt-4.1", "qwen3-max"]


def test_a_prompt_that_cannot_be_filled_sends_nothing(ip: Any, offline_server: Any) -> None:
    with pytest.raises(UsageError, match="refers to 'topic'"):
        ask(ip, "--models gpt-4.1,qwen3-max", "Explain {topic}")
    assert posts(offline_server) == []


def test_the_answers_side_by_side(ip: Any, offline_server: Any, state: Any) -> None:
    ip.user_ns["topic"] = "entropy"
    captured = ask(ip, "--models gpt-4.1,qwen3-max -t 0.2 -i 'Be brief.' -o ans", "Explain {topic}")
    bodies = sorted(posts(offline_server), key=lambda body: body["model"])
    assert [body["model"] for body in bodies] == MODELS
    assert [{k: v for k, v in body.items() if k != "model"} for body in bodies] == [
        {"input": "Explain entropy", "instructions": "Be brief.", "temperature": 0.2, "stream": True}
    ] * 2
    shown = publishes(captured)
    assert all(p.get("update") for p in shown[1:]), "one grid output, updated in place"
    final = shown[-1]["data"]
    markdown, plain = final["text/markdown"], final["text/plain"]
    assert markdown.startswith('<div class="haoee-grid" style="display: grid; grid-template-columns: repeat(2,')
    assert markdown.count('<div class="haoee-grid-column"') == 2
    assert "**gpt-4.1**" in markdown and "**qwen3-max**" in markdown
    columns = markdown.split('<div class="haoee-grid-column"')[1:]
    for model, column in zip(MODELS, columns):  # each answer in its own column, its footer under it
        assert f"**{model}**" in column and f"{model} · " in column.split("<sub")[-1] and "brief" in column
    assert plain.startswith("── gpt-4.1 ──\n") and "\n── qwen3-max ──\n" in plain
    footers = [line for line in plain.splitlines() if line.startswith("[")]
    assert [f.split(" · ")[0] for f in footers] == ["[gpt-4.1", "[qwen3-max"] and all(" s" in f for f in footers)
    responses = ip.user_ns["haoee_responses"]
    assert list(responses) == MODELS and all(isinstance(r, Response) for r in responses.values())
    assert ip.user_ns["ans"] == {model: responses[model].text for model in MODELS}
    total = ip.user_ns["haoee_usage_total"]
    assert total.calls == 2 and set(total.by_model) == set(MODELS)
    assert ip.user_ns["haoee_response"] is responses["qwen3-max"]  # the last model's, with its own usage
    assert ip.user_ns["haoee_usage"] == responses["qwen3-max"].usage
    assert total.total_tokens == sum(r.usage.total_tokens for r in responses.values())
    assert sorted((e.model, e.source) for e in state.call_log.search()) == [(m, "compare") for m in MODELS]


def test_m_given_twice_compares_too(ip: Any, offline_server: Any) -> None:
    ask(ip, "-m gpt-4.1 -m qwen3-max", "Hello")
    assert sorted(body["model"] for body in posts(offline_server)) == MODELS
    assert list(ip.user_ns["haoee_responses"]) == MODELS


def test_a_model_that_fails_keeps_its_place_and_the_others_answer(ip: Any, offline_server: Any, state: Any) -> None:
    captured = ask(ip, "--models gpt-4.1,fault-500", "Hello")
    responses = ip.user_ns["haoee_responses"]
    assert isinstance(responses["gpt-4.1"], Response) and responses["fault-500"] is None
    plain = publishes(captured)[-1]["data"]["text/plain"]
    failed = plain.split("── fault-500 ──")[1]
    assert "ServerError: " in failed and "error (nothing had arrived)" in failed
    assert isinstance(state.session.last_error, HaoeeError)
    with pytest.raises(HaoeeError):  # when every model fails, the cell fails
        ask(ip, "--models fault-500,fault-401", "Hello")


def test_format_json_not_met_is_said_and_the_texts_are_kept(ip: Any, offline_server: Any) -> None:
    with pytest.raises(UsageError, match=r"^gpt-4.1 \(and 1 more model\): The answer is not the JSON asked for"):
        ask(ip, "--models gpt-4.1,qwen3-max -f json -o data", "List two planets")
    data = ip.user_ns["data"]
    assert list(data) == MODELS and all(text.startswith("## Offline demo answer") for text in data.values())
    with pytest.raises(UsageError, match=r"kept in haoee_responses\['gpt-4.1'\].text"):
        ask(ip, "--models gpt-4.1,qwen3-max -f json", "List two planets")


def test_models_that_do_not_go_together_are_refused(ip: Any, offline_server: Any) -> None:
    for line, message in {
        "--models a,b --chat c": "--chat cannot go with --models",
        "--models a,b -f code": "-f code cannot go with --models",
        "-m c --models a,b": "-m c and --models a,b disagree",
        "--models ,": "--models names no model: give them with commas",
        "--models a,a": "--models names a twice: name each model once",
        "-m a -m a": "--models names a twice",
    }.items():
        with pytest.raises(UsageError, match=message):
            ask(ip, line, "Hello")
    assert posts(offline_server) == []
    captured = ask(ip, "--models gpt-4.1,qwen3-max --dry-run", "Hello")
    assert "Each of gpt-4.1, qwen3-max gets the same request" in publishes(captured)[-1]["data"]["text/plain"]
    assert posts(offline_server) == []


def sse(text: str, chunk: int = 8, pause: float = 0.0005) -> list[Any]:
    """A streamed Responses answer of this text, paced."""
    frames: list[Any] = []
    for i in range(0, len(text), chunk):
        delta = {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": text[i : i + chunk],
        }
        frames += [f"event: {delta['type']}\ndata: {json.dumps(delta)}\n\n".encode(), pause]
    message = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
    usage = {"input_tokens": 4, "output_tokens": len(text) // 4, "total_tokens": 4 + len(text) // 4}
    done = {"id": "r1", "status": "completed", "model": "gpt-4.1", "output": [message], "usage": usage}
    frames.append(
        f"event: response.completed\ndata: {json.dumps({'type': 'response.completed', 'response': done})}\n\n".encode()
    )
    return frames


def long_answer(paragraphs: int) -> str:
    code = "".join(f"    total += weight({n})\n" for n in range(8))
    block = "Entropy counts the **microscopic states** behind one state. " * 5
    return "".join(f"## Part {n}\n\n{block}\n\n```python\ndef part_{n}():\n{code}```\n\n" for n in range(paragraphs))


@pytest.mark.parametrize("paragraphs", [10, 80])
def test_while_they_stream_an_update_stays_bounded(ip: Any, http_server: Any, paragraphs: int) -> None:
    answer = long_answer(paragraphs)
    http_server.add(http_server.Reply(body=sse(answer), content_type="text/event-stream"))
    ip.run_line_magic("config", f"Haoee.base_url = {http_server.url + '/v1'!r}")
    ip.run_line_magic("config", "Haoee.updates_per_second = 200")
    captured = ask(ip, "--models gpt-4.1,qwen3-max", "Explain entropy")
    shown = publishes(captured)
    streaming = [p["data"]["text/markdown"] for p in shown[:-1]]
    assert len(streaming) > 3
    # Each column shows at most about three windows of its answer while it streams.
    assert max(map(len, streaming)) < 2 * (3 * WINDOW + 1500)
    if len(answer) > 10 * WINDOW:  # only the end of each answer was sent while it streamed
        assert any("characters above" in markdown for markdown in streaming)
    final = shown[-1]["data"]["text/markdown"]
    assert final.count("## Part 0") == 2 and final.count(f"## Part {paragraphs - 1}") == 2  # whole, at the end
    assert all("▍" not in part for part in final.split("haoee-grid-column"))


def test_ctrl_c_stops_every_stream_and_keeps_what_arrived(
    ip: Any, offline_server: Any, state: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline_server.latency_ms = 20  # about 2.5 s for a whole answer
    draw = _compare._GridView.draw

    def draw_then_stop(self: Any, calls: Any, columns: Any, **kwargs: Any) -> None:
        draw(self, calls, columns, **kwargs)
        if not kwargs.get("final") and all(column.pieces for column in columns.values()):
            raise KeyboardInterrupt  # as Ctrl-C would, once both columns show some text

    monkeypatch.setattr(_compare._GridView, "draw", draw_then_stop)
    with pytest.raises(KeyboardInterrupt) as info:
        ask(ip, "--models gpt-4.1,qwen3-max", "Explain entropy")
    assert isinstance(info.value, CompareInterrupted)
    assert info.value._render_traceback_() == [
        "Interrupted: the answers so far (2 of 2 models) are kept in haoee_responses."
    ]
    partial = {model: response.text for model, response in ip.user_ns["haoee_responses"].items()}
    assert [call.status for call in state.session.calls] == ["interrupted", "interrupted"]
    monkeypatch.setattr(_compare._GridView, "draw", draw)
    offline_server.latency_ms = 0
    ask(ip, "--models gpt-4.1,qwen3-max", "Explain entropy")
    whole = {model: response.text for model, response in ip.user_ns["haoee_responses"].items()}
    for model in MODELS:
        assert partial[model] and whole[model].startswith(partial[model]) and len(partial[model]) < len(whole[model])
    logged = [e.status for e in reversed(state.call_log.search(None))]
    assert logged == ["interrupted", "interrupted", "completed", "completed"]
