"""The image and video methods of both clients: their signatures and documentation, nothing else.

Each method builds a plan (``_image_plan``, ``_video_plan``) and hands it to the client's
``_run``, which does the I/O: :class:`MediaMethods` for ``Client`` (blocking), and
:class:`AsyncMediaMethods` for ``AsyncClient`` (awaited).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, Union

from . import _image_plan, _video_plan
from ._base import BaseClient
from ._calls import Plan
from ._image_plan import ImageSource
from ._images import Image, ImageResult
from ._video_plan import OnProgress, VideoRef
from ._videos import Video, VideoResult

__all__ = ["AsyncMediaMethods", "MediaMethods"]

T = TypeVar("T")
OnPartial = Callable[[Image], Any]
ImageSources = Union[ImageSource, Sequence[ImageSource]]


class MediaMethods(BaseClient):
    """Images and video for :class:`~._client.Client`."""

    def _run(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    def generate_image(
        self,
        prompt: str,
        *,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        output_format: str | None = None,
        images: ImageSources | None = None,
        mask: ImageSource | None = None,
        stream: bool = False,
        on_partial: OnPartial | None = None,
        **params: Any,
    ) -> ImageResult:
        """Generate images from a prompt, or edit ``images`` by it; every image downloaded, bytes in hand.

        Without ``images`` this posts JSON to ``/v1/images/generations``; with them (each bytes,
        ``(name, bytes)``, a file path, or an ``https://`` / ``data:`` URL; their type read from
        their bytes) multipart to ``/v1/images/edits``, with an optional PNG ``mask``. ``model``
        defaults to ``gpt-image-2``. ``params`` are more body fields (``background``,
        ``output_compression``, ``input_fidelity``, ``response_format`` ...). Images that come as
        a link are downloaded at once, with the same timeouts, the key sent only to the API's own
        origin. With ``stream=True``, ``on_partial(image)`` sees each partial image as it arrives
        (``partial_images`` defaults to 2 then).

        >>> result = client.generate_image("A watercolor fox", size="1024x1024")
        >>> result[0].mime_type, result[0].size, result.usage.total_tokens
        ('image/png', (1024, 1024), 4201)
        >>> result.save("haoee-media", "fox")                    # [Path('.../haoee-media/fox.png')]
        >>> client.generate_image("Add a red hat", images=["fox.png"], stream=True, on_partial=show)
        """
        return self._run(
            _image_plan.generate_image(
                prompt,
                model=model,
                n=n,
                size=size,
                quality=quality,
                output_format=output_format,
                images=images,
                mask=mask,
                stream=stream,
                on_partial=on_partial,
                params=params,
            )
        )

    def create_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        seconds: int | str | None = None,
        size: str | None = None,
        image: ImageSource | None = None,
        **params: Any,
    ) -> Video:
        """Start a video job (``POST /v1/videos``, multipart); returns it queued. Sent once, never twice.

        A create starts a billed job, so it is sent again only when the connection was never
        made (not on a 429, a 5xx or a timeout). ``model`` defaults to ``sora-2``; ``image`` is a
        reference image (as in :meth:`generate_image`) whose size must match ``size``.

        >>> job = client.create_video("A calico cat playing a piano", seconds=4, size="1280x720")
        >>> job.id, job.status
        ('video_68d7...', 'queued')
        """
        return self._run(
            _video_plan.create_video(prompt, model=model, seconds=seconds, size=size, image=image, params=params)
        )

    def retrieve_video(self, video: VideoRef) -> Video:
        """A job's state now (``GET /v1/videos/{id}``), from the job or its id.

        >>> client.retrieve_video("video_68d7...").progress
        40
        """
        return self._run(_video_plan.retrieve_video(video))

    def wait_video(
        self, video: VideoRef, *, on_progress: OnProgress | None = None, timeout: float | None = 600.0
    ) -> Video:
        """Poll a job until it is completed; returns it. Resumes any job by its id.

        Waits what the server's ``openai-poll-after-ms`` says, else 2 s rising to 10 s;
        ``on_progress(video)`` is called after each poll. A failed job raises VideoFailedError (the
        server's reason and the job id, one line). After ``timeout`` seconds (None: no limit) a
        VideoPendingError says the job goes on and how to continue; errors and Ctrl-C carry
        ``.video_id`` too.

        >>> job = client.wait_video("video_68d7...", on_progress=lambda v: print(v.progress))
        """
        return self._run(_video_plan.wait_video(video, on_progress=on_progress, timeout=timeout))

    def download_video(self, video: VideoRef) -> VideoResult:
        """A finished job's file (``GET /v1/videos/{id}/content``; a JSON ``{url}`` answer is followed).

        >>> client.download_video(job).save("haoee-media/cat")      # Path('.../haoee-media/cat.mp4')
        """
        return self._run(_video_plan.download_video(video))

    def generate_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        seconds: int | str | None = None,
        size: str | None = None,
        image: ImageSource | None = None,
        on_progress: OnProgress | None = None,
        timeout: float | None = 600.0,
        **params: Any,
    ) -> VideoResult:
        """Create a video job, wait for it, download it: :meth:`create_video`, :meth:`wait_video`, :meth:`download_video`.

        ``on_progress(video)`` hears the created job first (its id), then each poll. Any error
        or Ctrl-C after the create carries ``.video_id`` and ``.video`` and names the job in its
        message: the job goes on at the server, and ``client.wait_video(id)`` continues it.

        >>> result = client.generate_video("A paper boat on a river", seconds=4, on_progress=print)
        >>> result.data[:12], result.video.status
        (b'\\x00\\x00\\x00\\x1cftypisom', 'completed')
        """
        return self._run(
            _video_plan.generate_video(
                prompt,
                model=model,
                seconds=seconds,
                size=size,
                image=image,
                on_progress=on_progress,
                timeout=timeout,
                params=params,
            )
        )

    def remix_video(self, video: VideoRef, prompt: str, **params: Any) -> Video:
        """Start a new job from a finished one (``POST /v1/videos/{id}/remix``); sent once, like a create.

        >>> new = client.wait_video(client.remix_video(job, "Make it night"))
        """
        return self._run(_video_plan.remix_video(video, prompt, params))

    def list_videos(self, *, limit: int | None = None, after: str | None = None) -> list[Video]:
        """The account's video jobs, newest first (``GET /v1/videos``; ``after`` an id, for the next page).

        >>> [(job.id, job.status) for job in client.list_videos(limit=5)]
        """
        return self._run(_video_plan.list_videos(limit, after))


class AsyncMediaMethods(BaseClient):
    """Images and video for :class:`~._async.AsyncClient`: each as in :class:`MediaMethods`, awaited."""

    async def _run(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    async def generate_image(
        self,
        prompt: str,
        *,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        output_format: str | None = None,
        images: ImageSources | None = None,
        mask: ImageSource | None = None,
        stream: bool = False,
        on_partial: OnPartial | None = None,
        **params: Any,
    ) -> ImageResult:
        """Like :meth:`Client.generate_image`, awaited."""
        return await self._run(
            _image_plan.generate_image(
                prompt,
                model=model,
                n=n,
                size=size,
                quality=quality,
                output_format=output_format,
                images=images,
                mask=mask,
                stream=stream,
                on_partial=on_partial,
                params=params,
            )
        )

    async def create_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        seconds: int | str | None = None,
        size: str | None = None,
        image: ImageSource | None = None,
        **params: Any,
    ) -> Video:
        """Like :meth:`Client.create_video`, awaited."""
        return await self._run(
            _video_plan.create_video(prompt, model=model, seconds=seconds, size=size, image=image, params=params)
        )

    async def retrieve_video(self, video: VideoRef) -> Video:
        """Like :meth:`Client.retrieve_video`, awaited."""
        return await self._run(_video_plan.retrieve_video(video))

    async def wait_video(
        self, video: VideoRef, *, on_progress: OnProgress | None = None, timeout: float | None = 600.0
    ) -> Video:
        """Like :meth:`Client.wait_video`, awaited (the waits are ``asyncio.sleep``)."""
        return await self._run(_video_plan.wait_video(video, on_progress=on_progress, timeout=timeout))

    async def download_video(self, video: VideoRef) -> VideoResult:
        """Like :meth:`Client.download_video`, awaited."""
        return await self._run(_video_plan.download_video(video))

    async def generate_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        seconds: int | str | None = None,
        size: str | None = None,
        image: ImageSource | None = None,
        on_progress: OnProgress | None = None,
        timeout: float | None = 600.0,
        **params: Any,
    ) -> VideoResult:
        """Like :meth:`Client.generate_video`, awaited; a cancelled task's CancelledError carries ``.video_id``."""
        return await self._run(
            _video_plan.generate_video(
                prompt,
                model=model,
                seconds=seconds,
                size=size,
                image=image,
                on_progress=on_progress,
                timeout=timeout,
                params=params,
            )
        )

    async def remix_video(self, video: VideoRef, prompt: str, **params: Any) -> Video:
        """Like :meth:`Client.remix_video`, awaited."""
        return await self._run(_video_plan.remix_video(video, prompt, params))

    async def list_videos(self, *, limit: int | None = None, after: str | None = None) -> list[Video]:
        """Like :meth:`Client.list_videos`, awaited."""
        return await self._run(_video_plan.list_videos(limit, after))
