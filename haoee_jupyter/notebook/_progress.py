"""A batch's progress while it runs, then its summary in the same place.

In a notebook it is one output (a bar in ``text/html``, the same facts in ``text/plain``)
updated in place a few times a second, and replaced by the summary when the batch ends, so a
saved notebook keeps the summary, not a widget that needs its kernel. In a terminal it is one
line on stderr, rewritten in place.
"""

from __future__ import annotations

import html
import sys
import time
from dataclasses import dataclass
from typing import Any

from ._display import in_terminal

_BAR = (
    '<div style="display: flex; align-items: center; gap: 0.8em; font-size: var(--jp-ui-font-size1)">'
    '<div style="flex: 0 0 16em; height: 0.6em; background: var(--jp-layout-color3); border-radius: 0.3em; overflow: hidden">'
    '<div style="width: {percent:.1f}%; height: 100%; background: var(--jp-brand-color1)"></div></div>'
    '<span class="haoee-progress" style="color: var(--jp-ui-font-color1)">{facts}</span></div>'
)


@dataclass
class Counts:
    """What a batch has done so far."""

    total: int
    done: int = 0  # answered (sent, cached or taken from the log)
    failed: int = 0
    cached: int = 0  # answered from the response cache
    reused: int = 0  # taken from the call log of an interrupted run
    sent: int = 0  # requests that went to the server
    tokens: int = 0  # tokens the sent requests spent

    def facts(self, elapsed: float) -> str:
        """``37/300 finished · 36 done · 1 failed · 12,345 tokens · 25.3 rows/s · 1.5 s``: done and
        failed as the summary counts them."""
        finished = self.done + self.failed
        parts = [f"{finished:,}/{self.total:,} finished"]
        if self.failed:
            parts += [f"{self.done:,} done", f"{self.failed:,} failed"]
        if self.cached:
            parts.append(f"{self.cached:,} from the cache")
        if self.reused:
            parts.append(f"{self.reused:,} from the log")
        parts.append(f"{self.tokens:,} tokens")
        if elapsed > 0:
            parts.append(f"{finished / elapsed:.1f} rows/s")
        parts.append(f"{elapsed:.1f} s")
        return " · ".join(parts)


class Progress:
    """Shows :class:`Counts` at most ``per_second`` times a second, then the summary in its place."""

    def __init__(self, shell: Any, counts: Counts, per_second: float = 4.0) -> None:
        self.counts = counts
        self.terminal = shell is None or in_terminal(shell)
        self.started = time.perf_counter()
        self.interval = 1.0 / per_second
        self.last = -1.0
        self.handle: Any = None
        self.show(force=True)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def show(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        facts = self.counts.facts(self.elapsed)
        if self.terminal:
            sys.stderr.write(f"\r{facts}\x1b[K")
            sys.stderr.flush()
            return
        total = max(self.counts.total, 1)
        percent = 100.0 * (self.counts.done + self.counts.failed) / total
        self._put({"text/html": _BAR.format(percent=percent, facts=html.escape(facts)), "text/plain": facts})

    def finish(self, bundle: dict[str, str]) -> None:
        """Replace the bar with the summary (a Markdown bundle)."""
        if self.terminal:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            print(bundle["text/plain"])
            return
        self._put(bundle)

    def _put(self, data: dict[str, str]) -> None:
        from IPython.display import display

        if self.handle is None:
            self.handle = display(data, raw=True, display_id=True)
        else:
            self.handle.update(data, raw=True)
