"""Client and AsyncClient: one request to ``POST /v1/responses``, streamed or not, with retries."""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Union

import httpx

from .. import __version__
from . import _settings
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    HaoeeError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from ._models import Response
from ._stream import SSEDecoder, StreamState, response_from_json

__all__ = ["DEFAULT_TIMEOUT", "AsyncClient", "Client"]


#: Connect quickly or fail; allow a long wait between bytes (reasoning models think silently).
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_WAIT = 60.0  # a longer Retry-After is reported, not slept through
RETRY_TRANSPORT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.RemoteProtocolError)
NOT_FOUND_CODES = frozenset({"model_not_found", "previous_response_not_found"})

Input = Union[str, Sequence[Any]]
MapResult = Union[Response, HaoeeError]


class _Base:
    """Everything the sync and async clients share: settings, request building, error mapping."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        model: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        headers: dict[str, str] | None = None,
    ) -> None:
        if max_retries < 0:
            raise ConfigurationError("max_retries must be 0 or more")
        # Explicit values only; the rest is resolved per request, so a key set later
        # (%haoee key, HAOEE_API_KEY) is picked up by a client made earlier.
        self._api_key = api_key
        self._base_url = base_url
        self._model = model
        self.timeout = _timeout(timeout)
        self.max_retries = max_retries
        self.headers = dict(headers or {})

    @property
    def base_url(self) -> str:
        return _settings.resolve_base_url(self._base_url)

    @property
    def model(self) -> str:
        return _settings.resolve_model(self._model)

    def __repr__(self) -> str:
        try:
            key = _settings.mask(_settings.resolve_api_key(self._api_key))
        except HaoeeError:
            key = "(not set)"
        return f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r}, api_key={key!r})"

    def _build(self, input: Input, model: str | None, stream: bool, params: dict[str, Any]) -> httpx.Request:
        if isinstance(input, dict):
            input = [input]
        if not isinstance(input, (str, list, tuple)):
            raise ConfigurationError(
                f"input must be a string or a list of messages, not {type(input).__name__}",
                hint="Pass the prompt text, or [{'role': 'user', 'content': '...'}]",
            )
        model_name = _settings.resolve_model(model or self._model)
        if not model_name.isascii() or not model_name.isprintable() or any(c.isspace() for c in model_name):
            raise ConfigurationError(
                f"The model name {model_name!r} has spaces or characters a model name cannot have",
                hint="Use the model's id, e.g. gpt-4.1 (`%haoee models` lists them)",
            )
        base_url = self.base_url
        _settings.check_transport(base_url)
        key = _settings.resolve_api_key(self._api_key)
        body: dict[str, Any] = {"model": model_name, "input": list(input) if isinstance(input, tuple) else input}
        body.update({name: value for name, value in params.items() if value is not None})
        if stream:
            body["stream"] = True
        headers = {
            "Authorization": _settings.authorization(key),
            "ModelName": model_name,  # Haoee's own clients send it; harmless elsewhere
            "Accept": "text/event-stream" if stream else "application/json",
            "User-Agent": f"haoee-jupyter/{__version__}",
            **self.headers,
        }
        try:
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise ConfigurationError(
                f"The request cannot be sent as JSON: {e}", hint="Pass only strings, numbers, lists and dicts"
            ) from e
        headers["Content-Type"] = "application/json"
        return httpx.Request("POST", f"{base_url}/responses", headers=headers, content=content)

    def _redact(self, text: str) -> str:
        try:
            return _settings.redact(text, _settings.resolve_api_key(self._api_key))
        except HaoeeError:
            return text

    def _scrub(self, error: HaoeeError) -> HaoeeError:
        """Remove the key from every text an error shows (a server may echo it back)."""
        for name in ("message", "code", "type", "param", "body"):
            if isinstance(getattr(error, name), str):
                setattr(error, name, self._redact(getattr(error, name)))
        error.args = (error.message,)
        return error

    def _transport_error(self, error: httpx.HTTPError, partial: Response | None = None) -> HaoeeError:
        url = self._redact(str(error.request.url)) if _has_request(error) else self.base_url
        detail = self._redact(str(error) or type(error).__name__)
        if isinstance(error, httpx.TimeoutException):
            phase = "connecting to" if isinstance(error, httpx.ConnectTimeout) else "waiting for"
            return APITimeoutError(f"Timed out {phase} {url} ({type(error).__name__})", partial=partial)
        if partial is not None:
            return APIConnectionError(f"The connection broke while the answer was streaming: {detail}", partial=partial)
        return APIConnectionError(f"Could not reach {url}: {detail}")

    def _status_error(self, response: httpx.Response, body: bytes) -> APIStatusError:
        status = response.status_code
        body = self._redact(body.decode("utf-8", "replace")).encode("utf-8")  # before any excerpt cuts it
        message, code, type_, param = _error_details(response, body)
        if 300 <= status < 400:
            message = f"The server redirected the request to {response.headers.get('location', 'another address')}"
        if status == 401:
            cls: type[APIStatusError] = AuthenticationError
        elif status == 403:
            cls = PermissionDeniedError
        elif status == 404 or code in NOT_FOUND_CODES:
            cls = NotFoundError
        elif status == 429:
            cls = RateLimitError
        elif status >= 500:
            cls = ServerError
        elif 400 <= status < 500:
            cls = BadRequestError
        else:
            cls = APIStatusError
        error = cls(
            message,
            status_code=status,
            code=code,
            type=type_,
            param=param,
            body=body[:2000].decode("utf-8", "replace"),
            hint=_HINTS.get(code or "") or _HINTS.get(str(status)),
        )
        self._scrub(error)  # the server may echo the key back, in any field
        error.retry_after = _retry_after(response)
        return error

    def _retry_delay(self, attempt: int, error: HaoeeError) -> float | None:
        """Seconds to wait before trying again, or None when this error is final."""
        if attempt >= self.max_retries:
            return None
        if isinstance(error, APIStatusError):
            if error.status_code not in RETRY_STATUSES:
                return None
            if error.retry_after is not None:
                return error.retry_after if error.retry_after <= MAX_RETRY_WAIT else None
        # Of transport failures, retry those where no answer had begun (refused, a stale
        # keep-alive connection closed without a response); a read timeout may mean the server
        # is busy answering, and we would pay twice.
        elif not isinstance(error.__cause__, RETRY_TRANSPORT_ERRORS):
            return None
        return float(min(8.0, 0.5 * 2**attempt) * random.uniform(0.75, 1.25))

    def _decode_json(self, response: httpx.Response, body: bytes) -> Response:
        content_type = response.headers.get("content-type", "")
        body = self._redact(body.decode("utf-8", "replace")).encode("utf-8")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as e:
            raise self._scrub(
                ProtocolError(
                    f"The server answered HTTP {response.status_code} with a body that is not JSON ({content_type or 'no content type'}): {_excerpt(body)}"
                )
            ) from e
        try:
            return response_from_json(data)
        except HaoeeError as e:
            self._scrub(e)
            raise


class Client(_Base):
    """A synchronous client for the Haoee Responses API.

    >>> from haoee_jupyter import Client
    >>> client = Client()                       # key from HAOEE_API_KEY
    >>> client.respond("Say hi in French").text
    'Bonjour !'
    >>> client.respond("Tell a story", stream=True, on_text=lambda d: print(d, end=""))

    Arguments: ``api_key``, ``base_url`` (with or without ``/v1``), ``model``,
    ``timeout`` (seconds, or an ``httpx.Timeout`` for separate connect/read limits),
    ``max_retries`` (on 429, 5xx and connection failures; never once a stream has begun),
    ``headers`` (extra HTTP headers).
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, **options: Any) -> None:
        super().__init__(api_key, base_url, **options)
        self._http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None  # a later call opens a new connection pool

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
        on_text: Callable[[str], Any] | None = None,
        **params: Any,
    ) -> Response:
        """Send one request; return the Response (raises a HaoeeError on failure).

        ``params`` are request body fields: ``instructions``, ``temperature``,
        ``max_output_tokens``, ``tools``, ``previous_response_id``, ``text``, ``reasoning``...
        With ``stream=True``, ``on_text(delta)`` is called for each piece of text as it arrives.
        """
        request = self._build(input, model, stream, params)
        response = self._send(request)
        try:
            if not stream or _whole_body(response):
                try:
                    body = response.read()
                except httpx.HTTPError as e:
                    raise self._transport_error(e) from e
                result = self._decode_json(response, body)
                if stream and on_text is not None and result.text:
                    on_text(result.text)  # a relay answered a stream request in one piece
                return result
            return self._read_stream(response, on_text)
        finally:
            response.close()

    def _send(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(self.max_retries + 1):
            try:
                response = self.http.send(request, stream=True)
            except httpx.HTTPError as e:
                error = self._transport_error(e)
                error.__cause__ = e
            else:
                if response.status_code < 300:
                    return response
                try:
                    body = response.read()
                except httpx.HTTPError:
                    body = b""
                finally:
                    response.close()
                error = self._status_error(response, body)
            delay = self._retry_delay(attempt, error)
            if delay is None:
                raise error
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_stream(self, response: httpx.Response, on_text: Callable[[str], Any] | None) -> Response:
        decoder, state = SSEDecoder(), StreamState(on_text)
        try:
            for chunk in response.iter_raw():
                for payload in decoder.feed(chunk):
                    if state.feed_payload(payload):
                        return state.result()
            for payload in decoder.finish():
                if state.feed_payload(payload):
                    break
            return state.result()
        except httpx.HTTPError as e:
            raise self._transport_error(e, state.partial()) from e
        except BaseException as e:
            # KeyboardInterrupt and friends: keep what arrived on the exception itself.
            if not isinstance(e, HaoeeError):
                e.partial = state.partial()  # type: ignore[attr-defined]
            else:
                self._scrub(e)
            raise

    def map(self, inputs: Iterable[Input], *, concurrency: int = 8, **params: Any) -> list[MapResult]:
        """Send many requests at once; results in input order, each failure kept in its place.

        >>> results = client.map(["Define entropy", "Define enthalpy"], concurrency=4)
        >>> [r.text if isinstance(r, Response) else f"error: {r}" for r in results]
        """
        items = list(inputs)

        def one(item: Input) -> MapResult:
            try:
                return self.respond(item, **params)
            except HaoeeError as e:
                return e

        pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items) or 1)))
        futures = [pool.submit(one, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException as e:
            # Ctrl-C: keep the answers already paid for, None where none came.
            e.partial = [f.result() if f.done() and not f.cancelled() else None for f in futures]  # type: ignore[attr-defined]
            raise
        finally:
            # On Ctrl-C, drop what has not started instead of waiting for every row.
            pool.shutdown(wait=False, cancel_futures=True)

    def models(self) -> list[str]:
        """Model ids from ``GET /v1/models``, where the server offers that list."""
        key = _settings.resolve_api_key(self._api_key)
        _settings.check_transport(self.base_url)
        try:
            response = self.http.get(f"{self.base_url}/models", headers={"Authorization": _settings.authorization(key)})
        except httpx.HTTPError as e:
            raise self._transport_error(e) from e
        return _model_ids(self, response, response.content)


class AsyncClient(_Base):
    """The same client for ``await``: ``await AsyncClient().respond("hi")``.

    >>> async with AsyncClient() as client:
    ...     answers = await client.map(["one", "two"], concurrency=2)
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, **options: Any) -> None:
        super().__init__(api_key, base_url, **options)
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

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
        on_text: Callable[[str], Any] | None = None,
        **params: Any,
    ) -> Response:
        """Like :meth:`Client.respond`, awaited."""
        request = self._build(input, model, stream, params)
        response = await self._send(request)
        try:
            if not stream or _whole_body(response):
                try:
                    body = await response.aread()
                except httpx.HTTPError as e:
                    raise self._transport_error(e) from e
                result = self._decode_json(response, body)
                if stream and on_text is not None and result.text:
                    on_text(result.text)
                return result
            return await self._read_stream(response, on_text)
        finally:
            await response.aclose()

    async def _send(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(self.max_retries + 1):
            try:
                response = await self.http.send(request, stream=True)
            except httpx.HTTPError as e:
                error = self._transport_error(e)
                error.__cause__ = e
            else:
                if response.status_code < 300:
                    return response
                try:
                    body = await response.aread()
                except httpx.HTTPError:
                    body = b""
                finally:
                    await response.aclose()
                error = self._status_error(response, body)
            delay = self._retry_delay(attempt, error)
            if delay is None:
                raise error
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_stream(self, response: httpx.Response, on_text: Callable[[str], Any] | None) -> Response:
        decoder, state = SSEDecoder(), StreamState(on_text)
        try:
            async for chunk in response.aiter_raw():
                for payload in decoder.feed(chunk):
                    if state.feed_payload(payload):
                        return state.result()
            for payload in decoder.finish():
                if state.feed_payload(payload):
                    break
            return state.result()
        except httpx.HTTPError as e:
            raise self._transport_error(e, state.partial()) from e
        except BaseException as e:
            if not isinstance(e, HaoeeError):
                e.partial = state.partial()  # type: ignore[attr-defined]
            else:
                self._scrub(e)
            raise

    async def map(self, inputs: Iterable[Input], *, concurrency: int = 8, **params: Any) -> list[MapResult]:
        """Like :meth:`Client.map`, awaited."""
        limit = asyncio.Semaphore(max(1, concurrency))

        async def one(item: Input) -> MapResult:
            async with limit:
                try:
                    return await self.respond(item, **params)
                except HaoeeError as e:
                    return e

        return list(await asyncio.gather(*(one(item) for item in inputs)))

    async def models(self) -> list[str]:
        """Model ids from ``GET /v1/models``, where the server offers that list."""
        key = _settings.resolve_api_key(self._api_key)
        _settings.check_transport(self.base_url)
        try:
            response = await self.http.get(
                f"{self.base_url}/models", headers={"Authorization": _settings.authorization(key)}
            )
        except httpx.HTTPError as e:
            raise self._transport_error(e) from e
        return _model_ids(self, response, response.content)


# --- helpers ---------------------------------------------------------------------------


def _timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, (int, float)) and value > 0:
        return httpx.Timeout(float(value), connect=min(float(value), 10.0))
    raise ConfigurationError(f"timeout must be a positive number of seconds or an httpx.Timeout, not {value!r}")


_HINTS = {
    "previous_response_not_found": "The conversation's earlier answer is gone (the server may have restarted); start the chat again with `%haoee reset NAME`",
    "model_not_found": "Check the model name (`%haoee models` lists them)",
    "404": "Check the base URL (HAOEE_BASE_URL, e.g. https://maas.haoee.com/v1) and the model name",
    "301": "Set HAOEE_BASE_URL to the address the server redirects to",
    "302": "Set HAOEE_BASE_URL to the address the server redirects to",
    "307": "Set HAOEE_BASE_URL to the address the server redirects to",
    "308": "Set HAOEE_BASE_URL to the address the server redirects to",
}


def _whole_body(response: httpx.Response) -> bool:
    """A stream request answered with a whole body: JSON from a relay, or an HTML page."""
    content_type = response.headers.get("content-type", "").lower()
    return "json" in content_type or "html" in content_type


def _has_request(error: httpx.HTTPError) -> bool:
    try:
        error.request  # noqa: B018 - raises RuntimeError when unset
    except RuntimeError:
        return False
    return True


def _excerpt(body: bytes, limit: int = 160) -> str:
    """A short one-line excerpt of a body: an HTML page's title and text, or plain text."""
    text = body.decode("utf-8", "replace")
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    if "<" in text and re.search(r"<(html|body|head|h1|center)\b", text, re.I):
        # A proxy's error page: its title says it all; otherwise its visible text.
        inner = re.sub(r"(?s)<(script|style|head)\b.*?</\1>", " ", text, flags=re.I)
        text = title.group(1) if title and title.group(1).strip() else re.sub(r"<[^>]+>", " ", inner)
    text = " ".join(text.split())
    if not text:
        return "(empty body)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_details(response: httpx.Response, body: bytes) -> tuple[str, str | None, str | None, str | None]:
    """The server's message, code, type and param from any error body we have seen."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, str):
            return error, None, None, None
        if isinstance(error, dict):
            message = error.get("message") or error.get("msg") or error.get("detail") or data.get("message")
            if message:
                code, type_, param = error.get("code"), error.get("type"), error.get("param")
                return (
                    " ".join(str(message).split()),
                    str(code) if code not in (None, "") else None,
                    str(type_) if type_ not in (None, "") else None,
                    str(param) if param not in (None, "") else None,
                )
    reason = response.reason_phrase or "error"
    if not body.strip():
        return reason, None, None, None
    excerpt = _excerpt(body)
    return excerpt if reason.lower() in excerpt.lower() else f"{reason}: {excerpt}", None, None, None


def _retry_after(response: httpx.Response) -> float | None:
    milliseconds = response.headers.get("retry-after-ms")
    try:
        if milliseconds is not None:
            return max(0.0, float(milliseconds) / 1000)
    except ValueError:
        pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _model_ids(client: _Base, response: httpx.Response, body: bytes) -> list[str]:
    if response.status_code >= 400:
        raise client._status_error(response, body)
    try:
        data = json.loads(body)
        return sorted(str(model["id"]) for model in data["data"])
    except (ValueError, KeyError, TypeError) as e:
        raise ProtocolError(f"The server's model list could not be read: {_excerpt(body)}") from e
