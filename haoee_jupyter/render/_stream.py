"""Markdown that is still arriving: where a growing answer can be cut into finished pieces, and
how its open end is shown.

A notebook that re-sent the whole answer on every update would send bytes growing with the
square of its length. Instead, the display freezes finished pieces, each shown once, and keeps
updating only the open tail. :func:`find_cut` says where the next piece may end: after a finished
block (a blank line outside any code fence, list or math block), or, for a block that never ends
(a long code block or table), at a line inside it; the next piece then re-opens that block by
repeating its first lines (the fence's opening line, the table's header). Everything is offsets
into the answer, so the caller keeps ints, not copies.

:func:`settle` renders an open end so that nothing flashes as raw Markdown: an unclosed fence is
closed (with the cursor inside it), a table shows once its header separator has arrived, and
unclosed inline markers are closed or held back (see :mod:`._inline`).

    >>> text = "# Title\\n\\n" + "A long paragraph. " * 100 + "\\n\\nThe next one"
    >>> cut = find_cut(text, 0, soft=1000, hard=4000)
    >>> text[cut.end :]
    'The next one'
    >>> settle("Some **bold te", cursor="▍")
    'Some **bold te ▍**'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._inline import close_inline

__all__ = ["CURSOR", "Cut", "Reopen", "find_cut", "settle", "unclosed_fence"]

CURSOR = "▍"

_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_LIST_ITEM = re.compile(r" {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
# Lines that start a block of their own: inline markers never run across them.
_BLOCK_START = re.compile(r" {0,3}(?:#{1,6}(?:[ \t]|$)|>|\||(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$))")
# HTML that holds Markdown across blank lines (<details>, <div>): no piece ends inside it.
_HTML_OPEN = re.compile(r"<(?:details|div|blockquote|section|table)\b", re.I)
_HTML_CLOSE = re.compile(r"</(?:details|div|blockquote|section|table)\s*>", re.I)
# An unfinished last line that is only a block marker so far ("##", "-", "1.", ">", "|--").
_DANGLING = re.compile(r" {0,3}(?:#{1,6}|[-*+=_]{1,2}|\d{1,9}[.)]?|>|\|[|:\- \t]*)[ \t]*")


@dataclass(frozen=True)
class Reopen:
    """A block a cut went through: ``text[start:end]`` are its first lines (the fence's opening
    line; the table's header and separator), repeated at the start of the next piece."""

    kind: str  # "fence" or "table"
    start: int
    end: int


@dataclass(frozen=True)
class Cut:
    """Where a finished piece ends: the next piece starts at ``end``."""

    end: int
    close: str = ""  # appended to the piece to close the block the cut went through ("```")
    reopen: Reopen | None = None


@dataclass
class _Scan:
    """What a scan of the lines from some offset found."""

    safe: int = -1  # the last start of a block after a finished one (after a blank line)
    forced: Cut | None = None  # the last line boundary a block that is too long may be cut at
    fence: str = ""  # the closer of the fence still open at the end ("```"), "" if none
    fence_reopen: Reopen | None = None
    table: Reopen | None = None  # the table still open at the end (its header and separator)
    block: int = 0  # where the last block starts
    inline: int = 0  # where the last run of inline text starts


def _is_separator(line: str) -> bool:
    stripped = line.strip()
    return "-" in stripped and "|" in stripped and set(stripped) <= set("|:- \t")


def _scan(text: str, start: int, reopen: Reopen | None) -> _Scan:
    scan = _Scan(block=start, inline=start)
    fence: tuple[str, int, int, int] | None = None  # marker, its length, the opening line's offsets
    table: Reopen | None = None
    header = -1  # where a line that may be a table's header starts
    in_list = math = False
    html = 0  # HTML containers open
    blank_before = True  # start is where a block starts
    if reopen is not None:
        blank_before = False
        if reopen.kind == "fence":
            match = _FENCE.match(text, reopen.start, reopen.end)
            marker = match.group(1) if match else "```"
            fence = (marker[0], len(marker), reopen.start, reopen.end)
        else:
            table = reopen
    pos, size = start, len(text)
    while pos < size:
        newline = text.find("\n", pos)
        complete = newline >= 0
        line = text[pos : newline if complete else size]
        following = newline + 1 if complete else size
        stripped = line.strip()
        if fence is not None:
            if stripped and set(stripped) == {fence[0]}:  # a closing fence, or one still arriving
                if complete and len(stripped) >= fence[1]:
                    fence = None
                    scan.inline = following
            elif complete and pos > start:
                closer = fence[0] * fence[1]
                scan.forced = Cut(pos, closer, Reopen("fence", fence[2], fence[3]))
            pos = following
            continue
        if not stripped:
            if complete:
                blank_before, table, header = True, None, -1
            pos = following
            continue
        if blank_before:
            after_list = in_list and (line[0] in " \t" or _LIST_ITEM.match(line) is not None)
            if pos > start and not math and not html and (complete or len(line) >= 4) and not after_list:
                scan.safe = pos
            scan.block = scan.inline = pos
            in_list = False
        elif _BLOCK_START.match(line):
            scan.inline = pos
        separator = table is None and header >= 0 and complete and _is_separator(line)
        if complete and pos > start and not math and not separator:
            # A line boundary inside a block: only where the next piece still reads the same.
            if table is not None:
                scan.forced = Cut(pos, "", table)
            elif not in_list or _LIST_ITEM.match(line) or line[0] not in " \t":
                scan.forced = Cut(pos)
        blank_before = False
        fence_match = _FENCE.match(line) if complete else None
        if fence_match is not None:
            marker = fence_match.group(1)
            fence = (marker[0], len(marker), pos, following)
            table, header = None, -1
        elif separator:
            table = Reopen("table", header, following)
        elif table is None:
            header = pos if "|" in line else -1
        if _LIST_ITEM.match(line):
            in_list = True
        if line.count("$$") % 2:
            math = not math
        if "<" in line:
            html = max(0, html + len(_HTML_OPEN.findall(line)) - len(_HTML_CLOSE.findall(line)))
        pos = following
    if fence is not None:
        scan.fence = fence[0] * fence[1]
        scan.fence_reopen = Reopen("fence", fence[2], fence[3])
    scan.table = table
    return scan


def find_cut(
    text: str, start: int, reopen: Reopen | None = None, *, soft: int, hard: int, code: bool = False
) -> Cut | None:
    """Where the piece that starts at ``start`` may end, or None to keep it open.

    A finished block ends a piece once the piece is at least ``soft`` characters; past ``hard``
    open characters a piece ends at the last line boundary that keeps the rendering (inside a
    code fence or table, re-opened by the next piece), or at a space in a line that long.
    With ``code``, the text is not Markdown (plain text, JSON): pieces end at line ends.
    """
    size = len(text)
    if size - start < soft:
        return None
    if code:
        newline = text.rfind("\n", start, size)
        if newline >= 0 and newline + 1 - start >= soft:
            return Cut(newline + 1)
        return _at_space(text, start, None) if size - start > hard else None
    scan = _scan(text, start, reopen)
    if scan.safe - start >= soft:
        return Cut(scan.safe)
    if size - start <= hard:
        return None
    best = scan.forced
    if scan.safe > (best.end if best is not None else start):
        best = Cut(scan.safe)
    if best is None or size - best.end > hard:
        spaced = _at_space(text, best.end if best is not None else start, scan)
        best = spaced or best
    return best


def _at_space(text: str, start: int, scan: _Scan | None) -> Cut | None:
    """A cut at the last space of a line too long to wait for its end."""
    space = text.rfind(" ", start + 1, len(text) - 1)
    if space < 0:
        return None
    if scan is not None and scan.fence:
        return Cut(space + 1, scan.fence, scan.fence_reopen)
    return Cut(space + 1, "", scan.table if scan is not None else None)


def settle(markdown: str, cursor: str = "") -> str:
    """Markdown whose end is still open, made to render as it will look once it is finished.

    With a ``cursor`` (while it streams), the cursor is placed where text arrives, also inside
    an open code fence, and a table waits for its header separator. Without one (an answer cut
    off), only what would dangle is closed or dropped.
    """
    scan = _scan(markdown, 0, None)
    partial = markdown[markdown.rfind("\n") + 1 :]  # the unfinished last line ("" after a newline)
    if scan.fence:
        body = markdown
        if partial.strip() and set(partial.strip()) <= {scan.fence[0]}:  # its closing fence arrives
            body = markdown[: len(markdown) - len(partial)]
            return body + scan.fence + ("\n\n" + cursor if cursor else "")
        if cursor:
            return body + cursor + "\n" + scan.fence
        return body + ("" if body.endswith("\n") else "\n") + scan.fence
    head = markdown[: len(markdown) - len(partial)]
    if partial and _FENCE.match(partial):  # a fence is opening: show where its code will go
        return head + "```\n" + cursor + "\n```" if cursor else settle(head.rstrip("\n"))
    lines = markdown[scan.block :].split("\n")
    if (
        cursor
        and scan.table is None
        and lines[0].lstrip().startswith("|")
        and (len(lines) == 1 or (len(lines) == 2 and set(lines[1].strip()) <= set("|:- \t")))
    ):
        markdown = markdown[: scan.block]  # a table's header before its separator: raw pipes
    elif partial and _DANGLING.fullmatch(partial):
        markdown = head
    inline = min(scan.inline, len(markdown))
    kept, closers = close_inline(markdown[inline:])
    markdown = markdown[:inline] + kept
    if not cursor:
        return markdown.rstrip() + closers if closers else markdown
    space = "" if not markdown or markdown.endswith(("\n", " ")) else " "
    return markdown + space + cursor + closers


def unclosed_fence(markdown: str) -> str:
    """The closing line a code fence still open at the end of ``markdown`` needs ("" if none),
    so that what follows an answer (its sources, its footer) is not swallowed by the code block."""
    return _scan(markdown, 0, None).fence
