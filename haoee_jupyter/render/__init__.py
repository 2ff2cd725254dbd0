"""Mimebundles for answers: no IPython, no client imports; notebook and client both use it."""

from __future__ import annotations

from ._media import image_bundle, image_plain, images_bundle, media_facts, video_bundle, video_job_bundle
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
    "image_bundle",
    "image_plain",
    "images_bundle",
    "media_facts",
    "response_bundle",
    "video_bundle",
    "video_job_bundle",
]
