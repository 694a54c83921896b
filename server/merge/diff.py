"""Token-level Myers diff.

Each distinct token becomes one code point, so a character diff of the encoded
strings is a token diff. The diff core is google's diff-match-patch (Myers'
O(ND) algorithm with common prefix/suffix trimming), in its C++ build from
fast-diff-match-patch when installed and otherwise the pure-Python one; both
run with no time limit and no cleanup, so the diff stays minimal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from typing import NamedTuple

__all__ = ["ENGINE", "Hunk", "encode", "hunks", "native_ops", "pure_ops"]

#: A diff as (operation, length) pairs: "=" keep, "-" delete, "+" insert.
Ops = list[tuple[str, int]]


class Hunk(NamedTuple):
    """``a[a_start:a_end]`` became ``b[b_start:b_end]`` (token indices)."""

    a_start: int
    a_end: int
    b_start: int
    b_end: int


def encode(*sequences: Sequence[str]) -> list[str]:
    """Each token sequence as a string with one code point per token, shared across all."""
    vocabulary = dict.fromkeys(chain.from_iterable(sequences))
    code_points = chain(range(1, 0xD800), range(0xE000, 0x110000))  # no surrogates
    codes = dict(zip(vocabulary, map(chr, code_points), strict=False))
    if len(codes) < len(vocabulary):
        raise ValueError(
            f"the texts hold {len(vocabulary)} distinct words; the merge handles at most "
            f"{len(codes)}"
        )
    return ["".join(map(codes.__getitem__, tokens)) for tokens in sequences]


def pure_ops(a: str, b: str) -> Ops:
    """The diff from the pure-Python diff-match-patch."""
    from diff_match_patch import diff_match_patch

    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0  # a time limit silently degrades the diff
    signs = {0: "=", -1: "-", 1: "+"}
    return [(signs[op], len(text)) for op, text in dmp.diff_main(a, b, False)]


def _native() -> Callable[[str, str], Ops] | None:
    try:
        from fast_diff_match_patch import diff
    except ImportError:
        return None

    def ops(a: str, b: str) -> Ops:
        result: Ops = diff(a, b, timelimit=0, checklines=False, cleanup="No", counts_only=True)
        return result

    return ops


native_ops = _native()
#: The diff core in use, as named in the README.
ENGINE = "fast-diff-match-patch (C++)" if native_ops else "diff-match-patch (pure Python)"


def hunks(a: str, b: str, ops: Callable[[str, str], Ops] | None = None) -> list[Hunk]:
    """The changed stretches between encoded strings ``a`` and ``b``, in order.

    Adjacent deletions and insertions form one hunk; hunks are separated by at
    least one unchanged token.
    """
    if a == b:
        return []
    found: list[Hunk] = []
    i = j = 0
    start: tuple[int, int] | None = None
    for op, length in (ops or native_ops or pure_ops)(a, b):
        if op == "=":
            if start is not None:
                found.append(Hunk(start[0], i, start[1], j))
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
    if start is not None:
        found.append(Hunk(start[0], i, start[1], j))
    return found
