"""A daemon whose event pump falls behind the command table keeps every client informed.

The table drops a subscriber that falls ``event_backlog`` events behind
(``EventsLost``). The daemon runs here in-process, on a real Unix socket, with
a tiny backlog so one burst of requests overflows it: each client must still
get exactly one ``flow/ready`` per flow and the daemon must keep answering.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BURST = 6
BACKLOG = 4  # fewer than the burst's "queued" events: the pump is dropped


@pytest.fixture
def small_backlog_daemon(
    write_config: Callable[..., Path], inprocess_daemon: Callable[..., Path]
) -> Path:
    """A daemon on a Unix socket whose pump may fall at most ``BACKLOG`` events behind."""
    write_config(scripted={"delay": 0.05, "replace": {"teh": "the"}}, default_model="scripted")
    return inprocess_daemon(event_backlog=BACKLOG)


def test_flows_still_reach_the_client_after_the_event_pump_fell_behind(
    small_backlog_daemon: Path,
    connect_unix: Callable[[Path], tuple[Any, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    client, sock = connect_unix(small_backlog_daemon)
    assert client.initialize()["protocolVersion"] == 1
    start = {"flow": "correct", "text": "teh end"}
    burst = [
        {"jsonrpc": "2.0", "id": f"s{n}", "method": "flow/start", "params": start}
        for n in range(BURST)
    ]
    sock.sendall(
        b"".join(client.frame(json.dumps(m).encode()) for m in burst)
    )  # one read, one loop turn
    ids = [client.response(f"s{n}")["result"]["id"] for n in range(BURST)]
    for flow_id in ids:
        client.wait_for("flow/ready", flow_id)
    # the daemon still answers, and every flow merges
    assert {row["state"] for row in client.call("flow/list")["flows"]} == {"ready"}
    for flow_id in ids:
        result = client.call("flow/merge", {"id": flow_id, "current": "teh end"})
        assert result["edits"] == [{"start": 0, "end": 3, "text": "the"}]
    readies = [n["params"]["id"] for n in client.notifications if n["method"] == "flow/ready"]
    assert sorted(readies) == sorted(ids), "one flow/ready per flow, none twice"
    assert "fell 4 events behind" in caplog.text
    assert "current state" in caplog.text
