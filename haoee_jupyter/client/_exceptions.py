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
``.hint``, ``.status_code``, ``.code`` and ``.partial``: the :class:`Response` assembled from
whatever had arrived before the failure (streamed text, usage), or ``None``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import Response

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

    def __str__(self) -> str:
        details = [f"HTTP {self.status_code}"] if self.status_code else []
        if self.code and self.code not in self.message:
            details.append(str(self.code))
        line = self.message.rstrip()
        if details:
            line = f"{line} [{', '.join(details)}]"
        if self.hint:
            line = f"{line.rstrip('.')}. {self.hint}"
        return line

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback wall; %tb still has the full one.
        return [f"{type(self).__name__}: {self}"]


class ConfigurationError(HaoeeError):
    """The settings are missing or unsafe; no request was sent."""


class MissingAPIKeyError(ConfigurationError):
    default_hint = (
        "Set the HAOEE_API_KEY environment variable, run `%haoee key` in a notebook, "
        "pass Client(api_key=...), or run `%haoee offline` to use the offline demo server"
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
    default_hint = "Check the model name (`%haoee models` lists them) and the base URL (HAOEE_BASE_URL)"


class AuthenticationError(APIStatusError):
    default_hint = "Check your API key: set HAOEE_API_KEY or run `%haoee key`"


class PermissionDeniedError(APIStatusError):
    default_hint = "Your key is not allowed to use this model or endpoint; check your Haoee account"


class RateLimitError(APIStatusError):
    default_hint = "Wait a moment and run it again, or lower the concurrency; check your quota if it persists"


class ServerError(APIStatusError):
    default_hint = "The server or a proxy in front of it failed; run it again in a moment"


class ResponseFailedError(HaoeeError):
    default_hint = "The model could not finish this response; run it again, or change the prompt or model"


class ProtocolError(HaoeeError):
    default_hint = (
        "The server's answer could not be read; check HAOEE_BASE_URL points at a Responses API, then run it again"
    )
