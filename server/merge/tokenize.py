"""Split text into the tokens the merge works on.

Tokens are words, whitespace runs and single other characters (punctuation,
symbols, emoji); scripts written without spaces (Chinese, Japanese, Thai, Lao,
Khmer, Myanmar) split per character. Combining marks, joiners, variation
selectors and emoji modifiers stay with the character before them, so an edit
never separates an accent or half an emoji from its base. The tokens always
concatenate back to the exact text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["has_word", "tokenize"]

#: Scripts written without spaces between words: one token per character.
_NO_SPACE = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
    "\u3100-\u312f\u31a0-\u31bf"  # Bopomofo
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\uff66-\uff9f"  # half-width Katakana
)
#: Han beyond the BMP: matched before words, so only a letter run directly in front absorbs one.
_NO_SPACE_ASTRAL = "\U00020000-\U0003134f"


def _marks(codes: range) -> str:
    """A character-class body for the combining marks (categories M*) among ``codes``."""
    ranges: list[list[int]] = []
    for c in codes:
        if not unicodedata.category(chr(c)).startswith("M"):
            continue
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return "".join(f"{chr(a)}-{chr(b)}" if a != b else chr(a) for a, b in ranges)


def _token_pattern() -> re.Pattern[str]:
    # What attaches to the character before it. Astral ranges sit behind a cheap guard:
    # Python's re scans a class holding them linearly instead of using a bitmap.
    bmp = _marks(range(0x300, 0x10000)) + "\u200c\u200d"  # + zero-width (non-)joiner
    astral = (
        _marks(range(0x10000, 0x20000))
        + _marks(range(0xE0100, 0xE01F0))  # variation selectors
        + "\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"  # skin tones, tags (subdivision flags)
    )
    ext = f"(?:[{bmp}]|(?=[\U00010000-\U0010ffff])[{astral}])"
    letter = f"[^\\W{_NO_SPACE}]"  # \w minus the no-space scripts
    word = f"{letter}+(?:{ext}+{letter}*)*"
    return re.compile(
        f"\\s+{ext}*"  # whitespace run (CRLF stays whole)
        "|[\U0001f1e6-\U0001f1ff]{2}"  # a flag: two regional indicators
        f"|[{_NO_SPACE}{_NO_SPACE_ASTRAL}]{ext}*"  # one character of a no-space script
        f"|{word}(?:['\u2019]{word})*"  # a word, with inner apostrophes (don't)
        f"|[^\\w\\s](?:{ext}|(?<=\u200d)[^\\w\\s])*"  # punctuation, symbol, emoji sequence
        f"|[\\s\\S]{ext}*"  # anything else (never reached; keeps the round trip total)
    )


_TOKEN = _token_pattern()
#: What ``_TOKEN`` reduces to on ASCII text (no marks, joiners, flags or no-space scripts),
#: about twice as fast.
_ASCII_TOKEN = re.compile(r"\s+|\w+(?:'\w+)*|[^\w\s]")
_WORD_CHAR = re.compile(r"\w")


def tokenize(text: str) -> list[str]:
    """The tokens of ``text``; ``"".join(tokenize(text)) == text``."""
    return (_ASCII_TOKEN if text.isascii() else _TOKEN).findall(text)


def has_word(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` contains a word (or a character of a no-space script)."""
    return _WORD_CHAR.search(text, start, end) is not None
