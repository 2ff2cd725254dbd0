"""The open end of a paragraph that is still arriving: emphasis, code spans and links not closed yet.

A Markdown renderer shows an unclosed ``**`` or ````` ` ````` as the raw character until its
closer arrives, then jumps to bold or code; a half link shows its brackets. :func:`close_inline`
rewrites the end of a paragraph so that what is open renders as it will look once closed: it
returns the paragraph with the unknowable bits dropped (a marker run at the very end, the
``[`` of a link whose target has not arrived) and the closers to append after it.

    >>> close_inline("Some **bold te")
    ('Some **bold te', '**')
    >>> close_inline("see [the docs](https://exa")
    ('see the docs', '')
    >>> close_inline("a snake_case name and a trailing _")
    ('a snake_case name and a trailing ', '')
"""

from __future__ import annotations

import re

__all__ = ["close_inline"]

# A tag or autolink that has begun but not ended: "<det", "<https://exa".
_PARTIAL_TAG = re.compile(r"<[A-Za-z/!][^<>\n]{0,80}$")
_TASK_BOXES = ("[ ]", "[x]", "[X]")


def _is_space(char: str) -> bool:
    return char == "" or char.isspace()


def _is_punct(char: str) -> bool:
    return char != "" and not char.isalnum() and not char.isspace()


def close_inline(paragraph: str) -> tuple[str, str]:
    """The paragraph with what cannot be known yet dropped, and the closers to append after it."""
    end = len(paragraph)
    stack: list[str] = []  # open emphasis runs, innermost last
    dropped: list[int] = []  # single characters to leave out (the "[" of an unfinished link)
    cut = end  # everything from here on is left out
    code = ""  # the backtick run of an open code span
    link = -1  # where a "[" (or "![") waits for its "]"
    image = False
    i = 0
    while i < end:
        char = paragraph[i]
        if code:
            if char == "`":
                j = _run_end(paragraph, i)
                if j - i == len(code):
                    code = ""
                i = j
            else:
                i += 1
            continue
        if char == "\\":
            if i + 1 == end:
                cut = i  # an escape whose character has not arrived
            i += 2
            continue
        if char == "`":
            j = _run_end(paragraph, i)
            if j == end:
                cut = i  # an opener or closer still growing
            else:
                code = paragraph[i:j]
            i = j
            continue
        if char in "*_~":
            j = _run_end(paragraph, i)
            if j == end:
                cut = i  # the next character decides what it is
                break
            _emphasis(paragraph, i, j, stack)
            i = j
            continue
        if char == "[" and paragraph[i : i + 3] not in _TASK_BOXES:
            if link < 0:
                image = i > 0 and paragraph[i - 1] == "!"
                link = i - 1 if image else i
            i += 1
            continue
        if char == "]" and link >= 0:
            unfinished = i + 1 == end  # a link's text, or just brackets: show the text for now
            close = paragraph.find(")", i + 2) if not unfinished and paragraph[i + 1] == "(" else -2
            if unfinished or close == -1:  # no target yet, or the target is still arriving
                if image:
                    cut = link  # an image shows once it is whole
                else:
                    dropped.append(link)
                    cut = i
                link = -1
                break
            if close >= 0:
                i = close + 1
            else:
                i += 1
            link = -1
            continue
        i += 1
    if link >= 0:  # "[text" with no "]" yet
        if image:
            cut = min(cut, link)
        else:
            dropped.append(link)
    partial = _PARTIAL_TAG.search(paragraph, 0, cut) if not code else None
    if partial is not None:
        cut = partial.start()
    kept = "".join(paragraph[k] for k in range(cut) if k not in dropped) if dropped else paragraph[:cut]
    closers = code + "".join(reversed(stack))
    return kept, closers


def _run_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end] == text[start]:
        end += 1
    return end


def _emphasis(text: str, start: int, end: int, stack: list[str]) -> None:
    """Match or open the marker run text[start:end] (CommonMark's flanking rules, simplified)."""
    run = text[start:end]
    marker = run[0]
    if marker == "~" and len(run) < 2:
        return
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    left = not _is_space(after) and (not _is_punct(after) or _is_space(before) or _is_punct(before))
    right = not _is_space(before) and (not _is_punct(before) or _is_space(after) or _is_punct(after))
    if marker == "_":
        can_open = left and (not right or _is_punct(before))
        can_close = right and (not left or _is_punct(after))
    else:
        # Inside a word (2*3*4, a*b) a lone run is literal unless it closes something.
        can_open = left and not (before.isalnum() and after.isalnum())
        can_close = right
    if can_close and any(opened[0] == marker for opened in stack):
        remaining = len(run)
        while remaining > 0 and stack and stack[-1][0] == marker and len(stack[-1]) <= remaining:
            remaining -= len(stack.pop())
        if remaining and stack and stack[-1][0] == marker:  # "**" closing into an open "***"
            stack[-1] = marker * (len(stack[-1]) - remaining)
            remaining = 0
        if remaining and can_open:
            stack.append(marker * remaining)
        return
    if can_open:
        stack.append(run)
