"""How an endpoint reads a successful answer; the clients do the I/O and call a Reader's methods."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import httpx

from ._exceptions import ProtocolError
from ._models import Response

__all__ = ["JSONReader", "Reader"]

T = TypeVar("T")


class Reader(Generic[T]):
    """How an endpoint reads a successful answer: a whole JSON body, or a stream of SSE ``data`` payloads.

    An endpoint subclasses it (or uses :class:`JSONReader`) and passes one to the client's
    call (``_calls.Call``); the shared plan (``_exchange``) calls these, the clients only do its I/O.
    """

    def json(self, data: Any) -> T:
        """The result from a whole JSON body (a non-streamed answer)."""
        raise ProtocolError("The server answered with a JSON body where none was expected")

    def whole(self, data: Any) -> T:
        """A stream request answered with one JSON body (some relays do): by default, as :meth:`json`."""
        return self.json(data)

    def content(self, response: httpx.Response, body: bytes) -> T:
        """The result from a body that is not read as JSON; used when ``raw`` is True."""
        raise NotImplementedError

    #: True: the body is passed to :meth:`content` as bytes (a video file), not decoded as JSON.
    raw = False

    def event(self, payload: str) -> bool:
        """One SSE ``data`` payload of a stream; return True once the stream is over."""
        raise ProtocolError("The server sent a stream where a single answer was expected")

    def result(self) -> T:
        """The result once the stream has ended (or was cut)."""
        raise ProtocolError("The stream ended before the answer was complete")

    def partial(self) -> Response | None:
        """What has arrived so far, kept on errors and on Ctrl-C."""
        return None


class JSONReader(Reader[T]):
    """Reads a JSON body through ``parse(data)``: ``JSONReader(lambda data: data["data"])``."""

    def __init__(self, parse: Any = None) -> None:
        self.parse = parse

    def json(self, data: Any) -> T:
        return data if self.parse is None else self.parse(data)  # type: ignore[no-any-return]
