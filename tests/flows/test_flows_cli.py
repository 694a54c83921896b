"""`llm-flows run` and `llm-flows flows list` through a real subprocess."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from testkit import run_cli

Write = Callable[..., Path]


cli = run_cli


def test_run_prints_the_proposal_of_a_file(write_config: Write, tmp_path: Path) -> None:
    write_config(scripted={"replace": {"teh": "the"}}, default_model="scripted")
    source = tmp_path / "notes.txt"
    source.write_bytes(b"Teh cat saw teh dog.\r\nSecond line.\r\n")
    done = cli("run", "correct", str(source))
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Teh cat saw the dog.\r\nSecond line.\r\n"
    assert source.read_bytes() == b"Teh cat saw teh dog.\r\nSecond line.\r\n"


def test_run_reads_stdin_and_works_offline_with_the_default_model(write_config: Write) -> None:
    write_config()
    done = cli("run", "correct", "-", stdin=b"I will recieve the package tomorow.\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"I will receive the package tomorrow.\n"


def test_run_rewrite_needs_an_instruction(write_config: Write) -> None:
    write_config(scripted={"replace": {"hi": "Dear colleagues"}}, default_model="scripted")
    done = cli("run", "rewrite", "-", stdin=b"hi")
    assert done.returncode == 1
    assert b"-i/--instruction: the 'rewrite' flow needs an instruction" in done.stderr
    done = cli("run", "rewrite", "-i", "make it formal", "-m", "scripted", "-", stdin=b"hi")
    assert (done.returncode, done.stdout) == (0, b"Dear colleagues")


def test_rewrite_refuses_a_model_that_cannot_follow_instructions(write_config: Write) -> None:
    write_config()  # the default model: the offline speller
    done = cli("run", "rewrite", "-i", "make it formal", "-", stdin=b"I recieved teh memo")
    assert done.returncode == 1
    assert done.stdout == b""
    assert b"-m/--model: 'spell' cannot follow an instruction" in done.stderr
    assert b"needs a language model" in done.stderr


def test_run_reports_a_failing_model_and_bad_input(write_config: Write, tmp_path: Path) -> None:
    write_config(
        scripted={"rules": [{"when": "FAIL", "fail": "no luck"}]}, default_model="scripted"
    )
    done = cli("run", "correct", "-", stdin=b"FAIL please")
    assert done.returncode == 1
    assert b"failed: scripted: no luck" in done.stderr
    assert done.stdout == b""
    done = cli("run", "correct", "-", "-o", "temprature", "1", stdin=b"text")
    assert done.returncode == 1 and b"-o/--option: unknown option 'temprature'" in done.stderr
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    done = cli("run", "correct", str(binary))
    assert done.returncode == 1 and b"not UTF-8 text" in done.stderr
    done = cli("run", "nope", "-", stdin=b"x")
    assert (
        done.returncode == 1 and b"unknown flow 'nope' (available: correct, rewrite)" in done.stderr
    )


def test_run_times_out_with_a_clear_error(write_config: Write) -> None:
    write_config(scripted={"rules": [{"when": "HANG", "hang": True}]}, default_model="scripted")
    done = cli("run", "correct", "--timeout", "0.2", "-", stdin=b"HANG")
    assert done.returncode == 1
    assert b"timed out: no answer within its deadline of 0.2 s" in done.stderr


def test_flows_list_shows_builtin_and_user_flows(write_config: Write) -> None:
    path = write_config(flows={"formal": {"template": "rewrite", "instruction": "be formal"}})
    done = cli("flows", "list")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "correct: Fix spelling, grammar and punctuation" in out
    assert "rewrite: Rewrite the text following your instruction" in out
    assert "(needs -i INSTRUCTION)" in out
    assert f"from {path}" in out
    rows = json.loads(cli("flows", "list", "--json").stdout)
    assert [r["name"] for r in rows] == ["correct", "formal", "rewrite"]
    assert rows[0]["steps"][0] == {"template": "correct", "templateVersion": "2", "model": None}


def test_flows_list_names_the_file_and_key_of_a_bad_flow(write_config: Write) -> None:
    path = write_config(flows={"bad": {"steps": [{"template": "missing"}]}})
    done = cli("flows", "list")
    assert done.returncode == 1
    assert f"{path}: flows.bad.steps[0].template: unknown template 'missing'".encode() in (
        done.stderr
    )
