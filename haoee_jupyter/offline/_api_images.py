"""`POST /v1/images/generations`, `POST /v1/images/edits` and the download URLs they answer with.

Streamed (`stream: true`), each image sends `partial_images` partial events (the top part of
the picture drawn, the rest grey) and then one `completed` event with its usage; the input
tokens are counted on the first image only, so the usages add up to the non-streamed answer.
Event names are `image_generation.*` for generations and `image_edit.*` for edits.

Faults: the status faults answer as everywhere; `failed` is a content-policy refusal (400
`moderation_blocked`), `error-event` a 500 (streamed: an `error` event). In a stream the
transport faults strike after the first event.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from ._errors import ApiError
from ._exchange import (
    Disconnect,
    Frame,
    Reply,
    Request,
    StreamReply,
    broken_sse,
    check_auth,
    error_reply,
    json_reply,
    sse,
)
from ._faults import plain_fault_reply, status_fault_reply, stream_ending, until_deltas
from ._images import ImageRequest, form_fields, form_inputs, json_inputs, parse_image_request
from ._png import draw_png
from ._protocol import fault_for_model
from ._state import ServerState

__all__ = ["download", "edit", "generate"]

# Drawing takes time on a real server: each image event waits this many latency units.
_IMAGE_PAUSE = 5.0
_BAD_JSON = "We could not parse the JSON body of your request. Send a JSON object with at least 'prompt'."


def generate(state: ServerState, request: Request, injected: str | None) -> Reply | StreamReply | Disconnect:
    return _serve(state, request, injected, edit=False)


def edit(state: ServerState, request: Request, injected: str | None) -> Reply | StreamReply | Disconnect:
    return _serve(state, request, injected, edit=True)


def download(state: ServerState, request: Request, name: str) -> Reply:
    """The bytes behind an answer's `url`; no key needed, as for the real signed URLs."""
    found = state.images.get(name.rsplit(".", 1)[0])
    if found is None:
        raise ApiError(404, f"No offline image named {name!r}; images are kept for the latest 64 answers.")
    data, mime = found
    return Reply(200, data, mime, {"Cache-Control": "private, max-age=3600"})


def _fields(request: Request, edit: bool) -> tuple[Mapping[str, Any], tuple[bytes, ...]]:
    """The request's fields and input images, from a multipart form or a JSON body."""
    form = request.form
    if form is not None:
        fields = form_fields(form)
        return fields, form_inputs(form) if edit else ()
    body, parsed = request.parsed_json
    if not parsed or not isinstance(body, Mapping):
        raise ApiError(400, _BAD_JSON if parsed or not edit else "Send the edit as multipart/form-data.")
    inputs = json_inputs(body)
    if edit and not inputs:
        raise ApiError(400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    return body, inputs


def _serve(
    state: ServerState, request: Request, injected: str | None, *, edit: bool
) -> Reply | StreamReply | Disconnect:
    fault = injected
    if fault is None:
        check_auth(request)
    try:
        fields, inputs = _fields(request, edit)
        if fault is None:
            fault = fault_for_model(fields.get("model"))
        image_request = parse_image_request(fields, inputs=inputs, edit=edit)
    except ApiError:
        if fault is None:
            raise
        # A fault (injected or asked for by the model) must not depend on a valid body.
        image_request = parse_image_request({"prompt": ""}, inputs=(), edit=edit)
    if fault is not None:
        status = status_fault_reply(fault, image_request.model)
        if status is not None:
            return status
    if image_request.stream:
        return _stream(state, image_request, fault)
    if fault in ("failed", "error-event"):
        return error_reply(_fault_error(fault))
    answer = _answer(state, image_request)
    if fault is not None:
        return plain_fault_reply(fault, answer)
    return json_reply(200, answer, delay=_IMAGE_PAUSE)


def _fault_error(fault: str) -> ApiError:
    if fault == "failed":
        return ApiError(
            400,
            "Your request was rejected by the safety system (the offline demo server's fault-failed). "
            "Change the prompt and try again.",
            type="image_generation_user_error",
            code="moderation_blocked",
        )
    return ApiError(
        500, "The offline server injected an error into this image request.", type="server_error", code="server_error"
    )


def _answer(state: ServerState, request: ImageRequest) -> dict[str, Any]:
    data = []
    for index in range(request.n):
        png = _draw(request, index)
        revised = request.revised_prompt()
        if request.answer_form == "b64_json":
            data.append({"b64_json": base64.b64encode(png).decode(), "revised_prompt": revised})
        elif request.answer_form == "data_url":
            data.append({"url": "data:image/png;base64," + base64.b64encode(png).decode(), "revised_prompt": revised})
        else:
            image_id = f"img_offline_{uuid.uuid4().hex}"
            state.images.put(image_id, png, "image/png")
            data.append(
                {"b64_json": None, "revised_prompt": revised, "url": f"{state.base_url}/files/images/{image_id}.png"}
            )
    # The key order of the recordings (fixture 04).
    return {
        "created": int(time.time()),
        "background": request.background,
        "data": data,
        "output_format": "png",
        "quality": request.quality,
        "size": request.size,
        "usage": request.usage(),
    }


def _draw(request: ImageRequest, index: int, reveal: float = 1.0) -> bytes:
    alpha = request.background == "transparent"
    return draw_png(request.seed(index), request.width, request.height, alpha=alpha, reveal=reveal)


def _events(request: ImageRequest) -> Iterator[tuple[dict[str, Any], float]]:
    created = int(time.time())
    common = {
        "background": request.background,
        "created_at": created,
        "output_format": "png",
        "quality": request.quality,
        "size": request.size,
    }
    for index in range(request.n):
        for partial in range(request.partial_images):
            png = _draw(request, index, reveal=(partial + 1) / (request.partial_images + 1))
            event = {"type": f"{request.event_prefix}.partial_image", "b64_json": base64.b64encode(png).decode()}
            yield {**event, **common, "partial_image_index": partial}, _IMAGE_PAUSE
        png = _draw(request, index)
        event = {"type": f"{request.event_prefix}.completed", "b64_json": base64.b64encode(png).decode()}
        yield {**event, **common, "usage": request.usage(1, with_input=index == 0)}, _IMAGE_PAUSE


def _stream(state: ServerState, request: ImageRequest, fault: str | None) -> StreamReply:
    if fault is None:
        return StreamReply(_frames(_events(request)))
    shown = [] if fault == "failed" else list(until_deltas(_events(request), 1))
    frames = list(_frames(shown))
    if fault in ("failed", "error-event"):
        error = _fault_error(fault).body()["error"]
        frames.append((sse({"type": "error", "error": error}, "error"), 0))
    elif fault == "malformed":
        frames.append((broken_sse(shown[-1][0], shown[-1][0]["type"]), 0))
    return StreamReply(frames, stream_ending(fault))


def _frames(events: Any) -> Iterator[Frame]:
    for event, pause in events:
        yield sse(event, event["type"]), pause
