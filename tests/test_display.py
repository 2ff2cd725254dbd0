"""How an answer is shown in a notebook while it streams and when it ends.

A frontend is stood in for by a display publisher (IPython's ``shell.display_pub``) that keeps
the outputs a frontend would show (updates by display id, ``clear_output(wait=True)`` applied
at the next output) and counts the bytes of every message, as a kernel would send them.
Streams run on a simulated clock, so nothing here depends on timing.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from haoee_jupyter import MissingAPIKeyError, ServerError
from haoee_jupyter.client._models import Response
from haoee_jupyter.notebook._display import NotebookView, call_bundle
from haoee_jupyter.render import body_markdown, body_plain, response_bundle
from haoee_jupyter.render._inline import close_inline
from haoee_jupyter.render._stream import find_cut, settle

CURSOR = "▍"


class Frontend(DisplayPublisher):  # type: ignore[misc]
    """The outputs a frontend would show, and the bytes of what it was sent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outputs: list[dict[str, Any]] = []
        self.bytes = self.most = self.clears = 0
        self.clear_pending = False

    def publish(
        self, data: Any, metadata: Any = None, source: Any = None, *, transient: Any = None, update: bool = False
    ) -> None:
        size = len(json.dumps({"data": data, "metadata": metadata or {}, "transient": transient or {}}).encode())
        self.bytes += size
        assert data.get("text/plain") is not None, data  # every bundle carries text/plain
        display_id = (transient or {}).get("display_id")
        if update:
            for output in self.outputs:
                if output["id"] == display_id:
                    output["data"] = dict(data)
            return
        if self.clear_pending:
            self.outputs, self.clear_pending = [], False
        self.outputs.append({"id": display_id, "data": dict(data)})
        self.most = max(self.most, len(self.outputs))

    def clear_output(self, wait: bool = False) -> None:
        self.clears += 1
        self.bytes += len(json.dumps({"wait": wait}).encode())
        if wait:
            self.clear_pending = True
        else:
            self.outputs = []

    def plain(self) -> str:
        return "".join(output["data"]["text/plain"] for output in self.outputs)

    def markdown(self, index: int = -1) -> str:
        return str(self.outputs[index]["data"].get("text/markdown", ""))


@dataclass
class StreamedCall:
    """What a view reads of a call."""

    body: dict[str, Any]
    text: str = ""
    reasoning_text: str = ""
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
        return (self.response.text if self.response is not None else "") or self.text


@pytest.fixture
def frontend() -> Iterator[Frontend]:
    shell = InteractiveShell.instance()
    fake = Frontend(shell=shell)
    saved, shell.display_pub = shell.display_pub, fake
    try:
        yield fake
    finally:
        shell.display_pub = saved


def markdown_answer(characters: int, seed: int = 3) -> str:
    """A long answer with all kinds of blocks: headings, paragraphs, lists, tables, code."""
    rng = random.Random(seed)
    words = "entropy heat state box gas system energy order count sample model value".split()

    def sentence() -> str:
        chosen = [rng.choice(words) for _ in range(rng.randint(6, 16))]
        chosen[rng.randrange(len(chosen))] = rng.choice(("**{}**", "_{}_", "`{}`")).format(rng.choice(words))
        return " ".join(chosen).capitalize() + "."

    parts: list[str] = []
    section = 0
    while sum(map(len, parts)) < characters:
        section += 1
        parts.append(f"## Section {section}\n\n" + " ".join(sentence() for _ in range(4)) + "\n\n")
        if section % 3 == 0:
            parts.append("".join(f"{n}. {sentence()}\n" for n in range(1, 6)) + "\n")
        elif section % 3 == 1:
            rows = "".join(f"| {rng.choice(words)} | {rng.randint(1, 99)} |\n" for _ in range(rng.randint(2, 8)))
            parts.append("| name | value |\n|---|--:|\n" + rows + "\n")
        else:
            code = "".join(f"    total += step({n})\n" for n in range(rng.randint(3, 30)))
            parts.append(f"```python\ndef part():\n{code}```\n\n")
    return "".join(parts)


def deltas(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", text)  # word by word, like tokens


def stream(view: Any, pieces: list[str], *, pace: float = 540.0, per_second: float = 10.0, check: Any = None) -> Any:
    """Feed the deltas to the view as the Throttle does, on a simulated clock; then the final update."""
    call = StreamedCall(body={"model": "gpt-4.1", "input": "hi"})
    view.update(call, False)
    last, now = float("-inf"), 0.0
    for delta in pieces:
        call.text += delta
        now += 1.0 / pace
        if now - last >= 1.0 / per_second:
            last = now
            view.update(call, False)
            if check is not None:
                check(call)
    call.latency, call.status = now, "completed"
    view.update(call, True)
    return call


# --- bytes and outputs -----------------------------------------------------------------------


def test_bytes_sent_grow_linearly_with_the_answer(frontend: Frontend) -> None:
    answer = deltas(markdown_answer(120_000))
    stream(NotebookView(), answer[:4_000])
    small, frontend.bytes = frontend.bytes, 0
    stream(NotebookView(), answer[:16_000])
    large = frontend.bytes
    assert large / small < 5, (small, large)  # linear gives 4; the whole answer on each update gives about 16


def test_the_outputs_show_the_text_so_far_and_then_one_clean_answer(frontend: Frontend) -> None:
    def shown_so_far(call: StreamedCall) -> None:
        assert frontend.plain() == call.text  # frozen pieces and the open tail, nothing twice
        assert frontend.markdown().endswith((CURSOR, CURSOR + "\n```", CURSOR + "**", CURSOR + "_", CURSOR + "`"))

    call = stream(NotebookView(), deltas(markdown_answer(30_000)), check=shown_so_far)
    assert frontend.most > 3  # it streamed in pieces
    [final] = frontend.outputs
    assert final["data"]["text/markdown"].startswith(call.text)
    assert final["data"]["text/markdown"].endswith("<sub>gpt-4.1 · " + f"{call.latency:.1f} s</sub>")
    assert CURSOR not in final["data"]["text/markdown"]


def test_a_long_answer_stays_under_jupyterlabs_output_limit(frontend: Frontend) -> None:
    # JupyterLab shows at most 50 outputs of a cell, then "Show more outputs"
    stream(NotebookView(), deltas(markdown_answer(250_000)), check=lambda call: frontend.plain() == call.text)
    assert frontend.most <= NotebookView.max_outputs < 50
    assert len(frontend.outputs) == 1


def test_each_frozen_piece_renders_on_its_own(frontend: Frontend) -> None:
    code = "```python\n" + "".join(f"x_{n} = {n} * 2  # a long generated line\n" for n in range(800)) + "```\n\n"
    table = "| n | square |\n|---|---|\n" + "".join(f"| {n} | {n * n} |\n" for n in range(800)) + "\n"
    pieces: list[str] = []

    def frozen(call: StreamedCall) -> None:
        pieces[:] = [frontend.markdown(i) for i in range(len(frontend.outputs) - 1)]

    stream(NotebookView(), deltas("Intro.\n\n" + code + table + "The end."), check=frozen)
    assert len(pieces) > 6
    for piece in pieces:
        fences = [line for line in piece.splitlines() if line.startswith("```")]
        assert len(fences) % 2 == 0, piece[-300:]  # a code block cut in two is closed, then re-opened
        if "| n | square |" not in piece and piece.startswith("| "):
            pytest.fail("a table continued without its header: " + piece[:100])
    assert sum(piece.startswith("```python\n") for piece in pieces) >= 2
    assert sum(piece.startswith("| n | square |\n|---|---|\n") for piece in pieces) >= 2


def test_a_short_answer_is_one_output_updated_in_place(frontend: Frontend) -> None:
    stream(NotebookView(), deltas(markdown_answer(1_200)))
    assert frontend.most == 1 and frontend.clears == 0


def test_the_view_keeps_offsets_not_copies_of_the_answer(frontend: Frontend) -> None:
    view = NotebookView()
    stream(view, deltas(markdown_answer(60_000)))
    held = [value for value in vars(view).values() if isinstance(value, str)]
    assert all(len(value) < 50 for value in held), held


def test_plain_text_and_json_stream_in_pieces_too(frontend: Frontend) -> None:
    lines = "".join(f"line {n}: some plain text\n" for n in range(3000))
    stream(NotebookView("text"), deltas(lines), check=lambda call: frontend.plain() == call.text)
    assert frontend.most > 3 and set(frontend.outputs[0]["data"]) == {"text/plain"}
    stream(NotebookView("json"), deltas(json.dumps({"rows": list(range(3000))}, indent=1)))
    assert frontend.markdown().startswith("```json\n")


# --- the open tail -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arriving", "shown"),
    [
        ("Some **bold te", "Some **bold te ▍**"),
        ("_", "▍"),  # an opening marker alone: nothing raw
        ("_Offline demo", "_Offline demo ▍_"),
        ("a snake_case name", "a snake_case name ▍"),
        ("run `pip ins", "run `pip ins ▍`"),
        ("see [the docs](https://exa", "see the docs ▍"),
        ("an ![image](htt", "an ▍"),
        ("##", "▍"),
        ("| a | b |\n|--", "▍"),  # a table waits for its header separator
        ("| a | b |\n|---|---|\n| 1 | 2", "| a | b |\n|---|---|\n| 1 | 2 ▍"),
        ("```python\nx = 1", "```python\nx = 1▍\n```"),  # the cursor stays inside the code
        ("```pyth", "```\n▍\n```"),
        ("```python\nx = 1\n``", "```python\nx = 1\n```\n\n▍"),
        ("a <deta", "a ▍"),
        ("2 * 3 = 6", "2 * 3 = 6 ▍"),
    ],
)
def test_the_open_tail_renders_without_raw_markers(arriving: str, shown: str) -> None:
    assert settle(arriving, CURSOR) == shown


def test_close_inline_keeps_what_is_closed() -> None:
    assert close_inline("**done** and `code` and [a](b) ok") == ("**done** and `code` and [a](b) ok", "")
    assert close_inline("- [ ] a task") == ("- [ ] a task", "")


def test_cuts_fall_between_finished_blocks_only() -> None:
    paragraph = "word " * 500
    fenced = "```\n" + "code\n\n" * 300  # blank lines inside a fence end nothing
    cut = find_cut(paragraph + "\n\n" + fenced, 0, soft=1000, hard=100_000)
    assert cut is not None and cut.end == len(paragraph) + 2
    text = paragraph + "\n\n" + fenced + "```\n\nafter"
    cut = find_cut(text, 0, soft=1000, hard=100_000)
    assert cut is not None and text[cut.end :] == "after"
    folded = "<details><summary>More</summary>\n\n" + "inside " * 300 + "\n\n</details>\n\nafter"
    cut = find_cut(folded, 0, soft=100, hard=100_000)
    assert cut is not None and folded[cut.end :] == "after"
    listed = "1. " + "item " * 300 + "\n\n   continued item text\n\nNext paragraph"
    cut = find_cut(listed, 0, soft=100, hard=100_000)
    assert cut is not None and listed[cut.end :] == "Next paragraph"  # not before the indented continuation


# --- reasoning, cut answers, errors, sources ------------------------------------------------


def _response(text: str = "", **raw: Any) -> Response:
    output: list[dict[str, Any]] = list(raw.pop("output", []))
    if text:
        output.append({"type": "message", "content": [{"type": "output_text", "text": text, "annotations": []}]})
    return Response({"status": "completed", "model": "gpt-5.2", "output": output, **raw})


def test_reasoning_streams_in_a_fold_above_the_answer_that_closes_when_the_answer_begins(frontend: Frontend) -> None:
    view = NotebookView()
    call = StreamedCall(body={"model": "gpt-5.2", "reasoning": {"effort": "low", "summary": "auto"}})
    view.update(call, False)
    assert "<details open>" in frontend.markdown(0)  # in place before any reasoning arrives
    for delta in ("**Planning**", "\n\nThe user asks", " about entropy."):
        call.reasoning_text += delta
        view.update(call, False)
        assert len(frontend.outputs) == 1 and "<details open>" in frontend.markdown(0)
    assert "The user asks about entropy. ▍" in frontend.markdown(0)
    assert "border-left: 3px solid var(--jp-border-color2)" in frontend.markdown(0)
    call.text = "## Entropy\n\nIt measures"
    view.update(call, False)
    assert frontend.markdown(0).startswith("<details><summary")  # folded as it will stay
    assert frontend.markdown(1).startswith("## Entropy")
    reasoning = {"type": "reasoning", "summary": [{"type": "summary_text", "text": call.reasoning_text}]}
    usage = {
        "input_tokens": 5,
        "output_tokens": 50,
        "total_tokens": 55,
        "output_tokens_details": {"reasoning_tokens": 30},
    }
    call.response = _response(call.text + " disorder.", output=[reasoning], usage=usage, reasoning={"effort": "low"})
    call.latency, call.status = 1.0, "completed"
    view.update(call, True)
    [final] = frontend.outputs
    markdown = final["data"]["text/markdown"]
    assert markdown.startswith("<details><summary") and markdown.index("</details>") < markdown.index("## Entropy")
    assert "30 reasoning · effort low · 1.0 s" in markdown


def test_a_cut_answer_is_marked_at_its_end_with_what_to_do() -> None:
    response = Response(
        {
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": [{"type": "message", "content": [{"type": "output_text", "text": "Steps:\n\n- **first st"}]}],
        }
    )
    call = StreamedCall(body={"model": "m"}, response=response, latency=1.0, status="incomplete")
    data = call_bundle(call, True)  # in the notebook, the magic's option
    body, note = data["text/markdown"].split("\n\n\n> ")
    assert body.endswith("- **first st**")  # no dangling marker
    assert note.startswith("**Cut off here.** The answer reached its output token limit (max_output_tokens)")
    assert "raise `--max-tokens` and run it again." in note and note.endswith("incomplete: max_output_tokens</sub>")
    plain_note = data["text/plain"].split("[Cut off here.")[1]
    assert "raise --max-tokens and run it again.]" in plain_note and "`" not in plain_note
    assert "raise `max_output_tokens` and run it again" in response_bundle(response)["text/markdown"]  # Python API
    filtered = Response({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}, "output": []})
    assert "rephrase the prompt" in body_markdown(filtered) and "rephrase the prompt" in body_plain(filtered)


def test_an_unfinished_code_block_does_not_swallow_the_footer() -> None:
    call = StreamedCall(body={"model": "m"}, text="```python\nx = 1", interrupted=True, latency=0.5)
    markdown = call_bundle(call, True)["text/markdown"]
    assert markdown.startswith("```python\nx = 1\n```\n") and markdown.endswith(
        "interrupted (partial answer kept)</sub>"
    )


@pytest.mark.parametrize(
    ("error", "latency", "status"),
    [
        (MissingAPIKeyError("No API key"), 0.0, "m · not sent"),
        (ServerError("Server error"), 0.01, "m · error (nothing had arrived)"),
        (ServerError("Server error"), 2.5, "m · 2.5 s · error (nothing had arrived)"),
    ],
)
def test_the_status_line_above_an_error_shows_no_empty_time(error: Exception, latency: float, status: str) -> None:
    call = StreamedCall(body={"model": "m"}, error=error, latency=latency, status="error")
    data = call_bundle(call, True)
    assert data["text/markdown"] == f"<sub>{status}</sub>".replace("\n", "")
    assert data["text/plain"] == f"[{status}]"


def test_sources_show_the_whole_title_and_the_domain() -> None:
    long_title = "A very long page title about entropy, " * 5 + "and the end"
    notes = [
        {"type": "url_citation", "url": "https://www.example.org/a", "title": "Entropy – Example Encyclopedia"},
        {"type": "url_citation", "url": "https://example.com/b", "title": long_title},
    ]
    response = _response()
    response.raw["output"] = [
        {"type": "message", "content": [{"type": "output_text", "text": "See.", "annotations": notes}]}
    ]
    markdown = body_markdown(response)
    assert "1. [Entropy – Example Encyclopedia](https://www.example.org/a) — example.org" in markdown
    [second] = [line for line in markdown.splitlines() if line.startswith("2. ")]
    shown = second[4 : second.index("](")]
    assert shown.endswith("…") and long_title.startswith(shown[:-1]) and shown[-2] != " "
    assert long_title[len(shown) - 1] in " ,"  # cut at a word
    assert second.endswith(" — example.com")


# --- through the magic, in a real shell ----------------------------------------------------


def sse(text: str, *, chunk: int = 30, model: str = "gpt-4.1") -> bytes:
    """A streamed answer of this text, as the Responses API sends it."""
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress", "model": model}}
    ]
    events += [
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": text[i : i + chunk]}
        for i in range(0, len(text), chunk)
    ]
    message = {
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    usage = {"input_tokens": 3, "output_tokens": len(text) // 4, "total_tokens": 3 + len(text) // 4}
    events.append(
        {
            "type": "response.completed",
            "response": {"id": "resp_1", "status": "completed", "model": model, "output": [message], "usage": usage},
        }
    )
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """The shell with the extension, streaming at up to 1000 updates a second; settings restored after."""
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    shell = InteractiveShell.instance()
    if "haoee_jupyter" not in shell.extension_manager.loaded:
        shell.run_line_magic("load_ext", "haoee_jupyter")
    magics = shell.magics_manager.registry["Haoee"]
    names = ("base_url", "api_key", "updates_per_second", "max_retries")
    saved = {name: getattr(magics, name) for name in names}
    shell.run_line_magic("config", "Haoee.updates_per_second = 1000")
    shell.run_line_magic("config", "Haoee.max_retries = 0")
    shell.run_line_magic("config", "Haoee.api_key = 'sk-display-test'")
    try:
        yield shell
    finally:
        for name, value in saved.items():
            shell.run_line_magic("config", f"Haoee.{name} = {value!r}")


def test_a_long_answer_through_the_magic_streams_in_pieces_and_ends_as_one_output(
    ip: InteractiveShell, http_server: Any, frontend: Frontend
) -> None:
    answer = markdown_answer(30_000)
    body = sse(answer)
    parts: list[Any] = []
    for start in range(0, len(body), 1500):
        parts += [body[start : start + 1500], 0.005]  # a pause: the view gets to update in between
    http_server.add(body=parts, content_type="text/event-stream")
    ip.run_line_magic("config", f"Haoee.base_url = {http_server.url!r}")
    ip.run_cell_magic("haoee", "", "Write a long answer")
    assert frontend.most > 3 and frontend.clears == 1
    [final] = frontend.outputs
    assert final["data"]["text/markdown"].startswith(answer) and final["data"]["text/plain"].startswith(answer)
    assert ip.user_ns["haoee_response"].text == answer


def test_reasoning_through_the_magic_streams_into_the_fold(
    ip: InteractiveShell, offline_server: Any, frontend: Frontend, monkeypatch: pytest.MonkeyPatch
) -> None:
    ip.run_line_magic("config", f"Haoee.base_url = {offline_server.url!r}")
    offline_server.latency_ms = 2
    firsts: list[str] = []
    update = NotebookView.update

    def watched(self: NotebookView, call: Any, final: bool) -> None:
        update(self, call, final)
        firsts.append(frontend.markdown(0))

    monkeypatch.setattr(NotebookView, "update", watched)
    ip.run_cell_magic("haoee", "--reasoning low -m gpt-5.2", "Why is the sky blue?")
    summary = ip.user_ns["haoee_response"].reasoning[0]
    assert all(first.startswith("<details") for first in firsts)  # the fold is the first output throughout
    assert any("<details open>" in first and "Planning" in first and summary not in first for first in firsts)
    [final] = frontend.outputs
    markdown = final["data"]["text/markdown"]
    assert markdown.startswith("<details><summary") and summary in markdown
    assert re.search(r"<sub>gpt-5\.2 · .* · effort low · \d+\.\d s</sub>$", markdown)


def test_a_call_never_sent_says_so_without_a_time(ip: InteractiveShell, frontend: Frontend) -> None:
    ip.run_line_magic("config", "Haoee.api_key = ''")
    ip.run_line_magic("config", "Haoee.base_url = 'https://maas.example.invalid/v1'")
    with pytest.raises(MissingAPIKeyError):
        ip.run_cell_magic("haoee", "", "hello")
    [final] = frontend.outputs
    assert final["data"] == {"text/markdown": "<sub>gpt-4.1 · not sent</sub>", "text/plain": "[gpt-4.1 · not sent]"}


def test_the_saved_notebook_holds_one_clean_output(
    http_server: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a real kernel, as nbclient (and so nbconvert) records it: the pieces are gone."""
    import nbformat
    from nbclient import NotebookClient

    answer = markdown_answer(30_000)
    body = sse(answer)
    http_server.add(
        body=[part for start in range(0, len(body), 1500) for part in (body[start : start + 1500], 0.005)],
        content_type="text/event-stream",
    )
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    setup = (
        "%load_ext haoee_jupyter\n"
        f"%config Haoee.base_url = {http_server.url!r}\n"
        "%config Haoee.api_key = 'sk-display-test'\n"
        "%config Haoee.updates_per_second = 1000"
    )
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in (setup, "%%haoee\nWrite a long answer")]
    )
    seen: list[str] = []

    class Recording(NotebookClient):  # type: ignore[misc]
        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            if cell_index == 1:
                seen.append(msg["msg_type"])
            return super().process_message(msg, cell, cell_index)

    Recording(notebook, timeout=60, kernel_name="python3").execute()
    assert seen.count("display_data") > 3 and seen.count("clear_output") == 1  # it streamed in pieces
    outputs = notebook.cells[1].outputs
    assert [output.output_type for output in outputs] == ["display_data"], outputs
    assert outputs[0].data["text/markdown"].startswith(answer) and CURSOR not in outputs[0].data["text/markdown"]
    assert outputs[0].data["text/plain"].startswith(answer)
