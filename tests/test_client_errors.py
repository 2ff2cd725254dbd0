"""Error messages that point the right way: how long a rate limit lasts, billing is not a retry,
a cut-off answer is not "could not reach", a relay's wrapping is peeled off, and in a notebook an
error reads as what happened, then what to do, with the tries already made.

Through the public Client against the loopback server of conftest.py.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from haoee_jupyter import (
    APIConnectionError,
    APIStatusError,
    BadRequestError,
    Client,
    HaoeeError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ResponseFailedError,
    ServerError,
)
from haoee_jupyter.client import _base, _client

KEY = "sk-errors-3b8e1f6a2c9d4e7f"
SSE = "text/event-stream; charset=utf-8"
FIXTURES = Path(__file__).parent / "fixtures" / "responses-api"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    # Retries happen at once: the waits are recorded, not slept.
    monkeypatch.setattr(_base, "random", SimpleNamespace(uniform=lambda a, b: 1.0))
    monkeypatch.setattr(_client, "time", SimpleNamespace(sleep=lambda seconds: None))


def client_for(server, **options: Any) -> Client:
    return Client(api_key=KEY, base_url=server.url, **options)


def answer(text: str = "x" * 5000) -> bytes:
    return json.dumps(
        {
            "id": "resp_1",
            "status": "completed",
            "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}],
        }
    ).encode()


def envelope(message: str, code: Any = None, type: Any = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type, "param": None, "code": code}}).encode()


def fails(server, *, stream: bool = False, **options: Any) -> HaoeeError:
    with pytest.raises(HaoeeError) as caught:
        client_for(server, **options).respond("hi", stream=stream)
    return caught.value


# --- rate limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("header,said", [("120", "120 s"), ("1800", "about 30 min"), ("7200", "about 120 min")])
def test_a_long_retry_after_says_how_long_the_server_asks_to_wait(http_server, header, said):
    http_server.add(
        status=429, body=envelope("Rate limit reached", "rate_limit_exceeded"), headers={"Retry-After": header}
    )
    error = fails(http_server)
    assert isinstance(error, RateLimitError) and error.retry_after == float(header)
    assert f"the server asks to wait {said}" in str(error).lower()
    assert len(http_server.requests) == 1  # not slept through, not sent again


def test_a_relays_retry_after_header_is_read_too(http_server):
    http_server.add(status=429, body=envelope("slow down"), headers={"llm_provider-retry-after": "300"})
    error = fails(http_server)
    assert error.retry_after == 300.0 and "300 s" in str(error)


# --- billing -------------------------------------------------------------------------------

BILLING = {
    "openai-insufficient_quota": (
        429,
        envelope(
            "You exceeded your current quota, please check your plan.", "insufficient_quota", "insufficient_quota"
        ),
    ),
    "billing_hard_limit_reached": (400, envelope("Billing hard limit has been reached", "billing_hard_limit_reached")),
    "billing_not_active": (429, envelope("Your account is not active.", None, "billing_not_active")),
    "quota_exceeded": (429, envelope("Quota exceeded", "quota_exceeded")),
    "insufficient_balance": (402, envelope("Insufficient balance", "insufficient_balance")),
    "one-api-chinese": (
        403,
        envelope("用户额度不足, 剩余额度: ＄0.000000 (request id: 2026120112)", None, "one_api_error"),
    ),
    "balance-chinese-500": (500, envelope("账户余额不足，请充值后再试", "500")),
    "anthropic-words": (
        400,
        envelope("Your credit balance is too low to access the API.", None, "invalid_request_error"),
    ),
}


@pytest.mark.parametrize("case", list(BILLING))
def test_billing_errors_say_to_check_the_plan_and_are_never_retried(http_server, case):
    status, body = BILLING[case]
    http_server.add(status=status, body=body)
    error = fails(http_server, max_retries=3)
    assert isinstance(error, APIStatusError) and error.status_code == status
    assert error.billing
    text = str(error)
    assert "plan and balance" in text and "will not help" in text
    assert "run it again in a moment" not in text and "Wait a moment" not in text
    assert len(http_server.requests) == 1
    assert "\n" not in text


def test_a_streamed_failure_for_quota_says_so_too(http_server):
    body = (FIXTURES / "15-openai-stream-error-event-then-failed.jsonl").read_bytes()
    frames = [b"data: " + line + b"\n\n" for line in body.splitlines() if line.strip()]
    http_server.add(status=200, body=frames, content_type=SSE)
    error = fails(http_server, stream=True)
    assert isinstance(error, ResponseFailedError) and error.billing
    assert "plan and balance" in str(error) and len(http_server.requests) == 1


def test_an_ordinary_rate_limit_is_not_billing(http_server):
    http_server.add(status=429, body=envelope("Rate limit reached for requests", "rate_limit_exceeded"))
    error = fails(http_server, max_retries=1)
    assert not error.billing and "plan and balance" not in str(error)
    assert len(http_server.requests) == 2


# --- a cut-off answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        # Content-Length promises 5000 more bytes than come, then the connection closes.
        dict(mode="close", headers={"Content-Length": str(len(answer()))}, body=[answer()[:1000]], end="fin"),
        # chunked, without the terminating chunk
        dict(mode="chunked", body=[answer()[:1000]], end="fin"),
        # no length at all: the body ends when the connection closes, in the middle of the JSON
        dict(mode="close", body=[answer()[:1000]]),
    ],
    ids=["content-length", "chunked", "close-delimited"],
)
def test_a_200_cut_off_mid_body_says_the_answer_was_cut_off(http_server, reply):
    http_server.add(status=200, **reply)
    error = fails(http_server, max_retries=3)
    assert isinstance(error, (APIConnectionError, ProtocolError))
    text = str(error)
    assert "cut off" in text and "Could not reach" not in text and "not JSON" not in text
    assert len(http_server.requests) == 1  # an answer had begun: never sent again


def test_a_body_that_is_simply_not_json_still_says_so(http_server):
    http_server.add(status=200, body=b"<html><title>Portal login</title></html>", content_type="text/html")
    error = fails(http_server)
    assert isinstance(error, ProtocolError) and "not JSON" in str(error) and "cut off" not in str(error)


def test_a_refused_connection_still_says_could_not_reach():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(APIConnectionError) as caught:
        Client(api_key=KEY, base_url=f"http://127.0.0.1:{port}").respond("hi")
    assert "Could not reach" in str(caught.value) and caught.value.attempts == 3


# --- a relay's wrapping ----------------------------------------------------------------------

# What LiteLLM answers (litellm 1.108) in front of a server that failed with an nginx page.
LITELLM_HTML = envelope(
    "litellm.InternalServerError: InternalServerError: OpenAIException - <html>\r\n<head><title>500 Internal Server "
    "Error</title></head>\r\n<body>\r\n<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx"
    "</center>\r\n</body>\r\n</html>\r\n\n\nLiteLLM: model group 'gpt-4.1' failed with the error above. No fallback "
    "was attempted.",
    "500",
    "internal_server_error",
)
LITELLM_JSON = envelope(
    'litellm.RateLimitError: RateLimitError: OpenAIException - {"error": {"message": "Rate limit reached for gpt-4.1 '
    '(requests). Please try again in 1s.", "type": "requests", "code": "rate_limit_exceeded"}}\n\nLiteLLM: model '
    "group 'gpt-4.1' failed with the error above.",
    "429",
)
LITELLM_PYDICT = envelope(
    "litellm.NotFoundError: NotFoundError: Hosted_vllmException - Error code: 404 - {'detail': 'Not Found'}. "
    "Received Model Group=QwQ-32B\nAvailable Model Group Fallbacks=None",
    "404",
)
NESTED = envelope(json.dumps({"error": {"message": json.dumps({"error": {"message": "The real reason."}})}}), "400")
LONG = envelope("litellm.BadRequestError: OpenAIException - " + "An overly long explanation. " * 40, "400")


@pytest.mark.parametrize(
    "status,body,innermost",
    [
        (500, LITELLM_HTML, "500 Internal Server Error"),
        (429, LITELLM_JSON, "Rate limit reached for gpt-4.1 (requests). Please try again in 1s."),
        (404, LITELLM_PYDICT, "Not Found"),
        (400, NESTED, "The real reason."),
        (400, LONG, "An overly long explanation."),
    ],
    ids=["litellm-html", "litellm-json", "litellm-python-dict", "nested-json-strings", "long"],
)
def test_a_relayed_error_shows_the_innermost_message(http_server, status, body, innermost):
    http_server.add(status=status, body=body)
    error = fails(http_server, max_retries=0)
    assert error.message.startswith(innermost)
    assert len(error.message) <= 200
    text = str(error)
    for wrapper in ("litellm", "OpenAIException", "Exception -", "<html", "<center>", "Model Group", "LiteLLM"):
        assert wrapper not in text, (wrapper, text)
    assert f"[HTTP {status}]" in text and f"{status}, {status}" not in text  # the code equal to the status is said once
    assert "\n" not in text


def test_a_code_other_than_the_status_is_shown(http_server):
    http_server.add(status=400, body=envelope("Bad value", "decimal_below_min_value"))
    assert "[HTTP 400, decimal_below_min_value]" in str(fails(http_server))


# --- how an error reads in a notebook --------------------------------------------------------


def test_what_happened_then_what_to_do_with_the_tries_made(http_server):
    http_server.add(status=503, body=envelope("The engine is overloaded", type="server_error"))
    error = fails(http_server, max_retries=2)
    assert isinstance(error, ServerError) and error.attempts == 3 and len(http_server.requests) == 3
    what, todo = error._render_traceback_()
    assert what == "ServerError: The engine is overloaded [HTTP 503] (tried 3 times)"
    assert todo.lstrip("→ ") == error.hint and "run it again" in todo
    assert str(error) == f"The engine is overloaded [HTTP 503] (tried 3 times). {error.hint}"
    assert error.lines() == [what.removeprefix("ServerError: "), error.hint]


def test_one_try_is_not_announced(http_server):
    http_server.add(status=400, body=envelope("Unknown parameter: 'foo'", "unknown_parameter"))
    error = fails(http_server)
    assert isinstance(error, BadRequestError) and error.attempts == 1 and "tried" not in str(error)
    assert error.partial is None


def test_an_error_without_a_hint_is_one_line_in_a_notebook_too():
    error = HaoeeError("Something broke.", hint="")
    assert error._render_traceback_() == ["HaoeeError: Something broke."] and str(error) == "Something broke."


def test_a_key_echoed_in_a_relayed_error_is_hidden(http_server):
    http_server.add(status=403, body=envelope(f"litellm.AuthenticationError: OpenAIException - bad key {KEY}", "403"))
    error = fails(http_server)
    assert isinstance(error, PermissionDeniedError)
    shown = str(error) + repr(error) + "\n".join(error._render_traceback_()) + str(error.body)
    assert KEY not in shown and KEY[:8] not in shown
