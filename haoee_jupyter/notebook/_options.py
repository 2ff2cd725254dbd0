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
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._display import FORMATS

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")

#: What an option's text becomes. ``text`` is kept as given; ``switch`` is a flag (True when
#: present); ``toggle`` is ``--x`` / ``--no-x`` over a setting (None when neither is given);
#: ``list`` is a repeatable flag; ``size`` is ``WIDTHxHEIGHT`` (or one of its ``choices``, ``auto``).
KINDS = ("text", "number", "count", "choice", "name", "switch", "toggle", "list", "size")
_SIZE = re.compile(r"[1-9]\d{1,4}x[1-9]\d{1,4}")


class OptionError(ValueError):
    """A value that cannot be used; its message is one sentence naming the option."""


@dataclass(frozen=True)
class Option:
    """One ``%%haoee`` option.

    >>> OPTION["temperature"].convert("0.3")
    0.3
    """

    name: str  # the attribute of Options, the argparse dest, the form's field
    flags: tuple[str, ...]  # the short flag first, if there is one: Copy as cell writes flags[0]
    help: str
    kind: str = "text"
    metavar: str | None = None
    low: float | None = None  # the range of a number
    high: float | None = None
    choices: tuple[str, ...] = ()
    request: str | None = None  # the request body field it fills, for the reference
    trait: str | None = None  # the Haoee trait that gives the default
    widget: str | None = None  # combobox, textarea, text, wide-text, dropdown, checkbox; None: not in the form
    label: str | None = None  # the form's label, and the name its messages use there
    form_choices: tuple[str, ...] | None = None  # the dropdown's choices, when not all make sense there
    placeholder: str = ""
    empty_overrides: bool = False  # an empty value given on purpose replaces the setting (-i '')
    collect: str | None = None  # given twice or more, its values also go to this list option (-m a -m b)

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind

    @property
    def flag(self) -> str:
        """The long flag, as messages name the option."""
        return self.flags[-1]

    @property
    def every_flag(self) -> tuple[str, ...]:
        """Its flags, and a toggle's ``--no-`` form last."""
        return self.flags + (("--no-" + self.flag[2:],) if self.kind == "toggle" else ())

    def convert(self, text: str, name: str | None = None) -> Any:
        """The value of ``text``, or an OptionError; ``name`` is how the message names the option."""
        name = name or self.flag
        if self.kind == "number":
            try:
                value = float(text)
            except ValueError:
                raise OptionError(f"{name} must be a number from {self.low:g} to {self.high:g}, not {text!r}") from None
            if not self.low <= value <= self.high:  # type: ignore[operator]  # also refuses nan
                raise OptionError(f"{name} must be from {self.low:g} to {self.high:g}, not {text}")
            return value
        if self.kind == "count":
            try:
                count = int(text)
            except ValueError:
                raise OptionError(f"{name} must be a whole number, not {text!r}") from None
            if count < 1:
                raise OptionError(f"{name} must be 1 or more, not {text}")
            if self.high is not None and count > self.high:
                raise OptionError(f"{name} must be from 1 to {self.high:g}, not {text}")
            return count
        if self.kind == "size":
            if text.lower() in self.choices or _SIZE.fullmatch(text.lower()):
                return text.lower()
            also = "".join(f" or {choice}" for choice in self.choices)
            raise OptionError(f"{name} must be WIDTHxHEIGHT (e.g. 1024x1024){also}, not {text!r}")
        if self.kind == "choice":
            if text.lower() not in self.choices:
                raise OptionError(f"{name} must be one of {', '.join(self.choices)}, not {text!r}")
            return text.lower()
        if self.kind == "name":
            if not text.isidentifier():
                raise OptionError(f"{name} must be a Python variable name, not {text!r}")
            return text
        return text

    def add_to(self, add_argument: Any) -> None:
        """Declare this option with ``add_argument`` (an ArgumentParser's, or magic_arguments')."""
        add_argument(*self.flags, **self.argparse_kwargs())

    def argparse_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"dest": self.name, "help": self.help.replace("%", "%%")}
        if self.kind == "switch":
            return {**kwargs, "action": "store_true"}
        if self.kind == "toggle":
            return {**kwargs, "action": argparse.BooleanOptionalAction, "default": None}
        if self.kind == "list":
            kwargs.update(action="append", default=None)
        if self.collect:
            kwargs.update(action=_Collect, into=self.collect)
        if self.kind not in ("text", "list"):
            kwargs["type"] = self._argparse_type
        if self.metavar:
            kwargs["metavar"] = self.metavar
        return kwargs

    def _argparse_type(self, text: str) -> Any:
        try:
            return self.convert(text)
        except OptionError as e:
            raise argparse.ArgumentTypeError(str(e)) from None


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
        "Stream the answer as it is written (the default: %config Haoee.stream), or wait for all of it.",
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
        "Ask again even if the cache holds the answer, and replace the cached answer with the new one.",
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


class _Collect(argparse.Action):
    """A flag given again also collects its values into another option: ``-m a -m b`` is
    ``--models a,b`` (and ``-m`` keeps the last)."""

    def __init__(self, *args: Any, into: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.into = into

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        seen = [*getattr(namespace, "_seen_" + self.dest, []), values]
        setattr(namespace, "_seen_" + self.dest, seen)
        if len(seen) > 1:
            collected = getattr(namespace, self.into, None) or []
            setattr(namespace, self.into, [*collected, *(seen if len(seen) == 2 else seen[-1:])])
        setattr(namespace, self.dest, values)


#: The options the form shows, in the table's order.
FORM_OPTIONS = tuple(option for option in OPTIONS if option.widget)


def unset_value(option: Option) -> Any:
    """An option's value when it was not given (a dataclass field for lists)."""
    if option.kind == "list":
        return dataclasses.field(default_factory=list)
    return False if option.kind == "switch" else None


#: What a user asked for in one cell or form, converted and checked; None where nothing was
#: given (the setting applies). One field per row of OPTIONS.
Options = dataclasses.make_dataclass(
    "Options",
    [(option.name, Any, unset_value(option)) for option in OPTIONS],
    namespace={"__doc__": "What a user asked for, one field per option (None: not given; the setting applies)."},
)
Options.__module__ = __name__


def split_line(line: str) -> list[str]:
    """The words of a magic line: shell quoting, but backslashes kept (a Windows path such as
    ``C:\\me\\cat.png`` survives) and no comments (in ``-i C# -t 0`` the ``#`` is kept).

    >>> split_line("-i 'Be brief.' --image C:\\\\pics\\\\a.png")
    ['-i', 'Be brief.', '--image', 'C:\\\\pics\\\\a.png']
    """
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split, lexer.escape, lexer.commenters = True, "", ""
    try:
        return list(lexer)
    except ValueError as e:  # an unclosed quote
        raise OptionError(str(e)) from e


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


def _flag_words(option: Option, value: Any, settings: Any) -> list[str]:
    setting = getattr(settings, option.trait) if settings is not None and option.trait else None
    if option.kind == "switch":
        return [option.flag] if value else []
    if option.kind == "toggle":
        if value is None or (settings is not None and bool(value) == bool(setting)):
            return []
        return [option.flag] if value else [option.every_flag[-1]]
    if option.kind == "list":
        return [word for item in value or () for word in (option.flags[0], str(item))]
    if value is None:
        return []
    if option.kind == "choice" and settings is not None and value == setting:
        return []
    if value == "":
        return [option.flags[0], ""] if option.empty_overrides and setting else []
    text = repr(value) if isinstance(value, float) else str(value)
    return [option.flags[0], " ".join(text.splitlines())]


def quote(value: str) -> str:
    """Shell quoting that :func:`split_line` reads back: "don't" rather than 'don'"'"'t'."""
    if "'" in value and not any(char in value for char in '"\\$`'):
        return f'"{value}"'
    return shlex.quote(value)


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
