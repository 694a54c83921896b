"""Models: one way to call any model, local or remote, with the same record of what happened."""

from .base import FinishReason, Model, ModelError, Options, Part, Prompt, Response, Usage
from .hookspecs import hookimpl
from .registry import ModelInfo, Registry, UnknownModelError

__all__ = [
    "FinishReason",
    "Model",
    "ModelError",
    "ModelInfo",
    "Options",
    "Part",
    "Prompt",
    "Registry",
    "Response",
    "UnknownModelError",
    "Usage",
    "hookimpl",
]
