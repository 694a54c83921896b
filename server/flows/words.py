"""Word-level alignment of a text and a model's answer (for cleaning and the guard).

Words are runs of non-space characters. The alignment is a Myers diff
(diff-match-patch) over words encoded as single characters, so it is minimal
and does not junk-filter common words the way difflib does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diff_match_patch import diff_match_patch

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
    """A minimal word diff of ``a`` -> ``b`` as opcodes covering both lists."""
    codes: dict[str, str] = {}

    def encode(words: list[str]) -> str:
        return "".join(codes.setdefault(w, chr(0xF0000 + len(codes))) for w in words)

    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0
    diffs = dmp.diff_main(encode(a), encode(b), False)
    ops: list[Opcode] = []
    i = j = 0
    for kind, chunk in diffs:
        n = len(chunk)
        if kind == 0:
            ops.append(Opcode(True, i, i + n, j, j + n))
            i, j = i + n, j + n
        elif kind < 0:
            ops.append(Opcode(False, i, i + n, j, j))
            i += n
        else:
            ops.append(Opcode(False, i, i, j, j + n))
            j += n
    return _merge_adjacent(ops)


def _merge_adjacent(ops: list[Opcode]) -> list[Opcode]:
    merged: list[Opcode] = []
    for op in ops:
        if merged and not op.equal and not merged[-1].equal:
            last = merged.pop()
            merged.append(Opcode(False, last.a0, op.a1, last.b0, op.b1))
        else:
            merged.append(op)
    return merged
