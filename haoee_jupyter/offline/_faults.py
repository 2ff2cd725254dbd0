"""The parts of every fault that do not depend on the endpoint.

Status faults answer at once (a JSON error, or an nginx page for 500/502/503). Transport faults
break a non-streamed answer the same way everywhere; in a stream they strike after a few deltas
and end the stream as `stream_ending()` says. `error-event` and `failed` mean something of each
endpoint's own and are built there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from ._events import FAULT_AFTER_DELTAS
from ._exchange import Disconnect, Reply, error_reply, html_reply, json_bytes
from ._protocol import fault_error

__all__ = [
    "FAULT_AFTER_DELTAS",
    "JSON_STATUS_FAULTS",
    "PROXY_STATUS_FAULTS",
    "plain_fault_reply",
    "status_fault_reply",
    "stream_ending",
    "until_deltas",
]

JSON_STATUS_FAULTS = ("429", "401", "403", "404")
PROXY_STATUS_FAULTS = ("500", "502", "503")


def status_fault_reply(fault: str, model: str) -> Reply | None:
    """The answer of a status fault, None for the other faults."""
    if fault in JSON_STATUS_FAULTS:
        return error_reply(fault_error(fault, model))
    if fault in PROXY_STATUS_FAULTS:
        return html_reply(int(fault))
    return None


def plain_fault_reply(fault: str, payload: Any) -> Reply | Disconnect:
    """A non-streamed answer broken by a transport fault: reset, stall, truncated, malformed."""
    if fault == "reset":
        return Disconnect("hang-up")
    if fault == "stall":
        return Disconnect("hold")
    data = json_bytes(payload)
    if fault == "truncated":
        return Reply(200, data, "application/json", cut=True)
    if fault == "malformed":
        # A clean, complete 200 whose JSON is cut off halfway.
        return Reply(200, data[: len(data) // 2], "application/json")
    raise ValueError(f"fault {fault!r} is not a transport fault")


def stream_ending(fault: str) -> Literal["end", "close", "reset", "hold"]:
    """How a stream broken by `fault` ends after its last frame."""
    if fault == "reset":
        return "reset"
    if fault == "stall":
        return "hold"
    if fault == "malformed":
        # Whoever sent garbage is not to be trusted with the next request either.
        return "close"
    return "end"


def until_deltas(steps: Iterable[tuple[Any, float]], count: int = FAULT_AFTER_DELTAS) -> Iterator[tuple[Any, float]]:
    """The steps of a stream up to and including its `count`-th delta (a step paced by latency)."""
    seen = 0
    for step in steps:
        yield step
        if step[1] > 0:
            seen += 1
            if seen == count:
                return
