"""Client: the I/O around the shared request path (send, read, sleep), and ``map``.

Everything that decides (headers, retries, errors, decoding) lives in ``_base``; each endpoint
is a module (``_responses``) that builds a body and a :class:`~._base.Reader`. AsyncClient
(``_async``) is the same class with awaits: the two differ only in how they wait.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

import httpx

from . import _responses
from ._async import AsyncClient
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

__all__ = ["DEFAULT_TIMEOUT", "AsyncClient", "Client"]

T = TypeVar("T")


class Client(BaseClient):
    """A synchronous client for the Haoee API.

    >>> from haoee_jupyter import Client
    >>> client = Client()                       # key from HAOEE_API_KEY
    >>> client.respond("Say hi in French").text
    'Bonjour !'
    >>> client.respond("Tell a story", stream=True, on_text=lambda d: print(d, end=""))

    Arguments: ``api_key``, ``base_url`` (with or without ``/v1``), ``model``,
    ``timeout`` (seconds, or an ``httpx.Timeout`` for separate connect/read limits),
    ``max_retries`` (on 429, 5xx and connections that broke before any answer; never once an
    answer has begun), ``headers`` (extra HTTP headers), ``transport`` (an httpx transport,
    e.g. ``httpx.MockTransport(handler)`` in tests).

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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(api_key, base_url, model=model, timeout=timeout, max_retries=max_retries, headers=headers)
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
        **params: Any,
    ) -> Response:
        """Send one request to ``POST /v1/responses``; return the Response (raises a HaoeeError on failure).

        ``params`` are request body fields: ``instructions``, ``temperature``,
        ``max_output_tokens``, ``tools``, ``previous_response_id``, ``text``, ``reasoning``...
        With ``stream=True``, ``on_text(delta)`` is called for each piece of text as it arrives,
        and ``on_reasoning(delta)`` for each piece of the reasoning summary.

        >>> client.respond("Define entropy", instructions="One sentence.", temperature=0.2).text
        """
        body = _responses.body(input, model or self._model, stream, params)
        read = _responses.ResponsesReader(on_text, on_reasoning)
        return self._request("POST", _responses.PATH, json=body, stream=stream, read=read)

    def map(
        self, inputs: Iterable[Input], *, concurrency: int = 8, on_result: OnResult | None = None, **params: Any
    ) -> list[MapResult]:
        """Send many requests at once; results in input order, each failure (a HaoeeError) kept in its place.

        ``on_result(index, result)`` is called in the calling thread as each one finishes (for a
        progress bar). On Ctrl-C the KeyboardInterrupt carries ``.partial``: the list so far,
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
        return self._request("GET", "/models", read=JSONReader(model_ids))

    # --- the request path ----------------------------------------------------------------
    def _request(
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
        """Send one request and read its answer with ``read``: how every endpoint talks to the server.

        An endpoint gives the method and path (relative to the base URL), a body (``json``, or
        ``files`` and ``data`` for multipart), ``stream=True`` for an SSE answer, and a
        :class:`~._base.Reader` that turns the JSON body (``read.json``) or each stream event
        (``read.event``, then ``read.result``) into its result. Headers, the key, timeouts,
        retries and the mapping of every failure to a HaoeeError happen here.

        ``idempotent=False`` is for a request that starts a billed job (creating a video): it
        is sent again only when the connection was never made, never once the server may have
        accepted it.

        >>> self._request("POST", "/images/generations", json={"model": m, "prompt": p}, read=ImagesReader())
        """
        request = self.build_request(
            method, path, json=json, files=files, data=data, stream=stream, model=model, headers=headers
        )
        request.extensions["timeout"] = self.timeout.as_dict()
        http = self._pool.acquire()
        try:
            response, attempts = self._send(http, request, idempotent)
            try:
                if not stream or whole_body(response):
                    try:
                        body = response.read()
                    except httpx.HTTPError as e:
                        raise self._transport_error(e, "body", response.num_bytes_downloaded) from e
                    return self._whole(read, response, body, stream)
                return self._read_stream(response, read, attempts)
            except HaoeeError as e:
                e.attempts = max(e.attempts, attempts)
                raise
            finally:
                response.close()
        finally:
            self._release(http)

    def _send(self, http: httpx.Client, request: httpx.Request, idempotent: bool) -> tuple[httpx.Response, int]:
        """Send until the answer begins with a success status; retries as ``retry_delay`` decides."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = http.send(request, stream=True)
            except httpx.HTTPError as e:
                error: HaoeeError = self._transport_error(e)
            else:
                if response.status_code < 300:
                    return response, attempt
                try:
                    body = response.read()
                except httpx.HTTPError:
                    body = b""
                finally:
                    response.close()
                error = self._status_error(response, body)
            delay = self.retry_delay(error, attempt, idempotent)
            if delay is None:
                error.attempts = attempt
                raise error
            time.sleep(delay)

    def _read_stream(self, response: httpx.Response, read: Reader[T], attempts: int) -> T:
        decoder = SSEDecoder()
        try:
            for chunk in response.iter_bytes():
                if feed_stream(decoder, read, chunk):
                    return read.result()
            return finish_stream(decoder, read)
        except BaseException as e:
            failure = self._stream_failure(e, read, attempts)
            if failure is None:
                raise
            raise failure from e

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
