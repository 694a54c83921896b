"""The table's records: one per flow, one per model call, and the events clients see."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from ..flows import Flow
from ..models import Model, Prompt

FlowState = Literal[
    "queued", "running", "ready", "merged", "failed", "cancelled", "timed_out", "expired"
]
PENDING: frozenset[str] = frozenset({"queued", "running"})
#: states that end a flow with no result; they go to the dead letters (cancelled only
#: when a reply still arrived after the cancel)
DEAD: frozenset[str] = frozenset({"failed", "timed_out", "expired"})
#: error codes for the daemon's flow/failed notification
ERROR_CODES: dict[str, str] = {
    "failed": "model",
    "timed_out": "timeout",
    "cancelled": "cancelled",
    "expired": "expired",
}


@dataclass(frozen=True)
class Event:
    """A flow changed state. ``error`` is a code (timeout, model, cancelled, expired,
    internal) when it ended without a result; ``message`` says what happened."""

    id: str
    state: FlowState
    owner: str | None
    message: str | None = None
    error: str | None = None
    dead_lettered: bool = False


@dataclass(eq=False)
class Call:
    """One model call: one chunk of one step of a flow."""

    flow: FlowRecord
    index: int
    model: Model
    prompt: Prompt
    state: Literal["waiting", "running", "retry", "done", "dropped"] = "waiting"
    attempts: int = 0
    task: asyncio.Task[None] | None = None


@dataclass(eq=False)
class FlowRecord:
    """Everything the table knows about one flow, from submission to its final state."""

    id: str
    flow: Flow
    text: str
    owner: str | None
    uri: str | None
    instruction: str | None
    models: list[Model]
    options: list[Any]
    deadline: float
    timeout: float
    created: float
    created_wall: float
    state: FlowState = "queued"
    history: list[tuple[FlowState, float]] = field(default_factory=list)
    step: int = 0
    chunks: list[str] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    outstanding: int = 0
    attempts: int = 0
    proposal: str | None = None
    error: str | None = None
    reason: str | None = None
    late_replies: int = 0
    waiters: list[asyncio.Future[FlowState]] = field(default_factory=list)

    @property
    def model_id(self) -> str:
        return self.models[-1].model_id

    def wall(self, t: float) -> float:
        """A clock reading of this table as seconds since the epoch."""
        return self.created_wall + (t - self.created)
