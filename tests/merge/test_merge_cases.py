"""The merge rules, one case each, as a user would see them in the buffer."""

from __future__ import annotations

import pytest
from llm_flows.merge import Conflict, Edit, MergePolicy, apply_edits, merge, tokenize


def test_issue_example_clean() -> None:
    base = "She go to the store yesterday and buyed three apple."
    ours = base.replace("store", "market")
    theirs = "She went to the store yesterday and bought three apples."
    r = merge(base, ours, theirs)
    assert r.text == "She went to the market yesterday and bought three apples."
    assert r.status == "clean"
    assert r.conflicts == []
    assert [ours[e.start : e.end] for e in r.edits] == ["go", "buyed", "apple"]
    assert [e.text for e in r.edits] == ["went", "bought", "apples"]


def test_issue_example_conflict_keeps_the_users_text() -> None:
    r = merge("The data is good.", "The results is good.", "The data are good.")
    assert r.text == "The results is good."
    assert r.status == "partial"
    assert r.edits == []
    assert r.conflicts == [Conflict(4, 14, "results is", "data are", "data is")]
    # accepting the conflict means putting the model's version in its range
    c = r.conflicts[0]
    assert apply_edits(r.text, [Edit(c.start, c.end, c.theirs)]) == "The data are good."


def test_one_word_fix_is_one_word_edit() -> None:
    base = "A long paragraph with one mispelled word in the middle of it, and more text after."
    theirs = base.replace("mispelled", "misspelled")
    r = merge(base, base, theirs)
    start = base.index("mispelled")
    assert r.edits == [Edit(start, start + len("mispelled"), "misspelled")]


def test_user_typing_elsewhere_moves_the_edits() -> None:
    base = "Fix teh typo here. Second sentence stays."
    ours = "Intro. " + base + " More typed."
    r = merge(base, ours, base.replace("teh", "the"))
    assert r.text == "Intro. Fix the typo here. Second sentence stays. More typed."
    assert r.edits == [Edit(11, 14, "the")]


def test_same_change_on_both_sides_is_no_conflict() -> None:
    base = "teh cat sat on teh mat"
    ours = "the cat sat on teh mat"
    theirs = "the cat sat on the mat"
    r = merge(base, ours, theirs)
    assert (r.status, r.text) == ("clean", "the cat sat on the mat")
    assert r.edits == [Edit(15, 18, "the")]


def test_agreed_change_does_not_block_its_neighbour() -> None:
    r = merge("teh dgo barks", "the dgo barks", "the dog barks")
    assert (r.status, r.text) == ("clean", "the dog barks")


def test_changes_separated_by_punctuation_only_conflict() -> None:
    r = merge("apples, pears and plums", "apples, peaches and plums", "apple, pears and plums")
    assert r.status == "partial"
    assert r.text == "apples, peaches and plums"
    assert r.conflicts[0].theirs == "apple, pears"


def test_changes_one_word_apart_both_apply() -> None:
    r = merge("one two three", "one 2 three", "one two 3")
    assert r.status == "partial"  # "two" -> "2" and "three" -> "3": only a space between
    r = merge("one two three four", "1 two three four", "one two three 4")
    assert (r.status, r.text) == ("clean", "1 two three 4")


def test_user_deleted_the_region() -> None:
    r = merge("Some text.", "", "Some texts.")
    assert r.status == "dropped"
    assert r.text == ""
    assert r.edits == [] and r.conflicts == []
    assert r.reason is not None and "deleted" in r.reason


def test_user_rewrote_most_of_the_region() -> None:
    r = merge("a b c d e f", "something else entirely f", "a b c d e g")
    assert r.status == "dropped"
    assert r.text == "something else entirely f"
    assert r.divergence > 0.5
    assert r.reason is not None and "You changed" in r.reason


def test_too_many_conflicts() -> None:
    base = "alpha beta gamma delta epsilon zeta eta theta"
    ours = "ALPHA beta gamma DELTA epsilon zeta eta theta"
    theirs = "Alpha, beta gamma Delta, epsilon zeta eta Theta"
    r = merge(base, ours, theirs)
    assert r.status == "dropped"
    assert r.text == ours
    assert r.reason is not None and "2 of the model's 3 changes" in r.reason
    loose = merge(base, ours, theirs, MergePolicy(max_conflict_ratio=0.9))
    assert loose.status == "partial"
    assert loose.text == "ALPHA beta gamma DELTA epsilon zeta eta Theta"
    assert len(loose.conflicts) == 2


def test_model_rewrite_is_dropped_only_when_the_policy_says_so() -> None:
    base = "The quick brown fox jumps."
    theirs = "A fast auburn animal leaps!"
    assert merge(base, base, theirs).text == theirs
    r = merge(base, base, theirs, MergePolicy(max_rewrite=0.3))
    assert r.status == "dropped"
    assert r.text == base
    assert r.reason is not None and "rewrote" in r.reason


@pytest.mark.parametrize(
    ("field", "value"), [("max_divergence", 1.5), ("max_conflict_ratio", -0.1), ("max_rewrite", 2)]
)
def test_policy_rejects_out_of_range(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        MergePolicy(**{field: value})


def test_empty_strings() -> None:
    assert merge("", "", "").status == "clean"
    r = merge("", "", "New text.")
    assert (r.status, r.text, r.edits) == ("clean", "New text.", [Edit(0, 0, "New text.")])
    r = merge("", "typed", "proposed")
    assert r.text == "typed"
    r = merge("x", "x", "")
    assert (r.status, r.text) == ("clean", "")


def test_repeated_paragraphs_anchor_on_the_right_copy() -> None:
    para = "The same paragraph, word for word, appears here.\n\n"
    base = para * 3
    ours = para + para + para.replace("word for word", "word by word")
    theirs = para.replace("appears", "appear") + para + para
    r = merge(base, ours, theirs)
    assert r.status == "clean"
    expected = (
        para.replace("appears", "appear") + para + para.replace("word for word", "word by word")
    )
    assert r.text == expected
    assert len(r.edits) == 1


def test_user_deleted_a_repeated_paragraph() -> None:
    para = "Repeat me, please.\n\n"
    base = para + para + "End, of story."
    ours = para + "End, of story."
    theirs = para + para + "End of story."
    r = merge(base, ours, theirs)
    assert (r.status, r.text) == ("clean", para + "End of story.")


def test_unicode_offsets_are_code_points() -> None:
    base = "Café 👨‍👩‍👧 déjà vu, naïve e\u0301te\u0301 cafe."
    ours = base.replace("vu", "VU")
    theirs = base.replace("cafe.", "café.")
    r = merge(base, ours, theirs)
    assert r.text == ours.replace("cafe.", "café.")
    (edit,) = r.edits
    assert ours[edit.start : edit.end] == "cafe"
    assert edit.text == "café"


def test_combining_marks_stay_with_their_base() -> None:
    base = "re\u0301sume\u0301 here"
    theirs = "re\u0301sume\u0301s here"
    (edit,) = merge(base, base, theirs).edits
    assert base[edit.start : edit.end] == "re\u0301sume\u0301"
    assert tokenize("e\u0301 👍🏽x") == ["e\u0301", " ", "👍🏽", "x"]


def test_cjk_and_thai_split_per_character() -> None:
    assert tokenize("東京は晴れ") == ["東", "京", "は", "晴", "れ"]
    assert tokenize("ภาษาไทย") == ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]
    base, ours, theirs = (
        "今日は雨です。明日は晴れ。",
        "今日は雪です。明日は晴れ。",
        "今日は雨です。明日も晴れ。",
    )
    r = merge(base, ours, theirs)
    assert (r.status, r.text) == ("clean", "今日は雪です。明日も晴れ。")
    assert r.edits == [Edit(9, 10, "も")]


def test_crlf_line_endings_stay() -> None:
    base = "First line has teh typo.\r\nSecond line.\r\n\r\nThird line.\r\n"
    ours = base.replace("Third", "3rd")
    theirs = base.replace("teh", "the")
    r = merge(base, ours, theirs)
    assert r.text == ours.replace("teh", "the")
    assert "\r\n" in r.text and "\n" not in r.text.replace("\r\n", "")


def test_whitespace_only_changes() -> None:
    base = "one two  three\nfour"
    ours = "one two three\nfour"  # the user fixed a double space
    theirs = "one two  three\n\nfour"  # the model split the paragraph
    r = merge(base, ours, theirs)
    assert (r.status, r.text) == ("clean", "one two three\n\nfour")
    r = merge(base, base, "one  two  three\nfour")
    assert r.edits == [Edit(4, 4, " ")]  # one space more


def test_to_json_is_plain_data() -> None:
    r = merge("The data is good.", "The results is good.", "The data are good.")
    assert r.to_json() == {
        "status": "partial",
        "edits": [],
        "conflicts": [
            {"start": 4, "end": 14, "ours": "results is", "theirs": "data are", "base": "data is"}
        ],
        "divergence": r.divergence,
        "reason": None,
    }


def test_text_holding_nul_characters() -> None:
    base = "a\0b. teh end.\nline two. more"
    r = merge(base, base.replace("more", "MORE"), base.replace("teh", "the"))
    assert (r.status, r.text) == ("clean", "a\0b. the end.\nline two. MORE")
