"""Turning notebook objects into request parts: images, and schemas for structured output."""

from __future__ import annotations

import base64
import io
import os
import re
from typing import Any


class InputError(Exception):
    """A value the user gave cannot be used; the message says what to do."""


def image_url(ref: str, namespace: dict[str, Any]) -> str:
    """An ``input_image`` URL for a file path, an http(s) URL, or a PIL image / matplotlib
    figure held in a notebook variable."""
    if re.match(r"(?i)^(https?:|data:image/)", ref):
        return ref
    if ref.isidentifier() and ref in namespace:
        return _object_url(namespace[ref], ref)
    path = os.path.expanduser(ref)
    if os.path.isfile(path):
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as e:
            raise InputError(f"--image {ref}: the file cannot be read ({e.strerror}); check its permissions") from e
        mime = image_type(data)
        if mime is None:
            raise InputError(
                f"--image {ref}: the file's content is not a PNG, JPEG, GIF or WebP image, whatever its name; give an image file"
            )
        return _data_url(data, mime)
    raise InputError(
        f"--image {ref}: no such file, URL or variable; give a file path, an https:// URL, or the name of a PIL image or matplotlib figure"
    )


def _object_url(value: Any, name: str) -> str:
    buffer = io.BytesIO()
    if hasattr(value, "savefig"):  # a matplotlib Figure
        value.savefig(buffer, format="png", bbox_inches="tight")
    elif hasattr(value, "save") and hasattr(value, "mode"):  # a PIL Image
        value.save(buffer, format="PNG")
    elif isinstance(value, (bytes, bytearray)):
        mime = image_type(bytes(value))
        if mime is None:
            raise InputError(f"--image {name}: these bytes are not a PNG, JPEG, GIF or WebP image")
        return _data_url(bytes(value), mime)
    elif isinstance(value, str):
        return image_url(value, {})
    else:
        raise InputError(
            f"--image {name}: a {type(value).__name__} is not an image; use a PIL image, a matplotlib figure, PNG bytes, or a path"
        )
    return _data_url(buffer.getvalue(), "image/png")


def image_type(data: bytes) -> str | None:
    """The MIME type of an image from its first bytes (PNG, JPEG, GIF or WebP), else None.

    The content decides, not a file name: a text file named ``cat.png`` is not an image.

    >>> image_type(b"GIF89a...")
    'image/gif'
    """
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def schema_format(name: str, namespace: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """``text.format`` for a JSON Schema dict or a pydantic model in the namespace, and a
    parser that turns the answer's JSON into a dict or a model instance."""
    if name not in namespace:
        raise InputError(
            f"--schema {name}: no variable of that name; define a JSON Schema dict or a pydantic model first"
        )
    value = namespace[name]
    if hasattr(value, "model_json_schema") and hasattr(value, "model_validate_json"):
        schema, parse = value.model_json_schema(), value.model_validate_json
        title = value.__name__
    elif isinstance(value, dict):
        import json

        schema, parse, title = value, json.loads, str(value.get("title") or name)
    else:
        raise InputError(
            f"--schema {name}: a {type(value).__name__} is not a schema; use a JSON Schema dict or a pydantic model class"
        )
    safe_name = re.sub(r"[^a-zA-Z0-9_-]", "_", title)[:64] or "answer"
    return {"type": "json_schema", "name": safe_name, "schema": schema}, parse
