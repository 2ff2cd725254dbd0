"""What media bytes are, read from their own first bytes, and writing them to a file.

The MIME type of an image or video is sniffed from its magic numbers, never taken from the
request (a model asked for WebP may answer PNG) nor from a download's Content-Type (signed
storage URLs often say ``application/octet-stream``).

>>> sniff_image(b"GIF89a\\x02\\x00\\x01\\x00")
('image/gif', (2, 1))
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from pathlib import Path
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError, ProtocolError

__all__ = [
    "EXTENSIONS",
    "FilePart",
    "Multipart",
    "decode_base64",
    "is_data_uri",
    "sniff_image",
    "sniff_video",
    "write_file",
]

#: An uploaded file as httpx takes it: (field name, (file name, bytes, MIME type)).
FilePart = tuple[str, tuple[str, bytes, str]]


class Multipart(list[FilePart]):
    """File parts for httpx's ``files=``; true even when empty, so the body is multipart/form-data
    (as the official SDK sends it) and not a urlencoded form."""

    def __bool__(self) -> bool:
        return True


#: MIME type -> file extension for what we save.
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}
_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(;[\w=.+-]+)*;base64,", re.IGNORECASE)


def sniff_image(data: bytes) -> tuple[str | None, tuple[int, int] | None]:
    """``(mime type, (width, height))`` of PNG, JPEG, WebP or GIF bytes; ``(None, None)`` for anything else."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return "image/png", struct.unpack(">II", data[16:24]) if data[12:16] == b"IHDR" else None
        if data.startswith(b"\xff\xd8\xff"):
            return "image/jpeg", _jpeg_size(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return "image/webp", _webp_size(data)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return "image/gif", struct.unpack("<HH", data[6:10])
    except struct.error:  # a header cut short: the type is known, the size is not
        return _type_only(data), None
    return None, None


def _type_only(data: bytes) -> str | None:
    return {b"\x89P": "image/png", b"\xff\xd8": "image/jpeg", b"RI": "image/webp", b"GI": "image/gif"}.get(data[:2])


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    # Walk the segments to the first start-of-frame marker; its header holds height then width.
    offset = 2
    while offset + 9 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:  # markers without a length
            offset += 1 if marker == 0xFF else 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return width, height
        offset += 2 + struct.unpack(">H", data[offset + 2 : offset + 4])[0]
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the frame tag and start code
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: two 14-bit sizes, minus one, after the signature byte
        bits = struct.unpack("<I", data[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas sizes, minus one
        width = int.from_bytes(data[24:27], "little") + 1
        return width, int.from_bytes(data[27:30], "little") + 1
    return None


def sniff_video(data: bytes) -> str | None:
    """``video/mp4``, ``video/quicktime`` or ``video/webm`` from the bytes' own header, else None."""
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


def decode_base64(text: str, what: str = "image") -> bytes:
    """Base64 (standard or URL-safe, with or without a ``data:...;base64,`` prefix) to bytes."""
    text = _DATA_URI.sub("", text.strip(), count=1)
    text = "".join(text.split())
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ProtocolError(f"The server sent {what} data that is not valid base64: {text[:40]!r}") from e


def is_data_uri(text: str) -> bool:
    return bool(_DATA_URI.match(text.strip()))


def write_file(path: str | Path, data: bytes, mime_type: str | None) -> Path:
    """Write ``data`` to ``path`` (adding the extension when it has none; making folders); the absolute path."""
    target = Path(path).expanduser()
    if not target.suffix and mime_type in EXTENSIONS:
        target = target.with_suffix(EXTENSIONS[mime_type])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as e:
        raise ConfigurationError(
            f"Could not write {target}: {e.strerror or e}", hint="Choose another file or folder and save it again"
        ) from e
    return target.resolve()


def link(url: str) -> str:
    """A link a server sent (an image, a video, a redirect), if it is an absolute http(s) URL; else ProtocolError."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProtocolError(
            f"The server sent a link that is not an http(s) URL: {url[:120]!r}",
            hint="The server's answer is broken; run it again, or tell the server's operator",
        )
    return url
