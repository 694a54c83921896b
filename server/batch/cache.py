"""Remember finished corrections so a re-run over a large tree skips what is done.

An entry is keyed by a hash of everything that decides the answer: the file's
text, the flow, the model, the flow's version (its templates and settings), the
instruction, and this package's own version of splitting, which shapes the prompt.
It holds the corrected text. Entries live under ``$XDG_CACHE_HOME/llm-flows/batch``.
A cache must never break a run: unreadable or unwritable entries are misses.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..config import cache_dir

#: bump when the way files are split or sent changes, so old entries stop matching
FORMAT = "batch-1"


class Cache:
    """Corrected texts by key; ``enabled=False`` (``--no-cache``) neither reads nor writes."""

    def __init__(self, root: Path | None = None, *, enabled: bool = True) -> None:
        self.root = root or cache_dir() / "batch"
        self.enabled = enabled

    @staticmethod
    def key(text: str, **decided_by: Any) -> str:
        """A key for ``text`` and whatever else decides the result (flow, model, ...)."""
        head = json.dumps({"format": FORMAT, **decided_by}, sort_keys=True, default=str)
        digest = hashlib.sha256(head.encode("utf-8"))
        digest.update(b"\0")
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:]

    def get(self, key: str) -> str | None:
        """The stored result, or None."""
        if not self.enabled:
            return None
        try:
            return self._path(key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def put(self, key: str, text: str) -> None:
        """Store a result (atomically; failures are ignored)."""
        if not self.enabled:
            return
        path = self._path(key)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
                os.replace(tmp, path)
            except OSError:
                os.unlink(tmp)
                raise
