"""The `openai` backend's HTTP hygiene against a keep-alive server on loopback.

A batch run sends thousands of requests: each must reuse a pooled connection
(not connect afresh) and must not pay for a failing import inside httpcore.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

import pytest
from llm_flows.models import Prompt
from llm_flows.models.openai import OpenAIModel


class KeepAliveServer:
    """HTTP/1.1 with keep-alive: answers every chat completion with ``text`` as SSE
    ending in ``data: [DONE]``; counts connections and requests."""

    def __init__(
        self,
        text: str = "hello",
        *,
        chunked: bool = False,
        after_done: str = "end",
        rounds: int = 1,
    ) -> None:
        self.text = text
        self.chunked = chunked  # Transfer-Encoding: chunked, as llama.cpp and OpenAI send
        self.after_done = after_done  # "end" the body, "hold" it open, or "cut" the connection
        self.rounds = rounds  # answer only once this many requests are waiting (all at once)
        self._round: list[asyncio.Future[None]] = []
        self.connections = 0
        self.requests = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> KeepAliveServer:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    def _events(self) -> bytes:
        events = [
            {"choices": [{"delta": {"content": self.text}}]},
            {"choices": [{"delta": {}, "finish_reason": "stop"}]},
        ]
        return ("".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n").encode()

    async def _all_at_once(self) -> None:
        """Hold each answer until ``rounds`` requests wait, then answer them together."""
        waiter = asyncio.get_running_loop().create_future()
        self._round.append(waiter)
        if len(self._round) == self.rounds:
            for future in self._round:
                future.set_result(None)
            self._round = []
        await waiter

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                found = re.search(rb"(?i)content-length:\s*(\d+)", head)
                await reader.readexactly(int(found[1]) if found else 0)
                self.requests += 1
                await self._all_at_once()
                data = self._events()
                status = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                if self.chunked:
                    writer.write(status + b"Transfer-Encoding: chunked\r\n\r\n")
                    writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                    if self.after_done == "hold":
                        await writer.drain()
                        await asyncio.Event().wait()
                    if self.after_done == "cut":
                        writer.transport.abort()
                        return
                    writer.write(b"0\r\n\r\n")
                else:
                    writer.write(status + b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client left, or the test is over
        finally:
            writer.close()


async def ask(model: OpenAIModel, times: int) -> list[str]:
    return [await model.respond(Prompt(f"question {i}")).text() for i in range(times)]


def test_sequential_requests_reuse_one_connection() -> None:
    async def scenario() -> tuple[list[str], int, int]:
        async with KeepAliveServer("fine") as server:
            model = OpenAIModel("m", base_url=server.url)
            answers = await ask(model, 20)
            await model.aclose()
            return answers, server.requests, server.connections

    answers, requests, connections = asyncio.run(scenario())
    assert answers == ["fine"] * 20
    assert (requests, connections) == (20, 1)


def test_chunked_streams_reuse_connections_too() -> None:
    async def scenario() -> tuple[list[str], int]:
        async with KeepAliveServer("ok", chunked=True) as server:
            model = OpenAIModel("m", base_url=server.url)
            answers = await ask(model, 10)
            await model.aclose()
            return answers, server.connections

    assert asyncio.run(scenario()) == (["ok"] * 10, 1)


def test_concurrent_requests_keep_one_connection_each_in_the_pool() -> None:
    """Rounds of 32 answers at once (more than httpx keeps alive by default) reuse 32."""

    async def scenario() -> tuple[int, int]:
        async with KeepAliveServer(rounds=32) as server:
            model = OpenAIModel("m", base_url=server.url, max_concurrency=32)
            for _ in range(4):
                await asyncio.gather(*(model.respond(Prompt("q")).text() for _ in range(32)))
            await model.aclose()
            return server.requests, server.connections

    assert asyncio.run(scenario()) == (128, 32)


@pytest.mark.parametrize("after_done", ["hold", "cut"])
def test_a_body_held_open_or_cut_after_done_still_gives_the_answer(after_done: str) -> None:
    async def scenario() -> list[str]:
        async with KeepAliveServer("done anyway", chunked=True, after_done=after_done) as server:
            model = OpenAIModel("m", base_url=server.url)
            answers = await ask(model, 2)
            await model.aclose()
            return answers

    assert asyncio.run(scenario()) == ["done anyway"] * 2


class ImportWatcher:
    """A meta-path finder that only records which modules the import system looked for."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lookups = 0

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == self.name:
            self.lookups += 1
        return None


def test_requests_do_not_retry_a_failing_import() -> None:
    """httpcore imports sniffio on every lock; without it each import fails anew (slow)."""
    watcher = ImportWatcher("sniffio")

    async def scenario() -> list[str]:
        async with KeepAliveServer("x") as server:
            model = OpenAIModel("m", base_url=server.url)
            await ask(model, 1)  # warm: the first import may search the path
            sys.meta_path.insert(0, watcher)
            try:
                answers = await ask(model, 20)
            finally:
                sys.meta_path.remove(watcher)
            await model.aclose()
            return answers

    answers: Any = asyncio.run(scenario())
    assert answers == ["x"] * 20
    assert watcher.lookups == 0, f"sniffio was searched for {watcher.lookups} times"
