"""The merge's shortcuts give exactly what the full path gives, so they never change a merge."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from llm_flows.merge import diff_items
from llm_flows.merge.diff import Differ, Ops, _substitutions, native_ops, pure_ops, sentences
from llm_flows.merge.tokenize import _ASCII_TOKEN, _TOKEN

CORES = [pytest.param(pure_ops, id="pure")]
if native_ops is not None:
    CORES.insert(0, pytest.param(native_ops, id="native"))


def hunks(ops: Ops) -> list[tuple[int, int, int, int]]:
    """The changed stretches (a_start, a_end, b_start, b_end) a diff describes."""
    found: list[tuple[int, int, int, int]] = []
    i = j = 0
    start: tuple[int, int] | None = None
    for op, length in [*ops, ("=", 0)]:
        if op == "=":
            if start is not None:
                found.append((start[0], i, start[1], j))
                start = None
            i, j = i + length, j + length
            continue
        start = start or (i, j)
        i, j = (i + length, j) if op == "-" else (i, j + length)
    return found


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_splits_as_with_the_unicode_rules(text: str) -> None:
    assert _ASCII_TOKEN.findall(text) == _TOKEN.findall(text)


@st.composite
def substituted(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A list over a few items, and a copy with some items replaced, often by new ones."""
    a = draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=12))
    b = list(a)
    for _ in range(draw(st.integers(1, 3))):
        b[draw(st.integers(0, len(a) - 1))] = draw(st.sampled_from("abcdXYZ"))
    return a, b


@pytest.mark.parametrize("core", CORES)
@given(pair=substituted())
def test_substitutions_are_the_minimal_diff(
    core: Differ, pair: tuple[list[str], list[str]]
) -> None:
    a, b = pair
    found = _substitutions(a, b)
    if found is not None:
        assert hunks(found) == hunks(core("".join(a), "".join(b)))


@given(st.text(alphabet=st.sampled_from("ab. \n\r\0")))
def test_sentences_cut_after_line_breaks_and_full_stops(text: str) -> None:
    pieces = sentences(text)
    assert "".join(pieces) == text
    assert all(pieces)
    if "\0" not in text:
        assert all(p.endswith(("\n", ". ")) for p in pieces[:-1])
        assert not any("\n" in p[:-1] or ". " in p[:-2] for p in pieces)


def longest_common(a: list[str], b: list[str]) -> int:
    """The length of a longest common subsequence (what a minimal diff keeps)."""
    row = [0] * (len(b) + 1)
    for x in a:
        previous, row = row, [0]
        for j, y in enumerate(b):
            row.append(previous[j] + 1 if x == y else max(previous[j + 1], row[j]))
    return row[-1]


@given(
    st.lists(st.sampled_from(["the", "dog", "dog,", "a", "lot", "alot", "\n"]), max_size=15),
    st.lists(st.sampled_from(["the", "dog", "dog,", "a", "lot", "cat"]), max_size=15),
)
def test_diff_items_turns_a_into_b_keeping_the_most(a: list[str], b: list[str]) -> None:
    rebuilt: list[str] = []
    i = j = kept = 0
    for op, length in diff_items(a, b):
        assert length > 0
        if op == "=":
            assert a[i : i + length] == b[j : j + length]
            rebuilt += a[i : i + length]
            i, j, kept = i + length, j + length, kept + length
        elif op == "-":
            i += length
        else:
            rebuilt += b[j : j + length]
            j += length
    assert (i, j, rebuilt) == (len(a), len(b), b)
    assert kept == longest_common(a, b)
