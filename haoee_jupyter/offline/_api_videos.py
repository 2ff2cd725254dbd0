"""`/v1/videos` in the official (Sora 2) format: create, poll, download, remix, list, delete.

A job goes queued, in progress (progress rising) and completed over the server's `video_ms`;
polls and the create answer carry `openai-poll-after-ms` while it runs, as the real API does
(the SDK's `poll()` reads it). The content of every finished job is the same small H.264 MP4
shipped in `assets/demo.mp4` (2 s, 320x180, made once with ffmpeg's `testsrc2` source and
`-c:v libx264 -profile:v baseline -pix_fmt yuv420p -movflags +faststart`), whatever `seconds`
and `size` say; `variant=thumbnail` and `spritesheet` are PNGs drawn from the prompt.

Faults: the status faults answer the create as everywhere; `failed` and `error-event` create a
job that fails halfway (status `failed` with `error: {code, message}`); `reset`, `stall`,
`truncated` and `malformed` create the job and then break the answer, as a create that reached
the server before the connection broke does: the job runs and is listed.

Downloading before a job completed answers 400 `video_not_ready` (a guess: no recording of that
answer is public).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from ._errors import ApiError, check_choice, check_integer, invalid_type, missing
from ._exchange import Disconnect, Reply, Request, check_auth, json_reply
from ._faults import plain_fault_reply, status_fault_reply
from ._images import form_fields
from ._png import draw_png
from ._protocol import fault_for_model
from ._state import ServerState
from ._video_jobs import VideoJob

__all__ = ["content", "create", "delete", "list_videos", "remix", "retrieve"]

DEFAULT_MODEL = "sora-2"
DEFAULT_SECONDS = "4"
DEFAULT_SIZE = "720x1280"
_BAD_BODY = "Send the video job as multipart/form-data (or JSON) with at least 'prompt'."


@cache
def demo_mp4() -> bytes:
    """The MP4 every finished job downloads as."""
    return (resources.files(__package__) / "assets" / "demo.mp4").read_bytes()


def _poll_after(state: ServerState) -> dict[str, str]:
    # About ten polls over a job's run, within what a demo and the real API would use.
    milliseconds = max(10, min(5000, round(state.video_seconds() * 100)))
    return {"openai-poll-after-ms": str(milliseconds)}


def _job_reply(state: ServerState, job: VideoJob, status: int = 200, *, advance: bool = True) -> Reply:
    view = job.view(state.video_seconds(), advance=advance)
    headers = {} if view["status"] in ("completed", "failed") else _poll_after(state)
    return json_reply(status, view, headers)


def _find(state: ServerState, video_id: str) -> VideoJob:
    job = state.videos.get(video_id)
    if job is None:
        raise ApiError(404, f"Video with id '{video_id}' not found.", param="video_id", code="video_not_found")
    return job


def _fields(request: Request) -> tuple[Mapping[str, Any], bytes]:
    """The create fields and the reference image's bytes (empty when none was sent)."""
    form = request.form
    if form is not None:
        uploads = form.files("input_reference")
        fields = form_fields(form)
        reference = uploads[0].data if uploads else (form.value("input_reference[image_url]") or "").encode()
        return fields, reference
    body, parsed = request.parsed_json
    if not parsed or not isinstance(body, Mapping):
        raise ApiError(400, _BAD_BODY)
    reference = body.get("input_reference")
    if isinstance(reference, Mapping):
        reference = reference.get("image_url") or reference.get("file_id")
    return body, reference.encode() if isinstance(reference, str) else b""


def _digits(text: str) -> bool:
    """ASCII digits only: `str.isdigit` is also true for "²", which `int` refuses."""
    return text.isascii() and text.isdigit()


def _seconds(fields: Mapping[str, Any]) -> str:
    value = fields.get("seconds", DEFAULT_SECONDS)
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _digits(text) or not 1 <= int(text) <= 60:
        raise ApiError(
            400,
            f"Invalid 'seconds': {value!r}. Send a whole number of seconds as a string, such as '4', '8' or '12'.",
            param="seconds",
            code="invalid_value",
        )
    return str(int(text))


def _size(fields: Mapping[str, Any]) -> str:
    value = fields.get("size", DEFAULT_SIZE)
    if not isinstance(value, str):
        raise invalid_type("size", "a string", value)
    width, _, height = value.partition("x")
    if not (_digits(width) and _digits(height) and 16 <= int(width) <= 3840 and 16 <= int(height) <= 3840):
        raise ApiError(
            400,
            f"Invalid 'size': {value!r}. Send WIDTHxHEIGHT, such as '720x1280', '1280x720', '1024x1792' or '1792x1024'.",
            param="size",
            code="invalid_value",
        )
    return value


def create(state: ServerState, request: Request, injected: str | None) -> Reply | Disconnect:
    fault = injected
    if fault is None:
        check_auth(request)
    try:
        fields, reference = _fields(request)
        model = fields.get("model", DEFAULT_MODEL)
        if not isinstance(model, str):
            raise invalid_type("model", "a string", model)
        if fault is None:
            fault = fault_for_model(model)
        prompt = fields.get("prompt")
        if prompt is None:
            raise missing("prompt")
        if not isinstance(prompt, str):
            raise invalid_type("prompt", "a string", prompt)
        job_fields = {"prompt": prompt, "model": model, "seconds": _seconds(fields), "size": _size(fields)}
    except ApiError:
        if fault is None:
            raise
        # A fault (injected or asked for by the model) must not depend on a valid body.
        reference, job_fields = b"", {"prompt": "", "model": DEFAULT_MODEL, "seconds": "4", "size": DEFAULT_SIZE}
    if fault is not None:
        status = status_fault_reply(fault, job_fields["model"])
        if status is not None:
            return status
    job = state.videos.create(**job_fields, reference=reference, fails=fault in ("failed", "error-event"))
    if fault in ("reset", "stall", "truncated", "malformed"):
        return plain_fault_reply(fault, job.view(advance=False))
    return _job_reply(state, job, advance=False)


def remix(state: ServerState, request: Request, injected: str | None, video_id: str) -> Reply | Disconnect:
    if injected is None:
        check_auth(request)
    else:
        status = status_fault_reply(injected, DEFAULT_MODEL)
        if status is not None:
            return status
    source = _find(state, video_id)
    body, parsed = request.parsed_json
    if not parsed or not isinstance(body, Mapping):
        raise ApiError(400, "Send the remix as JSON with a 'prompt'.")
    prompt = body.get("prompt")
    if prompt is None:
        raise missing("prompt")
    if not isinstance(prompt, str):
        raise invalid_type("prompt", "a string", prompt)
    if source.view(state.video_seconds())["status"] != "completed":
        raise ApiError(
            400,
            f"Video '{video_id}' can be remixed once it is completed; it is {source.status} now.",
            param="video_id",
            code="video_not_ready",
        )
    job = state.videos.create(
        prompt=prompt,
        model=source.model,
        seconds=source.seconds,
        size=source.size,
        remixed_from=source.id,
        reference=source.reference,
        fails=injected in ("failed", "error-event"),
    )
    if injected in ("reset", "stall", "truncated", "malformed"):
        return plain_fault_reply(injected, job.view(advance=False))
    return _job_reply(state, job, advance=False)


def retrieve(state: ServerState, request: Request, video_id: str) -> Reply:
    check_auth(request)
    return _job_reply(state, _find(state, video_id))


def delete(state: ServerState, request: Request, video_id: str) -> Reply:
    check_auth(request)
    _find(state, video_id)
    state.videos.delete(video_id)
    return json_reply(200, {"id": video_id, "object": "video.deleted", "deleted": True})


def list_videos(state: ServerState, request: Request) -> Reply:
    """`GET /v1/videos?limit=&after=&order=`: newest first unless `order=asc`, as a cursor page."""
    check_auth(request)
    query: dict[str, Any] = dict(request.query)
    if "limit" in query:
        query["limit"] = int(query["limit"]) if _digits(query["limit"]) else query["limit"]
    limit = check_integer(query, "limit", 1, 100) or 20
    order = check_choice(query, "order", ("asc", "desc"), "desc")
    jobs = state.videos.all()
    if order == "desc":
        jobs.reverse()
    after = query.get("after")
    if after:
        ids = [job.id for job in jobs]
        jobs = jobs[ids.index(after) + 1 :] if after in ids else []
    page = [job.view(state.video_seconds()) for job in jobs[:limit]]
    return json_reply(
        200,
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "has_more": len(jobs) > limit,
            "last_id": page[-1]["id"] if page else None,
        },
    )


def content(state: ServerState, request: Request, video_id: str) -> Reply:
    check_auth(request)
    job = _find(state, video_id)
    view = job.view(state.video_seconds())
    variant = check_choice(request.query, "variant", ("video", "thumbnail", "spritesheet"), "video")
    if view["status"] != "completed":
        detail = "it failed" if view["status"] == "failed" else f"it is {view['status']} ({view['progress']}%)"
        raise ApiError(
            400,
            f"Video '{video_id}' is not ready to download: {detail}. Poll GET /v1/videos/{video_id} until it is completed.",
            param="video_id",
            code="video_not_ready",
        )
    headers = {"Content-Disposition": f'attachment; filename="{video_id}.mp4"'}
    if variant == "video":
        return Reply(200, demo_mp4(), "video/mp4", headers)
    width, height = (int(side) for side in job.size.split("x"))
    scale = 320 / max(width, height)
    png = draw_png(
        job.prompt.encode() + b"\x00" + job.reference, max(16, round(width * scale)), max(16, round(height * scale))
    )
    return Reply(200, png, "image/png", {"Content-Disposition": f'attachment; filename="{video_id}-{variant}.png"'})
