"""Read text files faithfully and write them back atomically.

A file is read as bytes and decoded as UTF-8 (a byte-order mark is kept aside);
a file whose line endings are all CRLF is handled as LF and written back as
CRLF, so the model and the merge never see a stray ``\\r``. Writing goes to a
temporary file in the same folder, is flushed to disk, gets the original's
permissions and replaces the original in one rename: a reader (or a crash, or
Ctrl-C) sees the old file or the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

BOM = b"\xef\xbb\xbf"
SNIFF = 8192


class NotText(ValueError):
    """The file is binary or not UTF-8; the message says which."""


class ChangedOnDisk(Exception):
    """The file no longer holds what the caller last read; nothing was written."""


@dataclass(frozen=True)
class TextFile:
    """A file's bytes as read, and its text as the model should see it."""

    raw: bytes
    text: str
    bom: bool = False
    crlf: bool = False

    def encode(self, text: str) -> bytes:
        """``text`` in this file's encoding conventions (BOM, line endings)."""
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return (BOM if self.bom else b"") + text.encode("utf-8")


def decode(raw: bytes) -> TextFile:
    """The text of ``raw``; raises :class:`NotText` for binary or non-UTF-8 data."""
    if b"\0" in raw[:SNIFF]:
        raise NotText("binary file")
    bom = raw.startswith(BOM)
    try:
        text = raw[len(BOM) if bom else 0 :].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotText(f"not UTF-8 text (byte {exc.start})") from exc
    crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
    return TextFile(raw, text.replace("\r\n", "\n") if crlf else text, bom, crlf)


def read_text(path: Path) -> TextFile:
    """Read and decode ``path`` (raises OSError or :class:`NotText`)."""
    return decode(path.read_bytes())


def looks_binary(path: Path) -> bool:
    """A cheap check for walking folders: a NUL byte near the start."""
    try:
        with path.open("rb") as handle:
            return b"\0" in handle.read(SNIFF)
    except OSError:
        return False


def atomic_write(path: Path, data: bytes, *, expected: bytes | None = None) -> None:
    """Replace ``path``'s content with ``data`` in one rename, keeping its permissions.

    A symlink is followed (the link stays a link). A read-only file is refused
    rather than silently replaced, since the rename would otherwise succeed.
    With ``expected``, the file is compared with it once the new content is on
    disk, just before the rename, and :class:`ChangedOnDisk` is raised instead of
    replacing a save made meanwhile (the window left is the compare and rename).
    """
    target = Path(os.path.realpath(path))
    info = target.stat()
    if not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, "file is not writable", str(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(info.st_mode))
        if (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
            with contextlib.suppress(OSError):
                os.chown(tmp, info.st_uid, info.st_gid)
        if expected is not None and target.read_bytes() != expected:
            raise ChangedOnDisk(str(path))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
