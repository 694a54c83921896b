"""Print a real exchange with ``llm-flows serve`` for docs/protocol.md.

Run: ``.venv/bin/python tests/rpc/capture_protocol.py > /tmp/frames.md``. It
starts the daemon with the scripted test model (deterministic answers) and
prints every frame sent (``-->``) and received (``<--``) exactly as on the wire.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONFIG = f"""plugins = ["{ROOT / "tests" / "plugins" / "scripted.py"}"]
default_model = "scripted"

[models.scripted]
backend = "scripted"
replace = {{ teh = "the", recieve = "receive" }}
max_concurrency = 1
rules = [{{ when = "HANG", hang = true }}, {{ when = "FLAKY", transient_failures = 1 }}]
"""
#: how long a ready result waits for flow/merge in the capture (the expiry example waits it out)
TTL = "3"


class Wire:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.stdin, self.stdout = process.stdin, process.stdout

    def send(self, *messages: dict[str, Any] | bytes) -> None:
        """Send ``messages`` in one write (one line); bytes are a body sent as is."""
        data = b""
        for message in messages:
            body = message if isinstance(message, bytes) else json.dumps(message).encode()
            data += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        self.send_raw(data)

    def send_raw(self, data: bytes) -> None:
        print("--> " + show(data))
        self.stdin.write(data)
        self.stdin.flush()

    def ask(self, *messages: dict[str, Any] | bytes) -> None:
        """Send ``messages`` in one write and show the one frame that answers them."""
        self.send(*messages)
        self.receive()

    def answers(self, count: int) -> None:
        for _ in range(count):
            self.receive()

    def receive(self) -> dict[str, Any]:
        header = b""
        while not header.endswith(b"\r\n\r\n"):
            header += self.stdout.read(1)
        body = self.stdout.read(int(header.split(b":")[1]))
        print("<-- " + show(header + body))
        message: dict[str, Any] = json.loads(body)
        return message

    def until(self, predicate: Any) -> dict[str, Any]:
        while True:
            message = self.receive()
            if predicate(message):
                return message


def show(data: bytes) -> str:
    text = data.decode("utf-8", "backslashreplace").replace("\r\n", "\\r\\n")
    return text if len(text) < 1000 else f"{text[:120]}... ({len(data)} bytes in all)"


def section(title: str) -> None:
    print(f"```\n\n#### {title}\n\n```")


def request(msg_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification_about(method: str, **params: Any) -> Any:
    """A predicate: the notification ``method`` whose params include ``params``."""
    return lambda m: m.get("method") == method and params.items() <= m["params"].items()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(CONFIG, encoding="utf-8")
        env = dict(os.environ, LLM_FLOWS_CONFIG=str(config), XDG_CONFIG_HOME=tmp)
        process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "llm-flows"),
                "serve",
                "--max-message-bytes",
                "4096",
                "--ttl",
                TTL,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        exchange(Wire(process))
        print("```")
        sys.stdout.flush()
        process.wait(timeout=30)


def exchange(wire: Wire) -> None:
    """Every method and notification, then every kind of bad input (ids count up from 1)."""
    print("#### initialize\n\n```")
    wire.ask(request(1, "initialize", {"client": {"name": "demo", "version": "0.1"}}))
    section("flow/start, its notifications, and flow/merge after the user typed")
    params = {"flow": "correct", "text": "I recieve teh mail.", "uri": "file:///home/me/notes.md"}
    wire.send(request(2, "flow/start", params))
    wire.until(notification_about("flow/ready"))
    wire.ask(request(3, "flow/merge", {"id": "1", "current": "Today I recieve teh mail!"}))
    section("flow/list")
    wire.ask(request(4, "flow/list"))
    section("a flow whose model hangs: timeout, dead letter, late flow/merge")
    wire.send(request(5, "flow/start", {"flow": "correct", "text": "HANG", "timeout": 0.5}))
    wire.until(notification_about("flow/failed"))
    wire.ask(request(6, "flow/deadLetters", {}))
    wire.ask(request(7, "flow/merge", {"id": "2", "current": "HANG"}))
    section("flow/cancel while running, while queued, and after the end")
    wire.send(request(8, "flow/start", {"flow": "correct", "text": "HANG again"}))
    wire.until(notification_about("flow/progress", state="running"))
    wire.send(request(9, "flow/start", {"flow": "correct", "text": "Waits its turn."}))
    wire.until(notification_about("flow/progress", id="4", state="queued"))
    wire.send(request(10, "flow/cancel", {"id": "4"}))
    wire.until(notification_about("flow/failed", id="4"))
    wire.send(request(11, "flow/cancel", {"id": "3"}))
    wire.until(notification_about("flow/failed", id="3"))
    wire.ask(request(12, "flow/cancel", {"id": "3"}))
    section("flow/merge where the user changed the same word (a conflict), and a drop")
    wire.send(request(13, "flow/start", {"flow": "correct", "text": "Send teh file."}))
    wire.until(notification_about("flow/ready"))
    wire.ask(request(14, "flow/merge", {"id": "5", "current": "Send ten file."}))
    wire.send(request(15, "flow/start", {"flow": "correct", "text": "Send teh file."}))
    wire.until(notification_about("flow/ready"))
    wire.ask(request(16, "flow/merge", {"id": "6", "current": "Something else now."}))
    section("a transient model error, retried (flow/progress with a message)")
    wire.send(request(17, "flow/start", {"flow": "correct", "text": "FLAKY teh"}))
    wire.until(notification_about("flow/ready"))
    wire.ask(request(18, "flow/merge", {"id": "7", "current": "FLAKY teh"}))
    section(f"a result not merged within --ttl ({TTL} s here): expired, late flow/merge")
    wire.send(request(19, "flow/start", {"flow": "correct", "text": "Left teh window."}))
    wire.until(notification_about("flow/failed"))
    wire.ask(request(20, "flow/merge", {"id": "8", "current": "Left teh window."}))
    section("flow/merge too early (before flow/ready), and twice")
    start = request(21, "flow/start", {"flow": "correct", "text": "teh"})
    wire.send(start, request(22, "flow/merge", {"id": "9", "current": "teh"}))
    wire.answers(2)
    wire.until(notification_about("flow/ready"))
    wire.ask(request(23, "flow/merge", {"id": "9", "current": "teh"}))
    wire.ask(request(24, "flow/merge", {"id": "9", "current": "teh"}))
    section("$/cancelRequest read together with its request")
    cancel = {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 25}}
    wire.ask(request(25, "flow/list"), cancel)
    section("errors in a request")
    wire.ask(request(26, "flow/start", {"flow": "rewrite", "text": "hi"}))
    wire.ask(request(27, "flow/start", {"flow": "correct", "text": 42}))
    wire.ask(request(28, "flow/start", {"flow": "correct", "text": "hi", "colour": "red"}))
    wire.ask(request(29, "flow/start", {"flow": "summarise", "text": "hi"}))
    wire.ask(request(30, "flow/merge", {"id": "77", "current": "hi"}))
    wire.ask(request(31, "flow/teleport", {}))
    wire.ask(
        b'{"jsonrpc":"2.0","id":32,"method":"flow/start","params":{"flow":"correct","text":"caf\xe9"}}'
    )
    wire.ask(b'{"id": 33, "method": "flow/list"}')
    section("errors in the framing or the JSON (answered with id null; the next frame is served)")
    wire.ask(b'{"jsonrpc": "2.0", "id": 34, "method": ')
    wire.ask(b"[1, 2]")
    wire.ask(b'"hello"')
    listing = json.dumps(request(35, "flow/cancel", {"id": "1"})).encode()
    wire.send_raw(
        b"Content-Lenght: 2\r\n\r\n{}" + b"Content-Length: %d\r\n\r\n%s" % (len(listing), listing)
    )
    wire.answers(2)
    wire.send_raw(
        b"Content-Length: 90\r\n\r\n"
        + listing.replace(b"35", b"36")
        + b"Content-Length: %d\r\n\r\n%s" % (len(listing), listing.replace(b"35", b"37"))
    )
    wire.answers(2)
    wire.ask(
        json.dumps(request(38, "flow/start", {"flow": "correct", "text": "x" * 5000})).encode()
    )
    section("shutdown and exit")
    wire.ask(request(39, "shutdown"))
    wire.ask(request(40, "flow/start", {"flow": "correct", "text": "one more"}))
    wire.send({"jsonrpc": "2.0", "method": "exit"})


if __name__ == "__main__":
    main()
