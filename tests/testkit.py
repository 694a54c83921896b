"""Helpers shared by the Python, daemon and editor test suites.

Import as ``testkit`` (pytest puts tests/ on the path). Not ``tests.support``: the
fast-diff-match-patch wheel installs a top-level ``tests`` package that would shadow ours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NoReturn, overload

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTED_PLUGIN = ROOT / "tests" / "plugins" / "scripted.py"


def missing(message: str) -> NoReturn:
    """Something a test needs is not installed: fail in CI (CI=true), which installs
    everything, and skip elsewhere (also at module level)."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message, allow_module_level=True)


def need_executable(name: str) -> str:
    """The path of ``name``, or :func:`missing`."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (CI installs it; run `make test`)")
    return path


@overload
def run_cli(
    *args: str,
    stdin: bytes | None = None,
    text: Literal[False] = False,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]: ...
@overload
def run_cli(
    *args: str,
    stdin: str | None = None,
    text: Literal[True],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]: ...
def run_cli(
    *args: str,
    stdin: str | bytes | None = None,
    text: bool = False,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[Any]:
    """``llm-flows ARGS`` as a user runs it: a real process, output captured (bytes,
    or UTF-8 text with ``text=True``), the exit code left to the test. Its stdin is
    ``stdin`` or empty, never the test runner's."""
    if stdin is None:
        stdin = "" if text else b""
    return subprocess.run(
        [sys.executable, "-m", "llm_flows", *args],
        input=stdin,
        capture_output=True,
        text=text,
        encoding="utf-8" if text else None,
        cwd=cwd,
        env=None if env is None else dict(env),
        timeout=120,
        check=False,
    )


def toml_value(value: Any) -> str:
    """Just enough TOML for test configs: strings, numbers, bools, lists, inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    raise TypeError(f"no TOML for {value!r}")


def apply_edits(text: str, edits: list[dict[str, Any]]) -> str:
    """Apply protocol edits (``{start, end, text}`` in code points) as a client does:
    from the last to the first, so every offset stays valid."""
    for edit in sorted(edits, key=lambda e: e["start"], reverse=True):
        text = text[: edit["start"]] + edit["text"] + text[edit["end"] :]
    return text
