"""The built-in backends, registered through the same hooks as any plugin."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Config, ModelConfig
from .base import Model
from .hookspecs import BackendFactory, RegisterModel, hookimpl


@hookimpl
def register_backends(register: Callable[[str, BackendFactory], None]) -> None:
    register("spell", _spell)


@hookimpl
def register_models(register: RegisterModel, config: Config) -> None:
    from .spell import SpellModel

    register(SpellModel("spell", words=config.words))


def _spell(declared: ModelConfig) -> Model:
    from .spell import SpellModel

    return SpellModel(declared.name, default_options=declared.options, **declared.settings)
