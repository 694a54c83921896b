"""JSON-RPC 2.0 messages on python-lsp-jsonrpc's ``Endpoint``, with its sharp edges filed off.

python-lsp-jsonrpc 1.1.2 dispatches requests and notifications well enough,
but (see NOTES.md):

* a result dict with a top-level ``result`` or ``error`` key is merged into
  the response envelope: :meth:`Endpoint._make_response_payload` is replaced;
* ``JsonRpcInternalError.CODE`` is -32602: every handler is wrapped so any
  unexpected exception becomes :class:`InternalError` (-32603);
* it trusts the envelope (a notification without ``method`` raises out of
  ``consume``; a message without ``jsonrpc`` is dropped without an answer):
  :func:`decode_message` checks every message before it reaches the endpoint;
* ``$/cancelRequest`` of a request in flight sends no answer at all: our
  handlers answer at once, the connection handles cancels itself and answers
  a request cancelled before it ran with -32800 (see ``connection.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pylsp_jsonrpc.endpoint import Endpoint as _LibraryEndpoint
from pylsp_jsonrpc.exceptions import JsonRpcException

from .codes import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR

log = logging.getLogger("llm_flows.rpc")

JSONRPC = "2.0"
CANCEL_METHOD = "$/cancelRequest"

Params = dict[str, Any]
Handler = Callable[[Params], Any]
MessageId = int | str | None


class RpcError(JsonRpcException):  # type: ignore[misc]
    """An error answer: a JSON-RPC ``code`` and a message a user can read."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message=message, code=code, data=data)
        self.code: int = code
        self.message: str = message


class InternalError(RpcError):
    """A bug on our side, answered with the code the spec gives (-32603, not the library's)."""

    def __init__(self, message: str) -> None:
        super().__init__(INTERNAL_ERROR, f"internal error: {message}")


def invalid_params(field: str, problem: str) -> RpcError:
    """-32602 naming the offending field, e.g. ``params.text: must be a string``."""
    return RpcError(INVALID_PARAMS, f"invalid params: {field}: {problem}")


def error_message(msg_id: MessageId, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "id": msg_id, "error": error.to_dict()}


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "method": method, "params": params}


def encode_message(message: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (non-ASCII text is sent as is, not as escapes)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Rejected:
    """A message we refuse: answer ``error`` to ``id``, unless it was a notification."""

    id: MessageId
    error: RpcError
    notification: bool = False


def decode_message(body: bytes) -> dict[str, Any] | Rejected:
    """A checked JSON-RPC message, or the id to answer and the error to answer it with.

    Invalid UTF-8 inside a string does not lose the request: it is decoded with
    ``surrogateescape`` so the id is still known, and the field holding it is
    named in a -32602 answer.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("utf-8", "surrogateescape")
    try:
        message = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON: {exc}"
        if exc.pos >= len(text.rstrip()):  # the value was cut off, not misspelt
            problem += (
                f" (the message ends there, after {len(body)} bytes: Content-Length too small?)"
            )
        return Rejected(None, RpcError(PARSE_ERROR, problem))
    if isinstance(message, list):
        return Rejected(None, RpcError(INVALID_REQUEST, "batches (JSON arrays) are not supported"))
    if not isinstance(message, dict):
        problem = f"a message must be an object, not {json_kind(message)}"
        return Rejected(None, RpcError(INVALID_REQUEST, problem))
    msg_id = message.get("id")
    if not (msg_id is None or isinstance(msg_id, str) or _is_int(msg_id)):
        return Rejected(None, RpcError(INVALID_REQUEST, "id must be a string or an integer"))
    if message.get("jsonrpc") != JSONRPC:
        return Rejected(msg_id, RpcError(INVALID_REQUEST, 'missing "jsonrpc": "2.0"'))
    if "method" not in message:
        if "result" in message or "error" in message:
            return message  # a client's answer; we send no requests, so it is ignored
        return Rejected(msg_id, RpcError(INVALID_REQUEST, "a request needs a method"))
    notification = "id" not in message
    if not isinstance(message["method"], str):
        return Rejected(msg_id, RpcError(INVALID_REQUEST, "method must be a string"), notification)
    params = message.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        error = invalid_params("params", "must be an object of named parameters")
        return Rejected(msg_id, error, notification)
    bad = _invalid_text(params, "params")
    if bad is not None:
        error = invalid_params(bad, "is not valid Unicode (invalid UTF-8 or a lone surrogate)")
        return Rejected(msg_id, error, notification)
    message["params"] = params
    return message


def json_kind(value: Any) -> str:
    """What a decoded JSON value is, in JSON's words ("a number", not "int"), for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid_text(value: Any, path: str) -> str | None:
    """The path of the first string in ``value`` that is not valid Unicode, if any."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _invalid_text(key, path) or _invalid_text(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _invalid_text(item, f"{path}[{index}]")
            if found:
                return found
    return None


class Endpoint(_LibraryEndpoint):  # type: ignore[misc]
    """The library's endpoint with safe responses and spec error codes.

    ``handlers`` maps a method name to a function of the params object; it
    returns the result or raises :class:`RpcError`. Anything else raised is a
    bug, logged with its traceback and answered -32603.
    """

    def __init__(
        self, handlers: Mapping[str, Handler], consumer: Callable[[dict[str, Any]], None]
    ) -> None:
        dispatcher = {name: _guarded(name, handler) for name, handler in handlers.items()}
        super().__init__(dispatcher, consumer, max_workers=1)

    @staticmethod
    def _make_response_payload(header: dict[str, Any], result: Any) -> dict[str, Any]:
        return {**header, "result": result}


def _guarded(name: str, handler: Handler) -> Handler:
    def run(params: Params) -> Any:
        try:
            return handler(params)
        except JsonRpcException:
            raise
        except Exception as exc:
            log.exception("%s failed", name)
            raise InternalError(f"{type(exc).__name__}: {exc}") from exc

    return run
