"""The ipywidgets form in a real IPython shell, against the offline demo server on loopback.

Buttons are clicked from inside a running asyncio loop, as ipykernel calls them; each test has
its own loop, and the session's AsyncClient is closed on it at the end.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import random
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import comm
import ipywidgets
import pytest
from comm.base_comm import BaseComm
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import haoee_jupyter
from haoee_jupyter.notebook._core import prepare
from haoee_jupyter.notebook._form import FIELDS, KNOWN_MODELS, STOPPED, Form, WidgetView, form
from haoee_jupyter.notebook._session import Session

T = TypeVar("T")
FOOTER = r"[\d,]+ in / [\d,]+ out tokens · \d+\.\d s"


# --- the shell, a loop per test ------------------------------------------------------------


@pytest.fixture(scope="session")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "haoee_jupyter")
    return shell


@pytest.fixture
def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["Haoee"]


@pytest.fixture(autouse=True)
def clean(ip: InteractiveShell, magics: Any, offline_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Default settings pointed at the offline server, a new session, no leftover variables."""
    for name in list(os.environ):
        if name.startswith("HAOEE_"):
            monkeypatch.delenv(name)
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)
    magics.base_url, magics.api_key, magics.max_retries = offline_server.url, "offline-demo", 0
    magics.state.session = Session()
    magics.state.replace_clients()
    for name in ("haoee_response", "haoee_usage", "haoee_usage_total", "topic"):
        ip.user_ns.pop(name, None)
    yield
    magics.state.replace_clients()


@pytest.fixture
def state(magics: Any) -> Any:
    return magics.state


@pytest.fixture
def loop(magics: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """The test's event loop; the shell's clients are closed on it at the end."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(magics.state.aclose())
    loop.close()


@pytest.fixture
def run(loop: asyncio.AbstractEventLoop) -> Callable[[Coroutine[Any, Any, T]], T]:
    """Run a coroutine to its end on the test's loop."""
    return lambda coroutine: loop.run_until_complete(asyncio.wait_for(coroutine, 30))


async def click_run(f: Form) -> Any:
    """Press Run as the kernel would (in the loop) and wait for the request to finish."""
    f.run_button.click()
    assert f.task is not None, f.error_line.value
    return await f.task


async def until(condition: Callable[[], Any], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def markdown(f: Form) -> str:
    (output,) = f.answer.outputs
    assert output["output_type"] == "display_data"
    return str(output["data"]["text/markdown"])


def plain(html_value: str) -> str:
    return re.sub(r"<[^>]+>", "", html_value)


def posts(server: Any) -> list[dict[str, Any]]:
    return [r["body"] for r in server.requests if r["method"] == "POST"]


# --- running ---------------------------------------------------------------------------------


def test_run_renders_markdown_sets_variables_and_records_the_call(
    ip: InteractiveShell, magics: Any, offline_server: Any, run: Any
) -> None:
    f = form(prompt="Explain entropy")
    call = run(click_run(f))

    shown = markdown(f)
    assert re.search(r"^#{1,2} ", shown, re.M), shown
    assert re.search(r"^- ", shown, re.M)
    assert "```" in shown and "| Measure |" in shown
    status = plain(f.status_line.value)
    assert re.fullmatch(r"gpt-4\.1 · " + FOOTER + r" · this session: 122 tokens in 1 call", status), status
    assert "out tokens" not in shown and "<sub>" not in shown  # said once, in the status line
    assert f.error_line.value == ""
    assert f.last_call is call and call.status == "completed"
    assert list(magics.state.session.calls) == [call] and call.source == "form"
    assert ip.user_ns["haoee_response"] is call.response
    assert ip.user_ns["haoee_usage"] == call.response.usage
    assert ip.user_ns["haoee_usage_total"].calls == 1
    assert ip.user_ns["haoee_usage_total"].total_tokens == call.response.usage.total_tokens > 0
    (body,) = posts(offline_server)
    assert body["input"] == "Explain entropy" and body["model"] == "gpt-4.1" and body["stream"] is True


def test_answer_streams_before_it_is_final(offline_server: Any, run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    offline_server.latency_ms = 5
    f = form(prompt="Explain entropy")
    states: list[str] = []
    update = WidgetView.update

    def watched(view: WidgetView, call: Any, final: bool) -> None:
        update(view, call, final)
        states.append("".join(output["data"].get("text/markdown", "") for output in f.answer.outputs))

    monkeypatch.setattr(WidgetView, "update", watched)
    run(click_run(f))
    partial = [state for state in states if state.endswith("▍")]
    assert len(partial) >= 3, states
    assert len(set(partial)) == len(partial)  # each update shows more text
    assert not states[-1].endswith("▍") and "Offline demo answer" in states[-1]


def test_request_uses_every_field_and_the_same_body_as_the_magic(
    ip: InteractiveShell, magics: Any, offline_server: Any, run: Any
) -> None:
    ip.user_ns["topic"] = "entropy"
    f = form(
        model="qwen3-max",
        instructions="Be brief.",
        prompt="Explain {topic} {{literally}}",
        temperature=0.4,
        max_tokens=300,
        web=True,
        stream=False,
    )
    call = run(click_run(f))
    assert call.status == "completed", f.error_line.value
    (body,) = posts(offline_server)
    assert body == {
        "model": "qwen3-max",
        "input": "Explain entropy {literally}",
        "instructions": "Be brief.",
        "temperature": 0.4,
        "max_output_tokens": 300,
        "tools": [{"type": "web_search"}],
    }
    assert prepare(f.prompt.value, f.options(), magics.state).body == call.body


def test_run_is_disabled_while_running_and_stop_only_then(offline_server: Any, run: Any) -> None:
    offline_server.latency_ms = 20
    f = form(prompt="Explain entropy")
    assert (f.run_button.disabled, f.stop_button.disabled) == (False, True)

    async def scenario() -> None:
        f.run_button.click()
        task = f.task
        assert f.running and (f.run_button.disabled, f.stop_button.disabled) == (True, False)
        f.run_button.click()  # ignored while running
        assert f.task is task
        await task

    run(scenario())
    assert not f.running and (f.run_button.disabled, f.stop_button.disabled) == (False, True)
    assert len(posts(offline_server)) == 1


def test_the_form_shows_it_is_busy_while_it_streams(offline_server: Any, run: Any) -> None:
    offline_server.latency_ms = 10
    f = form(prompt="Explain entropy")

    async def scenario() -> None:
        f.run_button.click()
        assert (f.run_button.description, f.run_button.icon) == ("Running…", "spinner")
        assert "haoee-busy" in f.run_button._dom_classes and not f.stop_button.disabled
        assert f.status_line.layout.display == "none"  # no line from an earlier run meanwhile
        await f.task

    run(scenario())
    assert (f.run_button.description, f.run_button.icon, f.run_button.disabled) == ("Run", "play", False)
    assert "haoee-busy" not in f.run_button._dom_classes and f.stop_button.disabled


def test_a_bad_value_after_an_answer_is_said_beside_run_and_dims_that_answer(offline_server: Any, run: Any) -> None:
    f = form(prompt="Explain entropy")
    run(click_run(f))
    answered, status = f.answer.outputs, f.status_line.value
    f.temperature.value = "3"

    async def scenario() -> None:
        f.run_button.click()

    run(scenario())
    assert "Temperature must be from 0 to 2" in plain(f.error_line.value) and f.task.done()
    assert f.error_line in f.button_row.children  # beside Run, not above the old answer
    assert f.answer.outputs == answered and f.status_line.value == status  # kept, but dimmed
    assert "haoee-stale" in f.answer._dom_classes and "haoee-stale" in f.status_line._dom_classes

    f.temperature.value = "0.5"
    run(click_run(f))
    assert f.error_line.value == "" and "haoee-stale" not in f.answer._dom_classes
    assert "haoee-stale" not in f.status_line._dom_classes and plain(f.status_line.value).endswith("2 calls")


def test_stop_keeps_the_partial_answer_and_marks_the_call_interrupted(
    ip: InteractiveShell, magics: Any, offline_server: Any, run: Any
) -> None:
    offline_server.latency_ms = 60
    f = form(prompt="Explain entropy")

    async def scenario() -> Any:
        f.run_button.click()
        await until(lambda: f.answer.outputs and len(f.answer.outputs[0]["data"]["text/plain"]) > 40)
        f.stop_button.click()
        return await f.task

    call = run(scenario())
    assert call.interrupted and call.status == "interrupted"
    assert 40 < len(call.answer) < 300
    kept = markdown(f)
    assert call.answer.strip() in kept and not kept.endswith("▍")
    assert "interrupted" not in kept and "out tokens" not in kept  # the status line says it
    status = plain(f.status_line.value)
    assert status.startswith(STOPPED + " · gpt-4.1 · ") and "this session: " in status
    assert "haoee-failed" not in f.status_line.value and f.error_line.value == ""  # not an error
    assert magics.state.session.calls[-1] is call and call.source == "form"
    assert (f.run_button.disabled, f.stop_button.disabled) == (False, True)

    offline_server.latency_ms = 0
    run(click_run(f))  # the next Run says how that one went
    assert not plain(f.status_line.value).startswith("Stopped") and f.last_call.status == "completed"


def test_two_forms_work_independently(magics: Any, offline_server: Any, run: Any) -> None:
    offline_server.latency_ms = 15
    first, second = form(prompt="Explain entropy"), form(prompt="Describe a rainbow", model="deepseek-v4-flash")

    async def scenario() -> None:
        first.run_button.click()
        second.run_button.click()
        assert first.task is not second.task and first.running and second.running
        await until(lambda: first.answer.outputs and "▍" in first.answer.outputs[-1]["data"]["text/markdown"])
        first.stop_button.click()
        await asyncio.gather(first.task, second.task)

    run(scenario())
    assert first.last_call.status == "interrupted" and second.last_call.status == "completed"
    assert plain(first.status_line.value).startswith(STOPPED) and not plain(second.status_line.value).startswith(
        STOPPED
    )
    assert "rainbow" in markdown(second) and "rainbow" not in markdown(first)
    assert second.run_button.disabled is False and first.run_button.disabled is False
    assert {call.source for call in magics.state.session.calls} == {"form"} and len(magics.state.session.calls) == 2


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", "3", "Temperature must be from 0 to 2, not 3"),
        ("temperature", "warm", "Temperature must be a number from 0 to 2"),
        ("max_tokens", "0", "Max tokens must be 1 or more"),
        ("max_tokens", "1.5", "Max tokens must be a whole number"),
        ("prompt", "   ", "The prompt is empty"),
        ("prompt", "About {no_such_name}", "no_such_name"),
    ],
)
def test_bad_values_go_to_the_error_line(offline_server: Any, run: Any, field: str, value: str, message: str) -> None:
    f = form(prompt="Explain entropy")
    getattr(f, field).value = value

    async def scenario() -> None:
        f.run_button.click()  # no exception escapes the callback

    run(scenario())
    assert message in plain(f.error_line.value)
    assert "\n" not in plain(f.error_line.value)
    assert f.task is None and not posts(offline_server)


@pytest.mark.parametrize(("model", "words"), [("fault-401", "API key"), ("fault-500", "run it again")])
def test_a_server_error_goes_to_the_status_line_in_red(
    ip: InteractiveShell, magics: Any, run: Any, model: str, words: str
) -> None:
    f = form(prompt="Explain entropy", model=model)
    call = run(click_run(f))
    line = html.unescape(plain(f.status_line.value))
    assert words in line and "\n" not in line and line == " ".join(str(call.error).split())
    assert 'class="haoee-failed"' in f.status_line.value and f.error_line.value == ""
    assert f.answer.children == ()  # nothing had arrived: no empty answer, no "0.0 s"
    assert call.status == "error" and list(magics.state.session.calls) == [call]
    assert not f.running and f.run_button.disabled is False


def test_a_missing_key_says_how_to_set_one(magics: Any, run: Any) -> None:
    magics.api_key, magics.base_url = "", ""
    f = form(prompt="Explain entropy")
    run(click_run(f))
    assert "%haoee key" in plain(f.status_line.value) and f.last_call.status == "error"


def test_an_unexpected_failure_lands_in_the_error_line(magics: Any, run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    f = form(prompt="Explain entropy")
    f.run_button.click()  # outside a running loop: said in the line, not raised
    assert "running event loop" in plain(f.error_line.value)

    monkeypatch.setattr(f, "options", lambda: 1 / 0)
    f.run_button.click()
    assert "ZeroDivisionError" in plain(f.error_line.value) and "%haoee error" in plain(f.error_line.value)
    assert isinstance(magics.state.session.last_error, ZeroDivisionError)

    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the view broke")

    monkeypatch.undo()
    monkeypatch.setattr("haoee_jupyter.notebook._form.arun", boom)

    async def scenario() -> None:
        f.run_button.click()
        await asyncio.wait([f.task])
        await asyncio.sleep(0)  # let the done callback run

    run(scenario())
    assert "the view broke" in plain(f.error_line.value) and f.run_button.disabled is False


# --- the answer streams in pieces ----------------------------------------------------------


class CountingComm(BaseComm):  # type: ignore[misc]
    """A widget's comm that keeps what a kernel would send its frontend: the JSON size of every
    comm_open, state update and comm_close, and which Output widgets are open."""

    def __init__(self, wire: Wire, **kwargs: Any) -> None:
        self.wire = wire  # before BaseComm.__init__, which sends comm_open
        super().__init__(**kwargs)

    def publish_msg(
        self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
    ) -> None:
        self.wire.bytes += len(json.dumps({"comm_id": self.comm_id, "data": data or {}, **keys}).encode())
        if msg_type == "comm_open" and data["state"]["_model_name"] == "OutputModel":
            self.wire.outputs.add(self.comm_id)
            self.wire.most = max(self.wire.most, len(self.wire.outputs))
        elif msg_type == "comm_close":
            self.wire.outputs.discard(self.comm_id)


@dataclass
class Wire:
    bytes: int = 0
    outputs: set[str] = field(default_factory=set)  # Output widgets open in the kernel
    most: int = 0


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    """Widgets made from here on send through counting comms (a kernel replaces create_comm too)."""
    wire = Wire()
    monkeypatch.setattr(comm, "create_comm", lambda **kwargs: CountingComm(wire, **kwargs))
    return wire


@dataclass
class StreamedCall:
    """What a view reads of a call."""

    body: dict[str, Any]
    text: str = ""
    response: Any = None
    error: BaseException | None = None
    interrupted: bool = False
    latency: float | None = None
    status: str = "pending"

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def answer(self) -> str:
        return self.text


def long_markdown(characters: int, seed: int = 5) -> list[str]:
    """A long answer of headings, paragraphs, lists, tables and code, word by word like tokens."""
    rng = random.Random(seed)
    words = "entropy heat state box gas system energy order count sample model value".split()

    def sentence() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(6, 16))).capitalize() + "."

    parts: list[str] = []
    size = section = 0
    while size < characters:
        section += 1
        part = f"## Section {section}\n\n" + " ".join(sentence() for _ in range(4)) + " **bold** and _this_.\n\n"
        if section % 3 == 0:
            part += "".join(f"{n}. {sentence()}\n" for n in range(1, 6)) + "\n"
        elif section % 3 == 1:
            part += (
                "| name | value |\n|---|--:|\n" + "".join(f"| {rng.choice(words)} | {n} |\n" for n in range(6)) + "\n"
            )
        else:
            part += "```python\n" + "".join(f"total += step({n})\n" for n in range(rng.randint(3, 30))) + "```\n\n"
        parts.append(part)
        size += len(part)
    return re.findall(r"\s*\S+|\s+", "".join(parts))


def stream(view: WidgetView, deltas: list[str], *, pace: float = 540.0, check: Any = None) -> StreamedCall:
    """Feed deltas as the Throttle does (10 updates a second), on a simulated clock; then the end."""
    call = StreamedCall(body={"model": "gpt-4.1", "input": "hi"})
    view.update(call, False)  # type: ignore[arg-type]
    last, now = float("-inf"), 0.0
    for delta in deltas:
        call.text += delta
        now += 1.0 / pace
        if now - last >= 0.1:
            last = now
            view.update(call, False)  # type: ignore[arg-type]
            if check is not None:
                check(call)
    call.latency, call.status = now, "completed"
    view.update(call, True)  # type: ignore[arg-type]
    return call


def test_the_bytes_the_form_sends_grow_linearly_with_the_answer(wire: Wire) -> None:
    answer = long_markdown(120_000)
    f = form()
    stream(WidgetView(f.answer), answer[:4_000])
    small, wire.bytes = wire.bytes, 0
    stream(WidgetView(f.answer), answer[:16_000])
    assert wire.bytes / small < 5, (small, wire.bytes)  # linear gives 4; one Output with the whole answer, 16


def test_the_answer_streams_in_outputs_of_its_own_then_ends_as_one(wire: Wire) -> None:
    f = form()
    forms_own = set(wire.outputs)  # the Output the form runs Copy's script in
    most = 0

    def shown_so_far(call: StreamedCall) -> None:
        nonlocal most
        pieces = f.answer.outputs
        assert "".join(piece["data"]["text/plain"] for piece in pieces) == call.text  # nothing twice
        assert pieces[-1]["data"]["text/markdown"].endswith(("▍", "▍\n```", "▍**", "▍_", "▍`"))
        most = max(most, len(pieces))

    call = stream(WidgetView(f.answer), long_markdown(30_000), check=shown_so_far)
    assert most > 3  # it streamed in pieces
    (final,) = f.answer.children
    text = final.outputs[0]["data"]["text/markdown"]
    assert text.startswith(call.text.rstrip()) and "▍" not in text and "<sub>" not in text  # no footer
    assert wire.outputs - forms_own == {final.model_id}  # the pieces' Outputs were closed

    stream(WidgetView(f.answer), long_markdown(800, seed=9))  # a short answer: one Output, updated in place
    (short,) = f.answer.children
    assert wire.outputs - forms_own == {short.model_id}  # the one from before closed


def test_a_long_answer_keeps_the_widgets_bounded(wire: Wire) -> None:
    f = form()
    forms_own = len(wire.outputs)  # the Output the form runs Copy's script in

    def bounded(call: StreamedCall) -> None:
        assert len(f.answer.children) < WidgetView.max_outputs
        assert "".join(piece["data"]["text/plain"] for piece in f.answer.outputs) == call.text

    stream(WidgetView(f.answer), long_markdown(250_000), check=bounded)
    assert wire.most - forms_own <= WidgetView.max_outputs  # reused, not one per piece
    assert len(wire.outputs) - forms_own == len(f.answer.children) == 1


# --- Copy as cell ----------------------------------------------------------------------------


def test_cell_text_matches_the_values() -> None:
    f = form(
        model="gpt-5.2",
        instructions="Be brief.",
        prompt="Explain {topic}\nin two lines",
        temperature=0.7,
        max_tokens=200,
        web=True,
        stream=False,
    )
    assert (
        f.cell_text()
        == "%%haoee -m gpt-5.2 -i 'Be brief.' -t 0.7 --max-tokens 200 --web --no-stream\nExplain {topic}\nin two lines"
    )
    f = form(model="gpt-4.1", prompt="Hi")
    assert f.cell_text() == "%%haoee -m gpt-4.1\nHi"


@pytest.mark.parametrize(
    "instructions",
    [
        "Be brief.",
        "Don't ramble; use 'quotes'.",
        'Say "hi" and \\n $HOME',
        "two\nlines",
        "",
        'It\'s "both"',
    ],
)
def test_the_copied_cell_sends_what_the_form_sends(
    ip: InteractiveShell, magics: Any, offline_server: Any, run: Any, instructions: str
) -> None:
    ip.user_ns["topic"] = "entropy"
    f = form(
        model="gpt-5.2",
        instructions=instructions,
        prompt="Explain {topic}",
        temperature=0.7,
        max_tokens=200,
        web=True,
        stream=False,
    )
    line, cell = f.cell_text().split("\n", 1)
    assert line.startswith("%%haoee ")
    assert shlex.split(line)[1:] == [
        "-m",
        "gpt-5.2",
        *(["-i", " ".join(instructions.split("\n"))] if instructions else []),
        "-t",
        "0.7",
        "--max-tokens",
        "200",
        "--web",
        "--no-stream",
    ]
    run(click_run(f))
    with capture_output():
        ip.run_cell_magic("haoee", line.removeprefix("%%haoee "), cell)
    from_form, from_cell = posts(offline_server)
    if "\n" not in instructions:
        assert from_cell == from_form
    else:  # the magic line cannot hold a line break: the cell has a space there
        assert from_cell == dict(from_form, instructions="two lines")


def test_copy_as_cell_shows_the_text_and_sends_the_script(magics: Any, run: Any) -> None:
    magics.instructions = "Answer in French."  # cleared in the form: the cell must say -i ''
    f = form(prompt="Bonjour", instructions="")
    assert f.copy_box.layout.display == "none"

    async def scenario() -> None:
        f.copy_button.click()

    run(scenario())
    assert f.copy_text.value == f.cell_text() == "%%haoee -m gpt-4.1 -i ''\nBonjour"
    assert f.copy_box.layout.display == "" and "Paste this into a new cell" in f.copy_note.value
    (output,) = f._script.outputs
    script = output["data"]["application/javascript"]
    assert json.dumps(f.cell_text()) in script and "notebook:insert-cell-below" in script
    f.copy_button.click()  # a new script each time, even for the same text
    assert f._script.outputs[0]["data"]["application/javascript"] != script


# --- construction ----------------------------------------------------------------------------


def test_defaults_prefill_the_fields() -> None:
    f = form(
        model="qwen3-max",
        instructions="Be brief.",
        prompt="Hi",
        temperature=0.5,
        max_tokens=100,
        web=True,
        stream=False,
    )
    values = (
        f.model.value,
        f.instructions.value,
        f.prompt.value,
        f.temperature.value,
        f.max_tokens.value,
        f.web.value,
        f.stream.value,
    )
    assert values == ("qwen3-max", "Be brief.", "Hi", "0.5", "100", True, False)
    assert set(KNOWN_MODELS) <= set(f.model.options) and not f.model.ensure_option
    assert isinstance(f, ipywidgets.VBox) and f.task is None and f.last_call is None
    for part in ("run_button", "stop_button", "copy_button", "answer", "status_line", "error_line"):
        assert isinstance(getattr(f, part), ipywidgets.Widget)


def test_settings_are_the_defaults(magics: Any) -> None:
    magics.model, magics.instructions, magics.temperature, magics.max_output_tokens, magics.stream = (
        "my-model",
        "Be kind.",
        1.2,
        50,
        False,
    )
    f = form()
    assert (f.model.value, f.instructions.value, f.temperature.value, f.max_tokens.value, f.stream.value) == (
        "my-model",
        "Be kind.",
        "1.2",
        "50",
        False,
    )
    assert f.model.options[0] == "my-model"
    assert form(model="glm-4.7").model.value == "glm-4.7"


def test_an_unknown_default_is_a_type_error_naming_the_valid_ones() -> None:
    with pytest.raises(TypeError) as info:
        form(modle="gpt-4.1")
    assert "'modle'" in str(info.value) and all(name in str(info.value) for name in FIELDS)


def test_the_line_magic_displays_a_form(ip: InteractiveShell) -> None:
    with capture_output() as captured:
        ip.run_line_magic("haoee", "form")
    (output,) = captured.outputs
    assert "application/vnd.jupyter.widget-view+json" in output.data


def test_form_is_exported_lazily_and_importing_the_package_skips_ipywidgets() -> None:
    assert haoee_jupyter.form is form
    code = (
        "import sys, haoee_jupyter; print('ipywidgets' in sys.modules, 'haoee_jupyter.notebook._form' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
