"""The over-correction guard judges rewrites, not corrections.

Both sides through the real CLI and the scripted model: a text full of typos
(most of its words fixed) is accepted; a paragraph the model rewrote is refused.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from llm_flows.flows import Rejected, check_rewrite

Write = Callable[..., Path]


def run_correct(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llm_flows", "run", "correct", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


TYPOS = {
    "teh": "the",
    "quik": "quick",
    "brwn": "brown",
    "jumpd": "jumped",
    "ovr": "over",
    "lazzy": "lazy",
    "dgo": "dog",
    "yesterdy": "yesterday",
}


def test_a_text_with_most_words_misspelled_is_corrected(write_config: Write) -> None:
    write_config(scripted={"replace": TYPOS}, default_model="scripted")
    done = run_correct("teh quik brwn fox jumpd ovr teh lazzy dgo yesterdy\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "the quick brown fox jumped over the lazy dog yesterday\n"


def test_a_short_typo_fix_is_accepted(write_config: Write) -> None:
    write_config(scripted={"replace": TYPOS}, default_model="scripted")
    done = run_correct("teh cat\n")
    assert (done.returncode, done.stdout) == (0, "the cat\n")


PARAGRAPH = (
    "We met on Tuesday to look at the budget. Most teams spent less than they "
    "planned, but travel went over by a fair amount and needs a closer look.\n"
)
REWRITTEN = (
    "During Tuesday's meeting the budget was reviewed. Spending came in under plan "
    "for most groups; however, travel costs exceeded expectations and require scrutiny.\n"
)


def test_a_rewritten_paragraph_is_refused_and_the_text_kept(write_config: Write) -> None:
    write_config(
        scripted={"rules": [{"when": "Tuesday", "reply": REWRITTEN}]}, default_model="scripted"
    )
    done = run_correct(PARAGRAPH)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "the model rewrote" in done.stderr and "your text left as it is" in done.stderr


@pytest.mark.parametrize(
    ("original", "answer"),
    [
        ("i has went to teh stor yesterdy", "I have gone to the store yesterday"),
        ("Their going alot to the libary", "They're going a lot to the library"),
        ("recieve seperate definately wich occured", "receive separate definitely which occurred"),
        ("dont worry its fine", "Don't worry, it's fine."),
    ],
)
def test_corrections_are_not_rewrites(original: str, answer: str) -> None:
    check_rewrite(original, answer, 0.3)


@pytest.mark.parametrize(
    ("original", "answer"),
    [
        (PARAGRAPH, REWRITTEN),
        ("one two three four five six", "alpha beta gamma delta epsilon zeta"),
        ("the report is due next week", "please send everything by Friday morning at nine"),
    ],
)
def test_rewrites_are_refused(original: str, answer: str) -> None:
    with pytest.raises(Rejected, match="the model rewrote"):
        check_rewrite(original, answer, 0.5)


def test_a_few_rewritten_words_are_never_refused() -> None:
    check_rewrite("good day", "fine night", 0.5)  # 2 of 2 words, but only 2
