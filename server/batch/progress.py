"""A one-line progress bar on stderr (files done / total, rate, ETA), only on a terminal."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 24


class Progress:
    """Redraws at most ten times a second; :meth:`note` prints a line above the bar."""

    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.clock = clock
        self.started = clock()
        self._drawn = float("-inf")

    def advance(self) -> None:
        """One more file finished."""
        self.done += 1
        if self.enabled and (self.done == self.total or self.clock() - self._drawn >= 0.1):
            self._draw()

    def note(self, message: str) -> None:
        """Print ``message`` on its own line without garbling the bar."""
        if self.enabled:
            self.stream.write("\r\x1b[K")
        self.stream.write(message + "\n")
        if self.enabled:
            self._draw()
        self.stream.flush()

    def close(self) -> None:
        """Erase the bar."""
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def render(self) -> str:
        """The bar as text, e.g. ``[#####-----]  12/40 files  3.1/s  ETA 0:09``."""
        elapsed = max(self.clock() - self.started, 1e-9)
        fraction = self.done / self.total if self.total else 1.0
        filled = round(WIDTH * fraction)
        rate = self.done / elapsed
        line = f"[{'#' * filled}{'-' * (WIDTH - filled)}] {self.done}/{self.total} files"
        if self.done:
            remaining = (self.total - self.done) / rate
            minutes, seconds = divmod(round(remaining), 60)
            line += f"  {rate:.1f}/s  ETA {minutes}:{seconds:02d}"
        return line

    def _draw(self) -> None:
        self._drawn = self.clock()
        self.stream.write("\r\x1b[K" + self.render())
        self.stream.flush()
