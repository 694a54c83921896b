"""Word-level alignment of a text and a model's answer (for cleaning and the guard).

Words are runs of non-space characters, so a word keeps its punctuation ("dog"
-> "dog," is one changed word, which the guard calls a correction). The
alignment is the merge's minimal item diff (``llm_flows.merge.diff_items``),
which, unlike difflib, never junk-filters common words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..merge import diff_items

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Opcode:
    """``a[a0:a1]`` became ``b[b0:b1]`` (word indexes); ``equal`` when unchanged."""

    equal: bool
    a0: int
    a1: int
    b0: int
    b1: int


def split_words(text: str) -> tuple[list[str], list[str]]:
    """Words and the whitespace around them: ``gaps[i]`` precedes ``words[i]``;
    ``gaps[-1]`` follows the last word, so ``len(gaps) == len(words) + 1``."""
    words: list[str] = []
    gaps: list[str] = []
    pos = 0
    for match in _WORD.finditer(text):
        gaps.append(text[pos : match.start()])
        words.append(match.group())
        pos = match.end()
    gaps.append(text[pos:])
    return words, gaps


def align(a: list[str], b: list[str]) -> list[Opcode]:
    """A minimal word diff of ``a`` -> ``b`` as opcodes covering both lists; a change
    (deletions and insertions between two equal stretches) is one opcode."""
    ops: list[Opcode] = []
    i = j = 0
    start: tuple[int, int] | None = None  # where the open change starts
    for kind, n in [*diff_items(a, b), ("=", 0)]:
        if kind != "=":
            start = start or (i, j)
            i, j = (i + n, j) if kind == "-" else (i, j + n)
            continue
        if start is not None:
            ops.append(Opcode(False, start[0], i, start[1], j))
            start = None
        if n:
            ops.append(Opcode(True, i, i + n, j, j + n))
            i, j = i + n, j + n
    return ops
