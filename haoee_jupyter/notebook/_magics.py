"""The ``%%haoee`` cell magic and the ``%haoee`` line magic, with settings as traits."""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Enum, Float, Int, TraitError, Unicode, observe, validate

from ..client import _settings
from ..client._exceptions import HaoeeError
from ..render import bundle
from ._core import REASONING_EFFORTS, Interrupted, Options, build_body, run
from ._display import FORMATS, NotebookView, TerminalView, extract_code, in_terminal, parse_json
from ._inputs import InputError, image_url, schema_format
from ._interpolate import InterpolationError, interpolate
from ._session import Call, Chat, Session

#: Settings the magics share with the client layer through ``_settings.session``.
SHARED_SETTINGS = ("model", "api_key", "base_url")
SUBCOMMANDS = ("config", "key", "usage", "models", "offline", "form", "chats", "reset", "error", "help")


class _Secret(str):
    """A key whose repr is masked, so `%config Haoee` and tracebacks never show it."""

    def __repr__(self) -> str:
        return repr(_settings.mask(self))


class SecretUnicode(Unicode):  # type: ignore[type-arg]
    def validate(self, obj: Any, value: Any) -> Any:
        value = super().validate(obj, value)
        return _Secret(value) if value else value


def _number(name: str, low: float, high: float) -> Any:
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a number from {low:g} to {high:g}, not {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be from {low:g} to {high:g}, not {text}")
        return value

    return convert


def _whole_number(name: str) -> Any:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, not {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be 1 or more, not {text}")
        return value

    return convert


def _choice(name: str, choices: tuple[str, ...]) -> Any:
    def convert(text: str) -> str:
        if text.lower() not in choices:
            raise argparse.ArgumentTypeError(f"{name} must be one of {', '.join(choices)}, not {text!r}")
        return text.lower()

    return convert


def _identifier(text: str) -> str:
    if not text.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid Python variable name")
    return text


@magics_class
class Haoee(Magics):
    """Magics for the Haoee MaaS Responses API. Settings: ``%config Haoee``."""

    model = Unicode("", help="Default model (empty: $HAOEE_MODEL, else gpt-4.1).").tag(config=True)
    api_key = SecretUnicode(
        "", help="API key (empty: $HAOEE_API_KEY). Prefer `%haoee key`, which does not leave the key in the notebook."
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

    @validate("timeout", "connect_timeout", "updates_per_second")
    def _positive(self, proposal: Any) -> float:
        if not proposal["value"] > 0:  # also refuses nan
            raise TraitError(f"Haoee.{proposal['trait'].name} must be a number more than 0, not {proposal['value']}")
        return float(proposal["value"])

    @validate("temperature")
    def _temperature(self, proposal: Any) -> float | None:
        if proposal["value"] is not None and not 0 <= proposal["value"] <= 2:
            raise TraitError(
                f"Haoee.temperature must be from 0 to 2 (or None for the model's default), not {proposal['value']}"
            )
        return proposal["value"]  # type: ignore[no-any-return]

    @validate("max_output_tokens", "max_retries")
    def _counts(self, proposal: Any) -> int | None:
        value, name = proposal["value"], proposal["trait"].name
        least = 1 if name == "max_output_tokens" else 0
        if value is not None and value < least:
            raise TraitError(f"Haoee.{name} must be {least} or more, not {value}")
        return value  # type: ignore[no-any-return]

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        # Before super().__init__, whose loading of config fires the observers: the clients they
        # forget, and the session settings as they were, which unload restores.
        self._clients: dict[str, Any] = {}
        self._session_before = {name: _settings.session[name] for name in SHARED_SETTINGS if name in _settings.session}
        super().__init__(shell=shell, **kwargs)
        self.session = Session()
        self.offline_server: Any = None
        self._before_offline: tuple[str, str] | None = None
        for name in SHARED_SETTINGS:
            _settings.session[name] = str(getattr(self, name))

    @observe(*SHARED_SETTINGS)
    def _share_setting(self, change: Any) -> None:
        _settings.session[change["name"]] = str(change["new"] or "")

    @observe("timeout", "connect_timeout", "max_retries")
    def _forget_clients(self, change: Any) -> None:
        self._clients.clear()

    def client(self, kind: str = "sync") -> Any:
        """The session's Client (or AsyncClient), rebuilt when timeouts or retries change."""
        if kind not in self._clients:
            import httpx

            from ..client._client import AsyncClient, Client

            timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout)
            factory = Client if kind == "sync" else AsyncClient
            self._clients[kind] = factory(timeout=timeout, max_retries=self.max_retries)
        return self._clients[kind]

    @property
    def namespace(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    # --- the magic ------------------------------------------------------------------------
    @magic_arguments()
    @argument("-m", "--model", help="Model to use (default: %%config Haoee.model, $HAOEE_MODEL, gpt-4.1).")
    @argument("-i", "--instructions", help="System prompt for this cell.")
    @argument("-t", "--temperature", type=_number("--temperature", 0, 2), help="Sampling temperature, 0 to 2.")
    @argument("--top-p", type=_number("--top-p", 0, 1), help="Nucleus sampling, 0 to 1.")
    @argument(
        "--max-tokens",
        type=_whole_number("--max-tokens"),
        help="Limit the answer to this many tokens (max_output_tokens).",
    )
    @argument(
        "--reasoning",
        metavar="EFFORT",
        type=_choice("--reasoning", REASONING_EFFORTS),
        help="Reasoning effort: " + ", ".join(REASONING_EFFORTS) + ".",
    )
    @argument("--no-stream", action="store_true", help="Wait for the whole answer instead of streaming it.")
    @argument(
        "--web", action="store_true", help="Let the model search the web; its sources are listed under the answer."
    )
    @argument(
        "-o",
        "--out",
        type=_identifier,
        metavar="NAME",
        help="Store the answer (text, or the parsed object for json/--schema) in this variable.",
    )
    @argument(
        "-f",
        "--format",
        type=_choice("--format", FORMATS),
        help="markdown (default), text, code (puts the code into the next cell), json (parses it), html, math.",
    )
    @argument(
        "--schema",
        metavar="NAME",
        help="A JSON Schema dict or pydantic model in the namespace: structured output, parsed into --out.",
    )
    @argument(
        "--image",
        action="append",
        default=[],
        metavar="PATH|URL|NAME",
        help="Attach an image (file, URL, PIL image or matplotlib figure variable); repeatable.",
    )
    @argument(
        "--chat",
        type=_identifier,
        metavar="NAME",
        help="Continue the named conversation (see %%haoee chats, %%haoee reset NAME).",
    )
    @argument("--raw", action="store_true", help="Send the cell as is, without filling {variables}.")
    @argument(
        "--dry-run", action="store_true", help="Show the request that would be sent (key masked) and send nothing."
    )
    @line_cell_magic
    def haoee(self, line: str, cell: str | None = None) -> Any:
        """Send the cell to the Haoee Responses API and show the answer as it streams.

        In the cell, {name}, {obj.attr}, {d['key']}, {In[3]}, {Out[3]} and {df.head()} are
        filled from the notebook. Braces inside Markdown code (``` or ~~~ blocks, `inline` code)
        are never filled, nor are other braces (JSON, LaTeX); {{name}} is a literal {name}.
        After each call: haoee_response, haoee_usage and haoee_usage_total hold the answer,
        its token usage and the session's running total.

        Line magic: %haoee config | key | usage | models | offline [--latency-ms N | stop]
        | form | chats | reset [NAME] | error | help
        """
        if cell is None:
            return self._subcommand(line)
        return self._ask(line, cell)

    def _parse(self, line: str) -> argparse.Namespace:
        try:
            # Shell quoting, but backslashes kept, so a Windows path (--image C:\\me\\cat.png) survives;
            # and no comments, as in shlex.split, so in -i C# -t 0 the # and what follows are kept.
            lexer = shlex.shlex(line, posix=True)
            lexer.whitespace_split, lexer.escape, lexer.commenters = True, "", ""
            return self.haoee.parser.parse_args(list(lexer))  # type: ignore[attr-defined, no-any-return]
        except (UsageError, ValueError) as e:  # ValueError: an unclosed quote
            raise UsageError(f"{e} (see %%haoee? for all options)") from e

    def _options(self, args: argparse.Namespace) -> tuple[Options, Any]:
        """Validated options, and the parser for structured output (or None)."""
        namespace, parser = self.namespace, None
        options = Options(
            model=args.model or None,
            instructions=args.instructions if args.instructions is not None else (self.instructions or None),
            temperature=args.temperature if args.temperature is not None else self.temperature,
            top_p=args.top_p,
            max_output_tokens=args.max_tokens or self.max_output_tokens,
            reasoning=args.reasoning,
            web=args.web,
            stream=self.stream and not args.no_stream,
            chat=args.chat,
        )
        try:
            options.images = [image_url(ref, namespace) for ref in args.image]
            if args.schema:
                options.text_format, parser = schema_format(args.schema, namespace)
        except InputError as e:
            raise UsageError(str(e)) from e
        return options, parser

    def _ask(self, line: str, cell: str) -> None:
        args = self._parse(line)
        options, schema_parser = self._options(args)
        fmt = args.format or ("json" if args.schema else self.format)
        try:
            prompt = cell if args.raw else interpolate(cell, self.namespace)
            if options.instructions and not args.raw:
                options.instructions = interpolate(options.instructions, self.namespace)
        except InterpolationError as e:
            raise UsageError(str(e)) from e
        prompt = prompt.strip("\n")
        if not prompt.strip():
            raise UsageError("The cell is empty: write your prompt on the lines below %%haoee")
        body = build_body(prompt, options, self.session)
        if args.dry_run:
            return self._show_request(body, options.stream)
        if options.chat and options.chat not in self.session.chats:
            self.session.chats[options.chat] = Chat(options.chat, instructions=options.instructions)
        view = TerminalView(fmt) if in_terminal(self.shell) else NotebookView(fmt)
        try:
            call = run(
                self.client(),
                body,
                session=self.session,
                view=view,
                stream=options.stream,
                namespace=self.namespace,
                chat=options.chat,
                per_second=self.updates_per_second,
            )
        except Interrupted as stop:
            if args.out and stop.call.answer:
                self.namespace[args.out] = stop.call.answer
            raise
        if args.out and (call.answer or call.error is None):  # a failure with nothing received leaves it as it was
            self.namespace[args.out] = call.answer
        if call.error is not None:
            raise call.error
        self._post_process(call, fmt, schema_parser, args.out)
        return None

    def _post_process(self, call: Call, fmt: str, schema_parser: Any, out: str | None) -> None:
        text = call.answer
        if fmt == "code":
            code = extract_code(text)
            if code and self.shell is not None:
                self.shell.set_next_input(code, replace=False)
        elif fmt == "json" or schema_parser is not None:
            try:
                value = schema_parser(text) if schema_parser is not None else parse_json(text)
            except Exception as e:  # json.JSONDecodeError or pydantic.ValidationError
                kept = f"; the text is kept in {out}" if out else "; the text is kept in haoee_response.text"
                if call.response is not None and call.response.status == "incomplete":
                    raise UsageError(
                        f"The answer was cut off ({call.response.incomplete_reason}) before its JSON was complete{kept}. Raise --max-tokens and run it again"
                    ) from e
                raise UsageError(
                    f"The answer is not the JSON asked for ({type(e).__name__}: {str(e).splitlines()[0]}){kept}. Ask for JSON only, or use --schema"
                ) from e
            if out:
                self.namespace[out] = value

    def _show_request(self, body: dict[str, Any], stream: bool) -> None:
        client = self.client()
        try:
            key = _settings.mask(_settings.resolve_api_key(client._api_key))
        except HaoeeError:
            key = "(not set: run %haoee key)"
        shown = dict(body, **({"stream": True} if stream else {}))
        text = (
            f"POST {client.base_url}/responses\nAuthorization: Bearer {key}\nModelName: {body['model']}\n\n"
            + json.dumps(_shorten_images(shown), indent=2, ensure_ascii=False)
        )
        self._show(f"**Dry run: nothing was sent.**\n\n```http\n{text}\n```", f"Dry run: nothing was sent.\n{text}")

    def _show(self, markdown: str, plain: str) -> None:
        from IPython.display import display

        if in_terminal(self.shell):
            print(plain)
        else:
            display(bundle(markdown, plain), raw=True)

    # --- subcommands ------------------------------------------------------------------------
    def _subcommand(self, line: str) -> Any:
        words = line.split()
        if not words:
            return self._help()
        name, rest = words[0].lower(), words[1:]
        if name not in SUBCOMMANDS:
            raise UsageError(
                f"Unknown subcommand {words[0]!r}: use one of {', '.join(SUBCOMMANDS)} "
                "(to ask a question, start a cell with %%haoee)"
            )
        from . import _subcommands

        return getattr(_subcommands, name)(self, rest)

    def _help(self) -> None:
        from . import _subcommands

        _subcommands.help(self, [])


def _shorten_images(body: dict[str, Any]) -> dict[str, Any]:
    """Data URLs are long: show their start and size in a dry run."""
    text = json.dumps(body, ensure_ascii=False)
    if "data:image" not in text:
        return body
    shown = json.loads(text)
    for message in shown.get("input", []) if isinstance(shown.get("input"), list) else []:
        for part in message.get("content", []) if isinstance(message, dict) else []:
            url = part.get("image_url", "") if isinstance(part, dict) else ""
            if url.startswith("data:") and len(url) > 80:
                part["image_url"] = f"{url[:40]}… ({len(url):,} characters)"
    return shown


def load(ipython: Any) -> None:
    ipython.register_magics(Haoee(shell=ipython))


def unload(ipython: Any) -> None:
    """Leave no trace: no magic, no offline server, no open client, and the session settings as
    they were before loading, so a plain ``Client()`` afterwards reads the environment again."""
    magics = ipython.magics_manager.registry.pop("Haoee", None)
    if magics is None:
        return
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("haoee", None)
    if magics.offline_server is not None:
        magics.offline_server.stop()
        magics.offline_server = None
    sync_client = magics._clients.pop("sync", None)
    if sync_client is not None:
        sync_client.close()
    magics._clients.clear()  # an AsyncClient closes with its event loop; only the reference goes
    for name in SHARED_SETTINGS:
        if name in magics._session_before:
            _settings.session[name] = magics._session_before[name]
        else:
            _settings.session.pop(name, None)


def magics_for(shell: Any) -> Haoee:
    """The shell's Haoee magics (loading the extension if needed): the form shares its session."""
    registry = shell.magics_manager.registry
    if "Haoee" not in registry:
        load(shell)
    return registry["Haoee"]  # type: ignore[no-any-return]
