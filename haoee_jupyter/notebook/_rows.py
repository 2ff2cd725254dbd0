"""What a batch runs over and what it gives back: rows in, results out.

:class:`Rows` reads the value of ``--over NAME``: a list or other iterable (``{item}``), a pandas
Series (``{item}``, ``{index}`` its label) or a DataFrame (each column by name, ``{title}``; the
row as ``{row.title}`` / ``{row['title']}``, and as ``{item}``). :class:`Results` holds the
answers in input order as they arrive, then becomes the batch's result: a list, or a copy of the
DataFrame with the answers in new columns. A row that failed holds a :class:`RowError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

#: The answer column of a DataFrame result when --column is not given.
DEFAULT_COLUMN = "answer"


class BatchError(ValueError):
    """A batch that cannot run as asked; the message says what to change."""


class RowError:
    """A row whose call failed: kept in its place in the result, printed as one line.

    >>> out[3]
    error: The server failed (HTTP 500); run the cell again with --retry-failed
    >>> out[3].error          # the exception itself, with its traceback
    """

    failed = True

    def __init__(self, error: BaseException, text: str = "") -> None:
        self.error = error
        self.text = text  # what arrived before it failed

    @property
    def line(self) -> str:
        message = str(self.error).strip()
        return message.splitlines()[0] if message else type(self.error).__name__

    def __str__(self) -> str:
        return f"error: {self.line}"

    __repr__ = __str__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


class Row(Mapping[str, Any]):
    """One DataFrame row for a prompt: ``{row.title}``, ``{row['year']}``; as ``{item}`` it reads
    ``title: Dune, year: 1965``."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"the row has no column {name!r}; its columns: {', '.join(self._values)}") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __str__(self) -> str:
        return ", ".join(f"{name}: {value}" for name, value in self._values.items())

    __repr__ = __str__


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "itertuples") and hasattr(value, "columns")


def _is_series(value: Any) -> bool:
    return type(value).__name__ == "Series" and hasattr(value, "index") and hasattr(value, "to_list")


class Rows:
    """The items of ``--over NAME``, each with the names its prompt can use."""

    def __init__(self, value: Any, name: str) -> None:
        self.name = name
        self.value = value
        self.columns: list[str] = []
        if _is_frame(value):
            self.kind = "frame"
            self.columns = [str(column) for column in value.columns]
            self.items: list[Any] = list(value.itertuples(index=False, name=None))
            self.labels: list[Any] = list(value.index)
        elif _is_series(value):
            self.kind = "series"
            self.items, self.labels = value.to_list(), list(value.index)
        elif isinstance(value, (str, bytes)):
            raise BatchError(
                f"--over {name}: a {type(value).__name__} is one text, not a list of items; put it in a list"
            )
        elif isinstance(value, Mapping):
            raise BatchError(
                f"--over {name}: a dict is not a list of items; use list({name}.values()) or a pandas DataFrame"
            )
        else:
            try:
                self.items = list(value)
            except TypeError:
                raise BatchError(
                    f"--over {name}: a {type(value).__name__} is not a list, Series or DataFrame; give one of those"
                ) from None
            self.kind = "list"
            self.labels = list(range(len(self.items)))

    def __len__(self) -> int:
        return len(self.items)

    def namespace(self, position: int) -> dict[str, Any]:
        """The names one row's prompt sees, above the user's own."""
        item = self.items[position]
        names: dict[str, Any] = {"index": self.labels[position]}
        if self.kind == "frame":
            values = dict(zip(self.columns, item))
            names.update((column, value) for column, value in values.items() if column.isidentifier())
            row = Row(values)
            names.update(row=row, item=row)
        else:
            names["item"] = item
        return names

    def fingerprint(self, skip: Sequence[str] = ()) -> str:
        """A hash of the rows' contents (without the ``skip`` columns: a result's own answers)."""
        digest = hashlib.sha256()
        keep = [i for i, column in enumerate(self.columns) if column not in skip] if self.kind == "frame" else None
        digest.update(repr([self.columns[i] for i in keep] if keep is not None else self.kind).encode())
        for label, item in zip(self.labels, self.items):
            shown = tuple(item[i] for i in keep) if keep is not None else item
            digest.update(repr((label, shown)).encode("utf-8", "replace"))
        return digest.hexdigest()


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # None, or NaN in a frame


class Results:
    """The answers of a batch in input order: one value per row and model, ``None`` until it arrives.

    ``fields`` are the schema's fields (one column each) for ``--schema``; ``models`` the models
    of ``--models`` (one column each, or a dict per row of a list); ``column`` the answer
    column's name for a DataFrame.
    """

    def __init__(
        self, rows: Rows, models: Sequence[str], fields: Sequence[str], column: str | None, previous: Any = None
    ) -> None:
        self.rows = rows
        self.models = list(models)
        self.fields = list(fields)
        self.column = column
        self.values: list[Any] = [None] * (len(rows) * max(len(self.models), 1))
        if previous is not None:
            self._take(previous)

    # --- the result's shape -----------------------------------------------------------------
    def column_names(self, model: str) -> list[str]:
        """The DataFrame columns one model's answers go to."""
        several = len(self.models) > 1
        if self.fields:
            return [f"{field} [{model}]" if several else field for field in self.fields]
        if several:
            return [f"{self.column} [{model}]" if self.column else model]
        return [self.column or DEFAULT_COLUMN]

    def all_columns(self) -> list[str]:
        return [name for model in self.models for name in self.column_names(model)]

    def place(self, task: int, value: Any) -> None:
        self.values[task] = value

    # --- what --retry-failed runs again -------------------------------------------------------
    def _take(self, previous: Any) -> None:
        """Start from the result of an earlier run (--retry-failed), checking it fits these rows."""
        size, models = len(self.rows), self.models
        if self.rows.kind == "frame":
            if not _is_frame(previous) or len(previous) != size:
                raise BatchError(self._mismatch(previous))
            missing = [name for name in self.all_columns() if name not in previous.columns]
            if missing:
                raise BatchError(f"--retry-failed: the earlier result has no column {missing[0]!r}; run without it")
            for j, model in enumerate(models):
                names = self.column_names(model)
                cells = [previous[name].to_list() for name in names]
                for i in range(size):
                    row = [values[i] for values in cells]
                    if any(isinstance(v, RowError) for v in row) or all(_empty(v) for v in row):
                        continue
                    self.values[i * len(models) + j] = row[0] if not self.fields else _record(self.fields, row)
            return
        if not isinstance(previous, list) or len(previous) != size:
            raise BatchError(self._mismatch(previous))
        for i, value in enumerate(previous):
            for j, model in enumerate(models):
                cell = value.get(model) if len(models) > 1 and isinstance(value, dict) else value
                if not _empty(cell) and not isinstance(cell, RowError):
                    self.values[i * len(models) + j] = cell

    def _mismatch(self, previous: Any) -> str:
        what = f"{len(previous):,} rows" if hasattr(previous, "__len__") else f"a {type(previous).__name__}"
        return f"--retry-failed: the earlier result has {what}, but --over {self.rows.name} has {len(self.rows):,}; run without --retry-failed"

    def todo(self) -> list[int]:
        """The tasks (row x model) without an answer: failed, or never run."""
        return [task for task, value in enumerate(self.values) if _empty(value) or isinstance(value, RowError)]

    # --- the result ---------------------------------------------------------------------------
    def result(self) -> Any:
        """A list in input order (a dict by model per row with --models), or a copy of the
        DataFrame with the answers in new columns."""
        models = len(self.models)
        if self.rows.kind != "frame":
            if models > 1:
                return [
                    {model: self.values[i * models + j] for j, model in enumerate(self.models)}
                    for i in range(len(self.rows))
                ]
            return list(self.values)
        frame = self.rows.value.copy()
        for j, model in enumerate(self.models):
            answers = self.values[j::models]
            for k, name in enumerate(self.column_names(model)):
                if self.fields:
                    field = self.fields[k]
                    frame[name] = [_field(answer, field) for answer in answers]
                else:
                    frame[name] = answers
        return frame


def _record(fields: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(fields, row))


def _field(answer: Any, field: str) -> Any:
    """One field of a schema answer (a dict or a pydantic model); the error itself for a failed row."""
    if answer is None or isinstance(answer, RowError):
        return answer
    if isinstance(answer, Mapping):
        return answer.get(field)
    return getattr(answer, field, None)
