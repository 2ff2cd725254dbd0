"""Chat completions of the offline server: the request read, the answer decided, both shapes built.

The text is the same deterministic Markdown as `/v1/responses` gives (`_answers`). The wire has
no `previous_response_id`, so a conversation resends its messages, and the answer quotes the
earlier user turns exactly as a `previous_response_id` answer does. Reasoning models (names
with "reasoner", "thinking" or "r1", as DeepSeek's) send `reasoning_content` before the content.

    >>> draft = ChatDraft.create(parse_chat({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
    >>> completion = draft.completion()
    >>> completion["object"], completion["choices"][0]["finish_reason"]
    ('chat.completion', 'stop')
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._answers import IMAGE_TOKENS, AnswerRequest, Citation, count_tokens, read_input, reasoning_summary, tokenize
from ._errors import ApiError, check_integer, check_number, invalid_type, invalid_value, missing
from ._protocol import is_reasoner
from ._responses import answer_text

__all__ = ["ROLES", "ChatDraft", "ChatRequest", "parse_chat"]

ROLES = ("system", "assistant", "user", "tool", "function", "developer")
_FORMATS = ("text", "json_object", "json_schema")


@dataclass(frozen=True)
class ChatRequest:
    """A validated `POST /v1/chat/completions` body."""

    body: Mapping[str, Any]
    model: str
    messages: list[Any]
    stream: bool
    include_usage: bool
    max_tokens: int | None
    text_format: Mapping[str, Any]
    web_search: bool
    reasoner: bool


def _check_messages(messages: Any) -> list[Any]:
    if messages is None:
        raise missing("messages")
    if not isinstance(messages, list):
        raise invalid_type("messages", "an array", messages)
    if not messages:
        raise ApiError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise invalid_type(f"messages[{index}]", "an object", message)
        role = message.get("role")
        if role is None:
            raise missing(f"messages[{index}].role")
        if role not in ROLES:
            raise invalid_value(f"messages[{index}].role", role, ROLES)
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise invalid_type(f"messages[{index}].content", "a string or an array of content parts", content)
    return messages


def _text_format(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """`response_format` in the shape the Responses API's `text.format` has."""
    fmt = body.get("response_format")
    if fmt is None:
        return {"type": "text"}
    if not isinstance(fmt, Mapping):
        raise invalid_type("response_format", "an object", fmt)
    kind = fmt.get("type")
    if kind not in _FORMATS:
        raise invalid_value("response_format.type", kind, _FORMATS)
    if kind != "json_schema":
        return {"type": kind}
    spec = fmt.get("json_schema")
    if not isinstance(spec, Mapping):
        raise missing("response_format.json_schema")
    if "name" not in spec:
        raise missing("response_format.json_schema.name")
    schema = spec.get("schema", {"type": "object"})
    if not isinstance(schema, Mapping):
        raise invalid_type("response_format.json_schema.schema", "an object", schema)
    return {"type": "json_schema", "name": spec["name"], "schema": schema}


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    # Newer OpenAI models want max_completion_tokens; relays accept max_tokens. Both work here.
    limits = [check_integer(body, name, 1, 2**31) for name in ("max_completion_tokens", "max_tokens")]
    given = [limit for limit in limits if limit is not None]
    return min(given) if given else None


def parse_chat(body: Any) -> ChatRequest:
    """Validate a chat completions body the way the real API does, or raise `ApiError`."""
    if not isinstance(body, Mapping):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_type")
    model = body.get("model")
    if model is None:
        raise missing("model")
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    messages = _check_messages(body.get("messages"))
    check_number(body, "temperature", 0, 2)
    check_number(body, "top_p", 0, 1)
    if check_integer(body, "n", 1, 128) not in (None, 1):
        raise ApiError(
            400,
            "The offline demo server answers with one choice; send 'n': 1 or leave it out.",
            param="n",
            code="unsupported_value",
        )
    stream = body.get("stream") is True
    options = body.get("stream_options")
    if options is not None:
        if not stream:
            raise ApiError(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
                code="invalid_value",
            )
        if not isinstance(options, Mapping):
            raise invalid_type("stream_options", "an object", options)
    search = body.get("web_search_options")
    if search is not None and not isinstance(search, Mapping):
        raise invalid_type("web_search_options", "an object", search)
    return ChatRequest(
        body=body,
        model=model,
        messages=messages,
        stream=stream,
        include_usage=bool(options and options.get("include_usage") is True),
        max_tokens=_max_tokens(body),
        text_format=_text_format(body),
        web_search=search is not None,
        reasoner=is_reasoner(model),
    )


def _annotation(citation: Citation) -> dict[str, Any]:
    return {
        "type": "url_citation",
        "url_citation": {
            "end_index": citation.end,
            "start_index": citation.start,
            "title": citation.title,
            "url": citation.url,
        },
    }


@dataclass
class ChatDraft:
    """Everything decided about one completion before any of it is sent."""

    request: ChatRequest
    completion_id: str
    created: int
    content: list[str]
    reasoning: list[str]
    citations: tuple[Citation, ...]
    prompt_tokens: int
    finish_reason: str

    @classmethod
    def create(cls, request: ChatRequest) -> ChatDraft:
        prompt = read_input(request.messages)
        answer_request = AnswerRequest(
            prompt=prompt,
            model=request.model,
            instructions=" / ".join(t for t in prompt.system if t),
            earlier_prompts=prompt.earlier,
            web_search=request.web_search,
        )
        text, citations = answer_text(request.text_format, answer_request)
        content = tokenize(text)
        reasoning = tokenize(reasoning_summary(prompt)) if request.reasoner else []
        cut = False
        budget = request.max_tokens
        # The budget covers the reasoning too, as on DeepSeek's reasoners.
        if budget is not None and len(reasoning) + len(content) > budget:
            reasoning = reasoning[:budget]
            content = content[: budget - len(reasoning)]
            cut = True
        fmt = request.text_format
        prompt_tokens = (
            count_tokens(prompt.all_text)
            + IMAGE_TOKENS * prompt.image_count
            + (count_tokens(json.dumps(fmt.get("schema"))) if fmt.get("type") == "json_schema" else 0)
        )
        visible = sum(len(token) for token in content)
        return cls(
            request=request,
            completion_id=f"chatcmpl-offline-{uuid.uuid4().hex}",
            created=int(time.time()),
            content=content,
            reasoning=reasoning,
            citations=tuple(c for c in citations if c.end <= visible),
            prompt_tokens=prompt_tokens,
            finish_reason="length" if cut else "stop",
        )

    @property
    def text(self) -> str:
        return "".join(self.content)

    def usage(self) -> dict[str, Any]:
        completion_tokens = len(self.content) + len(self.reasoning)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": len(self.reasoning),
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def completion(self) -> dict[str, Any]:
        """The non-streamed answer, in the key order of the recordings (fixture 01)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text, "refusal": None}
        if self.request.reasoner:
            message["reasoning_content"] = "".join(self.reasoning)
        message["annotations"] = [_annotation(c) for c in self.citations]
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.request.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}],
            "usage": self.usage(),
            "service_tier": "default",
            "system_fingerprint": None,
        }

    def chunk(self, delta: dict[str, Any] | None, finish_reason: str | None = None) -> dict[str, Any]:
        """One `chat.completion.chunk`; `delta=None` gives the usage chunk with no choices."""
        chunk: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.request.model,
            "service_tier": "default",
            "system_fingerprint": None,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.request.include_usage:
            # Every chunk says usage null until the last one carries it (fixture 02).
            chunk["usage"] = self.usage() if delta is None else None
        return chunk

    def steps(self) -> Iterator[tuple[dict[str, Any], float]]:
        """Every chunk of the stream and the pause before it (in latency units); no [DONE]."""
        reasoner = self.request.reasoner
        if reasoner:
            yield self.chunk({"role": "assistant", "content": None, "reasoning_content": ""}), 0
        else:
            yield self.chunk({"role": "assistant", "content": "", "refusal": None}), 0
        for token in self.reasoning:
            yield self.chunk({"content": None, "reasoning_content": token}), 1
        for token in self.content:
            yield self.chunk({"content": token, "reasoning_content": None} if reasoner else {"content": token}), 1
        if self.citations:
            yield self.chunk({"annotations": [_annotation(c) for c in self.citations]}), 0
        yield self.chunk({}, self.finish_reason), 0
        if self.request.include_usage:
            yield self.chunk(None), 0
