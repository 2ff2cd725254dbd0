"""Images and videos from ``%%haoee image`` / ``%%haoee video`` in a real JupyterLab, in headless
Chromium, against the offline demo server inside the kernel.

What the user must see: the generated image drawn in the page (a real decoded picture, natural
width > 0), and a video player whose file JupyterLab serves from beside the notebook (its
metadata loads, so it has a duration). Screenshots are kept in test-artifacts/.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from _lab import ARTIFACTS, cell, open_notebook, run_cell

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext haoee_jupyter",
    "%haoee offline --latency-ms 5",
    "%%haoee image --size 256x256\nA lighthouse on a cliff at sunset",
    "%%haoee video --seconds 4 --size 1280x720\nA paper boat on a river",
]


def test_an_image_and_a_video_show_in_the_notebook(page: Any, lab: Any) -> None:
    open_notebook(page, lab, CELLS)
    for index in range(len(CELLS)):
        run_cell(page, index)

    image = cell(page, 2).locator(".jp-OutputArea-output img")
    image.wait_for(timeout=60_000)
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=20_000)
    width, height = image.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert (width, height) == (256, 256)
    assert image.bounding_box()["width"] > 100  # drawn at a visible size, not collapsed
    ARTIFACTS.mkdir(exist_ok=True)
    cell(page, 2).screenshot(path=str(ARTIFACTS / "media-image.png"))

    video = cell(page, 3).locator(".jp-OutputArea-output video")
    video.wait_for(timeout=60_000)
    duration = video.evaluate(
        """(video) => new Promise((resolve, reject) => {
            if (video.readyState >= 1) return resolve(video.duration);
            video.addEventListener('loadedmetadata', () => resolve(video.duration));
            video.addEventListener('error', () => reject(new Error('video error ' + (video.error && video.error.code))));
            setTimeout(() => reject(new Error('no loadedmetadata in 20 s')), 20000);
        })"""
    )
    assert duration > 0
    source = urlsplit(video.evaluate("(video) => video.currentSrc"))
    assert source.path.startswith("/files/haoee-media/") and source.path.endswith(".mp4")  # beside the notebook
    saved = {path.suffix: path.name for path in (lab.root / "haoee-media").iterdir()}
    assert sorted(saved) == [".mp4", ".png"] and source.path == f"/files/haoee-media/{saved['.mp4']}"
    assert "Video video_offline_" not in cell(page, 3).inner_text()  # the player, not its text fallback
    cell(page, 3).screenshot(path=str(ARTIFACTS / "media-video.png"))
