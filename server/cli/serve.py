"""``llm-flows serve``: the JSON-RPC daemon editors talk to."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import click

from ..config import ConfigError
from ..flows import FlowError


@click.command(
    "serve",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--socket",
    "socket_path",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Listen on this Unix socket (created with mode 0600) instead of stdio; "
    "serves several clients, each with its own flows.",
)
@click.option(
    "--tcp",
    "tcp_port",
    metavar="PORT",
    type=click.IntRange(0, 65535),
    help="Listen on 127.0.0.1:PORT instead of stdio (loopback only; 0 picks a free port).",
)
@click.option(
    "--max-message-bytes",
    metavar="BYTES",
    type=click.IntRange(1024),
    default=8 * 1024 * 1024,
    show_default=True,
    help="Largest message body accepted; a larger one is skipped and answered -32005.",
)
@click.option(
    "--grace",
    metavar="SECONDS",
    type=click.FloatRange(0),
    default=5.0,
    show_default=True,
    help="Seconds running flows may still finish after `shutdown` or SIGTERM before "
    "they are cancelled.",
)
@click.option(
    "--ttl",
    metavar="SECONDS",
    type=click.FloatRange(0, min_open=True),
    default=300.0,
    show_default=True,
    help="Seconds a ready result waits for `flow/merge` before it expires.",
)
@click.option(
    "--log-file",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write diagnostics to this file (they always go to stderr).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="How much to log.",
)
def serve(
    *,
    socket_path: Path | None,
    tcp_port: int | None,
    max_message_bytes: int,
    grace: float,
    ttl: float,
    log_file: Path | None,
    log_level: str,
) -> None:
    """Run the JSON-RPC daemon editors talk to (Emacs, Neovim; docs/protocol.md).

    \b
    By default it speaks on stdin/stdout: the editor spawns `llm-flows serve`
    and exchanges JSON-RPC 2.0 messages framed with `Content-Length: N` headers
    (what Emacs's jsonrpc.el and Neovim's vim.lsp.rpc speak).

    \b
    Methods: initialize, flow/start, flow/merge, flow/cancel, flow/list,
    flow/deadLetters, shutdown, exit, and the $/cancelRequest notification.
    Notifications it sends: flow/progress, flow/ready, flow/failed.
    No request waits on a model: flow/start answers with an id at once, the
    result is announced by flow/ready, and flow/merge {id, current} returns
    the edits to apply to the text as it is now (or why they were dropped).

    \b
    Only protocol frames are written to stdout: the daemon keeps a duplicate
    of the real stdout for itself and points fd 1 at stderr, so nothing a
    library prints can corrupt a frame. Diagnostics go to stderr and, with
    --log-file, to a file.

    \b
    Bad input never stops it: malformed headers, wrong lengths, invalid JSON,
    unknown methods, mistyped params (-32602 names the field), invalid UTF-8
    and over-large messages (-32005) each get an error and the next message
    is served normally.

    \b
    It exits when stdin ends or on `exit`; a client that hangs up has its
    flows cancelled; `shutdown` refuses new flows and cancels the running
    ones after --grace seconds; SIGTERM does the same for every client.
    With --socket or --tcp it serves until SIGTERM or SIGINT.
    """
    if socket_path is not None and tcp_port is not None:
        raise click.UsageError("choose one of --socket and --tcp")
    _setup_logging(log_file, log_level)
    from ..rpc.serve import ServeOptions, StartError, protect_stdio, run

    options = ServeOptions(socket_path, tcp_port, max_message_bytes, grace, ttl)
    stdio = protect_stdio() if socket_path is None and tcp_port is None else None
    try:
        asyncio.run(run(options, stdio))
    except (ConfigError, FlowError, StartError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass
    finally:
        logging.shutdown()
        sys.stderr.flush()
    # Threads blocked on a client's read must not keep the process alive.
    os._exit(0)


def _setup_logging(log_file: Path | None, level: str) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            raise click.ClickException(f"--log-file {log_file}: {exc.strerror}") from exc
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    # python-lsp-jsonrpc logs a traceback for every error answer; ours say it in one line.
    logging.getLogger("pylsp_jsonrpc").setLevel(logging.CRITICAL)
