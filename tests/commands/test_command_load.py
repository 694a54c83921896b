"""10,000 flows in flight at once: every one reaches a final state, none is lost."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

N = 10_000


def test_ten_thousand_flows_in_flight_all_finish(make_table: Callable[..., Any]) -> None:
    s = make_table(
        scripted={
            "max_concurrency": 64,
            "replace": {"teh": "the"},
            "rules": [
                {"when": "HANG", "hang": True},
                {"when": "FAIL", "fail": "scripted failure"},
                {"when": "FLAKY", "transient_failures": 50},
            ],
        },
        queue_limit=N,
        backoff=0.1,
        ttl=1e9,
    )
    hang = set(range(0, N, 13))
    fail = {i for i in range(0, N, 10) if i not in hang}

    def text(i: int) -> str:
        tag = "HANG" if i in hang else "FAIL" if i in fail else "FLAKY" if i % 7 == 0 else ""
        return f"flow {i} says teh {tag}"

    async def body() -> None:
        events = s.table.events()
        ids = [
            s.table.submit("correct", text(i), timeout=30 if i in hang else 1e6, owner=f"c{i % 5}")
            for i in range(N)
        ]
        assert len(set(ids)) == N
        assert s.table.pending == N
        waiting = asyncio.gather(*(s.table.wait(fid) for fid in ids))
        while not waiting.done():  # time moves on: backoffs end, hanging flows time out
            await asyncio.sleep(0)
            s.clock.advance(1)
        states = dict(zip(ids, waiting.result(), strict=True))
        assert s.table.pending == 0
        assert s.model().peak == 64
        proposals = {fid: s.table.claim(fid) for fid, state in states.items() if state == "ready"}
        final: dict[str, str] = {}
        for event in events.take():
            final[event.id] = event.state
        assert len(final) == N
        assert Counter(final.values()) == {
            "merged": N - len(hang) - len(fail),
            "failed": len(fail),
            "timed_out": len(hang),
        }
        assert proposals[ids[1]] == "flow 1 says the "
        flaky = [i for i in range(7, N, 7) if i not in hang and i not in fail]
        assert all(proposals[ids[i]] == f"flow {i} says the FLAKY" for i in flaky)
        await s.table.aclose(grace=0)

    asyncio.run(body())
