"""``--socket`` and ``--tcp``: several clients, each with its own flows; stdout stays clean."""

from __future__ import annotations

import signal
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPTED_PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "scripted.py"
HANG_RULE = {"when": "HANG", "hang": True}
Serve = Callable[..., Any]
Connect = Callable[[Path], Any]


def wait_listening(daemon: Any) -> str:
    """The address the daemon says it listens on (polls its log; bounded, not measured)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in daemon.stderr().splitlines():
            if line.startswith("llm-flows: listening on "):
                return line.removeprefix("llm-flows: listening on ")
        assert daemon.process.poll() is None, daemon.stderr()
        time.sleep(0.02)
    raise AssertionError("the daemon never said it was listening")


def test_two_clients_on_a_unix_socket_each_see_their_own_flows(
    serve: Serve, connect_unix: Connect, tmp_path: Path
) -> None:
    path = tmp_path / "llm-flows.sock"
    daemon = serve(
        "--socket",
        str(path),
        scripted={"replace": {"teh": "the"}, "rules": [{"when": "HANG", "hang": True}]},
    )
    assert wait_listening(daemon) == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (one, sock_one), (two, _) = connect_unix(path), connect_unix(path)
    assert one.initialize()["protocolVersion"] == 1
    assert two.initialize()["protocolVersion"] == 1
    hanging = one.call("flow/start", {"flow": "correct", "text": "HANG on"})["id"]
    mine = two.call("flow/start", {"flow": "correct", "text": "teh end"})["id"]
    two.wait_for("flow/ready", mine)
    assert all(n["params"]["id"] == mine for n in two.notifications)
    assert [r["id"] for r in two.call("flow/list")["flows"]] == [mine]
    assert [r["id"] for r in one.call("flow/list")["flows"]] == [hanging]
    assert two.error("flow/cancel", {"id": hanging})["code"] == -32001
    assert two.error("flow/merge", {"id": hanging, "current": "x"})["code"] == -32001
    sock_one.shutdown(socket.SHUT_RDWR)  # client one hangs up; client two carries on
    result = two.call("flow/merge", {"id": mine, "current": "teh end"})
    assert result["edits"] == [{"start": 0, "end": 3, "text": "the"}]
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.wait() == 0
    log = daemon.stderr()
    assert "client-1: disconnected; 1 flow(s) cancelled" in log
    assert not path.exists()


def test_a_stale_socket_is_replaced_and_a_file_is_not(serve: Serve, tmp_path: Path) -> None:
    stale = tmp_path / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(stale))
    leftover.close()  # the file stays, nobody listens
    daemon = serve("--socket", str(stale))
    assert wait_listening(daemon) == str(stale)
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.wait() == 0
    regular = tmp_path / "notes.txt"
    regular.write_text("keep me", encoding="utf-8")
    refused = serve("--socket", str(regular))
    assert refused.wait() == 1
    assert "exists and is not a socket; not replacing it" in refused.stderr()
    assert regular.read_text(encoding="utf-8") == "keep me"


def test_tcp_listens_on_loopback_only(serve: Serve) -> None:
    daemon = serve("--tcp", "0")
    host, port = wait_listening(daemon).rsplit(":", 1)
    assert host == "127.0.0.1"
    with socket.create_connection((host, int(port))) as sock:
        from_client = sock.makefile("rb")
        body = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
        sock.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        header = from_client.readline()
        assert header.startswith(b"Content-Length: ")
        from_client.readline()
        answer = from_client.read(int(header.split(b":")[1]))
        assert b'"protocolVersion":1' in answer
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.wait() == 0


NOISY_PLUGIN = """
import os, sys
print("noise from print at import")
from llm_flows.models import Model, hookimpl

class Noisy(Model):
    def __init__(self, declared):
        super().__init__(declared.name, default_options=declared.options)

    async def execute(self, prompt, response):
        print("noise from print")
        sys.stdout.flush()
        os.write(1, b"Content-Length: 3\\r\\n\\r\\nnoise written to fd 1\\n")
        yield prompt.subject.replace("teh", "the")

@hookimpl
def register_backends(register):
    register("noisy", Noisy)
"""


def test_a_model_printing_to_stdout_does_not_corrupt_frames(serve: Serve, tmp_path: Path) -> None:
    plugin = tmp_path / "noisy.py"
    plugin.write_text(NOISY_PLUGIN, encoding="utf-8")
    config = (
        f'plugins = ["{SCRIPTED_PLUGIN}", "{plugin}"]\n'
        'default_model = "noisy"\n[models.noisy]\nbackend = "noisy"\n'
    )
    daemon = serve(config_text=config)
    client = daemon.client  # its reader fails the test on any byte that is not a frame
    client.initialize()
    flow_id = client.call("flow/start", {"flow": "correct", "text": "teh noise"})["id"]
    client.wait_for("flow/ready", flow_id)
    result = client.call("flow/merge", {"id": flow_id, "current": "teh noise"})
    assert result["edits"] == [{"start": 0, "end": 3, "text": "the"}]
    daemon.close_stdin()
    assert daemon.wait() == 0
    log = daemon.stderr()
    for noise in ("noise from print at import", "noise from print", "noise written to fd 1"):
        assert noise in log


def test_sigterm_tells_each_client_why_its_flows_ended(
    serve: Serve, connect_unix: Connect, tmp_path: Path
) -> None:
    path = tmp_path / "llm-flows.sock"
    daemon = serve("--socket", str(path), "--grace", "0", scripted={"rules": [HANG_RULE]})
    wait_listening(daemon)
    client, _ = connect_unix(path)
    client.initialize()
    hanging = client.call("flow/start", {"flow": "correct", "text": "HANG on"})["id"]
    daemon.process.send_signal(signal.SIGTERM)
    failed = client.wait_for("flow/failed", hanging)
    assert failed["error"] == {"code": "cancelled", "message": "the daemon is shutting down"}
    assert daemon.wait() == 0
