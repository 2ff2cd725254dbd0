"""The steps of a call, apart from their I/O: the request to send, a wait, and plans of several.

A *plan* is a generator that yields :class:`Call` (send this request; the plan gets its result
back) and :class:`Sleep` (wait this long), and returns the call's result. Both clients drive the
same plans, ``Client`` with blocking I/O and ``AsyncClient`` with awaits, so an image whose
answer is a link (a request, then a download) or a video job (create, polls with waits between,
download) is written once. A step's failure is thrown into the plan at its ``yield``, so the plan
can add what it knows (a video job's id) before the error goes on up.

>>> def plan():
...     job = yield Call("GET", "/videos/video_1", read=VideoReader())
...     yield Sleep(2.0)
...     return job
>>> client._run(plan())
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, Union

from . import _chat, _responses
from ._base import Api, Files, Input, OnText, check_api
from ._models import Response
from ._reader import Reader

__all__ = ["DOWNLOAD_HEADERS", "Call", "Plan", "Sleep", "Step", "download", "respond_call", "single"]

T = TypeVar("T")
#: A download asks for anything: signed storage links answer octet-stream as often as image/png.
DOWNLOAD_HEADERS = {"Accept": "*/*"}


@dataclass
class Call(Generic[T]):
    """One request, as :func:`~._exchange.exchange` sends and reads it."""

    method: str
    path: str
    read: Reader[T]
    json: Mapping[str, Any] | None = None
    files: Files | None = None
    data: Mapping[str, Any] | None = None
    model: str | None = None
    stream: bool = False
    idempotent: bool = True
    headers: Mapping[str, str] | None = None
    follow_redirects: bool = False


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` before the next step (``time.sleep`` or ``asyncio.sleep``)."""

    seconds: float


Step = Union[Call[Any], Sleep]
Plan = Generator[Step, Any, T]


def single(call: Call[T]) -> Plan[T]:
    """A plan of one request (``respond``, ``models``): every call goes through the clients' ``_run``."""
    result: T = yield call
    return result


def download(url: str, read: Reader[T]) -> Call[T]:
    """A GET of a link an answer gave: redirects followed, the key sent only to the API's own origin."""
    return Call("GET", url, read=read, headers=DOWNLOAD_HEADERS, follow_redirects=True)


def respond_call(
    input: Input,
    *,
    model: str | None,
    stream: bool,
    on_text: OnText | None,
    on_reasoning: OnText | None,
    api: Api,
    params: dict[str, Any],
) -> Call[Response]:
    """The one request of ``respond``: ``/v1/responses``, or the same body said for ``/v1/chat/completions``."""
    body = _responses.body(input, model, stream, params)
    if check_api(api) == "chat":
        return Call(
            "POST", _chat.PATH, json=_chat.chat_body(body), stream=stream, read=_chat.ChatReader(on_text, on_reasoning)
        )
    return Call(
        "POST", _responses.PATH, json=body, stream=stream, read=_responses.ResponsesReader(on_text, on_reasoning)
    )
