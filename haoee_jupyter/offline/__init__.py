"""An offline demo server that speaks the Haoee `/v1/responses` protocol on loopback.

For teaching without a key or network, and for tests: deterministic Markdown answers, real
SSE streams, web search citations, structured output, conversations, and injectable faults.
It is independent of the client; point any Responses-API client at `server.url`.

    >>> from haoee_jupyter.offline import OfflineServer
    >>> server = OfflineServer(port=0, latency_ms=20).start()
    >>> server.url                                  # doctest: +SKIP
    'http://127.0.0.1:54321/v1'
    >>> server.inject("429")                        # the next request gets a 429
    >>> server.stop()

From a shell: ``python -m haoee_jupyter.offline --port 8765``. From a notebook cell, the model
name ``fault-<name>`` triggers a fault on that request, e.g. ``%%haoee -m fault-stall``.
"""

from __future__ import annotations

from ._protocol import FAULTS, MODELS
from ._server import OfflineServer

__all__ = ["FAULTS", "MODELS", "OfflineServer"]
