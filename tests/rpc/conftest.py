"""Drive a real ``llm-flows serve`` subprocess with raw frames, as an editor does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_flows.commands import CommandTable
from llm_flows.config import load_config
from llm_flows.flows import load_flows
from llm_flows.models import Registry
from llm_flows.rpc.daemon import Daemon as RpcDaemon
from llm_flows.rpc.serve import open_unix_listener

ROOT = Path(__file__).resolve().parents[2]
LLM_FLOWS = ROOT / ".venv" / "bin" / "llm-flows"
#: a safety net against a hung daemon, not a measurement
WAIT = 30.0


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def encode(message: dict[str, Any]) -> bytes:
    return frame(json.dumps(message).encode("utf-8"))


class Client:
    """One connection to the daemon: writes frames, reads and checks every frame it gets back.

    The reader is strict: each frame must be exactly ``Content-Length: N`` CRLF
    CRLF and N bytes of JSON, so anything else on the wire fails the test.
    """

    def __init__(self, read: Callable[[int], bytes], write: Callable[[bytes], None]) -> None:
        self._write = write
        self._read = read
        self._inbox: queue.Queue[dict[str, Any] | Exception | None] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._next_id = 0
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def join(self) -> None:
        """Wait for the reader to see the end of the stream.

        Call this before closing the descriptor it reads: a reader still
        running when the descriptor is closed can read from the next pipe
        or socket given the same number, stealing another test's bytes.
        """
        self._reader.join(WAIT)
        assert not self._reader.is_alive(), "the client's reader did not see the end of the stream"

    def _read_exact(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self._read(count - len(data))
            if not chunk:
                raise EOFError(f"daemon closed the stream after {data!r}")
            data += chunk
        return data

    def _read_loop(self) -> None:
        try:
            while True:
                header = b""
                while not header.endswith(b"\r\n\r\n"):
                    chunk = self._read(1)
                    if not chunk:
                        if header:
                            raise EOFError(f"stream ended inside a header: {header!r}")
                        self._inbox.put(None)
                        return
                    header += chunk
                assert header.startswith(b"Content-Length: "), header
                length = int(header[len(b"Content-Length: ") : -4])
                self._inbox.put(json.loads(self._read_exact(length).decode("utf-8")))
        except Exception as exc:
            self._inbox.put(exc)

    def initialize(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "initialize", {"client": {"name": "pytest", "version": "1"}}
        )
        return result

    @staticmethod
    def frame(body: bytes) -> bytes:
        return frame(body)

    def send_raw(self, data: bytes) -> None:
        self._write(data)

    def send(self, message: dict[str, Any]) -> None:
        self._write(encode(message))

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def send_request(self, method: str, params: dict[str, Any] | None = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self._next_id

    def receive(self) -> dict[str, Any] | None:
        """The next message (None: the daemon closed the stream)."""
        if self._pending:
            return self._pending.pop(0)
        try:
            item = self._inbox.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no message from the daemon within {WAIT} s") from None
        if isinstance(item, Exception):
            raise item
        return item

    def response(self, msg_id: int | str | None, *, skip_answers: bool = False) -> dict[str, Any]:
        """The answer to ``msg_id``; notifications seen meanwhile are kept in order.

        Other answers fail the test, or with ``skip_answers`` (answers to
        garbage) are kept in ``answers``.
        """
        while True:
            message = self.receive()
            assert message is not None, f"stream closed before the answer to {msg_id!r}"
            if "method" in message:
                self.notifications.append(message)
            elif message.get("id") == msg_id:
                return message
            elif skip_answers:
                self.answers.append(message)
            else:
                raise AssertionError(f"unexpected answer {message} while waiting for {msg_id!r}")

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Request, and return the result (failing the test on an error answer)."""
        answer = self.response(self.send_request(method, params))
        assert "error" not in answer, answer
        return answer["result"]

    def error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Request, and return the error (failing the test on a result)."""
        answer = self.response(self.send_request(method, params))
        assert "error" in answer, answer
        error: dict[str, Any] = answer["error"]
        return error

    def wait_for(self, method: str, flow_id: str) -> dict[str, Any]:
        """The params of the first ``method`` notification about ``flow_id``."""
        seen = iter(list(self.notifications))
        while True:
            message = next(seen, None) or self.receive()
            assert message is not None, f"stream closed before {method} for {flow_id}"
            if message not in self.notifications:
                self.notifications.append(message)
            if message.get("method") == method and message["params"]["id"] == flow_id:
                params: dict[str, Any] = message["params"]
                return params

    def final(self, flow_id: str) -> dict[str, Any]:
        """The flow/ready or flow/failed notification for ``flow_id``."""
        while True:
            for message in self.notifications:
                if message.get("method") in ("flow/ready", "flow/failed") and (
                    message["params"]["id"] == flow_id
                ):
                    return message
            message = self.receive()
            assert message is not None, f"stream closed before {flow_id} ended"
            self.notifications.append(message)


class Daemon:
    """A ``llm-flows serve`` subprocess; ``client`` talks to it over stdio."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [str(LLM_FLOWS), "serve", *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                bufsize=0,
            )
        assert self.process.stdin is not None and self.process.stdout is not None
        stdin, stdout = self.process.stdin, self.process.stdout

        def write(data: bytes) -> None:
            stdin.write(data)
            stdin.flush()

        self.client = Client(stdout.read, write)

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def wait(self) -> int:
        return self.process.wait(timeout=WAIT)

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=WAIT)
        self.client.join()  # the daemon is gone: its stdout ends once drained
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def serve(write_config: Callable[..., Path], tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start daemons: ``serve(*args, scripted={...}, **config)``; killed at the end of the test.

    ``config_text="..."`` writes that config file verbatim instead.
    """
    started: list[Daemon] = []

    def start(*args: str, config_text: str | None = None, **config: Any) -> Daemon:
        config.setdefault("scripted", {})
        config.setdefault("default_model", "scripted")
        path = write_config(**config)
        if config_text is not None:
            path.write_text(config_text, encoding="utf-8")
        log = tmp_path / f"serve-{len(started)}.log"
        daemon = Daemon(list(args), dict(os.environ), log)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def connect_unix() -> Iterator[Callable[[Path], tuple[Client, socket.socket]]]:
    """Open client connections to a Unix socket; closed at the end of the test."""
    opened: list[tuple[Client, socket.socket]] = []

    def connect(path: Path) -> tuple[Client, socket.socket]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))
        opened.append((Client(sock.recv, sock.sendall), sock))
        return opened[-1]

    yield connect
    for client, sock in opened:
        with contextlib.suppress(OSError):  # already closed by the test
            sock.shutdown(socket.SHUT_RDWR)
        client.join()
        sock.close()


@pytest.fixture
def inprocess_daemon(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Run the daemon in this process on a Unix socket, its table built with ``table_options``.

    For what the command line cannot set (a tiny event backlog or history);
    call ``write_config`` first. Returns the socket's path; stopped at the end.
    """
    stops: list[tuple[Callable[[], object], threading.Thread]] = []

    def start(**table_options: Any) -> Path:
        path = tmp_path / f"daemon-{len(stops)}.sock"
        listening = threading.Event()
        stop: list[Callable[[], object]] = []

        async def main() -> None:
            config = load_config()
            registry = Registry(config)
            table = CommandTable(registry, load_flows(config), **table_options)
            daemon = RpcDaemon(
                table, lambda: {"protocolVersion": 1}, max_message_bytes=1 << 20, grace=0.0
            )
            loop = asyncio.get_running_loop()
            stop.append(lambda: loop.call_soon_threadsafe(daemon.stop))
            listener = open_unix_listener(path)
            listening.set()
            try:
                await daemon.serve_socket(listener)
            finally:
                await registry.aclose()

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        thread.start()
        assert listening.wait(WAIT), "the in-process daemon did not start"
        stops.append((stop[0], thread))
        return path

    yield start
    for stop, thread in stops:
        stop()
        thread.join(WAIT)
        assert not thread.is_alive(), "the daemon did not stop"
