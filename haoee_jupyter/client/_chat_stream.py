"""Reading chat-completions answers into the same :class:`Response` as the Responses API's.

A ``chat.completion`` body (:func:`response_from_chat`) or a stream of ``chat.completion.chunk``
payloads (:class:`ChatStreamState`) becomes a Response whose ``raw`` has the Responses shape
(output items, ``status``, ``incomplete_details``, ``usage`` with input/output tokens), so
``.text``, ``.usage``, ``.status``, ``.reasoning``, ``.refusal`` and the rendering work unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._exceptions import ProtocolError
from ._models import Response, _dict, _int, _list
from ._stream import _error_fields, _failed, response_from_json

__all__ = ["ChatStreamState", "response_from_chat"]

#: finish_reason -> the Responses API's incomplete_details.reason; any other reason is a complete answer.
_INCOMPLETE = {
    "length": "max_output_tokens",
    "max_tokens": "max_output_tokens",
    "content_filter": "content_filter",
    "sensitive": "content_filter",
    "insufficient_system_resource": "insufficient_system_resource",  # DeepSeek: cut short by load
}


def response_from_chat(data: Any) -> Response:
    """A Response (Responses shape) from a ``chat.completion`` body; raises for an error envelope.

    >>> r = response_from_chat({"id": "c1", "model": "m", "choices": [{"message": {"content": "Hi"},
    ...     "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
    >>> r.text, r.status, r.usage.total_tokens
    ('Hi', 'completed', 4)
    """
    if not isinstance(data, dict):
        raise ProtocolError("The server answered with JSON that is not a chat completion")
    if data.get("error") and not data.get("choices"):
        error = _error_fields(data)
        raise _failed(error, Response({"status": "failed", "error": error}))
    if "choices" not in data:
        if "output" in data or "status" in data:
            return response_from_json(data)  # a relay that answers in the Responses shape
        raise ProtocolError(
            f"The server answered with JSON that is not a chat completion (keys: {', '.join(list(data)[:6])})"
        )
    choice = next((c for c in _list(data["choices"]) if isinstance(c, dict)), {})
    message = _dict(choice.get("message"))
    content = message.get("content")
    if isinstance(content, list):  # some providers send a list of text parts
        content = "".join(str(_dict(part).get("text") or "") for part in content)
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    calls = [_dict(call) for call in _list(message.get("tool_calls"))]
    return Response(
        _responses_shape(
            data,
            finish_reason=choice.get("finish_reason"),
            final=True,
            text=content if isinstance(content, str) else "",
            reasoning=reasoning if isinstance(reasoning, str) else "",
            refusal=str(message.get("refusal") or ""),
            annotations=_list(message.get("annotations")),
            calls=[(str(c.get("id") or ""), _dict(c.get("function"))) for c in calls],
            usage=data.get("usage"),
        )
    )


def _responses_shape(
    meta: dict[str, Any],
    *,
    finish_reason: Any,
    final: bool,
    text: str,
    reasoning: str,
    refusal: str,
    annotations: list[Any],
    calls: list[tuple[str, dict[str, Any]]],
    usage: Any,
) -> dict[str, Any]:
    """The Responses-API object for one chat answer, so Response reads it unchanged."""
    reason = _INCOMPLETE.get(str(finish_reason or "").lower())
    status = "incomplete" if reason else ("completed" if final or finish_reason else "in_progress")
    output: list[dict[str, Any]] = []
    if reasoning:  # raw reasoning, as the Responses API's reasoning_text (DeepSeek's responses do the same)
        output.append({"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": reasoning}]})
    content: list[dict[str, Any]] = []
    if text or not refusal:
        content.append({"type": "output_text", "text": text, "annotations": [_annotation(a) for a in annotations]})
    if refusal:
        content.append({"type": "refusal", "refusal": refusal})
    output.append({"type": "message", "role": "assistant", "status": status, "content": content})
    for call_id, function in calls:
        output.append(
            {
                "type": "function_call",
                "call_id": call_id,
                "name": str(function.get("name") or ""),
                "arguments": str(function.get("arguments") or ""),
                "status": "completed",
            }
        )
    raw: dict[str, Any] = {
        "id": str(meta.get("id") or ""),
        "object": "response",
        "created_at": meta.get("created"),
        "model": str(meta.get("model") or ""),
        "status": status,
        "incomplete_details": {"reason": reason} if reason else None,
        "output": output,
    }
    if isinstance(usage, dict):
        raw["usage"] = _usage(usage)
    return raw


def _annotation(note: Any) -> dict[str, Any]:
    # Chat nests a citation's fields under url_citation; the Responses API has them flat.
    note = _dict(note)
    kind = note.get("type")
    return {**{k: v for k, v in note.items() if k != kind}, **_dict(note.get(str(kind)))}


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion = _int(usage.get("completion_tokens", usage.get("output_tokens")))
    prompt_details = _dict(usage.get("prompt_tokens_details") or usage.get("input_tokens_details"))
    completion_details = _dict(usage.get("completion_tokens_details") or usage.get("output_tokens_details"))
    return {
        "input_tokens": prompt,
        # DeepSeek reports its cache hits at top level as well
        "input_tokens_details": {
            "cached_tokens": _int(prompt_details.get("cached_tokens")) or _int(usage.get("prompt_cache_hit_tokens"))
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": _int(completion_details.get("reasoning_tokens"))},
        "total_tokens": _int(usage.get("total_tokens")) or prompt + completion,
    }


class ChatStreamState:
    """Assembles a Response from ``chat.completion.chunk`` payloads; a partial one exists at every moment.

    The same interface as the Responses stream's StreamState: ``feed_payload`` each SSE data
    payload (True once ``[DONE]`` or an error arrived), then ``result()``.

    >>> state = ChatStreamState(on_text=print)
    >>> state.feed_payload('{"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}')
    Hi
    False
    >>> state.feed_payload("[DONE]"), state.result().text
    (True, 'Hi')
    """

    def __init__(
        self, on_text: Callable[[str], Any] | None = None, on_reasoning: Callable[[str], Any] | None = None
    ) -> None:
        self.on_text = on_text
        self.on_reasoning = on_reasoning
        # Pieces are kept in lists and joined on demand: no quadratic string building on long answers.
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._refusal: list[str] = []
        self._annotations: list[Any] = []
        self._calls: dict[int, tuple[str, str, list[str]]] = {}  # index -> (id, name, argument pieces)
        self._meta: dict[str, Any] = {}
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.error: dict[str, Any] | None = None
        self.done = False

    def feed_payload(self, payload: str) -> bool:
        """Handle one frame's data; True once the stream is over (``[DONE]`` or an error chunk)."""
        if payload.strip() == "[DONE]":
            self.done = True
            return True
        try:
            chunk = json.loads(payload)
        except (ValueError, RecursionError) as e:
            raise ProtocolError(
                f"The stream sent data that is not JSON: {payload[:80]!r}", partial=self.partial()
            ) from e
        if not isinstance(chunk, dict):
            return False
        if chunk.get("error"):
            self.error = _error_fields(chunk)
            return True
        for key in ("id", "model", "created"):
            if chunk.get(key) and key not in self._meta:
                self._meta[key] = chunk[key]
        if isinstance(chunk.get("usage"), dict):  # the last chunk (choices: []) or the finishing one
            self.usage = chunk["usage"]
        for choice in _list(chunk.get("choices")):
            if isinstance(choice, dict) and _int(choice.get("index")) == 0:
                self._choice(choice)
        return False

    def _choice(self, choice: dict[str, Any]) -> None:
        delta = _dict(choice.get("delta") or choice.get("message"))  # some relays send whole messages
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._reasoning.append(reasoning)
            if self.on_reasoning is not None:
                self.on_reasoning(reasoning)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._text.append(content)
            if self.on_text is not None:
                self.on_text(content)
        if isinstance(delta.get("refusal"), str):
            self._refusal.append(delta["refusal"])
        self._annotations += _list(delta.get("annotations"))
        for call in _list(delta.get("tool_calls")):
            call = _dict(call)
            index, function = _int(call.get("index")), _dict(call.get("function"))
            call_id, name, pieces = self._calls.setdefault(index, ("", "", []))
            pieces.append(str(function.get("arguments") or ""))
            self._calls[index] = (call_id or str(call.get("id") or ""), name or str(function.get("name") or ""), pieces)
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])

    def _raw(self, final: bool) -> dict[str, Any]:
        return _responses_shape(
            self._meta,
            finish_reason=self.finish_reason,
            final=final,
            text="".join(self._text),
            reasoning="".join(self._reasoning),
            refusal="".join(self._refusal),
            annotations=self._annotations,
            calls=[(cid, {"name": name, "arguments": "".join(args)}) for cid, name, args in self._calls.values()],
            usage=self.usage,
        )

    def partial(self) -> Response:
        """What has arrived so far (status ``in_progress`` until the finish_reason came)."""
        return Response(self._raw(final=False))

    def result(self) -> Response:
        """The final Response; raises ResponseFailedError or ProtocolError when there is none."""
        if self.error is not None:
            raise _failed(self.error, self.partial())
        if not self.done and self.finish_reason is None:
            raise ProtocolError(
                "The stream ended before the answer was complete (no finish_reason and no [DONE])",
                hint="The connection or a proxy cut the answer short; run it again",
                partial=self.partial(),
            )
        return Response(self._raw(final=True))
