"""What a flow is: a pipeline of text -> text steps, plus how its result is merged."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import FlowError
from .template import PLAIN, Template

DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Step:
    """One model call per chunk of the text: render ``template``, call the model, clean.

    ``model`` pins the step to a model (e.g. ``"spell"``); None means the model the
    flow was started with. ``max_rewrite`` is the over-correction guard: the largest
    share of words the answer may change (None: no guard).
    """

    template: Template = PLAIN
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    keep_line_breaks: bool = True
    max_rewrite: float | None = None


@dataclass(frozen=True)
class Flow:
    """A named pipeline; ``merge_policy`` holds MergePolicy keyword arguments."""

    name: str
    description: str
    steps: tuple[Step, ...]
    model: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    needs_instruction: bool = False
    instruction: str | None = None
    merge_policy: dict[str, float] = field(default_factory=dict)
    source: str = "built-in"

    @property
    def version(self) -> str:
        """Changes whenever a template, model or setting that shapes the answer changes."""
        parts = [self.name, str(self.model)]
        for step in self.steps:
            t = step.template
            parts += [t.name, t.version, t.system, t.prompt, str(step.model)]
            parts += [repr(sorted(step.options.items())), str(step.keep_line_breaks)]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]

    def describe(self) -> dict[str, Any]:
        """A row for ``flows list`` and the daemon's ``initialize``."""
        return {
            "name": self.name,
            "description": self.description,
            "needsInstruction": self.needs_instruction,
            "model": self.model,
            "steps": [
                {
                    "template": s.template.name,
                    "templateVersion": s.template.version,
                    "model": s.model,
                }
                for s in self.steps
            ],
            "timeout": self.timeout,
            "source": self.source,
        }


class FlowCatalog:
    """The flows a process knows, by name."""

    def __init__(self, flows: dict[str, Flow], templates: dict[str, Template]) -> None:
        self._flows = dict(flows)
        self.templates = dict(templates)

    def get(self, name: str) -> Flow:
        """The flow called ``name``; unknown names get an error listing the known ones."""
        try:
            return self._flows[name]
        except KeyError:
            known = ", ".join(sorted(self._flows))
            raise FlowError(f"unknown flow {name!r} (available: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._flows

    def __iter__(self) -> Iterator[Flow]:
        return iter(sorted(self._flows.values(), key=lambda f: f.name))

    def names(self) -> list[str]:
        return sorted(self._flows)
