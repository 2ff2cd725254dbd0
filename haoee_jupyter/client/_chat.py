"""The ``POST /v1/chat/completions`` endpoint: a Responses-API request body in, the same :class:`Response` out.

For the models and relays that serve chat completions but not ``/v1/responses``.
:func:`chat_body` translates the body the client builds for ``/v1/responses``; :class:`ChatReader`
reads the answer (a body or a stream, see ``_chat_stream``) into a Response of the Responses shape,
so ``.text``, ``.usage``, ``.status``, ``.reasoning`` and the rendering work unchanged.

>>> body = chat_body({"model": "deepseek-chat", "input": "Hi", "instructions": "Be brief"})
>>> body["messages"]
[{'role': 'system', 'content': 'Be brief'}, {'role': 'user', 'content': 'Hi'}]
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._chat_stream import ChatStreamState, response_from_chat
from ._exceptions import ConfigurationError
from ._models import _dict, _int, _list
from ._responses import ResponsesReader

__all__ = ["PATH", "ChatReader", "ChatStreamState", "chat_body", "response_from_chat"]

PATH = "/chat/completions"

#: Responses-API fields with no meaning on this wire; sending them would be a flag accepted and ignored.
_RESPONSES_ONLY = ("background", "conversation", "include", "max_tool_calls", "prompt", "top_logprobs", "truncation")
_WEB_SEARCH_TOOLS = ("web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11")
#: OpenAI's reasoning models refuse ``max_tokens`` and ask for ``max_completion_tokens`` (fixture
#: chat-completions/06, gpt-5-nano); DeepSeek, Qwen, GLM and most relays document ``max_tokens`` only.
_MAX_COMPLETION_MODELS = re.compile(r"^(?:openai/)?(?:o\d|gpt-5|gpt-oss)", re.IGNORECASE)
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
    unknown = set(reasoning) - {"effort", "summary", "generate_summary"}
    if unknown:
        raise ConfigurationError(f"The chat wire has no reasoning.{min(unknown)}", hint=_USE_RESPONSES)
    # The summary is a Responses-API request with no chat equivalent: a model here sends its
    # reasoning_content (shown) or none. "auto" (what the notebook sends with an effort) asks
    # for no particular summary, so dropping it changes nothing; any other value is refused.
    for name in ("summary", "generate_summary"):
        if reasoning.get(name) not in (None, "auto"):
            raise ConfigurationError(
                f"The chat wire has no reasoning.{name} ({reasoning[name]!r}); only 'auto' is taken, as no summary",
                hint=_USE_RESPONSES,
            )
    if reasoning.get("effort"):
        chat["reasoning_effort"] = reasoning["effort"]
    if "tools" in fields:
        chat.update(_tools(_list(fields.pop("tools"))))
    if "tool_choice" in fields:
        chat["tool_choice"] = _tool_choice(fields.pop("tool_choice"))
    text = _dict(fields.pop("text", None))
    if set(text) - {"format", "verbosity"}:
        raise ConfigurationError(
            f"The chat wire has no text.{min(set(text) - {'format', 'verbosity'})}", hint=_USE_RESPONSES
        )
    if text.get("format"):
        chat["response_format"] = _response_format(_dict(text["format"]))
    if text.get("verbosity"):
        chat["verbosity"] = text["verbosity"]
    stream_options = fields.pop("stream_options", None)
    if fields.pop("stream", False):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True, **_dict(stream_options)}
    elif stream_options is not None:
        raise ConfigurationError("stream_options is for streamed calls", hint="Pass stream=True too, or leave it out")
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


class ChatReader(ResponsesReader):
    """Reads a chat answer: a ``chat.completion`` body, or its stream of chunks.

    ``on_text(delta)`` hears the answer's text as it arrives, ``on_reasoning(delta)`` the model's
    ``reasoning_content``.
    """

    stream_state = ChatStreamState
    from_json = staticmethod(response_from_chat)
