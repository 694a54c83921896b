"""The values the merge hands back: edits, conflicts and the result.

Offsets are Unicode code points into ``ours`` (the text as it is now), the same
coordinates for edits and conflicts, so a client can place conflict markers and
then apply the edits from the last to the first without recomputing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Conflict", "Edit", "MergeResult", "Status", "apply_edits"]

Status = Literal["clean", "partial", "dropped"]


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``ours[start:end]`` with ``text``."""

    start: int
    end: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True, slots=True)
class Conflict:
    """A model change withheld because the user changed the same spot.

    ``ours[start:end]`` is the user's text there; accepting the model's version
    means replacing that range with ``theirs``. ``base`` is what both started from.
    """

    start: int
    end: int
    ours: str
    theirs: str
    base: str

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "ours": self.ours,
            "theirs": self.theirs,
            "base": self.base,
        }


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What reaches the buffer: ``text`` is ``ours`` with ``edits`` applied."""

    status: Status
    text: str
    edits: list[Edit] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    divergence: float = 0.0
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists, as ``flow/merge`` answers."""
        return {
            "status": self.status,
            "edits": [edit.to_json() for edit in self.edits],
            "conflicts": [conflict.to_json() for conflict in self.conflicts],
            "divergence": self.divergence,
            "reason": self.reason,
        }


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """``text`` with sorted, non-overlapping ``edits`` applied (what an editor does)."""
    parts: list[str] = []
    position = 0
    for edit in edits:
        if not position <= edit.start <= edit.end <= len(text):
            raise ValueError(f"edit {edit} is out of order or outside 0..{len(text)}")
        parts += (text[position : edit.start], edit.text)
        position = edit.end
    parts.append(text[position:])
    return "".join(parts)
