"""An offline demo server that speaks the Haoee API on loopback.

For teaching without a key or network, and for tests: `/v1/responses` and
`/v1/chat/completions` with deterministic Markdown answers, real SSE streams, usage, web search
citations, structured output, conversations and reasoning; `/v1/images/generations` and
`/v1/images/edits` with PNGs drawn from the prompt; `/v1/videos` jobs that go queued, in
progress and completed and download a small real MP4; and injectable faults. It is independent
of the client; point any OpenAI-style client at `server.url`.

    >>> from haoee_jupyter.offline import OfflineServer
    >>> server = OfflineServer(port=0, latency_ms=20).start()
    >>> server.url                                  # doctest: +SKIP
    'http://127.0.0.1:54321/v1'
    >>> server.inject("429")                        # the next request gets a 429
    >>> server.stop()

From a shell: ``python -m haoee_jupyter.offline --port 8765``. From a notebook cell, the model
name ``fault-<name>`` triggers a fault on that request, e.g. ``%%haoee -m fault-stall``, and
``fault-failed`` makes a video job fail.
"""

from __future__ import annotations

from ._protocol import CHAT_MODELS, FAULTS, IMAGE_MODELS, MODELS, VIDEO_MODELS
from ._server import OfflineServer

__all__ = ["CHAT_MODELS", "FAULTS", "IMAGE_MODELS", "MODELS", "VIDEO_MODELS", "OfflineServer"]
