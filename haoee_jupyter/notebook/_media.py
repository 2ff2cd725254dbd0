"""``%%haoee image`` and ``%%haoee video`` cells, and ``%haoee video ID``.

The cell is the prompt, filled from the notebook as in ``%%haoee``. An image call posts JSON to
``/v1/images/generations`` (or, with ``--image``, multipart to ``/v1/images/edits``), shows the
images inline (partial images first, where the model streams them) and saves them in the media
folder (``%config Haoee.media_dir``, ``haoee-media/`` beside the notebook) as
``<date>-<prompt's first words>-<n>.png``. A video call creates one job (never sent twice: a
second job is billed twice), follows it with a progress bar, downloads the MP4, saves it there
too and plays it inline. After either, ``haoee_response`` (and ``-o NAME``) holds the result and
``haoee_usage`` / ``haoee_usage_total`` count its tokens, as after every call.

On Ctrl-C (or a lost kernel) a video job goes on at the server: ``haoee_response.id`` and the call
log keep its id, and ``%haoee video ID`` follows it to the end without creating it again. Every
media call is in the call log (``--no-log`` keeps one out), and errors read as one sentence.
"""

from __future__ import annotations

import base64
import datetime
import html
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..client._exceptions import HaoeeError
from ..render import image_bundle, images_bundle, video_bundle, video_job_bundle
from ._core import log_call
from ._display import in_terminal
from ._inputs import InputError, image_url
from ._interpolate import InterpolationError, interpolate
from ._media_options import IMAGE, STREAMING_IMAGE_MODELS, VIDEO, Command
from ._options import OptionError
from ._session import Call

if TYPE_CHECKING:
    from ._state import ShellState

__all__ = ["VideoInterrupted", "media_cell", "media_folder", "media_stem", "resume_video"]

#: Partial images asked for when an image call streams (0 to 3; each costs some output tokens).
PARTIAL_IMAGES = 2


class VideoInterrupted(KeyboardInterrupt):
    """Ctrl-C while a video job runs: it goes on at the server; the message says how to go on."""

    def __init__(self, video_id: str | None) -> None:
        super().__init__("Interrupted")
        self.video_id = video_id

    def __str__(self) -> str:
        if not self.video_id:
            return "Interrupted before the server named the video job: if it started one, it runs on there."
        return (
            f"Interrupted: the video job {self.video_id} goes on at the server (haoee_response.id holds its id); "
            f"%haoee video {self.video_id} follows it and downloads the video, without creating it again."
        )

    def _render_traceback_(self) -> list[str]:
        return _folded(str(self))


class ImageInterrupted(KeyboardInterrupt):
    def __str__(self) -> str:
        return "Interrupted: no image was kept (the server may finish, and bill, the request all the same)."

    def _render_traceback_(self) -> list[str]:
        return _folded(str(self))


def _folded(sentence: str) -> list[str]:
    """One sentence folded at words, as the client's errors are (JupyterLab breaks long lines mid-word)."""
    import textwrap

    from ..client._exceptions import RENDER_WIDTH

    return textwrap.wrap(sentence, width=RENDER_WIDTH, subsequent_indent="  ", break_long_words=False)


# --- the cells ---------------------------------------------------------------------------------


def media_cell(state: ShellState, command: Command, line: str, cell: str, *, cell_number: int | None = None) -> None:
    """Run a ``%%haoee image`` or ``%%haoee video`` cell; ``line`` is what follows the command's name."""
    try:
        given = command.parse(line)
    except OptionError as e:
        raise UsageError(str(e)) from e
    try:
        prompt = interpolate(cell, state.namespace).strip()
    except InterpolationError as e:
        raise UsageError(str(e)) from e
    if not prompt:
        raise UsageError(
            f"The cell is empty: write the {command.name} prompt on the lines below %%haoee {command.name}"
        )
    options = command.resolve(given, state.settings)
    if command is IMAGE:
        _image_cell(state, options, prompt, cell_number)
    elif command is VIDEO:
        if given.remix:  # a remix takes only the prompt: any other option would be accepted and ignored
            others = ("-m", given.model), ("--seconds", given.seconds), ("--size", given.size), ("--image", given.image)
            flags = [flag for flag, value in others if value is not None]
            if flags:
                raise UsageError(f"--remix takes only the prompt (and -o): leave out {', '.join(flags)}")
        _video_cell(state, options, prompt, cell_number)


@dataclass
class _Run:
    """One media call on its way: what it shows, where it is kept, and its records."""

    state: ShellState
    call: Call
    out: str | None = None  # -o NAME
    log: bool | None = None  # --log / --no-log (None: %config Haoee.log)
    view: MediaView = field(init=False)
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.view = MediaView(self.state.shell)

    def keep(self, value: Any) -> None:
        """The result (or the job) into -o NAME."""
        if self.out:
            self.state.namespace[self.out] = value

    def end(self, error: BaseException | None = None, *, interrupted: bool = False) -> None:
        """Record the call: session totals and variables, then the call log."""
        self.call.error, self.call.interrupted = error, interrupted
        self.call.latency = time.perf_counter() - self.started
        self.state.session.record(self.call, self.state.namespace)
        self.write_log()

    def write_log(self) -> None:
        """Write the call to the persistent call log; a video job by its id, so it can be found again."""
        call = self.call
        job_id = getattr(call.response, "id", None) if call.endpoint.startswith("/videos") else None
        log_call(self.state, call, job_id=job_id or None, enabled=self.log)


def _image_cell(state: ShellState, options: Any, prompt: str, cell_number: int | None) -> None:
    model = options.model
    stream = options.stream if options.stream is not None else model.lower().startswith(STREAMING_IMAGE_MODELS)
    inputs = [_image_input(ref, state) for ref in options.images]
    fields = {"n": options.n, "size": options.size, "quality": options.quality, "output_format": options.output_format}
    fields = {key: value for key, value in fields.items() if value is not None}
    body = {"model": model, "prompt": prompt, **fields}
    if inputs:
        body["image"] = list(options.images)  # the references as given; the bytes go as files
    if stream:
        body.update(stream=True, partial_images=PARTIAL_IMAGES)
    endpoint = "/images/edits" if inputs else "/images/generations"
    run = _Run(state, Call(body=body, source="magic", cell=cell_number, endpoint=endpoint), options.out, options.log)
    many = f"{options.n} images" if (options.n or 1) > 1 else "the image"
    run.view.waiting(f"{model} · drawing {many}…")

    def on_partial(image: Any) -> None:
        run.view.show({**image_bundle(image), "text/plain": f"[{model}: partial image, still drawing…]"})

    extra = {"stream": True, "on_partial": on_partial, "partial_images": PARTIAL_IMAGES} if stream else {}
    try:
        with state.lease() as client:
            run.call.response = client.generate_image(prompt, model=model, images=inputs or None, **fields, **extra)
    except HaoeeError as e:
        run.end(e)
        run.view.waiting(f"{model} · error (no image)")
        raise
    except KeyboardInterrupt as e:
        run.end(interrupted=True)
        raise ImageInterrupted() from e
    result = run.call.response
    try:
        folder = media_folder(state.settings)
        for image, stem in zip(result.images, media_stem(folder, prompt, len(result.images), kind="image")):
            if image.data:
                image.save(stem)
    finally:  # a file that cannot be written still leaves the images, paid for, in the variables
        run.end()
        run.keep(result)
        run.view.show(images_bundle(result))


def _video_cell(state: ShellState, options: Any, prompt: str, cell_number: int | None) -> None:
    if options.remix:
        body: dict[str, Any] = {"prompt": prompt, "remix": options.remix}
        endpoint = f"/videos/{options.remix}/remix"
    else:
        reference = _image_input(options.image, state) if options.image else None
        fields = {"seconds": options.seconds, "size": options.size}
        fields = {key: value for key, value in fields.items() if value is not None}
        body = {"model": options.model, "prompt": prompt, **fields}
        if options.image:
            body["input_reference"] = options.image
        endpoint = "/videos"
    run = _Run(state, Call(body=body, source="magic", cell=cell_number, endpoint=endpoint), options.out, options.log)
    doing = f"remixing {options.remix}" if options.remix else "creating the video job"
    run.view.waiting(f"{body.get('model') or 'video'} · {doing}…")
    try:
        with state.lease() as client:
            if options.remix:
                job = client.remix_video(options.remix, prompt)
            else:
                job = client.create_video(prompt, model=options.model, image=reference, **fields)
    except HaoeeError as e:
        run.end(e)
        run.view.waiting(f"{body.get('model') or 'video'} · error (no job was started)")
        raise
    except KeyboardInterrupt as e:
        run.end(interrupted=True)
        raise VideoInterrupted(None) from e
    body["model"] = body.get("model") or job.model
    _follow(run, job, prompt)


def resume_video(state: ShellState, video_id: str, *, out: str | None = None, cell_number: int | None = None) -> None:
    """``%haoee video ID``: the job's state now, then follow it, download, save and play it;
    nothing is created."""
    call = Call(body={"video_id": video_id}, source="magic", cell=cell_number, endpoint=f"/videos/{video_id}")
    run = _Run(state, call, out)
    run.view.waiting(f"video job {video_id} · asking the server…")
    try:
        with state.lease() as client:
            job = client.retrieve_video(video_id)
    except HaoeeError as e:
        run.end(e)
        run.view.waiting(f"video job {video_id} · error")
        raise
    call.body.update(model=job.model, prompt=job.prompt)
    _follow(run, job, job.prompt or video_id)


def _follow(run: _Run, job: Any, prompt: str) -> None:
    """Poll the job to its end with a progress bar, then download, save and play the video."""
    state, call, view = run.state, run.call, run.view
    call.response = job
    state.namespace["haoee_response"] = job  # the id is there from now on, whatever happens next
    run.keep(job)
    run.write_log()  # now, so the id survives a lost kernel (written again when it ends)
    view.show(video_job_bundle(job))

    def on_progress(update: Any) -> None:
        call.response = update
        state.namespace["haoee_response"] = update
        view.show(video_job_bundle(update))

    try:
        with state.lease() as client:
            job = client.wait_video(job, on_progress=on_progress)
            call.response = job
            job.raise_for_failure()
            result = client.download_video(job)
    except HaoeeError as e:
        from ..client._videos import VideoFailedError  # here, not at load: it imports httpx

        if isinstance(e, VideoFailedError):
            call.response = e.video
            view.show(video_job_bundle(e.video))
        else:  # polling or the download broke off, or it took too long: the job itself may be fine
            e.hint = f"The job {job.id} goes on at the server: %haoee video {job.id} follows it again"
        run.end(e)
        run.keep(call.response)
        raise
    except KeyboardInterrupt as e:
        run.end(interrupted=True)
        raise VideoInterrupted(job.id) from e
    call.response = result
    try:
        result.save(media_stem(media_folder(state.settings), prompt, 1, kind="video")[0])
    finally:
        run.end()
        run.keep(result)
        view.show(video_bundle(result))


# --- inputs, folders and names ----------------------------------------------------------------


def _image_input(ref: str, state: ShellState) -> str | tuple[str, bytes]:
    """A ``--image`` as the client takes it: an http(s) URL as is (the client downloads it, never
    with the key), a file or a variable (PIL image, matplotlib figure, bytes) as ``(name, bytes)``."""
    if re.match(r"(?i)^https?://", ref):
        return ref
    try:
        url = image_url(ref, state.namespace)
    except InputError as e:
        raise UsageError(str(e)) from e
    data = base64.b64decode(url.split(",", 1)[1])
    return (ref if ref.isidentifier() and ref in state.namespace else Path(ref).name), data


def media_folder(settings: Any) -> Path:
    """The folder media is saved in: ``Haoee.media_dir``, a relative path taken from the working
    directory (in Jupyter, the notebook's folder), so the files sit beside the notebook."""
    folder = Path(str(settings.media_dir)).expanduser()
    return folder if folder.is_absolute() else Path.cwd() / folder


def media_stem(folder: Path, prompt: str, count: int, *, kind: str, today: datetime.date | None = None) -> list[Path]:
    """``count`` new file paths without extension, ``<date>-<slug>-<n>``, numbered on from the
    files already there, so nothing is overwritten.

    >>> media_stem(Path("haoee-media"), "A red fox, in the snow!", 2, kind="image")
    [PosixPath('haoee-media/2025-06-01-a-red-fox-in-the-snow-1'), PosixPath('haoee-media/2025-06-01-a-red-fox-in-the-snow-2')]
    """
    base = f"{(today or datetime.date.today()).isoformat()}-{slug(prompt) or kind}"
    pattern = re.compile(re.escape(base) + r"-(\d+)$")
    taken = [
        int(m.group(1)) for p in (folder.glob(base + "-*") if folder.is_dir() else ()) if (m := pattern.match(p.stem))
    ]
    first = max(taken, default=0) + 1
    return [folder / f"{base}-{n}" for n in range(first, first + count)]


def slug(text: str, words: int = 6, limit: int = 40) -> str:
    """The first words of a prompt, lower case, joined by hyphens, safe in a file name and a URL path.

    >>> slug("A calico cat, playing the PIANO at night")
    'a-calico-cat-playing-the-piano'
    """
    parts = re.findall(r"\w+", text.lower())[:words]
    return "-".join(parts)[:limit].strip("-_")


# --- showing ------------------------------------------------------------------------------------


class MediaView:
    """One output in the cell, updated in place: waiting, partial images or progress, the result.
    In a terminal, each new text line is printed once."""

    def __init__(self, shell: Any) -> None:
        self.terminal = in_terminal(shell)
        self.handle: Any = None
        self.printed: str | None = None

    def waiting(self, text: str) -> None:
        self.show({"text/html": f"<sub>{html.escape(text)}</sub>", "text/plain": f"[{text}]"})

    def show(self, data: dict[str, Any]) -> None:
        if self.terminal:
            if data["text/plain"] != self.printed:
                self.printed = data["text/plain"]
                print(self.printed)
            return
        from IPython.display import display

        if self.handle is None:
            self.handle = display(data, raw=True, display_id=True)
        else:
            self.handle.update(data, raw=True)
