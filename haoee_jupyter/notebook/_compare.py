"""``%%haoee --models a,b,c``: the same prompt to several models at once, side by side.

Each model's call runs in a thread of its own (:func:`._core.send`, with the cache and the call
log as for one call) and streams into its own column of one grid output (``render._grid``),
which the cell's thread redraws at the rate of ``Haoee.updates_per_second``. While they stream a
column shows the end of its answer (at most about :data:`WINDOW` to three times that many
characters, cut where the Markdown allows), so an update stays bounded and the bytes sent grow
with the answers' length, not its square; once all are done, the grid shows every answer whole
with its model, tokens and latency under it. Ctrl-C stops every stream and keeps what arrived.

    calls = compare(cell, options, state, ["gpt-4.1", "deepseek-v4-flash"], cell=7)
    # haoee_responses == {"gpt-4.1": Response(...), "deepseek-v4-flash": Response(...)}
"""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from ..client._models import Usage
from ..render import body_markdown, body_plain, footer_facts
from ..render._grid import GridColumn, grid_bundle
from ..render._stream import CURSOR, Reopen, find_cut, settle
from ._core import AnswerError, Prepared, answer_value, endpoint, log_call, send
from ._display import call_status, in_terminal
from ._session import RESPONSE_VAR, TOTAL_VAR, USAGE_VAR, Call

if TYPE_CHECKING:
    from ._state import ShellState

#: The namespace variable that holds each model's Response, by model.
RESPONSES_VAR = "haoee_responses"
#: While streaming, a column shows at least this many of its last characters (and at most about
#: three times as many): one update of the grid stays bounded however long the answers grow.
WINDOW = 2000


class CompareError(ValueError):
    """The models asked for cannot be compared as given; the message says what to change."""


def model_names(options: Any) -> list[str]:
    """The models of ``--models a,b`` (and of ``-m`` given more than once), in order; a model
    named twice, or none, is refused.

    >>> model_names(Options(models=["gpt-4.1,deepseek-v4-flash"]))
    ['gpt-4.1', 'deepseek-v4-flash']
    """
    names: list[str] = []
    for value in options.models or ():
        for name in str(value).split(","):
            if name.strip() in names:
                raise CompareError(f"--models names {name.strip()} twice: name each model once")
            if name.strip():
                names.append(name.strip())
    if options.models and not names:
        raise CompareError("--models names no model: give them with commas, as --models gpt-4.1,qwen3-max")
    if options.model and names and options.model not in names:
        raise CompareError(f"-m {options.model} and --models {','.join(names)} disagree: name every model in --models")
    return names


class CompareInterrupted(KeyboardInterrupt):
    """Ctrl-C during a comparison: every stream stopped, what arrived kept."""

    def __init__(self, kept: int, total: int) -> None:
        super().__init__("Interrupted")
        self.kept, self.total = kept, total

    def _render_traceback_(self) -> list[str]:
        return [f"Interrupted: the answers so far ({self.kept} of {self.total} models) are kept in {RESPONSES_VAR}."]


class _Stopped(Exception):
    """Raised from a stream's callback to end it (Ctrl-C in the cell's thread)."""


class _Column:
    """What one model's thread has received; the cell's thread reads it to draw the grid.

    The thread only appends to lists (atomic in CPython); the cell's thread joins what is there.
    """

    def __init__(self, model: str, stop: threading.Event) -> None:
        self.model = model
        self.stop = stop
        self.pieces: list[str] = []
        self.reasoning = 0  # characters of reasoning so far
        self.started = time.perf_counter()
        self.start = 0  # the window: text[shown_from:] is drawn (with its re-opened block)
        self.reopen: Reopen | None = None
        self.previous: tuple[int, Reopen | None] = (0, None)

    def text(self, delta: str) -> None:
        if self.stop.is_set():
            raise _Stopped
        self.pieces.append(delta)

    def think(self, delta: str) -> None:
        if self.stop.is_set():
            raise _Stopped
        self.reasoning += len(delta)

    def window(self, text: str, cursor: str = CURSOR) -> tuple[str, int]:
        """The end of the answer so far, as Markdown that renders, and how many characters it hides."""
        while True:
            cut = find_cut(text, self.start, self.reopen, soft=WINDOW, hard=2 * WINDOW)
            if cut is None:
                break
            self.previous = (self.start, self.reopen)
            self.start, self.reopen = cut.end, cut.reopen
        start, reopen = self.previous
        head = text[reopen.start : reopen.end] if reopen is not None else ""
        return settle(head + text[start:], cursor), start


def compare(
    prepared: Prepared, state: ShellState, models: list[str], *, cell: int | None = None, out: str | None = None
) -> dict[str, Call]:
    """Send ``prepared`` to every model at once and show the answers side by side; the calls by model.

    Each call is recorded as one of the session's (``haoee_usage_total`` counts them all) and
    logged with ``source="compare"``. ``haoee_responses`` holds each model's Response;
    ``out`` each model's answer (text, or the object of ``-f json`` / ``--schema``).
    """
    stop = threading.Event()
    columns = {model: _Column(model, stop) for model in models}
    preparations = {model: dataclasses.replace(prepared, body={**prepared.body, "model": model}) for model in models}
    calls = {
        model: Call(body=p.body, source="compare", cell=cell, endpoint=endpoint(p)) for model, p in preparations.items()
    }
    view = _GridView(state, models)
    view.draw(calls, columns, final=False)
    interval = 1.0 / state.settings.updates_per_second
    workers = min(len(models), state.settings.concurrency)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="haoee-compare")
    finished: dict[str, Call] = {}
    with state.lease() as client:
        futures: dict[Future[None], str] = {
            executor.submit(_one, preparations[m], state, calls[m], client, columns[m]): m for m in models
        }
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=interval, return_when=FIRST_COMPLETED)
                for future in done:
                    finished[futures[future]] = calls[futures[future]]
                view.draw(calls, columns, final=False, finished=finished)
        except KeyboardInterrupt as e:
            stop.set()  # each stream ends at its next delta, keeping what arrived
            done, _ = wait(futures, timeout=3.0)
            ended = {futures[f] for f in done}
            finished = {model: calls[model] for model in models if model in ended}
            _record(state, finished, out, preparations)
            view.draw(calls, columns, final=True, finished=finished)
            raise CompareInterrupted(sum(bool(call.text) for call in finished.values()), len(models)) from e
        finally:
            executor.shutdown(wait=False)
    finished = {model: calls[model] for model in models}  # in the order asked
    unparsed = _record(state, finished, out, preparations)
    view.draw(calls, columns, final=True, finished=finished)
    errors = [call.error for call in calls.values() if call.error is not None]
    if errors and len(errors) == len(calls):
        raise errors[0]  # every model failed: the cell fails, with the first one's line
    if unparsed:  # -f json / --schema not met: said as for one cell, the texts kept
        (model, error), more = next(iter(unparsed.items())), len(unparsed) - 1
        others = f" (and {more} more model{'s' if more > 1 else ''})" if more else ""
        raise AnswerError(f"{model}{others}: {error}")
    return calls


def _one(prepared: Prepared, state: ShellState, call: Call, client: Any, column: _Column) -> None:
    """One model's call, in its own thread: sent (or answered from the cache), then logged."""
    try:
        send(prepared, state, call, client, on_text=column.text, on_reasoning=column.think)
    except _Stopped:
        pass  # send() kept the partial answer and marked the call interrupted
    finally:
        call.latency = time.perf_counter() - column.started
        log_call(state, call, enabled=getattr(prepared.options, "log", None))


def _record(
    state: ShellState, calls: dict[str, Call], out: str | None, preparations: dict[str, Prepared]
) -> dict[str, AnswerError]:
    """Count each finished call in the session; publish the answers by model. The answers that
    are not the JSON asked for (``-f json`` / ``--schema``), by model: their texts are kept."""
    namespace = state.namespace
    for call in calls.values():
        state.session.record(call, None)
    namespace[RESPONSES_VAR] = {model: call.response for model, call in calls.items()}
    last = next((c for c in reversed(calls.values()) if c.response is not None), None)
    namespace[RESPONSE_VAR] = last.response if last is not None else None
    namespace[USAGE_VAR] = last.usage if last is not None else Usage()  # haoee_response's own usage
    namespace[TOTAL_VAR] = state.session.total
    values: dict[str, Any] = {}
    unparsed: dict[str, AnswerError] = {}
    for model, call in calls.items():
        values[model] = call.text
        if call.error is None:
            kept_in = f"{out}[{model!r}]" if out else f"{RESPONSES_VAR}[{model!r}].text"
            try:
                values[model] = answer_value(call, preparations[model], kept_in=kept_in)
            except AnswerError as e:
                unparsed[model] = e
    if out:
        namespace[out] = values
    return unparsed


class _GridView:
    """The grid in one output, redrawn in place; in a terminal, printed once at the end."""

    def __init__(self, state: ShellState, models: list[str]) -> None:
        self.models = models
        self.terminal = in_terminal(state.shell)
        self.handle: Any = None

    def draw(
        self,
        calls: dict[str, Call],
        columns: dict[str, _Column],
        *,
        final: bool,
        finished: dict[str, Call] | None = None,
    ) -> None:
        finished = finished or {}
        if final:
            grid = [_final_column(calls[m]) for m in self.models]
        else:  # the end of each answer, also of one already done: an update stays bounded
            grid = [_streaming_column(calls[m], columns[m], m in finished) for m in self.models]
        data = grid_bundle(grid)
        if self.terminal:
            if final:
                print(data["text/plain"])
            return
        from IPython.display import display

        if self.handle is None:
            self.handle = display(data, raw=True, display_id=True)
        else:
            self.handle.update(data, raw=True)


def _streaming_column(call: Call, column: _Column, done: bool) -> GridColumn:
    """A column while the grid streams: the end of its answer (all of it once the others are done)."""
    if done:  # its thread has ended: the call is the cell thread's to read
        facts: tuple[str, ...] = tuple(
            footer_facts(call.response, model=call.model, latency=call.latency, status=call_status(call))
        )
        text, cursor = call.text, ""
    else:
        elapsed = f"{time.perf_counter() - column.started:.1f} s"
        if not column.pieces:
            doing = f"reasoning… ({column.reasoning:,} characters)" if column.reasoning else "waiting for the answer…"
            return GridColumn(call.model, "", "", (doing, elapsed))
        facts, text, cursor = ("streaming…", elapsed), "".join(column.pieces), CURSOR
    markdown, hidden = column.window(text, cursor)
    note = f"… {hidden:,} characters above; all of it when the answers are done" if hidden else ""
    return GridColumn(call.model, markdown, markdown.replace(CURSOR, ""), facts, note)


def _final_column(call: Call) -> GridColumn:
    response, text = call.response, call.text
    status = call_status(call)
    facts = footer_facts(response, model=call.model, latency=call.latency, status=status)
    markdown = body_markdown(response, text, partial=call.interrupted or call.error is not None)
    plain = body_plain(response, text)
    if call.error is not None:
        line = str(call.error).splitlines()[0] if str(call.error) else type(call.error).__name__
        markdown += f"\n\n> **{type(call.error).__name__}:** {line}"
        plain += f"\n{type(call.error).__name__}: {line}"
    return GridColumn(call.model, markdown, plain.strip("\n"), tuple(facts))
