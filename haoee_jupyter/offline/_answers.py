"""Deterministic answers for the offline demo server: reading the input, tokenizing, writing text.

Nothing here touches the network or the clock, so the same request always gets the same text,
whether it is streamed or not.

    >>> tokenize("Hello, world!\\n")
    ['Hello', ',', ' world', '!', '\\n']
    >>> prompt = read_input("What is a *p-value*?")
    >>> prompt.text, prompt.image_count
    ('What is a *p-value*?', 0)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "IMAGE_TOKENS",
    "Answer",
    "AnswerRequest",
    "Citation",
    "Prompt",
    "compose_answer",
    "count_tokens",
    "excerpt",
    "fingerprint",
    "read_input",
    "reasoning_summary",
    "search_query",
    "tokenize",
]

# CJK characters count as one token each (roughly what real tokenizers do); other words are one
# token with their leading whitespace, like " equals" in the recorded OpenAI streams. Every
# character falls into some alternative, so "".join(tokenize(text)) == text always holds.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"\s*(?:[{_CJK}]|(?:(?![{_CJK}])\w)+|[^\w\s]+)|\s+")

# What an input_image costs, in input tokens (OpenAI's figure for a low-detail image).
IMAGE_TOKENS = 85

_BRIEF_HINTS = ("brief", "concise", "short", "one sentence", "简短", "简洁", "一句话")
_ONE_WORD_HINTS = ("one word", "single word", "一个词")


def tokenize(text: str) -> list[str]:
    """Split text into demo tokens; joining them gives the text back exactly."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """The number of demo tokens in text (0 for the empty string)."""
    return len(tokenize(text))


def excerpt(text: str, limit: int) -> str:
    """Whitespace collapsed to single spaces, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def fingerprint(text: str) -> str:
    """Eight hex digits that identify text; shown in answers to make determinism visible."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True)
class Prompt:
    """What the server understood of a request's `input`.

    `text` is the last user message, `earlier` the user messages before it in the same input,
    `system` any system/developer message texts, and `all_text` everything that counts toward
    input tokens.
    """

    text: str
    earlier: tuple[str, ...] = ()
    system: tuple[str, ...] = ()
    image_count: int = 0
    all_text: str = ""


def _content_text(content: Any) -> tuple[str, int]:
    """The text and image count of a message's content (a string or a list of parts)."""
    if isinstance(content, str):
        return content, 0
    texts: list[str] = []
    images = 0
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") in ("input_image", "image_url"):
                images += 1
            for key in ("text", "refusal"):
                value = part.get(key)
                if isinstance(value, str):
                    texts.append(value)
    return "\n".join(texts), images


def read_input(input_value: str | Sequence[Any]) -> Prompt:
    """Read a Responses-API `input` (a string, or a list of messages and other items)."""
    if isinstance(input_value, str):
        return Prompt(text=input_value, all_text=input_value)
    user_texts: list[str] = []
    system_texts: list[str] = []
    counted: list[str] = []
    images = 0
    for item in input_value:
        if not isinstance(item, Mapping):
            continue
        text, item_images = _content_text(item.get("content"))
        # Tool results and other item types still cost input tokens.
        for key in ("output", "arguments"):
            value = item.get(key)
            if isinstance(value, str):
                text = f"{text}\n{value}" if text else value
        counted.append(text)
        role = item.get("role")
        if role == "user" or (role is None and item.get("type") in (None, "message")):
            user_texts.append(text)
            images += item_images
        elif role in ("system", "developer"):
            system_texts.append(text)
    last = user_texts[-1] if user_texts else ""
    return Prompt(
        text=last,
        earlier=tuple(user_texts[:-1]),
        system=tuple(system_texts),
        image_count=images,
        all_text="\n".join(counted),
    )


@dataclass(frozen=True)
class Citation:
    """A `url_citation`: text[start:end] is the inline Markdown link, as in real answers."""

    start: int
    end: int
    url: str
    title: str


@dataclass(frozen=True)
class Answer:
    """The text of an answer, with its citations when web search was used."""

    text: str
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class AnswerRequest:
    """Everything an answer depends on; equal requests give equal answers."""

    prompt: Prompt
    model: str
    instructions: str = ""
    earlier_prompts: tuple[str, ...] = ()
    web_search: bool = False


@dataclass
class _TextBuilder:
    """Accumulates text and records where cited links land in it."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    citations: list[Citation] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def add_link(self, domain: str, url: str, title: str) -> None:
        link = f"([{domain}]({url}))"
        self.citations.append(Citation(self.length, self.length + len(link), url, title))
        self.add(link)

    def answer(self) -> Answer:
        return Answer("".join(self.parts), tuple(self.citations))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _context_lines(request: AnswerRequest) -> str:
    """The lines that make instructions and conversation history visible in every answer."""
    lines = ""
    if request.instructions:
        lines += f"Following your instructions: {excerpt(request.instructions, 160)}\n\n"
    if request.earlier_prompts:
        turn = len(request.earlier_prompts) + 1
        shown = [f"“{excerpt(p, 60) or '(empty)'}”" for p in request.earlier_prompts[-3:]]
        more = "…; " if len(request.earlier_prompts) > 3 else ""
        lines += f"Turn {turn} of this conversation. Earlier you asked: {more}{'; '.join(shown)}.\n\n"
    return lines


def _brief_answer(request: AnswerRequest) -> Answer | None:
    """A short answer when the instructions ask for one, so teachers can show them working."""
    wanted = request.instructions.lower()
    if any(hint in wanted for hint in _ONE_WORD_HINTS):
        return Answer("Offline.")
    if any(hint in wanted for hint in _BRIEF_HINTS):
        asked = excerpt(request.prompt.text, 80) or "(an empty prompt)"
        return Answer(f"_Offline demo, brief as instructed:_ you asked “{asked}”.")
    return None


def _plain_answer(request: AnswerRequest) -> Answer:
    prompt = request.prompt
    words = len(prompt.text.split())
    chars = len(prompt.text)
    images = prompt.image_count
    quoted = excerpt(prompt.text, 200) or "(an empty prompt)"
    text = (
        "## Offline demo answer\n\n"
        "_Offline demo output from the Haoee offline server: no model ran, "
        "and nothing left this machine._\n\n"
        f"{_context_lines(request)}"
        f"You asked `{request.model}`:\n\n"
        f"> {quoted}\n\n"
        "**What the demo noticed** in your prompt:\n\n"
        f"- **{words}** words and **{chars}** characters\n"
        f"- {_plural(images, 'image')} received\n"
        f"- fingerprint `{fingerprint(prompt.text)}`, so the same prompt always gets "
        "_this exact_ answer\n\n"
        "| Measure | Value |\n"
        "|---|---:|\n"
        f"| Words | {words} |\n"
        f"| Characters | {chars} |\n"
        f"| Images | {images} |\n\n"
        "```python\n"
        f"prompt_words = {words}\n"
        'print(prompt_words, "words")\n'
        "```\n\n"
        "Ask again, streamed or not: the text is identical."
    )
    return Answer(text)


_SOURCES = (
    ("example.org", "https://example.org/wiki/{slug}", "Example Encyclopedia", "an overview"),
    ("example.com", "https://example.com/guides/{slug}", "Example Guides", "a worked example"),
    ("example.net", "https://example.net/faq/{slug}", "Example FAQ", "the common questions"),
)


def _slug(query: str) -> str:
    words = re.findall(r"[a-z0-9]+", query.lower())[:6]
    return "-".join(words) or f"topic-{fingerprint(query)}"


def search_query(prompt: Prompt) -> str:
    """The query a web_search_call reports for this prompt."""
    return excerpt(prompt.text, 100) or "offline demo"


def _title(text: str, limit: int) -> str:
    """A search title: like :func:`excerpt`, but cut at a word (a title never ends mid-word)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 3 else cut[: limit - 1]).rstrip(" ,;:.-–") + "…"


def _web_search_answer(request: AnswerRequest) -> Answer:
    query = search_query(request.prompt)
    slug = _slug(query)
    # Two or three sources, chosen by the prompt, so both cases show up in demos.
    sources = _SOURCES[: 2 + int(fingerprint(query), 16) % 2]
    builder = _TextBuilder()
    wanted = request.instructions.lower()
    if any(hint in wanted for hint in _ONE_WORD_HINTS + _BRIEF_HINTS):
        # Brief as instructed, but still cited: the sources are what a search answer is for.
        one_word = any(hint in wanted for hint in _ONE_WORD_HINTS)
        builder.add(
            "Offline"
            if one_word
            else f"_Offline demo, brief as instructed:_ “{_title(query, 60)}” has {len(sources)} sources"
        )
        for domain, url_template, site, _covers in sources:
            builder.add(" ")
            builder.add_link(domain, url_template.format(slug=slug), f"{_title(query, 60)} – {site}")
        builder.add(".")
        return builder.answer()
    builder.add(
        "## Offline demo: web search\n\n"
        "_Offline demo output: no search left this machine; the sources below are made-up "
        "pages on reserved example domains._\n\n"
        f"{_context_lines(request)}"
        f"I searched for **“{_title(query, 80)}”** and found {len(sources)} sources:\n\n"
    )
    for domain, url_template, site, covers in sources:
        builder.add(f"- _{site}_ has {covers} ")
        builder.add_link(domain, url_template.format(slug=slug), f"{_title(query, 60)} – {site}")
        builder.add(".\n")
    builder.add("\n| Source | What it covers |\n|---|---|\n")
    for domain, _url, _site, covers in sources:
        builder.add(f"| {domain} | {covers} |\n")
    builder.add("\nSources are cited inline; the client shows them as **citations**.")
    return builder.answer()


def compose_answer(request: AnswerRequest) -> Answer:
    """The Markdown answer for a request (text formats only; JSON formats are built elsewhere)."""
    if request.web_search:  # a search answer keeps its sources, brief or not
        return _web_search_answer(request)
    brief = _brief_answer(request)
    if brief is not None:
        return brief
    return _plain_answer(request)


def reasoning_summary(prompt: Prompt) -> str:
    """The one reasoning-summary part shown when `reasoning.summary` is requested."""
    words = len(prompt.text.split())
    return (
        "**Planning an offline answer**\n\n"
        f"The offline demo server does not think. It read your prompt of {_plural(words, 'word')}, "
        f"noted {_plural(prompt.image_count, 'image')}, and assembled a fixed Markdown answer "
        "that quotes it."
    )
