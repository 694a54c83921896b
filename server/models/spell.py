"""``spell``: the offline English spelling corrector, the default model.

Precision first: a wrong "correction" of a name or an identifier costs the user
more than a missed typo, so a word is only changed when it is plain lowercase
prose (or capitalized at the start of a sentence), unknown to the dictionary,
not in the user's word list, and one candidate is clearly the most likely
(edit type weighted by word frequency), or it is a well-known misspelling
from our table (fourty, publically: not keyboard slips). Everything else comes
back byte for byte. The dictionary (pyspellchecker's English word counts, ~0.15 s to load)
is loaded once per model instance, on first use, in a worker thread.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import AsyncGenerator, Iterable, Iterator
from importlib import resources
from typing import Any

from .base import Model, ModelError, Prompt, Response

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: how likely each kind of typo is, relative to a missing letter
_PRIOR = {"ins": 1.0, "tr": 1.0, "del": 0.5, "sub": 0.1}
#: the best candidate must beat the runner-up by this factor, or nothing changes
_CLEAR_MARGIN = 3.0
#: candidates rarer than this share of all counted words are ignored (junk entries)
_MIN_SHARE = 2e-7
#: a capitalized word at a sentence start is more often a name (Falk, Alexandre)
#: than a typo, so it is only corrected into one of the ~10,000 commonest words
_COMMON_SHARE = 2e-6
#: words known besides pyspellchecker's: our technical words, and the words of
#: symspellpy's English frequency list (MIT) that pyspellchecker lacks (app, lookup)
_WORD_LISTS = ("spell_words.txt", "spell_more_words.txt")
#: well-known misspellings no slip model finds (fourty, publically, dont): "wrong right"
_MISSPELLINGS = "spell_misspellings.txt"
#: a whitespace-separated chunk: leading punctuation, a core, trailing punctuation
_CHUNK = re.compile(
    r"""(?P<lead>[("'“‘\[{*_]*)(?P<core>[^\s]*?)(?P<trail>[)"'”’\]},.;:!?*_]*)(?=\s|$)"""
)
_QUOTES = ('"', "'", "“", "”", "‘", "’")
_PROSE = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*(?:-[A-Za-z]+(?:['’][A-Za-z]+)*)*")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
#: an unknown word found this many times in one text is a name or a term, not a typo
_MEANT_AFTER = 3
#: letter runs in code or names that mark the word as a name wherever else it appears
_NAME_PART = re.compile(r"[A-Za-z]{3,}")
#: a word broken across lines ("require-\nments"): its second half is not a word
_LINE_BREAK_HYPHEN = re.compile(r"[A-Za-z][-\u2010\u00ad][ \t]*\r?\n[ \t]*\Z")
_VOWELS = frozenset("aeiouy")
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {
    c: "".join(
        other[j]
        for other_row in range(max(0, r - 1), min(3, r + 2))
        for other in [_ROWS[other_row]]
        for j in range(max(0, i - 1), min(len(other), i + 2))
        if other[j] != c
    )
    for r, row in enumerate(_ROWS)
    for i, c in enumerate(row)
}
_BRITISH = tuple(
    (re.compile(a), b)
    for a, b in (
        (r"our", "or"),
        (r"is(e|ed|es|ing|ation|ations)$", r"iz\1"),
        (r"ys(e|ed|es|ing)$", r"yz\1"),
        (r"tre(s?)$", r"ter\1"),
        (r"ogue(s?)$", r"og\1"),
        (r"ence(s?)$", r"ense\1"),
        (r"ll(ed|ing|er|ers)$", r"l\1"),
    )
)
_PREFIXES = ("un", "re", "pre", "non", "sub", "de", "dis", "mis", "multi", "over", "under", "co")
_SUFFIXES = ("s", "es", "ed", "d", "er", "ers", "ing", "y", "able")


class SpellModel(Model):
    """Fixes typos in ``prompt.subject``; returns it unchanged when nothing is wrong."""

    max_concurrency = 64
    context_tokens = 1_000_000
    follows_instructions = False

    def __init__(self, model_id: str, *, words: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(model_id, **kwargs)
        self.words = frozenset(w.lower() for w in words)
        self._counts: dict[str, int] = {}
        self._allowed: frozenset[str] = frozenset()
        self._min_count = 0
        self._common_count = 0
        self._common_words: dict[tuple[str, int], list[str]] = {}
        self._loaded = False
        self._lock = threading.Lock()
        self._memo: dict[str, str | None] = {}
        self._misspelt: dict[str, str] = {}

    async def execute(self, prompt: Prompt, response: Response) -> AsyncGenerator[str, None]:
        yield await asyncio.to_thread(self.correct, prompt.subject)

    def describe(self) -> str:
        return "offline English spelling corrector (pyspellchecker word counts)"

    def correct(self, text: str) -> str:
        """``text`` with clear typos fixed; everything else byte for byte."""
        self._load()
        out: list[str] = []
        last = 0
        found = list(_candidate_words(text))
        # a compound with two unknown parts is a name (libgo-testsuite): one slip
        # rarely hits two parts; its parts are names wherever else they appear
        names = {
            part.lower()
            for _, _, compound in found
            if sum(not self._plain(part) for part in compound) >= 2
            for part in compound
        }
        # a word spelt the same way three times is meant (polkit, kinit): typos vary
        # (but a well-known misspelling is a habit: it repeats)
        seen = Counter(word.lower() for _, word, _ in found)
        names.update(
            word
            for word, count in seen.items()
            if count >= _MEANT_AFTER and word not in self._misspelt
        )
        for start, word, _ in found:
            if word.lower() in names:
                continue
            fixed = self._fix(word)
            if fixed is not None:
                out += [text[last:start], fixed]
                last = start + len(word)
        out.append(text[last:])
        return "".join(out)

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            try:
                from spellchecker import SpellChecker

                frequency = SpellChecker(language="en").word_frequency
                folder = resources.files(__package__)
                allowed = " ".join(folder.joinpath(name).read_text() for name in _WORD_LISTS)
                table = folder.joinpath(_MISSPELLINGS).read_text().splitlines()
            except (ImportError, OSError, ValueError) as exc:
                raise ModelError(f"spell: cannot load the English dictionary: {exc}") from exc
            self._counts = dict(frequency.dictionary)
            self._min_count = int(frequency.total_words * _MIN_SHARE)
            self._common_count = int(frequency.total_words * _COMMON_SHARE)
            for word, count in self._counts.items():
                if count >= self._common_count and word.isalpha():
                    self._common_words.setdefault((word[0], len(word)), []).append(word)
            self._allowed = frozenset(allowed.split())
            rows = (line.partition(" ") for line in table if line and not line.startswith("#"))
            self._misspelt = {wrong: right for wrong, _, right in rows}
            self._loaded = True

    def misspellings(self) -> dict[str, str]:
        """The table of well-known misspellings (misspelling -> correction)."""
        self._load()
        return dict(self._misspelt)

    def _fix(self, word: str) -> str | None:
        """The correction of ``word`` keeping its case, or None to leave it."""
        lower = word.lower()
        if lower not in self._memo:
            self._memo[lower] = self._suggest(lower)
        fixed = self._memo[lower]
        if fixed is None or not word[0].isupper():
            return fixed
        if lower in self._misspelt or self._common(fixed):
            return fixed[0].upper() + fixed[1:]
        return None

    def _common(self, word: str) -> bool:
        return self._counts.get(word, 0) >= self._common_count

    def _plain(self, word: str) -> bool:
        """Whether ``word`` is a word of the language (in any case)."""
        lower = word.lower()
        return self._known(lower) or self._derived(lower)

    def _known(self, word: str) -> bool:
        return word in self._counts or word in self.words or word in self._allowed

    def _suggest(self, word: str) -> str | None:
        if word in self._misspelt and not self._known(word):
            return self._misspelt[word]
        if (
            len(word) < 3
            or not word.isalpha()  # contractions and possessives: left alone
            or not _VOWELS & set(word)  # an abbreviation: cfg, src, npm
            or self._known(word)
            or self._derived(word)
        ):
            return None
        short = len(word) <= 4  # few slips allowed, and none at the end (shar: share?)
        edits = _edits(word, ("tr",) if len(word) == 3 else ("tr", "ins") if short else _PRIOR)
        scores = self._score(word, ((c, k) for c, k in edits if not (short and c[:-1] == word)))
        one_edit = set(scores)
        if not scores and len(word) >= 6:
            scores = self._two_slips(word)
        ranked = sorted(scores.values(), reverse=True)
        if not ranked or (len(ranked) > 1 and ranked[0] < _CLEAR_MARGIN * ranked[1]):
            return None
        best = max(scores, key=scores.__getitem__)
        # a short unknown word is more often an abbreviation or a command (shar,
        # util) than a typo, and so is a word two slips from any word (polkit):
        # those are only corrected into common words
        return best if self._common(best) or not (short or best not in one_edit) else None

    def _two_slips(self, word: str) -> dict[str, float]:
        """Common words two slips from ``word``, not two extra letters (those
        mostly turn valid rare words into common ones, pluggy: plug).

        Only common words qualify, so a left-out letter or a transposition as
        the second slip is met from both ends (``word``'s slips, each common
        word's undone slips) instead of generating every two-edit string."""
        first: dict[str, float] = {}
        for middle, kind in _edits(word, ("ins", "tr", "del")):
            first[middle] = max(first.get(middle, 0.0), _PRIOR[kind])
        found: list[tuple[str, float]] = []
        for length in range(len(word) - 1, len(word) + 3):
            for candidate in self._common_words.get((word[0], length), ()):
                for middle, kind in _undo_slip(candidate):
                    if middle in first:
                        found.append((candidate, first[middle] * _PRIOR[kind]))
        for middle, prior in first.items():  # then an extra letter
            for candidate, kind in _edits(middle, ("del",)):
                if candidate[:1] == word[:1] and self._common(candidate):
                    found.append((candidate, prior * _PRIOR[kind]))
        scores: dict[str, float] = {}
        for candidate, prior in found:
            scores[candidate] = max(scores.get(candidate, 0.0), self._counts[candidate] * prior)
        return scores

    def _derived(self, word: str) -> bool:
        """A British spelling, or a known word with a prefix or an inflection
        (behaviour, templated, chunker, unmerged), unless the dictionary spells
        that form with a doubled consonant (occured: occurred)."""
        if any(self._known(p.sub(r, word)) for p, r in _BRITISH if p.search(word)):
            return True
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and self._known(
                word[: -len(suffix)] + word[-len(suffix) - 1] + suffix
            ):
                return False
        for prefix in _PREFIXES:
            rest = word[len(prefix) :]
            if (
                word.startswith(prefix)
                and len(rest) >= 5
                and (self._known(rest) or self._derived(rest))
            ):
                return True
        for suffix in _SUFFIXES:
            stem = word[: -len(suffix)]
            if not word.endswith(suffix) or len(stem) < 3:
                continue
            forms = {stem, stem + "e"}
            if stem[-1] == stem[-2]:
                forms.add(stem[:-1])
            if any(self._known(form) for form in forms):
                return True
        return False

    def _score(self, word: str, edits: Iterable[tuple[str, str]]) -> dict[str, float]:
        """Known candidates with their best prior-weighted count."""
        scores: dict[str, float] = {}
        for candidate, kind in edits:
            count = self._counts.get(candidate, 0)
            if count < self._min_count:
                continue
            if candidate[0] != word[0] and not (kind == "tr" and candidate[:2] == word[1::-1]):
                continue  # typos rarely change the first letter (but: hte)
            prior = 1.0
            for part in kind.split("+"):
                prior *= _PRIOR[part]
            scores[candidate] = max(scores.get(candidate, 0.0), count * prior)
        return scores


def _edits(word: str, kinds: Iterable[str] = _PRIOR) -> Iterator[tuple[str, str]]:
    """Every plausible string one edit of ``kinds`` away, with the kind (from the
    typist's view: ``ins`` = left a letter out, ``del`` = typed one too many).

    Only slips a typist makes: an extra letter doubles a neighbour or sits next
    to one on the keyboard, a wrong letter is a vowel for a vowel or a
    neighbouring key. That keeps ``const``, ``slurm`` and ``qmail`` unknown
    rather than turning them into ``cost``, ``slum`` and ``quail``."""
    for i in range(len(word) + 1):
        head, tail = word[:i], word[i:]
        if tail and "del" in kinds and _slip(tail[0], head[-1:] + tail[1:2]):
            yield head + tail[1:], "del"
        if tail and "sub" in kinds:
            for c in _LETTERS:
                if c != tail[0] and _slip(tail[0], c, vowels=True):
                    yield head + c + tail[1:], "sub"
        if len(tail) > 1 and tail[0] != tail[1] and "tr" in kinds:
            yield head + tail[1] + tail[0] + tail[2:], "tr"
        if "ins" in kinds:
            for c in _LETTERS:
                yield head + c + tail, "ins"


def _slip(typed: str, near: str, *, vowels: bool = False) -> bool:
    """Whether ``typed`` is an easy slip next to any letter of ``near``."""
    return any(
        typed == n or n in _NEIGHBOURS.get(typed, "") or (vowels and {typed, n} <= _VOWELS)
        for n in near
    )


def _undo_slip(candidate: str) -> Iterator[tuple[str, str]]:
    """The strings one slip of kind ``ins`` or ``tr`` short of ``candidate``."""
    for i in range(len(candidate)):
        yield candidate[:i] + candidate[i + 1 :], "ins"
        if i + 1 < len(candidate) and candidate[i] != candidate[i + 1]:
            yield candidate[:i] + candidate[i + 1] + candidate[i] + candidate[i + 2 :], "tr"


def _candidate_words(text: str) -> Iterator[tuple[int, str, list[str]]]:
    """(offset, word, parts of its hyphenated compound) for each word that is
    plain prose and may be checked.

    Skipped: chunks with digits, underscores, slashes, dots or @ inside (code,
    URLs, paths, e-mail), backquoted code, one word in quotes, ``_private`` names,
    hyphenated names of three or more parts (``set-iam-policy``), ALL-CAPS,
    inner capitals, capitalized words that do not start a sentence (names), the
    rest of a word hyphenated across a line break, and any word the text itself
    also uses as a name or inside code (``libgo`` next to ``libgo-testsuite:``,
    ``Falk`` next to ``to Falk``).
    """
    names: set[str] = set()
    found: list[tuple[int, str, list[str]]] = []
    for chunk in _CHUNK.finditer(text):
        core = chunk.group("core")
        if not core:
            continue
        lead, trail = chunk.group("lead"), chunk.group("trail")
        lone_underscore = ("_" in lead) != ("_" in trail)
        # one word in quotes is named, not used ("ccache", 'kinit'): leave it
        quoted = lead.endswith(_QUOTES) and trail.startswith(_QUOTES) and _WORD.fullmatch(core)
        if not _PROSE.fullmatch(core) or core.count("-") >= 2 or lone_underscore or quoted:
            names.update(w.lower() for w in _NAME_PART.findall(core))
            continue
        base = chunk.start("core")
        if _LINE_BREAK_HYPHEN.search(text[max(0, base - 80) : base]):
            continue
        compound = core.split("-") if "-" in core else []
        for match in _WORD.finditer(core):
            word = match.group()
            start = base + match.start()
            if word.islower() or (word[1:].islower() and _starts_sentence(text, start)):
                found.append((start, word, compound))
            else:
                names.add(word.lower())
    for start, word, compound in found:
        if word.lower() not in names:
            yield start, word, compound


def _starts_sentence(text: str, start: int) -> bool:
    """True at the start of the text or after a full stop (not after a line
    break: lists of names start lines too)."""
    head = text[max(0, start - 200) : start].rstrip(" \t\r\n\"'([{*#>-")  # quotes, list marks
    return head.endswith((".", "!", "?")) or (not head and start <= 200)
