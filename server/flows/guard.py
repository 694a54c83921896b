"""The over-correction guard: a "correction" that rewrote the text is not one.

It judges what the answer *rewrote*, not how much it fixed: a changed word
that a few keystrokes turn back into the original ("teh" -> "the", "has" ->
"have", "its" -> "it's", "dog" -> "dog,") is a correction, and so is
splitting or joining words ("alot" -> "a lot"). A different word, an added
word and a removed word are rewritten. So a short text full of typos may have
every word fixed, while a paragraph said in other words is refused.
"""

from __future__ import annotations

from .errors import Rejected
from .words import align, split_words

#: fewer rewritten words than this are never refused ("good day" -> "fine day")
MIN_WORDS_CHANGED = 4
#: words on each side of a change that may be a split or a join ("a lot" / "alot")
_MAX_SPLIT = 3


def check_rewrite(original: str, answer: str, max_rewrite: float | None) -> None:
    """Raise :class:`Rejected` when ``answer`` rewrote more than ``max_rewrite`` of the
    words of ``original`` (and at least :data:`MIN_WORDS_CHANGED` of them)."""
    if max_rewrite is None:
        return
    words = split_words(original)[0]
    rewritten = rewritten_words(words, split_words(answer)[0])
    share = rewritten / len(words) if words else float(rewritten > 0)
    if share > max_rewrite and rewritten >= MIN_WORDS_CHANGED:
        raise Rejected(
            f"the model rewrote {share:.0%} of the words (a correction may change at most "
            f"{max_rewrite:.0%}); its answer was dropped and your text left as it is"
        )


def rewritten_words(before: list[str], after: list[str]) -> int:
    """How many words of a change are rewritten rather than corrected."""
    count = 0
    for op in align(before, after):
        if op.equal:
            continue
        old, new = before[op.a0 : op.a1], after[op.b0 : op.b1]
        if len(old) == len(new):
            count += sum(not is_small_edit(a, b) for a, b in zip(old, new, strict=True))
        elif not (old and new and max(len(old), len(new)) <= _MAX_SPLIT) or not is_small_edit(
            " ".join(old), " ".join(new)
        ):
            count += max(len(old), len(new))
    return count


def is_small_edit(a: str, b: str) -> bool:
    """Whether a typist's slips turn ``a`` into ``b``: case aside, at most 1 edit for
    up to 3 characters, 2 up to 8, 3 beyond (an edit inserts, deletes or replaces a
    character, or swaps two neighbours)."""
    a, b = a.casefold(), b.casefold()
    longest = max(len(a), len(b))
    allowed = 1 if longest <= 3 else 2 if longest <= 8 else 3
    return edit_distance(a, b, allowed) <= allowed


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance of ``a`` and ``b``, or ``limit + 1`` when larger
    (only a band of width ``2 * limit + 1`` is computed, so long words cost little)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    over = limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [over] * (len(b) + 1)
        current[0] = i
        for j in range(max(1, i - limit), min(len(b), i + limit) + 1):
            cost = a[i - 1] != b[j - 1]
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = min(value, over)
        if min(current) > limit:
            return over
        previous2, previous = previous, current
    return previous[len(b)]
