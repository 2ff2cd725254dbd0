"""Request validation, error envelopes and the fault catalogue of the offline demo server.

Errors mirror the real API's wording where it is known (fixtures 12-14 in the shared
recordings); the HTTP layer turns an `ApiError` into a status line and a JSON body.

    >>> ApiError(400, "Missing required parameter: 'model'.", param="model").body()["error"]["param"]
    'model'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ApiError, check_number, invalid_type, missing

__all__ = [
    "CHAT_MODELS",
    "FAULTS",
    "FAULT_MODEL_PREFIX",
    "IMAGE_MODELS",
    "MIN_OUTPUT_TOKENS",
    "MODELS",
    "VIDEO_MODELS",
    "WEB_SEARCH_TOOLS",
    "ApiError",
    "ParsedRequest",
    "fault_error",
    "fault_for_model",
    "html_error_page",
    "is_reasoner",
    "normalize_fault",
    "parse_request",
]

FAULTS = (
    "429",
    "500",
    "502",
    "503",
    "401",
    "403",
    "404",
    "reset",
    "stall",
    "truncated",
    "malformed",
    "error-event",
    "failed",
)
"""Fault names accepted by `OfflineServer.inject()` and by the `fault-<name>` model names."""

FAULT_MODEL_PREFIX = "fault-"

CHAT_MODELS = ("gpt-4.1", "gpt-5.2", "deepseek-v4-flash", "qwen3-max", "offline-demo", "deepseek-reasoner")
IMAGE_MODELS = ("gpt-image-1", "gpt-image-2", "nano-banana-2")
VIDEO_MODELS = ("sora-2", "sora-2-pro")
MODELS = CHAT_MODELS + IMAGE_MODELS + VIDEO_MODELS
"""Model ids listed by `GET /v1/models`; any other model name is accepted too."""

_REASONER = re.compile(r"reasoner|thinking|(?:^|[-_/.])r1(?:$|[-_.])", re.IGNORECASE)


def is_reasoner(model: str) -> bool:
    """Whether a chat model streams `reasoning_content` first, as DeepSeek's reasoners do.

    >>> is_reasoner("deepseek-reasoner"), is_reasoner("deepseek-r1-0528"), is_reasoner("gpt-4.1")
    (True, True, False)
    """
    return bool(_REASONER.search(model))


WEB_SEARCH_TOOLS = frozenset(
    {"web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"}
)

MIN_OUTPUT_TOKENS = 16


def normalize_fault(name: str) -> str:
    """The canonical fault name for "429" or "fault-429"; ValueError names the known faults."""
    bare = name[len(FAULT_MODEL_PREFIX) :] if name.startswith(FAULT_MODEL_PREFIX) else name
    if bare not in FAULTS:
        raise ValueError(f"Unknown offline fault {name!r}; known faults: {', '.join(FAULTS)}.")
    return bare


def fault_for_model(model: Any) -> str | None:
    """The fault a `fault-<name>` model asks for, None for ordinary models."""
    if not isinstance(model, str) or not model.startswith(FAULT_MODEL_PREFIX):
        return None
    try:
        return normalize_fault(model)
    except ValueError:
        raise ApiError(
            400,
            f"Unknown offline fault model {model!r}. Known faults: {', '.join(FAULTS)}; "
            f"use the model name 'fault-<name>', e.g. 'fault-429'.",
            param="model",
            code="unknown_fault",
        ) from None


_HTML_TITLES = {
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
}


def html_error_page(status: int) -> str:
    """The page an nginx proxy in front of an API sends when the upstream fails."""
    title = _HTML_TITLES.get(status, f"{status} Error")
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


def fault_error(fault: str, model: str) -> ApiError:
    """The JSON error for the status-code faults (429, 401, 403, 404)."""
    if fault == "429":
        return ApiError(
            429,
            f"Rate limit reached for {model} (injected by the offline demo server). Please try again in 1s.",
            type="requests",
            code="rate_limit_exceeded",
            headers={"Retry-After": "1"},
        )
    if fault == "401":
        return ApiError(
            401,
            "Incorrect API key provided (injected by the offline demo server).",
            code="invalid_api_key",
        )
    if fault == "403":
        return ApiError(
            403,
            f"You are not allowed to use model {model!r} (injected by the offline demo server).",
            type="permission_error",
            code="permission_denied",
        )
    if fault == "404":
        return ApiError(
            404,
            f"The model '{model}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    raise ValueError(f"fault {fault!r} is not a JSON error fault")


@dataclass(frozen=True)
class ParsedRequest:
    """A validated `POST /v1/responses` body; `body` keeps the original for echoing."""

    body: Mapping[str, Any]
    model: str
    input: str | list[Any]
    stream: bool
    instructions: str | None
    max_output_tokens: int | None
    text_format: Mapping[str, Any]
    web_search: bool
    reasoning_summary: bool
    previous_response_id: str | None
    store: bool


def _text_format(body: Mapping[str, Any]) -> Mapping[str, Any]:
    text = body.get("text")
    if text is None:
        return {"type": "text"}
    if not isinstance(text, Mapping):
        raise invalid_type("text", "an object", text)
    fmt = text.get("format")
    if fmt is None:
        return {"type": "text"}
    if not isinstance(fmt, Mapping):
        raise invalid_type("text.format", "an object", fmt)
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise ApiError(
            400,
            f"Invalid value: {kind!r}. Supported values are: 'text', 'json_object', and 'json_schema'.",
            param="text.format.type",
            code="invalid_value",
        )
    if kind == "json_schema":
        for key in ("name", "schema"):
            if key not in fmt:
                raise missing(f"text.format.{key}")
        if not isinstance(fmt["schema"], Mapping):
            raise invalid_type("text.format.schema", "an object", fmt["schema"])
    return fmt


def _uses_web_search(body: Mapping[str, Any]) -> bool:
    tools = body.get("tools")
    if tools is None:
        return False
    if not isinstance(tools, list):
        raise invalid_type("tools", "an array", tools)
    if body.get("tool_choice") == "none":
        return False
    return any(isinstance(t, Mapping) and t.get("type") in WEB_SEARCH_TOOLS for t in tools)


def parse_request(body: Any) -> ParsedRequest:
    """Validate a request body the way the real API does, or raise `ApiError`."""
    if not isinstance(body, Mapping):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_type")
    model = body.get("model")
    if model is None:
        raise missing("model")
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    if "input" not in body or body["input"] is None:
        raise missing("input")
    input_value = body["input"]
    if not isinstance(input_value, (str, list)):
        raise invalid_type("input", "a string or an array of input items", input_value)
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise invalid_type("instructions", "a string", instructions)
    check_number(body, "temperature", 0, 2)
    check_number(body, "top_p", 0, 1)
    max_output_tokens = body.get("max_output_tokens")
    if max_output_tokens is not None:
        if not isinstance(max_output_tokens, int) or isinstance(max_output_tokens, bool):
            raise invalid_type("max_output_tokens", "an integer", max_output_tokens)
        if max_output_tokens < MIN_OUTPUT_TOKENS:
            raise ApiError(
                400,
                "Invalid 'max_output_tokens': integer below minimum value. Expected a value "
                f">= {MIN_OUTPUT_TOKENS}, but got {max_output_tokens} instead.",
                param="max_output_tokens",
                code="integer_below_min_value",
            )
    previous = body.get("previous_response_id")
    if previous is not None and not isinstance(previous, str):
        raise invalid_type("previous_response_id", "a string", previous)
    reasoning = body.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, Mapping):
        raise invalid_type("reasoning", "an object", reasoning)
    summary = (reasoning or {}).get("summary") or (reasoning or {}).get("generate_summary")
    return ParsedRequest(
        body=body,
        model=model,
        input=input_value,
        stream=body.get("stream") is True,
        instructions=instructions,
        max_output_tokens=max_output_tokens,
        text_format=_text_format(body),
        web_search=_uses_web_search(body),
        reasoning_summary=bool(summary),
        previous_response_id=previous,
        store=body.get("store") is not False,
    )
