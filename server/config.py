"""The user's configuration: one TOML file.

Found at ``$LLM_FLOWS_CONFIG`` or ``$XDG_CONFIG_HOME/llm-flows/config.toml``
(``~/.config/llm-flows/config.toml``). A missing file means the defaults: the
offline ``spell`` model and the built-in flows. Errors name the file, the key
and what is wrong.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_MODEL = "spell"


class ConfigError(Exception):
    """The configuration file is unreadable or invalid; the message says where and why."""


@dataclass(frozen=True)
class ModelConfig:
    """One ``[models.NAME]`` table: a backend plus its settings."""

    name: str
    backend: str
    settings: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    path: Path | None = None

    def error(self, key: str, problem: str) -> ConfigError:
        """An error about ``models.NAME.key`` naming the file and line, for backends."""
        return located_error(self.path, f"models.{self.name}.{key}", problem)


def located_error(path: Path | None, key: str, problem: str) -> ConfigError:
    """``FILE:LINE: key: problem`` (the line when the key can be found in the file)."""
    where = str(path) if path is not None else "configuration"
    line = _line_of(path, key) if path is not None else None
    return ConfigError(f"{where}{'' if line is None else f':{line}'}: {key}: {problem}")


def _line_of(path: Path, key: str) -> int | None:
    """The line that sets dotted ``key`` (a plain text scan: tomllib gives no positions)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    parts = key.split(".")
    for split in range(len(parts), -1, -1):
        table, rest = parts[:split], parts[split:]
        header = re.compile(r"\s*\[\s*" + r"\s*\.\s*".join(_key_re(p) for p in table) + r"\s*\]")
        start = 0
        if table:
            start = next((i for i, text in enumerate(lines) if header.match(text)), -1) + 1
            if start == 0:
                continue
        if not rest:
            return start
        wanted = re.compile(r"\s*" + _key_re(rest[0]) + r"\s*[=.]")
        for number in range(start, len(lines)):
            if re.match(r"\s*\[[^\]\d\"'{]", lines[number]):
                break  # the next table header
            if wanted.match(lines[number]):
                return number + 1
        if table:
            return start  # a missing key: point at its table
    return None


def _key_re(part: str) -> str:
    return "[\"']?" + re.escape(part) + "[\"']?"


@dataclass(frozen=True)
class Config:
    """The parsed configuration; ``flows`` holds the raw ``[flows.NAME]`` tables."""

    path: Path | None = None
    default_model: str = DEFAULT_MODEL
    models: dict[str, ModelConfig] = field(default_factory=dict)
    plugins: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``log = true|false`` overrides ``llm-flows logs on|off``; None: not set
    log: bool | None = None

    @property
    def directory(self) -> Path:
        """The folder user templates and flow files are looked up in."""
        return self.path.parent if self.path is not None else config_dir()


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "llm-flows"


def config_path() -> Path:
    """Where the configuration is read from (it need not exist)."""
    explicit = os.environ.get("LLM_FLOWS_CONFIG")
    return Path(explicit).expanduser() if explicit else config_dir() / "config.toml"


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "llm-flows"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-flows"


_TOP_KEYS = {"default_model", "models", "plugins", "words", "flows", "log"}
_MODEL_KEYS = {"backend", "options", "aliases"}


def load_config(path: Path | None = None) -> Config:
    """Read and validate the configuration at ``path`` (default: :func:`config_path`)."""
    path = path or config_path()
    explicit = path != config_dir() / "config.toml"
    if not path.exists():
        if explicit and os.environ.get("LLM_FLOWS_CONFIG"):
            raise ConfigError(f"{path}: no such file (named by LLM_FLOWS_CONFIG)")
        return Config(path=None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        end = len(path.read_text(encoding="utf-8").splitlines())
        where = f"{path}:{found[1]}:{found[2]}" if found else f"{path}:{end}"
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(f"{where}: invalid TOML: {message}") from exc
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path) -> Config:
    """Validate the decoded TOML ``data`` read from ``path``."""

    def fail(key: str, problem: str) -> ConfigError:
        return located_error(path, key, problem)

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
    default_model = data.get("default_model", DEFAULT_MODEL)
    if not isinstance(default_model, str) or not default_model:
        raise fail("default_model", "must be a model name (a non-empty string)")
    models: dict[str, ModelConfig] = {}
    raw_models = data.get("models", {})
    if not isinstance(raw_models, dict):
        raise fail("models", "must be a table of [models.NAME] tables")
    for name, table in raw_models.items():
        key = f"models.{name}"
        if not isinstance(table, dict):
            raise fail(key, "must be a table")
        backend = table.get("backend")
        if not isinstance(backend, str) or not backend:
            raise fail(f"{key}.backend", "missing: name the backend (openai, gguf, spell, ...)")
        options = table.get("options", {})
        if not isinstance(options, dict):
            raise fail(f"{key}.options", "must be a table, e.g. options = { temperature = 0.2 }")
        aliases = table.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise fail(f"{key}.aliases", "must be a list of strings")
        settings = {k: v for k, v in table.items() if k not in _MODEL_KEYS}
        models[name] = ModelConfig(name, backend, settings, options, tuple(aliases), path)
    plugins = _strings(data.get("plugins", []), fail("plugins", "must be a list of strings"))
    words = _strings(data.get("words", []), fail("words", "must be a list of strings"))
    flows = data.get("flows", {})
    if not isinstance(flows, dict) or not all(isinstance(v, dict) for v in flows.values()):
        raise fail("flows", "must be a table of [flows.NAME] tables")
    log = data.get("log")
    if log is not None and not isinstance(log, bool):
        raise fail("log", "must be true or false")
    return Config(path, default_model, models, plugins, words, flows, log)


def _strings(value: Any, error: ConfigError) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise error
    return tuple(value)
