"""Stand-ins for protected parts, so a whole file's prose goes to the model in one piece.

The model sees the prose with each protected part (code, URL, front matter, ...)
replaced by a numbered marker ``⟦n⟧``; the parts themselves are never sent. A
reply is accepted only if it gives back every marker once, in order, and keeps
each block marker on a line of its own; otherwise :meth:`Masked.restore` returns
None and the caller corrects the prose pieces one by one instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .markdown import Piece

OPEN, CLOSE = "⟦", "⟧"
_MARKER = re.compile(f"{OPEN}(\\d+){CLOSE}")


@dataclass(frozen=True)
class Masked:
    """Prose with markers (``text``, stripped), and what the markers stand for."""

    text: str
    lead: str
    trail: str
    protected: tuple[str, ...]

    def restore(self, corrected: str) -> str | None:
        """``corrected`` with the protected parts put back, or None if markers were damaged."""
        corrected = corrected.strip()
        found = list(_MARKER.finditer(corrected))
        if [int(m.group(1)) for m in found] != list(range(len(self.protected))):
            return None
        wanted = {m.group(1): _edges(self.text, m) for m in _MARKER.finditer(self.text)}
        if any(_edges(corrected, m) != wanted[m.group(1)] for m in found):
            return None
        body = _MARKER.sub(lambda m: self.protected[int(m.group(1))], corrected)
        return self.lead + body + self.trail


def mask(pieces: list[Piece]) -> Masked | None:
    """The pieces as one text with markers; None if the text already contains a marker."""
    if any(OPEN in piece.text or CLOSE in piece.text for piece in pieces):
        return None
    protected: list[str] = []
    parts: list[str] = []
    for piece in pieces:
        if piece.prose:
            parts.append(piece.text)
        else:
            parts.append(f"{OPEN}{len(protected)}{CLOSE}")
            protected.append(piece.text)
    whole = "".join(parts)
    core = whole.strip()
    if not core:
        return Masked("", whole, "", tuple(protected))
    start = whole.index(core)
    return Masked(core, whole[:start], whole[start + len(core) :], tuple(protected))


def has_words(text: str) -> bool:
    """Whether ``text`` (markers aside) holds anything worth sending to a model."""
    return any(ch.isalpha() for ch in _MARKER.sub("", text))


def padded(original: str, corrected: str) -> str:
    """``corrected`` with the leading and trailing whitespace of ``original``."""
    core = original.strip()
    if not core:
        return original
    start = original.index(core)
    return original[:start] + corrected.strip() + original[start + len(core) :]


def _edges(text: str, match: re.Match[str]) -> tuple[bool, bool]:
    """Whether a marker starts a line and whether it ends one."""
    before = text[match.start() - 1] if match.start() else "\n"
    after = text[match.end()] if match.end() < len(text) else "\n"
    return before == "\n", after in "\r\n"
