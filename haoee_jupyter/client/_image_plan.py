"""The steps of ``generate_image``: input images read, the request, then every image link downloaded.

Shared by both clients (see ``_calls``): ``Client`` runs a plan with blocking I/O, ``AsyncClient``
awaits it. Without input images the request is JSON to ``/v1/images/generations``; with them,
multipart to ``/v1/images/edits``. An answer's ``url`` images are downloaded at once (signed links
expire), with the same timeouts and through the same pool, and never with the key unless the link
is on the API's own origin (scheme, host and port).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Union
from urllib.parse import unquote, urlsplit

from ._calls import Call, Plan, download
from ._exceptions import ConfigurationError, HaoeeError, ProtocolError
from ._files import decode_base64, is_data_uri
from ._images import (
    EDITS_PATH,
    GENERATIONS_PATH,
    DownloadReader,
    Image,
    ImageDownloadReader,
    ImageInput,
    ImageResult,
    ImagesReader,
    image_edit_form,
    image_generation_body,
)

__all__ = ["DEFAULT_IMAGE_MODEL", "PARTIAL_IMAGES", "ImageSource", "generate_image", "image_input"]

#: The image model when none is given: Haoee's GPT image model (it answers with a link).
DEFAULT_IMAGE_MODEL = "gpt-image-2"
#: Partial images asked for when ``on_partial`` is given and ``partial_images`` is not.
PARTIAL_IMAGES = 2

#: An input image: its bytes, ``(file name, bytes)``, a file path, or an ``https://`` / ``data:`` URL.
ImageSource = Union[bytes, tuple[str, bytes], str, os.PathLike[str]]


def image_input(source: ImageSource, what: str = "input image") -> Plan[ImageInput]:
    """An image to upload, as ``(name, bytes)`` or bytes: read from a file, or downloaded from a URL.

    The type is read from the bytes later (``image_edit_form``, ``video_create_form``), never
    from the file's name.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], (bytes, bytearray)):
        return str(source[0]), bytes(source[1])
    if isinstance(source, str) and is_data_uri(source):
        try:
            return decode_base64(source)
        except ProtocolError as e:
            raise ConfigurationError(f"The {what} data: URL is not valid base64", hint="Copy it again") from e
    if isinstance(source, str) and source.startswith(("https://", "http://")):
        try:
            name = unquote(Path(urlsplit(source).path).name) or "image"
            urlsplit(source).port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as e:
            raise ConfigurationError(f"The {what} URL {source[:120]!r} is not a valid URL", hint="Copy it again") from e
        data = yield download(source, DownloadReader())
        return name, data
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        try:
            return path.name, path.read_bytes()
        except OSError as e:
            raise ConfigurationError(
                f"Could not read the {what} {str(path)!r}: {e.strerror or e}",
                hint="Check the path (relative paths start at the working directory, the notebook's folder)",
            ) from e
    raise ConfigurationError(
        f"An {what} is given as bytes, (name, bytes), a file path or a URL, not {type(source).__name__}"
    )


def generate_image(
    prompt: str,
    *,
    model: str | None,
    n: int | None,
    size: str | None,
    quality: str | None,
    output_format: str | None,
    images: ImageSource | Sequence[ImageSource] | None,
    mask: ImageSource | None,
    stream: bool,
    on_partial: Callable[[Image], Any] | None,
    params: dict[str, Any],
) -> Plan[ImageResult]:
    """The plan of ``Client.generate_image``: one request, then a download per image link."""
    model = model or DEFAULT_IMAGE_MODEL
    if on_partial is not None and not stream:
        raise ConfigurationError("on_partial shows the partial images of a streamed call", hint="Pass stream=True too")
    if on_partial is not None and params.get("partial_images") is None:
        params = {**params, "partial_images": PARTIAL_IMAGES}
    read = ImagesReader(model, n=n or 1, on_partial=on_partial)
    options: dict[str, Any] = {"quality": quality, "output_format": output_format, **params}
    sources = _sources(images)
    if not sources:
        if mask is not None:
            raise ConfigurationError("A mask marks where to edit an input image", hint="Pass the images to edit too")
        body = image_generation_body(prompt, model=model, n=n, size=size, stream=stream, **options)
        call = Call("POST", GENERATIONS_PATH, read=read, json=body, stream=stream, model=model)
    else:
        inputs = []
        for source in sources:
            inputs.append((yield from image_input(source)))
        mask_bytes = None
        if mask is not None:
            found = yield from image_input(mask, "mask")
            mask_bytes = found[1] if isinstance(found, tuple) else found
        data, files = image_edit_form(
            prompt, inputs, model=model, mask=mask_bytes, n=n, size=size, stream=stream, **options
        )
        call = Call("POST", EDITS_PATH, read=read, data=data, files=files, stream=stream, model=model)
    result: ImageResult = yield call
    yield from download_images(result)
    return result


def download_images(result: ImageResult) -> Plan[None]:
    """Fetch every image that came as a link; a failure keeps the result (``error.result``) and says so."""
    for number, image in enumerate(result.images, 1):
        if image.data or not image.url:
            continue
        try:
            yield download(image.url, ImageDownloadReader(image))
        except HaoeeError as e:
            which = f"image {number} of {len(result)}" if len(result) > 1 else "image"
            e.message = f"The {which} was made but its download failed: {e.message}"
            e.args = (e.message,)
            e.hint = "Its link is in error.result.pending (it expires within a day): download it again soon"
            vars(e)["result"] = result
            raise


def _sources(images: Any) -> list[Any]:
    """One image or several, as a list (``image_input`` refuses what is not an image)."""
    if images is None:
        return []
    one = isinstance(images, (bytes, bytearray, memoryview, str, os.PathLike)) or (
        isinstance(images, tuple) and len(images) == 2 and isinstance(images[1], (bytes, bytearray))
    )
    return [images] if one or not isinstance(images, Iterable) else list(images)
