"""Image requests of the offline server: reading generations (JSON) and edits (multipart).

Every image is a PNG drawn from the prompt (and, for edits, the input images' bytes), whatever
`output_format` asks: the standard library cannot write JPEG or WebP, so the answer says
`"output_format": "png"` and the bytes are PNG, rather than refusing a demo. `response_format`
is honoured; without it the answer takes the form the real model family uses: GPT image models
give `b64_json`, `gpt-image-2*` a URL (as Haoee does, fixture 04), `nano-banana*` a `data:` URI
inside `url` (as a gateway document shows). URLs point back at this server.

    >>> request = parse_image_request({"prompt": "a fox", "size": "64x32"}, inputs=(), edit=False)
    >>> request.width, request.height, request.answer_form
    (64, 32, 'b64_json')
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._answers import IMAGE_TOKENS, count_tokens, excerpt
from ._errors import ApiError, check_choice, check_integer, invalid_type, missing
from ._multipart import Form
from ._png import image_size, sniff_image

__all__ = [
    "MAX_INPUT_IMAGES",
    "ImageRequest",
    "form_fields",
    "json_inputs",
    "parse_image_request",
]

MAX_SIDE = 3840
MAX_PIXELS = 3840 * 2160
MAX_INPUT_IMAGES = 16
DEFAULT_MODEL = "gpt-image-1"
# Output tokens of one 1024x1024 image by quality (OpenAI's published gpt-image-1 figures).
_QUALITY_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
_QUALITIES = ("low", "medium", "high", "auto", "standard", "hd")
_ANSWERED_QUALITY = {"auto": "medium", "standard": "medium", "hd": "high"}
_INTEGER_FIELDS = ("n", "partial_images", "output_compression")
_SIZE_RE = re.compile(r"(\d{1,5})x(\d{1,5})\Z")


@dataclass(frozen=True)
class ImageRequest:
    """A validated image request; `inputs` are the input images' bytes (edits, references)."""

    edit: bool
    model: str
    prompt: str
    n: int
    width: int
    height: int
    quality: str
    background: str
    answer_form: str  # "b64_json", "url" or "data_url"
    stream: bool
    partial_images: int
    inputs: tuple[bytes, ...]

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def event_prefix(self) -> str:
        return "image_edit" if self.edit else "image_generation"

    def seed(self, index: int) -> bytes:
        """What image `index` is drawn from: the prompt, its place, and every input image."""
        return b"\x00".join([self.prompt.encode(), str(index).encode(), *self.inputs])

    def revised_prompt(self) -> str:
        return f"Offline demo pattern drawn from the prompt: {excerpt(self.prompt, 200)}"

    def usage(self, images: int | None = None, *, with_input: bool = True) -> dict[str, Any]:
        """Token usage for `images` of the images (all by default), input counted once."""
        count = self.n if images is None else images
        text_tokens = count_tokens(self.prompt) if with_input else 0
        image_tokens = IMAGE_TOKENS * len(self.inputs) if with_input else 0
        per_image = round(_QUALITY_TOKENS[self.quality] * self.width * self.height / (1024 * 1024))
        output = count * per_image
        return {
            "input_tokens": text_tokens + image_tokens,
            "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text_tokens},
            "output_tokens": output,
            "total_tokens": text_tokens + image_tokens + output,
            "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
        }


def form_fields(form: Form) -> dict[str, Any]:
    """A form's text fields as a JSON body would have them (numbers and booleans converted)."""
    fields: dict[str, Any] = {}
    for name in form.names():
        value = form.value(name)
        if value is None:
            continue
        if name in _INTEGER_FIELDS and re.fullmatch(r"-?\d+", value.strip()):
            fields[name] = int(value)
        elif name == "stream" and value.strip().lower() in ("true", "false"):
            fields[name] = value.strip().lower() == "true"
        else:
            fields[name] = value
    return fields


def _data_uri_bytes(value: str) -> bytes:
    if value.startswith("data:") and "," in value:
        header, _, payload = value.partition(",")
        if header.endswith(";base64"):
            try:
                return base64.b64decode(payload, validate=False)
            except (binascii.Error, ValueError):
                pass
        return payload.encode()
    return value.encode()  # a URL: the offline server fetches nothing, so the URL is the seed


def json_inputs(body: Mapping[str, Any]) -> tuple[bytes, ...]:
    """Input images sent in JSON: `image` (a data URI, URL or a list of them) or `images`."""
    values: list[Any] = []
    image = body.get("image")
    values.extend(image if isinstance(image, list) else [] if image is None else [image])
    images = body.get("images")
    if isinstance(images, list):
        values.extend(item.get("image_url") if isinstance(item, Mapping) else item for item in images)
    found = tuple(_data_uri_bytes(v) for v in values if isinstance(v, str))
    if len(found) > MAX_INPUT_IMAGES:
        raise _too_many()
    return found


def _too_many() -> ApiError:
    return ApiError(400, f"Too many images: at most {MAX_INPUT_IMAGES} may be sent.", param="image")


def form_inputs(form: Form) -> tuple[bytes, ...]:
    """The `image` / `image[]` files of an edit, each checked to be PNG, JPEG or WebP."""
    uploads = form.files("image")
    if not uploads:
        if form.value("image") is not None:
            return (_data_uri_bytes(form.value("image") or ""),)
        raise missing("image")
    if len(uploads) > MAX_INPUT_IMAGES:
        raise _too_many()
    for upload in uploads:
        if sniff_image(upload.data) not in ("image/png", "image/jpeg", "image/webp"):
            raise _unsupported_file("image", upload.content_type, "'image/jpeg', 'image/png', and 'image/webp'")
    for mask in form.files("mask"):
        if sniff_image(mask.data) != "image/png":
            raise _unsupported_file("mask", mask.content_type, "'image/png'")
    return tuple(upload.data for upload in uploads)


def _unsupported_file(param: str, declared: str, supported: str) -> ApiError:
    return ApiError(
        400,
        f"Invalid file '{param}': unsupported mimetype ('{declared}'). Supported file formats are {supported}.",
        param=param,
        code="unsupported_file_mimetype",
    )


def _size(body: Mapping[str, Any], inputs: Sequence[bytes]) -> tuple[int, int]:
    value = body.get("size")
    if value is None or value == "auto":
        # An edit keeps the size of its (first) input image when that is a PNG of a size we draw.
        found = image_size(inputs[0]) if inputs else None
        if found and _drawable(*found):
            return found
        return 1024, 1024
    if not isinstance(value, str):
        raise invalid_type("size", "a string", value)
    match = _SIZE_RE.match(value)
    if match is None or not _drawable(int(match[1]), int(match[2])):
        raise ApiError(
            400,
            f"Invalid size {value!r}: the offline demo server draws 'auto' or WIDTHxHEIGHT, each side "
            f"16 to {MAX_SIDE} pixels and at most {MAX_SIDE}x2160 in all, e.g. '1024x1024' or '1536x1024'.",
            param="size",
            code="invalid_value",
        )
    return int(match[1]), int(match[2])


def _drawable(width: int, height: int) -> bool:
    return 16 <= width <= MAX_SIDE and 16 <= height <= MAX_SIDE and width * height <= MAX_PIXELS


def _answer_form(body: Mapping[str, Any], model: str) -> str:
    requested = check_choice(body, "response_format", ("url", "b64_json"), "")
    if requested:
        return requested
    if model.startswith("gpt-image-2"):
        return "url"
    if model.startswith("nano-banana"):
        return "data_url"
    return "b64_json"


def parse_image_request(body: Any, *, inputs: tuple[bytes, ...], edit: bool) -> ImageRequest:
    """Validate the fields of a generation or an edit, or raise `ApiError`."""
    if not isinstance(body, Mapping):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_type")
    prompt = body.get("prompt")
    if prompt is None:
        raise missing("prompt")
    if not isinstance(prompt, str):
        raise invalid_type("prompt", "a string", prompt)
    model = body.get("model", DEFAULT_MODEL)
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    n = check_integer(body, "n", 1, 10) or 1
    quality = check_choice(body, "quality", _QUALITIES, "auto")
    check_choice(body, "output_format", ("png", "jpeg", "webp"), "png")
    check_integer(body, "output_compression", 0, 100)
    background = check_choice(body, "background", ("transparent", "opaque", "auto"), "auto")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean", stream)
    partial_images = check_integer(body, "partial_images", 0, 3) or 0
    width, height = _size(body, inputs)
    return ImageRequest(
        edit=edit,
        model=model,
        prompt=prompt,
        n=n,
        width=width,
        height=height,
        quality=_ANSWERED_QUALITY.get(quality, quality),
        background="transparent" if background == "transparent" else "opaque",
        answer_form=_answer_form(body, model),
        stream=stream,
        partial_images=partial_images,
        inputs=inputs,
    )
