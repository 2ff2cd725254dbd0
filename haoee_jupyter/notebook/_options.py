"""Every ``%%haoee`` option, declared once.

Each row of :data:`OPTIONS` says what an option is: its flags, how its text is converted and
checked (with the sentence shown when it is wrong), its help, the request field it fills, the
form's widget for it (or none), and the ``%config Haoee.<trait>`` that gives its default. From
this one table come the magic's parser (so ``%%haoee?`` lists every option), the
:class:`Options` the core receives, the form's fields, "Copy as cell" (:func:`cell_line`) and the
README's reference (:func:`reference_markdown`).

To add an option, add a row here and use its value where it takes effect (usually
:func:`haoee_jupyter.notebook._core.prepare`); the parser, the form, Copy as cell and the
reference follow. Never add a row for an option that nothing reads yet.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from typing import Any

from ._option import (  # noqa: F401 - the names users of a table need, in one place
    FORMATS,
    KINDS,
    REASONING_EFFORTS,
    Option,
    OptionError,
    _Collect,
    _flag_words,
    quote,
    split_line,
    unset_value,
)

#: The table, in the order of ``%%haoee?``, the form and Copy as cell.
OPTIONS: tuple[Option, ...] = (
    Option(
        "model",
        ("-m", "--model"),
        "Model to use (default: %config Haoee.model, $HAOEE_MODEL, gpt-4.1); given more than once, the "
        "models are compared side by side as with --models.",
        metavar="NAME",
        request="model",
        trait="model",
        collect="models",
        widget="combobox",
        label="Model",
        placeholder="a model name",
    ),
    Option(
        "instructions",
        ("-i", "--instructions"),
        "System prompt for this cell; {name} is filled as in the cell.",
        metavar="TEXT",
        request="instructions",
        trait="instructions",
        widget="textarea",
        label="Instructions",
        placeholder="optional system prompt",
        empty_overrides=True,
    ),
    Option(
        "temperature",
        ("-t", "--temperature"),
        "Sampling temperature, 0 to 2.",
        kind="number",
        metavar="T",
        low=0,
        high=2,
        request="temperature",
        trait="temperature",
        widget="text",
        label="Temperature",
        placeholder="default",
    ),
    Option(
        "top_p",
        ("--top-p",),
        "Nucleus sampling, 0 to 1.",
        kind="number",
        metavar="P",
        low=0,
        high=1,
        request="top_p",
        widget="text",
        label="Top-p",
        placeholder="default",
    ),
    Option(
        "max_tokens",
        ("--max-tokens",),
        "Limit the answer to this many tokens (max_output_tokens); a cut answer is kept and marked incomplete.",
        kind="count",
        metavar="N",
        request="max_output_tokens",
        trait="max_output_tokens",
        widget="text",
        label="Max tokens",
        placeholder="no limit",
    ),
    Option(
        "reasoning",
        ("--reasoning",),
        "Reasoning effort: " + ", ".join(REASONING_EFFORTS) + "; also asks for a reasoning summary.",
        kind="choice",
        metavar="EFFORT",
        choices=REASONING_EFFORTS,
        request="reasoning",
        widget="dropdown",
        label="Reasoning",
    ),
    Option(
        "web",
        ("--web",),
        "Let the model search the web; its sources are listed under the answer.",
        kind="switch",
        request="tools",
        widget="checkbox",
        label="Web search",
    ),
    Option(
        "stream",
        ("--stream",),
        "Stream the answer as it is written (the default: %config Haoee.stream), or wait for all of it "
        "(a batch never streams: it shows its progress).",
        kind="toggle",
        request="stream",
        trait="stream",
        widget="checkbox",
        label="Stream",
    ),
    Option(
        "out",
        ("-o", "--out"),
        "Store the answer (text, or the parsed object for json/--schema) in this variable.",
        kind="name",
        metavar="NAME",
    ),
    Option(
        "format",
        ("-f", "--format"),
        "markdown (default), text, code (puts the code into the next cell), json (parses it), html, math.",
        kind="choice",
        metavar="FORMAT",
        choices=FORMATS,
        trait="format",
        widget="dropdown",
        label="Format",
        form_choices=tuple(f for f in FORMATS if f != "code"),  # a form cannot put code into a cell
    ),
    Option(
        "schema",
        ("--schema",),
        "A JSON Schema dict or pydantic model in the namespace: structured output, parsed into --out.",
        metavar="NAME",
        request="text.format",
        widget="text",
        label="Schema",
        placeholder="a variable",
    ),
    Option(
        "images",
        ("--image",),
        "Attach an image (file, URL, PIL image or matplotlib figure variable); repeatable.",
        kind="list",
        metavar="PATH|URL|NAME",
        request="input",
        widget="wide-text",
        label="Images",
        placeholder="files, URLs or variable names, separated by spaces",
    ),
    Option(
        "chat",
        ("--chat",),
        "Continue the named conversation (see %haoee chats, %haoee reset NAME).",
        kind="name",
        metavar="NAME",
        request="previous_response_id",
        widget="text",
        label="Chat",
        placeholder="a name",
    ),
    Option(
        "api",
        ("--api",),
        "The wire: responses (POST /v1/responses, the default: %config Haoee.api) or chat "
        "(POST /v1/chat/completions, for models and relays that serve only that; a --chat conversation "
        "then keeps its messages in the notebook and resends them).",
        kind="choice",
        metavar="responses|chat",
        choices=("responses", "chat"),
        trait="api",
        widget="dropdown",
        label="API",
    ),
    Option(
        "models",
        ("--models",),
        "Send the same prompt to several models at once, shown side by side (or -m given for each); "
        "haoee_responses and --out hold a dict by model.",
        kind="list",
        metavar="A,B,...",
        request="model",
    ),
    Option(
        "over",
        ("--over",),
        "Run the cell once per item of this list, Series or DataFrame: {item} is the item, {index} its "
        "index, a DataFrame's columns are {title} and {row.title}; the results go to --out (a list, or a "
        "copy of the DataFrame with an answer column).",
        kind="name",
        metavar="NAME",
    ),
    Option(
        "concurrency",
        ("--concurrency",),
        "How many requests --over and --models send at once (default: %config Haoee.concurrency).",
        kind="count",
        metavar="N",
        high=256,
        trait="concurrency",
    ),
    Option(
        "column",
        ("--column",),
        "The DataFrame column --over puts the answers in (default: answer).",
        metavar="NAME",
    ),
    Option(
        "retry_failed",
        ("--retry-failed",),
        "With --over: run only the rows that failed or never ran in the last result (--out), keep the rest.",
        kind="switch",
    ),
    Option(
        "cache",
        ("--cache",),
        "Answer an identical earlier request from the local response cache, sending nothing "
        "(default: %config Haoee.cache); the footer says cached.",
        kind="toggle",
        trait="cache",
    ),
    Option(
        "refresh",
        ("--refresh",),
        "Ask again even if the cache holds the answer, and replace the cached answer with the new one "
        "(this cell uses the cache even when it is off).",
        kind="switch",
    ),
    Option(
        "log",
        ("--log",),
        "Keep this call in the persistent call log (default: %config Haoee.log; --no-log for a cell "
        "whose prompt should not be kept); %haoee history lists it.",
        kind="toggle",
        trait="log",
    ),
    Option("raw", ("--raw",), "Send the cell as is, without filling {variables}.", kind="switch"),
    Option(
        "dry_run",
        ("--dry-run",),
        "Show the exact request that would be sent (key masked) and send nothing.",
        kind="switch",
    ),
)

OPTION = {option.name: option for option in OPTIONS}


#: The options the form shows, in the table's order.
FORM_OPTIONS = tuple(option for option in OPTIONS if option.widget)


#: What a user asked for in one cell or form, converted and checked; None where nothing was
#: given (the setting applies). One field per row of OPTIONS.
Options = dataclasses.make_dataclass(
    "Options",
    [(option.name, Any, unset_value(option)) for option in OPTIONS],
    namespace={"__doc__": "What a user asked for, one field per option (None: not given; the setting applies)."},
)
Options.__module__ = __name__


def from_namespace(args: argparse.Namespace, table: tuple[Option, ...] = OPTIONS, cls: Any = None) -> Any:
    """The Options of a parsed magic line (``table`` and ``cls``: another command's, see :class:`Command`)."""
    values = {option.name: getattr(args, option.name) for option in table}
    for option in table:
        if option.kind == "list" and values[option.name] is None:
            values[option.name] = []
    return (cls or Options)(**values)


def resolve(options: Any, settings: Any, table: tuple[Option, ...] = OPTIONS) -> Any:
    """The options with each setting's value where the user gave none (``-i ''`` stays empty)."""
    values = {}
    for option in table:
        value = getattr(options, option.name)
        if value is None and option.trait is not None:
            value = getattr(settings, option.trait)
            if option.kind in ("text", "choice", "size"):
                value = str(value) if value else None
        values[option.name] = value
    return type(options)(**values)


def cell_line(options: Any, settings: Any = None) -> str:
    """The ``%%haoee`` line that asks for these options (Copy as cell).

    A value equal to the setting it would fall back to is left out for choices and toggles;
    a line break in a value becomes a space, since the magic line cannot hold one.

    >>> cell_line(Options(model="gpt-5.2", temperature=0.5, web=True))
    '%%haoee -m gpt-5.2 -t 0.5 --web'
    """
    words = ["%%haoee"]
    for option in OPTIONS:
        words += _flag_words(option, getattr(options, option.name), settings)
    return " ".join(words[:1] + [quote(word) for word in words[1:]])


def all_flags(options: Iterable[Option] = OPTIONS) -> list[str]:
    """Every flag the magic accepts, with the ``--no-`` form of toggles."""
    return [flag for option in options for flag in option.every_flag]


def reference_markdown(table: tuple[Option, ...] = OPTIONS) -> str:
    """The options as a Markdown table, for the README (``%%haoee?`` prints the same help).

    >>> print(reference_markdown().splitlines()[0])
    | option | what it does | sent as | default | form |
    """
    lines = ["| option | what it does | sent as | default | form |", "|---|---|---|---|---|"]
    for option in table:
        flags = "/".join(option.every_flag)
        usage = f"`{flags} {option.metavar}`" if option.metavar else f"`{flags}`"
        cells = [
            usage.replace("|", "\\|"),
            option.help.replace("|", "\\|"),
            f"`{option.request}`" if option.request else "",
            f"`%config Haoee.{option.trait}`" if option.trait else "",
            option.label if option.widget else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
