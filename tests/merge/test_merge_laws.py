"""The merge laws, checked on generated prose with generated user and model edits."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llm_flows.merge import Edit, MergeResult, apply_edits, merge, tokenize
from llm_flows.merge.diff import Ops, native_ops, pure_ops

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "is",
    "good",
    "déjà",
    "e\u0301te\u0301",
    "東京",
    "👍🏽",
    "don't",
]
SEPARATORS = [" ", " ", " ", "  ", ", ", ". ", "\n", "\n\n", "\r\n", "\t", "-", ""]
ENGINES = [pytest.param(pure_ops, id="pure")]
if native_ops is not None:
    ENGINES.insert(0, pytest.param(native_ops, id="native"))

Prose = list[tuple[str, str]]  # (word, separator after it)
prose = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=40)


def text(words: Prose) -> str:
    return "".join(w + s for w, s in words)


@st.composite
def edited(draw: st.DrawFn, words: Prose, marker: str) -> Prose:
    """``words`` with a few replacements, deletions and insertions of new ``marker`` words."""
    out = list(words)
    for n in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["replace", "delete", "insert", "space"]))
        i = draw(st.integers(0, len(out)))
        new = (f"{marker}{n}", draw(st.sampled_from(SEPARATORS[:4])))
        if kind == "insert" or i == len(out):
            out.insert(i, new)
        elif kind == "replace":
            out[i] = (new[0], out[i][1])
        elif kind == "delete":
            del out[i]
        else:
            out[i] = (out[i][0], new[1])
    return out


@st.composite
def triples(draw: st.DrawFn) -> tuple[str, str, str]:
    base = draw(prose)
    return text(base), text(draw(edited(base, "U"))), text(draw(edited(base, "M")))


def check_well_formed(r: MergeResult, ours: str) -> None:
    """Edits and conflicts are sorted, disjoint, in range, and ``text`` is ours with the edits."""
    assert r.text == apply_edits(ours, r.edits)
    position = 0
    for e in r.edits:
        assert position <= e.start <= e.end <= len(ours)
        assert ours[e.start : e.end] != e.text
        position = e.end if e.end > e.start else e.end + 1  # two inserts never share a spot
    for c in r.conflicts:
        assert 0 <= c.start <= c.end <= len(ours)
        assert ours[c.start : c.end] == c.ours
        assert all(e.end <= c.start or e.start >= c.end for e in r.edits)
    assert 0.0 <= r.divergence <= 1.0
    if r.status == "dropped":
        assert (r.text, r.edits, r.conflicts) == (ours, [], [])
        assert r.reason
    else:
        assert r.reason is None
        assert (r.status == "clean") == (not r.conflicts)


@given(st.text())
def test_tokens_concatenate_to_the_text(s: str) -> None:
    assert "".join(tokenize(s)) == s


@pytest.mark.parametrize("ops", ENGINES)
@settings(max_examples=200)
@given(triples())
def test_laws(ops: Callable[[str, str], Ops], texts: tuple[str, str, str]) -> None:
    base, ours, theirs = texts
    assert merge(base, base, theirs, ops=ops).text == theirs
    untouched = merge(base, ours, base, ops=ops)
    assert (untouched.text, untouched.edits) == (ours, [])
    assert merge(base, ours, ours, ops=ops).text == ours
    assert merge(base, theirs, theirs, ops=ops).text == theirs

    r = merge(base, ours, theirs, ops=ops)
    check_well_formed(r, ours)
    # every user change survives: the user's new words, and no edit touches text the user changed
    assert sorted(re.findall(r"U\d+", r.text)) == sorted(re.findall(r"U\d+", ours))
    assert all(not re.search(r"U\d", ours[e.start : e.end]) for e in r.edits)
    # nothing outside the model's changes differs from ours: each edit puts in the model's text
    assert all(e.text in theirs and not re.search(r"U\d", e.text) for e in r.edits)
    if r.status == "clean":
        assert sorted(re.findall(r"M\d+", r.text)) == sorted(re.findall(r"M\d+", theirs))


@settings(max_examples=200)
@given(triples())
def test_far_apart_changes_all_apply(texts: tuple[str, str, str]) -> None:
    """The user edits the first copy, the model the second: nothing collides."""
    base, ours, theirs = texts
    sep = "\n\nA separator paragraph.\n\n"
    r = merge(base + sep + base, ours + sep + base, base + sep + theirs)
    assert r.status == "clean" or r.divergence > 0.5
    if r.status == "clean":
        assert r.text == ours + sep + theirs


@pytest.mark.parametrize("ops", ENGINES)
@settings(max_examples=200)
@given(st.data())
def test_a_one_word_fix_is_a_one_word_edit(
    ops: Callable[[str, str], Ops], data: st.DataObject
) -> None:
    """The model fixes one word while the user edits another paragraph: one edit, that word."""
    spaced = st.sampled_from([s for s in SEPARATORS if s])  # "" would glue two words into one
    words = data.draw(st.lists(st.tuples(st.sampled_from(WORDS), spaced), min_size=1, max_size=40))
    i = data.draw(st.integers(0, len(words) - 1))
    user = data.draw(edited(words, "U"))
    sep = "\n\nA separator paragraph.\n\n"
    base = text(words) + sep + text(words)
    ours = text(user) + sep + text(words)
    theirs = text(words) + sep + text([*words[:i], ("fixed", words[i][1]), *words[i + 1 :]])
    r = merge(base, ours, theirs, ops=ops)
    if r.status == "dropped":  # the user rewrote most of a short text
        assert r.divergence > 0.5
        return
    start = len(text(user) + sep + text(words[:i]))
    assert r.edits == [Edit(start, start + len(words[i][0]), "fixed")]
    assert r.text == ours[:start] + "fixed" + ours[start + len(words[i][0]) :]
