"""Which endpoint answers which request, and what every generation request has in common.

Paths are accepted with and without the `/v1` prefix. A POST that generates something (a
response, a chat completion, an image, a video job) first takes an injected fault, if one is
queued: injected faults never hit listings, polls or downloads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import _api_chat, _api_images, _api_responses, _api_videos
from ._exchange import Disconnect, Reply, Request, StreamReply, check_auth, json_reply
from ._protocol import MODELS, ApiError
from ._state import ServerState

__all__ = ["MODELS_CREATED", "route"]

MODELS_CREATED = 1735689600  # 2025-01-01, a fixed date so listings are deterministic

AnyReply = Reply | StreamReply | Disconnect
_ROOT_TEXT = (
    "Haoee offline demo server: POST /v1/responses, /v1/chat/completions, /v1/images/generations, "
    "/v1/images/edits and /v1/videos with any Bearer key.\n"
)


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODELS_CREATED, "owned_by": "haoee-offline"}


def _list_models(state: ServerState, request: Request) -> Reply:
    check_auth(request)
    return json_reply(200, {"object": "list", "data": [_model(m) for m in MODELS]})


def _get_model(state: ServerState, request: Request, model_id: str) -> Reply:
    check_auth(request)
    return json_reply(200, _model(model_id))


def _generation(endpoint: Callable[..., AnyReply]) -> Callable[..., AnyReply]:
    def serve(state: ServerState, request: Request, **params: str) -> AnyReply:
        return endpoint(state, request, state.take_fault(), **params)

    return serve


_ID = r"(?P<{}>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], Callable[..., AnyReply]]] = [
    (method, re.compile(pattern.format(video_id=_ID.format("video_id")) + r"\Z"), handler)
    for method, pattern, handler in [
        ("GET", "/models", _list_models),
        ("GET", r"/models/(?P<model_id>.+)", _get_model),
        ("POST", "/responses", _generation(_api_responses.create_response)),
        ("GET", r"/responses/(?P<response_id>[^/]+)", _api_responses.get_response),
        ("POST", "/chat/completions", _generation(_api_chat.create_completion)),
        ("POST", "/images/generations", _generation(_api_images.generate)),
        ("POST", "/images/edits", _generation(_api_images.edit)),
        ("GET", r"/files/images/(?P<name>[^/]+)", _api_images.download),
        ("POST", "/videos", _generation(_api_videos.create)),
        ("GET", "/videos", _api_videos.list_videos),
        ("GET", "/videos/{video_id}", _api_videos.retrieve),
        ("DELETE", "/videos/{video_id}", _api_videos.delete),
        ("GET", "/videos/{video_id}/content", _api_videos.content),
        ("POST", "/videos/{video_id}/remix", _generation(_api_videos.remix)),
    ]
]


def route(state: ServerState, request: Request) -> AnyReply:
    """The reply for a request; raises ApiError for errors that are answered as JSON."""
    if request.path in ("/", "/v1"):
        return Reply(200, _ROOT_TEXT.encode(), "text/plain; charset=utf-8")
    path = request.path[3:] if request.path.startswith("/v1/") else request.path
    for method, pattern, handler in _ROUTES:
        match = pattern.match(path)
        if match is not None and method == request.method:
            return handler(state, request, **match.groupdict())
    raise ApiError(404, f"Invalid URL ({request.method} {request.path}).", code="unknown_url")
