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
diffed token by token. Where the minimal diff is certain without the core (one
item changed, or equal-length stretches whose differing items are new on both
sides), it is written down directly: the result is the same, only cheaper.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from itertools import chain, compress, groupby
from operator import lt, ne
from typing import NamedTuple

from .tokenize import tokenize

__all__ = ["ENGINE", "Hunk", "Ops", "diff", "diff_items", "native_ops", "pure_ops", "sentences"]

#: A diff as (operation, length) pairs: "=" keep, "-" delete, "+" insert.
Ops = list[tuple[str, int]]
Differ = Callable[[str, str], Ops]
#: A diff of two lists of strings, item by item.
ListDiffer = Callable[[list[str], list[str]], Ops]


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


def diff(
    a: str, b: str, ops: Differ | None = None, a_sentences: list[str] | None = None
) -> list[Hunk]:
    """The changed stretches from ``a`` to ``b`` in order, each starting and ending on tokens.

    Hunks are separated by at least one unchanged token. ``a_sentences`` is
    ``sentences(a)``, passed when ``a`` is diffed against more than one text.
    """
    run = ops or native_ops or pure_ops
    found: list[Hunk] = []
    if a == b:
        return found
    a_pieces = sentences(a) if a_sentences is None else a_sentences
    by_item = _by_item(run)
    for s in _changed(a_pieces, sentences(b), _anchored(by_item)):
        a_part, b_part = a[s.a_start : s.a_end], b[s.b_start : s.b_end]
        skip, a_end, b_end = _middle(a_part, b_part)
        a_tokens, b_tokens = tokenize(a_part[skip:a_end]), tokenize(b_part[skip:b_end])
        found += _changed(a_tokens, b_tokens, by_item, s.a_start + skip, s.b_start + skip)
    return found


def diff_items(a: list[str], b: list[str]) -> Ops:
    """A minimal diff of two lists of strings, item by item, with the merge's diff core.

    For callers that cut text their own way (flows align whitespace-separated words).
    """
    return _by_item(native_ops or pure_ops)(a, b)


def sentences(text: str) -> list[str]:
    """``text`` cut after each line break and each ". " (kept), with no empty piece."""
    if "\0" in text:  # NUL marks the cuts below: a text holding one is cut at line breaks alone
        return text.splitlines(keepends=True)
    *parts, last = text.split(". ")
    found: list[str] = []
    for part in [*(part + ". " for part in parts), last]:
        if "\n" in part:
            found += part.replace("\n", "\n\0").split("\0")
        else:
            found.append(part)
    if not found[-1]:
        found.pop()
    return found


def _middle(a: str, b: str) -> tuple[int, int, int]:
    """Where ``a`` and ``b`` differ: (start, end in a, end in b), widened to whitespace.

    Cutting after and before whitespace keeps words whole, so only the differing
    middle needs tokenizing.
    """
    shortest = min(len(a), len(b))
    low, high = 0, shortest
    while low < high:  # the longest common prefix, by halving
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    start = low
    low, high = 0, shortest - start
    while low < high:  # the longest common suffix after it
        mid = (low + high + 1) // 2
        if a[-mid:] == b[-mid:]:
            low = mid
        else:
            high = mid - 1
    suffix = low
    while start and not a[start - 1].isspace():
        start -= 1
    while suffix and not a[-suffix].isspace():
        suffix -= 1
    return start, len(a) - suffix, len(b) - suffix


def _changed(
    a: list[str], b: list[str], run: ListDiffer, a_offset: int = 0, b_offset: int = 0
) -> list[Hunk]:
    """Hunks between two lists of strings, in code points of their concatenations.

    The concatenations start at ``a_offset`` and ``b_offset``.
    """
    if len(a) == len(b) == 1:  # the common case: one word became another
        return (
            [] if a == b else [Hunk(a_offset, a_offset + len(a[0]), b_offset, b_offset + len(b[0]))]
        )
    # Most calls are tiny ("word," -> "words,"): trim what both share, and skip the
    # diff when what is left can only be one hunk.
    head, tail = _ends(a, b)
    skipped = sum(map(len, a[:head]))  # code points, the same in b
    a_at, b_at = a_offset + skipped, b_offset + skipped
    a, b = a[head : len(a) - tail], b[head : len(b) - tail]
    if not a and not b:
        return []
    if not a or not b or len(a) == len(b) == 1:
        return [Hunk(a_at, a_at + sum(map(len, a)), b_at, b_at + sum(map(len, b)))]
    found: list[Hunk] = []
    i = j = 0  # items
    start: tuple[int, int] | None = None  # code points where the open hunk starts
    for op, length in [*run(a, b), ("=", 0)]:
        if op == "=":
            if start is not None:
                found.append(Hunk(start[0], a_at, start[1], b_at))
                start = None
            width = sum(map(len, a[i : i + length]))
            a_at, b_at, i, j = a_at + width, b_at + width, i + length, j + length
            continue
        if start is None:
            start = (a_at, b_at)
        if op == "-":
            a_at, i = a_at + sum(map(len, a[i : i + length])), i + length
        else:
            b_at, j = b_at + sum(map(len, b[j : j + length])), j + length
    return found


def _ends(a: list[str], b: list[str]) -> tuple[int, int]:
    """How many items ``a`` and ``b`` share at the start, and then at the end."""
    shortest = min(len(a), len(b))
    head = 0
    while head < shortest and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < shortest - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


#: Code points available to stand for items: all but NUL and the surrogates.
_CODES = 0x110000 - 0x800 - 1


class _Codes(dict[str, str]):
    """One code point per distinct item, handed out on first sight."""

    def __missing__(self, item: str) -> str:
        number = len(self) + 1
        code = self[item] = chr(number if number < 0xD800 else number + 0x800)
        return code


def _by_item(run: Differ) -> ListDiffer:
    """``run`` on lists: one code point per distinct item makes a character diff an item diff.

    Plain substitutions skip ``run``. The code points are shared by every call, so
    most items are found already coded.
    """
    codes = _Codes()

    def ops(a: list[str], b: list[str]) -> Ops:
        if (found := _substitutions(a, b)) is not None:
            return found
        if len(codes) + len(a) + len(b) > _CODES:
            codes.clear()
            if (distinct := len(set(chain(a, b)))) > _CODES:
                raise ValueError(f"too many distinct words to diff: {distinct} (at most {_CODES})")
        return run("".join(map(codes.__getitem__, a)), "".join(map(codes.__getitem__, b)))

    return ops


def _substitutions(a: list[str], b: list[str]) -> Ops | None:
    """The diff of two lists of one length whose differing items are all absent from the other.

    Such items must go (or come), and every other item can stay where it is, so this
    is the only minimal diff and needs no diff core (the usual case: a few words
    replaced by new ones). None for other lists.
    """
    if len(a) != len(b):
        return None
    differs = [*map(ne, a, b)]
    in_a, in_b = set(a), set(b)
    for x, y in compress(zip(a, b, strict=True), differs):
        if x in in_b or y in in_a:
            return None
    found: Ops = []
    for changed, run in groupby(differs):
        length = len([*run])
        found += [("-", length), ("+", length)] if changed else [("=", length)]
    return found


def _anchored(run: ListDiffer) -> ListDiffer:
    """``run`` between anchors: items found once in each list and kept in the same order.

    When many sentences change, Myers' cost (length times changes) explodes; unique
    unchanged sentences are certain matches that cut the work into small gaps.
    """

    def ops(a: list[str], b: list[str]) -> Ops:
        result: Ops = []
        same = x = y = 0  # same: the unchanged items not yet in result
        for i, j in [*_unique_matches(a, b), (len(a), len(b))]:
            if i != x or j != y:  # a gap before this anchor
                a_gap, b_gap = a[x:i], b[y:j]
                head, tail = _ends(a_gap, b_gap)
                a_left, b_left = len(a_gap) - head - tail, len(b_gap) - head - tail
                if not a_left and not b_left:
                    same += len(a_gap)
                elif not a_gap or not b_gap or a_left == b_left == 1:
                    # One change, as any minimal diff says (a lone insertion or deletion
                    # between equal items is left to the diff: it may shift it).
                    result += [("=", same + head), ("-", a_left), ("+", b_left)]
                    same = tail
                else:
                    result += [("=", same), *run(a_gap, b_gap)]
                    same = 0
            same += 1
            x, y = i + 1, j + 1
        same -= 1  # the sentinel's
        return [*result, ("=", same)] if same else result

    return ops


def _unique_matches(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """The longest in-order run of pairs (i, j) with a[i] == b[j] occurring once in each."""
    count_a, count_b = Counter(a), Counter(b)
    once = {c for c, n in count_a.items() if n == 1 and count_b.get(c) == 1}
    in_a = [i for i, c in enumerate(a) if c in once]
    where_b = dict(zip(b, range(len(b)), strict=True))  # right for the items found once
    in_b = [where_b[a[i]] for i in in_a]
    if all(map(lt, in_b, in_b[1:])):  # nothing moved: the run is every pair
        return [*zip(in_a, in_b, strict=True)]
    # patience sorting: tails[k] is the pair index ending the best run of length k + 1
    tails: list[int] = []
    tail_js: list[int] = []
    previous: list[int] = []
    for index, j in enumerate(in_b):
        k = bisect_left(tail_js, j)
        previous.append(tails[k - 1] if k else -1)
        if k == len(tails):
            tails.append(index)
            tail_js.append(j)
        else:
            tails[k] = index
            tail_js[k] = j
    found: list[tuple[int, int]] = []
    index = tails[-1] if tails else -1
    while index >= 0:
        found.append((in_a[index], in_b[index]))
        index = previous[index]
    return found[::-1]
