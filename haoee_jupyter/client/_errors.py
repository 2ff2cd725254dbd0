"""From HTTP and transport failures to HaoeeErrors whose messages point the right way.

Everything here is pure: it reads a status, headers and a body (or an httpx exception) and
returns an error; the clients decide what to do with it (retry, raise) and remove the key.
"""

from __future__ import annotations

import ast
import email.utils
import json
import math
import re
import time
from typing import Any

import httpx

from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    HaoeeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from ._models import Response

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_WAIT = 60.0  # a longer Retry-After is reported, not slept through
MESSAGE_LIMIT = 200  # a server's message is cut to this many characters
NOT_FOUND_CODES = frozenset({"model_not_found", "previous_response_not_found"})

#: Codes and types that mean the account cannot pay for the call: trying again will not help.
BILLING_CODES = frozenset(
    {
        "insufficient_quota",
        "quota_not_enough",  # Haoee's own (media API)
        "insufficient_user_quota",  # one-api / new-api
        "insufficient_balance",
        "insufficient_funds",
        "billing_hard_limit_reached",
        "billing_not_active",
        "quota_exceeded",
        "credit_balance_too_low",
        "payment_required",
        "pre_consume_token_quota_failed",  # new-api: the call's cost could not be reserved
        "arrearage",  # DashScope: the account is in arrears
    }
)
# The same said in words, by providers that send no code (and by Chinese relays: balance
# too low, quota used up, in arrears, please top up).
BILLING_WORDS = re.compile(
    r"余额不足|额度不足|额度已用尽|额度已耗尽|额度用尽|额度已用完|欠费|请充值|"
    r"insufficient (?:balance|quota|credits?|funds)|exceeded your current quota|credit balance is too low|"
    r"billing (?:hard )?limit|billing is not active|payment required",
    re.I,
)
BILLING_HINT = (
    "Check your plan and balance on your Haoee account (or the provider behind the relay); "
    "running it again will not help until the account can pay for it"
)

_HINTS = {
    "previous_response_not_found": "The conversation's earlier answer is gone (the server may have restarted); start the chat again with %haoee reset NAME",
    "model_not_found": "Check the model name (%haoee models lists them)",
    "404": "Check the base URL (HAOEE_BASE_URL, e.g. https://maas.haoee.com/v1) and the model name",
    **dict.fromkeys(("301", "302", "307", "308"), "Set HAOEE_BASE_URL to the address the server redirects to"),
}
# Relays wrap the provider's error in their own words: "litellm.BadRequestError: OpenAIException - {...}",
# "Error code: 404 - {...}". Each of these prefixes is peeled off to reach the provider's message.
_WRAPPER = re.compile(r"^\s*(?:(?:litellm\.)?[A-Za-z_]*(?:Error|Exception)\s*(?::|-)\s*|Error code:?\s*\d{3}\s*-\s*)")
_RELAY_TAIL = re.compile(
    r"\.?\s*(?:Received Model Group=|Available Model Group Fallbacks=|LiteLLM Retried:|LiteLLM: model group ).*$", re.S
)


def is_billing(code: Any = None, type: Any = None, message: Any = None, status: int | None = None) -> bool:
    """Whether an error says the account's plan or balance is the cause."""
    names = {str(value).lower() for value in (code, type) if value}
    return status == 402 or bool(names & BILLING_CODES) or bool(BILLING_WORDS.search(str(message or "")))


def mark_billing(error: HaoeeError) -> HaoeeError:
    """Give a billing error the hint that says so; it is never retried."""
    if is_billing(error.code, error.type, error.message, error.status_code):
        error.billing = True
        error.hint = BILLING_HINT
    return error


def has_request(error: httpx.HTTPError) -> bool:
    try:
        error.request  # noqa: B018 - raises RuntimeError when unset
    except RuntimeError:
        return False
    return True


def never_sent(error: BaseException | None) -> bool:
    """A failure before the request left this machine: the server cannot have seen it."""
    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def unanswered(error: BaseException | None) -> bool:
    """A connection that broke before any byte of an answer came back (reset, closed unanswered)."""
    if isinstance(error, httpx.RemoteProtocolError):
        return "without sending a response" in str(error)
    return isinstance(error, (httpx.ReadError, httpx.WriteError, httpx.WriteTimeout)) or never_sent(error)


def transport_error(
    error: httpx.HTTPError, url: str, *, phase: str = "send", received: int = 0, partial: Response | None = None
) -> APIConnectionError:
    """``phase``: "send" (no answer yet), "body" (reading a whole body) or "stream" (reading a stream)."""
    detail = str(error) or type(error).__name__
    if phase == "stream":
        if isinstance(error, httpx.TimeoutException):
            return APITimeoutError(f"Timed out waiting for the rest of the streamed answer from {url}", partial=partial)
        return APIConnectionError(f"The connection broke while the answer was streaming: {detail}", partial=partial)
    if phase == "body":
        size = f"after {received:,} bytes" if received else "before its first byte"
        if isinstance(error, httpx.TimeoutException):
            return APITimeoutError(f"Timed out in the middle of the answer from {url} ({size})")
        return APIConnectionError(
            f"The answer was cut off {size}: {detail}",
            hint="The connection or a proxy cut the answer short; run it again",
        )
    if isinstance(error, httpx.TimeoutException):
        if isinstance(error, httpx.ConnectTimeout):
            return APITimeoutError(f"Timed out connecting to {url} ({type(error).__name__})")
        if isinstance(error, httpx.PoolTimeout):
            return APITimeoutError(f"Timed out waiting for a free connection to {url} ({type(error).__name__})")
        return APITimeoutError(f"Timed out waiting for {url} to answer ({type(error).__name__})")
    if isinstance(error, httpx.ConnectError):
        return APIConnectionError(f"Could not reach {url}: {detail}")
    if unanswered(error):
        return APIConnectionError(f"The connection to {url} broke before the answer began: {detail}")
    return APIConnectionError(f"The answer from {url} could not be read: {detail}")


def status_error(response: httpx.Response, body: bytes) -> APIStatusError:
    """The error for an HTTP error status; ``body`` must already have the key removed."""
    status = response.status_code
    message, code, type_, param = error_details(response, body)
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
    error.retry_after = retry_after(response)
    wait = error.retry_after
    # Said whenever the error reaches the caller: a longer wait is never slept through, and a
    # shorter one still holds when no retry was made (max_retries=0, a video create).
    if wait is not None and wait >= 1 and status in RETRY_STATUSES:
        error.hint = f"The server asks to wait {duration(wait)}; run it again after that"
    mark_billing(error)
    return error


def duration(seconds: float) -> str:
    """``120 s``, ``about 15 min``, ``about 3 h``."""
    if seconds < 600:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.0f} h"


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``), if it said."""
    headers = response.headers
    milliseconds = headers.get("retry-after-ms")
    try:
        if milliseconds is not None and math.isfinite(float(milliseconds)):
            return max(0.0, float(milliseconds) / 1000)
    except ValueError:
        pass  # not a number: as if absent
    # LiteLLM passes the provider's Retry-After on under a name of its own.
    value = headers.get("retry-after", headers.get("llm_provider-retry-after"))
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None  # NaN or inf is no answer


def error_details(response: httpx.Response, body: bytes) -> tuple[str, str | None, str | None, str | None]:
    """The server's message (the innermost one, when a relay wrapped it), code, type and param."""
    data = _loads(body)
    if isinstance(data, dict):
        found = _from_envelope(data)
        if found is not None:
            message, code, type_, param = found
            return innermost(message), _text(code), _text(type_), _text(param)
    reason = response.reason_phrase or "error"
    if not body.strip():
        return reason, None, None, None
    text = innermost(body.decode("utf-8", "replace"))
    return text if reason.lower() in text.lower() else f"{reason}: {text}", None, None, None


def innermost(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """The provider's own words inside a relay's wrapping, on one line, at most ``limit`` characters."""
    text = message
    for _ in range(6):  # each round peels one layer: a wrapper prefix, a JSON envelope, a page
        text = _RELAY_TAIL.sub("", text).strip()
        while (peeled := _WRAPPER.sub("", text, count=1)) != text:
            text = peeled.strip()
        if text[:1] in ("{", "["):
            data = _loads(text.encode("utf-8"), literal=True)
            found = _from_envelope(data) if isinstance(data, dict) else None
            if found is not None and found[0] != text:
                text = found[0]
                continue
        break
    if re.search(r"<(html|body|head|h1|center|title)\b", text, re.I):
        text = excerpt(text.encode("utf-8"), limit)
    return clip(" ".join(text.split()) or message.strip() or "no reason given", limit)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def excerpt(body: bytes, limit: int = 160) -> str:
    """A short one-line excerpt of a body: an HTML page's title and text, or plain text."""
    text = body.decode("utf-8", "replace")
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    if "<" in text and re.search(r"<(html|body|head|h1|center|title)\b", text, re.I):
        # A proxy's error page: its title says it all; otherwise its visible text.
        inner = re.sub(r"(?s)<(script|style|head)\b.*?</\1>", " ", text, flags=re.I)
        text = title.group(1) if title and title.group(1).strip() else re.sub(r"<[^>]+>", " ", inner)
    text = " ".join(text.split())
    if not text:
        return "(empty body)"
    return clip(text, limit)


def _from_envelope(data: dict[str, Any]) -> tuple[str, Any, Any, Any] | None:
    """``(message, code, type, param)`` from ``{"error": {...}}``, ``{"error": "..."}`` or a flat object."""
    error = data.get("error", data)
    if isinstance(error, str) and error.strip():
        return error, data.get("code"), data.get("type"), None
    if isinstance(error, dict):
        message = error.get("message") or error.get("msg") or error.get("detail") or data.get("message")
        if isinstance(message, (dict, list)):
            message = json.dumps(message, ensure_ascii=False)
        if message:
            return str(message), error.get("code"), error.get("type"), error.get("param")
    return None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _loads(body: bytes, literal: bool = False) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        pass
    if not literal or len(body) > 20_000:
        return None
    text = body.decode("utf-8", "replace").strip()
    try:  # JSON followed by a relay's own words
        return json.JSONDecoder().raw_decode(text)[0]
    except (ValueError, RecursionError):
        pass
    # Some relays print the provider's error as a Python dict: {'detail': 'Not Found'}.
    end = text.rfind("}")
    try:
        return ast.literal_eval(text[: end + 1]) if end > 0 else None
    except (ValueError, SyntaxError, RecursionError, MemoryError, TypeError):
        return None
