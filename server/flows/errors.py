"""Errors raised while loading or running flows."""

from __future__ import annotations


class FlowError(Exception):
    """A flow or template definition is invalid; the message names the file and key."""


class Rejected(Exception):
    """A model's answer is not acceptable for this step (e.g. it rewrote a correction)."""
