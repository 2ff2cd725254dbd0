"""The ipywidgets form: the same request, run path, variables and call log as ``%%haoee``.

    >>> import haoee_jupyter
    >>> f = haoee_jupyter.form(model="gpt-4.1", prompt="Explain entropy", temperature=0.3)
    >>> f                      # in a notebook: fill it in, press Run; Stop keeps the partial text
    >>> f.cell_text()          # the equivalent %%haoee cell
    '%%haoee -m gpt-4.1 -t 0.3\\nExplain entropy'

A request runs as a task on the kernel's event loop, so other cells can run while it streams.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import html
import json
import shlex
import uuid
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from ..client import _settings
from ._core import Options, arun, build_body
from ._display import call_bundle
from ._interpolate import InterpolationError, interpolate
from ._magics import Haoee, _number, _whole_number, magics_for
from ._session import Call

__all__ = ["Form", "OutputView", "form"]

KNOWN_MODELS = ("gpt-4.1", "gpt-5.2", "gpt-5.4", "deepseek-v4-flash", "qwen3-max", "claude-sonnet-4-6", "glm-4.7")
FIELDS = ("model", "instructions", "prompt", "temperature", "max_tokens", "web", "stream")
STOPPED = "Stopped; the partial answer is kept."
PASTE_NOTE = "Paste this into a new cell:"


class FormError(Exception):
    """A value in the form that cannot be sent; its message is shown in the error line."""


class OutputView:
    """A :class:`~haoee_jupyter._core.View` that renders a call into an ``ipywidgets.Output``.

    It assigns the ``outputs`` trait instead of using ``with output:``, so it works from a
    task on the event loop, where no cell's output context is active.
    """

    def __init__(self, output: widgets.Output, fmt: str = "markdown") -> None:
        self.output, self.fmt = output, fmt

    def update(self, call: Call, final: bool) -> None:
        data = call_bundle(call, final, self.fmt)
        self.output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)


def _guarded(method: Callable[[Form], Any]) -> Callable[..., None]:
    """A button callback whose failures land in the error line, not in the kernel's log."""

    @functools.wraps(method)
    def callback(self: Form, *_: Any) -> None:
        try:
            method(self)
        except FormError as e:
            self.show_error(str(e))
        except Exception as e:  # a bug: still say so where the user is looking
            self.magics.session.last_error = e
            self.show_error(f"The form failed ({type(e).__name__}: {e}); `%haoee error` shows the details.")

    return callback


class Form(widgets.VBox):  # type: ignore[misc]
    """A prompt form over the ``%%haoee`` machinery. Make one with :func:`form`.

    Parts: ``.model``, ``.instructions``, ``.prompt``, ``.temperature``, ``.max_tokens``, ``.web``,
    ``.stream``, ``.run_button``, ``.stop_button``, ``.copy_button``, ``.answer`` (an Output),
    ``.usage_line``, ``.error_line``; ``.task`` is the running request (an asyncio Task) or None,
    ``.last_call`` the last finished :class:`~haoee_jupyter._session.Call`.

    >>> f = form(prompt="Say hi")
    >>> f.run_button.click()   # from a running event loop (a kernel), as the button does
    """

    def __init__(self, magics: Haoee, **defaults: Any) -> None:
        unknown = sorted(set(defaults) - set(FIELDS))
        if unknown:
            raise TypeError(
                f"form() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; valid ones are: {', '.join(FIELDS)}"
            )
        self.magics = magics
        self.task: asyncio.Task[Call] | None = None
        self.last_call: Call | None = None

        def default(name: str, setting: Any = None) -> str:
            value = defaults.get(name, setting)
            return "" if value is None else str(value)

        model = default("model") or _settings.resolve_model(magics.model or None)
        models = KNOWN_MODELS if model in KNOWN_MODELS else (model, *KNOWN_MODELS)
        self.model = widgets.Combobox(
            value=model,
            options=list(models),
            ensure_option=False,
            description="Model",
            placeholder="a model name",
            style=_label(),
        )
        self.instructions = widgets.Textarea(
            value=default("instructions", magics.instructions),
            description="Instructions",
            placeholder="optional system prompt",
            rows=2,
            style=_label(),
            layout=_wide(),
        )
        self.prompt = widgets.Textarea(
            value=default("prompt"),
            description="Prompt",
            placeholder="Ask something; {name} is filled from the notebook",
            rows=5,
            style=_label(),
            layout=_wide(),
        )
        # Text rather than sliders: empty means the model's default, and a bad value gets a message
        self.temperature = widgets.Text(
            value=default("temperature", magics.temperature),
            description="Temperature",
            placeholder="default",
            style=_label(),
            layout=widgets.Layout(width="16em"),
        )
        self.max_tokens = widgets.Text(
            value=default("max_tokens", magics.max_output_tokens),
            description="Max tokens",
            placeholder="no limit",
            style=_label(),
            layout=widgets.Layout(width="16em"),
        )
        self.web = widgets.Checkbox(
            value=bool(defaults.get("web", False)),
            description="Web search",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.stream = widgets.Checkbox(
            value=bool(defaults.get("stream", magics.stream)),
            description="Stream",
            indent=False,
            layout=widgets.Layout(width="auto"),
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
        self.answer = widgets.Output()
        self.usage_line = widgets.HTML(layout=widgets.Layout(display="none"))
        self.error_line = widgets.HTML(layout=widgets.Layout(display="none"))
        self.copy_note = widgets.HTML()
        self.copy_text = widgets.Textarea(rows=4, layout=_wide())
        self.copy_box = widgets.VBox([self.copy_note, self.copy_text], layout=widgets.Layout(display="none"))
        self._script = widgets.Output(layout=widgets.Layout(display="none"))  # runs Copy's JavaScript

        for name in (
            "model",
            "instructions",
            "prompt",
            "temperature",
            "max_tokens",
            "web",
            "stream",
            "run_button",
            "stop_button",
            "copy_button",
            "answer",
            "usage_line",
            "error_line",
            "copy_note",
            "copy_text",
        ):
            # stable hooks for CSS, tests and the Copy script: haoee-prompt, haoee-run, haoee-copy-note...
            getattr(self, name).add_class(
                "haoee-" + name.removesuffix("_button").removesuffix("_line").replace("_", "-")
            )
        self.run_button.on_click(self._on_run)
        self.stop_button.on_click(self._on_stop)
        self.copy_button.on_click(self._on_copy)
        settings = widgets.HBox(
            [self.temperature, self.max_tokens, self.web, self.stream],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center", grid_gap="0 1.5em"),
        )
        buttons = widgets.HBox([self.run_button, self.stop_button, self.copy_button])
        super().__init__(
            [
                self.model,
                self.instructions,
                self.prompt,
                settings,
                buttons,
                self.error_line,
                self.answer,
                self.usage_line,
                self.copy_box,
                self._script,
            ],
            layout=widgets.Layout(width="100%", max_width="60em"),
        )
        self.add_class("haoee-form")

    # --- what the buttons do ----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def options(self) -> tuple[str, Options]:
        """The prompt (with ``{name}`` filled in) and the validated Options; FormError if a value is bad."""
        if not self.prompt.value.strip():
            raise FormError("The prompt is empty: write it in the Prompt box, then press Run.")
        try:
            prompt = interpolate(self.prompt.value, self.magics.namespace)
        except InterpolationError as e:
            raise FormError(str(e)) from e
        return prompt, Options(
            model=self.model.value.strip() or None,
            instructions=self.instructions.value.strip() or None,
            temperature=_parse(self.temperature.value, _number("Temperature", 0, 2)),
            max_output_tokens=_parse(self.max_tokens.value, _whole_number("Max tokens")),
            web=self.web.value,
            stream=self.stream.value,
        )

    def run(self) -> asyncio.Task[Call] | None:
        """Start a request on the running event loop (the kernel's); what Run does."""
        if self.running:
            return self.task
        self.show_error("")
        prompt, options = self.options()
        body = build_body(prompt, options, self.magics.session)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise FormError(
                "Run needs a running event loop, as in a Jupyter kernel; in plain Python use haoee_jupyter.Client instead."
            ) from None
        _set_line(self.usage_line, "")
        self.task = loop.create_task(self._request(body, options.stream))
        self.task.add_done_callback(self._after)
        self._set_running(True)
        return self.task

    def stop(self) -> None:
        """Cancel the running request; the text so far stays, the call is marked interrupted."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def _request(self, body: dict[str, Any], stream: bool) -> Call:
        magics = self.magics
        call = await arun(
            magics.client("async"),
            body,
            session=magics.session,
            view=OutputView(self.answer),
            stream=stream,
            namespace=magics.namespace,
            source="form",
            per_second=magics.updates_per_second,
        )
        self.last_call = call
        self._set_running(False)
        self._show_call(call)
        return call

    def _after(self, task: asyncio.Task[Call]) -> None:
        # Runs after the task: the normal ending is shown by _request; this catches the others.
        if task is self.task:
            self._set_running(False)
        if task.cancelled():  # cancelled before the request had started
            self.show_error(STOPPED)
        elif task.exception() is not None:
            error = task.exception()
            self.magics.session.last_error = error
            self.show_error(f"The form failed ({type(error).__name__}: {error}); `%haoee error` shows the details.")

    def _show_call(self, call: Call) -> None:
        total = self.magics.session.total
        usage, facts = call.usage, []
        if usage.total_tokens:
            facts.append(f"{usage.input_tokens:,} in / {usage.output_tokens:,} out tokens")
        if call.latency is not None:
            facts.append(f"{call.latency:.1f} s")
        facts.append(
            f"this session: {total.total_tokens:,} tokens in {total.calls} call{'s' if total.calls != 1 else ''}"
        )
        _set_line(self.usage_line, f"<small>{html.escape(' · '.join(facts))}</small>")
        if call.interrupted:
            self.show_error(STOPPED)
        elif call.error is not None:
            self.show_error(" ".join(str(call.error).split()))

    def _set_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running

    def show_error(self, message: str) -> None:
        """Put one line in the error line (an empty message clears it)."""
        style = "color: var(--jp-error-color1, #d32f2f)"
        _set_line(self.error_line, f'<span style="{style}">{html.escape(message)}</span>' if message else "")

    # --- Copy as cell -----------------------------------------------------------------------
    def cell_text(self) -> str:
        """The ``%%haoee`` cell that sends what the form would send.

        Instructions go on the magic line, where a line break cannot go: it becomes a space.
        """
        flags: list[str] = []
        if self.model.value.strip():
            flags += ["-m", self.model.value.strip()]
        instructions = " ".join(self.instructions.value.splitlines()).strip()
        if instructions or self.magics.instructions:  # -i '' overrides a configured default
            flags += ["-i", instructions]
        if self.temperature.value.strip():
            flags += ["-t", self.temperature.value.strip()]
        if self.max_tokens.value.strip():
            flags += ["--max-tokens", self.max_tokens.value.strip()]
        if self.web.value:
            flags.append("--web")
        if not self.stream.value:
            flags.append("--no-stream")
        return " ".join(["%%haoee", *map(_quote, flags)]) + "\n" + str(self.prompt.value)

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
        script = f"const nonce = {json.dumps(uuid.uuid4().hex)}, text = {json.dumps(text)};{_COPY_SCRIPT}"
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

    ``defaults`` pre-fill it: ``model``, ``instructions``, ``prompt``, ``temperature``,
    ``max_tokens``, ``web``, ``stream``. It shares the session of ``%%haoee``: settings, the
    call log (``source="form"``) and ``haoee_response`` / ``haoee_usage`` / ``haoee_usage_total``.

    >>> form(model="qwen3-max", prompt="Summarize {topic} in three bullets", web=True)
    """
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    if shell is None:
        raise RuntimeError("haoee_jupyter.form() runs in Jupyter or IPython; in plain Python use haoee_jupyter.Client")
    return Form(magics_for(shell), **defaults)


def _set_line(line: widgets.HTML, value: str) -> None:
    """An empty line takes no room."""
    line.value = value
    line.layout.display = "" if value else "none"


def _label() -> dict[str, str]:
    return {"description_width": "7em"}


def _wide() -> widgets.Layout:
    return widgets.Layout(width="100%")


def _parse(text: str, convert: Callable[[str], Any]) -> Any:
    if not text.strip():
        return None
    try:
        return convert(text.strip())
    except argparse.ArgumentTypeError as e:
        raise FormError(f"{e}; fix it and press Run again.") from e


# Runs in the browser as a trusted output of the form's hidden Output widget; `element` is that
# output's node. No JupyterLab API is reachable from an output (window.jupyterapp exists only with
# --expose-app-in-browser), so it uses what a user would: the notebook toolbar's "Insert a cell
# below" button (which acts on mousedown) and a paste into the new cell's editor.
_COPY_SCRIPT = """
(() => {
  const seen = (window.__haoeeCopied = window.__haoeeCopied || new Set());
  if (seen.has(nonce)) return;  // one action per click, however many views show this form
  seen.add(nonce);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const until = async (test) => {
    for (let i = 0; i < 100; i++) { const found = test(); if (found) return found; await sleep(20); }
    return null;
  };
  const insertBelow = async (form) => {
    const cell = form.closest('.jp-Cell'), panel = form.closest('.jp-NotebookPanel');
    if (!cell || !panel || !cell.classList.contains('jp-mod-active')) return false;
    const button = panel.querySelector('.jp-NotebookPanel-toolbar [data-command="notebook:insert-cell-below"]');
    if (!button) return false;
    const next = cell.nextElementSibling;
    button.dispatchEvent(new MouseEvent('mousedown', { bubbles: true, cancelable: true, button: 0 }));
    const editor = await until(() => {
      const node = cell.nextElementSibling;
      return node && node !== next && node.classList.contains('jp-mod-active') && node.classList.contains('jp-CodeCell') && node.querySelector('.cm-content');
    });
    // The editor takes the paste (and cancels the event) once it is ready; a synthetic event
    // has no default action, so trying again cannot paste twice.
    return !!(editor && await until(() => {
      const data = new DataTransfer();
      data.setData('text/plain', text);
      const paste = new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
      editor.dispatchEvent(paste);
      return paste.defaultPrevented;
    }));
  };
  (async () => {
    if (!(await until(() => element.isConnected))) return;
    const form = element.closest('.haoee-form');
    if (!form) return;
    const note = form.querySelector('.haoee-copy-note .widget-html-content');
    const area = form.querySelector('.haoee-copy-text textarea');
    const say = (message) => { if (note) note.textContent = message; };
    if (area) { area.readOnly = true; area.parentElement.style.display = ''; }
    let inserted = false;
    try { inserted = await insertBelow(form); } catch (error) { console.warn('haoee: could not add the cell', error); }
    if (inserted) {
      say('Added as a new code cell below this one.');
      if (area) area.parentElement.style.display = 'none';
      return;
    }
    let copied = false;
    try { await navigator.clipboard.writeText(text); copied = true; } catch (error) { /* no permission or focus */ }
    say(copied ? 'Copied to the clipboard. Paste this into a new cell:' : 'Paste this into a new cell:');
    if (area) { area.focus(); area.select(); }
  })();
})();
"""


def _quote(value: str) -> str:
    """shlex.quote, but "don't" rather than the correct yet unreadable 'don'"'"'t'."""
    if "'" in value and not any(char in value for char in '"\\$`'):
        return f'"{value}"'
    return shlex.quote(value)
