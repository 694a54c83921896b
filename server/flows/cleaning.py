"""Turn a model's answer into a proposal shaped like the user's text.

Models wrap answers in code fences, open with "Here is the corrected text:",
close with "I fixed two typos.", drop the final newline, re-wrap lines and
answer CRLF text with LF. None of that may reach the user's buffer: strip the
chatter, then give back the input's own leading/trailing whitespace, line
endings and (for corrections) line breaks.
"""

from __future__ import annotations

import re

from ..merge import diff_items
from .errors import Rejected
from .words import align, split_words

_FENCE = re.compile(r"\A```[^\n`]*\n(?P<body>.*?)\n?```\Z", re.DOTALL)
_PREAMBLE = re.compile(
    r"""\A\s*(?:(?:sure|certainly|okay|ok|of\ course|absolutely)\b[^\n]*?[.!,]\s*)?
    (?:here(?:'s|\ is|\ are)\b|below\ is\b|the\ (?:corrected|revised|rewritten|edited)\b|
       (?:corrected|revised|rewritten|edited)\ (?:text|version)\b|corrected\b|output\b)
    [^\n]*:[ \t]*\n""",
    re.IGNORECASE | re.VERBOSE,
)
_ACK = re.compile(r"\A\s*(?:sure|certainly|okay|ok|of course|absolutely)[.!,]?[ \t]*\n", re.I)
_CHATTER = re.compile(
    r"""\A(?:-{3,}\s*\n\s*)?(?:\*\*)?(?:note|notes|explanation|changes|corrections|
    i\ (?:have\ |'ve\ )?(?:corrected|fixed|made|changed|kept|only|did)|i\ hope|let\ me\ know|
    (?:the\ |all\ )?(?:changes|corrections|edits)\ (?:made|i\ made|are)|
    (?:no\ (?:other\ )?changes)|if\ you|feel\ free|this\ (?:version|text)\ )""",
    re.IGNORECASE | re.VERBOSE,
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
#: where a note added after the text may start: a new line, or a parenthesis
_TAIL_START = re.compile(r"\n\s*|[ \t]+(?=\()")
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"))


def clean_output(answer: str, original: str, *, keep_line_breaks: bool) -> str:
    """The model's ``answer`` for ``original``, with chatter removed and the
    original's outer whitespace and line endings (and line breaks) restored."""
    text = answer.replace("\r\n", "\n")
    source = original.replace("\r\n", "\n")
    if not source.strip():
        return original
    text = _strip_preamble(text, source)
    text = _strip_chatter(text, source)
    text = _strip_wrapping(text, source)
    if not text.strip():
        raise Rejected("the model's answer was empty; your text was left as it is")
    if keep_line_breaks:
        text = restore_breaks(source, _strip_added_note(text, source))
    lead = source[: len(source) - len(source.lstrip())]
    trail = source[len(source.rstrip()) :]
    text = lead + text.strip() + trail
    return text.replace("\n", "\r\n") if "\r\n" in original else text


def _strip_preamble(text: str, source: str) -> str:
    for pattern in (_ACK, _PREAMBLE):
        match = pattern.match(text)
        if match and not pattern.match(source):
            text = text[match.end() :]
    return text


def _strip_chatter(text: str, source: str) -> str:
    """Drop paragraphs the answer has beyond the input's when the first looks like chatter."""
    expected = len(_PARAGRAPH_BREAK.split(source.strip()))
    breaks = list(_PARAGRAPH_BREAK.finditer(text.strip()))
    body = text.strip()
    for match in breaks[expected - 1 :]:
        rest = body[match.end() :]
        if _CHATTER.match(rest):
            return body[: match.start()]
    return text


def _strip_added_note(text: str, source: str) -> str:
    """Drop a note after the text, on a line of its own or in parentheses ("Note: I
    fixed two typos."), when it holds none of the input's words.

    A correction never adds lines, but a model that re-wrapped the text may put
    the user's own words on a line that starts like a note: a tail stays unless
    cutting it leaves as many of the input's words in place.
    """
    body = text.strip()
    words = split_words(source)[0]
    kept = None
    for match in _TAIL_START.finditer(body):
        if not _CHATTER.match(body[match.end() :].lstrip("(")):
            continue
        kept = _kept(words, body) if kept is None else kept
        if _kept(words, body[: match.start()]) == kept:
            return body[: match.start()]
    return text


def _kept(words: list[str], text: str) -> int:
    """How many of ``words`` a minimal word diff to ``text`` keeps."""
    return sum(n for op, n in diff_items(words, split_words(text)[0]) if op == "=")


def _strip_wrapping(text: str, source: str) -> str:
    """Remove a code fence or quotes around the whole answer (unless the input had them)."""
    stripped, original = text.strip(), source.strip()
    fence = _FENCE.match(stripped)
    if fence and not original.startswith("```"):
        return fence.group("body")
    for left, right in _QUOTES:
        wrapped = stripped.startswith(left) and stripped.endswith(right) and len(stripped) > 1
        if wrapped and not (original.startswith(left) and original.endswith(right)):
            inner = stripped[len(left) : -len(right)]
            if left not in inner and right not in inner:
                return inner
    return text


def restore_breaks(original: str, answer: str) -> str:
    """``answer`` with the whitespace between words taken from ``original``.

    Between words the answer kept, the original's whitespace is used as it is;
    inside a changed stretch the original's line breaks are put back at the
    same relative places and the answer's own line breaks become spaces.
    """
    a_words, a_gaps = split_words(original)
    b_words, b_gaps = split_words(answer)
    if not a_words or not b_words:
        return answer
    gaps = list(b_gaps)
    for op in align(a_words, b_words):
        if op.equal:
            for k in range(1, op.a1 - op.a0):
                gaps[op.b0 + k] = a_gaps[op.a0 + k]
            continue
        region = range(max(op.b0, 1), min(op.b1, len(b_words) - 1) + 1)
        if op.a1 - op.a0 == op.b1 - op.b0:
            for k in region:
                gaps[k] = a_gaps[op.a0 + k - op.b0]
            continue
        for k in region:
            if "\n" in gaps[k]:
                gaps[k] = " "
        scale = (op.b1 - op.b0) / max(1, op.a1 - op.a0)
        for g in range(op.a0, op.a1 + 1):
            target = op.b0 + round((g - op.a0) * scale)
            if "\n" in a_gaps[g] and target in region:
                gaps[target] = a_gaps[g]
    return "".join(gap + word for gap, word in zip(gaps, b_words, strict=False)) + gaps[-1]
