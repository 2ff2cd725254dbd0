"""AsyncClient: :class:`~._client.Client` for ``await``; the same request path, awaited I/O."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import httpx

from . import _responses
from ._base import (
    DEFAULT_TIMEOUT,
    BaseClient,
    Files,
    Input,
    JSONReader,
    MapResult,
    OnResult,
    OnText,
    Reader,
    feed_stream,
    finish_stream,
    keep_partial,
    map_workers,
    model_ids,
    whole_body,
)
from ._exceptions import HaoeeError
from ._models import Response
from ._pool import Pool, ssl_context
from ._stream import SSEDecoder

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(BaseClient):
    """The same client for ``await``: ``await AsyncClient().respond("hi")``.

    >>> async with AsyncClient() as client:
    ...     answers = await client.map(["one", "two"], concurrency=2)

    Takes the same arguments as :class:`Client` (``transport`` is an ``httpx.AsyncBaseTransport``).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        model: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(api_key, base_url, model=model, timeout=timeout, max_retries=max_retries, headers=headers)
        self._pool: Pool[httpx.AsyncClient] = Pool(
            functools.partial(_async_http, transport), fixed=transport is not None
        )
        weakref.finalize(self, _drop_async_pool, self._pool)

    async def aclose(self) -> None:
        """Close the connections; the client opens new ones if it is used again."""
        for http in self._pool.detach():
            await http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def respond(
        self,
        input: Input,
        *,
        model: str | None = None,
        stream: bool = False,
        on_text: OnText | None = None,
        on_reasoning: OnText | None = None,
        **params: Any,
    ) -> Response:
        """Like :meth:`Client.respond`, awaited."""
        body = _responses.body(input, model or self._model, stream, params)
        read = _responses.ResponsesReader(on_text, on_reasoning)
        return await self._request("POST", _responses.PATH, json=body, stream=stream, read=read)

    async def map(
        self, inputs: Iterable[Input], *, concurrency: int = 8, on_result: OnResult | None = None, **params: Any
    ) -> list[MapResult]:
        """Like :meth:`Client.map`, awaited; on cancellation (or Ctrl-C) the exception carries ``.partial``."""
        items = list(inputs)
        results: list[MapResult | None] = [None] * len(items)
        if not items:
            return []
        workers = map_workers(concurrency, len(items))
        queue = iter(enumerate(items))  # shared by the workers: each takes the next item when free

        async def work() -> None:
            try:
                for index, item in queue:
                    try:
                        result: MapResult = await self.respond(item, **params)
                    except HaoeeError as e:
                        result = e
                    results[index] = result
                    if on_result is not None:
                        on_result(index, result)
            except BaseException as e:
                # A KeyboardInterrupt raised in a task leaves the event loop at once, past
                # gather and the handler below: it gets the list here.
                keep_partial(e, results)
                raise

        http = self._pool.acquire(workers)
        tasks = [asyncio.ensure_future(work()) for _ in range(workers)]
        try:
            await asyncio.gather(*tasks)
            return results  # type: ignore[return-value]
        except BaseException as e:
            for task in tasks:
                task.cancel()
            keep_partial(e, results)
            raise
        finally:
            await self._release(http)

    async def models(self) -> list[str]:
        """Model ids from ``GET /v1/models``, where the server offers that list."""
        return await self._request("GET", "/models", read=JSONReader(model_ids))

    # --- the request path ----------------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        *,
        read: Reader[T],
        json: Mapping[str, Any] | None = None,
        files: Files | None = None,
        data: Mapping[str, Any] | None = None,
        model: str | None = None,
        stream: bool = False,
        idempotent: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """Like :meth:`Client._request`, awaited: how every endpoint talks to the server."""
        request = self.build_request(
            method, path, json=json, files=files, data=data, stream=stream, model=model, headers=headers
        )
        request.extensions["timeout"] = self.timeout.as_dict()
        http = self._pool.acquire()
        try:
            response, attempts = await self._send(http, request, idempotent)
            try:
                if not stream or whole_body(response):
                    try:
                        body = await response.aread()
                    except httpx.HTTPError as e:
                        raise self._transport_error(e, "body", response.num_bytes_downloaded) from e
                    return self._whole(read, response, body, stream)
                return await self._read_stream(response, read, attempts)
            except HaoeeError as e:
                e.attempts = max(e.attempts, attempts)
                raise
            finally:
                await response.aclose()
        finally:
            await self._release(http)

    async def _send(
        self, http: httpx.AsyncClient, request: httpx.Request, idempotent: bool
    ) -> tuple[httpx.Response, int]:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await http.send(request, stream=True)
            except httpx.HTTPError as e:
                error: HaoeeError = self._transport_error(e)
            else:
                if response.status_code < 300:
                    return response, attempt
                try:
                    body = await response.aread()
                except httpx.HTTPError:
                    body = b""
                finally:
                    await response.aclose()
                error = self._status_error(response, body)
            delay = self.retry_delay(error, attempt, idempotent)
            if delay is None:
                error.attempts = attempt
                raise error
            await asyncio.sleep(delay)

    async def _read_stream(self, response: httpx.Response, read: Reader[T], attempts: int) -> T:
        decoder = SSEDecoder()
        try:
            async for chunk in response.aiter_bytes():
                if feed_stream(decoder, read, chunk):
                    return read.result()
            return finish_stream(decoder, read)
        except BaseException as e:
            failure = self._stream_failure(e, read, attempts)
            if failure is None:
                raise
            raise failure from e

    async def _release(self, http: httpx.AsyncClient) -> None:
        for replaced in self._pool.release(http):
            await replaced.aclose()


# --- helpers ---------------------------------------------------------------------------


def _async_http(transport: httpx.AsyncBaseTransport | None, limits: httpx.Limits | None) -> httpx.AsyncClient:
    if transport is not None:
        return httpx.AsyncClient(transport=transport, timeout=DEFAULT_TIMEOUT, follow_redirects=False)
    return httpx.AsyncClient(limits=limits or httpx.Limits(), verify=ssl_context(), timeout=DEFAULT_TIMEOUT)


_closing: set[asyncio.Task[None]] = set()


def _drop_async_pool(pool: Pool[httpx.AsyncClient]) -> None:
    """An AsyncClient was dropped: close its connections on the running loop, if any (best effort)."""
    clients = pool.detach()
    if not clients:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop to close them on; the sockets close as they are collected
    for http in clients:
        task = loop.create_task(http.aclose())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
