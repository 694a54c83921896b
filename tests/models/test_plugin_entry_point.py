"""A plugin package pip-installed with an ``llm_flows`` entry point is found with no config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from testkit import run_cli

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "llm-flows-shout"
version = "0.1"

[project.entry-points.llm_flows]
shout = "llm_flows_shout"
"""

PLUGIN = '''\
"""A user's model plugin: upper-cases the text."""
from llm_flows.models import Model, hookimpl


class Shout(Model):
    follows_instructions = False

    def describe(self):
        return "upper-cases the text"

    async def execute(self, prompt, response):
        yield prompt.subject.upper()


@hookimpl
def register_models(register):
    register(Shout("shout"), aliases=["loud"])
'''


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """The plugin built and installed by pip into a folder of its own (the shared
    virtualenv is left alone): what ``pip install llm-flows-shout`` writes."""
    source = tmp_path / "src"
    (source / "llm_flows_shout").mkdir(parents=True)
    (source / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (source / "llm_flows_shout" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps"]
    done = subprocess.run(
        [*pip, "--no-build-isolation", "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (site / "llm_flows_shout-0.1.dist-info" / "entry_points.txt").exists()
    return site


def test_an_installed_plugin_package_registers_its_models(
    installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLM_FLOWS_CONFIG", raising=False)
    env = os.environ | {
        "PYTHONPATH": str(installed),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),  # no config file at all
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
    }

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, stdin=stdin, text=True, env=env)

    listed = cli("models", "list")
    assert listed.returncode == 0, listed.stderr
    assert "  shout  [llm_flows_shout] (aliases: loud)  upper-cases the text" in listed.stdout
    assert cli("prompt", "-m", "loud", "hello").stdout == "HELLO"
    ran = cli("run", "correct", "-m", "shout", "-", stdin="quiet words\n")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "QUIET WORDS\n"

    (installed / "llm_flows_shout" / "__init__.py").write_text(
        'raise ImportError("needs libshout 3")\n', encoding="utf-8"
    )
    broken = cli("models", "list")
    assert broken.returncode == 1
    assert broken.stderr == (
        "Error: plugin package llm-flows-shout 0.1: entry point shout = 'llm_flows_shout'"
        " (group llm_flows) cannot be loaded: ImportError: needs libshout 3"
        " (fix or uninstall the package)\n"
    )
