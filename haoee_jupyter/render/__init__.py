"""Mimebundles for answers: no IPython, no client imports; notebook and client both use it."""

from __future__ import annotations

from ._text import (
    body_markdown,
    body_plain,
    bundle,
    footer_facts,
    footer_markdown,
    footer_plain,
    response_bundle,
)

__all__ = [
    "body_markdown",
    "body_plain",
    "bundle",
    "footer_facts",
    "footer_markdown",
    "footer_plain",
    "response_bundle",
]
