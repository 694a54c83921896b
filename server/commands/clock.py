"""Clocks for the command table: the event loop's, or a manual one for tests.

The table reads ``now()`` and asks for one wake-up at a time with
``call_at``; a test advances a :class:`ManualClock` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds: deadlines, backoff and time-to-live are measured in these."""

    def wall(self) -> float:
        """Seconds since the epoch, for the timestamps users read."""

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Call ``callback`` (from the event loop) once ``now() >= when``."""


class LoopClock:
    """Real time, with wake-ups scheduled on the running event loop."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, when - self.now()), callback)


class _ManualTimer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """Time that moves only when :meth:`advance` is called (tests, simulations)."""

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._timers: list[tuple[float, int, _ManualTimer, Callable[[], None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = _ManualTimer()
        heapq.heappush(self._timers, (when, next(self._seq), timer, callback))
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward and run the callbacks that became due, in order."""
        self._now += seconds
        while self._timers and self._timers[0][0] <= self._now:
            _, _, timer, callback = heapq.heappop(self._timers)
            if not timer.cancelled:
                callback()
