"""The error envelope of the offline server and the validators that speak the real API's words.

Wording follows the recorded errors (`Invalid type for 'x': expected ...`, `Missing required
parameter: 'x'.`, `... below minimum value ...`); the HTTP layer turns an `ApiError` into a
status line and a JSON body.

    >>> ApiError(400, "Missing required parameter: 'model'.", param="model").body()["error"]["param"]
    'model'
    >>> check_integer({"n": 0}, "n", 1, 10)
    Traceback (most recent call last):
    ...
    haoee_jupyter.offline._errors.ApiError: Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApiError",
    "check_choice",
    "check_integer",
    "check_number",
    "invalid_type",
    "invalid_value",
    "is_number",
    "missing",
]


@dataclass
class ApiError(Exception):
    """An error the server answers with `{"error": {message, type, param, code}}`."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def invalid_type(param: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
        param=param,
        code="invalid_type",
    )


def missing(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def _quoted_list(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def invalid_value(param: str, value: Any, supported: Iterable[str]) -> ApiError:
    return ApiError(
        400,
        f"Invalid value: {value!r}. Supported values are: {_quoted_list(supported)}.",
        param=param,
        code="invalid_value",
    )


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_bounds(param: str, value: float, low: float, high: float, kind: str) -> None:
    if value < low:
        raise ApiError(
            400,
            f"Invalid '{param}': {kind} below minimum value. Expected a value >= {low:g}, but got {value} instead.",
            param=param,
            code=f"{kind}_below_min_value",
        )
    if value > high:
        raise ApiError(
            400,
            f"Invalid '{param}': {kind} above maximum value. Expected a value <= {high:g}, but got {value} instead.",
            param=param,
            code=f"{kind}_above_max_value",
        )


def check_number(body: Mapping[str, Any], param: str, low: float, high: float) -> None:
    """A decimal between low and high, when present."""
    value = body.get(param)
    if value is None:
        return
    if not is_number(value):
        raise invalid_type(param, "a decimal", value)
    _check_bounds(param, value, low, high, "decimal")


def check_integer(body: Mapping[str, Any], param: str, low: int, high: float) -> int | None:
    """A whole number between low and high, when present; None when absent."""
    value = body.get(param)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_type(param, "an integer", value)
    _check_bounds(param, value, low, high, "integer")
    return value


def check_choice(body: Mapping[str, Any], param: str, choices: Iterable[str], default: str) -> str:
    """One of `choices` (a string), `default` when absent."""
    value = body.get(param)
    if value is None:
        return default
    options = tuple(choices)
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    if value not in options:
        raise invalid_value(param, value, options)
    return value
