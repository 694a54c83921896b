"""Start-up of ``llm-flows serve``: protect stdout, open listeners, build the table, run.

The protocol is written only on a duplicate of the real stdout taken before
anything else runs; fd 1 (and ``sys.stdout``) then point at stderr, so
whatever a library prints (llama.cpp does) lands in the log, never inside a
frame. Stdin is duplicated the same way and fd 0 pointed at /dev/null, so no
library can read the client's bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..commands import CommandTable
from ..config import load_config
from ..flows import load_flows
from ..models import Registry
from .daemon import Daemon
from .methods import PROTOCOL_VERSION

log = logging.getLogger("llm_flows.rpc")


class StartError(Exception):
    """The daemon cannot start (a socket in the way, a bad option); the message says why."""


@dataclass(frozen=True)
class ServeOptions:
    socket_path: Path | None = None
    tcp_port: int | None = None
    max_message_bytes: int = 8 * 1024 * 1024
    grace: float = 5.0
    ttl: float = 300.0


def protect_stdio() -> tuple[int, int]:
    """Duplicate stdin/stdout for the protocol; point fd 0 at /dev/null and fd 1 at stderr."""
    sys.stdout.flush()
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return in_fd, out_fd


def open_unix_listener(path: Path) -> socket.socket:
    """Listen on ``path`` with mode 0600; a stale socket file is replaced, a live one is not."""
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise StartError(f"{path} exists and is not a socket; not replacing it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # nobody listens: left behind by a daemon that died
        else:
            raise StartError(f"another daemon is already listening on {path}")
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(str(path))
    except OSError as exc:
        listener.close()
        raise StartError(f"cannot listen on {path}: {exc.strerror}") from exc
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    listener.listen(16)
    return listener


def open_tcp_listener(port: int) -> socket.socket:
    """Listen on 127.0.0.1:``port`` (loopback only; 0 picks a free port)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as exc:
        listener.close()
        raise StartError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    listener.listen(16)
    return listener


async def run(options: ServeOptions, stdio: tuple[int, int] | None) -> None:
    """Build the process's one config, registry, catalog and table, and serve until done."""
    config = load_config()
    registry = Registry(config)
    catalog = load_flows(config)
    table = CommandTable(registry, catalog, ttl=options.ttl)

    def server_info() -> dict[str, Any]:
        return {
            "server": {"name": "llm-flows", "version": __version__},
            "protocolVersion": PROTOCOL_VERSION,
            "flows": [
                {
                    "name": f.name,
                    "description": f.description,
                    "needsInstruction": f.needs_instruction,
                }
                for f in catalog
            ],
            "models": [
                {"id": m.model_id, "aliases": list(m.aliases), "backend": m.backend}
                for m in registry.models()
            ],
            "defaultModel": registry.resolve(None),
            "maxMessageBytes": options.max_message_bytes,
        }

    daemon = Daemon(
        table, server_info, max_message_bytes=options.max_message_bytes, grace=options.grace
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, daemon.stop, options.grace)
    try:
        if stdio is not None:
            await daemon.serve_stdio(*stdio)
        else:
            if options.socket_path is not None:
                listener = open_unix_listener(options.socket_path)
                where = str(options.socket_path)
            else:
                listener = open_tcp_listener(options.tcp_port or 0)
                where = f"127.0.0.1:{listener.getsockname()[1]}"
            log.info("listening on %s", where)
            print(f"llm-flows: listening on {where}", file=sys.stderr, flush=True)
            try:
                await daemon.serve_socket(listener)
            finally:
                if options.socket_path is not None:
                    with contextlib.suppress(OSError):
                        options.socket_path.unlink()
    finally:
        await registry.aclose()
