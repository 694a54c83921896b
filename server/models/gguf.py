"""``gguf``: a local GGUF model run in-process by llama-cpp-python (extra ``local``).

A ``Llama`` is not thread-safe (two threads in one instance abort the
process), so each model owns one worker thread that loads the weights on first
use and runs every generation; the event loop only receives chunks. Cancelling
the reader sets a flag the worker checks between tokens, so generation stops
within one token. Loading with ``verbose=False`` redirects file descriptors 1
and 2 for a moment: a daemon must speak its protocol on a duplicate of stdout
taken at start-up (see docs/models.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import Field

from .base import FinishReason, Model, ModelError, Options, Prompt, Response, Usage

_Emit = Callable[[str, Any], None]


class GGUFOptions(Options):
    """The shared options plus a GBNF ``grammar`` that constrains the output."""

    grammar: str | None = Field(None, description="GBNF grammar the output must match.")


class GGUFModel(Model):
    """A GGUF file served by llama-cpp-python in this process."""

    Options = GGUFOptions
    max_concurrency = 1

    def __init__(
        self,
        model_id: str,
        *,
        path: str,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        chat_format: str | None = None,
        seed: int | None = None,
        default_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model_id, default_options=default_options)
        self.path = Path(path).expanduser()
        self.context_tokens = n_ctx  # type: ignore[misc]
        self._settings: dict[str, Any] = {
            "n_ctx": n_ctx,
            "n_threads": n_threads,
            "n_gpu_layers": n_gpu_layers,
            "chat_format": chat_format,
        }
        if seed is not None:
            self._settings["seed"] = seed
        self._llama: Any = None
        self._worker: ThreadPoolExecutor | None = None

    def describe(self) -> str:
        return str(self.path)

    async def execute(self, prompt: Prompt, response: Response) -> AsyncGenerator[str, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def emit(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the loop is gone: nobody is listening
                stop.set()

        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"gguf-{self.model_id}")
        self._worker.submit(self._generate, prompt, stop, emit)
        try:
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    yield value
                elif kind == "error":
                    raise ModelError(value)
                else:
                    response.finish_reason, response.usage = value
                    return
        finally:
            stop.set()

    def _load(self) -> Any:
        """The Llama instance (worker thread only)."""
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ModelError(
                    "the gguf backend needs llama-cpp-python: pip install 'llm-flows[local]'"
                ) from exc
            if not self.path.is_file():
                raise ModelError(f"model {self.model_id!r}: no GGUF file at {self.path}")
            try:
                self._llama = Llama(model_path=str(self.path), verbose=False, **self._settings)
            except (ValueError, RuntimeError) as exc:
                raise ModelError(
                    f"model {self.model_id!r}: cannot load {self.path}: {exc}"
                ) from exc
        return self._llama

    def _generate(self, prompt: Prompt, stop: threading.Event, emit: _Emit) -> None:
        """Run one generation on the worker thread, streaming through ``emit``."""
        try:
            llama = self._load()
            options = prompt.options
            kwargs: dict[str, Any] = {
                "max_tokens": options.max_tokens,
                "stop": list(options.stop) or None,
                "stream": True,
            }
            for key in ("temperature", "top_k", "top_p", "repeat_penalty", "seed"):
                if getattr(options, key) is not None:
                    kwargs[key] = getattr(options, key)
            grammar = getattr(options, "grammar", None)
            if grammar:
                from llama_cpp.llama_grammar import LlamaGrammar

                kwargs["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
            messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
            messages.append({"role": "user", "content": prompt.text})
            reason: FinishReason = "stop"
            produced = 0
            stream = llama.create_chat_completion(messages=messages, **kwargs)
            for chunk in stream:
                if stop.is_set():
                    reason = "cancelled"
                    break
                choice = chunk["choices"][0]
                text = choice.get("delta", {}).get("content")
                if text:
                    produced += 1
                    emit("text", text)
                if choice.get("finish_reason") == "length":
                    reason = "length"
            stream.close()
            used = len(llama.tokenize(((prompt.system or "") + prompt.text).encode()))
            emit("done", (reason, Usage(used, produced, counted=True)))
        except ModelError as exc:
            emit("error", str(exc))
        except Exception as exc:  # llama.cpp raises plain errors; report, never kill the worker
            emit("error", f"model {self.model_id!r}: {type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        if self._worker is not None:
            worker, self._worker = self._worker, None
            await asyncio.get_running_loop().run_in_executor(worker, self._unload)
            worker.shutdown(wait=False)

    def _unload(self) -> None:
        if self._llama is not None:
            close = getattr(self._llama, "close", None)
            if close is not None:
                close()
            self._llama = None
