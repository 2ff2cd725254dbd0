"""Video jobs of the offline server: queued, then in progress with rising progress, then done.

A job's state is worked out from the time since it was created and the duration the server
has *now* (so a test can hold jobs with a long duration, then let them finish with 0). What a
job has reported never goes back: progress only rises, and a finished job stays finished.

    >>> jobs = VideoJobs()
    >>> job = jobs.create(prompt="a cat", model="sora-2", seconds="4", size="720x1280")
    >>> job.view(advance=False)["status"], jobs.get(job.id).view(duration=0)["status"]
    ('queued', 'completed')
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAILED_VIDEO_ERROR", "VideoJob", "VideoJobs"]

# Of the whole duration: queued for the first part, failed (for a failing job) halfway.
_QUEUED_FRACTION = 0.15
_FAIL_FRACTION = 0.5
# Signed result URLs of the real API expire an hour after completion (fixture 09).
EXPIRES_AFTER = 3600

FAILED_VIDEO_ERROR = {
    "code": "video_generation_failed",
    "message": "The offline demo server failed this video job on purpose (model fault-failed).",
}
_ORDER = {"queued": 0, "in_progress": 1, "completed": 2, "failed": 2}


@dataclass
class VideoJob:
    """One job; `view()` gives the video object as the API sends it."""

    id: str
    prompt: str
    model: str
    seconds: str
    size: str
    remixed_from: str | None = None
    fails: bool = False
    reference: bytes = b""
    created_at: int = field(default_factory=lambda: int(time.time()))
    started: float = field(default_factory=time.monotonic)
    status: str = "queued"
    progress: int = 0
    completed_at: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def advance(self, duration: float) -> None:
        """Move the job on to where `duration` seconds since creation puts it, never back."""
        with self._lock:
            if self.status in ("completed", "failed"):
                return
            elapsed = time.monotonic() - self.started
            fraction = 1.0 if duration <= 0 else elapsed / duration
            if self.fails and fraction >= _FAIL_FRACTION:
                status, progress = "failed", self.progress
            elif fraction >= 1:
                status, progress = "completed", 100
            elif fraction < _QUEUED_FRACTION:
                status, progress = "queued", 0
            else:
                status, progress = "in_progress", max(1, min(99, int(fraction * 100)))
            if _ORDER[status] >= _ORDER[self.status]:
                self.status = status
            self.progress = max(self.progress, progress)
            if self.status in ("completed", "failed"):
                self.completed_at = int(time.time())

    def view(self, duration: float | None = None, *, advance: bool = True) -> dict[str, Any]:
        """The video object, advanced first unless `advance` is false (the create answer)."""
        if advance and duration is not None:
            self.advance(duration)
        with self._lock:
            status, progress, completed_at = self.status, self.progress, self.completed_at
        done = status == "completed"
        # The key order of the recordings (fixture 07); `prompt` is in the current API definition.
        return {
            "id": self.id,
            "object": "video",
            "created_at": self.created_at,
            "status": status,
            "completed_at": completed_at,
            "error": dict(FAILED_VIDEO_ERROR) if status == "failed" else None,
            "expires_at": completed_at + EXPIRES_AFTER if done and completed_at is not None else None,
            "model": self.model,
            "progress": progress,
            "remixed_from_video_id": self.remixed_from,
            "seconds": self.seconds,
            "size": self.size,
            "prompt": self.prompt,
        }

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


class VideoJobs:
    """Thread-safe, bounded store of jobs (the oldest forgotten first), newest last."""

    def __init__(self, limit: int = 500) -> None:
        self._jobs: OrderedDict[str, VideoJob] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def create(self, **fields: Any) -> VideoJob:
        job = VideoJob(id=f"video_offline_{uuid.uuid4().hex}", **fields)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self._limit:
                self._jobs.popitem(last=False)
        return job

    def get(self, video_id: str) -> VideoJob | None:
        with self._lock:
            return self._jobs.get(video_id)

    def delete(self, video_id: str) -> bool:
        with self._lock:
            return self._jobs.pop(video_id, None) is not None

    def all(self) -> list[VideoJob]:
        """Every job, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()
