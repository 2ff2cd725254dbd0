"""Client: the I/O around the shared request path (send, read, sleep), and ``map``.

Everything that decides (headers, retries, errors, decoding) lives in ``_base`` and in the
plan of one request (``_exchange``), whose steps ``_drive`` performs; each endpoint
is a module (``_responses``, ``_chat``, ``_images``, ``_videos``) that builds a body and a
:class:`~._reader.Reader`, and a call of several requests (an image link, a video job) is a plan
of steps (``_calls``) that ``_run`` drives. AsyncClient (``_async``) is the same class with
awaits: the two differ only in how they wait.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Generator, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

import httpx

from ._async import AsyncClient
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
from ._media_methods import MediaMethods
from ._models import Response
from ._pool import Pool, ssl_context

__all__ = ["DEFAULT_TIMEOUT", "AsyncClient", "Client"]

T = TypeVar("T")


class Client(MediaMethods):
    """A synchronous client for the Haoee API.

    >>> from haoee_jupyter import Client
    >>> client = Client()                       # key from HAOEE_API_KEY
    >>> client.respond("Say hi in French").text
    'Bonjour !'
    >>> client.respond("Tell a story", stream=True, on_text=lambda d: print(d, end=""))
    >>> client.generate_image("A watercolor fox")[0].save("fox")
    >>> client.generate_video("A paper boat on a river", on_progress=print).save("boat")

    Arguments: ``api_key``, ``base_url`` (with or without ``/v1``), ``model``,
    ``timeout`` (seconds, or an ``httpx.Timeout`` for separate connect/read limits),
    ``max_retries`` (on 429, 5xx and connections that broke before any answer; never once an
    answer has begun, and never for a request that starts a video job), ``headers`` (extra HTTP
    headers, sent to the API's own origin only), ``api`` (``"responses"``, or ``"chat"`` for
    models served only at ``/v1/chat/completions``), ``transport`` (an httpx transport, e.g.
    ``httpx.MockTransport(handler)`` in tests).

    Methods: :meth:`respond`, :meth:`map`, :meth:`models`; images: :meth:`generate_image`;
    video: :meth:`generate_video` or its steps :meth:`create_video`, :meth:`wait_video`,
    :meth:`download_video`, and :meth:`retrieve_video`, :meth:`remix_video`, :meth:`list_videos`.

    One connection pool serves every call and thread; ``close()`` (or ``with Client() as c:``)
    closes it, and a closed client opens a new one when used again. Dropping the client closes it too.
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            api_key, base_url, model=model, timeout=timeout, max_retries=max_retries, headers=headers, api=api
        )
        self._pool: Pool[httpx.Client] = Pool(functools.partial(_sync_http, transport), fixed=transport is not None)
        weakref.finalize(self, _close_pool, self._pool)  # the pool does not refer back to the client

    def close(self) -> None:
        """Close the connections; the client opens new ones if it is used again."""
        _close_pool(self._pool)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def respond(
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
        """Send one request to ``POST /v1/responses``; return the Response (raises a HaoeeError on failure).

        ``params`` are request body fields: ``instructions``, ``temperature``,
        ``max_output_tokens``, ``tools``, ``previous_response_id``, ``text``, ``reasoning``...
        With ``stream=True``, ``on_text(delta)`` is called for each piece of text as it arrives,
        and ``on_reasoning(delta)`` for each piece of the reasoning summary; without it (or when
        a relay answers in one piece) each is called once, with the whole text and reasoning.

        ``api="chat"`` (default: the client's ``api``) sends the same call to
        ``/v1/chat/completions`` instead, ``instructions`` as a system message, streamed with
        usage; the answer is the same Response (``finish_reason: "length"`` as ``incomplete``, a
        model's ``reasoning_content`` to ``on_reasoning`` and ``.reasoning``). That wire has no
        ``previous_response_id``: pass the earlier messages in ``input``.

        >>> client.respond("Define entropy", instructions="One sentence.", temperature=0.2).text
        >>> client.respond("Define entropy", model="deepseek-reasoner", api="chat", stream=True).reasoning
        """
        call = respond_call(
            input,
            model=model or self._model,
            stream=stream,
            on_text=on_text,
            on_reasoning=on_reasoning,
            api=api or self.api,
            params=params,
        )
        return self._run(single(call))

    def map(
        self, inputs: Iterable[Input], *, concurrency: int = 8, on_result: OnResult | None = None, **params: Any
    ) -> list[MapResult]:
        """Send many requests at once; results in input order, each failure (a HaoeeError) kept in its place.

        ``params`` are those of :meth:`respond` (``api="chat"`` too). ``on_result(index, result)``
        is called in the calling thread as each one finishes (for a progress bar). On Ctrl-C the KeyboardInterrupt carries ``.partial``: the list so far,
        with ``None`` where nothing had finished.

        >>> results = client.map(["Define entropy", "Define enthalpy"], concurrency=4)
        >>> [r.text if isinstance(r, Response) else f"error: {r}" for r in results]
        """
        items = list(inputs)
        results: list[MapResult | None] = [None] * len(items)
        if not items:
            return []
        workers = map_workers(concurrency, len(items))

        def one(item: Input) -> MapResult:
            try:
                return self.respond(item, **params)
            except HaoeeError as e:
                return e

        http = self._pool.acquire(workers)  # the pool is sized (built at most once) before any thread starts
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="haoee-map")
        try:
            futures = {executor.submit(one, item): index for index, item in enumerate(items)}
            try:
                for future in as_completed(futures):
                    index = futures[future]
                    results[index] = future.result()
                    if on_result is not None:
                        on_result(index, results[index])  # type: ignore[arg-type]
            except BaseException as e:
                # Ctrl-C: keep the answers already paid for, None where none came.
                for future, index in futures.items():
                    if results[index] is None and future.done() and not future.cancelled() and not future.exception():
                        results[index] = future.result()
                keep_partial(e, results)
                raise
            return results  # type: ignore[return-value]
        finally:
            # On Ctrl-C, drop what has not started instead of waiting for every row.
            executor.shutdown(wait=False, cancel_futures=True)
            self._release(http)

    def models(self) -> list[str]:
        """Model ids from ``GET /v1/models``, where the server offers that list."""
        return self._run(single(Call("GET", "/models", read=JSONReader(model_ids))))

    # --- the I/O of the shared plans ------------------------------------------------------
    def _run(self, plan: Plan[T]) -> T:
        """Drive a plan (``_calls``): send each Call, sleep each Sleep, throw each failure back into it."""
        return self._drive(plan, None)

    def _call(self, call: Call[T]) -> T:
        """One request, its steps (``_exchange``) performed on a connection of the pool."""
        http = self._pool.acquire()
        try:
            return self._drive(exchange(self, call), http)
        finally:
            self._release(http)

    def _drive(self, plan: Generator[Any, Any, T], http: httpx.Client | None) -> T:
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
                outcome = self._perform(step, http)
            except BaseException as e:  # Ctrl-C too: the plan keeps what arrived, names the job
                failure = e

    def _perform(self, step: Any, http: httpx.Client | None) -> Any:
        """Do one step's I/O, blocking; nothing here decides."""
        if isinstance(step, NextChunk):
            return next(step.chunks, None)
        if isinstance(step, Call):
            return self._call(step)
        if isinstance(step, Sleep):
            return time.sleep(step.seconds)
        if isinstance(step, Close):
            return step.response.close()
        if isinstance(step, ReadBody):
            return step.response.read()
        if isinstance(step, Chunks):
            return step.response.iter_bytes()
        assert isinstance(step, Send) and http is not None
        return http.send(step.request, stream=True)

    def _release(self, http: httpx.Client) -> None:
        for replaced in self._pool.release(http):
            replaced.close()


# --- helpers ---------------------------------------------------------------------------


def _sync_http(transport: httpx.BaseTransport | None, limits: httpx.Limits | None) -> httpx.Client:
    if transport is not None:
        return httpx.Client(transport=transport, timeout=DEFAULT_TIMEOUT, follow_redirects=False)
    return httpx.Client(limits=limits or httpx.Limits(), verify=ssl_context(), timeout=DEFAULT_TIMEOUT)


def _close_pool(pool: Pool[httpx.Client]) -> None:
    for http in pool.detach():
        http.close()
