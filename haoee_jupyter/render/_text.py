"""Markdown for answers: the text, sources, and a muted footer. No IPython imports here.

Rendering is kept apart from requesting so other result kinds (images, audio) can be added
without touching the client.
"""

from __future__ import annotations

import html
from typing import Any

# A Response from the client layer, duck-typed: rendering imports nothing from the client, so
# the client's Response can render itself through this module without an import circle.
Response = Any


def body_markdown(response: Response | None, text: str = "") -> str:
    """The answer itself: refusal, reasoning summaries, text and sources."""
    parts: list[str] = []
    if response is not None:
        text = response.text or text
        if response.reasoning:
            summary = "\n\n".join(response.reasoning)
            parts.append(f"<details><summary>Reasoning</summary>\n\n{summary}\n\n</details>\n")
        if response.refusal:
            parts.append(f"> **The model refused:** {response.refusal}\n")
    if text:
        parts.append(text)
    elif response is not None and not response.refusal and response.status == "incomplete":
        parts.append(f"*(no text; stopped: {response.incomplete_reason})*")
    if response is not None and response.citations:
        links = "\n".join(
            f"{i}. [{_link_text(c.title or c.url)}]({c.url})" for i, c in enumerate(response.citations, 1)
        )
        parts.append(f"\n\n**Sources**\n\n{links}")
    if response is not None and response.web_searches:
        searched = "; ".join(response.web_searches)
        parts.append(f"\n\n<sub>Searched the web for: {html.escape(searched)}</sub>")
    return "\n".join(parts)


def footer_facts(
    response: Response | None, *, model: str = "", latency: float | None = None, status: str | None = None
) -> list[str]:
    """Short facts for the footer: model, tokens, latency, and the status when not plain."""
    facts = [response.model if response is not None and response.model else model]
    if response is not None and response.usage.total_tokens:
        usage = response.usage
        facts.append(f"{usage.input_tokens:,} in / {usage.output_tokens:,} out tokens")
        if usage.reasoning_tokens:
            facts.append(f"{usage.reasoning_tokens:,} reasoning")
        if usage.cached_tokens:
            facts.append(f"{usage.cached_tokens:,} cached")
    if latency is not None:
        facts.append(f"{latency:.1f} s")
    if status is None and response is not None and response.status not in ("", "completed"):
        status = response.status
        if response.status == "incomplete":
            status = f"incomplete: {response.incomplete_reason}"
    if status:
        facts.append(status)
    return [fact for fact in facts if fact]


def footer_markdown(facts: list[str]) -> str:
    return f"\n\n<sub>{html.escape(' · '.join(facts))}</sub>" if facts else ""


def footer_plain(facts: list[str]) -> str:
    return f"\n\n[{' · '.join(facts)}]" if facts else ""


def bundle(markdown: str, plain: str) -> dict[str, str]:
    """A mimebundle that renders as Markdown and still shows text in a terminal or nbconvert."""
    return {"text/markdown": markdown, "text/plain": plain}


def response_bundle(response: Response, **footer: Any) -> dict[str, str]:
    facts = footer_facts(response, **footer)
    body = body_markdown(response)
    plain = body_plain(response)
    return bundle(body + footer_markdown(facts), plain + footer_plain(facts))


def body_plain(response: Response | None, text: str = "") -> str:
    parts: list[str] = []
    if response is not None and response.refusal:
        parts.append(f"The model refused: {response.refusal}")
    parts.append((response.text if response is not None else "") or text)
    if response is not None and response.citations:
        parts.append(
            "Sources:\n"
            + "\n".join(f"  {i}. {c.title or c.url} <{c.url}>" for i, c in enumerate(response.citations, 1))
        )
    if response is not None and response.web_searches:
        parts.append("Searched the web for: " + "; ".join(response.web_searches))
    return "\n\n".join(part for part in parts if part)


def _link_text(text: str) -> str:
    return text.replace("[", "(").replace("]", ")")
