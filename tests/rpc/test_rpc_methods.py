"""Every method of the protocol, spoken in raw frames to a real ``llm-flows serve``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from testkit import apply_edits

Serve = Callable[..., Any]


def test_initialize_describes_flows_and_models(serve: Serve) -> None:
    client = serve().client
    result = client.initialize()
    assert result["server"]["name"] == "llm-flows"
    assert result["protocolVersion"] == 1
    flows = {f["name"]: f for f in result["flows"]}
    assert flows["rewrite"]["needsInstruction"] is True
    assert flows["correct"]["needsInstruction"] is False
    assert "scripted" in [m["id"] for m in result["models"]]
    assert result["defaultModel"] == "scripted"


def test_a_flow_is_merged_into_text_the_user_kept_editing(serve: Serve) -> None:
    client = serve(scripted={"replace": {"teh": "the", "cta": "cat"}}).client
    client.initialize()
    snapshot = "I saw teh cta in the garden."
    flow_id = client.call("flow/start", {"flow": "correct", "text": snapshot, "uri": "file:///a"})[
        "id"
    ]
    assert isinstance(flow_id, str)
    assert client.wait_for("flow/ready", flow_id) == {"id": flow_id}
    states = [
        n["params"].get("state") for n in client.notifications if n["method"] == "flow/progress"
    ]
    assert states == ["queued", "running"]
    # Meanwhile the user typed at the start and at the end of the region.
    current = "Yesterday I saw teh cta in the garden. It was big."
    result = client.call("flow/merge", {"id": flow_id, "current": current})
    assert result["status"] == "clean"
    assert (
        apply_edits(current, result["edits"])
        == "Yesterday I saw the cat in the garden. It was big."
    )
    assert result["conflicts"] == []
    rows = client.call("flow/list", {})["flows"]
    assert [(r["id"], r["state"], r["uri"]) for r in rows] == [(flow_id, "merged", "file:///a")]
    again = client.error("flow/merge", {"id": flow_id, "current": current})
    assert again["code"] == -32003
    assert "already merged" in again["message"]


def test_a_large_merge_runs_beside_other_requests_and_answers_its_own_id(serve: Serve) -> None:
    """A merge this large runs on a worker thread; its answer still goes to its request."""
    client = serve(scripted={"replace": {"teh": "the"}}).client
    paragraph = "We saw teh fox near teh river bank today. "
    snapshot = paragraph * 500  # 21 KB
    flow_id = client.call("flow/start", {"flow": "correct", "text": snapshot})["id"]
    client.wait_for("flow/ready", flow_id)
    cut = len(paragraph) * 250
    current = "New start. " + snapshot[:cut] + "Typed here. " + snapshot[cut:]
    merge_id = client.send_request("flow/merge", {"id": flow_id, "current": current})
    list_id = client.send_request("flow/list", {})
    merged = client.response(merge_id, skip_answers=True)["result"]
    assert merged["status"] == "clean"
    assert apply_edits(current, merged["edits"]) == current.replace("teh", "the")
    assert len(merged["edits"]) == 1000  # one word per fix, not a region replace
    rows = [a for a in client.answers if a["id"] == list_id] or [client.response(list_id)]
    assert [r["id"] for r in rows[0]["result"]["flows"]] == [flow_id]


def test_offsets_are_code_points(serve: Serve) -> None:
    client = serve(scripted={"replace": {"teh": "the"}}).client
    text = "😀 café: teh end"
    flow_id = client.call("flow/start", {"flow": "correct", "text": text})["id"]
    client.wait_for("flow/ready", flow_id)
    result = client.call("flow/merge", {"id": flow_id, "current": text})
    assert result["edits"] == [{"start": 8, "end": 11, "text": "the"}]
    assert apply_edits(text, result["edits"]) == "😀 café: the end"


def test_two_flows_finish_out_of_order(serve: Serve) -> None:
    client = serve(scripted={"rules": [{"when": "SLOW", "delay": 1.0}]}).client
    slow = client.call("flow/start", {"flow": "correct", "text": "SLOW one"})["id"]
    fast = client.call("flow/start", {"flow": "correct", "text": "fast two"})["id"]
    client.final(slow)
    ready = [n["params"]["id"] for n in client.notifications if n["method"] == "flow/ready"]
    assert ready == [fast, slow]
    assert client.call("flow/merge", {"id": slow, "current": "SLOW one"})["status"] == "clean"
    assert client.call("flow/merge", {"id": fast, "current": "fast two"})["status"] == "clean"


def test_a_hanging_model_times_out_into_the_dead_letters(serve: Serve) -> None:
    client = serve(scripted={"rules": [{"when": "HANG", "hang": True}]}).client
    flow_id = client.call("flow/start", {"flow": "correct", "text": "HANG here", "timeout": 0.3})[
        "id"
    ]
    failed = client.wait_for("flow/failed", flow_id)
    assert failed["error"]["code"] == "timeout"
    assert "deadline" in failed["error"]["message"]
    assert failed["deadLettered"] is True
    letters = client.call("flow/deadLetters", {})["deadLetters"]
    assert [(d["id"], d["state"]) for d in letters] == [(flow_id, "timed_out")]
    late = client.error("flow/merge", {"id": flow_id, "current": "HANG here"})
    assert late["code"] == -32003
    assert "timed out" in late["message"]


def test_an_unmerged_result_expires(serve: Serve) -> None:
    client = serve("--ttl", "0.2").client
    flow_id = client.call("flow/start", {"flow": "correct", "text": "kept too long"})["id"]
    failed = client.wait_for("flow/failed", flow_id)
    assert failed["error"]["code"] == "expired"
    late = client.error("flow/merge", {"id": flow_id, "current": "kept too long"})
    assert late["code"] == -32003
    assert "expired" in late["message"]


def test_cancel_before_and_while_running(serve: Serve) -> None:
    client = serve(
        scripted={"max_concurrency": 1, "rules": [{"when": "HANG", "hang": True}]}
    ).client
    running = client.call("flow/start", {"flow": "correct", "text": "HANG first"})["id"]
    queued = client.call("flow/start", {"flow": "correct", "text": "second"})["id"]
    client.wait_for("flow/progress", running)
    assert client.call("flow/cancel", {"id": queued}) == {"cancelled": True}
    failed = client.wait_for("flow/failed", queued)
    assert failed["error"]["code"] == "cancelled"
    assert failed["deadLettered"] is False
    assert client.call("flow/cancel", {"id": running}) == {"cancelled": True}
    assert client.wait_for("flow/failed", running)["error"]["code"] == "cancelled"
    assert client.call("flow/cancel", {"id": running}) == {"cancelled": False}
    gone = client.error("flow/merge", {"id": running, "current": "HANG first"})
    assert gone["code"] == -32003
    assert "cancelled" in gone["message"]
    states = {r["id"]: r["state"] for r in client.call("flow/list")["flows"]}
    assert states == {running: "cancelled", queued: "cancelled"}


def test_errors_name_the_problem(serve: Serve) -> None:
    client = serve(scripted={"rules": [{"when": "HANG", "hang": True}]}).client
    unknown = client.error("flow/teleport", {})
    assert unknown["code"] == -32601
    assert "flow/teleport" in unknown["message"]
    wrong_type = client.error("flow/start", {"flow": "correct", "text": 42})
    assert wrong_type["code"] == -32602
    assert "params.text" in wrong_type["message"]
    assert "string" in wrong_type["message"]
    missing = client.error("flow/start", {"flow": "correct"})
    assert "params.text" in missing["message"]
    typo = client.error("flow/start", {"flow": "correct", "text": "x", "instrucion": "y"})
    assert "params.instrucion" in typo["message"]
    assert "unknown parameter" in typo["message"]
    no_flow = client.error("flow/start", {"flow": "summon", "text": "x"})
    assert (no_flow["code"], "params.flow") == (-32602, no_flow["message"].split(":")[1].strip())
    assert "correct" in no_flow["message"]
    no_instruction = client.error("flow/start", {"flow": "rewrite", "text": "x"})
    assert no_instruction["code"] == -32602
    assert no_instruction["message"].startswith("invalid params: params.instruction: ")
    speller = client.error(
        "flow/start", {"flow": "rewrite", "text": "x", "instruction": "formal", "model": "spell"}
    )
    assert speller["code"] == -32602
    assert "'spell' cannot follow an instruction" in speller["message"]
    bad_option = client.error(
        "flow/start", {"flow": "correct", "text": "x", "options": {"temprature": 1}}
    )
    assert bad_option["code"] == -32602
    assert bad_option["message"].startswith("invalid params: params.options: ")
    assert "temprature" in bad_option["message"]
    bad_timeout = client.error("flow/start", {"flow": "correct", "text": "x", "timeout": -1})
    assert "params.timeout" in bad_timeout["message"]
    assert client.error("flow/merge", {"id": "nope", "current": ""})["code"] == -32001
    pending = client.call("flow/start", {"flow": "correct", "text": "HANG"})["id"]
    not_ready = client.error("flow/merge", {"id": pending, "current": "HANG"})
    assert not_ready["code"] == -32002
    assert client.error("flow/cancel", {"id": 7})["message"].startswith("invalid params: params.id")
    array_params = client.response(client.send_request("flow/list", [1, 2]))  # type: ignore[arg-type]
    assert array_params["error"]["code"] == -32602
    assert client.initialize()["protocolVersion"] == 1


def test_cancel_request_answers_minus_32800(serve: Serve) -> None:
    client = serve().client
    start = {"jsonrpc": "2.0", "id": 41, "method": "flow/start", "params": {"flow": "correct"}}
    cancel = {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 41}}
    # Both in one write: the daemon reads the cancel before it answers the request.
    client.send_raw(
        client.frame(json.dumps(start).encode()) + client.frame(json.dumps(cancel).encode())
    )
    answer = client.response(41)
    assert answer["error"]["code"] == -32800
    assert client.call("flow/list")["flows"] == []  # the cancelled request never ran
    answered = client.send_request("flow/list")
    assert client.response(answered)["result"] == {"flows": []}
    client.notify("$/cancelRequest", {"id": answered})  # too late: ignored
    client.notify("$/cancelRequest", {"id": [1]})  # nonsense: ignored
    assert client.initialize()["protocolVersion"] == 1


def test_shutdown_then_exit(serve: Serve) -> None:
    daemon = serve()
    client = daemon.client
    flow_id = client.call("flow/start", {"flow": "correct", "text": "before"})["id"]
    client.wait_for("flow/ready", flow_id)
    assert client.call("shutdown") is None
    refused = client.error("flow/start", {"flow": "correct", "text": "after"})
    assert refused["code"] == -32006
    assert "shutting down" in refused["message"]
    assert client.call("flow/merge", {"id": flow_id, "current": "before"})["status"] == "clean"
    client.notify("exit")
    assert client.receive() is None
    assert daemon.wait() == 0


def test_end_of_input_exits_and_cancels_running_flows(serve: Serve) -> None:
    daemon = serve(scripted={"rules": [{"when": "HANG", "hang": True}]})
    daemon.client.call("flow/start", {"flow": "correct", "text": "HANG forever"})
    daemon.close_stdin()
    assert daemon.wait() == 0
    assert "1 flow(s) cancelled" in daemon.stderr()
