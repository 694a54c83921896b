"""``Content-Length`` framing: bytes in, message bodies (or framing errors) out.

Our own decoder rather than python-lsp-jsonrpc's ``JsonRpcStreamReader``,
which accepts only the exact header ``Content-Length: ``, re-dispatches the
previous message after a malformed length, and buffers a frame of any size.
This one is a pure state machine (no I/O, easy to fuzz) that

* accepts header names in any case and any spacing around the colon;
* refuses a body larger than ``max_message_bytes`` without buffering it;
* after garbage, resynchronises on the next ``Content-Length`` header, even
  one glued to the end of a body whose length was declared too long or too
  short, so the next well-formed frame is always served.

A raw ``Content-Length: N`` line cannot occur inside valid JSON (a raw line
break is illegal inside a string and the letters are illegal outside one), so
finding one inside a body proves the declared length was wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .codes import PARSE_ERROR, TOO_LARGE

#: the largest header block we wait for before calling it garbage
MAX_HEADER_BYTES = 4096

_HEADER_START = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)
_EMBEDDED_HEADER = re.compile(rb"content-length[ \t]*:[ \t]*\d+[ \t]*\r?\n", re.IGNORECASE)
#: the start of such a header, cut off by the end of the bytes received so far
_PARTIAL_HEADER = re.compile(
    b"(?:"
    + b"|".join(re.escape(b"content-length"[:n]) for n in range(1, 15))
    + rb")(?:[ \t]*:[ \t]*\d*[ \t]*\r?)?\Z",
    re.IGNORECASE,
)
#: how far back a search resumes, so a header split across two reads is still found
_OVERLAP = 64
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]*")


@dataclass(frozen=True)
class FrameError:
    """A frame that could not be read; ``code`` is the JSON-RPC error code to answer with."""

    code: int
    message: str


Frame = bytes | FrameError


class FrameDecoder:
    """Feed it bytes as they arrive; it returns complete bodies and framing errors in order."""

    def __init__(self, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        self._length: int | None = None  # declared length of the body being read
        self._keep = True  # False: the body is too large and is being discarded
        self._consumed = 0  # bytes of a discarded body already dropped from the buffer
        self._scanned = 0  # how far the buffer was searched for an embedded header
        self._resyncing = False

    def feed(self, data: bytes) -> list[Frame]:
        """Take ``data`` and return every frame it completes."""
        self._buffer += data
        frames: list[Frame] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            if frame:  # b"" marks a discarded body: nothing to hand on
                frames.append(frame)

    def _next(self) -> Frame | None:
        if self._resyncing and not self._resync():
            return None
        if self._length is None:
            return self._header()
        return self._body(self._length)

    def _resync(self) -> bool:
        """Drop bytes up to the next ``Content-Length`` header; False if none arrived yet."""
        found = _HEADER_START.search(self._buffer)
        if found is None:
            keep = len("content-length \t:")
            del self._buffer[: max(0, len(self._buffer) - keep)]
            return False
        del self._buffer[: found.start()]
        self._resyncing = False
        return True

    def _garbage(self, message: str) -> FrameError:
        """Report bad bytes at the front of the buffer and look for the next header."""
        del self._buffer[:1]
        self._resyncing = True
        return FrameError(PARSE_ERROR, message)

    def _header(self) -> Frame | None:
        del self._buffer[: len(self._buffer) - len(self._buffer.lstrip(b"\r\n"))]
        end = self._buffer.find(b"\n\r\n")
        blank = 3
        lf_end = self._buffer.find(b"\n\n")
        if lf_end != -1 and (end == -1 or lf_end < end):
            end, blank = lf_end, 2
        if end == -1:
            return self._incomplete_header()
        block = bytes(self._buffer[:end])
        for found in _HEADER_START.finditer(block, 1):
            if block[found.start() - 1 : found.start()] != b"\n":  # glued to garbage: resync
                return self._garbage(_describe_garbage(block[: found.start()]))
        length, problem = _parse_headers(block)
        if problem is not None or length is None:
            return self._garbage(problem or "header block without a Content-Length")
        del self._buffer[: end + blank]
        self._length, self._consumed, self._scanned = length, 0, 0
        self._keep = length <= self.max_message_bytes
        if not self._keep:
            return FrameError(
                TOO_LARGE,
                f"message of {length} bytes is larger than the limit of "
                f"{self.max_message_bytes} bytes (--max-message-bytes); it was skipped",
            )
        return self._body(length)

    def _incomplete_header(self) -> Frame | None:
        """Decide early whether a partial header can still become a valid one."""
        *complete, partial = self._buffer.split(b"\n")
        for line in complete:
            if _header_name(line) is None:
                return self._garbage(_describe_garbage(bytes(line)))
        if not _TOKEN.fullmatch(partial.split(b":", 1)[0].rstrip(b" \t\r")):
            return self._garbage(_describe_garbage(bytes(partial)))
        if len(self._buffer) > MAX_HEADER_BYTES:
            return self._garbage(f"header block longer than {MAX_HEADER_BYTES} bytes")
        return None

    def _body(self, length: int) -> Frame | None:
        """The body once complete; or, if a header starts inside it, an error and a rewind."""
        remaining = length - self._consumed
        embedded = _EMBEDDED_HEADER.search(self._buffer, max(0, self._scanned - _OVERLAP))
        if embedded is not None and embedded.start() < remaining:
            del self._buffer[: embedded.start()]
            self._length = None
            if not self._keep:  # already answered -32005
                return b""
            return FrameError(
                PARSE_ERROR,
                f"message shorter than its Content-Length of {length} bytes: "
                f"a new header began after {embedded.start()} bytes",
            )
        self._scanned = len(self._buffer)
        if len(self._buffer) < remaining:
            if not self._keep:
                dropped = max(0, len(self._buffer) - _OVERLAP)
                del self._buffer[:dropped]
                self._consumed += dropped
                self._scanned -= dropped
            return None
        partial = _PARTIAL_HEADER.search(self._buffer, max(0, remaining - _OVERLAP))
        if partial is not None and partial.start() < remaining:
            return None  # a header may be starting inside this (invalid) body: wait and see
        body = bytes(self._buffer[:remaining]) if self._keep else b""
        del self._buffer[:remaining]
        self._length = None
        return body


def _parse_headers(block: bytes) -> tuple[int | None, str | None]:
    """The declared length of a header block, or a sentence saying what is wrong with it."""
    length: int | None = None
    for raw in block.split(b"\n"):
        name = _header_name(raw)
        if name is None:
            return None, _describe_garbage(raw)
        if name.lower() != b"content-length":
            continue
        text = raw.partition(b":")[2].strip()
        if not text.isdigit() or len(text) > 18:
            shown = text[:40].decode("ascii", "replace")
            return None, f"Content-Length is not a number of bytes: {shown!r}"
        length = int(text)
    return length, None


def _header_name(line: bytes | bytearray) -> bytes | None:
    """The name of a ``Name: value`` header line, or None if the line is not one."""
    name, colon, _ = bytes(line).partition(b":")
    name = name.rstrip(b" \t")
    return name if colon and name and _TOKEN.fullmatch(name) else None


def _describe_garbage(line: bytes) -> str:
    shown = line.rstrip(b"\r")[:40].decode("utf-8", "replace")
    return f"expected a 'Content-Length: N' header, got {shown!r}"


def encode_frame(body: bytes) -> bytes:
    """One frame: the header our clients (jsonrpc.el, vim.lsp.rpc) expect, then ``body``."""
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
