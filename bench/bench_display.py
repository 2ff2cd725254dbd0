"""Bytes a streamed answer sends to the frontend: 20k deltas against 5k at the same pace.

A fake display publisher (IPython's ``shell.display_pub``) sums the JSON size of every display,
update and clear the view publishes: the content of the iopub messages a kernel would send.
The form's answer is measured the same way through a fake comm (``comm.create_comm``, which a
kernel replaces with its own): the JSON of every widget's comm_open, state update and close.
The deltas come from a long Markdown answer (headings, paragraphs, lists, tables, code blocks),
cut into the offline server's tokens, at a fixed pace on a simulated clock, with the Throttle's
10 updates a second. Linear growth gives a ratio of 4; re-sending the whole answer on every
update (what the views did before) gives about 16.

With ``--kernel`` the same streams also run inside a real kernel (jupyter_client), and the
bytes are those of the iopub messages it sent (display and comm messages, their JSON content),
as a frontend receives them.

    python bench/bench_display.py [--pace 540] [--small 5000] [--large 20000] [--kernel]
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import comm
import ipywidgets
from comm.base_comm import BaseComm
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from haoee_jupyter.notebook._display import NotebookView, call_bundle
from haoee_jupyter.notebook._form_status import WidgetView
from haoee_jupyter.offline._answers import tokenize
from haoee_jupyter.render import bundle

WORDS = (
    "entropy measures how many microscopic states fit a macroscopic one and the second law says it "
    "grows in an isolated system while energy spreads out heat flows from hot to cold and a gas fills "
    "its box the model keeps track of probability distributions samples and expectations"
).split()


class CountingPublisher(DisplayPublisher):  # type: ignore[misc]
    """Sums what would go over iopub: the JSON of each display_data / update_display_data /
    clear_output message's content, and counts the messages and the live outputs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bytes = self.messages = self.outputs = self.most_outputs = self.clears = 0

    def publish(
        self, data: Any, metadata: Any = None, source: Any = None, *, transient: Any = None, update: bool = False
    ) -> None:
        content = {"data": data, "metadata": metadata or {}, "transient": transient or {}}
        self.bytes += len(json.dumps(content, ensure_ascii=False).encode())
        self.messages += 1
        if not update:
            self.outputs += 1
            self.most_outputs = max(self.most_outputs, self.outputs)

    def clear_output(self, wait: bool = False) -> None:
        self.bytes += len(json.dumps({"wait": wait}).encode())
        self.messages += 1
        self.clears += 1
        self.outputs = 0


class CountingComm(BaseComm):  # type: ignore[misc]
    """A widget's comm that sums what it would send over iopub: the JSON of each comm_open,
    comm_msg (state updates) and comm_close message's content."""

    def __init__(self, counter: WireCount, **kwargs: Any) -> None:
        self.counter = counter  # before BaseComm.__init__, which sends comm_open
        super().__init__(**kwargs)

    def publish_msg(
        self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
    ) -> None:
        content = {"comm_id": self.comm_id, "data": data or {}, **keys}
        self.counter.bytes += len(json.dumps(content, ensure_ascii=False).encode())
        self.counter.messages[msg_type] = self.counter.messages.get(msg_type, 0) + 1


@dataclass
class WireCount:
    bytes: int = 0
    messages: dict[str, int] = field(default_factory=dict)


@dataclass
class StreamedCall:
    """What a view reads of a call while it streams and when it ends."""

    body: dict[str, Any]
    text: str = ""
    reasoning_text: str = ""
    response: Any = None
    error: BaseException | None = None
    interrupted: bool = False
    latency: float | None = None
    status: str = "completed"
    pieces: list[str] = field(default_factory=list, repr=False)

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def answer(self) -> str:
        return self.text


class WholeAnswerView:
    """The view as it was: one display, updated with the whole text (Markdown and plain) each time."""

    def __init__(self) -> None:
        self.handle: Any = None

    def update(self, call: StreamedCall, final: bool) -> None:
        from IPython.display import display

        text = call.text
        data = bundle(text + ("" if final else " ▍"), text) if text else bundle("waiting", "waiting")
        if self.handle is None:
            self.handle = display(data, raw=True, display_id=True)
        else:
            self.handle.update(data, raw=True)


class WholeOutputView:
    """The form's view as it was: one Output, assigned the whole bundle on every update."""

    def __init__(self, box: Any) -> None:
        self.output = ipywidgets.Output()
        box.children = (self.output,)

    def update(self, call: StreamedCall, final: bool) -> None:
        data = call_bundle(call, final, footer=False)  # type: ignore[arg-type]
        self.output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)


def long_answer(characters: int, seed: int = 7) -> str:
    """A Markdown answer of about this many characters, the same for the same seed."""
    rng = random.Random(seed)

    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
        words[0] = words[0].capitalize()
        marked = rng.randrange(len(words))
        words[marked] = rng.choice(("**{}**", "_{}_", "`{}`")).format(words[marked])
        return " ".join(words) + "."

    parts: list[str] = []
    section = 0
    while sum(map(len, parts)) < characters:
        section += 1
        parts.append(f"## Part {section}: {rng.choice(WORDS)} and {rng.choice(WORDS)}\n\n")
        for _ in range(rng.randint(1, 3)):
            parts.append(" ".join(sentence() for _ in range(rng.randint(2, 6))) + "\n\n")
        kind = section % 3
        if kind == 0:
            parts.append("".join(f"- {sentence()}\n" for _ in range(rng.randint(3, 8))) + "\n")
        elif kind == 1:
            rows = "".join(
                f"| {rng.choice(WORDS)} | {rng.randint(1, 999)} | {rng.choice(WORDS)} |\n"
                for _ in range(rng.randint(3, 12))
            )
            parts.append("| name | value | note |\n|---|--:|---|\n" + rows + "\n")
        else:
            lines = "".join(f"    value_{i} = compute({i}, {rng.choice(WORDS)!r})\n" for i in range(rng.randint(5, 40)))
            parts.append(f"```python\ndef part_{section}():\n{lines}    return value_0\n```\n\n")
    return "".join(parts)


def stream(view: Any, deltas: list[str], *, pace: float, per_second: float = 10.0) -> None:
    """Feed deltas to a view as the Throttle would, on a simulated clock (`pace` deltas a second)."""
    call = StreamedCall(body={"model": "gpt-4.1", "input": "Explain entropy"})
    view.update(call, False)  # the waiting line
    interval, last, now = 1.0 / per_second, float("-inf"), 0.0
    text = ""
    for delta in deltas:
        text += delta
        call.text = text
        now += 1.0 / pace
        if now - last >= interval:
            last = now
            view.update(call, False)
    call.latency = now
    view.update(call, True)


def measure(view_type: type, deltas: list[str], pace: float) -> CountingPublisher:
    shell = InteractiveShell.instance()
    publisher = CountingPublisher(shell=shell)
    saved, shell.display_pub = shell.display_pub, publisher
    try:
        stream(view_type(), deltas, pace=pace)
    finally:
        shell.display_pub = saved
    return publisher


def measure_form(view_type: type, deltas: list[str], pace: float) -> WireCount:
    """The comm bytes of the form's answer: a box, and a view filling it, on counting comms."""
    counter = WireCount()
    saved = comm.create_comm
    comm.create_comm = lambda **kwargs: CountingComm(counter, **kwargs)
    try:
        stream(view_type(ipywidgets.VBox()), deltas, pace=pace)
    finally:
        comm.create_comm = saved
    return counter


VIEWS = {"before (whole answer each update)": WholeAnswerView, "now (frozen pieces)": NotebookView}
FORM_VIEWS = {"form before (one Output, whole answer)": WholeOutputView, "form now (Outputs per piece)": WidgetView}


def measure_in_kernel(kernel: Any, view_name: str, count: int, pace: float) -> int:
    """Bytes of the display and comm messages a real kernel sends while it runs the same stream."""
    view = f"bench.VIEWS[{view_name!r}]()"
    if view_name in FORM_VIEWS:
        view = f"bench.FORM_VIEWS[{view_name!r}](bench.ipywidgets.VBox())"
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_display as bench\n"
        f"bench.stream({view}, bench.deltas_for({count}), pace={pace})"
    )
    msg_id = kernel.execute(code)
    total = 0
    while True:
        message = kernel.get_iopub_msg(timeout=120)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind = message["msg_type"]
        if kind in ("display_data", "update_display_data", "clear_output", "comm_open", "comm_msg", "comm_close"):
            total += len(json.dumps(message["content"], ensure_ascii=False).encode())
        elif kind == "error":
            raise RuntimeError("\n".join(message["content"]["traceback"]))
        elif kind == "status" and message["content"]["execution_state"] == "idle":
            return total


def deltas_for(count: int) -> list[str]:
    tokens = tokenize(long_answer(count * 6))
    assert len(tokens) >= count, "the answer is too short for that many deltas"
    return tokens[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pace", type=float, default=540.0, help="deltas a second (default 540)")
    parser.add_argument("--small", type=int, default=5000, help="deltas of the short answer (default 5000)")
    parser.add_argument("--large", type=int, default=20000, help="deltas of the long answer (default 20000)")
    parser.add_argument("--kernel", action="store_true", help="also count the iopub messages of a real kernel")
    args = parser.parse_args()
    small, large = deltas_for(args.small), deltas_for(args.large)
    for name, view_type in VIEWS.items():
        a, b = measure(view_type, small, args.pace), measure(view_type, large, args.pace)
        print(
            f"{name}: {args.small:,} deltas ({len(''.join(small)):,} chars) {a.bytes / 1e6:.2f} MB, "
            f"{args.large:,} deltas ({len(''.join(large)):,} chars) {b.bytes / 1e6:.2f} MB, "
            f"ratio {b.bytes / a.bytes:.2f}; at most {b.most_outputs} outputs, {b.clears} clears"
        )
    for name, view_type in FORM_VIEWS.items():
        a, b = measure_form(view_type, small, args.pace), measure_form(view_type, large, args.pace)
        print(
            f"{name}: {args.small:,} deltas {a.bytes / 1e6:.2f} MB, {args.large:,} deltas {b.bytes / 1e6:.2f} MB, "
            f"ratio {b.bytes / a.bytes:.2f}; comm messages {b.messages}"
        )
    if args.kernel:
        from jupyter_client.manager import start_new_kernel

        manager, kernel = start_new_kernel(kernel_name="python3")
        try:
            for name in [*VIEWS, *FORM_VIEWS]:
                a, b = (measure_in_kernel(kernel, name, count, args.pace) for count in (args.small, args.large))
                print(f"{name}, real kernel iopub: {a / 1e6:.2f} MB, {b / 1e6:.2f} MB, ratio {b / a:.2f}")
        finally:
            kernel.stop_channels()
            manager.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
