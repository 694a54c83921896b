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
    """The flow expired, was cancelled, timed out or failed; the message says which and why."""

    kind = "gone"
