"""The answer types: Response, Usage, Citation. Built from the wire JSON, tolerant of extra fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Citation", "Response", "Usage"]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class Usage:
    """Token counts of one call, or a sum of calls (``a + b``).

    >>> Usage(input_tokens=10, output_tokens=5, total_tokens=15).total_tokens
    15
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @classmethod
    def from_dict(cls, data: Any) -> Usage:
        data = _dict(data)
        # Chat-style names are accepted too: some relays rewrite usage that way.
        input_tokens = _int(data.get("input_tokens", data.get("prompt_tokens")))
        output_tokens = _int(data.get("output_tokens", data.get("completion_tokens")))
        input_details = _dict(data.get("input_tokens_details") or data.get("prompt_tokens_details"))
        output_details = _dict(data.get("output_tokens_details") or data.get("completion_tokens_details"))
        return cls(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=_int(data.get("total_tokens")) or input_tokens + output_tokens,
            cached_tokens=_int(input_details.get("cached_tokens")),
            reasoning_tokens=_int(output_details.get("reasoning_tokens")),
        )

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    def __radd__(self, other: object) -> Usage:
        # sum(usages) starts from 0
        if other == 0:
            return self
        return NotImplemented

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


@dataclass(frozen=True)
class Citation:
    """A web source the answer cites (a ``url_citation`` annotation)."""

    url: str
    title: str = ""
    start_index: int | None = None
    end_index: int | None = None


@dataclass
class Response:
    """One answer from ``POST /v1/responses``.

    >>> r = client.respond("Say hi")
    >>> r.text, r.usage.total_tokens, r.status
    ('Hi!', 12, 'completed')

    In a notebook it renders itself as Markdown, with a footer of model and tokens.
    """

    raw: dict[str, Any] = field(repr=False)

    # --- identity and state -------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.raw.get("id") or "")

    @property
    def model(self) -> str:
        return str(self.raw.get("model") or "")

    @property
    def status(self) -> str:
        """completed, incomplete, failed, cancelled, in_progress or queued."""
        return str(self.raw.get("status") or "")

    @property
    def incomplete_reason(self) -> str | None:
        """Why an ``incomplete`` response stopped (``max_output_tokens``, ``content_filter``...)."""
        reason = _dict(self.raw.get("incomplete_details")).get("reason")
        if reason:
            return str(reason)
        return "unknown" if self.status == "incomplete" else None

    @property
    def error(self) -> dict[str, Any] | None:
        """The ``{code, message}`` of a failed response."""
        error = self.raw.get("error")
        return error if isinstance(error, dict) and error else None

    @property
    def output(self) -> list[dict[str, Any]]:
        """The raw output items (message, reasoning, web_search_call, function_call, ...)."""
        return [item for item in _list(self.raw.get("output")) if isinstance(item, dict)]

    def _parts(self, part_type: str) -> list[dict[str, Any]]:
        return [
            part
            for item in self.output
            if item.get("type", "message") == "message"
            for part in _list(item.get("content"))
            if isinstance(part, dict) and part.get("type") == part_type
        ]

    # --- content ---------------------------------------------------------------------
    @property
    def text(self) -> str:
        """All ``output_text`` of the answer, joined."""
        return "".join(str(part.get("text") or "") for part in self._parts("output_text"))

    @property
    def refusal(self) -> str | None:
        """The model's refusal, when it declined to answer."""
        refusals = [str(part.get("refusal") or "") for part in self._parts("refusal")]
        return "".join(refusals) or None

    @property
    def citations(self) -> list[Citation]:
        """Sources from web search (``url_citation`` annotations), without repeats."""
        seen: dict[str, Citation] = {}
        for part in self._parts("output_text"):
            for note in _list(part.get("annotations")):
                if isinstance(note, dict) and note.get("type") == "url_citation" and note.get("url"):
                    url = str(note["url"])
                    seen.setdefault(
                        url,
                        Citation(url, str(note.get("title") or ""), note.get("start_index"), note.get("end_index")),
                    )
        return list(seen.values())

    @property
    def reasoning(self) -> list[str]:
        """Reasoning summaries (and raw reasoning text, where a provider exposes it)."""
        texts: list[str] = []
        for item in self.output:
            if item.get("type") == "reasoning":
                for part in _list(item.get("summary")) + _list(item.get("content")):
                    if isinstance(part, dict) and part.get("text"):
                        texts.append(str(part["text"]))
        return texts

    @property
    def web_searches(self) -> list[str]:
        """The queries the model searched the web for."""
        queries: list[str] = []
        for item in self.output:
            if item.get("type") == "web_search_call":
                action = _dict(item.get("action"))
                found = [str(q) for q in _list(action.get("queries")) if q] or (
                    [str(action["query"])] if action.get("query") else []
                )
                queries.extend(q for q in found if q not in queries)
        return queries

    @property
    def function_calls(self) -> list[dict[str, Any]]:
        """``function_call`` items: ``{call_id, name, arguments}`` (arguments is a JSON string)."""
        return [item for item in self.output if item.get("type") == "function_call"]

    @property
    def usage(self) -> Usage:
        """Token counts; zeros when the server sent none (e.g. a failed response)."""
        return Usage.from_dict(self.raw.get("usage"))

    def __repr__(self) -> str:
        preview = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return (
            f"Response(id={self.id!r}, model={self.model!r}, status={self.status!r}, "
            f"text={preview!r}, total_tokens={self.usage.total_tokens})"
        )

    def __str__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from ..render import response_bundle

        return response_bundle(self)
