"""The chat-completions wire: a Responses-API request body in, the same :class:`Response` out.

For the models and relays that serve ``POST /v1/chat/completions`` but not ``/v1/responses``.
:func:`chat_body` translates the body the client builds for ``/v1/responses``;
:func:`response_from_chat` and :class:`ChatStreamState` turn the answer back into a Response whose
``raw`` has the Responses shape, so ``.text``, ``.usage``, ``.status``, ``.reasoning``, ``.refusal``
and the rendering work unchanged.

>>> body = chat_body({"model": "deepseek-chat", "input": "Hi", "instructions": "Be brief"})
>>> body["messages"]
[{'role': 'system', 'content': 'Be brief'}, {'role': 'user', 'content': 'Hi'}]
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ._exceptions import ConfigurationError, ProtocolError
from ._models import Response, _dict, _int, _list
from ._stream import _error_fields, _failed, response_from_json

__all__ = ["ChatStreamState", "chat_body", "response_from_chat"]

#: Responses-API fields with no meaning on this wire; sending them would be a flag accepted and ignored.
_RESPONSES_ONLY = ("background", "conversation", "include", "max_tool_calls", "prompt", "top_logprobs", "truncation")
_WEB_SEARCH_TOOLS = ("web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11")
#: OpenAI's reasoning models refuse ``max_tokens`` and ask for ``max_completion_tokens`` (fixture
#: chat-completions/06, gpt-5-nano); DeepSeek, Qwen, GLM and most relays document ``max_tokens`` only.
_MAX_COMPLETION_MODELS = re.compile(r"^(?:openai/)?(?:o\d|gpt-5|gpt-oss)", re.IGNORECASE)
#: finish_reason -> the Responses API's incomplete_details.reason; any other reason is a complete answer.
_INCOMPLETE = {
    "length": "max_output_tokens",
    "max_tokens": "max_output_tokens",
    "content_filter": "content_filter",
    "sensitive": "content_filter",
    "insufficient_system_resource": "insufficient_system_resource",  # DeepSeek: cut short by load
}
_USE_RESPONSES = "Leave out this parameter, or send the call to /v1/responses (api='responses')"


def chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """The ``/v1/chat/completions`` body for a ``/v1/responses`` body; ConfigurationError if it cannot be said here.

    >>> chat_body({"model": "m", "input": "Hi", "max_output_tokens": 50, "stream": True})
    {'model': 'm', 'messages': [{'role': 'user', 'content': 'Hi'}], 'max_tokens': 50, 'stream': True, 'stream_options': {'include_usage': True}}
    """
    fields = {key: value for key, value in body.items() if value is not None}
    if "previous_response_id" in fields:
        raise ConfigurationError(
            "previous_response_id has no meaning on the chat-completions wire",
            hint="Pass the earlier messages in input instead (the notebook keeps a chat's messages locally)",
        )
    for name in _RESPONSES_ONLY:
        if name in fields:
            raise ConfigurationError(f"The chat-completions wire has no {name!r} parameter", hint=_USE_RESPONSES)
    if _int(fields.get("n", 1)) != 1:
        raise ConfigurationError("The chat wire is used for one answer per call (n=1)", hint="Use map() for several")
    chat: dict[str, Any] = {"model": fields.pop("model")} if "model" in fields else {}
    messages = [{"role": "system", "content": str(fields.pop("instructions"))}] if "instructions" in fields else []
    if "input" in fields:
        messages += _messages(fields.pop("input"))
    chat["messages"] = messages + _list(fields.pop("messages", None))
    if "max_output_tokens" in fields:
        limit = fields.pop("max_output_tokens")
        chat["max_completion_tokens" if _MAX_COMPLETION_MODELS.match(str(chat.get("model"))) else "max_tokens"] = limit
    reasoning = _dict(fields.pop("reasoning", None))
    # The summary is a Responses-API request; here a model sends its reasoning_content (shown) or none.
    unknown = set(reasoning) - {"effort", "summary", "generate_summary"}
    if unknown:
        raise ConfigurationError(f"The chat wire has no reasoning.{min(unknown)}", hint=_USE_RESPONSES)
    if reasoning.get("effort"):
        chat["reasoning_effort"] = reasoning["effort"]
    if "tools" in fields:
        chat.update(_tools(_list(fields.pop("tools"))))
    if "tool_choice" in fields:
        chat["tool_choice"] = _tool_choice(fields.pop("tool_choice"))
    text = _dict(fields.pop("text", None))
    if text.get("format"):
        chat["response_format"] = _response_format(_dict(text["format"]))
    if text.get("verbosity"):
        chat["verbosity"] = text["verbosity"]
    if fields.pop("stream", False):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True, **_dict(fields.pop("stream_options", None))}
    chat.update(fields)  # the rest (temperature, top_p, seed, stop, user, ...) means the same on both wires
    return chat


def _messages(input: Any) -> list[dict[str, Any]]:
    if isinstance(input, str):
        return [{"role": "user", "content": input}]
    messages: list[dict[str, Any]] = []
    for item in [input] if isinstance(input, dict) else list(input):
        if not isinstance(item, dict):
            raise ConfigurationError(f"An input item must be a message dict, not {type(item).__name__}")
        kind = item.get("type") or ("message" if "role" in item else "")
        if kind == "message":
            messages.append(_message(item))
        elif kind == "function_call":
            call = {"id": item.get("call_id"), "type": "function"}
            call["function"] = {"name": item.get("name"), "arguments": item.get("arguments") or "{}"}
            previous = messages[-1] if messages else {}
            if previous.get("role") == "assistant" and "tool_calls" in previous:
                previous["tool_calls"].append(call)  # parallel calls share one assistant message
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            content = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": content})
        elif kind == "reasoning":
            continue  # a past answer's reasoning: this wire has no way to send it back, nor a need
        else:
            raise ConfigurationError(f"The chat-completions wire cannot send a {kind or 'typeless'} input item")
    return messages


def _message(item: dict[str, Any]) -> dict[str, Any]:
    role, content = str(item.get("role") or "user"), item.get("content")
    if isinstance(content, str) or content is None:
        return {"role": role, "content": content or ""}
    parts = [part for part in _list(content) if isinstance(part, dict)]
    if role == "assistant":  # an earlier answer sent back: text (and a refusal) only
        message: dict[str, Any] = {"role": role, "content": "".join(str(p.get("text") or "") for p in parts)}
        refusal = "".join(str(p.get("refusal") or "") for p in parts if p.get("type") == "refusal")
        return {**message, "refusal": refusal} if refusal else message
    return {"role": role, "content": [_part(part) for part in parts]}


def _part(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind in ("input_text", "text", "output_text"):
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "input_image":
        url = part.get("image_url")
        if not url:
            raise ConfigurationError(
                "The chat-completions wire takes images by URL or data: URL, not by file_id",
                hint="Pass image_url='https://...' or a data:image/...;base64 URL",
            )
        image = {"url": url, **({"detail": part["detail"]} if part.get("detail") else {})}
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        names = ("file_data", "file_id", "filename")
        return {"type": "file", "file": {name: part[name] for name in names if part.get(name)}}
    if kind in ("image_url", "file", "input_audio"):
        return part  # already a chat-completions part
    raise ConfigurationError(f"The chat-completions wire cannot send a {kind!r} content part")


def _tools(tools: list[Any]) -> dict[str, Any]:
    chat: dict[str, Any] = {}
    functions: list[dict[str, Any]] = []
    for tool in tools:
        tool = _dict(tool)
        kind = tool.get("type")
        if kind in _WEB_SEARCH_TOOLS:
            chat["web_search_options"] = _web_search(tool)
        elif kind == "function":
            names = ("name", "description", "parameters", "strict")
            functions.append({"type": "function", "function": {key: tool[key] for key in names if key in tool}})
        else:
            raise ConfigurationError(f"The chat-completions wire has no {kind!r} tool", hint=_USE_RESPONSES)
    return {**chat, "tools": functions} if functions else chat


def _web_search(tool: dict[str, Any]) -> dict[str, Any]:
    # OpenAI's chat form of web search (search models such as gpt-4o-search-preview; a model
    # without it answers 400, which names the parameter). The location nests one level deeper.
    unknown = set(tool) - {"type", "search_context_size", "user_location"}
    if unknown:
        raise ConfigurationError(f"Web search on the chat wire has no {min(unknown)!r} option", hint=_USE_RESPONSES)
    options: dict[str, Any] = {}
    if tool.get("search_context_size"):
        options["search_context_size"] = tool["search_context_size"]
    location = {k: v for k, v in _dict(tool.get("user_location")).items() if k != "type" and v is not None}
    if location:
        options["user_location"] = {"type": "approximate", "approximate": location}
    return options


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    choice = _dict(choice)
    if choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    raise ConfigurationError(f"The chat wire cannot force a {choice.get('type')!r} tool", hint=_USE_RESPONSES)


def _response_format(format: dict[str, Any]) -> dict[str, Any]:
    kind = format.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind == "json_schema":  # flat in the Responses API, nested under json_schema here
        names = ("name", "schema", "strict", "description")
        return {"type": "json_schema", "json_schema": {key: format[key] for key in names if key in format}}
    raise ConfigurationError(f"The chat wire has no {kind!r} text format", hint="Use json_schema or json_object")


# --- answers --------------------------------------------------------------------------


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
