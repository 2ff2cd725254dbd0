"""``%haoee config``: the settings in effect and where each comes from (loaded when it runs)."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._state import ShellState


def config(state: ShellState, args: argparse.Namespace) -> None:
    """The settings in effect and where each comes from; the key masked."""
    from ..client import _settings
    from ..client._exceptions import HaoeeError, MissingAPIKeyError

    settings = state.settings
    # The values the client will use, resolved as the client resolves them.
    resolvers = {
        "model": _settings.resolve_model,
        "base_url": _settings.resolve_base_url,
        "api_key": _settings.resolve_api_key,
    }
    rows = []
    for name, resolver in resolvers.items():
        source = state.source(name)
        try:
            value = resolver(str(getattr(settings, name) or "") or None)
        except MissingAPIKeyError:
            rows.append((name, "", "not set: run %haoee key"))
            continue
        except HaoeeError as e:  # set, but unusable (a URL that is not http, a key no header can carry)
            rows.append((name, f"unusable: {e}", source))
            continue
        rows.append((name, _settings.mask(value) if name == "api_key" else value, source))
    configurable = set(settings.trait_names(config=True))
    for name in (name for name in vars(type(settings)) if name in configurable and name not in resolvers):
        rows.append((name, repr(getattr(settings, name)), state.source(name)))
    markdown = "| setting | value | from |\n|---|---|---|\n" + "\n".join(
        f"| {n} | {_code(v)} | {s} |" for n, v, s in rows
    )
    plain = "\n".join(f"{n:18} {v:40} {s}" for n, v, s in rows)
    state.show(markdown, plain)


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
