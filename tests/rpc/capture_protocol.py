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
rules = [{{ when = "HANG", hang = true }}]
"""


class Wire:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.stdin, self.stdout = process.stdin, process.stdout

    def send(self, message: dict[str, Any] | bytes) -> None:
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        data = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        print("--> " + show(data))
        self.stdin.write(data)
        self.stdin.flush()

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
    text = data.decode("utf-8").replace("\r\n", "\\r\\n")
    return text if len(text) < 1000 else f"{text[:120]}... ({len(data)} bytes in all)"


def section(title: str) -> None:
    print(f"```\n\n#### {title}\n\n```")


def request(msg_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(CONFIG, encoding="utf-8")
        env = dict(os.environ, LLM_FLOWS_CONFIG=str(config), XDG_CONFIG_HOME=tmp)
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "llm-flows"), "serve", "--max-message-bytes", "4096"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        wire = Wire(process)
        print("#### initialize\n\n```")
        wire.send(request(1, "initialize", {"client": {"name": "demo", "version": "0.1"}}))
        wire.receive()
        section("flow/start, its notifications, and flow/merge after the user typed")
        wire.send(
            request(
                2,
                "flow/start",
                {
                    "flow": "correct",
                    "text": "I recieve teh mail.",
                    "uri": "file:///home/me/notes.md",
                },
            )
        )
        wire.until(lambda m: m.get("method") == "flow/ready")
        wire.send(request(3, "flow/merge", {"id": "1", "current": "Today I recieve teh mail!"}))
        wire.receive()
        section("flow/list")
        wire.send(request(4, "flow/list"))
        wire.receive()
        section("a flow whose model hangs: timeout, dead letter, late flow/merge")
        wire.send(request(5, "flow/start", {"flow": "correct", "text": "HANG", "timeout": 0.5}))
        wire.until(lambda m: m.get("method") == "flow/failed")
        wire.send(request(6, "flow/deadLetters", {}))
        wire.receive()
        wire.send(request(7, "flow/merge", {"id": "2", "current": "HANG"}))
        wire.receive()
        section("flow/cancel while running")
        wire.send(request(8, "flow/start", {"flow": "correct", "text": "HANG again"}))
        wire.until(lambda m: m.get("params", {}).get("state") == "running")
        wire.send(request(9, "flow/cancel", {"id": "3"}))
        wire.until(lambda m: m.get("method") == "flow/failed")
        section("flow/merge where the user changed the same word (a conflict), and a drop")
        wire.send(request(10, "flow/start", {"flow": "correct", "text": "Send teh file."}))
        wire.until(lambda m: m.get("method") == "flow/ready")
        wire.send(request(11, "flow/merge", {"id": "4", "current": "Send ten file."}))
        wire.receive()
        wire.send(request(12, "flow/start", {"flow": "correct", "text": "Send teh file."}))
        wire.until(lambda m: m.get("method") == "flow/ready")
        wire.send(request(13, "flow/merge", {"id": "5", "current": "Something else now."}))
        wire.receive()
        section("$/cancelRequest read together with its request")
        both = request(14, "flow/list")
        cancel = {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 14}}
        data = b""
        for message in (both, cancel):
            body = json.dumps(message).encode()
            data += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        print("--> " + show(data))
        wire.stdin.write(data)
        wire.stdin.flush()
        wire.receive()
        section("errors")
        wire.send(request(15, "flow/start", {"flow": "rewrite", "text": "hi"}))
        wire.receive()
        wire.send(request(16, "flow/start", {"flow": "correct", "text": 42}))
        wire.receive()
        wire.send(request(17, "flow/teleport", {}))
        wire.receive()
        wire.send(b'{"jsonrpc": "2.0", "id": 14, "method": ')
        wire.receive()
        wire.send(
            json.dumps(request(19, "flow/start", {"flow": "correct", "text": "x" * 5000})).encode()
        )
        wire.receive()
        section("shutdown and exit")
        wire.send(request(20, "shutdown"))
        wire.receive()
        wire.send({"jsonrpc": "2.0", "method": "exit"})
        print("```")
        sys.stdout.flush()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
