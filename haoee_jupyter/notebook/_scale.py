"""The magic's door to batches and comparisons: which options go together, then the run.

models = scale_models(options, state)          # UsageError when options do not go together
if options.over or len(models) > 1:
    return scale_cell(cell, options, state, models, cell=7)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..client import _settings
from ._batch import run_batch
from ._compare import CompareError, compare, model_names
from ._core import AnswerError, EmptyPromptError, PrepareError, prepare
from ._dry_run import request_text
from ._rows import BatchError

if TYPE_CHECKING:
    from ._state import ShellState


def scale_models(options: Any, state: ShellState) -> list[str]:
    """The models a cell asks for (one, or several to compare), once its options are checked:
    a flag that does nothing in this cell is refused, never ignored."""
    try:
        models = model_names(options)
    except CompareError as e:
        raise UsageError(str(e)) from e
    several = len(models) > 1
    if not options.over:
        for name, flag in (("column", "--column"), ("retry_failed", "--retry-failed")):
            if getattr(options, name):
                raise UsageError(f"{flag} works with --over NAME (a batch); add --over or leave {flag} out")
        if options.concurrency is not None and not several:
            raise UsageError("--concurrency works with --over NAME or --models; add one or leave --concurrency out")
    if options.refresh and options.cache is False:
        raise UsageError("--refresh asks again and replaces the cached answer; it cannot go with --no-cache")
    if options.over or several:
        what = "--over" if options.over else "--models"
        if options.chat:
            raise UsageError(f"--chat cannot go with {what}: a conversation takes one answer per turn")
        if options.stream and options.over:
            raise UsageError("--stream cannot go with --over: a batch shows its progress, not each row's text")
        if options.format == "code":
            raise UsageError(f"-f code cannot go with {what}: it puts one answer's code into the next cell")
    if not models:
        models = [_settings.resolve_model(options.model or str(state.settings.model or "") or None)]
    return models


def scale_cell(template: str, options: Any, state: ShellState, models: list[str], *, cell: int | None = None) -> Any:
    """Run a ``--over`` batch (with one model or several) or a ``--models`` comparison."""
    if options.dry_run:
        return _dry_run(template, options, state, models)
    if options.over:
        try:
            run_batch(template, options, state, models, cell=cell)
        except BatchError as e:
            raise UsageError(str(e)) from e
        return None
    prepared = _prepare(template, dataclasses.replace(options, model=models[0], models=[]), state)
    try:
        calls = compare(prepared, state, models, cell=cell, out=options.out)
    except AnswerError as e:
        raise UsageError(str(e)) from e
    for call in calls.values():
        if call.error is not None:
            state.session.last_error = call.error
    return None


def _prepare(template: str, options: Any, state: ShellState, namespace: Any = None) -> Any:
    try:
        return prepare(template, options, state, namespace)
    except EmptyPromptError:
        raise UsageError("The cell is empty: write your prompt on the lines below %%haoee") from None
    except PrepareError as e:
        raise UsageError(str(e)) from e


def _dry_run(template: str, options: Any, state: ShellState, models: list[str]) -> None:
    """The first request as it would be sent, and what the others would differ in."""
    namespace = None
    others = ""
    if options.over:
        from collections import ChainMap

        from ._rows import Rows

        if options.over not in state.namespace:
            raise UsageError(f"--over {options.over}: no variable of that name; define the list or DataFrame first")
        try:
            rows = Rows(state.namespace[options.over], options.over)
        except BatchError as e:
            raise UsageError(str(e)) from e
        if not len(rows):
            raise UsageError(f"--over {options.over}: it is empty; there is nothing to run")
        namespace = ChainMap(rows.namespace(0), state.namespace)
        others = f" It is the first of {len(rows) * len(models):,}: one per row" + (
            " and model" if len(models) > 1 else ""
        )
    elif len(models) > 1:
        others = f" Each of {', '.join(models)} gets the same request with its own model name."
    stream = bool(options.stream) if options.over else options.stream
    prepared = _prepare(
        template, dataclasses.replace(options, model=models[0], models=[], stream=stream), state, namespace
    )
    if options.over and others:
        others += "."
    text = request_text(prepared, state)
    state.show(
        f"**Dry run: nothing was sent.**{others}\n\n```http\n{text}\n```", f"Dry run: nothing was sent.{others}\n{text}"
    )
