"""Every error the client raises. Nothing else escapes it.

    HaoeeError
    ├── ConfigurationError            settings are missing or unsafe; nothing was sent
    │   ├── MissingAPIKeyError
    │   └── InsecureTransportError
    ├── APIConnectionError            the server could not be reached, or the connection broke
    │   └── APITimeoutError
    ├── APIStatusError                the server answered with an HTTP error status
    │   ├── BadRequestError           400, 409, 413, 422 and other 4xx
    │   │   └── NotFoundError         404, or code model_not_found / previous_response_not_found
    │   ├── AuthenticationError       401
    │   ├── PermissionDeniedError     403
    │   ├── RateLimitError            429 (has .retry_after)
    │   └── ServerError               5xx
    ├── ResponseFailedError           the response ended with status "failed" or an error event
    └── ProtocolError                 a body or stream that cannot be read (bad JSON, no terminal event)

Every error has a one-line ``str()`` (what happened, the server's own words, what to do),
``.hint``, ``.status_code``, ``.code``, ``.attempts`` (how many requests were sent; 0 when none was)
and ``.partial``: the :class:`Response` assembled from whatever had arrived before the failure
(streamed text, usage), or ``None``. ``.lines()`` gives the same as two lines, what happened then
what to do, which is how IPython and JupyterLab show it (``_render_traceback_``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import Response

#: Columns an error's rendered lines are folded at (a JupyterLab output at a common width).
RENDER_WIDTH = 100

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "HaoeeError",
    "InsecureTransportError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "ResponseFailedError",
    "ServerError",
]


class HaoeeError(Exception):
    """Base of every error raised by haoee_jupyter.

    >>> try:
    ...     client.respond("hi")
    ... except HaoeeError as e:
    ...     print(e)            # one line: what happened and what to do
    ...     e.partial           # text and usage received before the failure, if any
    """

    default_hint = ""
    #: Requests sent for this call, retries included (0: nothing was sent).
    attempts: int = 0
    #: True when the account's plan or balance is the cause: running it again will not help.
    billing: bool = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        body: Any = None,
        partial: Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint
        self.status_code = status_code
        self.code = code
        self.type = type
        self.param = param
        self.body = body
        self.partial = partial

    def lines(self) -> list[str]:
        """What happened (with the HTTP status, code and tries), then what to do: one or two lines."""
        details = [f"HTTP {self.status_code}"] if self.status_code else []
        code = str(self.code or "")
        # A relay's code is often the status again ("500"): say it once.
        if code and code not in self.message and code != str(self.status_code):
            details.append(code)
        what = " ".join(self.message.split())
        if details:
            what = f"{what} [{', '.join(details)}]"
        if self.attempts > 1:
            what = f"{what} (tried {self.attempts} times)"
        hint = " ".join(self.hint.split())
        return [what, hint] if hint else [what]

    def __str__(self) -> str:
        lines = self.lines()
        if len(lines) == 1:
            return lines[0]
        return f"{lines[0].rstrip('.')}. {lines[1]}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback wall (%tb still has the full one):
        # what happened on one line, what to do on the next, so nothing wraps mid-sentence.
        # Each is folded at word boundaries: JupyterLab's error box breaks long lines mid-word.
        import textwrap

        what, *todo = self.lines()
        lines = [f"{type(self).__name__}: {what}", *(f"→ {line}" for line in todo)]
        return [
            folded
            for line in lines
            for folded in textwrap.wrap(
                line, width=RENDER_WIDTH, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
            )
            or [line]
        ]


class ConfigurationError(HaoeeError):
    """The settings are missing or unsafe; no request was sent."""


class MissingAPIKeyError(ConfigurationError):
    default_hint = (
        "Run %haoee key in a notebook, set HAOEE_API_KEY in the environment, or pass Client(api_key=...); "
        "%haoee offline starts a demo server that needs no key"
    )


class InsecureTransportError(ConfigurationError):
    default_hint = "Use an https:// base URL (plain http:// is only allowed for loopback addresses)"


class APIConnectionError(HaoeeError):
    default_hint = "Check your network and the base URL (HAOEE_BASE_URL), then run it again"


class APITimeoutError(APIConnectionError):
    default_hint = (
        "The server is slow or stalled; run it again, or raise the timeout (Client(timeout=...), %config Haoee.timeout)"
    )


class APIStatusError(HaoeeError):
    default_hint = "Check the request and run it again"
    #: Seconds the server asked us to wait (its ``Retry-After`` header), if it said.
    retry_after: float | None = None


class BadRequestError(APIStatusError):
    default_hint = "Fix the request parameter the server names and run it again"


class NotFoundError(BadRequestError):
    default_hint = "Check the model name (%haoee models lists them) and the base URL (HAOEE_BASE_URL)"


class AuthenticationError(APIStatusError):
    default_hint = "Run %haoee key to enter a valid key (or set HAOEE_API_KEY anew)"


class PermissionDeniedError(APIStatusError):
    default_hint = "Your key is not allowed to use this model or endpoint; check your Haoee account"


class RateLimitError(APIStatusError):
    # Retries have already waited as the server asked; concurrency advice belongs to a batch's summary.
    default_hint = "Run it again in a moment; if it keeps happening, check your plan's rate limits"


class ServerError(APIStatusError):
    default_hint = "The server or a proxy in front of it failed; run it again in a moment"


class ResponseFailedError(HaoeeError):
    default_hint = "The model could not finish this response; run it again, or change the prompt or model"


class ProtocolError(HaoeeError):
    default_hint = (
        "The server's answer could not be read; check HAOEE_BASE_URL points at a Responses API, then run it again"
    )
