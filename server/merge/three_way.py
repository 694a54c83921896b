"""The three-way merge: apply the model's changes around the user's.

Both sides are diffed against the base. Hunks that overlap, touch, or are
separated by no word form a cluster. A cluster only the model touched is
applied hunk by hunk (minimal edits); one only the user touched stays; one both
touched stays as the user left it, and the model's version is reported as a
conflict unless both made the same change.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from itertools import accumulate

from .diff import Hunk, Ops, encode, hunks
from .policy import MergePolicy, drop_reason
from .tokenize import has_word, tokenize
from .types import Conflict, Edit, MergeResult, apply_edits

__all__ = ["merge"]


class _Side:
    """One side (ours or theirs) as diffed against the base."""

    def __init__(
        self, tokens: list[str], code: str, base_code: str, ops: Callable[..., Ops] | None
    ):
        self.tokens = tokens
        self.offsets = [0, *accumulate(map(len, tokens))]
        self.hunks = hunks(base_code, code, ops)
        self._ends = [h.a_end for h in self.hunks]
        deltas = ((h.b_end - h.b_start) - (h.a_end - h.a_start) for h in self.hunks)
        self._shift = [0, *accumulate(deltas)]

    def index(self, base_index: int, *, after: bool) -> int:
        """Where a base token boundary lies on this side; ``after`` an insertion there or before.

        Only called at boundaries no hunk of this side straddles.
        """
        k = bisect_left(self._ends, base_index)
        if k < len(self.hunks) and self._ends[k] == base_index:
            hunk = self.hunks[k]
            if after or hunk.a_start < base_index:
                k += 1
        return base_index + self._shift[k]

    def text(self, start: int, end: int) -> str:
        return "".join(self.tokens[start:end])

    def changed(self, base_offsets: list[int]) -> float:
        """How much of the text changed: 1 - 2 * unchanged / (len(base) + len(side))."""
        total = base_offsets[-1] + self.offsets[-1]
        moved = sum(
            base_offsets[h.a_end]
            - base_offsets[h.a_start]
            + self.offsets[h.b_end]
            - self.offsets[h.b_start]
            for h in self.hunks
        )
        return moved / total if total else 0.0


def _clusters(
    base: str, base_offsets: list[int], tagged: list[tuple[Hunk, bool]]
) -> list[tuple[int, int, list[tuple[Hunk, bool]]]]:
    """Group hunks (with ``True`` for the model's) that overlap, touch or have no word between."""
    groups: list[tuple[int, int, list[tuple[Hunk, bool]]]] = []
    for hunk, theirs in sorted(tagged, key=lambda item: (item[0].a_start, item[0].a_end)):
        if groups:
            start, end, members = groups[-1]
            if hunk.a_start <= end or not has_word(
                base, base_offsets[end], base_offsets[hunk.a_start]
            ):
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
    ops: Callable[[str, str], Ops] | None = None,
) -> MergeResult:
    """Merge the model's output ``theirs`` into ``ours``, both descended from ``base``.

    ``base`` is the text the model was given, ``ours`` the same region now, with
    whatever the user typed since. ``ops`` picks a diff core (tests compare them).
    """
    policy = policy or MergePolicy()
    base_tokens, our_tokens, their_tokens = tokenize(base), tokenize(ours), tokenize(theirs)
    base_code, our_code, their_code = encode(base_tokens, our_tokens, their_tokens)
    base_offsets = [0, *accumulate(map(len, base_tokens))]
    us = _Side(our_tokens, our_code, base_code, ops)
    them = _Side(their_tokens, their_code, base_code, ops)

    # The same change on both sides is no change to make, and no obstacle either.
    our_changes = {(h.a_start, h.a_end): our_code[h.b_start : h.b_end] for h in us.hunks}
    agreed = {
        (h.a_start, h.a_end)
        for h in them.hunks
        if our_changes.get((h.a_start, h.a_end)) == their_code[h.b_start : h.b_end]
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
    for start, end, members in _clusters(base, base_offsets, tagged):
        model_hunks = [h for h, t in members if t]
        if not model_hunks:
            continue
        if len(model_hunks) == len(members):
            for h in model_hunks:
                first = us.offsets[us.index(h.a_start, after=False)]
                last = us.offsets[us.index(h.a_end, after=True)]
                edits.append(Edit(first, last, them.text(h.b_start, h.b_end)))
            continue
        o_start, o_end = us.index(start, after=False), us.index(end, after=True)
        t_start, t_end = them.index(start, after=False), them.index(end, after=True)
        if our_code[o_start:o_end] == their_code[t_start:t_end]:
            continue
        conflicting += len(model_hunks)
        conflicts.append(
            Conflict(
                us.offsets[o_start],
                us.offsets[o_end],
                us.text(o_start, o_end),
                them.text(t_start, t_end),
                "".join(base_tokens[start:end]),
            )
        )

    divergence = us.changed(base_offsets)
    reason = drop_reason(
        policy,
        region_gone=not ours and bool(base),
        divergence=divergence,
        rewrite=them.changed(base_offsets),
        conflicts=conflicting,
        model_changes=len(them.hunks),
    )
    if reason is not None:
        return MergeResult("dropped", ours, divergence=divergence, reason=reason)
    text = apply_edits(ours, edits)
    return MergeResult("partial" if conflicts else "clean", text, edits, conflicts, divergence)
