"""Token-level Myers diff of two texts, as hunks in code-point offsets.

Each distinct token (or piece) becomes one code point, so a character diff of
the encoded strings is a token diff. The diff core is google's diff-match-patch
(Myers' O(ND) algorithm with common prefix/suffix trimming): its C++ build from
fast-diff-match-patch when installed, else the pure-Python one; both run with
no time limit and no cleanup, so the diff stays minimal.

Myers costs grow with length times the number of changes, and tokenizing costs
too, so texts are first diffed as sentences (lines, cut again after ". "),
anchored on sentences found once in each; only the part of a changed sentence
between its common prefix and suffix (widened to whitespace) is tokenized and
diffed token by token.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import accumulate, chain
from typing import NamedTuple

from .tokenize import tokenize

__all__ = ["ENGINE", "Hunk", "Ops", "diff", "native_ops", "pure_ops"]

#: A diff as (operation, length) pairs: "=" keep, "-" delete, "+" insert.
Ops = list[tuple[str, int]]
Differ = Callable[[str, str], Ops]


class Hunk(NamedTuple):
    """``a[a_start:a_end]`` became ``b[b_start:b_end]``."""

    a_start: int
    a_end: int
    b_start: int
    b_end: int


def pure_ops(a: str, b: str) -> Ops:
    """The diff from the pure-Python diff-match-patch."""
    from diff_match_patch import diff_match_patch

    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0  # a time limit silently degrades the diff
    signs = {0: "=", -1: "-", 1: "+"}
    return [(signs[op], len(text)) for op, text in dmp.diff_main(a, b, False)]


def _native() -> Differ | None:
    try:
        from fast_diff_match_patch import diff as fast_diff
    except ImportError:
        return None

    def ops(a: str, b: str) -> Ops:
        result: Ops = fast_diff(a, b, timelimit=0, checklines=False, cleanup="No")
        return result

    return ops


native_ops = _native()
#: The diff core in use, as named in the README.
ENGINE = "fast-diff-match-patch (C++)" if native_ops else "diff-match-patch (pure Python)"


def diff(a: str, b: str, ops: Differ | None = None) -> list[Hunk]:
    """The changed stretches from ``a`` to ``b`` in order, each starting and ending on tokens.

    Hunks are separated by at least one unchanged token.
    """
    run = ops or native_ops or pure_ops
    found: list[Hunk] = []
    if a == b:
        return found
    for s in _changed(_sentences(a), _sentences(b), _anchored(run)):
        a_part, b_part = a[s.a_start : s.a_end], b[s.b_start : s.b_end]
        skip, a_end, b_end = _middle(a_part, b_part)
        a0, b0 = s.a_start + skip, s.b_start + skip
        found += (
            Hunk(a0 + h.a_start, a0 + h.a_end, b0 + h.b_start, b0 + h.b_end)
            for h in _changed(tokenize(a_part[skip:a_end]), tokenize(b_part[skip:b_end]), run)
        )
    return found


def _sentences(text: str) -> list[str]:
    """``text`` cut after each line break and each ". " (kept), with no empty piece."""
    mark = "\0"
    if mark in text:  # cannot mark the cuts: cut at line breaks alone
        return text.splitlines(keepends=True)
    pieces = text.replace("\n", "\n" + mark).replace(". ", ". " + mark).split(mark)
    if not pieces[-1]:
        pieces.pop()
    return pieces


def _middle(a: str, b: str) -> tuple[int, int, int]:
    """Where ``a`` and ``b`` differ: (start, end in a, end in b), widened to whitespace.

    Cutting after and before whitespace keeps words whole, so only the differing
    middle needs tokenizing.
    """
    low, high = 0, min(len(a), len(b))
    while low < high:  # the longest common prefix, by halving
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    start = low
    low, high = 0, min(len(a), len(b)) - start
    while low < high:  # the longest common suffix after it
        mid = (low + high + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            low = mid
        else:
            high = mid - 1
    suffix = low
    while start and not a[start - 1].isspace():
        start -= 1
    while suffix and not a[len(a) - suffix].isspace():
        suffix -= 1
    return start, len(a) - suffix, len(b) - suffix


def _changed(a: list[str], b: list[str], run: Differ) -> list[Hunk]:
    """Hunks between two lists of strings, in code points of their concatenations."""
    # Most calls are tiny ("word" -> "words"): trim what both share, and skip the
    # diff when what is left can only be one hunk.
    shortest = min(len(a), len(b))
    head = 0
    while head < shortest and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < shortest - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    skipped = sum(map(len, a[:head]))  # the same in b
    a, b = a[head : len(a) - tail], b[head : len(b) - tail]
    offsets_a = [*accumulate(map(len, a), initial=skipped)]
    offsets_b = [*accumulate(map(len, b), initial=skipped)]
    if not a or not b or len(a) == len(b) == 1:
        return [Hunk(offsets_a[0], offsets_a[-1], offsets_b[0], offsets_b[-1])] if a or b else []
    found: list[Hunk] = []
    i = j = 0
    start: tuple[int, int] | None = None
    for op, length in [*run(*_encode(a, b)), ("=", 0)]:
        if op == "=":
            if start is not None:
                found.append(
                    Hunk(offsets_a[start[0]], offsets_a[i], offsets_b[start[1]], offsets_b[j])
                )
                start = None
            i += length
            j += length
            continue
        if start is None:
            start = (i, j)
        if op == "-":
            i += length
        else:
            j += length
    return found


def _encode(a: Sequence[str], b: Sequence[str]) -> tuple[str, str]:
    """Both sequences as strings with one code point per item, equal items equal code points."""
    vocabulary = dict.fromkeys(chain(a, b))
    code_points = chain(range(1, 0xD800), range(0xE000, 0x110000))  # no surrogates
    codes = dict(zip(vocabulary, map(chr, code_points), strict=False))
    if len(codes) < len(vocabulary):
        raise ValueError(
            f"too many distinct words to diff: {len(vocabulary)} (at most {len(codes)})"
        )
    return "".join(map(codes.__getitem__, a)), "".join(map(codes.__getitem__, b))


def _anchored(run: Differ) -> Differ:
    """``run`` between anchors: items found once in each text and kept in the same order.

    When many sentences change, Myers' cost (length times changes) explodes; unique
    unchanged sentences are certain matches that cut the work into small gaps.
    """

    def ops(a: str, b: str) -> Ops:
        result: Ops = []
        x = y = 0
        for i, j in [*_unique_matches(a, b), (len(a), len(b))]:
            if a[x:i] == b[y:j]:
                result.append(("=", i - x))
            elif x == i or y == j:
                result += [("-", i - x), ("+", j - y)]
            else:
                result += run(a[x:i], b[y:j])
            result.append(("=", 1))
            x, y = i + 1, j + 1
        result.pop()  # the sentinel's
        return result

    return ops


def _unique_matches(a: str, b: str) -> list[tuple[int, int]]:
    """The longest in-order run of pairs (i, j) with a[i] == b[j] occurring once in each."""
    count_a, count_b = Counter(a), Counter(b)
    in_b = {c: j for j, c in enumerate(b) if count_b[c] == 1 and count_a[c] == 1}
    pairs = [(i, in_b[c]) for i, c in enumerate(a) if c in in_b]
    # patience sorting: tails[k] is the pair index ending the best run of length k + 1
    tails: list[int] = []
    tail_js: list[int] = []
    previous: list[int] = []
    for index, (_, j) in enumerate(pairs):
        k = bisect_left(tail_js, j)
        previous.append(tails[k - 1] if k else -1)
        if k == len(tails):
            tails.append(index)
            tail_js.append(j)
        else:
            tails[k] = index
            tail_js[k] = j
    run: list[tuple[int, int]] = []
    index = tails[-1] if tails else -1
    while index >= 0:
        run.append(pairs[index])
        index = previous[index]
    return run[::-1]
