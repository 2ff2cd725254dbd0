"""What the sync and async clients share: settings, the one way a request is built, and every decision.

The clients themselves only do I/O (send, read, sleep). Everything that decides is here and
does none: which headers a request carries (:meth:`BaseClient.build_request`), whether a failure
is tried again and after how long (:meth:`BaseClient.retry_delay`), which error a status or a
broken connection becomes, and how a body or a stream is read (a :class:`~._reader.Reader`, in its own module).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, Union, get_args
from urllib.parse import urljoin, urlsplit

import httpx

from .._version import __version__
from . import _errors, _settings
from ._exceptions import APIConnectionError, APIStatusError, ConfigurationError, HaoeeError, ProtocolError
from ._files import link
from ._models import Response
from ._reader import JSONReader, Reader
from ._stream import SSEDecoder

__all__ = ["DEFAULT_TIMEOUT", "Api", "BaseClient", "Input", "JSONReader", "MapResult", "Reader", "link"]

#: Connect quickly or fail; allow a long wait between bytes (reasoning models think silently).
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)

#: The wire ``respond`` speaks: ``/v1/responses`` (the default), or ``/v1/chat/completions``.
Api = Literal["responses", "chat"]
Input = Union[str, Sequence[Any]]
MapResult = Union[Response, HaoeeError]
Files = Union[Mapping[str, Any], Sequence[tuple[str, Any]]]
OnText = Callable[[str], Any]
OnResult = Callable[[int, MapResult], Any]
#: ``BaseClient.redirect`` with the call's headers bound: ``(response, hops) -> next request or None``.
Redirect = Callable[[httpx.Response, int], Union[httpx.Request, None]]
Scrub = Callable[[str], str]
T = TypeVar("T")
MAX_REDIRECTS = 5  # a download link may hop to its storage once or twice; more is a loop


def make_timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return httpx.Timeout(float(value), connect=min(float(value), 10.0))
    raise ConfigurationError(f"timeout must be a positive number of seconds or an httpx.Timeout, not {value!r}")


class BaseClient:
    """Everything the sync and async clients share: settings, request building, decisions."""

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
    ) -> None:
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigurationError("max_retries must be a whole number, 0 or more")
        # Explicit values only; the rest is resolved per request, so a key set later
        # (HAOEE_API_KEY) is picked up by a client made earlier.
        self._api_key = api_key
        self._base_url = base_url
        self._model = model
        self.timeout = make_timeout(timeout)
        self.max_retries = max_retries
        self.headers = dict(headers or {})
        self.api: Api = check_api(api)

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
        try:
            base_url = self.base_url
        except HaoeeError:
            base_url = f"(not a URL: {self._base_url})"
        api = f", api={self.api!r}" if self.api != "responses" else ""
        return f"{type(self).__name__}(base_url={base_url!r}, model={self.model!r}{api}, api_key={key!r})"

    # --- the one request path ------------------------------------------------------------
    def build_request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        files: Files | None = None,
        data: Mapping[str, Any] | None = None,
        stream: bool = False,
        model: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """The exact request a call sends: URL, every header (the real key) and the body.

        ``path`` is relative to the base URL (``"/responses"``), or a whole URL; a URL on
        another origin (scheme, host and port) gets neither the key nor the client's extra
        ``headers``, only this call's ``headers``. ``json`` is sent as JSON; ``files`` (and ``data`` fields) as
        multipart; ``stream`` asks for server-sent events; ``model`` (else ``json["model"]`` or
        ``data["model"]``) goes in the ``ModelName`` header. Raises a ConfigurationError, and
        sends nothing, when the key, URL, model name or body cannot be sent.

        >>> request = client.build_request("POST", "/responses", json={"model": "gpt-4.1", "input": "hi"})
        >>> request.url, request.headers["ModelName"]
        (URL('https://maas.haoee.com/v1/responses'), 'gpt-4.1')
        """
        base_url = self.base_url
        if path.startswith(("http://", "https://")):
            url, own = path, _origin(link(path)) == _origin(base_url)
        else:
            url, own = base_url + "/" + path.lstrip("/"), True
        model_name = model or _field(json, "model") or _field(data, "model")
        request_headers = {
            "Accept": "text/event-stream" if stream else "application/json",
            "User-Agent": f"haoee-jupyter/{__version__}",
        }
        if own:  # the key goes to the configured server only, never to a download host
            _settings.check_transport(base_url)
            request_headers["Authorization"] = _settings.authorization(_settings.resolve_api_key(self._api_key))
            if model_name:
                check_model_name(model_name)
                request_headers["ModelName"] = model_name  # Haoee's own clients send it; harmless elsewhere
        content: bytes | None = None
        if json is not None:
            if files is not None or data is not None:
                raise ConfigurationError("A request has either a JSON body or form fields and files, not both")
            content = encode_json(json)
            request_headers["Content-Type"] = "application/json"
        if own:  # the client's extra headers may carry a relay's credentials too
            request_headers.update(self.headers)
        request_headers.update(headers or {})
        try:
            request = httpx.Request(method, url, headers=request_headers, content=content, files=files, data=data)
            if files is not None or data is not None:
                request.read()  # the multipart body, built once: a retry sends the same bytes
        except (httpx.InvalidURL, UnicodeError, TypeError, ValueError) as e:
            raise ConfigurationError(
                f"The request cannot be built: {e}", hint="Check the base URL, the extra headers and the files"
            ) from e
        return request

    def redirect(
        self, response: httpx.Response, hops: int, *, headers: Mapping[str, str] | None = None
    ) -> httpx.Request | None:
        """The request that follows a download's redirect, or None (not a redirect, or too many hops).

        Only downloads follow redirects (a link to storage may hop to a CDN). The next request is
        built anew, so the key goes only where :meth:`build_request` sends it: to the base URL's origin.
        """
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location or hops >= MAX_REDIRECTS:
            return None
        try:
            target = urljoin(str(response.request.url), location)
        except ValueError as e:
            raise ProtocolError(
                f"The server redirected the download to an address that is not a URL: {location[:120]!r}"
            ) from e
        request = self.build_request("GET", link(target), headers=headers)
        request.extensions["timeout"] = self.timeout.as_dict()
        return request

    # --- decisions -----------------------------------------------------------------------
    def retry_delay(self, error: HaoeeError, attempt: int, idempotent: bool = True) -> float | None:
        """Seconds to wait before sending again after ``attempt`` (1, 2, ...) failed; None when final.

        ``idempotent=False`` (a request that starts a billed job) is sent again only when it
        provably never reached the server (the connection was never made).
        """
        if attempt > self.max_retries or error.billing:
            return None
        cause = error.__cause__
        if isinstance(error, APIStatusError):
            if not idempotent or error.status_code not in _errors.RETRY_STATUSES:
                return None
            if error.retry_after is not None:
                return error.retry_after if error.retry_after <= _errors.MAX_RETRY_WAIT else None
        elif not isinstance(error, APIConnectionError):
            return None
        elif not (_errors.never_sent(cause) if not idempotent else _errors.unanswered(cause)):
            # A read timeout may mean the server is busy answering, and we would pay twice;
            # and once a byte of the answer has come, sending again could double it.
            return None
        return float(min(8.0, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.75, 1.25))

    def _redactor(self) -> Callable[[str], str] | None:
        """What removes the key from a stream's payloads (cheap: it looks for the key first)."""
        try:
            return _settings.redactor(_settings.resolve_api_key(self._api_key))
        except HaoeeError:
            return None

    def _redact(self, text: str) -> str:
        try:
            return _settings.redact(text, _settings.resolve_api_key(self._api_key))
        except HaoeeError:
            return text

    def _scrub(self, error: HaoeeError, attempts: int = 0) -> HaoeeError:
        """Remove the key from every text an error shows (a server may echo it back); count the tries."""
        for name in ("message", "code", "type", "param", "body", "hint"):
            if isinstance(getattr(error, name), str):
                setattr(error, name, self._redact(getattr(error, name)))
        error.args = (error.message,)
        error.attempts = max(error.attempts, attempts)
        return error

    def _url(self, error: httpx.HTTPError) -> str:
        if _errors.has_request(error):
            return self._redact(str(error.request.url))
        try:
            return self.base_url
        except HaoeeError:
            return "the server"

    def _transport_error(
        self, error: httpx.HTTPError, phase: str = "send", received: int = 0, partial: Response | None = None
    ) -> HaoeeError:
        mapped = _errors.transport_error(error, self._url(error), phase=phase, received=received, partial=partial)
        mapped.__cause__ = error
        return self._scrub(mapped)

    def _status_error(self, response: httpx.Response, body: bytes) -> APIStatusError:
        body = self._redact(body.decode("utf-8", "replace")).encode("utf-8")  # before any excerpt cuts it
        error = _errors.status_error(response, body)
        self._scrub(error)  # the server may echo the key back, in any field
        return error

    def _whole(self, read: Reader[T], response: httpx.Response, body: bytes, stream: bool) -> T:
        """The result from a whole body (asked for, or a relay's answer to a stream request)."""
        try:
            if read.raw:
                if body.lstrip()[:1] in (b"{", b"["):  # a job or a link as JSON; never a video's bytes
                    body = self._redact(body.decode("utf-8", "replace")).encode("utf-8")
                return read.content(response, body)
            data = self._decode_json(response, body)
            return read.whole(data) if stream else read.json(data)
        except HaoeeError as e:
            raise self._scrub(e) from e.__cause__

    def _decode_json(self, response: httpx.Response, body: bytes) -> Any:
        text = self._redact(body.decode("utf-8", "replace"))
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as e:
            content_type = response.headers.get("content-type", "") or "no content type"
            if _cut_off(text, e):
                raise ProtocolError(
                    f"The answer was cut off: its JSON stops after {len(body):,} bytes (HTTP {response.status_code})",
                    hint="The connection or a proxy cut the answer short; run it again",
                ) from e
            raise ProtocolError(
                f"The server answered HTTP {response.status_code} with a body that is not JSON ({content_type}): "
                f"{_errors.excerpt(text.encode('utf-8'))}"
            ) from e

    def _stream_failure(self, error: BaseException, read: Reader[Any], attempts: int) -> BaseException | None:
        """What to raise when reading a stream fails: a new error, or None to re-raise ``error`` as it is.

        KeyboardInterrupt and friends keep what arrived on themselves (``.partial``).
        """
        if isinstance(error, httpx.HTTPError):
            return self._transport_error(error, "stream", partial=read.partial())
        if isinstance(error, HaoeeError):
            self._scrub(error, attempts)
        else:
            error.partial = read.partial()  # type: ignore[attr-defined]
        return None


def feed_stream(decoder: SSEDecoder, read: Reader[Any], chunk: bytes, scrub: Scrub | None = None) -> bool:
    """Pass one chunk of a stream to the reader, the key removed from each payload; True once the stream is over."""
    for payload in decoder.feed(chunk):
        if read.event(payload if scrub is None else scrub(payload)):
            return True
    return False


def finish_stream(decoder: SSEDecoder, read: Reader[T], scrub: Scrub | None = None) -> T:
    """The connection closed: pass on a last frame that had no blank line after it, then the result."""
    for payload in decoder.finish():
        if read.event(payload if scrub is None else scrub(payload)):
            break
    return read.result()


def model_ids(data: Any) -> list[str]:
    """The ids of ``GET /v1/models``: ``{"data": [{"id": ...}, ...]}``."""
    try:
        return sorted(str(model["id"]) for model in data["data"])
    except (KeyError, TypeError, IndexError) as e:
        raise ProtocolError(
            f"The server's model list could not be read (it has no data[].id): {str(data)[:120]}"
        ) from e


def whole_body(response: httpx.Response) -> bool:
    """A stream request answered with a whole body: JSON from a relay, or an HTML page."""
    content_type = response.headers.get("content-type", "").lower()
    return "json" in content_type or "html" in content_type


def encode_json(body: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as e:
        raise ConfigurationError(
            f"The request cannot be sent as JSON: {e}", hint="Pass only strings, finite numbers, lists and dicts"
        ) from e


def check_api(api: Any) -> Api:
    if api not in get_args(Api):
        raise ConfigurationError(
            f"api must be 'responses' or 'chat', not {api!r}",
            hint="Use api='chat' for models served only at /v1/chat/completions",
        )
    return api  # type: ignore[no-any-return]


def check_model_name(name: str) -> None:
    if not name.isascii() or not name.isprintable() or any(c.isspace() for c in name):
        raise ConfigurationError(
            f"The model name {name!r} has spaces or characters a model name cannot have",
            hint="Use the model's id, e.g. gpt-4.1 (%haoee models lists them)",
        )


def _cut_off(text: str, error: Exception) -> bool:
    """JSON that stops in the middle: what a connection closed early leaves (not a page, not garbage)."""
    if not isinstance(error, json.JSONDecodeError) or text.lstrip()[:1] not in ("{", "["):
        return False
    # The error is at the very end, or a string runs to the end of the text.
    return error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string")


def _field(body: Mapping[str, Any] | None, name: str) -> str | None:
    value = body.get(name) if isinstance(body, Mapping) else None
    return value if isinstance(value, str) and value else None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def map_workers(concurrency: int, items: int) -> int:
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be a whole number, 1 or more, not {concurrency!r}")
    return min(concurrency, items)


def keep_partial(error: BaseException, results: list[MapResult | None]) -> None:
    try:
        error.partial = results  # type: ignore[attr-defined]
    except AttributeError:  # an exception type that takes no attributes
        pass
