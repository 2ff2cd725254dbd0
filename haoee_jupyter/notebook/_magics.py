"""The ``%%haoee`` cell magic and the ``%haoee`` line magic, with settings as traits.

The magic is thin: its options come from the table in :mod:`._options`, the work from
:mod:`._core`, the subcommands from :mod:`._subcommands`, and what the shell holds from its
:class:`~._state.ShellState` (``Haoee.state``).

Loading it (``%load_ext haoee_jupyter``) imports only what registering the magic needs: the
traits, the option tables (for ``%%haoee?``), the subcommand registry and the shell state. The
core, the display, batches, comparisons, media cells, the call log and the cache are imported
by the first cell or subcommand that uses them.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import All, Bool, Enum, Float, Int, TraitError, Unicode, observe, validate

from ._media_options import COMMANDS as MEDIA_COMMANDS
from ._options import FORMATS, OPTION, OPTIONS, OptionError, from_namespace, split_line
from ._state import ShellState
from ._state import cell_number as _cell_number
from ._subcommands import SUBCOMMANDS, dispatch

if TYPE_CHECKING:
    from ._core import Prepared


class _Secret(str):
    """A key whose repr is masked, so `%config Haoee` and tracebacks never show it."""

    def __repr__(self) -> str:
        from ..client import _settings

        return repr(_settings.mask(self))


class SecretUnicode(Unicode):  # type: ignore[type-arg]
    def validate(self, obj: Any, value: Any) -> Any:
        value = super().validate(obj, value)
        return _Secret(value) if value else value


def _with_options(function: Any) -> Any:
    """The magic's parser from the option table: every row, in the table's order, in ``%%haoee?``."""
    for option in reversed(OPTIONS):  # magic_arguments adds the decorator nearest the function first
        function = argument(*option.flags, **option.argparse_kwargs())(function)
    lines = [f"        %haoee {command.usage().removeprefix('%haoee ')}" for command in SUBCOMMANDS.values()]
    function.__doc__ += "\n        Line magic (%haoee help says what each does):\n\n" + "\n".join(lines) + "\n"
    function = magic_arguments(name="%haoee")(function)  # its usage line reads %%haoee: the cell's options
    media = []
    for command in MEDIA_COMMANDS.values():  # %%haoee image / video: the options of their own tables
        media += ["", command.usage(), f"  {command.summary}"]
        media += [f"  {'/'.join(option.every_flag)}: {option.help}" for option in command.options]
    function.__doc__ += "\nImage and video cells:\n" + "\n".join(media) + "\n"
    return function


_TEMPERATURE = OPTION["temperature"]


@magics_class
class Haoee(Magics):
    """Magics for the Haoee MaaS Responses API. Settings: ``%config Haoee``."""

    model = Unicode("", help="Default model (empty: $HAOEE_MODEL, else gpt-4.1).").tag(config=True)
    api_key = SecretUnicode(
        "", help="API key (empty: $HAOEE_API_KEY). Prefer %haoee key, which does not leave the key in the notebook."
    ).tag(config=True)
    base_url = Unicode("", help="API base URL (empty: $HAOEE_BASE_URL, else https://maas.haoee.com/v1).").tag(
        config=True
    )
    instructions = Unicode("", help="Default system prompt (instructions) for every call; -i overrides it.").tag(
        config=True
    )
    temperature = Float(None, allow_none=True, help="Default temperature, 0 to 2 (None: the model's default).").tag(
        config=True
    )
    max_output_tokens = Int(None, allow_none=True, help="Default limit on output tokens (None: no limit).").tag(
        config=True
    )
    stream = Bool(True, help="Stream answers as they are written (--no-stream turns it off for one cell).").tag(
        config=True
    )
    format = Enum(list(FORMATS), "markdown", help="Default display format: " + ", ".join(FORMATS) + ".").tag(
        config=True
    )
    timeout = Float(120.0, help="Seconds to wait for the next bytes of an answer before giving up.").tag(config=True)
    connect_timeout = Float(10.0, help="Seconds to wait for a connection to the server.").tag(config=True)
    max_retries = Int(2, help="Retries on 429, 5xx and connection failures (never once an answer has begun).").tag(
        config=True
    )
    updates_per_second = Float(10.0, help="How often a streaming answer is re-rendered.").tag(config=True)
    cache = Bool(
        False,
        help="Answer a request identical to an earlier one (endpoint, model, input, parameters; never the key) "
        "from the local response cache under $HAOEE_HOME, sending nothing; --cache / --no-cache per cell.",
    ).tag(config=True)
    log = Bool(
        True,
        help="Keep every call in the persistent call log under $HAOEE_HOME (%haoee history); --no-log per cell.",
    ).tag(config=True)
    concurrency = Int(8, help="How many requests --over and --models send at once; --concurrency per cell.").tag(
        config=True
    )
    api = Enum(
        ["responses", "chat"],
        "responses",
        help="The wire for %%haoee cells: responses (POST /v1/responses) or chat (POST /v1/chat/completions, "
        "for models and relays that serve only that); --api overrides it per cell.",
    ).tag(config=True)
    image_model = Unicode("gpt-image-2", help="Default model of %%haoee image cells; -m overrides it.").tag(config=True)
    video_model = Unicode("sora-2", help="Default model of %%haoee video cells; -m overrides it.").tag(config=True)
    media_dir = Unicode(
        "haoee-media",
        help="Folder the images and videos of %%haoee image / video cells are saved in; a relative path is "
        "taken from the notebook's folder (the kernel's working directory).",
    ).tag(config=True)

    @validate("timeout", "connect_timeout", "updates_per_second")
    def _positive(self, proposal: Any) -> float:
        if not proposal["value"] > 0:  # also refuses nan
            raise TraitError(f"Haoee.{proposal['trait'].name} must be a number more than 0, not {proposal['value']}")
        return float(proposal["value"])

    @validate("image_model", "video_model", "media_dir")
    def _not_blank(self, proposal: Any) -> str:
        value, name = str(proposal["value"]).strip(), proposal["trait"].name
        if not value:
            what = "a folder" if name == "media_dir" else "a model name"
            raise TraitError(f"Haoee.{name} must be {what}, not empty")
        return value

    @validate("temperature")
    def _temperature(self, proposal: Any) -> float | None:
        value = proposal["value"]
        if value is not None and not _TEMPERATURE.low <= value <= _TEMPERATURE.high:
            raise TraitError(
                f"Haoee.temperature must be from {_TEMPERATURE.low:g} to {_TEMPERATURE.high:g} (or None for the model's default), not {value}"
            )
        return value  # type: ignore[no-any-return]

    @validate("max_output_tokens", "max_retries", "concurrency")
    def _counts(self, proposal: Any) -> int | None:
        value, name = proposal["value"], proposal["trait"].name
        least = 0 if name == "max_retries" else 1
        if value is not None and value < least:
            raise TraitError(f"Haoee.{name} must be {least} or more, not {value}")
        high = OPTION["concurrency"].high
        if name == "concurrency" and high is not None and value > high:
            raise TraitError(f"Haoee.concurrency must be from 1 to {high:g}, not {value}")
        return value  # type: ignore[no-any-return]

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        # Before super().__init__, whose loading of config (c.Haoee.* in ipython_config.py)
        # already reports changes to the state.
        self.state = ShellState(self, shell)
        super().__init__(shell=shell, **kwargs)

    @observe(All)
    def _setting_changed(self, change: Any) -> None:
        if change["name"] in self.trait_names(config=True):
            self.state.setting_changed(change["name"])

    @property
    def namespace(self) -> dict[str, Any]:
        return self.state.namespace

    # --- the magic ------------------------------------------------------------------------
    @no_var_expand  # {name} in -i is filled by the magic, as in the cell (not with --raw)
    @_with_options
    @line_cell_magic
    def haoee(self, line: str, cell: str | None = None) -> Any:
        """Send the cell to the Haoee Responses API and show the answer as it streams.

        In the cell, {name}, {obj.attr}, {d['key']}, {In[3]}, {Out[3]} and {df.head()} are
        filled from the notebook. Braces inside Markdown code (``` or ~~~ blocks, `inline` code)
        are never filled, nor are other braces (JSON, LaTeX); {{name}} is a literal {name}.
        After each call: haoee_response, haoee_usage and haoee_usage_total hold the answer,
        its token usage and the session's running total.
        """
        if cell is None:
            return dispatch(self.state, self._expand(line))
        first, *rest = line.split(maxsplit=1) or [""]
        if first in MEDIA_COMMANDS:  # %%haoee image ... / %%haoee video ...: their own options
            from ._media import media_cell

            command = MEDIA_COMMANDS[first]
            return media_cell(self.state, command, "".join(rest), cell, cell_number=_cell_number(self.shell))
        return self._ask(line, cell)

    def _expand(self, line: str) -> str:
        """A subcommand's line with ``{name}`` / ``$name`` filled as IPython fills any line magic's
        (``%haoee rerun {call_id}``); no_var_expand above is for the cell magic's own filling."""
        if self.shell is None:
            return line
        from IPython.utils.text import DollarFormatter

        try:
            return DollarFormatter().vformat(line, args=[], kwargs=self.shell.user_ns)
        except Exception:  # as IPython does: a line it cannot fill is passed on as written
            return line

    def _parse(self, line: str) -> Any:
        try:
            words = split_line(line)
            return from_namespace(self.haoee.parser.parse_args(words))  # type: ignore[attr-defined]
        except (UsageError, OptionError) as e:
            message = re.sub(r"^argument [^:]+: (?=-)", "", str(e))  # our own sentence names the option
            raise UsageError(f"{message} (see %%haoee? for all options)") from e

    def _ask(self, line: str, cell: str) -> None:
        from ._core import AnswerError, EmptyPromptError, Interrupted, PrepareError, answer_value, prepare, run
        from ._display import NotebookView, TerminalView, extract_code, in_terminal
        from ._scale import scale_cell, scale_models

        options = self._parse(line)
        models = scale_models(options, self.state)  # refuses flags that do nothing here
        if options.over or len(models) > 1:  # a batch, or models side by side
            return scale_cell(cell, options, self.state, models, cell=_cell_number(self.shell))
        options = dataclasses.replace(
            options, model=options.model or (models[0] if options.models else None), models=[]
        )
        try:
            prepared = prepare(cell, options, self.state)
        except EmptyPromptError:
            raise UsageError("The cell is empty: write your prompt on the lines below %%haoee") from None
        except PrepareError as e:
            raise UsageError(str(e)) from e
        if options.dry_run:
            return self._show_request(prepared)
        view = TerminalView(prepared.format) if in_terminal(self.shell) else NotebookView(prepared.format)
        out = options.out
        try:
            call = run(prepared, self.state, view, cell=_cell_number(self.shell))
        except Interrupted as stop:
            if out and stop.call.text:
                self.namespace[out] = stop.call.text
            raise
        if out and (call.text or call.error is None):  # a failure with nothing received leaves it as it was
            self.namespace[out] = call.text
        if call.error is not None:
            raise call.error
        code = extract_code(call.text) if prepared.format == "code" else ""
        if code and self.shell is not None:  # the next cell, replaced on the next run (JupyterLab)
            from ._next_cell import place_code

            place_code(self.shell, code, _cell_number(self.shell))
        try:
            value = answer_value(call, prepared, kept_in=out)
        except AnswerError as e:
            raise UsageError(str(e)) from e
        if out:
            self.namespace[out] = value
        return None

    def _show_request(self, prepared: Prepared) -> None:
        # No line of it is only backticks (JSON strings escape line breaks), so a ``` fence holds it.
        from ._dry_run import request_text

        text = request_text(prepared, self.state)
        self.state.show(
            f"**Dry run: nothing was sent.**\n\n```http\n{text}\n```", f"Dry run: nothing was sent.\n{text}"
        )


def load(ipython: Any) -> None:
    ipython.register_magics(Haoee(shell=ipython))


def unload(ipython: Any) -> None:
    """Leave no trace: no magic, no offline server, no open client. Nothing global was set, so
    a plain ``Client()`` reads its arguments and the environment as before."""
    magics = ipython.magics_manager.registry.pop("Haoee", None)
    if magics is None:
        return
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("haoee", None)
    magics.state.close()
