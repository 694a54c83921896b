"""A client's flows are its own, checked against the command table's memory of each flow.

The session keeps no set of the ids it started (that grew for the life of a
connection): ownership comes from the table's row, or its dead letter once
the row is forgotten. The daemon runs in-process with a history of one
finished flow, so forgetting happens after a few flows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Connect = Callable[[Path], tuple[Any, Any]]


def test_late_answers_stay_precise_after_the_row_is_forgotten_and_stay_private(
    write_config: Callable[..., Path], inprocess_daemon: Callable[..., Path], connect_unix: Connect
) -> None:
    write_config(
        scripted={"replace": {"teh": "the"}, "rules": [{"when": "HANG", "hang": True}]},
        default_model="scripted",
    )
    path = inprocess_daemon(history_limit=1)
    alice, _ = connect_unix(path)
    bob, _ = connect_unix(path)
    hung = alice.call("flow/start", {"flow": "correct", "text": "HANG", "timeout": 0.2})["id"]
    assert alice.final(hung)["params"]["error"]["code"] == "timeout"
    merged = []
    for _ in range(3):  # each merge retires a flow: the table forgets all but the last
        flow_id = alice.call("flow/start", {"flow": "correct", "text": "teh"})["id"]
        alice.wait_for("flow/ready", flow_id)
        alice.call("flow/merge", {"id": flow_id, "current": "teh"})
        merged.append(flow_id)
    remembered = [row["id"] for row in alice.call("flow/list")["flows"]]
    assert hung not in remembered and merged[0] not in remembered

    # the timed-out flow's row is gone, its dead letter says what happened
    late = alice.error("flow/merge", {"id": hung, "current": "HANG"})
    assert late == {
        "code": -32003,
        "message": f"flow {hung} timed out: no answer within its deadline of 0.2 s",
    }
    # the last merged flow is still remembered: "already merged", not "unknown"
    again = alice.error("flow/merge", {"id": merged[-1], "current": "teh"})
    assert again == {"code": -32003, "message": f"flow {merged[-1]} was already merged"}
    # a flow the table forgot is unknown, like one that never existed
    forgotten = alice.error("flow/cancel", {"id": merged[0]})
    assert forgotten["code"] == -32001
    assert forgotten["message"] == (
        f"unknown flow id {merged[0]!r} (it never existed, was forgotten, or is another client's)"
    )
    # another client cannot tell alice's flows from ones that never existed
    for flow_id in (hung, merged[-1]):
        error = bob.error("flow/merge", {"id": flow_id, "current": "x"})
        assert error["code"] == -32001 and "another client's" in error["message"]
    assert bob.error("flow/cancel", {"id": "999"})["code"] == -32001
