"""AsyncClient: :class:`~._client.Client` for ``await``; the same request path, awaited I/O."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Generator, Iterable, Mapping
from typing import Any, TypeVar

import httpx

from ._base import (
    DEFAULT_TIMEOUT,
    Api,
    Input,
    JSONReader,
    MapResult,
    OnResult,
    OnText,
    keep_partial,
    map_workers,
    model_ids,
)
from ._calls import Call, Plan, Sleep, respond_call, single
from ._exceptions import HaoeeError
from ._exchange import Chunks, Close, NextChunk, ReadBody, Send, exchange
from ._media_methods import AsyncMediaMethods
from ._models import Response
from ._pool import Pool, ssl_context

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

    # --- the I/O of the shared plans ------------------------------------------------------
    async def _run(self, plan: Plan[T]) -> T:
        """Like :meth:`Client._run`: the same plans, awaited (a cancellation is thrown into the plan too)."""
        return await self._drive(plan, None)

    async def _call(self, call: Call[T]) -> T:
        http = self._pool.acquire()
        try:
            return await self._drive(exchange(self, call), http)
        finally:
            await self._release(http)

    async def _drive(self, plan: Generator[Any, Any, T], http: httpx.AsyncClient | None) -> T:
        outcome: Any = None
        failure: BaseException | None = None
        while True:
            try:
                step = plan.send(outcome) if failure is None else plan.throw(failure)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            except HaoeeError as e:
                self._scrub(e)  # the one boundary every error passes, as in Client._drive
                raise
            outcome = failure = None
            try:
                outcome = await self._perform(step, http)
            except BaseException as e:
                failure = e

    async def _perform(self, step: Any, http: httpx.AsyncClient | None) -> Any:
        """Do one step's I/O, awaited; nothing here decides."""
        if isinstance(step, NextChunk):
            return await anext(step.chunks, None)
        if isinstance(step, Call):
            return await self._call(step)
        if isinstance(step, Sleep):
            return await asyncio.sleep(step.seconds)
        if isinstance(step, Close):
            return await step.response.aclose()
        if isinstance(step, ReadBody):
            return await step.response.aread()
        if isinstance(step, Chunks):
            return step.response.aiter_bytes()
        assert isinstance(step, Send) and http is not None
        return await http.send(step.request, stream=True)

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
