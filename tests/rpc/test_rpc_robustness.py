"""Bad input never stops the daemon: each gets a clear error and the next request is served."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

Serve = Callable[..., Any]

LIMIT = 2048
METHODS = ["initialize", "flow/start", "flow/merge", "flow/cancel", "flow/list", "flow/deadLetters"]


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def request(msg_id: Any, method: Any, params: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode()


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] if depth < 2 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.randint(-(2**40), 2**40)
    if kind == "float":
        return rng.uniform(-1e6, 1e6)
    if kind == "str":
        return "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(0, 12)))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        keys = ["flow", "text", "id", "current", "model", "timeout", "options", "x"]
        return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return None


def malformed(rng: random.Random, n: int) -> bytes:
    """One bad input of a random kind."""
    kind = n % 12
    if kind == 0:  # invalid JSON
        return frame(bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 40))))
    if kind == 1:  # valid JSON, not an object
        return frame(json.dumps(random_json(rng)).encode())
    if kind == 2:  # no jsonrpc / odd ids
        return frame(json.dumps({"id": rng.choice([1.5, [], {}, True]), "method": "x"}).encode())
    if kind == 3:  # unknown method
        return frame(request(n, "flow/" + str(rng.random()), {}))
    if kind == 4:  # known method, random params
        return frame(request(n, rng.choice(METHODS), random_json(rng)))
    if kind == 5:  # invalid UTF-8 inside a string
        return frame(
            b'{"jsonrpc":"2.0","id":%d,"method":"flow/start","params":{"flow":"correct",'
            b'"text":"caf\xe9 \xff"}}' % n
        )
    if kind == 6:  # garbage without any header
        return bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 60)))
    if kind == 7:  # a length that lies (too short or too long)
        body = request(n, "flow/list", {})
        return b"Content-Length: %d\r\n\r\n%s" % (len(body) + rng.choice([-9, -1, 1, 7, 500]), body)
    if kind == 8:  # over the size limit
        return frame(request(n, "flow/start", {"flow": "correct", "text": "x" * (LIMIT + 10)}))
    if kind == 9:  # malformed headers
        return rng.choice(
            [
                b"Content-Length: -5\r\n\r\n{}",
                b"Content-Length: 1e3\r\n\r\n",
                b"Content-Lenght: 2\r\n\r\n{}",
                b"Content-Length:\r\n\r\n",
                b"\r\n\r\n\r\n",
                b"Content-Length: 99999999999999999999\r\n\r\n",
            ]
        )
    if kind == 10:  # cancels of anything
        return frame(
            json.dumps(
                {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": random_json(rng)}
            ).encode()
        )
    return frame(request(n, "flow/merge", {"id": str(rng.randint(0, 9)), "current": n}))


def test_hundreds_of_malformed_inputs_then_initialize_answers(serve: Serve) -> None:
    daemon = serve("--max-message-bytes", str(LIMIT))
    client = daemon.client
    rng = random.Random(20240605)
    for n in range(600):
        client.send_raw(malformed(rng, n))
    final = client.send_request("initialize", {"client": {"name": "after the fuzz"}})
    answer = client.response(final, skip_answers=True)
    assert answer["result"]["protocolVersion"] == 1
    assert daemon.process.poll() is None
    codes = {m["error"]["code"] for m in client.answers if "error" in m}
    assert {-32700, -32600, -32601, -32602, -32005} <= codes
    assert -32603 not in codes  # no internal errors
    assert "Traceback" not in daemon.stderr()
    assert all(isinstance(m["error"]["message"], str) for m in client.answers if "error" in m)


def test_invalid_utf8_is_refused_naming_the_field(serve: Serve) -> None:
    client = serve().client
    body = b'{"jsonrpc":"2.0","id":7,"method":"flow/start","params":{"flow":"correct",'
    body += b'"text":"ab\xff"}}'
    client.send_raw(frame(body))
    error = client.response(7)["error"]
    assert error["code"] == -32602
    assert error["message"] == (
        "invalid params: params.text: is not valid Unicode (invalid UTF-8 or a lone surrogate)"
    )
    lone = client.error("flow/start", {"flow": "correct", "text": "\ud800"})
    assert "params.text" in lone["message"]
    assert client.initialize()["protocolVersion"] == 1


def test_a_huge_frame_gets_a_clear_error(serve: Serve) -> None:
    client = serve("--max-message-bytes", str(LIMIT)).client
    client.send_raw(frame(request(3, "flow/start", {"flow": "correct", "text": "y" * 50_000})))
    error = client.response(None)["error"]
    assert error["code"] == -32005
    assert "larger than the limit of 2048 bytes" in error["message"]
    assert "--max-message-bytes" in error["message"]
    assert client.initialize()["maxMessageBytes"] == LIMIT


def test_each_kind_of_bad_message_has_its_own_error(serve: Serve) -> None:
    client = serve().client
    cases = [
        (b"{not json", -32700, "invalid JSON"),
        (b"[1, 2]", -32600, "batches"),
        (b'"hello"', -32600, "a message must be an object, not a string"),
        (b"null", -32600, "a message must be an object, not null"),
        (b"42", -32600, "a message must be an object, not a number"),
        (b'{"id": 1, "method": "flow/list"}', -32600, '"jsonrpc": "2.0"'),
        (b'{"jsonrpc": "2.0", "id": 1}', -32600, "needs a method"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": 5}', -32600, "method must be a string"),
    ]
    for body, code, words in cases:
        client.send_raw(frame(body))
        answer = client.receive()
        assert answer is not None
        assert answer["error"]["code"] == code, body
        assert words in answer["error"]["message"], body
    assert client.initialize()["protocolVersion"] == 1


def test_malformed_headers_and_wrong_lengths_are_named_then_the_next_request_served(
    serve: Serve,
) -> None:
    client = serve().client
    body = request(1, "flow/list", {})
    cases = [
        (b"Content-Lenght: 2\r\n\r\n{}", "header block without a Content-Length"),
        (b"Content-Length: ten\r\n\r\n", "Content-Length is not a number of bytes: 'ten'"),
        (b"hello\r\n", "expected a 'Content-Length: N' header, got 'hello'"),
        (  # declared too long: the next header shows where this body really ended
            b"Content-Length: %d\r\n\r\n%s" % (len(body) + 50, body),
            f"message shorter than its Content-Length of {len(body) + 50} bytes: "
            f"a new header began after {len(body)} bytes",
        ),
        (  # declared too short: the body is cut off, the rest is garbage
            b"Content-Length: 10\r\n\r\n" + body,
            "(the message ends there, after 10 bytes: Content-Length too small?)",
        ),
    ]
    for data, words in cases:
        client.send_raw(data)
        msg_id = client.send_request("flow/list", {})
        answer = client.response(msg_id, skip_answers=True)
        assert answer["result"] == {"flows": []}, data
        assert client.answers, data
        first = client.answers[0]
        assert first["id"] is None and first["error"]["code"] == -32700, data
        assert words in first["error"]["message"], (data, first)
        client.answers.clear()
