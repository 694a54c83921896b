"""What a run tells the user: unified diffs, the one-line summary, the exit code."""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["changed", "unchanged", "dropped", "failed", "skipped"]
Mode = Literal["diff", "in-place", "check", "filter"]

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def unified_diff(label: str, old: str, new: str) -> str:
    """``old`` -> ``new`` like ``git diff``: ``a/`` and ``b/`` prefixes, for ``patch -p1``."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{label}",
        tofile=f"b/{label}",
    )
    out = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


@dataclass
class Summary:
    """Counts of outcomes; ``interrupted`` when Ctrl-C stopped the run early."""

    total: int
    outcomes: Counter[str] = field(default_factory=Counter)
    interrupted: bool = False

    def add(self, outcome: Outcome) -> None:
        self.outcomes[outcome] += 1

    def line(self, mode: Mode, seconds: float) -> str:
        """The one-line summary printed on stderr at the end."""
        done = sum(self.outcomes[k] for k in ("changed", "unchanged", "dropped", "failed"))
        changed = {"diff": "would change", "check": "would change"}.get(mode, "changed")
        parts = [
            f"{done} file{'s' if done != 1 else ''}",
            f"{self.outcomes['changed']} {changed}",
            f"{self.outcomes['unchanged']} unchanged",
            f"{self.outcomes['dropped']} dropped",
            f"{self.outcomes['failed']} failed",
        ]
        if self.outcomes["skipped"]:
            parts.append(f"{self.outcomes['skipped']} skipped")
        head = f"interrupted after {done} of {self.total} files: " if self.interrupted else ""
        return f"llm-flows correct: {head}{', '.join(parts)} ({seconds:.1f}s)"

    def exit_code(self, mode: Mode) -> int:
        """0 done, 1 ``--check`` found something, 2 a file failed, 130 interrupted."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.outcomes["failed"]:
            return EXIT_ERROR
        if mode == "check" and self.outcomes["changed"]:
            return EXIT_FINDINGS
        return EXIT_OK
