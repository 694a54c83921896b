"""A command table over the scripted test model, with a manual clock."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from llm_flows.commands import CommandTable, ManualClock
from llm_flows.config import load_config
from llm_flows.flows import load_flows
from llm_flows.models import Registry


@dataclass
class Setup:
    table: CommandTable
    clock: ManualClock
    registry: Registry

    def model(self, name: str = "scripted") -> Any:
        return self.registry.get_model(name)


@pytest.fixture
def make_table(write_config: Callable[..., Any]) -> Callable[..., Setup]:
    """``make_table(scripted={...}, ttl=..., ...)``: the table over a scripted model."""

    def make(
        scripted: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        models: dict[str, dict[str, Any]] | None = None,
        **table: Any,
    ) -> Setup:
        write_config(models, scripted=scripted or {}, default_model="scripted", **(config or {}))
        cfg = load_config()
        registry = Registry(cfg)
        clock = ManualClock()
        table.setdefault("rng", random.Random(7))
        return Setup(CommandTable(registry, load_flows(cfg), clock=clock, **table), clock, registry)

    return make
