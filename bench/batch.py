"""Benchmark ``llm-flows correct``: throughput against a slow server, and cold start.

1. 1,000 small Markdown files through an OpenAI-compatible server on loopback that
   answers every chat completion (streamed as SSE, like the ``openai`` backend
   expects) after 50 ms, with ``--jobs 32``: our wall time (a fresh process, start-up
   included) next to the ideal, files x latency / jobs. ``--diff`` with an empty
   cache, again with everything cached, then ``--in-place``.
2. Cold start: ``llm-flows correct`` on one 10 KB Markdown file with the offline
   ``spell`` model, a fresh process each time (target <= 1 s).

Run: ``.venv/bin/python bench/batch.py [--files 1000] [--latency 0.05] [--jobs 32]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

COLD_START_TARGET = 1.0  # seconds, from the issue


class SlowServer:
    """``POST /v1/chat/completions`` answered after ``latency`` seconds with the user's text
    ('teh' fixed), streamed as SSE; HTTP/1.1 keep-alive, one asyncio loop in a thread."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.requests = 0
        self.in_flight = 0
        self.peak = 0
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> SlowServer:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=256)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
                body = json.loads(await reader.readexactly(length))
                writer.write(await self._answer(body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, body: dict[str, object]) -> bytes:
        self.requests += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        messages = body["messages"]
        assert isinstance(messages, list)
        text = re.sub(r"\bteh\b", "the", messages[-1]["content"])
        events = [
            {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ]
        payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        data = payload.encode()
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            + f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )


def small_markdown(i: int) -> str:
    return (
        f"# Note {i}\n\nI saw teh report on item {i} and it looks fine.\n"
        f"Run `make check-{i}` and see https://example.com/notes/{i} for more.\n\n"
        "```sh\necho teh code stays\n```\n"
    )


def cli() -> list[str]:
    exe = shutil.which("llm-flows", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "llm_flows"]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    start = time.perf_counter()
    result = subprocess.run(args, env=env, capture_output=True, check=False)
    return time.perf_counter() - start, result


def throughput(work: Path, files: int, latency: float, jobs: int) -> None:
    folder = work / "docs"
    folder.mkdir()
    for i in range(files):
        (folder / f"note{i:04d}.md").write_text(small_markdown(i), encoding="utf-8")
    ideal = files * latency / jobs
    with SlowServer(latency) as server:
        config = work / "config.toml"
        config.write_text(
            'default_model = "bench"\n[models.bench]\nbackend = "openai"\n'
            f'base_url = "http://127.0.0.1:{server.port}/v1"\nmax_concurrency = {jobs}\n',
            encoding="utf-8",
        )
        env = {**os.environ, "LLM_FLOWS_CONFIG": str(config), "XDG_CACHE_HOME": str(work)}
        print(f"{files} files, server latency {latency * 1000:.0f} ms, --jobs {jobs}")
        print(f"  ideal (files x latency / jobs): {ideal:6.2f} s")
        runs = (
            ("--diff, cache empty", ["--diff"]),
            ("--diff, all cached", ["--diff"]),
            ("--in-place --no-cache", ["--in-place", "--no-cache"]),
        )
        for label, flags in runs:
            before = server.requests
            seconds, result = timed([*cli(), "correct", *flags, "-j", str(jobs), str(folder)], env)
            if result.returncode != 0:
                print(result.stderr.decode(), file=sys.stderr)
                raise SystemExit(f"llm-flows correct {' '.join(flags)} failed")
            print(
                f"  {label:<22}: {seconds:6.2f} s  ({seconds / ideal:5.2f}x ideal, "
                f"{server.requests - before} requests, peak {server.peak} in flight)"
            )
            print(f"    {result.stderr.decode().strip().splitlines()[-1]}")
    fixed = (folder / "note0000.md").read_text(encoding="utf-8")
    assert "I saw the report" in fixed and "echo teh code stays" in fixed, fixed


def cold_start(work: Path) -> None:
    paragraphs = []
    for i in range(80):
        paragraphs.append(
            f"Paragraph {i}: yesterday I recieved the new laptop, and it is definately "
            f"faster than the old one; see `code {i}` and https://example.com/{i}.\n"
        )
    text = "# Cold start\n\n" + "\n".join(paragraphs)
    path = work / "ten-kb.md"
    path.write_text(text[: 10 * 1024], encoding="utf-8")
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(work / "cold-cache"),
        "XDG_CONFIG_HOME": str(work / "cold-config"),
    }
    env.pop("LLM_FLOWS_CONFIG", None)
    runs = []
    for _ in range(5):
        seconds, result = timed([*cli(), "correct", "--no-cache", str(path)], env)
        if result.returncode != 0:
            raise SystemExit(f"cold start run failed: {result.stderr.decode()}")
        runs.append(seconds)
    baseline, _ = timed([sys.executable, "-c", "pass"], env)
    size = path.stat().st_size
    median = sorted(runs)[2]
    print(f"cold start, one {size / 1024:.1f} KB file, offline spell model (target <= 1 s):")
    print(
        f"  llm-flows correct: first {runs[0]:.2f} s, best {min(runs):.2f} s, "
        f"median {median:.2f} s ({median / COLD_START_TARGET:.2f}x target; "
        f"bare python start: {baseline:.2f} s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--jobs", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llm-flows-bench-") as tmp:
        work = Path(tmp)
        throughput(work, args.files, args.latency, args.jobs)
        cold_start(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
