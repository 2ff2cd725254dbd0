"""``%haoee SUBCOMMAND``: config, key, usage, models, offline, form, chats, reset, error, help."""

from __future__ import annotations

import argparse
import getpass
import math
import os
import re
import traceback
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..client import _settings
from ..client._exceptions import HaoeeError, MissingAPIKeyError

if TYPE_CHECKING:
    from ._magics import Haoee


def config(magics: Haoee, args: list[str]) -> None:
    """The settings in effect and where each comes from; the key masked."""
    # The values the client will use come from _settings, the one place that resolves them.
    resolved = {
        "model": _settings.resolve_model,
        "base_url": _settings.resolve_base_url,
        "api_key": _settings.resolve_api_key,
    }
    rows = []
    for name, env in (("model", "HAOEE_MODEL"), ("base_url", "HAOEE_BASE_URL"), ("api_key", "HAOEE_API_KEY")):
        source = (
            "%config Haoee." + name
            if getattr(magics, name)
            else "$" + env
            if os.environ.get(env, "").strip()
            else "default"
        )
        if magics.offline_server is not None and name in ("base_url", "api_key"):
            source = "%haoee offline"
        try:
            value = resolved[name]()
        except MissingAPIKeyError:
            rows.append((name, "", "not set: run %haoee key"))
            continue
        except HaoeeError as e:  # set, but unusable (a URL that is not http, a key no header can carry)
            rows.append((name, f"unusable: {e}", source))
            continue
        rows.append((name, _settings.mask(value) if name == "api_key" else value, source))
    for name in (
        "instructions",
        "temperature",
        "max_output_tokens",
        "stream",
        "format",
        "timeout",
        "connect_timeout",
        "max_retries",
        "updates_per_second",
    ):
        rows.append((name, repr(getattr(magics, name)), "%config Haoee." + name))
    markdown = "| setting | value | from |\n|---|---|---|\n" + "\n".join(
        f"| {n} | {_code(v)} | {s} |" for n, v, s in rows
    )
    plain = "\n".join(f"{n:18} {v:40} {s}" for n, v, s in rows)
    magics._show(markdown, plain)


def _code(value: str) -> str:
    """A Markdown code span for a table cell, showing the value exactly.

    Not HTML-escaped (a code span would show the entities literally); a ``|`` would end the
    cell, so it is escaped as GFM tables allow; backticks in the value get a longer fence.
    """
    if not value:
        return ""
    value = " ".join(value.splitlines()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def key(magics: Haoee, args: list[str]) -> None:
    """Ask for the API key without echoing it; it is kept for this session only."""
    entered = getpass.getpass("Haoee API key (input hidden): ").strip()
    if not entered:
        print("No key entered; nothing changed.")
        return
    magics.api_key = entered
    print(f"Key set for this session ({_settings.mask(entered)}).")


def usage(magics: Haoee, args: list[str]) -> None:
    """A table of this session's calls and token totals."""
    table = magics.session.usage_table()
    magics._show(table, table)


def models(magics: Haoee, args: list[str]) -> None:
    """The models the server lists at /v1/models."""
    try:
        names = magics.client().models()
    except HaoeeError as e:
        if getattr(e, "status_code", None) in (404, 405):
            raise UsageError(
                f"This server does not list its models (/v1/models answered HTTP {e.status_code}); use -m with a model name you know"
            ) from e
        raise
    magics._show("\n".join(f"- `{name}`" for name in names) or "(the server listed no models)", "\n".join(names))


def offline(magics: Haoee, args: list[str]) -> None:
    """Start the offline demo server in this kernel and point the session at it."""
    parser = argparse.ArgumentParser(prog="%haoee offline", add_help=False, exit_on_error=False)
    parser.add_argument("action", nargs="?", choices=["start", "stop"], default="start")
    parser.add_argument("--latency-ms", type=float, default=None)
    try:
        options = parser.parse_args(args)
    except (argparse.ArgumentError, SystemExit) as e:
        raise UsageError("Usage: %haoee offline [--latency-ms N] | %haoee offline stop") from e
    if options.latency_ms is not None and not 0 <= options.latency_ms < math.inf:  # also nan
        raise UsageError(
            f"--latency-ms must be 0 or more (milliseconds between streamed tokens), not {options.latency_ms:g}"
        )
    if options.action == "stop":
        if magics.offline_server is None:
            print("The offline server is not running.")
            return
        magics.offline_server.stop()
        magics.offline_server = None
        magics.base_url, magics.api_key = magics._before_offline or ("", "")
        print("Offline server stopped; the session uses your own settings again.")
        return
    if magics.offline_server is None:
        from ..offline import OfflineServer

        magics._before_offline = (magics.base_url, str(magics.api_key or ""))
        magics.offline_server = OfflineServer(
            latency_ms=options.latency_ms if options.latency_ms is not None else 20
        ).start()
    elif options.latency_ms is not None:
        magics.offline_server.latency_ms = options.latency_ms
    magics.base_url, magics.api_key = magics.offline_server.url, "offline-demo"
    print(
        f"Offline demo server at {magics.offline_server.url} ({magics.offline_server.latency_ms:g} ms per token); "
        "this session now uses it, no key needed. `%haoee offline stop` goes back."
    )


def form(magics: Haoee, args: list[str]) -> Any:
    """Show the widget form."""
    from IPython.display import display

    from ._form import form as make_form

    display(make_form())


def chats(magics: Haoee, args: list[str]) -> None:
    """The named conversations of this session."""
    if not magics.session.chats:
        magics._show(
            "No chats yet: start one with `%%haoee --chat NAME`.", "No chats yet: start one with %%haoee --chat NAME."
        )
        return
    rows = [(c.name, c.turns, c.last_response_id or "") for c in magics.session.chats.values()]
    magics._show(
        "| chat | turns | last response |\n|---|--:|---|\n" + "\n".join(f"| {n} | {t} | `{i}` |" for n, t, i in rows),
        "\n".join(f"{n}: {t} turns, last {i}" for n, t, i in rows),
    )


def reset(magics: Haoee, args: list[str]) -> None:
    """Forget one named chat, or all of them."""
    if not args:
        count = len(magics.session.chats)
        magics.session.chats.clear()
        print(f"Forgot {count} chat(s).")
    elif args[0] in magics.session.chats:
        del magics.session.chats[args[0]]
        print(f"Forgot chat {args[0]!r}; its next turn starts a new conversation.")
    else:
        raise UsageError(f"No chat named {args[0]!r}; %haoee chats lists them")


def error(magics: Haoee, args: list[str]) -> None:
    """The full traceback of the last error, for when one line is not enough."""
    last = magics.session.last_error
    if last is None:
        print("No error in this session.")
        return
    print("".join(traceback.format_exception(type(last), last, last.__traceback__)).rstrip())


def help(magics: Haoee, args: list[str]) -> None:
    """This list."""
    from ._magics import SUBCOMMANDS  # the one list the magic dispatches on

    lines = ["%%haoee [options]   ask: the cell is the prompt (%%haoee? lists every option)"]
    lines += [f"%haoee {name:9} {globals()[name].__doc__.splitlines()[0]}" for name in SUBCOMMANDS]
    print("\n".join(lines))
