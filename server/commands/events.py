"""Event subscriptions: each subscriber reads the table's state changes at its own pace.

A subscriber that stops reading must not make the table hold every event
forever. Each has a bounded backlog, far larger than any burst a reading
subscriber sees (the daemon's pump drains its backlog on every turn of the
loop); one that falls that far behind has stopped reading: it is dropped, its
backlog let go, a warning is logged, and its next read raises
:class:`EventsLost`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable

from .records import Event


class EventsLost(Exception):
    """This subscriber fell too far behind and was dropped; events were lost."""


class EventStream:
    """Flow state changes in the order they happened, from the moment of subscription."""

    def __init__(self, limit: int, on_close: Callable[[EventStream], None]) -> None:
        self._limit = limit
        self._on_close = on_close
        self._events: deque[Event] = deque()
        self._arrived = asyncio.Event()
        self._open = True
        self._lost: str | None = None

    def __len__(self) -> int:
        """How many events wait to be read."""
        return len(self._events)

    def put(self, event: Event) -> None:
        if not self._open:
            return
        if len(self._events) >= self._limit:
            self._events.clear()
            self._lost = (
                f"this event subscriber fell {self._limit} events behind (it stopped "
                "reading?) and was unsubscribed; later events were not kept"
            )
            logging.getLogger("llm_flows.commands").warning(self._lost)
            self.close()
            return
        self._events.append(event)
        self._arrived.set()

    def take(self) -> list[Event]:
        """The events waiting now, without waiting."""
        events = list(self._events)
        self._events.clear()
        return events

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._events:
            if self._lost is not None:
                raise EventsLost(self._lost)
            if not self._open:
                raise StopAsyncIteration
            self._arrived.clear()
            await self._arrived.wait()
        return self._events.popleft()

    def close(self) -> None:
        """Stop receiving events (those already waiting can still be read)."""
        if self._open:
            self._open = False
            self._on_close(self)
        self._arrived.set()
