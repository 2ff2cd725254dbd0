"""A small multipart/form-data parser (RFC 7578) for image edits and video jobs.

The standard library's `cgi` module is gone (Python 3.13) and `email`'s parser rewrites line
ends inside binary parts, so this splits on the boundary itself and uses `email` only for each
part's headers.

    >>> body = (b'--b\\r\\nContent-Disposition: form-data; name="prompt"\\r\\n\\r\\nA cat\\r\\n'
    ...         b'--b\\r\\nContent-Disposition: form-data; name="image[]"; filename="a.png"\\r\\n'
    ...         b'Content-Type: image/png\\r\\n\\r\\n\\x89PNG\\r\\n--b--\\r\\n')
    >>> form = parse_form("multipart/form-data; boundary=b", body)
    >>> form.value("prompt"), form.files("image")[0].filename, form.files("image")[0].data
    ('A cat', 'a.png', b'\\x89PNG')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import HTTP
from typing import Any

from ._protocol import ApiError

__all__ = ["Form", "Upload", "parse_form"]

MAX_PARTS = 64


@dataclass(frozen=True)
class Upload:
    """A file part: its field name, file name, declared content type and bytes."""

    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Form:
    """Fields in the order sent; `name[]` and `name` are the same field, as clients use both."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        """The last text value sent for `name` (or `name[]`), None when absent."""
        values = [v for n, v in self.fields if _bare(n) == name]
        return values[-1] if values else None

    def files(self, name: str) -> list[Upload]:
        return [u for u in self.uploads if _bare(u.name) == name]

    def names(self) -> set[str]:
        return {_bare(n) for n, _ in self.fields} | {_bare(u.name) for u in self.uploads}

    def summary(self) -> dict[str, Any]:
        """The form as the request log keeps it: text fields, and files by size and type."""
        summary: dict[str, Any] = {}
        for name, value in self.fields:
            summary[name] = value
        for upload in self.uploads:
            summary.setdefault(upload.name, []).append(
                {"filename": upload.filename, "content_type": upload.content_type, "bytes": len(upload.data)}
            )
        return summary


def _bare(name: str) -> str:
    return name[:-2] if name.endswith("[]") else name


def _bad(detail: str) -> ApiError:
    return ApiError(400, f"Could not parse the multipart form: {detail}.", code="invalid_multipart")


def _boundary(content_type: str) -> bytes:
    message = Message()
    message["Content-Type"] = content_type
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise _bad("the Content-Type header has no boundary")
    return boundary.encode("latin-1")


def parse_form(content_type: str, body: bytes) -> Form:
    """Parse a multipart/form-data body, or raise ApiError(400) saying what is wrong."""
    delimiter = b"--" + _boundary(content_type)
    form = Form()
    start = body.find(delimiter)
    if start < 0:
        raise _bad("the boundary does not occur in the body")
    position = start + len(delimiter)
    for _count in range(MAX_PARTS + 1):
        if body.startswith(b"--", position):
            return form
        # Each part starts after the delimiter's line end and ends at CRLF + the next delimiter.
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise _bad("a part is cut off")
        end = body.find(b"\r\n" + delimiter, line_end)
        if end < 0:
            raise _bad("the closing boundary is missing")
        _add_part(form, body[line_end + 2 : end])
        position = end + 2 + len(delimiter)
    raise _bad(f"more than {MAX_PARTS} parts")


def _add_part(form: Form, part: bytes) -> None:
    head_end = part.find(b"\r\n\r\n")
    if head_end < 0:
        raise _bad("a part has no blank line after its headers")
    headers = BytesHeaderParser(policy=HTTP).parsebytes(part[: head_end + 4])
    data = part[head_end + 4 :]
    disposition = headers.get("Content-Disposition")
    if disposition is None:
        raise _bad("a part has no Content-Disposition header")
    name = headers.get_param("name", header="Content-Disposition")
    if not isinstance(name, str):
        raise _bad("a part has no name")
    filename = headers.get_filename()
    if filename is None:
        form.fields.append((name, data.decode("utf-8", errors="replace")))
    else:
        content_type = headers.get_content_type() if headers.get("Content-Type") else "application/octet-stream"
        form.uploads.append(Upload(name, filename, content_type, data))
