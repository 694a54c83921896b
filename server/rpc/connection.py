"""One client connection: bytes in and out, messages dispatched on the event loop.

Reads happen on the loop when the input can be polled (pipes, sockets,
terminals) and on a thread otherwise (a regular file). A frame is written
straight from the loop when that cannot block (nothing queued, room in the
pipe or socket); otherwise a writer thread takes it, so a client that stops
reading never stalls the loop (and with it every other client's flows). One
thread hop per round trip instead of three keeps the small round trip within
3x of a bare echo server (bench/rpc.py). Each read's messages are handled in
order on the loop: handlers and the command table only run on its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import select
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .codes import INTERNAL_ERROR, REQUEST_CANCELLED
from .endpoint import (
    CANCEL_METHOD,
    Endpoint,
    Handler,
    Rejected,
    RpcError,
    decode_message,
    encode_message,
    error_message,
)
from .framing import FrameDecoder, FrameError, encode_frame

log = logging.getLogger("llm_flows.rpc")

READ_SIZE = 65536


class Stream(Protocol):
    """Blocking byte I/O to one client."""

    def read(self) -> bytes: ...  # b"" at end of input
    def fileno(self) -> int: ...  # what ``read`` reads from
    def write(self, data: bytes) -> None: ...
    def try_write(self, data: bytes) -> int: ...  # bytes written without blocking
    def close(self) -> None: ...


class FdStream:
    """Two file descriptors (stdio: duplicates taken at start-up)."""

    def __init__(self, in_fd: int, out_fd: int) -> None:
        self.in_fd, self.out_fd = in_fd, out_fd

    def read(self) -> bytes:
        return os.read(self.in_fd, READ_SIZE)

    def fileno(self) -> int:
        return self.in_fd

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.out_fd, view) :]

    def try_write(self, data: bytes) -> int:
        # A pipe with room takes up to PIPE_BUF bytes at once without blocking.
        if len(data) > select.PIPE_BUF or not select.select([], [self.out_fd], [], 0)[1]:
            return 0
        return os.write(self.out_fd, data)

    def close(self) -> None:
        """Nothing to do: the process exits right after."""


class SocketStream:
    """A connected Unix or TCP socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def read(self) -> bytes:
        return self.sock.recv(READ_SIZE)

    def fileno(self) -> int:
        return self.sock.fileno()

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def try_write(self, data: bytes) -> int:
        try:
            return self.sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class Connection:
    """A client: frames in, messages dispatched on ``loop``, frames out.

    ``on_lost`` runs once, on the loop, when the client goes away (end of
    input, a broken pipe) or :meth:`close` is called.
    """

    def __init__(
        self,
        owner: str,
        stream: Stream,
        loop: asyncio.AbstractEventLoop,
        *,
        max_message_bytes: int,
        on_lost: Callable[[Connection], None],
    ) -> None:
        self.owner = owner
        self.closed = False
        self._stream = stream
        self._loop = loop
        self._decoder = FrameDecoder(max_message_bytes)
        self._on_lost = on_lost
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._backlog = 0  # frames queued for the writer thread and not yet written
        self._backlog_lock = threading.Lock()
        self._endpoint: Endpoint | None = None
        self._reader = threading.Thread(target=self._read_loop, name=f"{owner}-read", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name=f"{owner}-write", daemon=True)

    def start(self, handlers: Mapping[str, Handler]) -> None:
        self._endpoint = Endpoint(handlers, self.send)
        self._writer.start()
        try:  # pipes, sockets, terminals: read on the loop itself, one thread hop less
            self._loop.add_reader(self._stream.fileno(), self._on_readable)
        except (OSError, ValueError):  # a regular file cannot be polled: read on a thread
            self._reader.start()

    def _on_readable(self) -> None:
        try:
            data = self._stream.read()
        except BlockingIOError:
            return
        except OSError as exc:
            log.info("%s: read failed: %s", self.owner, exc)
            data = b""
        if not data:
            self.close()
            return
        self._receive(self._decode(data))

    def _decode(self, data: bytes) -> list[FrameError | Rejected | dict[str, Any]]:
        return [
            frame if isinstance(frame, FrameError) else decode_message(frame)
            for frame in self._decoder.feed(data)
        ]

    def send(self, message: dict[str, Any]) -> None:
        """Queue one message for the client (from the loop's thread)."""
        if self.closed:
            return
        if "error" in message:
            log.info("%s: answered %r with %s", self.owner, message.get("id"), message["error"])
        try:
            body = encode_message(message)
        except (TypeError, ValueError) as exc:  # a bug: answer rather than go silent
            log.exception("cannot encode %r", message)
            error = RpcError(INTERNAL_ERROR, f"internal error: cannot encode the answer: {exc}")
            body = encode_message(error_message(message.get("id"), error))
        frame = encode_frame(body)
        with self._backlog_lock:
            if self._backlog == 0:  # nothing ahead of it: write now if that cannot block
                with contextlib.suppress(OSError):  # the writer thread will see it again
                    frame = frame[self._stream.try_write(frame) :]
                if not frame:
                    return
            self._backlog += 1
        self._outbox.put(frame)

    def close(self) -> None:
        """Send what is queued, then hang up (from the loop's thread)."""
        if self.closed:
            return
        self.closed = True
        if not self._reader.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_reader(self._stream.fileno())
        self._outbox.put(None)
        self._on_lost(self)

    def flush(self, timeout: float) -> None:
        """After :meth:`close`, wait up to ``timeout`` seconds for queued frames to be written."""
        self._writer.join(timeout)

    def _read_loop(self) -> None:
        while True:
            try:
                data = self._stream.read()
            except OSError as exc:
                log.info("%s: read failed: %s", self.owner, exc)
                data = b""
            if not data:
                break
            items = self._decode(data)
            if items and not self._post(self._receive, items):
                return
        self._post(self.close)

    def _write_loop(self) -> None:
        while (frame := self._outbox.get()) is not None:
            try:
                self._stream.write(frame)
                with self._backlog_lock:
                    self._backlog -= 1
            except OSError as exc:
                log.info("%s: write failed: %s", self.owner, exc)
                self._post(self.close)
                break
        self._stream.close()

    def _post(self, callback: Callable[..., None], *args: Any) -> bool:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: the daemon is exiting
            return False
        return True

    def _receive(self, items: list[FrameError | Rejected | dict[str, Any]]) -> None:
        """Handle one read's messages in order.

        A ``$/cancelRequest`` that arrives in the same read as its request
        finds it not yet answered: that request is answered -32800 and never
        runs. Every other request was answered before the cancel was read.
        """
        last_cancel: dict[int | str, int] = {}
        for index, item in enumerate(items):
            if isinstance(item, dict) and item.get("method") == CANCEL_METHOD:
                target = item["params"].get("id")
                if isinstance(target, (int, str)):
                    last_cancel[target] = index
        for index, item in enumerate(items):
            if self.closed:
                return
            if isinstance(item, FrameError):
                self.send(error_message(None, RpcError(item.code, item.message)))
            elif isinstance(item, Rejected):
                if not item.notification:
                    self.send(error_message(item.id, item.error))
            elif item.get("method") == CANCEL_METHOD or "method" not in item:
                continue  # a cancel (see above) or a client's answer to nothing we asked
            elif "id" in item and last_cancel.get(item["id"], -1) > index:
                cancelled = RpcError(REQUEST_CANCELLED, f"request {item['id']!r} was cancelled")
                self.send(error_message(item["id"], cancelled))
            else:
                self._dispatch(item)

    def _dispatch(self, message: dict[str, Any]) -> None:
        assert self._endpoint is not None
        try:
            self._endpoint.consume(message)
        except Exception:  # the library's own failure; never let it end the connection
            log.exception("%s: cannot dispatch %r", self.owner, message.get("method"))
