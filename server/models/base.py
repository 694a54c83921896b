"""The model contract: options, prompts, streamed responses.

After simonw/llm: a :class:`Model` turns a :class:`Prompt` into a
:class:`Response` that streams text chunks and records what happened
(finish reason, usage, duration, typed parts). Backends implement one
async generator, :meth:`Model.execute`; everything else is shared here so
that every backend reports the same facts the same way.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

FinishReason = Literal["stop", "length", "content_filter", "cancelled", "error"]
PartKind = Literal["system", "prompt", "generated"]


class Options(BaseModel):
    """Generation options shared by every backend (the Spin LLM interface).

    Unknown keys are rejected, naming the key, so a typo in a config file or an
    RPC call is an error rather than a silently ignored setting. A backend may
    subclass this to add its own options.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int | None = Field(None, ge=1, description="Token limit; unset: until a stop.")
    stop: list[str] = Field(default_factory=list, description="Stop sequences (not in the output).")
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="Sampling temperature.")
    top_k: int | None = Field(None, ge=0, description="Sample from the k most likely tokens.")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    repeat_penalty: float | None = Field(None, gt=0.0, description="Repetition penalty (1 = none).")
    seed: int | None = Field(None, description="Random seed, for reproducible sampling.")

    @classmethod
    def explain(cls, error: ValidationError) -> str:
        """A one-line message naming each bad option and what is wrong with it."""
        problems = []
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"]) or "options"
            if item["type"] == "extra_forbidden":
                known = ", ".join(cls.model_fields)
                problems.append(f"unknown option {key!r} (known: {known})")
            else:
                problems.append(f"{key}: {item['msg']}")
        return "; ".join(problems)

    def merged(self, overrides: dict[str, Any] | None) -> Options:
        """These options with ``overrides`` on top (validated the same way)."""
        if not overrides:
            return self
        return type(self).model_validate({**self.model_dump(exclude_unset=True), **overrides})


@dataclass(frozen=True)
class Prompt:
    """What a model is asked.

    ``input`` is the user's own text the prompt was rendered around (for a
    flow's template), or None. Models that work on text rather than on
    instructions (the offline speller, scripted test models) use it; chat
    models send ``system`` and ``text``.
    """

    text: str
    system: str | None = None
    options: Options = field(default_factory=Options)
    input: str | None = None

    @property
    def subject(self) -> str:
        """The text a text-transforming model should work on."""
        return self.text if self.input is None else self.input


@dataclass(frozen=True)
class Usage:
    """Token counts; ``counted`` is True when we counted rather than the server said."""

    input_tokens: int
    output_tokens: int
    counted: bool = False


@dataclass(frozen=True)
class Part:
    """One typed piece of a response: what was templated, what was generated."""

    kind: PartKind
    text: str
    logprobs: list[dict[str, Any]] | None = None


class ModelError(Exception):
    """A model call failed. ``transient`` errors (connect, 429, 5xx before any
    output) may be retried by the caller, no sooner than ``retry_after``
    seconds when the server said so; the message is for the user."""

    def __init__(
        self, message: str, *, transient: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class Response:
    """A model's answer: iterate it once for text chunks, then read the record.

    ``async for chunk in response`` streams; ``await response.text()`` drains it.
    The first iteration runs the backend; later or concurrent iterations replay
    the chunks and follow the live stream. Cancelling the task that runs the
    backend (or leaving its loop early) closes the backend's generator, which
    stops its work (an HTTP stream, a llama.cpp generation), and records
    ``finish_reason == "cancelled"``. A failure records ``"error"`` and
    :attr:`error`; ``text()`` raises it again for every caller.
    """

    def __init__(self, model: Model, prompt: Prompt) -> None:
        self.model = model
        self.prompt = prompt
        self.finish_reason: FinishReason | None = None
        self.usage: Usage | None = None
        self.resolved_model: str = model.model_id
        self.duration: float | None = None
        self.error: str | None = None
        self.generated: list[Part] = []
        self._chunks: list[str] = []
        self._started = False
        self._done = asyncio.Event()
        self._progress = asyncio.Event()  # replaced after each chunk; wakes followers

    @property
    def parts(self) -> list[Part]:
        """Templated parts (system, prompt) followed by what the model generated."""
        head: list[Part] = []
        if self.prompt.system:
            head.append(Part("system", self.prompt.system))
        head.append(Part("prompt", self.prompt.text))
        if self.generated or not self._chunks:
            return head + self.generated
        return [*head, Part("generated", "".join(self._chunks))]

    @property
    def output(self) -> str:
        """The text streamed so far (all of it once :attr:`done`)."""
        return "".join(self._chunks)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _notify(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    async def _follow(self) -> AsyncIterator[str]:
        """Replay the chunks so far, then the rest as the first reader gets them."""
        seen = 0
        while True:
            while seen < len(self._chunks):
                seen += 1
                yield self._chunks[seen - 1]
            if self.done:
                return
            await self._progress.wait()

    async def __aiter__(self) -> AsyncIterator[str]:
        if self._started:
            async for chunk in self._follow():
                yield chunk
            return
        self._started = True
        start = time.monotonic()
        stream = self.model.execute(self.prompt, self)
        try:
            async for chunk in stream:
                if chunk:
                    self._chunks.append(chunk)
                    self._notify()
                    yield chunk
            if self.finish_reason is None:
                self.finish_reason = "stop"
        except (asyncio.CancelledError, GeneratorExit):
            self.finish_reason = "cancelled"
            raise
        except ModelError as exc:
            self.finish_reason = "error"
            self.error = str(exc)
            raise
        except Exception as exc:  # a backend bug: still a record, never a hang
            self.finish_reason = "error"
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            await stream.aclose()
            self.duration = time.monotonic() - start
            if self.usage is None:
                self.usage = Usage(
                    self.model.count_tokens(self.prompt.text + (self.prompt.system or "")),
                    self.model.count_tokens("".join(self._chunks)),
                    counted=True,
                )
            self._done.set()
            self._notify()

    async def text(self) -> str:
        """The whole answer (drains the stream if nobody has); raises a recorded error."""
        if not self._started:
            async for _ in self:
                pass
        else:
            await self._done.wait()
        if self.finish_reason == "error":
            raise ModelError(self.error or "the model failed")
        return self.output

    def to_json(self) -> dict[str, Any]:
        """A plain record for logs and the protocol."""
        return {
            "model": self.resolved_model,
            "text": self.output,
            "finish_reason": self.finish_reason,
            "usage": None if self.usage is None else vars(self.usage),
            "duration": self.duration,
            "error": self.error,
        }


class Model(ABC):
    """A named way to answer prompts.

    Construction must be cheap: load weights, dictionaries or clients lazily on
    first use and keep them on the instance (the registry caches instances, so
    a daemon pays start-up costs once).
    """

    model_id: str
    Options: ClassVar[type[Options]] = Options
    #: how many calls may run at once (the command table enforces it)
    max_concurrency: ClassVar[int] = 4
    #: tokens of context, used to split long regions into chunks
    context_tokens: ClassVar[int] = 4096
    #: False for models that transform text without reading a prompt (the offline
    #: speller): a flow step that needs an instruction refuses them instead of
    #: silently ignoring what the user asked for
    follows_instructions: ClassVar[bool] = True

    def __init__(self, model_id: str, *, default_options: dict[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.default_options = self.Options.model_validate(default_options or {})

    def respond(self, prompt: Prompt) -> Response:
        """A lazy response; nothing runs until it is iterated."""
        return Response(self, prompt)

    def prompt(
        self, text: str, *, system: str | None = None, input: str | None = None, **options: Any
    ) -> Response:
        """Convenience: build the :class:`Prompt` with this model's default options."""
        return self.respond(Prompt(text, system, self.default_options.merged(options), input))

    @abstractmethod
    def execute(self, prompt: Prompt, response: Response) -> AsyncGenerator[str, None]:
        """Yield text chunks. May set ``response.finish_reason``, ``usage``,
        ``resolved_model`` and ``generated``; raise :class:`ModelError` on failure."""

    def count_tokens(self, text: str) -> int:
        """An estimate used when the backend does not report usage (~4 chars/token)."""
        return max(1, (len(text) + 3) // 4) if text else 0

    def describe(self) -> str:
        """Where this model points, for ``llm-flows models list``."""
        return type(self).__name__

    async def aclose(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release clients, threads or weights."""
