"""``%%haoee --over NAME``: the cell as a template, run once per row, many at a time.

Each row's prompt is prepared as one cell's is (``_core.prepare``), with the row's names
(``{item}``, ``{index}``, a DataFrame's columns and ``{row.x}``) layered over the user's, and
sent from a pool of threads through the shell's one client (``_core.send``: the response cache
as for one call). Rows are handed to the pool a few at a time, so memory holds the answers and
not a queue of every request; each answer goes into its place as it arrives, nothing else is
kept of it but the session's bounded history. Every row is written to the call log by its own
thread, also after Ctrl-C (a row in flight still finishes and is logged), under the batch's run:
running the same cell again after an interrupt, or after a kernel restart, takes the rows already
done from the log and sends only the rest. With the cache on, an answered row is never sent twice.

    result = run_batch(cell, options, state, models=["gpt-4.1"], cell=12)

After the run the namespace holds the result in ``--out`` and in ``haoee_results`` (what
``--retry-failed`` starts from without ``-o``), ``haoee_response`` (the last row's Response),
``haoee_usage`` (the tokens this run spent) and ``haoee_usage_total`` (the session's, every row
counted; rows from the cache apart, as saved tokens).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import ChainMap
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..client._models import Usage
from ._core import AnswerError, Prepared, PrepareError, answer_value, endpoint, log_call, prepare, send
from ._progress import Counts, Progress
from ._rows import DEFAULT_COLUMN, BatchError, Results, RowError, Rows
from ._session import RESPONSE_VAR, TOTAL_VAR, USAGE_VAR, Call
from ._store import dumps, without_secrets
from ._summary import summary_bundle

if TYPE_CHECKING:
    from ._state import ShellState

#: Where the last batch's result is kept besides --out (what --retry-failed starts from without -o).
RESULTS_VAR = "haoee_results"
#: Options that change how a batch runs or where its result goes, not what each row asks.
_NOT_ASKED = ("out", "concurrency", "retry_failed", "column", "cache", "refresh", "log", "dry_run", "over", "models")


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch: every finished row is kept; one line says where and what next."""

    def __init__(self, kept: int, total: int, where: str) -> None:
        super().__init__("Interrupted")
        self.kept, self.total, self.where = kept, total, where

    def _render_traceback_(self) -> list[str]:
        return [
            f"Interrupted: {self.kept:,} of {self.total:,} rows are kept in {self.where}; "
            "run the cell again to send only the rest (--retry-failed does, from the result)."
        ]


@dataclass
class _Outcome:
    task: int
    call: Call | None = None
    value: Any = None
    reused: bool = False  # taken from the call log of an unfinished run


class Batch:
    """One run of ``--over``: its rows, models, the run in the call log and the results so far."""

    def __init__(self, template: str, options: Any, state: ShellState, models: list[str], cell: int | None) -> None:
        self.template, self.state, self.cell = template, state, cell
        namespace = state.namespace
        if options.over not in namespace:
            raise BatchError(f"--over {options.over}: no variable of that name; define the list or DataFrame first")
        self.rows = Rows(namespace[options.over], options.over)
        if not len(self.rows):
            raise BatchError(f"--over {options.over}: it is empty; there is nothing to run")
        self.models = models
        # Rows are not streamed unless --stream says so: nothing is shown of them while they come.
        self.options = [
            dataclasses.replace(options, model=model, models=[], stream=bool(options.stream)) for model in models
        ]
        self.first = self._prepare(0, 0)  # a template that cannot be filled fails before anything is sent
        schema = (self.first.text_format or {}).get("schema") or {}
        fields = list(schema.get("properties") or {}) if isinstance(schema, dict) else []
        previous = None
        if options.retry_failed:
            where = options.out or RESULTS_VAR
            if where not in namespace:
                raise BatchError(f"--retry-failed: no earlier result in {where}; run the batch once without it")
            previous = namespace[where]
        self.results = Results(self.rows, models, fields, options.column, previous)
        if previous is None or previous is not self.rows.value:  # not answers of its own, retried
            _refuse_clash(self.rows, self.results.all_columns(), fields)
        self.counts = Counts(total=len(self.results.values))
        self.log_on = bool(self.first.options.log)
        self.batch_id: str | None = None
        self.resume: dict[int, Any] = {}
        self.last_call: Call | None = None
        self.usage = Usage()

    def _prepare(self, task: int, model_index: int | None = None) -> Prepared:
        row, j = divmod(task, len(self.models)) if model_index is None else (task, model_index)
        try:
            names = ChainMap(self.rows.namespace(row), self.state.namespace)  # the row's names first
            return prepare(self.template, self.options[j], self.state, names)
        except PrepareError as e:
            name = getattr(e.__cause__, "undefined", None)
            if name and self.rows.kind == "frame":  # most likely a column's name, mistyped
                columns = ", ".join(self.rows.columns)
                raise BatchError(
                    f"Row {self.rows.labels[row]!r}: {{{name}}} refers to {name!r}, which is not a column of {self.rows.name} "
                    f"(its columns: {columns}) nor a variable; write {{{{{name}}}}} for literal braces"
                ) from e
            raise BatchError(f"Row {self.rows.labels[row]!r}: {e}") from e

    def key(self) -> str:
        """The batch's identity: its template, what each row asks, the models, server and rows."""
        asked = {k: v for k, v in dataclasses.asdict(self.first.options).items() if k not in _NOT_ASKED}
        identity = [
            self.template,
            asked,
            self.models,
            self.state.base_url(),
            self.rows.fingerprint(self.results.all_columns()),
        ]
        return hashlib.sha256(dumps(identity).encode()).hexdigest()

    def open_run(self) -> None:
        """Find the unfinished run of this batch in the call log (resume it) or begin one."""
        if not self.log_on:
            return
        try:
            log = self.state.call_log
            self.batch_id, resumed = log.open_batch(self.key(), len(self.results.values))
            if resumed:
                done = ("completed", "incomplete", "cached")
                self.resume = {e.batch_row: e for e in log.batch_rows(self.batch_id) if e.status in done}
        except Exception as e:  # a log that does not work: the batch runs without resuming
            self.state.store_failed("log", e)
            self.batch_id = None

    # --- one task, in a pool thread -----------------------------------------------------------
    def task(self, task: int, client: Any) -> _Outcome:
        try:
            prepared = self.first if task == 0 else self._prepare(task)
        except BatchError as e:
            return _Outcome(task, value=RowError(e))
        call = Call(body=prepared.body, source="batch", cell=self.cell, endpoint=endpoint(prepared))
        entry = self.resume.get(task)
        if entry is not None and entry.request == json.loads(dumps(without_secrets(prepared.body))):
            call.response, call.log_id = entry.to_response(), entry.id
            return _Outcome(task, call, self._value(call, prepared), reused=True)
        started = time.perf_counter()
        send(prepared, self.state, call, client)
        call.latency = time.perf_counter() - started
        log_call(self.state, call, enabled=self.log_on, batch_id=self.batch_id, batch_row=task)
        return _Outcome(task, call, self._value(call, prepared))

    @staticmethod
    def _value(call: Call, prepared: Prepared) -> Any:
        if call.error is not None:
            return RowError(call.error, call.text)
        try:
            return answer_value(call, prepared, kept_in="the call log (%haoee history)")
        except AnswerError as e:
            return RowError(e, call.text)

    # --- the cell's thread ------------------------------------------------------------------
    def take(self, outcome: _Outcome) -> None:
        """Put one finished task in its place and count it."""
        self.results.place(outcome.task, outcome.value)
        counts, call = self.counts, outcome.call
        if isinstance(outcome.value, RowError):
            counts.failed += 1
        else:
            counts.done += 1
        if call is None:
            return
        if outcome.reused:
            counts.reused += 1
            return
        self.state.session.record(call, None)
        if call.cached:
            counts.cached += 1
        else:
            counts.sent += 1
            counts.tokens += call.usage.total_tokens
            self.usage += call.usage
        if call.response is not None:
            self.last_call = call


def _refuse_clash(rows: Rows, columns: list[str], fields: list[str]) -> None:
    """A DataFrame's own column never gets overwritten by answers: refused before anything is sent."""
    taken = [name for name in columns if name in rows.columns]
    if not taken:
        return
    name = taken[0]
    if fields:
        raise BatchError(
            f"--over {rows.name}: the --schema field {name.split(' [')[0]!r} would overwrite its column {name!r}; "
            "rename that field of the schema (or the column)"
        )
    raise BatchError(
        f"--over {rows.name}: the answers would overwrite its column {name!r}; pass --column NAME with a new name"
    )


def run_batch(template: str, options: Any, state: ShellState, models: list[str], *, cell: int | None = None) -> Any:
    """Run the batch and show its progress, then its summary; returns (and publishes) the result."""
    batch = Batch(template, options, state, models, cell)
    todo = batch.results.todo()
    where = options.out or RESULTS_VAR
    if not todo:  # --retry-failed with every row answered: nothing sent, haoee_response left as it was
        result = batch.results.result()
        state.namespace[RESULTS_VAR] = result
        if options.out:
            state.namespace[options.out] = result
        size = len(batch.results.values)
        line = f"Nothing to retry: all {size:,} answers of {where} are there; nothing was sent."
        state.show(line, line)
        return result
    batch.open_run()
    batch.counts.total = len(todo)
    progress = Progress(state.shell, batch.counts)
    workers = min(options.concurrency or state.settings.concurrency, max(len(todo), 1))
    interrupted = False
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="haoee-batch")
    try:
        with state.lease() as client:
            interrupted = _drive(batch, client, executor, iter(todo), workers, progress)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)  # what never started is dropped
    result = batch.results.result()
    namespace = state.namespace
    namespace[RESULTS_VAR] = result
    if options.out:
        namespace[options.out] = result
    namespace[RESPONSE_VAR] = batch.last_call.response if batch.last_call is not None else None
    namespace[USAGE_VAR] = batch.usage
    namespace[TOTAL_VAR] = state.session.total
    if not interrupted and batch.batch_id is not None:
        try:
            state.call_log.finish_batch(batch.batch_id)
        except Exception as e:
            state.store_failed("log", e)
    column = options.column or DEFAULT_COLUMN
    progress.finish(
        summary_bundle(batch, result, progress.elapsed, where=where, column=column, interrupted=interrupted)
    )
    if interrupted:
        kept = len(batch.results.values) - len(batch.results.todo())
        raise BatchInterrupted(kept, len(batch.results.values), where)
    return result


def _drive(
    batch: Batch, client: Any, executor: ThreadPoolExecutor, tasks: Iterator[int], workers: int, progress: Progress
) -> bool:
    """Keep the pool busy (at most two tasks per thread handed out), take each outcome as it
    comes; True if Ctrl-C stopped it."""
    running: set[Future[_Outcome]] = set()

    def refill() -> None:
        while len(running) < 2 * workers:
            task = next(tasks, None)
            if task is None:
                return
            running.add(executor.submit(batch.task, task, client))

    try:
        refill()
        while running:
            done, _ = wait(running, timeout=progress.interval, return_when=FIRST_COMPLETED)
            for future in done:
                running.discard(future)
                batch.take(future.result())
            refill()
            progress.show()
    except KeyboardInterrupt:
        for future in list(running):
            if future.done() and not future.cancelled():
                running.discard(future)
                batch.take(future.result())  # finished while we were stopping: keep it
            else:
                future.cancel()  # a row already sent finishes in its thread, and is logged
        return True
    return False
