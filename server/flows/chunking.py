"""Split long text at paragraph boundaries into chunks that fit a model's context.

Joining the chunks gives back the text exactly: each chunk keeps the blank
lines that follow it, so cleaning a chunk's answer restores them too.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_PARAGRAPH_END = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
_LINE_END = re.compile(r"\n")
_SPACE = re.compile(r"\s+")

Counter = Callable[[str], int]


def split_text(text: str, budget: int, count: Counter) -> list[str]:
    """Pieces of ``text`` of at most ``budget`` tokens each, cut at paragraph
    boundaries where possible, then at line ends, then at spaces."""
    if count(text) <= budget:
        return [text]
    chunks: list[str] = []
    for separator in (_PARAGRAPH_END, _LINE_END, _SPACE):
        pieces = _pieces(text, separator)
        if len(pieces) > 1:
            break
    else:
        return _hard_split(text, budget, count)
    current = ""
    for piece in pieces:
        if current and count(current + piece) > budget:
            chunks.append(current)
            current = ""
        if count(piece) > budget:
            chunks.extend(split_text(piece, budget, count))
        else:
            current += piece
    if current:
        chunks.append(current)
    return chunks


def _pieces(text: str, separator: re.Pattern[str]) -> list[str]:
    """``text`` cut after each separator (the separator stays with the piece before it)."""
    pieces: list[str] = []
    start = 0
    for match in separator.finditer(text):
        if match.end() < len(text):
            pieces.append(text[start : match.end()])
            start = match.end()
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _hard_split(text: str, budget: int, count: Counter) -> list[str]:
    """Last resort for a single huge word: cut by characters."""
    size = max(1, len(text) * budget // max(1, count(text)))
    return [text[i : i + size] for i in range(0, len(text), size)]
