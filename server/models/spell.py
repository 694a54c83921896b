"""PLACEHOLDER: the offline spelling model (issue 3 replaces this with the real one)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import Any

from .base import Model, Prompt, Response


class SpellModel(Model):
    max_concurrency = 64

    def __init__(self, model_id: str, *, words: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(model_id, **kwargs)
        self.words = frozenset(words)

    async def execute(self, prompt: Prompt, response: Response) -> AsyncGenerator[str, None]:
        yield prompt.subject

    def describe(self) -> str:
        return "offline English spelling corrector"
