"""The daemon: clients (stdio, or many over a socket), one command table, their notifications.

Everything here runs on one asyncio loop; connections hand their messages to
it (see ``connection.py``). Each client is an ``owner`` of the table: its
flows are its own, and are cancelled when it hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from ..commands import CommandTable, EventsLost
from .connection import Connection, FdStream, SocketStream, Stream
from .methods import Session

log = logging.getLogger("llm_flows.rpc")

#: how long exiting waits for queued answers to be written
FLUSH_SECONDS = 2.0


class Daemon:
    """Serves clients against ``table`` until stdio ends or :meth:`stop` is called."""

    def __init__(
        self,
        table: CommandTable,
        server_info: Callable[[], dict[str, Any]],
        *,
        max_message_bytes: int,
        grace: float,
    ) -> None:
        self.table = table
        self.server_info = server_info
        self.max_message_bytes = max_message_bytes
        self.grace = grace
        self.sessions: dict[str, tuple[Session, Connection]] = {}
        self._stopped = asyncio.Event()
        self._stop_grace = 0.0
        self._numbers = itertools.count(1)

    async def serve_stdio(self, in_fd: int, out_fd: int) -> None:
        """Serve one client on two descriptors; return when it exits or its input ends."""
        self.attach(FdStream(in_fd, out_fd), "stdio", stop_when_lost=True)
        await self._run()

    async def serve_socket(self, listener: socket.socket) -> None:
        """Accept clients on ``listener`` until :meth:`stop`."""
        loop = asyncio.get_running_loop()
        thread = threading.Thread(
            target=self._accept_loop, args=(listener, loop), name="accept", daemon=True
        )
        thread.start()
        try:
            await self._run()
        finally:
            listener.close()

    def stop(self, grace: float = 0.0) -> None:
        """Stop serving: refuse new flows, let running ones end for ``grace`` seconds, hang up."""
        self._stop_grace = grace
        self._stopped.set()

    def attach(self, stream: Stream, owner: str, *, stop_when_lost: bool = False) -> Connection:
        """Start serving a new client (on the loop's thread)."""
        loop = asyncio.get_running_loop()

        def lost(connection: Connection) -> None:
            self.sessions.pop(owner, None)
            cancelled = self.table.cancel_owner(owner, "the client disconnected")
            log.info("%s: disconnected; %d flow(s) cancelled", owner, cancelled)
            if stop_when_lost:
                self.stop()

        connection = Connection(
            owner, stream, loop, max_message_bytes=self.max_message_bytes, on_lost=lost
        )

        def shutdown() -> None:
            log.info("%s: shutdown; flows still running are cancelled in %ss", owner, self.grace)
            loop.call_later(
                self.grace,
                self.table.cancel_owner,
                owner,
                "the client asked the daemon to shut down",
            )

        session = Session(owner, self.table, self.server_info, connection.close, shutdown)
        self.sessions[owner] = (session, connection)
        connection.start(session.handlers())
        log.info("%s: connected", owner)
        return connection

    async def _run(self) -> None:
        pump = asyncio.create_task(self._pump())
        try:
            await self._stopped.wait()
        finally:
            for session, _ in self.sessions.values():
                session.shutting_down = True
            await self.table.aclose(self._stop_grace, "the daemon is shutting down")
            connections = [connection for _, connection in self.sessions.values()]
            for connection in connections:
                connection.close()
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            for connection in connections:
                await asyncio.to_thread(connection.flush, FLUSH_SECONDS)

    async def _pump(self) -> None:
        """Turn command-table events into notifications for the client that owns the flow.

        If the pump falls so far behind that the table drops it (``EventsLost``),
        it subscribes again at once, then sends each client the current state of
        every flow whose change it missed: a client may see states skipped, but
        never misses a ``flow/ready`` or ``flow/failed``, and never gets one twice.
        """
        events = self.table.events()
        while True:
            try:
                async for event in events:
                    entry = self.sessions.get(event.owner or "")
                    if entry is not None:
                        self._send(entry[1], entry[0].notify(event))
                return
            except EventsLost as exc:
                events = self.table.events()  # before looking, so nothing more is missed
                log.warning("%s; sending each client its flows' current state instead", exc)
                rows = {row["id"]: row for row in self.table.rows()}
                dead = {letter["id"] for letter in self.table.dead_letters()}
                for session, connection in self.sessions.values():
                    for event in session.missed(rows, dead):
                        self._send(connection, session.notify(event))

    @staticmethod
    def _send(connection: Connection, message: dict[str, Any] | None) -> None:
        if message is not None:
            connection.send(message)

    def _accept_loop(self, listener: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # the listener was closed: the daemon is stopping
                return
            owner = f"client-{next(self._numbers)}"
            try:
                loop.call_soon_threadsafe(self.attach, SocketStream(client), owner)
            except RuntimeError:
                client.close()
                return
