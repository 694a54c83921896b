"""Split Markdown (and plain text) into prose the model may correct and parts it must not see.

Code blocks (fenced, indented), math blocks, front matter, HTML blocks and comments,
link reference definitions, inline code, inline HTML, link targets, autolinks, bare
URLs and e-mail addresses are *protected*: never sent, never changed. When in doubt a
part is protected (an indented block inside a list is treated as code), because a
missed correction costs little and a changed code block costs a lot.

Concatenating the pieces of :func:`split` gives back the input exactly, so the
corrected prose can be spliced back around untouched protected pieces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    """A run of the text: prose to correct, or a protected part to keep as it is."""

    text: str
    prose: bool


_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,}|\$\$)(.*)$")
_BLANK = re.compile(r"^[ \t]*\r?\n?$")
_HTML_BLOCK = re.compile(
    r"^ {0,3}(?:<!--|<\?|<![A-Za-z]|<!\[CDATA\[|</?[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$))"
)
_RAW_HTML = re.compile(r"^ {0,3}<(pre|script|style|textarea)(?:[\s>]|$)", re.IGNORECASE)
_REFERENCE = re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]*\S")

_URL_END = r"""[^\s<>.,;:!?'")\]*_]"""
_INLINE = re.compile(
    "|".join(
        (
            r"(?P<escape>\\[!-/:-@\[-`{-~])",
            r"(?P<code>(?<!`)(?P<ticks>`+)(?!`)(?:(?!\n[ \t]*\r?\n)[\s\S])*?(?<!`)(?P=ticks)(?!`))",
            r"(?P<comment><!--[\s\S]*?-->)",
            r"(?P<autolink><(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*|[^\s@<>]+@[^\s@<>]+)>)",
            r"(?P<tag></?[A-Za-z][A-Za-z0-9-]*(?:\s+[^<>]*?)?/?>)",
            r"(?P<target>\]\(\s*(?:<[^<>\n]*>|(?:[^()\s]|\([^()\s]*\))*)"
            r"""(?:\s+(?:"[^"]*"|'[^']*'|\([^()]*\)))?\s*\))""",
            r"(?P<reflabel>\]\[[^\]\n]*\])",
            rf"(?P<url>(?:\b[A-Za-z][A-Za-z0-9+.-]*://|\bwww\.)[^\s<>]*{_URL_END})",
            r"(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b)",
        )
    )
)


def split(text: str) -> list[Piece]:
    """The pieces of ``text``, alternating prose and protected, in order."""
    pieces: list[Piece] = []
    prose: list[str] = []

    def protect(part: str) -> None:
        if prose:
            pieces.extend(_split_inline("".join(prose)))
            prose.clear()
        if part:
            pieces.append(Piece(part, prose=False))

    lines = text.splitlines(keepends=True)
    i = _front_matter_end(lines)
    protect("".join(lines[:i]))
    while i < len(lines):
        end = _block_end(lines, i)
        if end is None:
            prose.append(lines[i])
            i += 1
        else:
            protect("".join(lines[i:end]))
            i = end
    protect("")
    return _joined(pieces)


def _joined(pieces: list[Piece]) -> list[Piece]:
    """Adjacent pieces of the same kind made one."""
    out: list[Piece] = []
    for piece in pieces:
        if out and out[-1].prose == piece.prose:
            out[-1] = Piece(out[-1].text + piece.text, piece.prose)
        else:
            out.append(piece)
    return out


def _front_matter_end(lines: list[str]) -> int:
    """How many leading lines are YAML (``---``) or TOML (``+++``) front matter."""
    if not lines:
        return 0
    opener = lines[0].rstrip("\r\n")
    if opener not in ("---", "+++"):
        return 0
    closers = ("---", "...") if opener == "---" else ("+++",)
    for j in range(1, len(lines)):
        if lines[j].rstrip("\r\n") in closers:
            return j + 1
    return 0


def _block_end(lines: list[str], i: int) -> int | None:
    """If a protected block starts at line ``i``, the index just past it; else None."""
    line = lines[i]
    fence = _FENCE.match(line.rstrip("\r\n"))
    if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
        marker = fence.group(1)
        closer = re.compile(
            r"^[ \t>]*" + re.escape(marker[0]) + "{" + str(len(marker)) + r",}[ \t]*$"
            if marker != "$$"
            else r"^.*\$\$[ \t]*$"
        )
        if marker == "$$" and fence.group(2).rstrip().endswith("$$"):
            return i + 1
        for j in range(i + 1, len(lines)):
            if closer.match(lines[j].rstrip("\r\n")):
                return j + 1
        return len(lines)
    previous_blank = i == 0 or _BLANK.match(lines[i - 1]) is not None
    if previous_blank and (line.startswith(("    ", "\t"))) and line.strip():
        end = i + 1
        last = end
        while end < len(lines) and (
            lines[end].startswith(("    ", "\t")) or _BLANK.match(lines[end])
        ):
            end += 1
            if lines[end - 1].strip():
                last = end
        return last
    if line.lstrip(" ").startswith("<!--"):
        for j in range(i, len(lines)):
            if "-->" in lines[j]:
                return j + 1
        return len(lines)
    raw = _RAW_HTML.match(line)
    if raw:
        closing = f"</{raw.group(1).lower()}>"
        for j in range(i, len(lines)):
            if closing in lines[j].lower():
                return j + 1
        return len(lines)
    if _HTML_BLOCK.match(line) or _REFERENCE.match(line):
        end = i + 1
        while end < len(lines) and not _BLANK.match(lines[end]):
            end += 1
        return end
    return None


def _split_inline(text: str) -> list[Piece]:
    """Split a run of prose lines at inline code, HTML, link targets and URLs."""
    pieces: list[Piece] = []
    start = 0
    for match in _INLINE.finditer(text):
        if match.lastgroup == "escape":
            continue
        if match.start() > start:
            pieces.append(Piece(text[start : match.start()], prose=True))
        pieces.append(Piece(match.group(0), prose=False))
        start = match.end()
    if start < len(text):
        pieces.append(Piece(text[start:], prose=True))
    return pieces
