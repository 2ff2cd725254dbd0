"""The ``POST /v1/responses`` endpoint: its request body and how its answer is read.

The clients' ``respond`` is this module plus the shared ``_exchange``; later endpoints (chat
completions, images, videos) are modules of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from . import _settings
from ._base import Input, Reader
from ._exceptions import ConfigurationError
from ._models import Response
from ._stream import StreamState, response_from_json

__all__ = ["PATH", "ResponsesReader", "body"]

PATH = "/responses"


def body(input: Input, model: str | None, stream: bool, params: dict[str, Any]) -> dict[str, Any]:
    """The request body: model, input, the given fields (None ones left out), ``stream``."""
    if isinstance(input, dict):
        input = [input]
    if not isinstance(input, (str, list, tuple)):
        raise ConfigurationError(
            f"input must be a string or a list of messages, not {type(input).__name__}",
            hint="Pass the prompt text, or [{'role': 'user', 'content': '...'}]",
        )
    fields: dict[str, Any] = {
        "model": _settings.resolve_model(model),
        "input": list(input) if isinstance(input, tuple) else input,
    }
    fields.update({name: value for name, value in params.items() if value is not None})
    if stream:
        fields["stream"] = True
    return fields


class _Stream(Protocol):
    """What a reader feeds stream payloads to: StreamState, or the chat wire's ChatStreamState."""

    def feed_payload(self, payload: str) -> bool: ...
    def result(self) -> Response: ...
    def partial(self) -> Response: ...


class ResponsesReader(Reader[Response]):
    """Reads a Responses answer: a JSON response object, or its stream of events.

    ``on_text(delta)`` hears the answer's text as it arrives; ``on_reasoning(delta)`` the
    reasoning summary (a new summary part starts with a blank line, ``"\\n\\n"``).
    """

    #: What reads the stream and the whole body; the chat wire's reader swaps both.
    stream_state: Callable[..., _Stream] = StreamState
    from_json: Callable[[Any], Response] = staticmethod(response_from_json)

    def __init__(
        self, on_text: Callable[[str], Any] | None = None, on_reasoning: Callable[[str], Any] | None = None
    ) -> None:
        self.on_text, self.on_reasoning = on_text, on_reasoning
        self.state = self.stream_state(on_text, on_reasoning)

    def json(self, data: Any) -> Response:
        # The answer came whole (not streamed, or a relay answered a stream request in one
        # piece): the callbacks hear it once, the whole reasoning then the whole text.
        response = self.from_json(data)
        if self.on_reasoning is not None and response.reasoning:
            self.on_reasoning("\n\n".join(response.reasoning))
        if self.on_text is not None and response.text:
            self.on_text(response.text)
        return response

    def event(self, payload: str) -> bool:
        return self.state.feed_payload(payload)

    def result(self) -> Response:
        return self.state.result()

    def partial(self) -> Response:
        return self.state.partial()
