"""The command table: every flow in flight, with deadlines, retries and dead letters.

``CommandTable`` is the one API the daemon and batch mode use: submit a flow on
a text, watch its state changes, claim the proposal, merge it into the current
text. See docs/flows.md for the states and what moves a flow between them.
"""

from .clock import Clock, LoopClock, ManualClock
from .errors import (
    CommandError,
    Gone,
    InvalidRequest,
    NotReady,
    QueueFull,
    UnknownFlow,
    UnknownId,
    UnknownModel,
)
from .events import EventsLost, EventStream
from .records import Event, FlowState
from .table import CommandTable

__all__ = [
    "Clock",
    "CommandError",
    "CommandTable",
    "Event",
    "EventStream",
    "EventsLost",
    "FlowState",
    "Gone",
    "InvalidRequest",
    "LoopClock",
    "ManualClock",
    "NotReady",
    "QueueFull",
    "UnknownFlow",
    "UnknownId",
    "UnknownModel",
]
