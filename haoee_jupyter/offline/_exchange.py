"""What passes between the HTTP layer and the endpoints: a `Request` in, a reply out.

Endpoints never touch sockets. They return a `Reply` (a whole body), a `StreamReply` (SSE
frames, each with the pause before it) or a `Disconnect` (a fault that sends no answer). Each
reply knows whether the connection ends after it (`closes`), so the HTTP layer can say
`Connection: close` before it closes: a client must never reuse a connection the server is
about to drop.

    >>> reply = json_reply(200, {"ok": True})
    >>> reply.status, reply.content_type, reply.closes
    (200, 'application/json', False)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from functools import cached_property
from typing import Any, Literal

from ._multipart import Form, parse_form
from ._protocol import ApiError, html_error_page

__all__ = [
    "Disconnect",
    "Frame",
    "Reply",
    "Request",
    "StreamReply",
    "check_auth",
    "error_reply",
    "html_reply",
    "json_reply",
    "request_id",
    "sse",
]

Frame = tuple[bytes, float]
"""One piece of a stream and the pause before it, in units of the server's latency."""

_MISSING_KEY = "Missing API key: send Authorization: Bearer <key> (any key works on the offline server)."
# json.dumps leaves these raw, and str.splitlines() would break an SSE line on them.
_LINE_SAFE = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


@dataclass(frozen=True)
class Reply:
    """A complete answer sent with a Content-Length.

    `delay` is the pause before it in units of latency. `cut` makes it a truncated answer: the
    header promises twice the bytes sent, then the server hangs up (the `truncated` fault).
    """

    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut: bool = False

    @property
    def closes(self) -> bool:
        return self.cut


@dataclass(frozen=True)
class StreamReply:
    """An SSE answer over chunked encoding.

    `ending`: "end" finishes the chunked body and keeps the connection; "close" finishes it and
    closes; "reset" aborts the connection with an RST; "hold" sends nothing more until the
    client gives up. Frames are consumed lazily, so a generator can do work at its end.
    """

    frames: Iterable[Frame]
    ending: Literal["end", "close", "reset", "hold"] = "end"
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def closes(self) -> bool:
        return self.ending != "end"


@dataclass(frozen=True)
class Disconnect:
    """No answer at all: "hang-up" closes at once, "hold" waits for the client to give up."""

    how: Literal["hang-up", "hold"]

    @property
    def closes(self) -> bool:
        return True


@dataclass
class Request:
    """One HTTP request as the endpoints see it; the body is read in full."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Message
    body: bytes

    @cached_property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    @cached_property
    def parsed_json(self) -> tuple[Any, bool]:
        """(value, True) for a JSON body, (None, True) for an empty one, (None, False) otherwise."""
        if not self.body.strip():
            return None, True
        try:
            return json.loads(self.body), True
        except (ValueError, UnicodeDecodeError):
            return None, False

    @cached_property
    def form(self) -> Form | None:
        """The multipart/form-data fields and files, or None for other bodies."""
        if self.content_type != "multipart/form-data":
            return None
        return parse_form(self.headers.get("Content-Type") or "", self.body)

    def log_body(self) -> Any:
        """What the request log keeps: parsed JSON, a summary of a form, or None."""
        form = self.form
        if form is not None:
            return form.summary()
        return self.parsed_json[0]


def check_auth(request: Request) -> None:
    """Any key works, but one must be sent, as with the real API."""
    value = (request.headers.get("Authorization") or "").strip()
    scheme, _, key = value.partition(" ")
    if not value or (scheme.lower() == "bearer" and not key.strip()):
        raise ApiError(401, _MISSING_KEY, code="invalid_api_key")


def request_id() -> str:
    return f"req_offline_{uuid.uuid4().hex}"


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None, delay: float = 0.0) -> Reply:
    return Reply(status, json_bytes(payload), "application/json", dict(headers or {}), delay)


def error_reply(error: ApiError) -> Reply:
    return json_reply(error.status, error.body(), error.headers)


def html_reply(status: int) -> Reply:
    """The page an nginx proxy in front of an API sends when the upstream fails."""
    return Reply(status, html_error_page(status).encode(), "text/html")


def sse(payload: Any, event: str | None = None) -> bytes:
    """One SSE frame: an optional `event:` line and one `data:` line of compact JSON."""
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    data = data.translate(_LINE_SAFE)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def broken_sse(payload: Any, event: str | None = None) -> bytes:
    """A well-framed SSE frame whose data line is JSON cut off halfway (the `malformed` fault)."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return sse(data[: len(data) // 2], event)
