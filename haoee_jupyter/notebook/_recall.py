"""``%haoee history``, ``%haoee rerun ID`` and ``%haoee cache``: the call log and the cache from a cell.

Declared (name, summary, arguments) in :mod:`._subcommands` with ``deferred``; this module is
imported when one of them first runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ._core import Prepared, run
from ._display import FORMATS, NotebookView, TerminalView, in_terminal
from ._history import history_bundle
from ._options import Options, resolve
from ._session import CHAT_COMPLETIONS, RESPONSES
from ._state import cell_number
from ._store import StoreError

if TYPE_CHECKING:
    import argparse

    from ._state import ShellState


def history(state: ShellState, args: argparse.Namespace) -> None:
    """``%haoee history``: recent calls from the call log."""
    try:
        entries = state.call_log.search(args.n, search=args.search, model=args.model)
    except StoreError as e:
        raise UsageError(str(e)) from e
    shown = history_bundle(entries)
    if not entries and not (args.search or args.model) and not state.settings.log:
        shown = {
            key: value + " The log is off in this session (%config Haoee.log = True turns it on)."
            for key, value in shown.items()
        }
    state.show(shown["text/markdown"], shown["text/plain"])


def rerun(state: ShellState, args: argparse.Namespace) -> None:
    """``%haoee rerun ID``: send a logged text call again, as a new call."""
    try:
        entry = state.call_log.get(args.id)
    except StoreError as e:
        raise UsageError(str(e)) from e
    if entry.endpoint not in (RESPONSES, CHAT_COMPLETIONS):
        raise UsageError(
            f"Call {entry.label} went to {entry.endpoint}; %haoee rerun sends text calls again; run its image or video cell again instead"
        )
    body: dict[str, Any] = dict(entry.request)
    if not body.get("input"):
        raise UsageError(f"Call {entry.label} has no request kept in the log to send again")
    if args.model:
        body["model"] = args.model
    settings = state.settings
    api = "chat" if entry.endpoint == CHAT_COMPLETIONS else "responses"
    # Sent again, not answered from the cache; with the cache on, the new answer replaces the old.
    options = resolve(Options(api=api, refresh=bool(settings.cache), model=body.get("model")), settings)
    text_format = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    fmt = settings.format if settings.format in FORMATS and settings.format != "code" else "markdown"
    prepared = Prepared(
        prompt=entry.prompt,
        instructions=body.get("instructions"),
        images=[],
        text_format=text_format,
        parse=None,
        format="json" if text_format else fmt,
        chat=None,
        stream=bool(settings.stream),
        options=options,
        body=body,
    )
    view = TerminalView(prepared.format) if in_terminal(state.shell) else NotebookView(prepared.format)
    call = run(prepared, state, view, source="rerun", cell=cell_number(state.shell))
    if call.error is not None:
        raise call.error


def cache(state: ShellState, args: argparse.Namespace) -> None:
    """``%haoee cache [clear]``: what the response cache holds; clear empties it."""
    store = state.response_cache
    try:
        if args.action == "clear":
            removed = store.clear()
            print(
                f"Cleared the response cache: {removed:,} answer{'s' if removed != 1 else ''} removed ({store.path})."
            )
            return
        entries, size = store.stats()
    except StoreError as e:
        raise UsageError(str(e)) from e
    on = (
        "on for this session (%config Haoee.cache = True)"
        if state.settings.cache
        else "off: --cache turns it on for a cell, %config Haoee.cache = True for the session"
    )
    line = f"Response cache: {entries:,} answer{'s' if entries != 1 else ''}, {_size(size)}, at {store.path}; {on}."
    state.show(
        line.replace(str(store.path), f"`{store.path}`") + " `%haoee cache clear` empties it.",
        line + " %haoee cache clear empties it.",
    )


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"
