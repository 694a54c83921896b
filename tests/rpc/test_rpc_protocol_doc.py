"""docs/protocol.md's worked exchange is what the daemon sends today, frame for frame.

The documented requests are replayed by ``capture_protocol.py`` against a real
daemon; its output must equal the document's section once the values that
change from run to run (clock times, ages, a retry's random backoff, and the
lengths of the frames holding them) are masked. Regenerate the section with
``.venv/bin/python tests/rpc/capture_protocol.py`` when the protocol changes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "protocol.md"
START = "#### initialize"
#: what changes from run to run; a frame holding one also changes length
VOLATILE = re.compile(
    r'("(?:age|created|at|finished)":)[0-9.e+-]+|(retry \d+ of \d+ in )[0-9.]+( s)'
)
FRAME = re.compile(r"Content-Length: (\d+)\\r\\n\\r\\n")


def mask(text: str) -> str:
    lines = []
    for line in text.splitlines():
        masked = VOLATILE.sub(lambda m: (m[1] or m[2]) + "#" + (m[3] or ""), line)
        if masked != line:
            masked = FRAME.sub("Content-Length: #\\\\r\\\\n\\\\r\\\\n", masked)
        lines.append(masked)
    return "\n".join(lines)


def test_the_daemon_s_documented_frames_have_the_lengths_they_declare() -> None:
    """Checks what the comparison masks; some client frames lie about their length on purpose."""
    section = DOC.read_text(encoding="utf-8").split(START, 1)[1]
    frames = 0
    for line in section.splitlines():
        if not line.startswith("<-- ") or "bytes in all)" in line:
            continue
        parts = FRAME.split(line[4:])[1:]  # length, body, length, body...
        for length, body in zip(parts[::2], parts[1::2], strict=True):
            assert len(body.encode("utf-8")) == int(length), line
            frames += 1
    assert frames > 60


def test_the_worked_exchange_is_what_the_daemon_sends_today() -> None:
    captured = subprocess.run(
        [sys.executable, str(HERE / "capture_protocol.py")],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=True,
    ).stdout
    documented = START + DOC.read_text(encoding="utf-8").split(START, 1)[1]
    assert mask(captured).rstrip() == mask(documented).rstrip()
