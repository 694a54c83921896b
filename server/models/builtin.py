"""The built-in backends, registered through the same hooks as any plugin.

Each backend factory checks the ``[models.NAME]`` settings it is given, so a
typo or a wrong type in the config file is an error that names the file, the
line and the key, not a ``TypeError`` from a constructor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import Config, ModelConfig
from .base import Model
from .hookspecs import BackendFactory, RegisterModel, hookimpl

_NUMBER = (int, float)
_NAMES = {str: "a string", int: "an int", bool: "true or false", list: "a list", dict: "a table"}


@hookimpl
def register_backends(register: Callable[[str, BackendFactory], None]) -> None:
    register("spell", _spell)
    register("openai", _openai)
    register("gguf", _gguf)


@hookimpl
def register_models(register: RegisterModel, config: Config) -> None:
    from .spell import SpellModel

    register(SpellModel("spell", words=config.words))


def settings(
    declared: ModelConfig,
    schema: dict[str, tuple[type, ...]],
    required: tuple[str, ...] = (),
    zero_ok: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """``declared.settings`` checked against ``schema`` (key -> accepted types);
    the numbers named in ``zero_ok`` must not be negative, nor 0 where it maps to
    False, so ``timeout = 0`` is a config error rather than calls that all fail."""
    for key in required:
        if key not in declared.settings:
            raise declared.error(key, f"missing: the {declared.backend} backend needs it")
    for key, value in declared.settings.items():
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise declared.error(
                key, f"unknown setting for backend {declared.backend!r} (known: {known})"
            )
        types = schema[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = "a number" if float in types else " or ".join(_NAMES[t] for t in types)
            raise declared.error(key, f"must be {names}, not {value!r}")
        allow_zero = (zero_ok or {}).get(key)
        if (
            allow_zero is not None
            and isinstance(value, _NUMBER)
            and (value < 0 or (value == 0 and not allow_zero))
        ):
            floor = "0 or more" if allow_zero else "more than 0"
            raise declared.error(key, f"must be {floor}, not {value!r}")
    return dict(declared.settings)


def _spell(declared: ModelConfig) -> Model:
    from .spell import SpellModel

    values = settings(declared, {"words": (list,)})
    return SpellModel(declared.name, default_options=declared.options, **values)


def _openai(declared: ModelConfig) -> Model:
    from .openai import OpenAIModel

    schema: dict[str, tuple[type, ...]] = {
        "base_url": (str,),
        "model": (str,),
        "api_key_env": (str,),
        "timeout": _NUMBER,
        "retries": (int,),
        "retry_backoff": _NUMBER,
        "sampling_extras": (bool,),
        "extra_body": (dict,),
        "max_concurrency": (int,),
        "context_tokens": (int,),
    }
    zero_ok = {"timeout": False, "retries": True, "retry_backoff": True}
    zero_ok |= {"max_concurrency": False, "context_tokens": False}
    values = settings(declared, schema, ("base_url",), zero_ok)
    if not values["base_url"].startswith(("http://", "https://")):
        raise declared.error(
            "base_url", f"must start with http:// or https://, not {values['base_url']!r}"
        )
    return OpenAIModel(declared.name, default_options=declared.options, **values)


def _gguf(declared: ModelConfig) -> Model:
    from .gguf import GGUFModel

    schema: dict[str, tuple[type, ...]] = {
        "path": (str,),
        "n_ctx": (int,),
        "n_threads": (int,),
        "n_gpu_layers": (int,),
        "chat_format": (str,),
        "seed": (int,),
    }
    values = settings(declared, schema, ("path",), {"n_ctx": False, "n_threads": False})
    return GGUFModel(declared.name, default_options=declared.options, **values)
