"""Smoke: the plugin loads and talks to the daemon."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.nvim


def test_correct_a_line(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": {"teh": "the"}})
    ed.set_text("I saw teh cat.")
    ed.nvim.command("LlmCorrect")
    ed.wait_text("I saw the cat.")
