"""``%haoee history``, ``%haoee rerun ID`` and ``%haoee cache``: the call log and the cache from a cell.

Registered in the subcommand registry (``_subcommands``) when the magic loads.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ._core import Prepared, run
from ._display import FORMATS, NotebookView, TerminalView, in_terminal
from ._history import history_bundle
from ._options import Options, resolve
from ._session import CHAT_COMPLETIONS, RESPONSES
from ._state import cell_number
from ._store import StoreError
from ._subcommands import argument, subcommand

if TYPE_CHECKING:
    from ._state import ShellState


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"-n must be a whole number, 1 or more, not {text}")
    return value


@subcommand(
    argument("-n", type=_count, default=20, metavar="N", help="how many calls, newest first (default 20)"),
    argument("--search", metavar="TEXT", help="only calls whose prompt or answer holds this text (any case)"),
    argument("--model", metavar="M", help="only calls to this model"),
)
def history(state: ShellState, args: argparse.Namespace) -> None:
    """Recent calls of every session, from the persistent call log (haoee_jupyter.history() returns them)."""
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


@subcommand(
    argument("id", metavar="ID", help="the call's id in %haoee history (12 or #12)"),
    argument("-m", "--model", metavar="MODEL", help="send it to this model instead of the one it went to"),
)
def rerun(state: ShellState, args: argparse.Namespace) -> None:
    """Send a logged text call again (its exact request), shown and logged as a new call; an image or video cell runs again as a cell."""
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


@subcommand(argument("action", nargs="?", choices=["clear"], metavar="clear", help="remove every cached answer"))
def cache(state: ShellState, args: argparse.Namespace) -> None:
    """The response cache: how many answers and bytes it holds, where, and whether it is on; clear empties it."""
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
