"""The steps of a video job: create (once), poll with waits between, download; remix and list.

Shared by both clients (see ``_calls``). A create or a remix starts a billed job, so it is sent
with ``idempotent=False``: sent again only when the connection was never made. Once a job
exists, every error on the way (a broken poll, a timeout, Ctrl-C) carries its id
(``error.video_id``, ``error.video``, and the id in the message) and says how to go on without
creating it again.

>>> job = yield from create_video("A cat on a piano", model="sora-2", seconds=4, size=None, image=None, params={})
>>> job = yield from wait_video(job, on_progress=print, timeout=600.0)
>>> result = yield from download_video(job)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Union
from urllib.parse import quote, urlencode

from . import _errors
from ._calls import Call, Plan, Sleep, download
from ._exceptions import APIConnectionError, APIStatusError, ConfigurationError, HaoeeError, ProtocolError
from ._image_plan import ImageSource, image_input
from ._reader import JSONReader
from ._videos import (
    PATH,
    Video,
    VideoFailedError,
    VideoFileReader,
    VideoPendingError,
    VideoReader,
    VideoResult,
    poll_delay,
    resume_hint,
    video_create_form,
    video_list_from_json,
    video_remix_body,
)

__all__ = [
    "DEFAULT_VIDEO_MODEL",
    "OnProgress",
    "VideoRef",
    "create_video",
    "download_video",
    "generate_video",
    "list_videos",
    "remix_video",
    "retrieve_video",
    "wait_video",
]

#: The video model when none is given (the official format's model).
DEFAULT_VIDEO_MODEL = "sora-2"
#: A job, or its id.
VideoRef = Union[Video, str]
OnProgress = Callable[[Video], Any]
#: application/binary is what the official SDK asks the content endpoint for.
_CONTENT_HEADERS = {"Accept": "application/binary"}
_MAYBE_STARTED = (
    "The server may have started the job (and billed it) before the answer broke: "
    "look for it with client.list_videos() before creating it again"
)


def create_video(
    prompt: str,
    *,
    model: str | None,
    seconds: int | str | None,
    size: str | None,
    image: ImageSource | None,
    params: dict[str, Any],
) -> Plan[Video]:
    """``POST /v1/videos`` (multipart), sent once: never again once the server may have the request."""
    model = model or DEFAULT_VIDEO_MODEL
    reference = None if image is None else (yield from image_input(image, "reference image"))
    data, files = video_create_form(
        prompt, model=model, seconds=seconds, size=size, input_reference=reference, **params
    )
    call = Call("POST", PATH, read=VideoReader(), data=data, files=files, model=model, idempotent=False)
    return (yield from _start(call))


def remix_video(video: VideoRef, prompt: str, params: dict[str, Any]) -> Plan[Video]:
    """``POST /v1/videos/{id}/remix``: a new job from a finished one, sent once like a create."""
    video_id, model = _ref(video)
    body = {**video_remix_body(prompt), **{k: v for k, v in params.items() if v is not None}}
    call = Call("POST", _path(video_id, "/remix"), read=VideoReader(), json=body, model=model, idempotent=False)
    return (yield from _start(call))


def retrieve_video(video: VideoRef) -> Plan[Video]:
    """``GET /v1/videos/{id}``: the job's state now."""
    video_id, model = _ref(video)
    try:
        job: Video = yield _poll(video_id, model)
    except APIStatusError as e:
        _not_found(e, video_id)
        raise
    return job


def list_videos(limit: int | None, after: str | None) -> Plan[list[Video]]:
    """``GET /v1/videos``: the account's jobs, newest first."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100):
        raise ConfigurationError(f"limit must be a whole number from 1 to 100, not {limit!r}")
    query = urlencode({k: v for k, v in {"limit": limit, "after": after}.items() if v is not None})
    jobs: list[Video] = yield Call("GET", PATH + (f"?{query}" if query else ""), read=JSONReader(video_list_from_json))
    return jobs


def wait_video(video: VideoRef, *, on_progress: OnProgress | None, timeout: float | None) -> Plan[Video]:
    """Poll until the job is completed (returned) or failed (VideoFailedError); VideoPendingError after ``timeout``."""
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf
    ):
        raise ConfigurationError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
    video_id, model = _ref(video)
    job = video if isinstance(video, Video) else None
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        attempt = 0
        while job is None or not job.done:
            if job is not None:  # wait as the server asked, else back off; never past the deadline
                delay = job.poll_after if job.poll_after is not None else poll_delay(attempt)
                attempt += 1
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise VideoPendingError(job, waited=timeout)
                    delay = min(delay, left)
                yield Sleep(delay)
            job = yield _poll(video_id, job.model if job is not None and job.model else model)
            if on_progress is not None:
                on_progress(job)
        return job.raise_for_failure()
    except BaseException as e:
        keep_job(e, job or video_id)
        raise


def download_video(video: VideoRef) -> Plan[VideoResult]:
    """The finished job's file: ``GET /v1/videos/{id}/content``, the MP4 or a link to it (followed)."""
    video_id, model = _ref(video)
    job = video if isinstance(video, Video) and video.status == "completed" else None
    if job is None:
        job = yield from retrieve_video(video)
    try:
        if job.failed:
            raise VideoFailedError(job)
        if job.status != "completed":
            raise VideoPendingError(job)
        call = Call(
            "GET",
            _path(video_id, "/content"),
            read=VideoFileReader(job),
            model=job.model or model,
            headers=_CONTENT_HEADERS,
            follow_redirects=True,
        )
        found = yield call
        if isinstance(found, str):  # the server answered with a link to the file
            found = yield download(found, VideoFileReader(job, url=found))
        result: VideoResult = found
        return result
    except BaseException as e:
        keep_job(e, job, "download")
        raise


def generate_video(
    prompt: str,
    *,
    model: str | None,
    seconds: int | str | None,
    size: str | None,
    image: ImageSource | None,
    on_progress: OnProgress | None,
    timeout: float | None,
    params: dict[str, Any],
) -> Plan[VideoResult]:
    """Create, wait, download; ``on_progress`` hears the created job first, then every poll."""
    job = yield from create_video(prompt, model=model, seconds=seconds, size=size, image=image, params=params)
    try:
        if on_progress is not None:
            on_progress(job)
        job = yield from wait_video(job, on_progress=on_progress, timeout=timeout)
        return (yield from download_video(job))
    except BaseException as e:
        keep_job(e, job)
        raise


def keep_job(error: BaseException, video: VideoRef, step: str = "wait") -> None:
    """Make an error that came once the job existed name it, keep it, and say how to go on.

    Sets ``error.video_id`` and ``error.video`` (the last known state, or None); a HaoeeError
    gets the id in its message and a hint to continue with ``client.{step}_video(id)``, a
    KeyboardInterrupt a message that says the job goes on. An error that names its job is left as it is.
    """
    if getattr(error, "video_id", None):
        return
    video_id = video.id if isinstance(video, Video) else video
    vars(error).update(video_id=video_id, video=video if isinstance(video, Video) else None)
    if isinstance(error, HaoeeError):
        if video_id not in error.message:
            error.message = f"{error.message} (video job {video_id})"
            error.args = (error.message,)
        if not _not_found(error, video_id):
            error.hint = resume_hint(video_id, step=step)
    elif isinstance(error, KeyboardInterrupt):
        error.args = (resume_hint(video_id, f"The video job {video_id} goes on at the server: continue with", step),)


def _start(call: Call[Video]) -> Plan[Video]:
    """Send a create or remix; a failure that may have left a job behind says where to look for it."""
    try:
        job: Video = yield call
    except HaoeeError as e:
        if _may_have_started(e):
            e.hint = _MAYBE_STARTED
        raise
    except KeyboardInterrupt as e:
        e.args = (f"Interrupted while the video job was being created. {_MAYBE_STARTED}",)
        raise
    return job


def _may_have_started(error: HaoeeError) -> bool:
    if isinstance(error, APIConnectionError):
        return not _errors.never_sent(error.__cause__)
    if isinstance(error, APIStatusError):
        return error.status_code is not None and error.status_code >= 500  # a proxy failing after the job began
    return isinstance(error, ProtocolError)  # a 200 whose body could not be read


def _not_found(error: HaoeeError, video_id: str) -> bool:
    if isinstance(error, APIStatusError) and error.status_code == 404:
        error.hint = f"Check the video id {video_id!r}: client.list_videos() lists the account's jobs"
        return True
    return False


def _poll(video_id: str, model: str | None) -> Call[Video]:
    return Call("GET", _path(video_id), read=VideoReader(), model=model)


def _ref(video: VideoRef) -> tuple[str, str | None]:
    """A job's id and model (None when only the id is known)."""
    if isinstance(video, Video):
        return video.id, video.model or None
    if isinstance(video, str) and video.strip():
        return video.strip(), None
    raise ConfigurationError(f"Pass a video job or its id (such as 'video_123'), not {video!r}")


def _path(video_id: str, tail: str = "") -> str:
    return f"{PATH}/{quote(video_id, safe='')}{tail}"
