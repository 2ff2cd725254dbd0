"""``--dry-run``: the exact HTTP request a call would send, the key masked, nothing sent.

text = request_text(prepared, state)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..client import _settings
from ..client._exceptions import MissingAPIKeyError
from ._core import Prepared, chat_body, endpoint

if TYPE_CHECKING:
    from ._state import ShellState


def request_text(prepared: Prepared, state: ShellState) -> str:
    """The exact HTTP request a call would send: method and URL, every header (the key masked)
    and the JSON body (long ``data:`` URLs shortened)."""
    from ..client import _responses

    client = state.client()
    fields = {key: value for key, value in prepared.body.items() if key not in ("model", "input")}
    body = _responses.body(
        prepared.body["input"], prepared.body["model"], prepared.stream, fields
    )  # as respond builds it
    if prepared.options.api == "chat":
        body = chat_body(prepared)
    path = endpoint(prepared)
    try:
        request = client.build_request("POST", path, json=body, stream=prepared.stream)
        key = None
    except MissingAPIKeyError:
        # Show the request all the same, with a stand-in key, and say that none is set.
        stand_in = type(client)(api_key="not-set", base_url=client.base_url)
        request = stand_in.build_request("POST", path, json=body, stream=prepared.stream)
        key = "(not set: run %haoee key)"
    headers = []
    for raw_name, raw_value in request.headers.raw:  # as sent, with the names' own capitals
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name.lower() == "authorization":
            value = key or "Bearer " + _settings.mask(value)
        headers.append(f"{name}: {value}")
    shown = _shorten(json.loads(request.content))
    return "\n".join([f"{request.method} {request.url}", *headers, "", json.dumps(shown, indent=2, ensure_ascii=False)])


def _shorten(value: Any) -> Any:
    """Data URLs are long: show their start and size."""
    if isinstance(value, str) and value.startswith("data:") and len(value) > 80:
        return f"{value[:40]}… ({len(value):,} characters)"
    if isinstance(value, list):
        return [_shorten(item) for item in value]
    if isinstance(value, dict):
        return {key: _shorten(item) for key, item in value.items()}
    return value
