"""Event subscribers: a live reader gets every event; one that stopped reading is dropped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from llm_flows.commands import Event, EventsLost

Make = Callable[..., Any]


async def read_all(stream: Any, into: list[Event]) -> None:
    async for event in stream:
        into.append(event)


def test_a_subscriber_that_stops_reading_is_dropped_and_a_live_one_keeps_everything(
    make_table: Make, caplog: pytest.LogCaptureFixture
) -> None:
    s = make_table(scripted={"replace": {"teh": "the"}}, event_backlog=50)

    async def body() -> None:
        live: list[Event] = []
        reader = asyncio.create_task(read_all(s.table.events(), live))
        stalled = s.table.events()
        ids = []
        for i in range(40):  # 40 flows, 160 events: more than the stalled one may hold
            ids.append(s.table.submit("correct", f"teh {i}"))
            await s.table.wait(ids[-1])
            assert s.table.claim(ids[-1]) == f"the {i}"
        assert len(stalled) <= 50
        await s.table.aclose(grace=0)
        await reader
        assert [(e.id, e.state) for e in live] == [
            (fid, state) for fid in ids for state in ("queued", "running", "ready", "merged")
        ]

    with caplog.at_level(logging.WARNING, logger="llm_flows.commands"):
        asyncio.run(body())
    assert "fell 50 events behind" in caplog.text


def test_a_dropped_subscriber_learns_it_lost_events(make_table: Make) -> None:
    s = make_table(scripted={}, event_backlog=5)

    async def body() -> None:
        stalled = s.table.events()
        for i in range(5):  # 15 events, more than 5
            await s.table.wait(s.table.submit("correct", f"text {i}"))
        assert len(stalled) == 0, "the backlog was let go"
        with pytest.raises(EventsLost, match="fell 5 events behind"):
            await anext(stalled)
        await s.table.aclose(grace=0)

    asyncio.run(body())


def test_a_burst_larger_than_any_read_reaches_a_live_reader(make_table: Make) -> None:
    """Cancelling 1,000 flows at once (one synchronous call) loses nothing by default."""
    s = make_table(scripted={"rules": [{"when": "", "hang": True}]})

    async def body() -> None:
        seen: list[Event] = []
        reader = asyncio.create_task(read_all(s.table.events(), seen))
        ids = [s.table.submit("correct", f"text {i}") for i in range(1000)]
        assert s.table.cancel_all() == 1000
        await s.table.aclose(grace=0)
        await reader
        final = {e.id: e.state for e in seen}
        assert final == dict.fromkeys(ids, "cancelled")

    asyncio.run(body())
