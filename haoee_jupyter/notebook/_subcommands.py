"""``%haoee SUBCOMMAND``: a registry of subcommands, each with its own parser.

A subcommand is a function ``(state, args)`` registered with :func:`subcommand`, which declares
its arguments; ``%haoee help`` and the README's reference are made from the registry, and an
argument a subcommand does not take is refused with one line. To add one::

    @subcommand(argument("-n", type=int, default=20, metavar="N", help="how many"))
    def history(state: ShellState, args: argparse.Namespace) -> None:
        \"\"\"Recent calls from the call log.\"\"\"

One in a module costly to import is declared here with :func:`deferred` (name, summary, arguments,
``"module:function"``): ``%load_ext`` does not import that module; the subcommand's first run does.
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from IPython.core.error import StdinNotImplementedError, UsageError

from ._options import OptionError, split_line

if TYPE_CHECKING:
    from ._state import ShellState

Argument = tuple[tuple[str, ...], dict[str, Any]]


def argument(*flags: str, **kwargs: Any) -> Argument:
    """One argument of a subcommand, as ``ArgumentParser.add_argument`` takes it."""
    return flags, kwargs


class _Parser(argparse.ArgumentParser):
    """Refuses bad arguments with one line that shows the usage."""

    def error(self, message: str) -> Any:
        message = re.sub(r"^argument [^:]+: (?=-)", "", message)  # our own sentence names the option
        raise UsageError(f"{self.prog}: {message} (usage: {self.usage_line()})")

    def usage_line(self) -> str:
        return " ".join(self.format_usage().split()).removeprefix("usage: ")


@dataclass(frozen=True)
class Subcommand:
    name: str
    run: Callable[[ShellState, argparse.Namespace], Any]
    summary: str
    arguments: tuple[Argument, ...]

    def parser(self) -> _Parser:
        parser = _Parser(prog=f"%haoee {self.name}", add_help=False, allow_abbrev=False)
        for flags, kwargs in self.arguments:
            parser.add_argument(*flags, **kwargs)
        return parser

    def usage(self) -> str:
        return self.parser().usage_line()


@dataclass(frozen=True)
class Deferred:
    """A subcommand's function named as ``"module:function"`` (relative to this package), imported on first call."""

    target: str

    def resolve(self) -> Callable[[ShellState, argparse.Namespace], Any]:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module, __package__), name)  # type: ignore[no-any-return]

    def __call__(self, state: ShellState, args: argparse.Namespace) -> Any:
        return self.resolve()(state, args)


#: Every subcommand, in the order ``%haoee help`` lists them.
SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(*arguments: Argument) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as ``%haoee <its name>``; its docstring's first line is its summary."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        name = function.__name__.rstrip("_")
        summary = (function.__doc__ or "").strip().splitlines()[0]
        SUBCOMMANDS[name] = Subcommand(name, function, summary, arguments)
        return function

    return register


def deferred(name: str, target: str, summary: str, *arguments: Argument) -> None:
    """Register ``%haoee NAME``, run by ``target`` (``"._module:function"``), imported when it first runs."""
    SUBCOMMANDS[name] = Subcommand(name, Deferred(target), summary, arguments)


def dispatch(state: ShellState, line: str) -> Any:
    """Run the ``%haoee`` line: a subcommand and its arguments (nothing: help)."""
    try:
        words = split_line(line)
    except OptionError as e:
        raise UsageError(f"%haoee: {e}") from e
    if not words:
        words = ["help"]
    command = SUBCOMMANDS.get(words[0].lower())
    if command is None:
        raise UsageError(
            f"Unknown subcommand {words[0]!r}: use one of {', '.join(SUBCOMMANDS)} "
            "(to ask a question, start a cell with %%haoee)"
        )
    return command.run(state, command.parser().parse_args(words[1:]))


# --- the subcommands ------------------------------------------------------------------------


deferred("config", "._config_view:config", "The settings in effect and where each comes from; the key masked.")


@subcommand()
def key(state: ShellState, args: argparse.Namespace) -> None:
    """Ask for the API key without echoing it; %%haoee and the form use it for this session."""
    import getpass

    from ..client import _settings

    try:
        entered = getpass.getpass("Haoee API key (input hidden): ").strip()
    except (StdinNotImplementedError, EOFError) as e:
        raise UsageError(
            "This frontend cannot ask for input, so %haoee key cannot read a key here: set HAOEE_API_KEY "
            "in the environment before starting Jupyter (or %config Haoee.api_key = '...', which keeps it in the notebook)"
        ) from e
    if not entered:
        print("No key entered; nothing changed.")
        return
    state.assign("api_key", entered, "%haoee key")
    print(
        f"Key set for %%haoee and the form in this session ({_settings.mask(entered)}); "
        "a haoee_jupyter.Client() you make yourself reads its api_key argument or $HAOEE_API_KEY."
    )


@subcommand()
def usage(state: ShellState, args: argparse.Namespace) -> None:
    """A table of this session's calls and token totals."""
    state.show(state.session.usage_table(), state.session.usage_table(markdown=False))


@subcommand()
def models(state: ShellState, args: argparse.Namespace) -> None:
    """The models the server lists at /v1/models."""
    from ..client._exceptions import HaoeeError

    try:
        with state.lease() as client:
            names = client.models()
    except HaoeeError as e:
        if getattr(e, "status_code", None) in (404, 405):
            raise UsageError(
                f"This server does not list its models (/v1/models answered HTTP {e.status_code}); use -m with a model name you know"
            ) from e
        raise
    state.show("\n".join(f"- `{name}`" for name in names) or "(the server listed no models)", "\n".join(names))


def _latency(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:  # also nan
        raise argparse.ArgumentTypeError(
            f"--latency-ms must be 0 or more (milliseconds between streamed tokens), not {text}"
        )
    return value


@subcommand(
    argument(
        "action",
        nargs="?",
        choices=["start", "stop"],
        default="start",
        metavar="start|stop",
        help="start the server (the default), or stop it and go back to your own settings",
    ),
    argument("--latency-ms", type=_latency, metavar="N", help="milliseconds between streamed tokens (default 20)"),
)
def offline(state: ShellState, args: argparse.Namespace) -> None:
    """Start the offline demo server in this kernel and point the session at it; no key needed."""
    if args.action == "stop":
        if args.latency_ms is not None:
            raise UsageError("%haoee offline stop takes no --latency-ms (usage: %haoee offline stop)")
        if state.stop_offline():
            print("Offline server stopped; the session uses your own settings again.")
        else:
            print("The offline server is not running.")
        return
    server = state.start_offline(args.latency_ms)
    pace = f"{server.latency_ms:g} ms per token"
    state.show(
        f"**Offline demo server** at `{server.url}` ({pace}): this session uses it, no key needed. "
        "`%haoee offline stop` goes back to your own settings.",
        f"Offline demo server at {server.url} ({pace}): this session uses it, no key needed. "
        "%haoee offline stop goes back to your own settings.",
    )


@subcommand()
def form(state: ShellState, args: argparse.Namespace) -> None:
    """Show the widget form."""
    from IPython.display import display

    from ._form import Form

    display(Form(state))


def _variable(text: str) -> str:
    if not text.isidentifier():
        raise argparse.ArgumentTypeError(f"-o must be a Python variable name, not {text!r}")
    return text


@subcommand(
    argument("video_id", metavar="ID", help="the job's id (haoee_response.id after a video cell was interrupted)"),
    argument("-o", "--out", type=_variable, metavar="NAME", help="also keep the video in this variable"),
)
def video(state: ShellState, args: argparse.Namespace) -> None:
    """A video job's state; then follow it to the end, download, save and play it (never created again)."""
    from ._media import resume_video
    from ._state import cell_number

    resume_video(state, args.video_id, out=args.out, cell_number=cell_number(state.shell))


@subcommand()
def chats(state: ShellState, args: argparse.Namespace) -> None:
    """The named conversations of this session."""
    if not state.session.chats:
        state.show(
            "No chats yet: start one with `%%haoee --chat NAME`.", "No chats yet: start one with %%haoee --chat NAME."
        )
        return
    rows = [(c.name, _count(c.turns, "turn"), _continues(c)) for c in state.session.chats.values()]
    state.show(
        "| chat | turns | continues from |\n|---|--:|---|\n" + "\n".join(f"| {n} | {t} | {i} |" for n, t, i in rows),
        "\n".join(f"{n}: {t}, continues from {i.replace('`', '')}" for n, t, i in rows),
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _continues(chat: Any) -> str:
    """What the chat's next turn builds on: the last answer's id (/v1/responses), or the messages
    it resends (the chat-completions wire has no such id)."""
    if chat.last_response_id:
        return f"`{chat.last_response_id}`"
    if chat.messages:
        return f"its {_count(len(chat.messages), 'message')} (resent each turn)"
    return "nothing yet"


@subcommand(argument("name", nargs="?", metavar="NAME", help="the chat to forget (all of them when left out)"))
def reset(state: ShellState, args: argparse.Namespace) -> None:
    """Forget one named chat, or all of them."""
    chats = state.session.chats
    if args.name is None:
        count = len(chats)
        chats.clear()
        print(f"Forgot {_count(count, 'chat')}.")
    elif args.name in chats:
        del chats[args.name]
        print(f"Forgot chat {args.name!r}; its next turn starts a new conversation.")
    else:
        raise UsageError(f"No chat named {args.name!r}; %haoee chats lists them")


@subcommand()
def error(state: ShellState, args: argparse.Namespace) -> None:
    """The full traceback of the last error, for when one line is not enough."""
    last = state.session.last_error
    if last is None:
        print("No error in this session.")
        return
    print("".join(traceback.format_exception(type(last), last, last.__traceback__)).rstrip())


@subcommand()
def help_(state: ShellState, args: argparse.Namespace) -> None:
    """This list: every subcommand and its arguments."""
    print(help_text())


# The call log and the cache (in ._recall, which imports the core, the display and the stores).
def _how_many(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"-n must be a whole number, 1 or more, not {text}")
    return value


deferred(
    "history",
    "._recall:history",
    "Recent calls of every session, from the persistent call log (haoee_jupyter.history() returns them).",
    argument("-n", type=_how_many, default=20, metavar="N", help="how many calls, newest first (default 20)"),
    argument("--search", metavar="TEXT", help="only calls whose prompt or answer holds this text (any case)"),
    argument("--model", metavar="M", help="only calls to this model"),
)
deferred(
    "rerun",
    "._recall:rerun",
    "Send a logged text call again (its exact request), shown and logged as a new call; an image or video "
    "cell runs again as a cell.",
    argument("id", metavar="ID", help="the call's id in %haoee history (12 or #12)"),
    argument("-m", "--model", metavar="MODEL", help="send it to this model instead of the one it went to"),
)
deferred(
    "cache",
    "._recall:cache",
    "The response cache: how many answers and bytes it holds, where, and whether it is on; clear empties it.",
    argument("action", nargs="?", choices=["clear"], metavar="clear", help="remove every cached answer"),
)


def help_text() -> str:
    """``%haoee help``: one line per subcommand (its usage and summary), its arguments below it."""
    from ._media_options import COMMANDS

    lines = [f"{'%%haoee [options]':34} ask: the cell is the prompt (%%haoee? lists every option)"]
    lines += [f"{'%%haoee ' + name + ' [options]':34} {command.summary}" for name, command in COMMANDS.items()]
    for command in SUBCOMMANDS.values():
        lines.append(f"{command.usage():34} {command.summary}")
        for flags, kwargs in command.arguments:
            lines.append(f"    {_argument_name(flags, kwargs):30} {kwargs.get('help', '')}")
    return "\n".join(lines)


def reference_markdown() -> str:
    """The subcommands as a Markdown table, for the README."""
    lines = ["| subcommand | what it does |", "|---|---|"]
    for command in SUBCOMMANDS.values():
        details = "".join(
            f"<br>`{_argument_name(flags, kwargs)}`: {kwargs.get('help', '')}" for flags, kwargs in command.arguments
        )
        cells = [f"`{command.usage()}`", command.summary + details]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def _argument_name(flags: tuple[str, ...], kwargs: dict[str, Any]) -> str:
    metavar = kwargs.get("metavar") or flags[0]
    return f"{flags[-1]} {metavar}" if flags[0].startswith("-") else metavar
