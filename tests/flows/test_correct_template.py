"""The `correct` template tells the model to keep batch mode's placeholder markers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from llm_flows.batch.mask import CLOSE, OPEN
from llm_flows.config import load_config
from llm_flows.flows import load_flows


def test_the_correct_prompt_says_to_keep_placeholder_markers(
    write_config: Callable[..., Path],
) -> None:
    write_config()
    template = load_flows(load_config()).get("correct").steps[0].template
    system, user = template.render(f"See {OPEN}0{CLOSE} and teh list.", None)
    assert system is not None
    examples = re.findall(f"{OPEN}\\d+{CLOSE}", system)
    assert examples, "the rules show what a marker looks like"
    rule = next(rule for rule in system.split("\n- ") if examples[0] in rule)
    assert "Keep every placeholder exactly as it is" in " ".join(rule.split())
    assert user == f"See {OPEN}0{CLOSE} and teh list."
    assert template.version != "1", "a new wording needs a new version (batch caches by it)"


def test_every_chunk_shares_one_copy_of_the_system_prompt(
    write_config: Callable[..., Path],
) -> None:
    """10,000 calls in flight hold one system prompt, not 10,000 (it is 2 bytes a
    character since the marker example is not Latin-1)."""
    write_config()
    template = load_flows(load_config()).get("correct").steps[0].template
    first, _ = template.render("one text", None)
    second, _ = template.render("another", None)
    assert first is second
