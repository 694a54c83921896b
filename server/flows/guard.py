"""The over-correction guard: a "correction" that rewrote the text is not one."""

from __future__ import annotations

from .errors import Rejected
from .words import changed_share, split_words

#: a text this short may have every word fixed ("i has went" -> "I have gone")
MIN_WORDS_CHANGED = 4


def check_rewrite(original: str, answer: str, max_rewrite: float | None) -> None:
    """Raise :class:`Rejected` when ``answer`` changed more than ``max_rewrite`` of the words."""
    if max_rewrite is None:
        return
    share = changed_share(original, answer)
    words = len(split_words(original)[0])
    if share > max_rewrite and share * words >= MIN_WORDS_CHANGED:
        raise Rejected(
            f"the model rewrote {share:.0%} of the words (a correction may change at most "
            f"{max_rewrite:.0%}); its answer was dropped and your text left as it is"
        )
