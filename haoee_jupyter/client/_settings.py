"""Where the key, base URL and model come from, resolved in one place.

Order: the explicit argument, then the environment (``HAOEE_API_KEY``, ``HAOEE_BASE_URL``,
``HAOEE_MODEL``), then the defaults. Nothing else: the notebook layer passes its settings
(``%config Haoee.*``, ``%haoee key``) to the clients it builds as explicit arguments, so a
``Client()`` made by hand reads only its arguments and the environment.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError, InsecureTransportError, MissingAPIKeyError

DEFAULT_BASE_URL = "https://maas.haoee.com/v1"
DEFAULT_MODEL = "gpt-4.1"

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


def _first(*values: str | None) -> str | None:
    for value in values:
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def resolve_api_key(explicit: str | None = None) -> str:
    """The API key to send, or a MissingAPIKeyError that says how to set one."""
    key = _first(explicit, os.environ.get("HAOEE_API_KEY"))
    if key is None:
        raise MissingAPIKeyError("No Haoee API key is set")
    # Keys pasted from web pages can carry invisible characters that no HTTP header can carry.
    key = key.translate(_INVISIBLE).strip()
    bare = key[7:].strip() if key.lower().startswith("bearer ") else key
    if not bare or not bare.isascii() or not bare.isprintable() or any(c.isspace() for c in bare):
        raise ConfigurationError(
            "The API key contains characters an HTTP header cannot carry (non-ASCII letters or spaces)",
            hint="Copy the key again from your Haoee account page and set it anew (%haoee key, or HAOEE_API_KEY)",
        )
    return key


def resolve_model(explicit: str | None = None) -> str:
    return _first(explicit, os.environ.get("HAOEE_MODEL")) or DEFAULT_MODEL


def resolve_base_url(explicit: str | None = None) -> str:
    """The normalized base URL: scheme://host[:port]/path/v1, no trailing slash.

    >>> resolve_base_url("https://maas.haoee.com/")
    'https://maas.haoee.com/v1'
    """
    raw = _first(explicit, os.environ.get("HAOEE_BASE_URL")) or DEFAULT_BASE_URL
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"The base URL {raw!r} is not an http(s) URL",
            hint="Set HAOEE_BASE_URL to something like https://maas.haoee.com/v1",
        )
    path = re.sub(r"/responses$", "", parts.path.rstrip("/"))  # a pasted endpoint URL
    # Add the API's /v1 unless the path names a version already (a relay's /api/v2/openai).
    if not re.search(r"/v\d+(/|$)", path):
        path += "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_transport(base_url: str) -> None:
    """Refuse to send a key over plain http to anything but this machine."""
    parts = urlsplit(base_url)
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        raise InsecureTransportError(
            f"Refusing to send the API key over plain http to {parts.hostname}: anyone on the way could read it"
        )


def authorization(api_key: str) -> str:
    """The Authorization header value; a key that already starts with 'Bearer ' is sent as is."""
    return api_key if api_key.lower().startswith("bearer ") else f"Bearer {api_key}"


def mask(secret: str | None) -> str:
    """A form of the key that is safe to show: its kind and last four characters at most.

    >>> mask("sk-abcdefghijklmnop1234")
    'sk-…1234'
    """
    if not secret:
        return "(not set)"
    secret = secret.strip()
    if secret.lower().startswith("bearer "):
        secret = secret[7:].strip()
    if len(secret) < 16:
        return "…" * 3
    prefix = secret[:3] if secret[:3].isascii() and secret[2] in "-_" else ""
    return f"{prefix}…{secret[-4:]}"


#: Keys at least this long are real secrets: any run of their first characters is hidden too.
#: A shorter one (a test key, the offline demo's) is only replaced where it appears whole.
SECRET_LENGTH = 20
_PREFIX = 8


def _bare(secret: str) -> str:
    return secret[7:].strip() if secret.lower().startswith("bearer ") else secret.strip()


def redact(text: str, secret: str | None) -> str:
    """Remove the key from text that came from elsewhere (a server may echo it back).

    >>> redact("echo sk-abcdefghijklmnop1234 and sk-abcdefgh", "sk-abcdefghijklmnop1234")
    'echo sk-…1234 and …'
    """
    if not secret:
        return text
    bare = _bare(secret)
    if len(bare) < 6:
        return text
    text = text.replace(bare, mask(bare))
    if len(bare) < SECRET_LENGTH:
        return text
    # A truncated excerpt may hold only the key's beginning: hide any run of 8+ of its first characters.
    start = text.find(bare[:_PREFIX])
    while start != -1:
        end = start + _PREFIX
        while end < len(text) and end - start < len(bare) and text[end] == bare[end - start]:
            end += 1
        text = text[:start] + "…" + text[end:]
        start = text.find(bare[:_PREFIX])
    return text


def redactor(secret: str | None) -> Callable[[str], str] | None:
    """A cheap ``redact`` for many small texts (a stream's payloads): it looks for the key's
    beginning first and redacts only where it occurs; None when there is nothing to hide."""
    if not secret:
        return None
    bare = _bare(secret)
    if len(bare) < 6:
        return None
    probe = bare[:_PREFIX] if len(bare) >= SECRET_LENGTH else bare

    def scrub(text: str) -> str:
        return redact(text, bare) if probe in text else text

    return scrub
