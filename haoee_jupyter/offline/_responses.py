"""Response objects and stream events for the offline demo server, shaped like real recordings.

A `Draft` holds everything decided about one response (its text, tokens, items and usage);
`Draft.final()` gives the response object and `_events.stream_steps()` the stream events, so
the streamed and the non-streamed answer are the same by construction.

    >>> from haoee_jupyter.offline._protocol import parse_request
    >>> draft = Draft.create(parse_request({"model": "m", "input": "hi"}), Conversations())
    >>> draft.final()["status"], draft.final()["output"][0]["type"]
    ('completed', 'message')
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._answers import (
    IMAGE_TOKENS,
    AnswerRequest,
    Citation,
    compose_answer,
    count_tokens,
    read_input,
    reasoning_summary,
    search_query,
    tokenize,
)
from ._protocol import ApiError, ParsedRequest
from ._schema import instance_for

__all__ = ["Conversations", "Draft", "Turn", "answer_text", "new_id", "text_part"]


def new_id(prefix: str) -> str:
    """A fresh id like the real ones (resp_…, msg_…), marked as offline."""
    return f"{prefix}_offline_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Turn:
    """A finished response as remembered for `previous_response_id` and `GET /responses/{id}`."""

    prompts: tuple[str, ...]
    context_tokens: int
    response: dict[str, Any]


class Conversations:
    """Thread-safe, bounded memory of finished responses (oldest forgotten first)."""

    def __init__(self, limit: int = 1000) -> None:
        self._turns: OrderedDict[str, Turn] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def remember(self, response_id: str, turn: Turn) -> None:
        with self._lock:
            self._turns[response_id] = turn
            while len(self._turns) > self._limit:
                self._turns.popitem(last=False)

    def get(self, response_id: str) -> Turn | None:
        with self._lock:
            return self._turns.get(response_id)

    def clear(self) -> None:
        with self._lock:
            self._turns.clear()


def _echo(request: ParsedRequest) -> dict[str, Any]:
    """The request fields a response repeats, with the real API's defaults."""
    body = request.body
    text: dict[str, Any] = dict(body.get("text") or {})
    text["format"] = dict(request.text_format)
    text.setdefault("verbosity", "medium")
    reasoning = {"effort": None, "summary": None, **(body.get("reasoning") or {})}
    metadata = body.get("metadata")
    return {
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": body.get("max_tool_calls"),
        "model": request.model,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "presence_penalty": 0.0,
        "previous_response_id": request.previous_response_id,
        "prompt_cache_key": body.get("prompt_cache_key"),
        "prompt_cache_retention": None,
        "reasoning": reasoning,
        "safety_identifier": body.get("safety_identifier"),
        "store": request.store,
        "temperature": body.get("temperature", 1.0),
        "text": text,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": list(body.get("tools") or []),
        "top_logprobs": body.get("top_logprobs", 0),
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "user": body.get("user"),
        "metadata": dict(metadata) if isinstance(metadata, Mapping) else {},
    }


def answer_text(fmt: Mapping[str, Any], answer_request: AnswerRequest) -> tuple[str, tuple[Citation, ...]]:
    """The text of an answer in the requested text format (json_schema, json_object or text)."""
    seed = answer_request.prompt.text
    if fmt.get("type") == "json_schema":
        value = instance_for(fmt["schema"], seed=seed)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")), ()
    if fmt.get("type") == "json_object":
        value = {
            "answer": "offline demo answer",
            "prompt": answer_request.prompt.text[:200],
            "words": len(seed.split()),
            "offline": True,
        }
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")), ()
    answer = compose_answer(answer_request)
    return answer.text, answer.citations


@dataclass
class Draft:
    """Everything decided about one response before any of it is sent."""

    request: ParsedRequest
    conversations: Conversations
    response_id: str
    created_at: int
    prompts: tuple[str, ...]
    input_tokens: int
    cached_tokens: int
    text_tokens: list[str]
    citations: tuple[Citation, ...]
    summary: str | None
    reasoning_tokens: int
    search_query: str | None
    incomplete: bool
    message_id: str | None
    reasoning_id: str = field(default_factory=lambda: new_id("rs"))
    search_id: str = field(default_factory=lambda: new_id("ws"))

    @classmethod
    def create(cls, request: ParsedRequest, conversations: Conversations) -> Draft:
        """Work out the answer for a validated request; unknown previous ids raise ApiError."""
        previous: Turn | None = None
        if request.previous_response_id is not None:
            previous = conversations.get(request.previous_response_id)
            if previous is None:
                raise ApiError(
                    400,
                    f"Previous response with id '{request.previous_response_id}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
        prompt = read_input(request.input)
        earlier = (previous.prompts if previous else ()) + prompt.earlier
        instructions = " / ".join(t for t in (request.instructions or "", *prompt.system) if t)
        answer_request = AnswerRequest(
            prompt=prompt,
            model=request.model,
            instructions=instructions,
            earlier_prompts=earlier,
            web_search=request.web_search,
        )
        text, citations = answer_text(request.text_format, answer_request)
        cached = previous.context_tokens if previous else 0
        fmt = request.text_format
        input_tokens = (
            count_tokens(instructions)
            + count_tokens(prompt.all_text)
            + IMAGE_TOKENS * prompt.image_count
            + (count_tokens(json.dumps(fmt.get("schema"))) if fmt.get("type") == "json_schema" else 0)
            + cached
        )
        summary = reasoning_summary(prompt) if request.reasoning_summary else None
        # Hidden reasoning is longer than its summary; twice as long is the demo's convention.
        reasoning_tokens = 2 * count_tokens(summary) if summary else 0
        tokens = tokenize(text)
        incomplete = False
        budget = request.max_output_tokens
        if budget is not None:
            if reasoning_tokens > budget:
                reasoning_tokens, incomplete = budget, True
            if len(tokens) > budget - reasoning_tokens:
                tokens, incomplete = tokens[: budget - reasoning_tokens], True
        visible_length = sum(len(t) for t in tokens)
        return cls(
            request=request,
            conversations=conversations,
            response_id=new_id("resp"),
            created_at=int(time.time()),
            prompts=(*earlier, prompt.text),
            input_tokens=input_tokens,
            cached_tokens=cached,
            text_tokens=tokens,
            citations=tuple(c for c in citations if c.end <= visible_length),
            summary=summary,
            reasoning_tokens=reasoning_tokens,
            search_query=search_query(prompt) if request.web_search else None,
            incomplete=incomplete,
            # A budget spent on reasoning leaves no message at all, as with real reasoning models.
            message_id=new_id("msg") if tokens else None,
        )

    @property
    def text(self) -> str:
        return "".join(self.text_tokens)

    @property
    def status(self) -> str:
        return "incomplete" if self.incomplete else "completed"

    def usage(self) -> dict[str, Any]:
        output_tokens = len(self.text_tokens) + self.reasoning_tokens
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_tokens},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.input_tokens + output_tokens,
        }

    def snapshot(self, status: str, *, service_tier: str = "auto") -> dict[str, Any]:
        """The response object as sent in response.created / in_progress (no output yet)."""
        return _reorder(
            {
                "id": self.response_id,
                "object": "response",
                "created_at": self.created_at,
                "status": status,
                "background": False,
                "completed_at": None,
                "error": None,
                "frequency_penalty": 0.0,
                "incomplete_details": None,
                **_echo(self.request),
                "output": [],
                "service_tier": service_tier,
                "usage": None,
            }
        )

    def annotations(self) -> list[dict[str, Any]]:
        return [_annotation(c) for c in self.citations]

    def output(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if self.summary is not None:
            items.append(self.reasoning_item(done=True))
        if self.search_query is not None:
            items.append(self.search_item(done=True))
        if self.message_id is not None:
            items.append(self.message_item(self.status, self.text, self.annotations()))
        return items

    def final(self) -> dict[str, Any]:
        """The finished response object (status completed or incomplete)."""
        response = self.snapshot(self.status, service_tier="default")
        response["completed_at"] = None if self.incomplete else int(time.time())
        if self.incomplete:
            response["incomplete_details"] = {"reason": "max_output_tokens"}
        response["output"] = self.output()
        response["usage"] = self.usage()
        return response

    def finish(self) -> dict[str, Any]:
        """The final response, remembered for follow-ups when the request allows storing."""
        response = self.final()
        if self.request.store:
            context = self.input_tokens + len(self.text_tokens)
            self.conversations.remember(self.response_id, Turn(self.prompts, context, response))
        return response

    def failed(self, message: str) -> dict[str, Any]:
        """The response object of a failed response (fixture 15: no output, no usage)."""
        response = self.snapshot("failed", service_tier="default")
        response["error"] = {"code": "server_error", "message": message}
        return response

    def reasoning_item(self, *, done: bool) -> dict[str, Any]:
        summary = [{"type": "summary_text", "text": self.summary}] if done else []
        return {"id": self.reasoning_id, "type": "reasoning", "summary": summary}

    def search_item(self, *, done: bool) -> dict[str, Any]:
        action: dict[str, Any] = {"type": "search"}
        if done:
            action.update(query=self.search_query, queries=[self.search_query])
        status = "completed" if done else "in_progress"
        return {"id": self.search_id, "type": "web_search_call", "status": status, "action": action}

    def message_item(self, status: str, text: str | None, annotations: list[dict[str, Any]]) -> dict[str, Any]:
        content = [] if text is None else [text_part(text, annotations)]
        return {
            "id": self.message_id,
            "type": "message",
            "status": status,
            "content": content,
            "role": "assistant",
        }


# The key order of the recordings (fixture 05), which some people read raw JSON in.
_RESPONSE_KEYS = (
    "id object created_at status background completed_at error frequency_penalty "
    "incomplete_details instructions max_output_tokens max_tool_calls model output "
    "parallel_tool_calls presence_penalty previous_response_id prompt_cache_key "
    "prompt_cache_retention reasoning safety_identifier service_tier store temperature text "
    "tool_choice tools top_logprobs top_p truncation usage user metadata"
).split()


def _reorder(response: dict[str, Any]) -> dict[str, Any]:
    return {key: response[key] for key in _RESPONSE_KEYS}


def _annotation(citation: Citation) -> dict[str, Any]:
    return {
        "type": "url_citation",
        "end_index": citation.end,
        "start_index": citation.start,
        "title": citation.title,
        "url": citation.url,
    }


def text_part(text: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    """An output_text content part."""
    return {"type": "output_text", "annotations": annotations, "logprobs": [], "text": text}
