"""Run the ERT suite of llm-flows.el in `emacs --batch` against the real daemon.

One pytest case per ERT test, each in a fresh Emacs (and so a fresh daemon),
so a failure names its test and shows ERT's own report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from testkit import need_executable

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = HERE.parent
TESTS_FILE = HERE / "llm-flows-tests.el"
DAEMON = Path(sys.executable).parent / "llm-flows"

#: the scripted model the ERT tests are written against (see the file's Commentary)
SCRIPTED = {
    "delay": 0.3,
    "replace": {
        "teh": "the",
        "buyed": "bought",
        "alot": "a lot",
        "wierd": "weird",
        "recieve": "receive",
    },
    "rules": [
        {"when": "HANG", "hang": True},
        {"when": "FAIL", "fail": "scripted failure"},
    ],
}


def ert_tests() -> list[str]:
    """The names of the ERT tests, read from the test file."""
    text = TESTS_FILE.read_text(encoding="utf-8")
    return re.findall(r"^\(ert-deftest (\S+)", text, flags=re.MULTILINE)


def elisp_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize("name", ert_tests())
def test_ert(name: str, write_config: Callable[..., Path]) -> None:
    emacs = need_executable("emacs")
    write_config(scripted=SCRIPTED, default_model="scripted")
    command = [
        emacs,
        "--batch",
        "-Q",
        "-L",
        str(PACKAGE_DIR),
        "--eval",
        f'(setq llm-flows-server-command \'({elisp_string(str(DAEMON))} "serve"))',
        "-l",
        str(TESTS_FILE),
        "--eval",
        f"(ert-run-tests-batch-and-exit '(member {name}))",
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=False,
    )
    assert done.returncode == 0, f"ERT test {name} failed:\n{done.stdout}\n{done.stderr}"
    assert "1 results as expected" in done.stderr or "Ran 1 tests, 1 results" in done.stderr, (
        done.stderr
    )
