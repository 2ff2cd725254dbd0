"""AsyncClient: :class:`~._client.Client` for ``await``; the same request path, awaited I/O."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import httpx

from ._base import (
    DEFAULT_TIMEOUT,
    Api,
    Files,
    Input,
    JSONReader,
    MapResult,
    OnResult,
    OnText,
    Reader,
    Redirect,
    feed_stream,
    finish_stream,
    keep_partial,
    map_workers,
    model_ids,
    whole_body,
)
from ._calls import Call, Plan, Sleep, respond_call, single
from ._exceptions import HaoeeError
from ._media_methods import AsyncMediaMethods
from ._models import Response
from ._pool import Pool, ssl_context
from ._stream import SSEDecoder

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(AsyncMediaMethods):
    """The same client for ``await``: ``await AsyncClient().respond("hi")``.

    >>> async with AsyncClient() as client:
    ...     answers = await client.map(["one", "two"], concurrency=2)

    Takes the same arguments as :class:`Client` (``transport`` is an ``httpx.AsyncBaseTransport``)
    and has the same methods, awaited: ``await client.generate_image("A fox")``.
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
        api: Api = "responses",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            api_key, base_url, model=model, timeout=timeout, max_retries=max_retries, headers=headers, api=api
        )
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
        api: Api | None = None,
        **params: Any,
    ) -> Response:
        """Like :meth:`Client.respond`, awaited (``api="chat"`` too)."""
        call = respond_call(
            input,
            model=model or self._model,
            stream=stream,
            on_text=on_text,
            on_reasoning=on_reasoning,
            api=api or self.api,
            params=params,
        )
        return await self._run(single(call))

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
        return await self._run(single(Call("GET", "/models", read=JSONReader(model_ids))))

    # --- the request path ----------------------------------------------------------------
    async def _run(self, plan: Plan[T]) -> T:
        """Like :meth:`Client._run`: the same plans, awaited (a cancellation is thrown into the plan too)."""
        outcome: Any = None
        failure: BaseException | None = None
        while True:
            try:
                step = plan.send(outcome) if failure is None else plan.throw(failure)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            except HaoeeError as e:
                # The one boundary every public method's error passes: whatever built it (a
                # plan, a reader, the request path), the key an answer echoed is removed here.
                self._scrub(e)
                raise
            outcome = failure = None
            try:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                else:
                    outcome = await self._call(step)
            except BaseException as e:
                failure = e

    async def _call(self, call: Call[T]) -> T:
        return await self._request(
            call.method,
            call.path,
            read=call.read,
            json=call.json,
            files=call.files,
            data=call.data,
            model=call.model,
            stream=call.stream,
            idempotent=call.idempotent,
            headers=call.headers,
            follow_redirects=call.follow_redirects,
        )

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
        follow_redirects: bool = False,
    ) -> T:
        """Like :meth:`Client._request`, awaited: how every endpoint talks to the server."""
        request = self.build_request(
            method, path, json=json, files=files, data=data, stream=stream, model=model, headers=headers
        )
        request.extensions["timeout"] = self.timeout.as_dict()
        follow = functools.partial(self.redirect, headers=headers) if follow_redirects else None
        http = self._pool.acquire()
        try:
            response, attempts = await self._send(http, request, idempotent, follow)
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
        self, http: httpx.AsyncClient, request: httpx.Request, idempotent: bool, follow: Redirect | None = None
    ) -> tuple[httpx.Response, int]:
        attempt = hops = 0
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
                hop = follow(response, hops) if follow is not None else None
                if hop is not None:
                    request, hops, attempt = hop, hops + 1, attempt - 1  # a redirect is not a failed try
                    continue
                error = self._status_error(response, body)
            delay = self.retry_delay(error, attempt, idempotent)
            if delay is None:
                error.attempts = attempt
                raise error
            await asyncio.sleep(delay)

    async def _read_stream(self, response: httpx.Response, read: Reader[T], attempts: int) -> T:
        decoder = SSEDecoder()
        scrub = self._redactor()  # a payload is masked before it is parsed, as a whole body is
        try:
            async for chunk in response.aiter_bytes():
                if feed_stream(decoder, read, chunk, scrub):
                    return read.result()
            return finish_stream(decoder, read, scrub)
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
