"""Find models by id or alias, built once and cached.

One :class:`Registry` per process (the daemon, a CLI run) is built from the
configuration; there is no module-level state, so tests can build as many
as they like with different configurations and plugins.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pluggy
from pydantic import ValidationError

from ..config import Config, ConfigError, ModelConfig, located_error
from . import hookspecs
from .base import Model, Options
from .hookspecs import BackendFactory

ENTRY_POINT_GROUP = "llm_flows"


class UnknownModelError(LookupError):
    """No model has that id or alias; the message lists the ones that exist."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ModelInfo:
    """A row of ``llm-flows models list``."""

    model_id: str
    backend: str
    aliases: tuple[str, ...]
    description: str


class Registry:
    """Models registered by plugins and declared in the config file."""

    def __init__(self, config: Config | None = None, plugins: Iterable[object] = ()) -> None:
        self.config = config or Config()
        self._manager = pluggy.PluginManager("llm_flows")
        self._manager.add_hookspecs(hookspecs)
        from . import builtin

        self._manager.register(builtin, name="llm_flows.builtin")
        _load_entry_points(self._manager)
        for ref in self.config.plugins:
            self._manager.register(_load_plugin(ref, self.config), name=ref)
        for plugin in plugins:
            self._manager.register(plugin)
        self._backends: dict[str, BackendFactory] = {}
        self._manager.hook.register_backends(register=self._add_backend)
        self._models: dict[str, Model] = {}
        self._infos: dict[str, ModelInfo] = {}
        self._aliases: dict[str, str] = {}
        self._declared: dict[str, ModelConfig] = {}
        self._manager.hook.register_models(register=self._add_model, config=self.config)
        for name, declared in self.config.models.items():
            if declared.backend not in self._backends:
                known = ", ".join(sorted(self._backends))
                raise declared.error(
                    "backend", f"unknown backend {declared.backend!r} (known: {known})"
                )
            self._declared[name] = declared
            self._infos[name] = ModelInfo(name, declared.backend, declared.aliases, "")
            self._models.pop(name, None)
        for name, declared in self.config.models.items():
            for alias in declared.aliases:
                self._check_alias(alias, name, declared)
                self._aliases[alias] = name

    def _check_alias(self, alias: str, name: str, declared: ModelConfig) -> None:
        """An alias that hid a model id or another alias would silently send
        calls to the wrong model (``aliases = ["spell"]`` taking the default)."""
        if alias in self._infos and alias != name:
            raise declared.error("aliases", f"{alias!r} is already the id of a model")
        owner = self._aliases.get(alias)
        if owner is not None and owner != name:
            raise declared.error("aliases", f"{alias!r} is already an alias of {owner!r}")

    def _add_backend(self, name: str, factory: BackendFactory) -> None:
        self._backends[name] = factory

    def _add_model(self, model: Model, aliases: Iterable[str] = ()) -> None:
        aliases = tuple(aliases)
        self._models[model.model_id] = model
        self._infos[model.model_id] = ModelInfo(
            model.model_id, type(model).__module__.rsplit(".", 1)[-1], aliases, model.describe()
        )
        for alias in aliases:
            self._aliases[alias] = model.model_id

    def resolve(self, name: str | None) -> str:
        """The model id ``name`` (an id, an alias, or None for the default) refers to."""
        wanted = name or self.config.default_model
        model_id = self._aliases.get(wanted, wanted)
        if model_id not in self._infos:
            known = ", ".join(sorted(self._infos))
            problem = f"unknown model {wanted!r} (available: {known})"
            if name is None and self.config.path is not None:  # the config file's fault
                problem = str(located_error(self.config.path, "default_model", problem))
            raise UnknownModelError(problem)
        return model_id

    def get_model(self, name: str | None = None) -> Model:
        """The model for an id or alias (None: the configured default), built once."""
        model_id = self.resolve(name)
        model = self._models.get(model_id)
        if model is None:
            declared = self._declared[model_id]
            try:
                model = self._backends[declared.backend](declared)
            except ValidationError as exc:
                options = getattr(self._backends[declared.backend], "Options", Options)
                raise declared.error("options", options.explain(exc)) from exc
            self._models[model_id] = model
        return model

    def models(self) -> list[ModelInfo]:
        """Every model, with declared models described by their instance."""
        infos = []
        for model_id, info in sorted(self._infos.items()):
            if model_id in self._declared:
                described = self.get_model(model_id).describe()
                infos.append(ModelInfo(model_id, info.backend, info.aliases, described))
            else:
                infos.append(info)
        return infos

    async def aclose(self) -> None:
        """Close every model that was built."""
        for model in self._models.values():
            await model.aclose()


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    """Register the installed packages' ``llm_flows`` entry points.

    pluggy's own loader lets a broken package's ImportError escape with a
    traceback that does not say which package it came from; every command
    would fail that way, so the error names the package and the entry point.
    """
    for dist in importlib.metadata.distributions():
        for entry in dist.entry_points:
            if entry.group != ENTRY_POINT_GROUP or manager.has_plugin(entry.name):
                continue
            try:
                plugin = entry.load()
            except Exception as exc:  # any error a plugin's import raises
                package = f"{dist.metadata['Name']} {dist.version}"
                raise ConfigError(
                    f"plugin package {package}: entry point {entry.name} = {entry.value!r}"
                    f" (group {ENTRY_POINT_GROUP}) cannot be loaded:"
                    f" {type(exc).__name__}: {exc} (fix or uninstall the package)"
                ) from exc
            manager.register(plugin, name=entry.name)


def _load_plugin(ref: str, config: Config) -> ModuleType:
    """Import a plugin named in the config: a module name or a ``.py`` path."""
    try:
        if ref.endswith(".py"):
            path = Path(ref).expanduser()
            if not path.is_absolute():
                path = config.directory / path
            spec = importlib.util.spec_from_file_location(f"llm_flows_plugin_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(ref)
    except (ImportError, OSError, SyntaxError) as exc:
        raise located_error(config.path, "plugins", f"cannot load {ref!r}: {exc}") from exc
