"""`llm-flows models`, `prompt` and `logs` through real subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from llm_flows.config import Config
from llm_flows.log import log_response
from llm_flows.models import Prompt
from llm_flows.models.spell import SpellModel
from testkit import run_cli


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, stdin=stdin, text=True)


@pytest.fixture
def isolated(write_config: Callable[..., Path], tmp_path: Path) -> Path:
    """XDG folders in tmp_path and a config with a scripted and an openai model."""
    return write_config(
        scripted={"replace": {"teh": "the"}, "aliases": ["s"]},
        models={
            "local": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "retries": 0},
        },
    )


def test_models_list_shows_ids_backends_aliases_and_default(isolated: Path) -> None:
    result = cli("models", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "* spell  [spell]  offline English spelling corrector" in "\n".join(lines)
    assert "  local  [openai]  local at http://127.0.0.1:9/v1" in lines
    assert any(line.startswith("  scripted  [scripted] (aliases: s)") for line in lines)
    rows = [json.loads(line) for line in cli("models", "list", "--json").stdout.splitlines()]
    assert {"id": "local", "backend": "openai", "aliases": [], "default": False}.items() <= rows[
        0
    ].items()


def test_models_options_lists_each_option(isolated: Path) -> None:
    result = cli("models", "options", "spell")
    assert result.returncode == 0
    assert "temperature: float | None  Sampling temperature." in result.stdout
    assert "stop: list[str]" in result.stdout
    unknown = cli("models", "options", "nope")
    assert unknown.returncode == 1
    assert "unknown model 'nope' (available: local, scripted, spell)" in unknown.stderr


def test_prompt_streams_text_and_reads_stdin(isolated: Path) -> None:
    assert cli("prompt", "-m", "s", "teh cat").stdout == "the cat"
    piped = cli("prompt", "-", stdin="I recieve teh mail\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "I receive the mail\n"


def test_prompt_errors_are_clear(isolated: Path) -> None:
    bad_option = cli("prompt", "-o", "tempreature", "1", "hello")
    assert bad_option.returncode == 2
    assert "unknown option 'tempreature' (known: max_tokens," in bad_option.stderr
    down = cli("prompt", "-m", "local", "hello")
    assert down.returncode == 1
    assert "Error: no server at http://127.0.0.1:9/v1" in down.stderr


def test_logs_are_off_by_default_then_private_and_listed(isolated: Path, tmp_path: Path) -> None:
    assert cli("logs", "status").stdout.startswith("logging off")
    cli("prompt", "teh one")
    assert cli("logs", "list").stdout == ""
    assert cli("logs", "on").returncode == 0
    assert cli("prompt", "-m", "s", "-s", "be nice", "teh two").stdout == "the two"
    database = Path(cli("logs", "path").stdout.strip())
    assert database == tmp_path / "xdg-data" / "llm-flows" / "logs.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    listed = cli("logs", "list").stdout
    assert "scripted stop" in listed and "'teh two'" in listed and "'the two'" in listed
    rows = [json.loads(line) for line in cli("logs", "list", "--json").stdout.splitlines()]
    assert len(rows) == 1
    assert rows[0]["system"] == "be nice" and rows[0]["response"] == "the two"
    status = cli("logs", "status").stdout
    assert "logging on" in status and "responses logged: 1" in status
    cli("logs", "off")
    cli("prompt", "teh three")
    assert len(cli("logs", "list", "--json").stdout.splitlines()) == 1


def test_log_response_api_records_one_row(tmp_path: Path) -> None:
    model = SpellModel("spell")
    response = model.respond(Prompt("Fix: teh", input="teh", options=model.default_options))
    asyncio.run(response.text())
    path = tmp_path / "logs.db"
    assert log_response(response, flow="correct", config=Config(log=False), path=path) is False
    assert log_response(response, flow="correct", config=Config(log=True), path=path) is True
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT model, flow, input, response, finish_reason FROM responses"
        ).fetchone()
    assert row == ("spell", "correct", "teh", "the", "stop")


def test_models_list_still_lists_when_the_default_is_unknown(
    write_config: Callable[..., Path],
) -> None:
    path = write_config(default_model="qwen")
    result = cli("models", "list")
    assert result.returncode == 1
    assert "  spell  [spell]  offline English spelling corrector" in result.stdout
    assert result.stderr == (
        f"Error: {path}:2: default_model: unknown model 'qwen' (available: spell)\n"
    )


def test_ctrl_c_stops_prompt_and_logs_the_response_as_cancelled(
    write_config: Callable[..., Path],
) -> None:
    write_config(scripted={"rules": [{"when": "", "hang_after": True}]})
    assert cli("logs", "on").returncode == 0
    # a shell's background job ignores SIGINT and a child inherits that: undo it
    undo = "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    main = undo + "runpy.run_module('llm_flows', run_name='__main__')"
    child = subprocess.Popen(
        [sys.executable, "-c", main, "prompt", "-m", "scripted", "half an answer"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert child.stdout is not None
    seen = b""
    while seen != b"half an answer":  # streamed and flushed before the model stalls
        chunk = child.stdout.read1(100)
        assert chunk, child.communicate(timeout=60)[1]
        seen += chunk
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    rows = [json.loads(line) for line in cli("logs", "list", "--json").stdout.splitlines()]
    assert [(r["finish_reason"], r["response"]) for r in rows] == [("cancelled", "half an answer")]


def test_logs_on_in_a_folder_that_cannot_exist_says_where_and_why(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker / "data"))
    result = cli("logs", "on")
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: cannot turn logging on: {blocker / 'data' / 'llm-flows'}: Not a directory\n"
    )
