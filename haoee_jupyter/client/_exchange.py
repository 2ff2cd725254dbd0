"""One request and its answer, as a plan of I/O steps that both clients drive.

:func:`exchange` decides everything about one :class:`~._calls.Call`: the request built, each
try and the wait before the next (``retry_delay``), a download's redirects, which error a status
or a broken connection becomes, and how the body or stream is read. It does no I/O: it yields
:class:`Send`, :class:`ReadBody`, :class:`Chunks`, :class:`NextChunk`, :class:`Close` and
:class:`~._calls.Sleep`, and ``Client`` performs them blocking, ``AsyncClient`` awaited. An I/O
failure is thrown back in at its ``yield``, where the plan maps it.

>>> response = yield Send(request)          # httpx's send(request, stream=True)
>>> body = yield ReadBody(response)         # response.read()
"""

from __future__ import annotations

import functools
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar, Union

import httpx

from ._base import BaseClient, Reader, Redirect, feed_stream, finish_stream, whole_body
from ._calls import Call, Sleep
from ._exceptions import HaoeeError
from ._stream import SSEDecoder

__all__ = ["Chunks", "Close", "Io", "NextChunk", "ReadBody", "Send", "exchange"]

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send the request, the answer's body not read yet: an ``httpx.Response``."""

    request: httpx.Request


@dataclass(frozen=True)
class ReadBody:
    """The whole body, as bytes."""

    response: httpx.Response


@dataclass(frozen=True)
class Chunks:
    """An iterator (sync or async) of the body's chunks, for :class:`NextChunk`."""

    response: httpx.Response


@dataclass(frozen=True)
class NextChunk:
    """The next chunk of :class:`Chunks`' iterator, or None at its end."""

    chunks: Any


@dataclass(frozen=True)
class Close:
    """Close the response (its connection goes back to the pool)."""

    response: httpx.Response


Io = Union[Send, ReadBody, Chunks, NextChunk, Close, Sleep]
Exchange = Generator[Io, Any, T]


def exchange(client: BaseClient, call: Call[T]) -> Exchange[T]:
    """Send ``call`` and read its answer with ``call.read``: how every endpoint talks to the server.

    ``call.idempotent=False`` (a request that starts a billed job) is sent again only when the
    connection was never made; ``call.follow_redirects`` is for downloads: each hop is built
    anew, so the key goes only to the API's own origin.
    """
    request = client.build_request(
        call.method,
        call.path,
        json=call.json,
        files=call.files,
        data=call.data,
        stream=call.stream,
        model=call.model,
        headers=call.headers,
    )
    request.extensions["timeout"] = client.timeout.as_dict()
    follow = functools.partial(client.redirect, headers=call.headers) if call.follow_redirects else None
    response, attempts = yield from _send(client, request, call.idempotent, follow)
    try:
        if not call.stream or whole_body(response):
            try:
                body = yield ReadBody(response)
            except httpx.HTTPError as e:
                raise client._transport_error(e, "body", response.num_bytes_downloaded) from e
            return client._whole(call.read, response, body, call.stream)
        return (yield from _read_stream(client, response, call.read, attempts))
    except HaoeeError as e:
        e.attempts = max(e.attempts, attempts)
        raise
    finally:
        yield Close(response)


def _send(
    client: BaseClient, request: httpx.Request, idempotent: bool, follow: Redirect | None
) -> Generator[Io, Any, tuple[httpx.Response, int]]:
    """Send until the answer begins with a success status; retries as ``retry_delay`` decides."""
    attempt = hops = 0
    while True:
        attempt += 1
        try:
            response: httpx.Response = yield Send(request)
        except httpx.HTTPError as e:
            error: HaoeeError = client._transport_error(e)
        else:
            if response.status_code < 300:
                return response, attempt
            try:
                body = yield ReadBody(response)
            except httpx.HTTPError:
                body = b""
            finally:
                yield Close(response)
            hop = follow(response, hops) if follow is not None else None
            if hop is not None:
                request, hops, attempt = hop, hops + 1, attempt - 1  # a redirect is not a failed try
                continue
            error = client._status_error(response, body)
        delay = client.retry_delay(error, attempt, idempotent)
        if delay is None:
            error.attempts = attempt
            raise error
        yield Sleep(delay)


def _read_stream(client: BaseClient, response: httpx.Response, read: Reader[T], attempts: int) -> Exchange[T]:
    decoder = SSEDecoder()
    scrub = client._redactor()  # a payload is masked before it is parsed, as a whole body is
    try:
        chunks = yield Chunks(response)
        while (chunk := (yield NextChunk(chunks))) is not None:
            if feed_stream(decoder, read, chunk, scrub):
                return read.result()
        return finish_stream(decoder, read, scrub)
    except BaseException as e:
        failure = client._stream_failure(e, read, attempts)
        if failure is None:
            raise
        raise failure from e
