"""Video jobs (the official Sora format, ``/v1/videos``): create, poll, download, remix.

A job is created once (``POST /v1/videos``, multipart; never sent twice: a second job is billed
twice), polled with ``GET /v1/videos/{id}`` until it is ``completed`` or ``failed``, then its file is
fetched from ``GET /v1/videos/{id}/content``: the MP4 itself, or JSON with a ``url`` to follow.

>>> data, files = video_create_form("A calico cat playing a piano", model="sora-2", seconds=4)
>>> job = Video.from_json(answer)                 # status queued, progress 0
>>> time.sleep(poll_delay(attempt, response.headers))
>>> url = content_url(content_type, body)         # None: body is the video itself
>>> VideoResult(job, mp4_bytes).save("haoee-media/cat")
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import httpx

from ._exceptions import ConfigurationError, HaoeeError, ProtocolError, ResponseFailedError
from ._files import FilePart, Multipart, link, sniff_image, sniff_video, write_file
from ._models import Response, Usage, _dict, _int, _list
from ._reader import Reader
from ._stream import _error_fields, _failed

__all__ = [
    "PATH",
    "Video",
    "VideoFailedError",
    "VideoFileReader",
    "VideoPendingError",
    "VideoReader",
    "VideoResult",
    "content_url",
    "poll_delay",
    "resume_hint",
    "video_create_form",
    "video_list_from_json",
    "video_remix_body",
]

PATH = "/videos"  # POST creates; /videos/{id} polls; /videos/{id}/content downloads; /videos/{id}/remix
_SIZE = re.compile(r"^\d{2,5}x\d{2,5}$")
FIRST_POLL, MAX_POLL = 2.0, 10.0  # seconds; Haoee's own client polls every 5 to 10 s


class VideoFailedError(ResponseFailedError):
    """The video job ended with status ``failed``; ``.video`` is the job, ``.video_id`` its id, ``.code`` the server's."""

    default_hint = "Change the prompt or settings and create the video again"

    def __init__(self, video: Video) -> None:
        error = video.error or {}
        reason = " ".join(str(error.get("message") or "no reason given").split())
        code = error.get("code")
        super().__init__(f"The video job {video.id} failed: {reason}", code=str(code) if code else None)
        self.video = video
        self.video_id = video.id


class VideoPendingError(HaoeeError):
    """The video job is not finished yet: a wait ran out of time, or a download came too early.

    The job goes on at the server; ``.video_id`` says which, ``.video`` is its last known state.

    >>> try:
    ...     client.wait_video(job, timeout=60)
    ... except VideoPendingError as e:
    ...     later = client.wait_video(e.video_id)
    """

    def __init__(self, video: Video, waited: float | None = None) -> None:
        state = f"{video.status or 'unknown'}, {video.progress}%"
        after = "yet" if waited is None else f"after {waited:g} s"
        what = "Wait for it first with" if waited is None else "It goes on at the server: continue with"
        super().__init__(
            f"The video job {video.id} is not finished {after} ({state})", hint=resume_hint(video.id, what)
        )
        self.video = video
        self.video_id = video.id


def resume_hint(video_id: str, lead: str = "The job goes on at the server: continue with", step: str = "wait") -> str:
    """How to go on with a job that exists: ``client.wait_video(id)`` (or ``download_video``), ``%haoee video ID``."""
    return f"{lead} client.{step}_video({video_id!r}), or %haoee video {video_id} in a notebook"


@dataclass(eq=False)
class Video:
    """A video job as the server reports it: ``.id``, ``.status``, ``.progress``, ``.done``, ``.failed``.

    >>> job = Video.from_json({"id": "video_1", "object": "video", "status": "in_progress", "progress": 33})
    >>> job.status, job.progress, job.done
    ('in_progress', 33, False)
    """

    raw: dict[str, Any] = field(repr=False)
    #: Seconds the server asked to wait before the next poll (``openai-poll-after-ms``), if it said.
    poll_after: float | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Video:
        """A Video from a job object; raises for an error body or for JSON that is not a job."""
        if not isinstance(data, dict):
            raise ProtocolError("The server answered with JSON that is not a video job")
        if data.get("error") and not data.get("id"):
            error = _error_fields(data)
            raise _failed(error, Response({"status": "failed", "error": error}))
        if not data.get("id") or not (data.get("object") == "video" or "status" in data):
            keys = ", ".join(list(data)[:6])
            raise ProtocolError(f"The server answered with JSON that is not a video job (keys: {keys})")
        return cls(data)

    @property
    def id(self) -> str:
        return str(self.raw.get("id") or "")

    @property
    def status(self) -> str:
        """``queued``, ``in_progress``, ``completed`` or ``failed``."""
        return str(self.raw.get("status") or "")

    @property
    def progress(self) -> int:
        """0 to 100 (100 once completed, whatever the server said)."""
        return 100 if self.status == "completed" else max(0, min(100, _int(self.raw.get("progress"))))

    @property
    def model(self) -> str:
        return str(self.raw.get("model") or "")

    @property
    def seconds(self) -> int | None:
        """The clip's length (the wire sends it as a string, ``"4"``)."""
        value = self.raw.get("seconds")
        if isinstance(value, int) and not isinstance(value, bool):
            return value if value >= 0 else None
        return int(value) if isinstance(value, str) and _whole_number(value) else None

    @property
    def size(self) -> str:
        return str(self.raw.get("size") or "")

    @property
    def created_at(self) -> int | None:
        return _int(self.raw.get("created_at")) or None

    @property
    def completed_at(self) -> int | None:
        return _int(self.raw.get("completed_at")) or None

    @property
    def expires_at(self) -> int | None:
        """When the server deletes the file (an hour after completion on OpenAI): download before."""
        return _int(self.raw.get("expires_at")) or None

    @property
    def error(self) -> dict[str, Any] | None:
        error = self.raw.get("error")
        return error if isinstance(error, dict) and error else None

    @property
    def remixed_from_video_id(self) -> str | None:
        return str(self.raw["remixed_from_video_id"]) if self.raw.get("remixed_from_video_id") else None

    @property
    def prompt(self) -> str:
        return str(self.raw.get("prompt") or "")

    @property
    def done(self) -> bool:
        """True once the job is over, completed or failed: stop polling."""
        return self.status in ("completed", "failed")

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def raise_for_failure(self) -> Video:
        """The job itself, or VideoFailedError (one line: the server's reason) if it failed."""
        if self.failed:
            raise VideoFailedError(self)
        return self

    def __repr__(self) -> str:
        return f"Video(id={self.id!r}, status={self.status!r}, progress={self.progress}, model={self.model!r})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from ..render import video_job_bundle

        return video_job_bundle(self)


def video_list_from_json(data: Any) -> list[Video]:
    """The jobs of ``GET /v1/videos`` (``{"object": "list", "data": [...]}``)."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ProtocolError("The server's list of videos could not be read")
    return [Video.from_json(item) for item in _list(data["data"])]


# --- requests -------------------------------------------------------------------------

#: A reference image: its bytes, or (file name, bytes).
ImageInput = Union[bytes, tuple[str, bytes]]


def video_create_form(
    prompt: str,
    *,
    model: str | None = None,
    seconds: int | str | None = None,
    size: str | None = None,
    input_reference: ImageInput | None = None,
    **params: Any,
) -> tuple[dict[str, str], list[FilePart]]:
    """``(data, files)`` for httpx's multipart ``POST /v1/videos``, as the official SDK sends it.

    ``files`` is never empty to httpx's eyes, so the body is multipart even without a reference
    image. A reference image must have the video's size; when both are known and differ, this
    says so before a job is started.
    """
    if not str(prompt).strip():
        raise ConfigurationError("The video prompt is empty", hint="Write what the video should show")
    if seconds is not None and (isinstance(seconds, bool) or not _whole_number(str(seconds)) or int(seconds) == 0):
        raise ConfigurationError(f"seconds must be a whole number of seconds (4, 8 or 12 for sora-2), not {seconds!r}")
    if size is not None and not _SIZE.match(str(size)):
        raise ConfigurationError(f"size must be WIDTHxHEIGHT (e.g. 720x1280), not {size!r}")
    fields = {"prompt": str(prompt), "model": model, "seconds": seconds, "size": size, **params}
    # Every given field is sent (False as "false"): a field accepted here is never dropped.
    data = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in fields.items()
        if value is not None
    }
    files = Multipart()
    if input_reference is not None:
        name, image = input_reference if isinstance(input_reference, tuple) else ("reference", input_reference)
        mime, dimensions = sniff_image(image)
        if mime not in ("image/png", "image/jpeg", "image/webp"):
            raise ConfigurationError(f"The reference image {name!r} is not a PNG, JPEG or WebP image")
        if size and dimensions and "x".join(map(str, dimensions)) != size:
            raise ConfigurationError(
                f"The reference image is {dimensions[0]}x{dimensions[1]} but the video size is {size}",
                hint=f"Resize the image, or ask for size {dimensions[0]}x{dimensions[1]}",
            )
        files.append(("input_reference", (name, image, mime)))
    return data, files


def _whole_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` is also true for "²", which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def video_remix_body(prompt: str) -> dict[str, Any]:
    """The JSON body of ``POST /v1/videos/{id}/remix``."""
    if not str(prompt).strip():
        raise ConfigurationError("The remix prompt is empty", hint="Write how the video should change")
    return {"prompt": str(prompt)}


def poll_delay(attempt: int, headers: Mapping[str, str] | None = None) -> float:
    """Seconds to wait before polling again.

    The server's ``openai-poll-after-ms`` header when it sends one (kept within 0.5 to 60 s, so a
    wrong value neither hammers the server nor stalls the cell); otherwise 2 s, rising by half
    each time to 10 s: short clips show progress early, long jobs cost few requests.

    >>> [poll_delay(n) for n in range(6)]
    [2.0, 3.0, 4.5, 6.75, 10.0, 10.0]
    >>> poll_delay(0, {"openai-poll-after-ms": "1500"})
    1.5
    """
    asked = server_poll_after(headers)
    return asked if asked is not None else min(MAX_POLL, FIRST_POLL * 1.5 ** max(0, attempt))


def server_poll_after(headers: Mapping[str, str] | None) -> float | None:
    """The server's ``openai-poll-after-ms`` in seconds (within 0.5 to 60 s), or None when it sent none."""
    for name, value in (headers or {}).items():
        if name.lower() == "openai-poll-after-ms":
            try:
                return min(60.0, max(0.5, float(value) / 1000))
            except ValueError:
                return None
    return None


def content_url(content_type: str, body: bytes) -> str | None:
    """For ``GET /v1/videos/{id}/content``: None when the body is the video, else the URL to fetch.

    As Haoee's own client does, a video or octet-stream body (or one that is a video by its
    bytes) is the file; otherwise the body is JSON with a ``url``. An error body raises.
    """
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith("video/") or kind == "application/octet-stream" or sniff_video(body):
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        if data.get("error"):
            error = _error_fields(data)
            raise _failed(error, Response({"status": "failed", "error": error}))
        url = data.get("url") or _dict(data.get("data")).get("url")
        if isinstance(url, str) and url:
            return link(url)
    start = body[:60].decode("utf-8", "replace")
    raise ProtocolError(f"The video download answered with neither a video nor a link ({kind or 'no type'}): {start!r}")


@dataclass(eq=False)
class VideoResult:
    """A finished video: ``.data`` (bytes), ``.mime_type``, ``.video`` (the job), ``.path``, ``.save()``.

    Plays inline in a notebook: once saved beside the notebook, the player refers to the file
    (a saved notebook stays small); before, it carries the video as a data URL.
    """

    video: Video
    data: bytes = field(repr=False)
    url: str | None = None  # where it was downloaded from, when the server answered with a link
    path: Path | None = None

    def __post_init__(self) -> None:
        if sniff_video(self.data) is None:
            start = self.data[:40].decode("utf-8", "replace")
            raise ProtocolError(f"The video download is not a video file (MP4, MOV or WebM): {start!r}")

    @property
    def mime_type(self) -> str:
        return sniff_video(self.data) or "video/mp4"

    @property
    def id(self) -> str:
        return self.video.id

    @property
    def usage(self) -> Usage:
        """Video jobs report no tokens: zeros, so totals can add every call alike."""
        return Usage()

    def save(self, path: str | Path) -> Path:
        """Write the video to ``path`` (``.mp4`` added when it has no extension); returns the file's path."""
        self.path = write_file(path, self.data, self.mime_type)
        return self.path

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"VideoResult(id={self.id!r}, {self.mime_type}, {len(self.data):,} bytes{where})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from ..render import video_bundle

        return video_bundle(self)


class VideoReader(Reader[Video]):
    """Reads a job object (create, poll, remix), with the server's wait before the next poll (``.poll_after``).

    It reads the body itself (``raw``) because the wait comes from a response header.
    """

    raw = True

    def content(self, response: httpx.Response, body: bytes) -> Video:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as e:
            start = body[:60].decode("utf-8", "replace")
            raise ProtocolError(f"The server answered with a video job that is not JSON: {start!r}") from e
        video = Video.from_json(data)
        video.poll_after = server_poll_after(response.headers)
        return video


class VideoFileReader(Reader[Union[VideoResult, str]]):
    """The finished job's file as a VideoResult: from ``/content`` (or the link it gave, a str), or from ``url``."""

    raw = True

    def __init__(self, video: Video, url: str | None = None) -> None:
        self.video, self.url = video, url

    def content(self, response: httpx.Response, body: bytes) -> VideoResult | str:
        link = None if self.url else content_url(response.headers.get("content-type", ""), body)
        return link if link is not None else VideoResult(self.video, body, url=self.url)
