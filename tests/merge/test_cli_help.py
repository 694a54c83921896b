"""The ``llm-flows`` command lists every subcommand, and each one explains itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from llm_flows.cli import SUBCOMMANDS

LLM_FLOWS = Path(sys.executable).parent / "llm-flows"


def help_of(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LLM_FLOWS), *args, "--help"], capture_output=True, text=True, check=False
    )


def test_the_top_level_help_lists_every_subcommand() -> None:
    done = help_of()
    assert done.returncode == 0
    for name, (_, _, summary) in SUBCOMMANDS.items():
        assert f"{name}  " in done.stdout and summary[:40] in done.stdout


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_each_subcommand_has_a_help_page(name: str) -> None:
    done = help_of(name)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: llm-flows {name} ")
