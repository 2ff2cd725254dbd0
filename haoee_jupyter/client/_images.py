"""Images: request bodies for ``/v1/images/generations`` and ``/v1/images/edits``, the answers, the images.

An answer carries each image as ``b64_json`` or as a ``url`` (Haoee answers gpt-image-2 with a
signed URL although OpenAI's definition says base64; a ``url`` may also be a ``data:`` URI).
:func:`image_result_from_json` decodes what it can at once and leaves the rest in
``result.pending``: the caller downloads each ``image.url`` (``_image_plan`` does, with the same
timeouts, the key sent only to the API's own origin) and hands the bytes to ``image.attach(data)``.

>>> result = image_result_from_json(answer, model="gpt-image-2")
>>> for image in result.pending:
...     image.attach(download(image.url))
>>> result[0].save("haoee-media/cat")      # -> Path('.../haoee-media/cat.png')
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import httpx

from ._exceptions import ConfigurationError, ProtocolError, ResponseFailedError
from ._files import FilePart, Multipart, decode_base64, is_data_uri, link, sniff_image, write_file
from ._models import Response, Usage, _dict, _int
from ._reader import Reader
from ._stream import _error_fields, _failed

__all__ = [
    "EDITS_PATH",
    "GENERATIONS_PATH",
    "DownloadReader",
    "Image",
    "ImageDownloadReader",
    "ImageResult",
    "ImageStreamState",
    "ImagesReader",
    "image_edit_form",
    "image_generation_body",
    "image_result_from_json",
]

#: An input image: its bytes, or (file name, bytes).
ImageInput = Union[bytes, tuple[str, bytes]]
GENERATIONS_PATH = "/images/generations"
EDITS_PATH = "/images/edits"
_SIZE = re.compile(r"^(auto|\d{2,5}x\d{2,5})$")
_UPLOAD_TYPES = ("image/png", "image/jpeg", "image/webp")


@dataclass(eq=False)
class Image:
    """One generated image: ``.data`` (bytes), ``.mime_type``, ``.size``, ``.url``, ``.path``, ``.save()``.

    Shown inline in a notebook, with a text line naming its size and file elsewhere.
    """

    data: bytes = b""
    url: str | None = None  # where it was downloaded from, if it came as a link
    revised_prompt: str | None = None
    path: Path | None = None  # set once saved

    @property
    def mime_type(self) -> str:
        """Read from the bytes themselves (PNG, JPEG, WebP, GIF); ``application/octet-stream`` otherwise."""
        return sniff_image(self.data)[0] or "application/octet-stream"

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` from the image's header, when it can be read."""
        return sniff_image(self.data)[1]

    def attach(self, data: bytes) -> None:
        """Keep the downloaded bytes of a URL answer; ProtocolError if they are not an image."""
        if sniff_image(data)[0] is None:
            start = data[:40].decode("utf-8", "replace")
            raise ProtocolError(f"The image link answered with something that is not an image: {start!r}")
        self.data = data

    def save(self, path: str | Path) -> Path:
        """Write the image to ``path`` (the right extension is added when it has none); returns the file's path."""
        if not self.data:
            raise ConfigurationError("This image has not been downloaded yet", hint=f"Download {self.url} first")
        self.path = write_file(path, self.data, self.mime_type)
        return self.path

    def __repr__(self) -> str:
        size = "x".join(map(str, self.size)) if self.size else "unknown size"
        where = f", path={str(self.path)!r}" if self.path else (f", url={self.url!r}" if not self.data else "")
        return f"Image({size}, {self.mime_type}, {len(self.data):,} bytes{where})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from ..render import image_bundle

        return image_bundle(self)


@dataclass(eq=False)
class ImageResult:
    """The images of one call, with its usage: ``result.images``, ``result[0]``, ``result.usage``.

    ``raw`` is the answer's JSON without the base64 payloads (those are decoded into the images).
    """

    images: list[Image]
    usage: Usage = field(default_factory=Usage)
    created: int | None = None
    model: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def revised_prompts(self) -> list[str]:
        """The prompts as the model rewrote them (dall-e-3), where it says."""
        return [image.revised_prompt for image in self.images if image.revised_prompt]

    @property
    def pending(self) -> list[Image]:
        """Images that came as a link and still need their bytes (``image.attach``)."""
        return [image for image in self.images if not image.data and image.url]

    def save(self, folder: str | Path, stem: str) -> list[Path]:
        """Save every image as ``folder/stem.png`` (one) or ``folder/stem-1.png``, ``-2`` ... (several)."""
        many = len(self.images) > 1
        return [image.save(Path(folder) / (f"{stem}-{i}" if many else stem)) for i, image in enumerate(self.images, 1)]

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[Image]:
        return iter(self.images)

    def __getitem__(self, index: int) -> Image:
        return self.images[index]

    def __repr__(self) -> str:
        return f"ImageResult(model={self.model!r}, images={self.images!r}, total_tokens={self.usage.total_tokens})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from ..render import images_bundle

        return images_bundle(self)


def image_result_from_json(data: Any, *, model: str = "") -> ImageResult:
    """An ImageResult from an images answer (``data[].b64_json`` or ``data[].url``); raises for an error body."""
    if not isinstance(data, dict):
        raise ProtocolError("The server answered with JSON that is not an images answer")
    if data.get("error") and not data.get("data"):
        error = _error_fields(data)
        raise _failed(error, _no_response(error))
    if not isinstance(data.get("data"), list):
        raise ProtocolError(
            f"The server answered with JSON that is not an images answer (keys: {', '.join(list(data)[:6])})"
        )
    images = [_image(_dict(item)) for item in data["data"]]
    if not images:
        raise ResponseFailedError(
            "The server answered with no images", hint="The prompt may have been refused; change it and run it again"
        )
    raw = {**data, "data": [{k: v for k, v in _dict(item).items() if k != "b64_json"} for item in data["data"]]}
    return ImageResult(
        images=images,
        usage=Usage.from_dict(data.get("usage")),
        created=_int(data.get("created")) or None,
        model=str(data.get("model") or model),
        raw=raw,
    )


def _image(item: dict[str, Any]) -> Image:
    revised = str(item["revised_prompt"]) if item.get("revised_prompt") else None
    if isinstance(item.get("b64_json"), str) and item["b64_json"]:
        return Image(_image_bytes(decode_base64(item["b64_json"])), revised_prompt=revised)
    url = item.get("url")
    if isinstance(url, str) and url:
        if is_data_uri(url):  # nano-banana through some gateways: the image inline as a data: URI
            return Image(_image_bytes(decode_base64(url)), revised_prompt=revised)
        return Image(url=link(url), revised_prompt=revised)  # only an http(s) link is downloaded
    raise ProtocolError("The server sent an image with neither b64_json nor url")


def _image_bytes(data: bytes) -> bytes:
    """Inline image bytes, refused as a download is when they are not an image."""
    if sniff_image(data)[0] is None:
        start = data[:40].decode("utf-8", "replace")
        raise ProtocolError(f"The server sent image data that is not an image: {start!r}")
    return data


def _no_response(error: dict[str, Any]) -> Response:
    return Response({"status": "failed", "error": error})


# --- requests -------------------------------------------------------------------------


def _common(model: str, n: int | None, size: str | None, stream: bool, partial_images: int | None) -> dict[str, Any]:
    if n is not None and not (isinstance(n, int) and 1 <= n <= 10):
        raise ConfigurationError(f"n must be a whole number from 1 to 10, not {n!r}")
    if size is not None and not _SIZE.match(str(size)):
        raise ConfigurationError(f"size must be WIDTHxHEIGHT (e.g. 1024x1024) or auto, not {size!r}")
    if partial_images is not None and not (stream and isinstance(partial_images, int) and 0 <= partial_images <= 3):
        raise ConfigurationError("partial_images (0 to 3) is for streamed calls (stream=True)")
    fields = {"model": model, "n": n, "size": size, "partial_images": partial_images}
    return {**{k: v for k, v in fields.items() if v is not None}, **({"stream": True} if stream else {})}


def image_generation_body(
    prompt: str,
    *,
    model: str,
    n: int | None = None,
    size: str | None = None,
    quality: str | None = None,
    output_format: str | None = None,
    stream: bool = False,
    partial_images: int | None = None,
    **params: Any,
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/images/generations``.

    ``response_format`` is only sent where it is needed: dall-e models answer with a link by
    default, so they are asked for ``b64_json`` (one request, no link that expires); GPT image
    models refuse the field (400 unknown_parameter, fixture media-api/06), and other models'
    defaults are taken as they come, since both shapes are read. An explicit one is sent as given.

    >>> image_generation_body("a cat", model="dall-e-3", size="1024x1024")
    {'prompt': 'a cat', 'model': 'dall-e-3', 'size': '1024x1024', 'response_format': 'b64_json'}
    """
    if not str(prompt).strip():
        raise ConfigurationError("The image prompt is empty", hint="Write what the image should show")
    body = {"prompt": str(prompt), **_common(model, n, size, stream, partial_images)}
    body.update({k: v for k, v in {"quality": quality, "output_format": output_format}.items() if v is not None})
    body.update({k: v for k, v in params.items() if v is not None})
    if "response_format" not in body and model.lower().startswith("dall-e"):
        body["response_format"] = "b64_json"
    return body


def image_edit_form(
    prompt: str,
    images: Sequence[ImageInput],
    *,
    model: str,
    mask: bytes | None = None,
    n: int | None = None,
    size: str | None = None,
    stream: bool = False,
    partial_images: int | None = None,
    **params: Any,
) -> tuple[dict[str, str], list[FilePart]]:
    """``(data, files)`` for httpx's multipart ``POST /v1/images/edits``.

    One image goes as the part ``image`` (what every server takes), several as repeated ``image[]``
    parts, as the official SDK sends a list. Other fields (``quality``, ``output_format``,
    ``input_fidelity``, ``background`` ...) go as text parts.

    >>> data, files = image_edit_form("add a hat", [png_bytes], model="gpt-image-1")
    >>> files[0][0], files[0][1][2]
    ('image', 'image/png')
    """
    if not str(prompt).strip():
        raise ConfigurationError("The image prompt is empty", hint="Write how the image should change")
    if not images or len(images) > 16:
        raise ConfigurationError(f"An edit takes 1 to 16 images, not {len(images)}")
    name = "image" if len(images) == 1 else "image[]"
    files = Multipart(_upload(name, image, i) for i, image in enumerate(images, 1))
    if mask is not None:
        if sniff_image(mask)[0] != "image/png":
            raise ConfigurationError("The mask must be a PNG image (transparent where the image should change)")
        files.append(("mask", ("mask.png", mask, "image/png")))
    fields = {"prompt": str(prompt), **_common(model, n, size, stream, partial_images), **params}
    return {key: _text(value) for key, value in fields.items() if value is not None}, files


def _upload(name: str, image: ImageInput, number: int) -> FilePart:
    filename, data = image if isinstance(image, tuple) else (f"image-{number}", image)
    mime = sniff_image(data)[0]
    if mime not in _UPLOAD_TYPES:
        raise ConfigurationError(f"Input image {filename!r} is not a PNG, JPEG or WebP image", hint="Convert it first")
    extension = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}[mime]
    return name, (filename if "." in filename else filename + extension, data, mime)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)


# --- streamed images --------------------------------------------------------------------


class ImageStreamState:
    """Reads a streamed images answer (``stream: true``): partial images as they come, then the result.

    Events: ``image_generation.partial_image`` / ``image_edit.partial_image`` (``b64_json``,
    ``partial_image_index``) and ``*.completed`` (the final image and ``usage``), one completed per
    image; some gateways end with ``data: [DONE]``. ``on_partial(image)`` is called for each partial.
    """

    def __init__(self, on_partial: Callable[[Image], Any] | None = None, *, n: int = 1, model: str = "") -> None:
        self.on_partial = on_partial
        self.n = max(1, n)
        self.model = model
        self.images: list[Image] = []
        self.latest: Image | None = None  # the last partial image, shown until the final one comes
        self.usage = Usage()
        self.created: int | None = None
        self.error: dict[str, Any] | None = None
        self.done = False

    def feed_payload(self, payload: str) -> bool:
        """Handle one frame's data; True once every image, ``[DONE]`` or an error arrived."""
        if payload.strip() == "[DONE]":
            self.done = True
            return True
        try:
            event = json.loads(payload)
        except (ValueError, RecursionError) as e:
            raise ProtocolError(f"The image stream sent data that is not JSON: {payload[:80]!r}") from e
        if not isinstance(event, dict):
            return False
        kind = str(event.get("type") or ("error" if event.get("error") else ""))
        if kind == "error" or kind.endswith(".failed"):
            self.error = _error_fields(event)
            return True
        if kind.endswith(".partial_image") and isinstance(event.get("b64_json"), str):
            self.latest = Image(decode_base64(event["b64_json"]))
            if self.on_partial is not None:
                self.on_partial(self.latest)
        elif kind.endswith(".completed"):
            self.images.append(_image(event))
            self.usage = self.usage + Usage.from_dict(event.get("usage"))
            self.created = self.created or _int(event.get("created_at")) or None
            self.done = len(self.images) >= self.n
        return self.done

    def partial(self) -> ImageResult:
        """The finished images so far (or the latest partial one)."""
        images = self.images or ([self.latest] if self.latest else [])
        return ImageResult(images=images, usage=self.usage, created=self.created, model=self.model)

    def result(self) -> ImageResult:
        """The final ImageResult; raises ResponseFailedError or ProtocolError when there is none."""
        if self.error is not None:
            raise _failed(self.error, _no_response(self.error))
        if not self.images:
            raise ProtocolError(
                "The image stream ended before any image was complete",
                hint="The connection or a proxy cut the answer short; run it again",
            )
        return self.partial()


class ImagesReader(Reader[ImageResult]):
    """Reads an images answer: a JSON body, or (``stream: true``) its partial and completed events."""

    def __init__(self, model: str = "", *, n: int = 1, on_partial: Callable[[Image], Any] | None = None) -> None:
        self.model = model
        self.state = ImageStreamState(on_partial, n=n, model=model)

    def json(self, data: Any) -> ImageResult:
        return image_result_from_json(data, model=self.model)

    def event(self, payload: str) -> bool:
        return self.state.feed_payload(payload)

    def result(self) -> ImageResult:
        return self.state.result()


class DownloadReader(Reader[bytes]):
    """A file's bytes as they are (an image or video link answered); the status was checked already."""

    raw = True

    def content(self, response: httpx.Response, body: bytes) -> bytes:
        return body


class ImageDownloadReader(Reader[Image]):
    """Downloads an answer's image link into the image (``image.attach``); refuses what is not an image."""

    raw = True

    def __init__(self, image: Image) -> None:
        self.image = image

    def content(self, response: httpx.Response, body: bytes) -> Image:
        self.image.attach(body)
        return self.image
