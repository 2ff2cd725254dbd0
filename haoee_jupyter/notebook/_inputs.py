"""Turning notebook objects into request parts: images, and schemas for structured output."""

from __future__ import annotations

import base64
import io
import mimetypes
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
        mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if not mime.startswith("image/"):
            raise InputError(f"--image {ref}: {mime} is not an image; give a PNG, JPEG, GIF or WebP file")
        with open(path, "rb") as file:
            return _data_url(file.read(), mime)
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
        buffer.write(value)
    elif isinstance(value, str):
        return image_url(value, {})
    else:
        raise InputError(
            f"--image {name}: a {type(value).__name__} is not an image; use a PIL image, a matplotlib figure, PNG bytes, or a path"
        )
    return _data_url(buffer.getvalue(), "image/png")


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
