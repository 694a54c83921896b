"""The protocol's methods for one client, on top of the command table.

Every handler answers at once (none waits on a model) and runs on the event
loop's thread, the only thread that touches the table. Params are checked
here, so a wrong type is a -32602 that names the field, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..commands import CommandError, CommandTable, Event, UnknownId
from .codes import GONE, INVALID_PARAMS, NOT_READY, QUEUE_FULL, SHUTTING_DOWN, UNKNOWN_ID
from .endpoint import (
    Handler,
    InternalError,
    Params,
    RpcError,
    invalid_params,
    json_kind,
    notification,
)

log = logging.getLogger("llm_flows.rpc")
T = TypeVar("T")

PROTOCOL_VERSION = 1
#: ``flow/merge`` of a current text this long (~1 ms of merging) or longer runs on a thread
OFF_LOOP_CHARS = 2000

#: command table error kinds -> JSON-RPC codes (docs/architecture.md)
_CODES = {
    "unknown_flow": INVALID_PARAMS,
    "unknown_model": INVALID_PARAMS,
    "invalid": INVALID_PARAMS,
    "queue_full": QUEUE_FULL,
    "unknown_id": UNKNOWN_ID,
    "not_ready": NOT_READY,
    "gone": GONE,
}
_FIELDS = {"unknown_flow": "params.flow", "unknown_model": "params.model"}

#: ``flow/start``'s params: type, required
_START_PARAMS: dict[str, tuple[type, bool]] = {
    "flow": (str, True),
    "text": (str, True),
    "model": (str, False),
    "instruction": (str, False),
    "options": (dict, False),
    "timeout": (float, False),
    "uri": (str, False),
}

#: states that end a flow without a result: announced by ``flow/failed``
_FAILURES = {"failed", "cancelled", "timed_out", "expired"}


def command_error(exc: CommandError) -> RpcError:
    """The JSON-RPC error for a refusal of the command table."""
    code = _CODES.get(exc.kind, INVALID_PARAMS)
    field_name = _FIELDS.get(exc.kind)
    if code == INVALID_PARAMS and field_name:
        return invalid_params(field_name, str(exc))
    name, colon, problem = str(exc).partition(": ")
    if code == INVALID_PARAMS and colon and name in _START_PARAMS:  # "instruction: ..."
        return invalid_params(f"params.{name}", problem)
    if code == INVALID_PARAMS:
        return RpcError(code, f"invalid params: {exc}")
    return RpcError(code, str(exc))


@dataclass
class Session:
    """One client's view of the daemon: what it was told of its flows, and its shutdown state.

    ``server_info`` builds the ``initialize`` result; ``on_exit`` hangs up.
    """

    owner: str
    table: CommandTable
    server_info: Callable[[], dict[str, Any]]
    on_exit: Callable[[], None]
    on_shutdown: Callable[[], None]
    #: its flows not yet merged or failed -> the last state it was told (None: none yet)
    told: dict[str, str | None] = field(default_factory=dict)
    shutting_down: bool = False

    def handlers(self) -> dict[str, Handler]:
        return {
            "initialize": self.initialize,
            "flow/start": self.start,
            "flow/merge": self.merge,
            "flow/cancel": self.cancel,
            "flow/list": self.list,
            "flow/deadLetters": self.dead_letters,
            "shutdown": self.shutdown,
            "exit": self.exit,
        }

    def initialize(self, params: Params) -> dict[str, Any]:
        check(params, {"client": (dict, False)}, strict=False)  # newer clients may say more
        return self.server_info()

    def start(self, params: Params) -> dict[str, Any]:
        check(params, _START_PARAMS)
        timeout = params.get("timeout")
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise invalid_params("params.timeout", "must be a positive number of seconds")
        if self.shutting_down:
            raise RpcError(SHUTTING_DOWN, "the server is shutting down: no new flows")
        try:
            flow_id = self.table.submit(
                params["flow"],
                params["text"],
                model=params.get("model"),
                instruction=params.get("instruction"),
                options=params.get("options"),
                timeout=None if timeout is None else float(timeout),
                owner=self.owner,
                uri=params.get("uri"),
            )
        except CommandError as exc:
            raise command_error(exc) from exc
        self.told[flow_id] = None
        return {"id": flow_id}

    def merge(self, params: Params) -> dict[str, Any] | Future[dict[str, Any]]:
        """Claim on the loop (the table is not thread-safe); merge a large text on a thread.

        A 20 KB merge takes ~14 ms: on the loop it would stall every other
        client that long; on a thread they wait at most a GIL switch (~5 ms).
        """
        check(params, {"id": (str, True), "current": (str, True)})
        flow_id = self._own(params["id"])
        try:
            merge = self.table.merger(flow_id)
        except CommandError as exc:
            raise command_error(exc) from exc
        self.told.pop(flow_id, None)
        current: str = params["current"]

        def answer() -> dict[str, Any]:
            result: dict[str, Any] = merge(current).to_json()
            return result

        return answer() if len(current) < OFF_LOOP_CHARS else off_loop(answer)

    def cancel(self, params: Params) -> dict[str, bool]:
        check(params, {"id": (str, True)})
        return {"cancelled": self.table.cancel(self._own(params["id"]))}

    def list(self, params: Params) -> dict[str, Any]:
        check(params, {})
        return {"flows": [row for row in self.table.rows() if row["owner"] == self.owner]}

    def dead_letters(self, params: Params) -> dict[str, Any]:
        check(params, {})
        letters = self.table.dead_letters()
        return {"deadLetters": [d for d in letters if d["owner"] == self.owner]}

    def shutdown(self, params: Params) -> None:
        check(params, {})
        if not self.shutting_down:
            self.shutting_down = True
            self.on_shutdown()

    def exit(self, params: Params) -> None:
        self.on_exit()

    def _own(self, flow_id: str) -> str:
        """``flow_id`` if this client started it; other clients' flows do not exist for it.

        The owner comes from the table's row or dead letter, so the session
        keeps no record of past flows, and a late ``flow/merge`` still gets
        the precise answer ("expired", "timed out", "already merged") for as
        long as the table remembers the flow.
        """
        try:
            owner = self.table.owner(flow_id)
        except UnknownId:
            owner = None
        if owner != self.owner:  # one answer for all three, so no client learns of another's
            problem = "it never existed, was forgotten, or is another client's"
            raise RpcError(UNKNOWN_ID, f"unknown flow id {flow_id!r} ({problem})")
        return flow_id

    def notify(self, event: Event) -> dict[str, Any] | None:
        """The notification an event of one of this client's flows becomes (None: none)."""
        if event.state in _FAILURES or event.state == "merged":
            self.told.pop(event.id, None)
        elif event.id in self.told:
            self.told[event.id] = event.state
        return event_notification(event)

    def missed(self, rows: dict[str, dict[str, Any]], dead: set[str]) -> Iterator[Event]:
        """After events were lost: the current state of each flow whose change it was not told.

        ``rows`` are the table's rows by id, ``dead`` the dead-lettered ids. A
        flow the table no longer remembers ended long ago, unseen: it failed.
        """
        for flow_id, told in list(self.told.items()):
            row = rows.get(flow_id)
            if row is None:
                reason = "its events were lost and the daemon no longer remembers how it ended"
                yield Event(flow_id, "failed", self.owner, reason, "internal")
            elif row["state"] != told:
                state, reason, error = row["state"], row["reason"], row["error"]
                yield Event(flow_id, state, self.owner, reason, error, flow_id in dead)


def off_loop(work: Callable[[], T]) -> Future[T]:
    """Run ``work`` on a worker thread; the future completes on the loop's thread.

    The endpoint answers from the future's callback, which runs where the
    future completes: connections send from the loop only. A failure is a bug,
    answered -32603.
    """
    loop = asyncio.get_running_loop()
    answer: Future[T] = Future()

    def done(task: asyncio.Future[T]) -> None:
        error = InternalError("the daemon stopped") if task.cancelled() else task.exception()
        if error is None:
            answer.set_result(task.result())
        elif isinstance(error, RpcError):
            answer.set_exception(error)
        else:
            log.error("off-loop work failed", exc_info=error)
            answer.set_exception(InternalError(f"{type(error).__name__}: {error}"))

    loop.run_in_executor(None, work).add_done_callback(done)
    return answer


def event_notification(event: Event) -> dict[str, Any] | None:
    """The notification a command-table event becomes (None: the client did it itself)."""
    if event.state == "merged":
        return None
    if event.state == "ready":
        return notification("flow/ready", {"id": event.id})
    if event.state in _FAILURES:
        error = {
            "code": event.error or "internal",
            "message": event.message or event.state.replace("_", " "),
        }
        params = {"id": event.id, "error": error, "deadLettered": event.dead_lettered}
        return notification("flow/failed", params)
    progress: dict[str, Any] = {"id": event.id, "state": event.state}
    if event.message:
        progress["message"] = event.message
    return notification("flow/progress", progress)


_TYPE_NAMES = {str: "a string", dict: "an object", float: "a number"}


def check(params: Params, spec: dict[str, tuple[type, bool]], *, strict: bool = True) -> None:
    """Refuse unknown (when ``strict``), missing and mistyped params, naming the field (-32602)."""
    for name in params if strict else ():
        if name not in spec:
            known = ", ".join(spec) or "none"
            raise invalid_params(f"params.{name}", f"unknown parameter (known: {known})")
    for name, (kind, required) in spec.items():
        value = params.get(name)
        if value is None:
            if required:
                raise invalid_params(f"params.{name}", f"missing (must be {_TYPE_NAMES[kind]})")
            continue
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise invalid_params(
                f"params.{name}", f"must be {_TYPE_NAMES[kind]}, not {json_kind(value)}"
            )
