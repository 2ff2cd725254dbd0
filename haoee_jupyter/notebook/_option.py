"""One ``%%haoee`` option: what :class:`Option` declares, and the parsing helpers every table shares.

The tables themselves are in :mod:`._options` (the text cell) and :mod:`._media_options` (image
and video cells).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
from dataclasses import dataclass
from typing import Any

#: How an answer can be shown (``--format``, ``%config Haoee.format``); :mod:`._display` shows each.
FORMATS = ("markdown", "text", "code", "json", "html", "math")
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

    >>> from haoee_jupyter.notebook._options import OPTION
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


def unset_value(option: Option) -> Any:
    """An option's value when it was not given (a dataclass field for lists)."""
    if option.kind == "list":
        return dataclasses.field(default_factory=list)
    return False if option.kind == "switch" else None


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


def quote(value: str) -> str:
    """Shell quoting that :func:`split_line` reads back: "don't" rather than 'don'"'"'t'."""
    if "'" in value and not any(char in value for char in '"\\$`'):
        return f'"{value}"'
    return shlex.quote(value)


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
