"""Correct many files concurrently: read, correct the prose, then diff, check or write.

The correction itself is a function handed in (:mod:`.engine` builds it from the
command table), so this module only decides *what* is sent and what happens to
the answer. Writing re-reads the file first: if it changed since it was read,
the word-level three-way merge (base = what was read, ours = what is there now,
theirs = the correction) decides, and a dropped merge leaves the file alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..merge import MergePolicy, merge
from .cache import Cache
from .markdown import split
from .mask import has_words, mask, padded
from .progress import Progress
from .report import Mode, Outcome, Summary, unified_diff
from .textfile import ChangedOnDisk, NotText, TextFile, atomic_write, decode, read_text

Correct = Callable[[str], Awaitable[str]]
#: Attempts at writing a file that keeps changing on disk before leaving it alone.
_WRITE_TRIES = 3


class CorrectionError(Exception):
    """The model call for a file failed, timed out or was rejected; the message says why."""


@dataclass(frozen=True)
class Result:
    """What became of one file: what to print on stdout, and a note for stderr."""

    outcome: Outcome
    output: str = ""
    note: str = ""


class TextCorrector:
    """Correct one text: from the cache, or through the model with protected parts masked."""

    def __init__(self, correct: Correct, cache: Cache, cache_key: Callable[[str], str]) -> None:
        self.correct = correct
        self.cache = cache
        self.cache_key = cache_key

    async def __call__(self, text: str) -> str:
        key = self.cache_key(text)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        result = await self._correct(text)
        self.cache.put(key, result)
        return result

    async def _correct(self, text: str) -> str:
        pieces = split(text)
        masked = mask(pieces)
        if masked is not None:
            if not has_words(masked.text):
                return text
            restored = masked.restore(await self.correct(masked.text))
            if restored is not None:
                return restored
        # markers damaged, or the text has marker characters of its own: prose runs one by one
        answers = iter(await asyncio.gather(*(self._piece(p.text) for p in pieces if p.prose)))
        return "".join(next(answers) if piece.prose else piece.text for piece in pieces)

    async def _piece(self, text: str) -> str:
        if not has_words(text):
            return text
        return padded(text, await self.correct(text.strip()))


class Batch:
    """One run over many files; prints diffs in file order and notes on stderr."""

    def __init__(
        self,
        corrector: TextCorrector,
        *,
        mode: Mode,
        jobs: int,
        out: TextIO,
        progress: Progress,
        policy: MergePolicy | None = None,
    ) -> None:
        self.corrector = corrector
        self.policy = policy
        self.mode = mode
        self.jobs = max(1, jobs)
        self.out = out
        self.progress = progress

    async def run(self, files: Sequence[Path], summary: Summary) -> None:
        """Correct ``files``; Ctrl-C stops the model calls but never a write."""
        results: dict[int, Result] = {}
        emitted = 0
        queue = list(enumerate(files))
        queue.reverse()

        def finish(index: int, path: Path, result: Result) -> None:
            nonlocal emitted
            results[index] = result
            summary.add(result.outcome)
            if result.note:
                self.progress.note(f"llm-flows correct: {path}: {result.note}")
            self.progress.advance()
            while emitted in results:
                self.out.write(results[emitted].output)
                emitted += 1
            self.out.flush()

        writes = _Writes(self.jobs)

        async def worker() -> None:
            while queue:
                index, path = queue.pop()
                step = await self.prepare(path)
                if isinstance(step, Result):
                    finish(index, path, step)
                    continue
                await writes.submit(step, functools.partial(finish, index, path))

        workers = [asyncio.ensure_future(worker()) for _ in range(min(self.jobs, len(files)))]

        def interrupt() -> None:
            summary.interrupted = True
            for task in workers:
                task.cancel()

        try:
            with _on_first_ctrl_c(interrupt):
                done = await asyncio.gather(*workers, return_exceptions=True)
                done += await writes.wait()
            for failure in done:
                if isinstance(failure, Exception):
                    raise failure
        finally:
            writes.close()
            for index in sorted(i for i in results if i >= emitted):
                self.out.write(results[index].output)
            self.out.flush()

    async def prepare(self, path: Path) -> Result | Callable[[], Result]:
        """Read and correct one file: its result, or (``--in-place``) the write still to do."""
        try:
            original = read_text(path)
        except NotText as exc:
            return Result("skipped", note=f"skipped: {exc}")
        except OSError as exc:
            return Result("failed", note=f"failed: {exc.strerror or exc}")
        try:
            corrected = await self.corrector(original.text)
        except CorrectionError as exc:
            return Result("failed", note=f"failed: {exc}")
        if corrected == original.text:
            return Result("unchanged")
        if self.mode == "check":
            return Result("changed", note="would change")
        if self.mode == "diff":
            return Result("changed", _diff(path, original, corrected))
        return functools.partial(self._write, path, original, corrected)

    def _write(self, path: Path, original: TextFile, corrected: str) -> Result:
        """Write the correction, merging with whatever changed on disk meanwhile.

        A save that lands while the new file is being written makes it start
        over from that save (a few times at most; then the file is left alone).
        """
        try:
            for _ in range(_WRITE_TRIES):
                now = path.read_bytes()
                target, merged = original, corrected
                if now != original.raw:
                    target = decode(now)
                    result = merge(original.text, target.text, corrected, self.policy)
                    if result.status == "dropped":
                        reason = result.reason or "the merge dropped the correction"
                        return Result(
                            "dropped", note=f"dropped: changed while correcting; {reason}"
                        )
                    merged = result.text
                    if merged == target.text:
                        return Result("unchanged")
                try:
                    atomic_write(path, target.encode(merged), expected=now)
                except ChangedOnDisk:
                    continue
                return Result("changed")
        except NotText as exc:
            return Result("dropped", note=f"dropped: changed while correcting; now {exc}")
        except OSError as exc:
            return Result("failed", note=f"failed: cannot write: {exc.strerror or exc}")
        return Result("dropped", note="dropped: the file kept changing while it was written")


class _Writes:
    """``--in-place`` writes, on one thread of their own, beside the next files' model calls.

    Each write's ~20 system calls hand the GIL back and forth with the busy
    loop; the six threads of the default pool doing that cost ~2x the CPU of
    ``--diff`` (bench/batch.py, docs/batch.md). At most ``limit`` wait; every
    write submitted is waited for, even on Ctrl-C.
    """

    def __init__(self, limit: int) -> None:
        self._room = asyncio.Semaphore(limit)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="llm-flows-write")
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, step: Callable[[], Result], done: Callable[[Result], None]) -> None:
        """Queue ``step`` (waiting while ``limit`` are queued); ``done`` gets its result."""
        await self._room.acquire()
        task = asyncio.ensure_future(self._run(step, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, step: Callable[[], Result], done: Callable[[Result], None]) -> None:
        try:
            done(await asyncio.get_running_loop().run_in_executor(self._thread, step))
        finally:
            self._room.release()

    async def wait(self) -> list[BaseException | None]:
        """Wait for every write submitted; their failures (bugs), if any."""
        return await asyncio.gather(*self._tasks, return_exceptions=True)

    def close(self) -> None:
        """Drop writes not started (a second Ctrl-C); one under way still ends."""
        self._thread.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def _on_first_ctrl_c(callback: Callable[[], None]) -> Iterator[None]:
    """Run ``callback`` on the first Ctrl-C; a second one is the default again."""
    loop = asyncio.get_running_loop()

    def interrupt() -> None:
        loop.remove_signal_handler(signal.SIGINT)
        callback()

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


def _diff(path: Path, original: TextFile, corrected: str) -> str:
    label = path.as_posix().lstrip("/")
    newline = "\r\n" if original.crlf else "\n"
    return unified_diff(
        label, original.text.replace("\n", newline), corrected.replace("\n", newline)
    )


async def filter_text(raw: bytes, corrector: TextCorrector) -> tuple[bytes, str | None]:
    """Stdin mode: the corrected bytes, or the input unchanged and an error message."""
    try:
        original = decode(raw)
        return original.encode(await corrector(original.text)), None
    except (NotText, CorrectionError) as exc:
        return raw, str(exc)
