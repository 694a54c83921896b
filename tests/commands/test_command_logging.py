"""The command table writes every response and dead letter to the opt-in log.

Through the real CLI: ``llm-flows logs on``, then ``llm-flows run`` (which goes
through the command table like the daemon and batch mode), then ``logs list``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llm_flows.log import recent_responses, set_logging
from testkit import run_cli

Write = Callable[..., Path]


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, stdin=stdin, text=True)


def listed(*flags: str) -> list[dict[str, Any]]:
    done = cli("logs", "list", "--json", *flags)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_responses_of_flows_are_logged_once_logging_is_on(
    write_config: Write, tmp_path: Path
) -> None:
    write_config(scripted={"replace": {"teh": "the"}}, default_model="scripted")
    notes = tmp_path / "notes.txt"
    notes.write_text("I saw teh cat.\n")
    assert cli("run", "correct", str(notes)).returncode == 0
    assert listed() == [], "logging is off by default"

    assert cli("logs", "on").returncode == 0
    done = cli("run", "correct", str(notes))
    assert (done.returncode, done.stdout) == (0, "I saw the cat.\n")
    [row] = listed()
    assert (row["model"], row["flow"], row["input"]) == ("scripted", "correct", "I saw teh cat.\n")
    assert (row["response"], row["finish_reason"]) == ("I saw the cat.\n", "stop")
    shown = cli("logs", "list").stdout
    assert "scripted stop" in shown and "I saw the cat." in shown


def test_dead_letters_are_logged_and_listed(write_config: Write, tmp_path: Path) -> None:
    write_config(
        scripted={"rules": [{"when": "FAIL", "fail": "the scripted model broke"}]},
        default_model="scripted",
    )
    assert cli("logs", "on").returncode == 0
    done = cli("run", "correct", "-", stdin="FAIL here\n")
    assert done.returncode == 1
    [letter] = listed("--dead-letters")
    assert (letter["flow"], letter["model"], letter["state"]) == ("correct", "scripted", "failed")
    assert "the scripted model broke" in letter["reason"]
    [row] = listed()
    assert (row["finish_reason"], row["error"]) == ("error", "the scripted model broke")
    shown = cli("logs", "list", "--dead-letters").stdout
    assert "correct scripted failed" in shown and "the scripted model broke" in shown
    assert "dead letters logged: 1" in cli("logs", "status").stdout


def test_the_config_key_turns_logging_on_for_the_table(write_config: Write) -> None:
    write_config(scripted={}, default_model="scripted", log=True)
    assert cli("run", "correct", "-", stdin="hello\n").returncode == 0
    assert [row["response"] for row in listed()] == ["hello\n"]


def test_a_running_table_notices_logs_on_within_a_second(
    make_table: Callable[..., Any],
) -> None:
    s = make_table(scripted={})

    async def body() -> None:
        await s.table.wait(s.table.submit("correct", "before"))
        set_logging(True)
        await s.table.wait(s.table.submit("correct", "same second"))
        s.clock.advance(1)
        await s.table.wait(s.table.submit("correct", "after"))
        await s.table.aclose(grace=0)

    asyncio.run(body())  # aclose waits for the log writer's thread
    assert [row["input"] for row in recent_responses()] == ["after"]
