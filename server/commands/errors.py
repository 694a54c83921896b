"""Errors the command table raises; ``kind`` is what the daemon maps to JSON-RPC codes."""

from __future__ import annotations

from typing import ClassVar


class CommandError(Exception):
    """A request the table refuses; the message is for the user."""

    kind: ClassVar[str] = "invalid"


class UnknownFlow(CommandError):
    kind = "unknown_flow"


class UnknownModel(CommandError):
    kind = "unknown_model"


class InvalidRequest(CommandError):
    kind = "invalid"


class QueueFull(CommandError):
    kind = "queue_full"


class UnknownId(CommandError):
    kind = "unknown_id"


class NotReady(CommandError):
    kind = "not_ready"


class Gone(CommandError):
    """The flow expired, was cancelled, timed out, failed or was merged already.

    The message names the flow, for a client juggling ids; ``outcome`` says the
    same without the id, for someone who never saw one (a batch run's files).
    """

    kind = "gone"

    def __init__(self, fid: str, state: str, reason: str | None) -> None:
        self.state = state
        self.reason = reason or "no reason recorded"
        if state == "merged":
            self.outcome = "was already merged"
        else:
            self.outcome = f"{state.replace('_', ' ')}: {self.reason}"
        super().__init__(f"flow {fid} {self.outcome}")
