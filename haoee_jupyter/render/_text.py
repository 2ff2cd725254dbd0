"""Markdown for answers: the text, its reasoning, sources, and a muted footer. No IPython imports.

Rendering is kept apart from requesting so other result kinds (images, audio) can be added
without touching the client.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

from ._stream import settle, unclosed_fence

# A Response from the client layer, duck-typed: rendering imports nothing from the client, so
# the client's Response can render itself through this module without an import circle.
Response = Any

#: Source titles longer than this are cut at a word.
TITLE_LIMIT = 100

# JupyterLab keeps inline styles in Markdown, so its theme variables set the reasoning apart
# from the answer in the light and the dark theme alike.
_FOLD_SUMMARY_STYLE = "color: var(--jp-ui-font-color2); cursor: pointer"
_FOLD_BODY_STYLE = (
    "color: var(--jp-content-font-color2); border-left: 3px solid var(--jp-border-color2); "
    "padding-left: 0.8em; margin: 0.25em 0 0.75em 0.25em"
)


def reasoning_fold(markdown: str, *, open: bool = False) -> str:
    """The reasoning summary in a fold of its own, muted and bordered, above the answer."""
    return (
        f'<details{" open" if open else ""}><summary style="{_FOLD_SUMMARY_STYLE}">Reasoning</summary>\n'
        f'<div style="{_FOLD_BODY_STYLE}">\n\n{markdown}\n\n</div>\n</details>\n'
    )


def body_markdown(
    response: Response | None, text: str = "", *, partial: bool = False, limit: str = "max_output_tokens"
) -> str:
    """The answer itself: reasoning summary, refusal, text (marked where it was cut), sources.

    ``partial``: the text stopped before its end (interrupted, failed), so what it leaves open
    (a code fence, ``**``) is closed instead of dangling. ``limit`` names the setting to raise
    when the answer hit its token limit (``--max-tokens`` for the magic).
    """
    parts: list[str] = []
    incomplete = response is not None and response.status == "incomplete"
    if response is not None:
        text = response.text or text
        if response.reasoning:
            parts.append(reasoning_fold("\n\n".join(response.reasoning), open=not text))
        if response.refusal:
            parts.append(f"> **The model refused:** {response.refusal}\n")
    if text:
        if incomplete or partial:
            text = settle(text)
        else:
            closer = unclosed_fence(text)
            text += f"\n{closer}" if closer else ""
        parts.append(text)
    if incomplete:
        parts.append("\n\n" + cut_note(response, bool(text), limit)[0])
    if response is not None and response.citations:
        links = "\n".join(_source_markdown(number, c.title, c.url) for number, c in enumerate(response.citations, 1))
        parts.append(f"\n\n**Sources**\n\n{links}")
    if response is not None and response.web_searches:
        searched = "; ".join(response.web_searches)
        parts.append(f"\n\n<sub>Searched the web for: {html.escape(searched)}</sub>")
    return "\n".join(parts)


def cut_note(response: Response, has_text: bool = True, limit: str = "max_output_tokens") -> tuple[str, str]:
    """What to say at the end of an answer that stopped early (Markdown, plain): why, what to do."""
    reason = response.incomplete_reason or "unknown"
    if reason == "max_output_tokens":
        what = (
            "The answer reached its output token limit (max_output_tokens)"
            if has_text
            else "The output token limit (max_output_tokens) was reached before any answer text"
        )
        reasoning = response.usage.reasoning_tokens
        if reasoning:
            what += f"; reasoning used {reasoning:,} of its {response.usage.output_tokens:,} output tokens"
        fix = f"raise `{limit}` and run it again"
    elif reason == "content_filter":
        what, fix = "The content filter stopped the answer", "rephrase the prompt and run it again"
    else:
        what, fix = f"The answer stopped early ({reason})", "run it again"
    return f"> **Cut off here.** {what}: {fix}.", f"[Cut off here. {what}: {plain_text(fix)}.]"


def footer_facts(
    response: Response | None,
    *,
    model: str = "",
    latency: float | None = None,
    status: str | None = None,
    effort: str | None = None,
) -> list[str]:
    """Short facts for the footer: model, tokens, reasoning effort, latency, the status when not plain.

    ``effort`` is the reasoning effort asked for, named when the response does not say it.
    """
    facts = [response.model if response is not None and response.model else model]
    if response is not None and response.usage.total_tokens:
        usage = response.usage
        facts.append(f"{usage.input_tokens:,} in / {usage.output_tokens:,} out tokens")
        if usage.reasoning_tokens:
            facts.append(f"{usage.reasoning_tokens:,} reasoning")
        if usage.cached_tokens:
            facts.append(f"{usage.cached_tokens:,} cached")
    effort = response_effort(response) or effort
    if effort:
        facts.append(f"effort {effort}")
    if latency is not None:
        facts.append(f"{latency:.1f} s")
    if status is None and response is not None and response.status not in ("", "completed"):
        status = response.status
        if response.status == "incomplete":
            status = f"incomplete: {response.incomplete_reason}"
    if status:
        facts.append(status)
    return [fact for fact in facts if fact]


def response_effort(response: Response | None) -> str | None:
    """The reasoning effort the response reports (``reasoning.effort`` in its JSON), if any."""
    raw = getattr(response, "raw", None)
    reasoning = raw.get("reasoning") if isinstance(raw, dict) else None
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    return str(effort) if effort else None


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


def body_plain(response: Response | None, text: str = "", *, limit: str = "max_output_tokens") -> str:
    parts: list[str] = []
    if response is not None and response.refusal:
        parts.append(f"The model refused: {response.refusal}")
    parts.append((response.text if response is not None else "") or text)
    if response is not None and response.status == "incomplete":
        parts.append(cut_note(response, bool(parts[-1]), limit)[1])
    if response is not None and response.citations:
        parts.append(
            "Sources:\n"
            + "\n".join(f"  {i}. {_title(c.title) or c.url} <{c.url}>" for i, c in enumerate(response.citations, 1))
        )
    if response is not None and response.web_searches:
        parts.append("Searched the web for: " + "; ".join(response.web_searches))
    return "\n\n".join(part for part in parts if part)


def plain_text(markdown: str) -> str:
    """A short Markdown sentence as plain text: code spans lose their backticks."""
    return re.sub(r"`([^`]+)`", r"\1", markdown)


def domain(url: str) -> str:
    """``example.com`` for ``https://www.example.com/a/b``."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def _title(title: str) -> str:
    """The whole title, or cut at a word with an ellipsis when very long."""
    title = " ".join(title.split())
    if len(title) <= TITLE_LIMIT:
        return title
    cut = title.rfind(" ", 0, TITLE_LIMIT)
    return title[: cut if cut > TITLE_LIMIT // 2 else TITLE_LIMIT].rstrip(" ,;:–—-") + "…"


def _source_markdown(number: int, title: str, url: str) -> str:
    """``1. [Title](url) — example.com``."""
    site = domain(url)
    shown = _title(title) or site or url
    text = re.sub(r"([\\`*_<>])", r"\\\1", shown.replace("[", "(").replace("]", ")"))
    return f"{number}. [{text}]({url})" + (f" — {site}" if site and site != shown else "")
