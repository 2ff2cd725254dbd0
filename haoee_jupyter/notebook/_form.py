"""The ipywidgets form: the same options, request, run path, variables and call log as ``%%haoee``.

    >>> import haoee_jupyter
    >>> f = haoee_jupyter.form(model="gpt-4.1", prompt="Explain entropy", temperature=0.3)
    >>> f                      # in a notebook: fill it in, press Run; Stop keeps the partial text
    >>> f.cell_text()          # the equivalent %%haoee cell
    '%%haoee -m gpt-4.1 -t 0.3\\nExplain entropy'

Its fields are the options of the table in :mod:`._options` that have a widget, plus the prompt.
A request runs as a task on the kernel's event loop, so other cells can run while it streams;
meanwhile Run reads "Running…" and only Stop can be pressed. The answer streams into a box of
Output widgets as a cell's does, finished pieces frozen and only the open tail updated
(:class:`._form_status.WidgetView`). Under it one status line says how it went; a value that
cannot be sent is said next to Run.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import uuid
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from ..client import _settings
from ._copy_script import COPY_SCRIPT
from ._core import AnswerError, EmptyPromptError, Prepared, PrepareError, answer_value, arun, prepare
from ._form_status import CSS, STOPPED, STOPPED_EMPTY, AnswerBox, WidgetView, status_html
from ._options import FORM_OPTIONS, Option, OptionError, Options, cell_line, quote, split_line
from ._session import Call
from ._state import ShellState, state_for

__all__ = ["STOPPED", "Form", "WidgetView", "form"]

KNOWN_MODELS = ("gpt-4.1", "gpt-5.2", "gpt-5.4", "deepseek-v4-flash", "qwen3-max", "claude-sonnet-4-6", "glm-4.7")
#: What form() takes: the prompt, and every option that has a widget.
FIELDS = ("prompt", *(option.name for option in FORM_OPTIONS))
PASTE_NOTE = "Paste this into a new cell:"


class FormError(Exception):
    """A value in the form that cannot be sent; its message is shown next to Run."""


def _guarded(method: Callable[[Form], Any]) -> Callable[..., None]:
    """A button callback whose failures are said next to Run, not in the kernel's log."""

    @functools.wraps(method)
    def callback(self: Form, *_: Any) -> None:
        try:
            method(self)
        except FormError as e:
            self.show_error(str(e))
        except Exception as e:  # a bug: still say so where the user is looking
            self.state.session.last_error = e
            self.show_error(f"The form failed ({type(e).__name__}: {e}); %haoee error shows the details.")

    return callback


class Form(widgets.VBox):  # type: ignore[misc]
    """A prompt form over the ``%%haoee`` machinery. Make one with :func:`form`.

    Parts: one widget per option (``.model``, ``.instructions``, ``.temperature``, ``.top_p``,
    ``.max_tokens``, ``.reasoning``, ``.web``, ``.stream``, ``.format``, ``.schema``, ``.images``,
    ``.chat``), ``.prompt``, ``.run_button``, ``.stop_button``, ``.copy_button``, ``.error_line``
    (beside the buttons: what keeps Run from sending), ``.answer`` (an ``AnswerBox`` of Output
    widgets, one per piece while the answer streams, one after; its ``.outputs`` is what they
    show) and ``.status_line`` under it (model, tokens, time, the session's total; a Stop; the
    call's error). ``.task`` is the running request (an asyncio Task) or None, ``.last_call``
    the last finished :class:`~haoee_jupyter.notebook._session.Call`.

    >>> f = form(prompt="Say hi")
    >>> f.run_button.click()   # from a running event loop (a kernel), as the button does
    """

    def __init__(self, state: ShellState, **defaults: Any) -> None:
        unknown = sorted(set(defaults) - set(FIELDS))
        if unknown:
            raise TypeError(
                f"form() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; valid ones are: {', '.join(FIELDS)}"
            )
        self.state = state
        self.task: asyncio.Task[Call] | None = None
        self.last_call: Call | None = None
        for option in FORM_OPTIONS:
            setattr(self, option.name, _widget(option, defaults.get(option.name), state.settings))
        self.prompt = widgets.Textarea(
            value=str(defaults.get("prompt") or ""),
            description="Prompt",
            placeholder="Ask something; {name} is filled from the notebook",
            rows=5,
            style=_label(),
            layout=_wide(),
        )
        self.run_button = widgets.Button(
            description="Run", button_style="primary", icon="play", tooltip="Send the prompt"
        )
        self.stop_button = widgets.Button(
            description="Stop", icon="stop", disabled=True, tooltip="Stop the answer; the partial text is kept"
        )
        self.copy_button = widgets.Button(
            description="Copy as cell", icon="copy", tooltip="The equivalent %%haoee cell, added below"
        )
        self.answer = AnswerBox()
        self.status_line = widgets.HTML(layout=widgets.Layout(display="none"))
        self.error_line = widgets.HTML(layout=widgets.Layout(display="none", flex="1 1 14em"))  # beside Run
        self.copy_note = widgets.HTML()
        self.copy_text = widgets.Textarea(rows=4, layout=_wide())
        self.copy_box = widgets.VBox([self.copy_note, self.copy_text], layout=widgets.Layout(display="none"))
        self._script = widgets.Output(layout=widgets.Layout(display="none"))  # runs Copy's JavaScript
        self._style = widgets.HTML(CSS, layout=widgets.Layout(display="none"))  # a <style> applies hidden too

        parts = [option.name for option in FORM_OPTIONS] + ["prompt", "run_button", "stop_button", "copy_button"]
        for name in [*parts, "answer", "status_line", "error_line", "copy_note", "copy_text"]:
            # stable hooks for CSS, tests and the Copy script: haoee-prompt, haoee-run, haoee-copy-note...
            getattr(self, name).add_class(
                "haoee-" + name.removesuffix("_button").removesuffix("_line").replace("_", "-")
            )
        self.run_button.on_click(self._on_run)
        self.stop_button.on_click(self._on_stop)
        self.copy_button.on_click(self._on_copy)
        rows = [getattr(self, o.name) for o in FORM_OPTIONS if o.widget in ("combobox", "textarea")]
        small = [getattr(self, o.name) for o in FORM_OPTIONS if o.widget in ("text", "dropdown")]
        small += [getattr(self, o.name) for o in FORM_OPTIONS if o.widget == "checkbox"]
        settings = widgets.HBox(
            small, layout=widgets.Layout(flex_flow="row wrap", align_items="center", grid_gap="0.2em 1.5em")
        )
        wide = [getattr(self, o.name) for o in FORM_OPTIONS if o.widget == "wide-text"]
        self.button_row = widgets.HBox(
            [self.run_button, self.stop_button, self.copy_button, self.error_line],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        super().__init__(
            [*rows, self.prompt, settings, *wide, self.button_row]
            + [self.answer, self.status_line, self.copy_box, self._script, self._style],
            layout=widgets.Layout(width="100%", max_width="60em"),
        )
        self.add_class("haoee-form")

    # --- what the buttons do ----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def options(self) -> Any:
        """The :class:`~haoee_jupyter.notebook._options.Options` the fields ask for; FormError if one is bad."""
        return Options(**{option.name: self._value(option) for option in FORM_OPTIONS})

    def _value(self, option: Option) -> Any:
        value = getattr(self, option.name).value
        if option.widget == "checkbox":
            return bool(value)
        if option.widget == "dropdown":
            return value or None
        text = str(value).strip()
        try:
            if option.kind == "list":
                return split_line(text)
            if not text:
                setting = getattr(self.state.settings, option.trait) if option.trait else None
                return "" if option.empty_overrides and setting else None
            return option.convert(text, option.label)
        except OptionError as e:
            raise FormError(f"{e}; fix it and press Run again.") from e

    def prepare(self) -> Prepared:
        """The request the form would send (FormError if a value is bad), as the magic prepares it."""
        try:
            return prepare(self.prompt.value, self.options(), self.state)
        except EmptyPromptError:
            raise FormError("The prompt is empty: write it in the Prompt box, then press Run.") from None
        except PrepareError as e:
            raise FormError(str(e)) from e

    def run(self) -> asyncio.Task[Call] | None:
        """Start a request on the running event loop (the kernel's); what Run does."""
        if self.running:
            return self.task
        self.show_error("")
        prepared = self.prepare()  # FormError: said next to Run, the answer from before dimmed
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise FormError(
                "Run needs a running event loop, as in a Jupyter kernel; in plain Python use haoee_jupyter.Client instead."
            ) from None
        _set_line(self.status_line, "")
        self._set_stale(False)
        self.task = loop.create_task(self._request(prepared))
        self.task.add_done_callback(self._after)
        self._set_running(True)
        return self.task

    def stop(self) -> None:
        """Cancel the running request; the text so far stays, the call is marked interrupted."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def _request(self, prepared: Prepared) -> Call:
        call = await arun(prepared, self.state, WidgetView(self.answer, prepared.format), source="form")
        self.last_call = call
        self._set_running(False)
        self._show_call(call, prepared)
        return call

    def _after(self, task: asyncio.Task[Call]) -> None:
        # Runs after the task: the normal ending is shown by _request; this catches the others.
        if task is self.task:
            self._set_running(False)
        if task.cancelled():  # cancelled before the request had started
            _set_line(self.status_line, f'<span class="haoee-stopped">{html.escape(STOPPED_EMPTY)}</span>')
        elif task.exception() is not None:
            error = task.exception()
            self.state.session.last_error = error
            self.show_error(f"The form failed ({type(error).__name__}: {error}); %haoee error shows the details.")

    def _show_call(self, call: Call, prepared: Prepared) -> None:
        problem = None
        if not call.interrupted and call.error is None:
            try:
                answer_value(call, prepared)  # -f json and --schema: say so when the answer is not that
            except AnswerError as e:
                problem = str(e)
        _set_line(self.status_line, status_html(call, self.state.session.total, problem))

    def _set_running(self, running: bool) -> None:
        """Busy or not, on the form itself: Run reads "Running…" with a turning icon, Stop is enabled."""
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self.run_button.description = "Running…" if running else "Run"
        self.run_button.icon = "spinner" if running else "play"
        (self.run_button.add_class if running else self.run_button.remove_class)("haoee-busy")

    def _set_stale(self, stale: bool) -> None:
        """Dim the answer and status line left from before, while a message beside Run is not about them."""
        for part in (self.answer, self.status_line):
            (part.add_class if stale else part.remove_class)("haoee-stale")

    def show_error(self, message: str) -> None:
        """Say next to Run why nothing was sent (an empty message clears it); the answer from
        before, if any, is dimmed meanwhile."""
        _set_line(self.error_line, html.escape(message))
        self._set_stale(bool(message) and bool(self.answer.children))

    # --- Copy as cell -----------------------------------------------------------------------
    def cell_text(self) -> str:
        """The ``%%haoee`` cell that sends what the form would send.

        Instructions go on the magic line, where a line break cannot go: it becomes a space.
        """
        return cell_line(self.options(), self.state.settings) + "\n" + str(self.prompt.value)

    def copy_as_cell(self) -> str:
        """Show the cell text under the form, and ask the browser to add it as a new cell below.

        A button click reaches the kernel as a comm message, where ``set_next_input`` has no
        effect; so a one-shot script (a trusted output of the form's own Output widget) inserts
        the cell in JupyterLab and says so, else copies the text to the clipboard. Where scripts
        do not run, the selectable text and its note remain.
        """
        text = self.cell_text()
        self.copy_text.value = text
        self.copy_note.value = html.escape(PASTE_NOTE)
        self.copy_box.layout.display = ""
        script = f"const nonce = {json.dumps(uuid.uuid4().hex)}, text = {json.dumps(text)};{COPY_SCRIPT}"
        self._script.outputs = (
            {
                "output_type": "display_data",
                "data": {"application/javascript": script, "text/plain": ""},
                "metadata": {},
            },
        )
        try:  # so that re-rendering the widget later (a page reload) does not run it again
            asyncio.get_running_loop().call_later(3.0, self._clear_script)
        except RuntimeError:
            pass
        return text

    def _clear_script(self) -> None:
        self._script.outputs = ()

    _on_run = _guarded(run)
    _on_stop = _guarded(stop)
    _on_copy = _guarded(copy_as_cell)


def form(**defaults: Any) -> Form:
    """The prompt form for this notebook (``%haoee form`` displays one).

    ``defaults`` pre-fill it: ``prompt`` and any option of ``%%haoee`` the form has (``model``,
    ``instructions``, ``temperature``, ``top_p``, ``max_tokens``, ``reasoning``, ``web``,
    ``stream``, ``format``, ``schema``, ``images``, ``chat``). It shares the session of
    ``%%haoee``: settings, chats, the call log (``source="form"``) and ``haoee_response`` /
    ``haoee_usage`` / ``haoee_usage_total``.

    >>> form(model="qwen3-max", prompt="Summarize {topic} in three bullets", web=True)
    """
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    if shell is None:
        raise RuntimeError("haoee_jupyter.form() runs in Jupyter or IPython; in plain Python use haoee_jupyter.Client")
    return Form(state_for(shell), **defaults)


def _widget(option: Option, given: Any, settings: Any) -> widgets.Widget:
    """The option's widget, holding ``given`` or else the setting it falls back to."""
    setting = getattr(settings, option.trait) if option.trait else None
    value = given if given is not None else setting
    common = {"description": option.label, "style": _label()}
    if option.widget == "checkbox":
        return widgets.Checkbox(value=bool(value), indent=False, layout=widgets.Layout(width="auto"), **common)
    if option.widget == "dropdown":
        choices = option.form_choices or option.choices
        value = str(value).lower() if value else ""
        if option.trait:  # a setting always has a value: the dropdown shows it
            return widgets.Dropdown(options=list(choices), value=value if value in choices else choices[0], **common)
        labelled = [("default", ""), *((choice, choice) for choice in choices)]
        return widgets.Dropdown(options=labelled, value=value if value in choices else "", **common)
    if option.widget == "combobox":  # the model
        model = str(given or "") or _settings.resolve_model(str(setting or "") or None)
        models = KNOWN_MODELS if model in KNOWN_MODELS else (model, *KNOWN_MODELS)
        return widgets.Combobox(
            value=model, options=list(models), ensure_option=False, placeholder=option.placeholder, **common
        )
    if option.kind == "list":
        items = [given] if isinstance(given, str) else list(given or ())
        return widgets.Text(
            value=" ".join(quote(str(item)) for item in items), placeholder=option.placeholder, layout=_wide(), **common
        )
    text = "" if value is None else str(value)
    if option.widget == "textarea":
        return widgets.Textarea(value=text, placeholder=option.placeholder, rows=2, layout=_wide(), **common)
    # Text rather than sliders: empty means the default, and a bad value gets a message
    return widgets.Text(value=text, placeholder=option.placeholder, layout=widgets.Layout(width="16em"), **common)


def _set_line(line: widgets.HTML, value: str) -> None:
    """An empty line takes no room."""
    line.value = value
    line.layout.display = "" if value else "none"


def _label() -> dict[str, str]:
    return {"description_width": "7em"}


def _wide() -> widgets.Layout:
    return widgets.Layout(width="100%")
