"""The two ways ``llm-flows correct`` runs: over files and folders, or as a stdin filter.

Both return the exit code: 0 done, 1 ``--check`` found something to change,
2 a usage error or a file that failed, 130 interrupted.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from ..config import ConfigError, load_config
from .engine import Request, UsageError, open_engine
from .progress import Progress
from .report import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, Mode, Summary, unified_diff
from .run import Batch, filter_text
from .walk import find_files


def correct_paths(
    paths: Sequence[str],
    request: Request,
    *,
    mode: Mode,
    jobs: int | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Correct the files under ``paths``; diffs go to ``out``, notes and the summary to ``err``."""
    start = time.monotonic()
    out, err = out or sys.stdout, err or sys.stderr
    found = find_files(paths, include, exclude)
    if found.missing:
        for path in found.missing:
            err.write(f"llm-flows correct: {path}: no such file or folder\n")
        return EXIT_ERROR
    summary = Summary(total=len(found.files))
    progress = Progress(len(found.files), err)
    named = {Path(given) for given in paths}
    for skipped, why in found.skipped:
        summary.add("skipped")
        if skipped in named:
            progress.note(f"llm-flows correct: {skipped}: skipped: {why}")

    async def run() -> None:
        async with open_engine(load_config(), request) as engine:
            if jobs is not None and jobs > engine.max_concurrency:
                progress.note(
                    f"llm-flows correct: --jobs {jobs}, but model {engine.model_id!r} takes at "
                    f"most {engine.max_concurrency} calls at once (its max_concurrency); "
                    "the other files wait their turn"
                )
            batch = Batch(
                engine.corrector,
                mode=mode,
                jobs=jobs or engine.max_concurrency,
                out=out,
                progress=progress,
                policy=engine.policy,
            )
            await batch.run(found.files, summary)

    try:
        asyncio.run(run())
    except (ConfigError, UsageError) as exc:
        err.write(f"llm-flows correct: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        progress.close()
    err.write(summary.line(mode, time.monotonic() - start) + "\n")
    return summary.exit_code(mode)


def correct_stdin(
    request: Request,
    *,
    mode: Mode,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Read stdin, write the corrected text (or a diff) to stdout.

    On any failure the input is written back unchanged, so an editor filter
    (``:'<,'>!llm-flows correct -``) never replaces the user's text with nothing.
    """
    stdin, stdout = stdin or sys.stdin.buffer, stdout or sys.stdout.buffer
    err = err or sys.stderr
    raw = stdin.read()

    async def run() -> tuple[bytes, str | None]:
        async with open_engine(load_config(), request) as engine:
            return await filter_text(raw, engine.corrector)

    try:
        corrected, error = asyncio.run(run())
    except (ConfigError, UsageError) as exc:
        corrected, error = raw, str(exc)
    except KeyboardInterrupt:
        corrected, error = raw, "interrupted"
    changed = corrected != raw
    if mode == "diff":
        if changed:
            old = raw.decode("utf-8", "replace")
            stdout.write(unified_diff("-", old, corrected.decode("utf-8")).encode("utf-8"))
    elif mode != "check":
        stdout.write(corrected)
    stdout.flush()
    if error is not None:
        err.write(f"llm-flows correct: -: {error}\n")
        return EXIT_ERROR
    return EXIT_FINDINGS if mode == "check" and changed else EXIT_OK
