"""A scripted test model, registered through the same hook a user's plugin uses.

Name this file under ``plugins`` in a config file and declare models with
``backend = "scripted"``::

    plugins = ["/path/to/tests/plugins/scripted.py"]
    default_model = "scripted"

    [models.scripted]
    backend = "scripted"
    delay = 1.0                                  # seconds before the answer
    replace = { teh = "the", buyed = "bought" }  # whole-word replacements of the input
    max_concurrency = 4
    context_tokens = 4096                        # what the chunker plans for
    wrap = "Here you go:\n\n{answer}\n\nHope this helps!"  # chatter around every answer
    strip = true                                 # drop the answer's outer whitespace
    rules = [                                    # first rule whose `when` occurs in the input wins
      { when = "HANG", hang = true },            # never answers (until cancelled)
      { when = "STALL", hang_after = true },     # streams its answer, then never ends
      { when = "LATE", hang = true, late = true },  # ignores cancellation: answers anyway
      { when = "FAIL", fail = "scripted failure" },
      { when = "FLAKY", transient_failures = 2 },  # fails transiently twice, then answers
      { when = "BUSY", transient_failures = 1, retry_after = 30 },  # a 429 saying when
      { when = "REWRITE", reply = "Something else entirely." },
      { when = "SLOW", delay = 5 },
    ]

The answer is the prompt's input (the user's text, not the template) with the
replacements applied, streamed in a few chunks. Deterministic: tests of the
daemon and the editors rely on exactly this behaviour.

``late = true`` plays a backend that cannot be interrupted (a model on a
thread): cancelling the call does not stop it, and its answer arrives after
the caller gave up, which the command table must drop. ``calls``, ``active``
and ``peak`` (most calls at once) let tests check the concurrency limit.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Callable
from typing import Any

from llm_flows.config import ModelConfig
from llm_flows.models import Model, ModelError, Prompt, Response, hookimpl


class ScriptedModel(Model):
    """Answers from a script: replacements, delays, failures, hangs."""

    def __init__(self, declared: ModelConfig) -> None:
        super().__init__(declared.name, default_options=declared.options)
        settings = dict(declared.settings)
        self.delay = float(settings.get("delay", 0.0))
        self.replace: dict[str, str] = dict(settings.get("replace", {}))
        self.rules: list[dict[str, Any]] = list(settings.get("rules", []))
        self.max_concurrency = int(settings.get("max_concurrency", 8))  # type: ignore[misc]
        self.context_tokens = int(settings.get("context_tokens", 4096))  # type: ignore[misc]
        self.wrap = str(settings.get("wrap", "{answer}"))
        self.strip = bool(settings.get("strip", False))
        self.calls = 0
        self.active = 0
        self.peak = 0
        self._failures: dict[str, int] = {}

    def _rule(self, text: str) -> dict[str, Any]:
        return next((rule for rule in self.rules if rule.get("when", "") in text), {})

    def answer(self, text: str) -> str:
        for wrong, right in self.replace.items():
            text = re.sub(rf"\b{re.escape(wrong)}\b", right, text)
        return text

    async def execute(self, prompt: Prompt, response: Response) -> AsyncGenerator[str, None]:
        self.calls += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            async for chunk in self._answer(prompt.subject):
                yield chunk
        finally:
            self.active -= 1

    async def _wait(self, rule: dict[str, Any]) -> None:
        try:
            if rule.get("hang"):
                await asyncio.Event().wait()
            await asyncio.sleep(float(rule.get("delay", self.delay)))
        except asyncio.CancelledError:
            if not rule.get("late"):
                raise

    async def _answer(self, text: str) -> AsyncGenerator[str, None]:
        rule = self._rule(text)
        await self._wait(rule)
        if "fail" in rule:
            raise ModelError(str(rule["fail"]))
        if "transient_failures" in rule:
            key = rule["when"]
            seen = self._failures.get(key, 0)
            if seen < int(rule["transient_failures"]):
                self._failures[key] = seen + 1
                retry_after = rule.get("retry_after")
                raise ModelError(
                    "scripted transient failure",
                    transient=True,
                    retry_after=None if retry_after is None else float(retry_after),
                )
        answer = str(rule["reply"]) if "reply" in rule else self.answer(text)
        answer = self.wrap.replace("{answer}", answer.strip() if self.strip else answer)
        step = max(1, len(answer) // 3)
        for start in range(0, len(answer), step):
            yield answer[start : start + step]
            await asyncio.sleep(0)
        if rule.get("hang_after"):
            await asyncio.Event().wait()

    def describe(self) -> str:
        return f"scripted test model (delay {self.delay}s)"


@hookimpl
def register_backends(register: Callable[[str, Callable[[ModelConfig], Model]], None]) -> None:
    register("scripted", ScriptedModel)
