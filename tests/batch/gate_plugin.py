"""A test model that lets a test act while a correction is in flight, without sleeping.

Backend ``gate`` (load this file through the config's ``plugins``)::

    [models.gate]
    backend = "gate"
    folder = "/tmp/x"        # where it leaves marks and looks for the go-ahead
    free_calls = 0           # calls answered at once before the gate applies
    replace = { teh = "the" }

Each call writes ``<folder>/called-N`` (N counts the calls of every process); after
the first ``free_calls`` calls it waits until ``<folder>/go`` exists, then answers the
input with the replacements.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

from llm_flows.config import ModelConfig
from llm_flows.models import Model, Prompt, Response, hookimpl


class GateModel(Model):
    """Answers like a simple replacer, but only once the test opens the gate."""

    def __init__(self, declared: ModelConfig) -> None:
        super().__init__(declared.name, default_options=declared.options)
        self.folder = Path(str(declared.settings["folder"]))
        self.free_calls = int(declared.settings.get("free_calls", 0))
        self.replace: dict[str, str] = dict(declared.settings.get("replace", {}))
        self.max_concurrency = int(declared.settings.get("max_concurrency", 4))  # type: ignore[misc]
        self.calls = 0

    async def execute(self, prompt: Prompt, response: Response) -> AsyncGenerator[str, None]:
        self.calls += 1
        number = len(list(self.folder.glob("called-*"))) + 1  # counted across processes
        (self.folder / f"called-{number}").write_text(prompt.subject, encoding="utf-8")
        if self.calls > self.free_calls:
            while not (self.folder / "go").exists():
                await asyncio.sleep(0.02)
        text = prompt.subject
        for wrong, right in self.replace.items():
            text = re.sub(rf"\b{re.escape(wrong)}\b", right, text)
        yield text


@hookimpl
def register_backends(register: Callable[[str, Callable[[ModelConfig], Model]], None]) -> None:
    register("gate", GateModel)
