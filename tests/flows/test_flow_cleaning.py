"""Cleaning a model's answer: what the user gets back is shaped like what they sent."""

from __future__ import annotations

import pytest
from llm_flows.flows import Rejected, clean_output


def clean(answer: str, original: str, keep: bool = True) -> str:
    return clean_output(answer, original, keep_line_breaks=keep)


@pytest.mark.parametrize(
    "answer",
    [
        "The cat sat.",
        "```\nThe cat sat.\n```",
        "```markdown\nThe cat sat.\n```\n",
        "Here is the corrected text:\nThe cat sat.",
        "Sure! Here's the corrected version:\n\nThe cat sat.",
        "Corrected text:\n\nThe cat sat.\n\nI fixed the spelling of 'The'.",
        "The cat sat.\n\nNote: I only changed one word.",
        "The cat sat.\n\nChanges made:\n- Teh -> The",
        '"The cat sat."',
        "Here is the corrected text:\n\n```\nThe cat sat.\n```\n\nLet me know if you need more.",
    ],
)
def test_chatter_fences_and_quotes_are_removed(answer: str) -> None:
    assert clean(answer, "Teh cat sat.") == "The cat sat."


@pytest.mark.parametrize(
    "answer",
    [
        "The cat sat on the mat.\nNote: I fixed two typos.",
        "The cat sat on the mat. (I corrected two spelling mistakes.)",
        "The cat sat on the\nmat.\nI fixed two typos:\n- teh -> the",
    ],
)
def test_a_note_on_a_line_of_its_own_or_in_parentheses_is_removed(answer: str) -> None:
    assert clean(answer, "Teh cat sat on teh mat.\n") == "The cat sat on the mat.\n"


def test_the_users_own_line_that_starts_like_a_note_is_kept() -> None:
    original = "The plan is simple and\nif you go there, call me.\n"
    assert clean("The plan is simple and if you go there, call me.", original) == original
    assert clean("Notes are (if you want) kept.", "Notes are (if you want) kept.") == (
        "Notes are (if you want) kept."
    )


def test_outer_whitespace_and_final_newline_come_from_the_input() -> None:
    assert clean("The cat sat.", "\n  Teh cat sat.\n\n") == "\n  The cat sat.\n\n"
    assert clean("\n\nThe cat sat.   \n", "Teh cat sat.") == "The cat sat."


def test_crlf_input_gets_crlf_output() -> None:
    original = "Teh cat\r\nsat down.\r\n"
    assert clean("The cat\nsat down.", original) == "The cat\r\nsat down.\r\n"


def test_rewrapped_lines_keep_the_users_line_breaks() -> None:
    original = "This is a long line of teh text that\nthe user wrapped by hand at\nforty columns.\n"
    answer = "This is a long line of the text that the user wrapped by hand at forty columns."
    assert clean(answer, original) == (
        "This is a long line of the text that\nthe user wrapped by hand at\nforty columns.\n"
    )


def test_line_breaks_inside_a_changed_stretch_stay_where_they_were() -> None:
    original = "He go to\nschool yesterday and\nplay football.\n"
    answer = "He went to school\nyesterday and played football."
    assert clean(answer, original) == "He went to\nschool yesterday and\nplayed football.\n"


def test_indentation_and_markup_of_kept_words_are_the_users() -> None:
    original = "- item one with teh typo\n    - nested  item\n"
    answer = "- item one with the typo\n- nested item"
    assert clean(answer, original) == "- item one with the typo\n    - nested  item\n"


def test_a_rewrite_may_change_line_breaks_but_not_the_outer_whitespace() -> None:
    original = "one\ntwo\nthree\r\n"
    assert clean("One, two and three.", original, keep=False) == "One, two and three.\r\n"


def test_text_that_starts_like_chatter_is_kept_when_the_input_did_too() -> None:
    original = "Here is the plan:\nwe go home.\n\nNote: bring food."
    assert clean(original, original) == original
    fenced = "```\ncode\n```"
    assert clean(fenced, fenced) == fenced


def test_an_empty_answer_is_rejected_not_applied() -> None:
    with pytest.raises(Rejected, match="answer was empty"):
        clean("```\n```", "Some text.")
    assert clean("", "  \n") == "  \n"
