"""The plugin hooks. Built-in backends register through them too.

A plugin is a module (or object) with functions marked ``@hookimpl``, found
through the ``llm_flows`` entry-point group or listed under ``plugins`` in the
config file. pluggy lets an implementation take only the arguments it needs,
so ``def register_models(register): ...`` is a valid implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ..config import Config, ModelConfig
    from .base import Model

hookspec = pluggy.HookspecMarker("llm_flows")
hookimpl = pluggy.HookimplMarker("llm_flows")

RegisterModel = Callable[..., None]  # register(model: Model, aliases: Iterable[str] = ())
BackendFactory = Callable[["ModelConfig"], "Model"]


@hookspec
def register_models(register: RegisterModel, config: Config) -> None:
    """Register ready models: ``register(model, aliases=())``."""


@hookspec
def register_backends(register: Callable[[str, BackendFactory], None]) -> None:
    """Register backends by name, used by ``[models.NAME] backend = "..."`` tables."""
