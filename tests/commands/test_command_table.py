"""The command table over a scripted model: every state, transition, retry and limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from llm_flows.commands import (
    CommandError,
    Event,
    Gone,
    InvalidRequest,
    NotReady,
    QueueFull,
    UnknownFlow,
    UnknownId,
    UnknownModel,
)

Make = Callable[..., Any]


def run(body: Coroutine[Any, Any, None]) -> None:
    asyncio.run(body)


async def settle(rounds: int = 20) -> None:
    """Let the driver and the model tasks take their turns (no time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def drain(stream: Any) -> list[Event]:
    return list(stream.take())


def test_a_flow_goes_queued_running_ready_merged(make_table: Make) -> None:
    s = make_table(scripted={"replace": {"teh": "the"}})

    async def body() -> None:
        events = s.table.events()
        fid = s.table.submit("correct", "Teh cat saw teh dog.\n", owner="c1")
        assert s.table.rows()[0]["state"] == "queued"
        assert await s.table.wait(fid) == "ready"
        assert s.table.claim(fid) == "Teh cat saw the dog.\n"
        row = s.table.rows()[0]
        assert row["state"] == "merged"
        assert [h["state"] for h in row["history"]] == ["queued", "running", "ready", "merged"]
        assert row["attempts"] == 1 and row["owner"] == "c1"
        assert [(e.id, e.state, e.owner) for e in drain(events)] == [
            (fid, "queued", "c1"),
            (fid, "running", "c1"),
            (fid, "ready", "c1"),
            (fid, "merged", "c1"),
        ]
        with pytest.raises(Gone, match="already merged"):
            s.table.claim(fid)
        await s.table.aclose(grace=0)

    run(body())


def test_merge_applies_the_proposal_to_what_the_user_has_now(make_table: Make) -> None:
    s = make_table(scripted={"replace": {"teh": "the"}})

    async def body() -> None:
        fid = s.table.submit("correct", "I saw teh cat.")
        await s.table.wait(fid)
        result = s.table.merge(fid, "Yesterday I saw teh cat.")
        assert result.text == "Yesterday I saw the cat."
        assert result.status == "clean"
        await s.table.aclose(grace=0)

    run(body())


def test_a_claim_before_ready_says_not_ready(make_table: Make) -> None:
    s = make_table(scripted={"rules": [{"when": "HANG", "hang": True}]})

    async def body() -> None:
        fid = s.table.submit("correct", "HANG here")
        with pytest.raises(NotReady, match="still queued"):
            s.table.claim(fid)
        await settle()
        with pytest.raises(NotReady, match="still running"):
            s.table.claim(fid)
        await s.table.aclose(grace=0)

    run(body())


def test_a_hanging_model_times_out_at_the_deadline_and_is_dead_lettered(make_table: Make) -> None:
    s = make_table(scripted={"rules": [{"when": "HANG", "hang": True}]})

    async def body() -> None:
        events = s.table.events()
        fid = s.table.submit("correct", "HANG forever", timeout=5)
        await settle()
        s.clock.advance(4.9)
        await settle()
        assert s.table.rows()[0]["state"] == "running"
        s.clock.advance(0.1)
        assert await s.table.wait(fid) == "timed_out"
        last = drain(events)[-1]
        assert (last.state, last.error, last.dead_lettered) == ("timed_out", "timeout", True)
        [letter] = s.table.dead_letters()
        assert letter["id"] == fid and letter["state"] == "timed_out"
        assert "deadline of 5 s" in letter["reason"]
        with pytest.raises(Gone, match="timed out: no answer within its deadline of 5 s"):
            s.table.claim(fid)
        assert s.model().active == 0  # the call was cancelled
        await s.table.aclose(grace=0)

    run(body())


def test_the_flow_default_deadline_applies_and_a_call_can_override_it(make_table: Make) -> None:
    s = make_table(
        scripted={"rules": [{"when": "HANG", "hang": True}]},
        config={"flows": {"quick": {"template": "correct", "timeout": 2}}},
    )

    async def body() -> None:
        default = s.table.submit("quick", "HANG a")
        longer = s.table.submit("quick", "HANG b", timeout=10)
        s.clock.advance(2)
        assert await s.table.wait(default) == "timed_out"
        assert s.table.rows()[1]["state"] == "running"
        s.clock.advance(8)
        assert await s.table.wait(longer) == "timed_out"
        await s.table.aclose(grace=0)

    run(body())


def test_transient_errors_retry_with_backoff_then_succeed(make_table: Make) -> None:
    s = make_table(
        scripted={"rules": [{"when": "FLAKY", "transient_failures": 2}]},
        backoff=1.0,
        backoff_max=8.0,
    )

    async def body() -> None:
        events = s.table.events()
        fid = s.table.submit("correct", "FLAKY text", timeout=60)
        await settle()
        retries = [e.message for e in drain(events) if e.message]
        assert len(retries) == 1 and "retry 1 of 3" in retries[0]
        assert s.model().calls == 1
        s.clock.advance(0.49)  # backoff 1 s with jitter: between 0.5 and 1 s
        await settle()
        assert s.model().calls == 1
        s.clock.advance(0.51)
        await settle()
        assert s.model().calls == 2
        s.clock.advance(2.0)  # second backoff: 1 to 2 s
        assert await s.table.wait(fid) == "ready"
        assert s.table.rows()[0]["attempts"] == 3
        assert s.table.claim(fid) == "FLAKY text"
        await s.table.aclose(grace=0)

    run(body())


def test_a_retry_waits_as_long_as_the_server_asked(make_table: Make) -> None:
    s = make_table(
        scripted={"rules": [{"when": "BUSY", "transient_failures": 1, "retry_after": 30}]}
    )

    async def body() -> None:
        fid = s.table.submit("correct", "BUSY text", timeout=120)
        await settle()
        assert s.model().calls == 1
        s.clock.advance(29)  # our own backoff (0.25 to 0.5 s) is long over
        await settle()
        assert s.model().calls == 1
        s.clock.advance(1)
        assert await s.table.wait(fid) == "ready"
        assert s.model().calls == 2
        await s.table.aclose(grace=0)

    run(body())


def test_retries_stop_after_the_limit_and_the_flow_fails(make_table: Make) -> None:
    s = make_table(scripted={"rules": [{"when": "FLAKY", "transient_failures": 99}]}, retries=2)

    async def body() -> None:
        fid = s.table.submit("correct", "FLAKY text", timeout=600)
        for _ in range(5):
            await settle()
            s.clock.advance(10)
        assert await s.table.wait(fid) == "failed"
        [letter] = s.table.dead_letters()
        assert letter["attempts"] == 3
        assert "scripted transient failure after 3 attempts" in letter["reason"]
        await s.table.aclose(grace=0)

    run(body())


def test_a_permanent_error_fails_at_once_without_retry(make_table: Make) -> None:
    s = make_table(scripted={"rules": [{"when": "FAIL", "fail": "the model is on fire"}]})

    async def body() -> None:
        events = s.table.events()
        fid = s.table.submit("correct", "FAIL now")
        assert await s.table.wait(fid) == "failed"
        last = drain(events)[-1]
        assert (last.error, last.dead_lettered) == ("model", True)
        assert last.message == "scripted: the model is on fire"
        assert s.model().calls == 1
        with pytest.raises(Gone, match="failed: scripted: the model is on fire"):
            s.table.claim(fid)
        await s.table.aclose(grace=0)

    run(body())


def test_an_unclaimed_result_expires_after_the_ttl(make_table: Make) -> None:
    s = make_table(ttl=30)

    async def body() -> None:
        events = s.table.events()
        fid = s.table.submit("correct", "some text")
        assert await s.table.wait(fid) == "ready"
        s.clock.advance(29)
        await settle()
        assert s.table.rows()[0]["state"] == "ready"
        s.clock.advance(1)
        await settle()
        last = drain(events)[-1]
        assert (last.state, last.error, last.dead_lettered) == ("expired", "expired", True)
        with pytest.raises(Gone, match="expired: the result was not claimed within 30 s"):
            s.table.merge(fid, "some text")
        assert s.table.dead_letters()[0]["state"] == "expired"
        await s.table.aclose(grace=0)

    run(body())


def test_cancel_one_one_owners_and_all(make_table: Make) -> None:
    s = make_table(scripted={"rules": [{"when": "HANG", "hang": True}]})

    async def body() -> None:
        events = s.table.events()
        a = s.table.submit("correct", "HANG a", owner="alice")
        b = s.table.submit("correct", "HANG b", owner="alice")
        c = s.table.submit("correct", "HANG c", owner="bob")
        d = s.table.submit("correct", "HANG d", owner="carol")
        await settle()
        assert s.table.cancel(a) is True
        assert s.table.cancel(a) is False
        assert s.table.cancel("no-such-id") is False
        assert s.table.cancel_owner("alice") == 1
        assert s.table.cancel_owner("bob") == 1
        assert s.table.cancel_all() == 1
        for fid in (a, b, c, d):
            assert await s.table.wait(fid) == "cancelled"
        cancelled = [e for e in drain(events) if e.state == "cancelled"]
        assert [(e.id, e.error, e.dead_lettered) for e in cancelled] == [
            (a, "cancelled", False),
            (b, "cancelled", False),
            (c, "cancelled", False),
            (d, "cancelled", False),
        ]
        assert s.table.dead_letters() == []
        await settle()
        assert s.model().active == 0
        with pytest.raises(Gone, match="cancelled: cancelled on request"):
            s.table.claim(a)
        await s.table.aclose(grace=0)

    run(body())


def test_a_reply_after_the_deadline_is_dropped_and_recorded(make_table: Make) -> None:
    s = make_table(scripted={"rules": [{"when": "LATE", "hang": True, "late": True}]})

    async def body() -> None:
        fid = s.table.submit("correct", "LATE reply", timeout=3)
        await settle()
        s.clock.advance(3)
        assert await s.table.wait(fid) == "timed_out"
        await settle()  # the model ignores the cancel and answers anyway
        [letter] = s.table.dead_letters()
        assert letter["lateReplies"] == 1
        assert "a reply arrived 3.0 s after the start" in letter["reason"]
        assert "was dropped" in letter["reason"]
        row = s.table.rows()[0]
        assert row["state"] == "timed_out" and row["lateReplies"] == 1
        with pytest.raises(Gone, match="timed out"):
            s.table.claim(fid)
        await s.table.aclose(grace=0)

    run(body())


def test_a_reply_after_a_cancel_is_dropped_and_recorded(make_table: Make) -> None:
    s = make_table(scripted={"rules": [{"when": "LATE", "hang": True, "late": True}]})

    async def body() -> None:
        fid = s.table.submit("correct", "LATE reply")
        await settle()
        s.table.cancel(fid)
        await settle()
        [letter] = s.table.dead_letters()
        assert (letter["id"], letter["state"], letter["lateReplies"]) == (fid, "cancelled", 1)
        assert "after the flow was cancelled" in letter["reason"]
        await s.table.aclose(grace=0)

    run(body())


def test_a_full_queue_refuses_new_flows_with_a_clear_error(make_table: Make) -> None:
    s = make_table(scripted={"rules": [{"when": "HANG", "hang": True}]}, queue_limit=2)

    async def body() -> None:
        first = s.table.submit("correct", "HANG 1")
        s.table.submit("correct", "HANG 2")
        with pytest.raises(QueueFull) as caught:
            s.table.submit("correct", "HANG 3")
        assert caught.value.kind == "queue_full"
        assert "the queue is full: 2 flows are waiting or running (limit 2)" in str(caught.value)
        s.table.cancel(first)
        s.table.submit("correct", "HANG 3")
        assert s.table.pending == 2
        await s.table.aclose(grace=0)

    run(body())


def test_calls_to_one_model_never_exceed_its_concurrency(make_table: Make) -> None:
    s = make_table(scripted={"max_concurrency": 2, "delay": 0.01})

    async def body() -> None:
        ids = [s.table.submit("correct", f"text {i}") for i in range(7)]
        await settle(5)
        assert sum(row["state"] == "running" for row in s.table.rows()) == 2
        assert [await s.table.wait(fid) for fid in ids] == ["ready"] * 7
        assert s.model().peak == 2
        assert [s.table.claim(fid) for fid in ids] == [f"text {i}" for i in range(7)]
        await s.table.aclose(grace=0)

    run(body())


@pytest.mark.parametrize(
    ("kwargs", "error", "kind", "message"),
    [
        ({"flow": "nope"}, UnknownFlow, "unknown_flow", "unknown flow 'nope' (available: corr"),
        ({"model": "gpt-9"}, UnknownModel, "unknown_model", "unknown model 'gpt-9'"),
        (
            {"options": {"temprature": 1}},
            InvalidRequest,
            "invalid",
            "options: unknown option 'temprature' (known: max_tokens, stop, temperature",
        ),
        ({"options": {"top_p": 7}}, InvalidRequest, "invalid", "options: top_p: Input should be"),
        ({"flow": "rewrite"}, InvalidRequest, "invalid", "instruction: the 'rewrite' flow needs"),
        ({"flow": "rewrite", "instruction": "  "}, InvalidRequest, "invalid", "needs an instr"),
        ({"timeout": 0}, InvalidRequest, "invalid", "timeout: must be a positive number"),
        ({"text": None}, InvalidRequest, "invalid", "text: must be a string"),
    ],
)
def test_bad_requests_are_refused_with_a_kind_and_a_message(
    make_table: Make, kwargs: dict[str, Any], error: type[CommandError], kind: str, message: str
) -> None:
    s = make_table()

    async def body() -> None:
        args = {"flow": "correct", "text": "some text", **kwargs}
        with pytest.raises(error) as caught:
            s.table.submit(args.pop("flow"), args.pop("text"), **args)
        assert caught.value.kind == kind
        assert message in str(caught.value)
        assert s.table.rows() == []
        with pytest.raises(UnknownId, match="no flow with id 'zzz'"):
            await s.table.wait("zzz")
        await s.table.aclose(grace=0)

    run(body())


def test_rewrite_with_an_instruction_runs(make_table: Make) -> None:
    s = make_table(scripted={"replace": {"hi": "Good morning"}})

    async def body() -> None:
        fid = s.table.submit("rewrite", "hi all", instruction="make it formal")
        assert await s.table.wait(fid) == "ready"
        assert s.table.claim(fid) == "Good morning all"
        await s.table.aclose(grace=0)

    run(body())


def test_a_long_text_runs_as_chunks_reassembled_in_order(make_table: Make) -> None:
    s = make_table(
        scripted={
            "context_tokens": 400,
            "replace": {"teh": "the"},
            "rules": [{"when": "SLOW", "delay": 0.05}],
        }
    )
    paragraphs = [f"SLOW paragraph 0 with teh word {'x ' * 60}\n"]
    paragraphs += [
        f"Paragraph {i} has teh word and some more words {'y ' * 60}\n" for i in range(1, 8)
    ]
    text = "\n".join(paragraphs)

    async def body() -> None:
        fid = s.table.submit("correct", text)
        assert await s.table.wait(fid) == "ready"
        row = s.table.rows()[0]
        assert row["chunks"] > 3
        assert s.model().calls == row["chunks"]
        assert s.model().peak > 1  # the chunks ran concurrently
        assert s.table.claim(fid) == text.replace("teh", "the")
        await s.table.aclose(grace=0)

    run(body())


def test_a_failing_chunk_fails_the_whole_flow(make_table: Make) -> None:
    s = make_table(
        scripted={
            "context_tokens": 200,
            "rules": [{"when": "FAIL", "fail": "chunk broke"}, {"when": "HANG", "hang": True}],
        }
    )
    text = "\n\n".join([f"Paragraph HANG {'w ' * 50}", f"Paragraph FAIL {'w ' * 50}"])

    async def body() -> None:
        fid = s.table.submit("correct", text)
        assert await s.table.wait(fid) == "failed"
        assert "chunk broke" in s.table.dead_letters()[0]["reason"]
        await settle()
        assert s.model().active == 0  # the hanging sibling chunk was cancelled
        await s.table.aclose(grace=0)

    run(body())


def test_chatter_around_the_answer_never_reaches_the_proposal(make_table: Make) -> None:
    s = make_table(
        scripted={
            "replace": {"teh": "the"},
            "strip": True,
            "wrap": "Here is the corrected text:\n\n```\n{answer}\n```\n\nI fixed one typo.",
        }
    )

    async def body() -> None:
        text = "  Teh cat sat on teh mat\r\nand purred.\r\n\r\n"
        fid = s.table.submit("correct", text)
        await s.table.wait(fid)
        assert s.table.claim(fid) == "  Teh cat sat on the mat\r\nand purred.\r\n\r\n"
        await s.table.aclose(grace=0)

    run(body())


def test_the_guard_drops_a_correction_that_rewrote_the_text(make_table: Make) -> None:
    s = make_table(
        scripted={"rules": [{"when": "REWRITE", "reply": "A totally different sentence here."}]}
    )

    async def body() -> None:
        events = s.table.events()
        fid = s.table.submit("correct", "Please REWRITE this little paragraph now.")
        assert await s.table.wait(fid) == "failed"
        last = drain(events)[-1]
        assert last.error == "model"
        assert last.message is not None and "the model rewrote 100% of the words" in last.message
        other = s.table.submit("rewrite", "REWRITE me", instruction="anything")
        assert await s.table.wait(other) == "ready"  # rewrite has no guard
        await s.table.aclose(grace=0)

    run(body())


def test_steps_run_in_order_on_each_others_output(make_table: Make) -> None:
    s = make_table(
        models={
            "first": {"backend": "scripted", "replace": {"teh": "the"}},
            "second": {"backend": "scripted", "replace": {"the cat": "the dog"}},
        },
        config={
            "flows": {
                "two": {"steps": [{"model": "first"}, {"template": "correct", "model": "second"}]}
            }
        },
    )

    async def body() -> None:
        fid = s.table.submit("two", "teh cat")
        assert await s.table.wait(fid) == "ready"
        assert s.table.claim(fid) == "the dog"
        assert s.table.rows()[0]["steps"] == 2
        assert s.model("first").calls == s.model("second").calls == 1
        await s.table.aclose(grace=0)

    run(body())


def test_aclose_cancels_what_is_left_and_ends_event_streams(make_table: Make) -> None:
    s = make_table(scripted={"rules": [{"when": "HANG", "hang": True}]})

    async def body() -> None:
        events = s.table.events()
        fid = s.table.submit("correct", "HANG on")
        await settle()
        await s.table.aclose(grace=0)
        seen = [e.state async for e in events]
        assert seen == ["queued", "running", "cancelled"]
        assert s.table.rows()[0]["state"] == "cancelled"
        with pytest.raises(InvalidRequest, match="shutting down"):
            s.table.submit("correct", "more")
        assert (await s.table.wait(fid)) == "cancelled"

    run(body())
