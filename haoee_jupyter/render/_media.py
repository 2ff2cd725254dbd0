"""Mimebundles for media: an image inline, several in a row, a video player, a video job's state.

Duck-typed like the text bundles: nothing from the client is imported, so the client's Image,
ImageResult, Video and VideoResult render themselves through here without an import circle.
Every bundle carries ``text/plain`` (terminal IPython, nbconvert to text, logs).
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ._text import footer_markdown, footer_plain

#: What JupyterLab's image renderer shows (4.x); anything else is described in text only.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

Image = Any  # client Image: .data, .mime_type, .size, .url, .path, .revised_prompt
ImageResult = Any  # client ImageResult: .images, .model, .usage
VideoResult = Any  # client VideoResult: .data, .mime_type, .path, .video (the job)
Video = Any  # client Video: .id, .status, .progress, .model, .seconds, .size, .error


def image_bundle(image: Image) -> dict[str, Any]:
    """The image itself (base64 under its own MIME type) with a text line naming its size and file."""
    plain = image_plain(image)
    if image.data and image.mime_type in INLINE_IMAGE_TYPES:
        return {image.mime_type: base64.b64encode(image.data).decode("ascii"), "text/plain": plain}
    return {"text/plain": plain}


def image_plain(image: Image) -> str:
    """``Image 1024x1024 PNG, 1.2 MB, saved as haoee-media/cat.png``."""
    if not image.data:
        return f"Image not downloaded yet: {image.url}"
    size = "x".join(map(str, image.size)) if image.size else "of unknown size"
    kind = image.mime_type.split("/")[-1].upper() if image.mime_type.startswith("image/") else "data"
    where = f", saved as {_shown_path(image.path)}" if image.path else ""
    return f"Image {size} {kind}, {_bytes(len(image.data))}{where}"


def images_bundle(result: ImageResult) -> dict[str, Any]:
    """One image: its own MIME type. Several: a row of them in HTML. Both with model and tokens in text."""
    facts = media_facts(result)
    images = list(result.images)
    plain = "\n".join(image_plain(image) for image in images)
    revised = [f"Revised prompt: {image.revised_prompt}" for image in images if image.revised_prompt]
    plain = "\n".join([plain, *revised]) + footer_plain(facts)
    if len(images) == 1:
        return {**image_bundle(images[0]), "text/plain": plain}
    cells = []
    for image in images:
        caption = html.escape(image_plain(image))
        if image.data and image.mime_type in INLINE_IMAGE_TYPES:
            src = f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode('ascii')}"
            picture = f'<img src="{src}" alt="{caption}" style="max-width:100%">'
        else:
            picture = ""
        cells.append(f'<div style="max-width:48%">{picture}<div><sub>{caption}</sub></div></div>')
    row = f'<div style="display:flex;flex-wrap:wrap;gap:8px">{"".join(cells)}</div>'
    return {"text/html": row + footer_markdown(facts).strip(), "text/plain": plain}


def media_facts(result: Any) -> list[str]:
    """Footer facts of a media call: model and tokens (image models report tokens; video jobs none)."""
    facts = [str(getattr(result, "model", "") or "")]
    usage = getattr(result, "usage", None)
    if usage is not None and usage.total_tokens:
        facts.append(f"{usage.input_tokens:,} in / {usage.output_tokens:,} out tokens")
    return [fact for fact in facts if fact]


def video_bundle(video: VideoResult, *, relative_to: str | Path | None = None) -> dict[str, str]:
    """An inline ``<video controls>`` player and a text line naming the job, length, size and file.

    A saved file under ``relative_to`` (default: the working directory, which is the notebook's
    folder in Jupyter) is referred to by its relative path: JupyterLab serves it beside the
    notebook, and the saved notebook stays small. Otherwise the video goes inline as a data URL.
    """
    src = _relative_src(video.path, relative_to)
    if src is None:
        src = f"data:{video.mime_type};base64,{base64.b64encode(video.data).decode('ascii')}"
    facts = _video_facts(video.video)
    if video.path:
        facts.append(_shown_path(video.path))
    player = (
        f'<video controls preload="metadata" src="{html.escape(src)}" style="max-width:100%;max-height:480px"></video>'
    )
    return {
        "text/html": player + footer_markdown(facts).strip(),
        "text/plain": "Video " + " · ".join(facts + [_bytes(len(video.data))]),
    }


def video_job_bundle(job: Video) -> dict[str, str]:
    """A job's state: a progress bar while it runs, the server's reason when it failed."""
    facts = _video_facts(job)
    state = job.status or "unknown"
    if job.failed:
        state = f"failed: {(job.error or {}).get('message') or 'no reason given'}"
    elif not job.done:
        state = f"{state} {job.progress}%"
    plain = f"Video job {' · '.join([*facts[:1], state, *facts[1:]])}"
    bar = "" if job.done else f'<progress value="{job.progress}" max="100"></progress> '
    return {"text/html": f"<div>{bar}<code>{html.escape(plain)}</code></div>", "text/plain": plain}


def _video_facts(job: Video) -> list[str]:
    seconds = f"{job.seconds} s" if job.seconds else ""
    return [fact for fact in (job.id, job.model, seconds, job.size) if fact]


def _relative_src(path: Path | None, base: str | Path | None) -> str | None:
    if path is None:
        return None
    try:
        relative = Path(path).resolve().relative_to(Path(base or os.getcwd()).resolve())
    except ValueError:
        return None  # outside the notebook's folder: the server would not serve it
    return quote(relative.as_posix())


def _shown_path(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _bytes(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f} MB"
    return f"{count / 1000:.1f} kB" if count >= 1000 else f"{count} bytes"
