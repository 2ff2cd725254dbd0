"""Reading a streamed answer: SSE frames in, text deltas out, a Response at the end.

The decoder is liberal on purpose (see the wire facts): frames with or without ``event:``,
``:`` comment lines (relay pings), CRLF or CR line ends, multi-line ``data:``, a trailing
``data: [DONE]``, bare JSON lines, and a last frame with no blank line after it. We keep our own
small decoder rather than httpx-sse because that one refuses streams whose content type is not
``text/event-stream`` and drops a final frame that lacks its blank line.
"""

from __future__ import annotations

import codecs
import copy
import json
from collections.abc import Callable
from typing import Any

from ._errors import innermost, mark_billing
from ._exceptions import ProtocolError, ResponseFailedError
from ._models import Response, _int

_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class SSEDecoder:
    """Turns chunks of bytes into the ``data`` payloads of complete SSE frames."""

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # The unfinished last line, as the pieces it came in: one event can be megabytes of
        # base64 (an image) in thousands of chunks, and joining at every chunk would be quadratic.
        self._pending: list[str] = []
        self._cr = False  # the last chunk ended in "\r", perhaps half of a "\r\n"
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        text = self._text.decode(chunk)
        if self._cr:
            text, self._cr = "\r" + text, False
        if "\r" in text:
            # A lone trailing "\r" may be half of "\r\n": wait for the next chunk.
            if text.endswith("\r"):
                text, self._cr = text[:-1], True
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:  # only the new piece is scanned for line ends
            if text:
                self._pending.append(text)
            return []
        lines = text.split("\n")
        if self._pending:
            self._pending.append(lines[0])
            lines[0] = "".join(self._pending)
        last = lines.pop()
        self._pending = [last] if last else []
        return self._lines(lines)

    def finish(self) -> list[str]:
        """Payloads still pending when the connection closed (a last frame with no blank line)."""
        text = "".join(self._pending) + ("\r" if self._cr else "") + self._text.decode(b"", final=True)
        self._pending, self._cr = [], False
        return self._lines([*text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), ""])

    def _lines(self, lines: list[str]) -> list[str]:
        # The hot loop of every stream: one pass, no call per line.
        payloads: list[str] = []
        data = self._data
        for line in lines:
            if not line:  # a blank line ends a frame
                if data:
                    payloads.append(data[0] if len(data) == 1 else "\n".join(data))
                    data = self._data = []
            elif line[0] == "d" and (line.startswith("data:") or line == "data"):
                data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line[0] == "{" or line.startswith("[DONE]"):
                # A bare JSON line (some relays drop the "data:" prefix): one frame of its own.
                if data:
                    data.append(line)
                else:
                    payloads.append(line)
            # ":" comments (relay pings), event:, id:, retry: and unknown fields: we dispatch on data.type
        return payloads


class _Text:
    """The text of one part as it streams: a list of deltas, joined only when read (linear, not quadratic)."""

    __slots__ = ("chunks", "key", "part")

    def __init__(self, part: dict[str, Any], key: str) -> None:
        self.part, self.key = part, key
        start = part.get(key)
        self.chunks = [start] if isinstance(start, str) and start else []


class StreamState:
    """Assembles a Response from stream events, so a partial one exists at every moment.

    Deltas are kept as lists of chunks per part and joined when the text is read (``partial()``,
    ``result()``, a ``.done`` event), so each delta costs the same at the 100,000th as at the first.
    """

    def __init__(
        self, on_text: Callable[[str], Any] | None = None, on_reasoning: Callable[[str], Any] | None = None
    ) -> None:
        self.on_text = on_text
        self.on_reasoning = on_reasoning
        self.snapshot: dict[str, Any] = {}
        self.items: dict[int, dict[str, Any]] = {}
        self.final: dict[str, Any] | None = None
        self.error_event: dict[str, Any] | None = None
        self.done = False
        self._texts: dict[int, _Text] = {}  # id(part) -> its streaming text
        self._reasoning_part: int | None = None  # id() of the reasoning part last passed to on_reasoning
        # The text the last output_text delta went to, by its (output_index, content_index): the
        # next delta almost always goes there too. Any other event may move parts: it forgets it.
        self._last: tuple[int, int, _Text] | None = None

    # --- feeding ---------------------------------------------------------------------
    def feed_payload(self, payload: str) -> bool:
        """Handle one frame's data; True once the stream is over (terminal event or [DONE])."""
        try:
            event, end = _scan(payload, 0)  # json.loads without its two Python layers: the hot path
            if end != len(payload) and payload[end:].strip():
                raise ValueError("extra data")
        except (StopIteration, ValueError, RecursionError):
            if payload.strip() == "[DONE]":
                self.done = self.done or self.error_event is not None
                return True
            try:
                event = json.loads(payload)  # leading spaces; or the error to report
            except (ValueError, RecursionError) as e:
                raise ProtocolError(
                    f"The stream sent data that is not JSON: {payload[:80]!r}", partial=self.partial()
                ) from e
        if not isinstance(event, dict):
            return False
        if event.get("type") == "response.output_text.delta":
            delta = event.get("delta")
            last = self._last
            if (
                last is not None
                and last[0] == _index(event, "output_index")
                and last[1] == _index(event, "content_index")
            ):
                if isinstance(delta, str) and delta:
                    last[2].chunks.append(delta)
                    if self.on_text is not None:
                        self.on_text(delta)
                return False
        try:
            self.handle(event)
        except RecursionError as e:  # copying an absurdly nested item
            raise ProtocolError("The stream sent data nested too deeply to read", partial=self.partial()) from e
        return self.done

    def handle(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type") or ("error" if event.get("error") else ""))
        self._last = None
        if kind == "response.output_text.delta":
            target = self._part(event, "output_text")
            self._append(target, "text", event.get("delta"), "text")
            text = self._texts.get(id(target))
            output, content = _index(event, "output_index"), _index(event, "content_index")
            if text is not None and output >= 0 and content >= 0:
                self._last = (output, content, text)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self._append(self._reasoning(event, kind), "text", event.get("delta"), "reasoning")
        elif kind in TERMINAL_EVENTS or kind in ("response.created", "response.in_progress", "response.queued"):
            response = event.get("response")
            if isinstance(response, dict):
                self.snapshot = response
            if kind in TERMINAL_EVENTS:
                self.final = response if isinstance(response, dict) else dict(self.snapshot, status=kind[9:])
                self.done = True
        elif kind == "error":
            self.error_event = _error_fields(event)
        elif kind in ("response.output_item.added", "response.output_item.done"):
            item = event.get("item")
            if isinstance(item, dict):
                self._flush()
                index = _int(event.get("output_index"))
                known, merged = self.items.get(index, {}), copy.deepcopy(item)
                for key in ("content", "summary"):  # keep what deltas built if the item omits it
                    if not merged.get(key) and known.get(key):
                        merged[key] = known[key]
                self.items[index] = merged
        elif kind in ("response.content_part.added", "response.content_part.done"):
            part = event.get("part")
            if isinstance(part, dict):
                target = self._part(event, str(part.get("type") or "output_text"))
                self._flush(target)
                target.update({key: value for key, value in part.items() if value or key not in target})
        elif kind == "response.output_text.done":
            self._settle(self._part(event, "output_text"), "text", event.get("text"), "text")
        elif kind in ("response.reasoning_summary_text.done", "response.reasoning_text.done"):
            self._settle(self._reasoning(event, kind), "text", event.get("text"), "reasoning")
        elif kind == "response.refusal.delta":
            self._append(self._part(event, "refusal"), "refusal", event.get("delta"))
        elif kind == "response.refusal.done":
            part = self._part(event, "refusal")
            self._flush(part)
            part["refusal"] = str(event.get("refusal") or "")
        elif kind == "response.output_text.annotation.added":
            note = event.get("annotation")
            if isinstance(note, dict):
                part = self._part(event, "output_text")
                if not isinstance(part.get("annotations"), list):
                    part["annotations"] = []
                part["annotations"].append(note)
        # keepalive and every other event type carry nothing we need: ignored on purpose.

    def _item(self, event: dict[str, Any], default_type: str = "message") -> dict[str, Any]:
        index = _int(event.get("output_index"))
        item = self.items.get(index)
        if item is None:
            item = self.items[index] = {"type": default_type, "role": "assistant", "content": []}
        if "id" not in item and event.get("item_id"):
            item["id"] = event["item_id"]
        return item

    def _part(self, event: dict[str, Any], part_type: str = "output_text") -> dict[str, Any]:
        blank = (
            {"type": part_type, "text": "", "annotations": []} if part_type == "output_text" else {"type": part_type}
        )
        return _slot(self._item(event), "content", event.get("content_index"), blank)

    def _reasoning(self, event: dict[str, Any], kind: str) -> dict[str, Any]:
        item = self._item(event, "reasoning")
        if "summary" in kind:
            return _slot(item, "summary", event.get("summary_index"), {"type": "summary_text", "text": ""})
        return _slot(item, "content", event.get("content_index"), {"type": "reasoning_text", "text": ""})

    def _append(self, part: dict[str, Any], key: str, delta: Any, sink: str | None = None) -> None:
        """Add a delta to a part's text; ``sink`` names the callback that hears it ("text", "reasoning")."""
        if not isinstance(delta, str) or not delta:
            return
        text = self._texts.get(id(part))
        if text is None:
            text = self._texts[id(part)] = _Text(part, key)
        text.chunks.append(delta)
        if sink == "text":
            if self.on_text is not None:
                self.on_text(delta)
        elif sink == "reasoning" and self.on_reasoning is not None:
            self._reasoning_delta(part, delta)

    def _reasoning_delta(self, part: dict[str, Any], delta: str) -> None:
        assert self.on_reasoning is not None
        if self._reasoning_part is not None and self._reasoning_part != id(part):
            self.on_reasoning("\n\n")  # a new summary part: a new paragraph, as the final rendering shows
        self._reasoning_part = id(part)
        self.on_reasoning(delta)

    def _settle(self, part: dict[str, Any], key: str, full: Any, sink: str | None) -> None:
        # The done event's text is authoritative; pass on any part the deltas did not carry.
        if not isinstance(full, str):
            return
        self._flush(part)
        seen = str(part.get(key) or "")
        if full.startswith(seen) and len(full) > len(seen):
            self._append(part, key, full[len(seen) :], sink)
            self._flush(part)
        part[key] = full

    def _flush(self, part: dict[str, Any] | None = None) -> None:
        """Write streamed chunks into their parts (one part, or all of them)."""
        self._last = None
        texts = [self._texts.pop(id(part))] if part is not None and id(part) in self._texts else []
        if part is None:
            texts, self._texts = list(self._texts.values()), {}
        for text in texts:
            text.part[text.key] = "".join(text.chunks)

    # --- results ---------------------------------------------------------------------
    def _assembled(self, base: dict[str, Any]) -> dict[str, Any]:
        self._flush()
        raw = dict(base)
        streamed = [self.items[i] for i in sorted(self.items)]
        final = Response({"output": raw.get("output")})
        # Prefer the server's final output, unless it lacks text the deltas brought (some relays).
        if streamed and (not final.output or (not final.text and Response({"output": streamed}).text)):
            raw["output"] = streamed
        return raw

    def partial(self) -> Response:
        """What has arrived so far, as a Response (status as last reported)."""
        raw = self._assembled(self.final or self.snapshot)
        raw.setdefault("status", "in_progress")
        return Response(raw)

    def result(self) -> Response:
        """The final Response; raises ResponseFailedError or ProtocolError when there is none."""
        if self.final is None:
            if self.error_event is not None:
                raise _failed(self.error_event, self.partial())
            raise ProtocolError(
                "The stream ended before the response was complete (no response.completed event)",
                hint="The connection or a proxy cut the answer short; run it again",
                partial=self.partial(),
            )
        response = Response(self._assembled(self.final))
        # The final event carries the whole output: drop the copy the deltas built.
        self.items, self.snapshot = {}, {}
        if response.status == "failed":
            raise _failed(self.error_event or response.error or {}, response)
        return response


def _index(event: dict[str, Any], key: str) -> int:
    """An index as the fast path compares it: a whole number, 0 when missing, -1 for anything else."""
    value = event.get(key, 0)
    return value if type(value) is int and value >= 0 else -1


def _slot(owner: dict[str, Any], key: str, index: Any, blank: dict[str, Any]) -> dict[str, Any]:
    """``owner[key][index]``, made (after blank parts) if missing; odd shapes from a broken server are replaced."""
    parts = owner.get(key)
    if not isinstance(parts, list):
        parts = owner[key] = []
    index = _int(index)
    if not 0 <= index < len(parts) + 64:  # never build a huge list for an absurd index
        raise ProtocolError(f"The stream referred to part {index} of an output item, which cannot exist")
    while len(parts) <= index:
        parts.append(dict(blank))
    if not isinstance(parts[index], dict):
        parts[index] = dict(blank)
    return parts[index]  # type: ignore[no-any-return]


def _error_fields(event: dict[str, Any]) -> dict[str, Any]:
    # OpenAI nests {type, code, message, param} under "error"; the spec puts them at top level.
    nested = event.get("error")
    if isinstance(nested, dict):
        return {
            **{k: event.get(k) for k in ("code", "message", "param")},
            **{k: v for k, v in nested.items() if v is not None},
        }
    if isinstance(nested, str):
        return {"message": nested, "code": event.get("code")}
    return {k: event.get(k) for k in ("code", "message", "param", "type")}


def _failed(error: dict[str, Any], partial: Response) -> ResponseFailedError:
    message = innermost(str(error.get("message") or "no reason given"))
    code = error.get("code") or error.get("type")
    failure = ResponseFailedError(
        f"The response failed: {message}",
        code=str(code) if code else None,
        type=str(error["type"]) if error.get("type") else None,
        param=str(error["param"]) if error.get("param") else None,
        partial=partial,
    )
    mark_billing(failure)
    return failure


def response_from_json(data: Any) -> Response:
    """A Response from a non-streamed body; raises for a failed one or an error envelope."""
    if not isinstance(data, dict):
        raise ProtocolError("The server answered with JSON that is not a response object")
    if data.get("error") and not data.get("output") and data.get("status") in (None, "failed"):
        raise _failed(_error_fields(data), Response(data))
    if "output" not in data and "status" not in data:
        raise ProtocolError(
            f"The server answered with JSON that is not a response object (keys: {', '.join(list(data)[:6])})"
        )
    response = Response(data)
    if response.status == "failed":
        raise _failed(response.error or {}, response)
    return response
