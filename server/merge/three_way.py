"""The three-way merge: apply the model's changes around the user's.

Both sides are diffed against the base. Hunks that overlap, touch, or are
separated by no word form a cluster. A cluster only the model touched is
applied hunk by hunk (minimal edits); one only the user touched stays; one both
touched stays as the user left it, and the model's version is reported as a
conflict unless both made the same change. All positions are code points.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate

from .diff import Differ, Hunk, diff, sentences
from .policy import MergePolicy, drop_reason
from .tokenize import has_word
from .types import Conflict, Edit, MergeResult, Status, apply_edits

__all__ = ["merge"]


class _Side:
    """One side (ours or theirs) as diffed against the base."""

    def __init__(self, base: str, base_sentences: list[str], text: str, ops: Differ | None):
        self.text = text
        self.hunks = diff(base, text, ops, base_sentences)
        self._ends = [h.a_end for h in self.hunks]
        deltas = ((h.b_end - h.b_start) - (h.a_end - h.a_start) for h in self.hunks)
        self._shift = [0, *accumulate(deltas)]
        changed = sum(h.a_end - h.a_start + h.b_end - h.b_start for h in self.hunks)
        #: How much of the text changed: 1 - 2 * unchanged / (len(base) + len(text)).
        self.changed = changed / (len(base) + len(text)) if base or text else 0.0

    def at(self, base_offset: int, *, after: bool) -> int:
        """Where a base offset lies in this side's text: ``after`` an insertion there, or before.

        Only asked at offsets no hunk of this side straddles.
        """
        k = bisect_left(self._ends, base_offset)
        if (
            k < len(self.hunks)
            and self._ends[k] == base_offset
            and (after or self.hunks[k].a_start < base_offset)
        ):
            k += 1
        return base_offset + self._shift[k]

    def change(self, hunk: Hunk) -> str:
        return self.text[hunk.b_start : hunk.b_end]


Cluster = tuple[int, int, list[tuple[Hunk, bool]]]


def _clusters(base: str, tagged: list[tuple[Hunk, bool]]) -> list[Cluster]:
    """Group hunks (tagged True for the model's) that overlap, touch or have no word between."""
    groups: list[Cluster] = []
    for hunk, theirs in sorted(tagged, key=lambda item: (item[0].a_start, item[0].a_end)):
        if groups:
            start, end, members = groups[-1]
            if hunk.a_start <= end or not has_word(base, end, hunk.a_start):
                members.append((hunk, theirs))
                groups[-1] = (start, max(end, hunk.a_end), members)
                continue
        groups.append((hunk.a_start, hunk.a_end, [(hunk, theirs)]))
    return groups


def merge(
    base: str,
    ours: str,
    theirs: str,
    policy: MergePolicy | None = None,
    *,
    ops: Differ | None = None,
) -> MergeResult:
    """Merge the model's output ``theirs`` into ``ours``, both descended from ``base``.

    ``base`` is the text the model was given, ``ours`` the same region now, with
    whatever the user typed since. ``ops`` picks a diff core (tests compare them).
    """
    policy = policy or MergePolicy()
    pieces = sentences(base)
    us, them = _Side(base, pieces, ours, ops), _Side(base, pieces, theirs, ops)

    # The same change on both sides is no change to make, and no obstacle either.
    our_changes = {(h.a_start, h.a_end): us.change(h) for h in us.hunks}
    agreed = {
        (h.a_start, h.a_end)
        for h in them.hunks
        if our_changes.get((h.a_start, h.a_end)) == them.change(h)
    }
    tagged = [
        (h, is_theirs)
        for is_theirs, side in ((False, us), (True, them))
        for h in side.hunks
        if (h.a_start, h.a_end) not in agreed
    ]

    edits: list[Edit] = []
    conflicts: list[Conflict] = []
    conflicting = 0
    for start, end, members in _clusters(base, tagged):
        model_hunks = [h for h, is_theirs in members if is_theirs]
        if len(model_hunks) == len(members):
            edits += (
                Edit(us.at(h.a_start, after=False), us.at(h.a_end, after=True), them.change(h))
                for h in model_hunks
            )
            continue
        if not model_hunks:
            continue
        o_start, o_end = us.at(start, after=False), us.at(end, after=True)
        t_start, t_end = them.at(start, after=False), them.at(end, after=True)
        if ours[o_start:o_end] == theirs[t_start:t_end]:
            continue
        conflicting += len(model_hunks)
        conflicts.append(
            Conflict(o_start, o_end, ours[o_start:o_end], theirs[t_start:t_end], base[start:end])
        )

    reason = drop_reason(
        policy,
        region_gone=not ours and bool(base),
        divergence=us.changed,
        rewrite=them.changed,
        conflicts=conflicting,
        model_changes=len(them.hunks),
    )
    if reason is not None:
        return MergeResult("dropped", ours, divergence=us.changed, reason=reason)
    status: Status = "partial" if conflicts else "clean"
    return MergeResult(status, apply_edits(ours, edits), edits, conflicts, us.changed)
