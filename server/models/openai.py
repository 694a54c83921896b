"""``openai``: any OpenAI-compatible chat server (OpenAI, Ollama, llama.cpp, vLLM).

Chat completions streamed over SSE with httpx. Failures before the first
byte of output that a retry can fix (no server yet, 429, 5xx) are retried with
backoff; after output has started nothing is retried, because the caller has
already seen text. Errors say what to fix: "no server at ...", "API key
rejected by ...", "model X not found on ...". The API key is read from the
environment variable the config names, at call time, and never logged.

Servers differ: OpenAI wants ``max_completion_tokens`` and rejects ``top_k``;
llama.cpp and Ollama take ``repeat_penalty``, vLLM ``repetition_penalty``;
strict or older servers refuse ``top_k`` or ``stream_options``. A 400 that
names such a field is answered by asking again without it (remembered per
model), so one config works against each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource, SSEError

from .base import FinishReason, Model, ModelError, Part, Prompt, Response, Usage

#: how long the rest of a body may take after ``data: [DONE]`` (normally no time at all)
DRAIN_SECONDS = 1.0

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",
    "tool_calls": "stop",
    "function_call": "stop",
    "length": "length",
    "content_filter": "content_filter",
}


#: request fields a server may refuse, which the request can do without
_OPTIONAL = ("stream_options", "top_k", "repeat_penalty", "repetition_penalty", "seed")
#: how servers say the model is unknown (OpenAI, Ollama, vLLM, LiteLLM, LM Studio)
_MODEL_MISSING = re.compile(
    r"model.{0,80}(not found|does not exist|not exist|no such)|(invalid|unknown) model"
    r"|model_not_found",
    re.IGNORECASE | re.DOTALL,
)


class _EmptyStream(ModelError):
    """A stream that ended or was cut before any output, without [DONE] or an error."""


class _Rejected(ModelError):
    """A 4xx the request may be changed to avoid (see :meth:`OpenAIModel._adapt`)."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


class OpenAIModel(Model):
    """A model served by an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self,
        model_id: str,
        *,
        base_url: str,
        model: str | None = None,
        api_key_env: str | None = None,
        timeout: float = 120.0,
        retries: int = 2,
        retry_backoff: float = 0.5,
        sampling_extras: bool | None = None,
        extra_body: dict[str, Any] | None = None,
        max_concurrency: int = 4,
        context_tokens: int = 8192,
        default_options: dict[str, Any] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(model_id, default_options=default_options)
        self.base_url = base_url.rstrip("/")
        self.remote_model = model or model_id
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.retries = retries
        self.retry_backoff = retry_backoff
        official = _is_openai(self.base_url)
        #: send top_k / repeat_penalty (OpenAI itself rejects them)
        self.sampling_extras = not official if sampling_extras is None else sampling_extras
        #: OpenAI's newer models reject ``max_tokens``; other servers know only it
        self._token_field = "max_completion_tokens" if official else "max_tokens"
        #: optional fields this server rejected once; never sent again
        self._dropped: set[str] = set()
        #: server-specific request fields (grammar, guided decoding, ...)
        self.extra_body = dict(extra_body or {})
        self.max_concurrency = max_concurrency  # type: ignore[misc]
        self.context_tokens = context_tokens  # type: ignore[misc]
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def describe(self) -> str:
        return f"{self.remote_model} at {self.base_url}"

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def request_body(self, prompt: Prompt) -> dict[str, Any]:
        """The JSON body of the chat completion request for ``prompt``."""
        messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
        messages.append({"role": "user", "content": prompt.text})
        body: dict[str, Any] = {
            "model": self.remote_model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            **self.extra_body,
        }
        options = prompt.options
        if options.max_tokens is not None:
            body[self._token_field] = options.max_tokens
        for key in ("temperature", "top_p", "seed"):
            value = getattr(options, key)
            if value is not None:
                body[key] = value
        if options.stop:
            body["stop"] = list(options.stop)
        if self.sampling_extras:
            if options.top_k is not None:
                body["top_k"] = options.top_k
            if options.repeat_penalty is not None:
                body["repeat_penalty"] = options.repeat_penalty  # llama.cpp, Ollama
                body["repetition_penalty"] = options.repeat_penalty  # vLLM
        for key in self._dropped:
            body.pop(key, None)
        return body

    async def execute(self, prompt: Prompt, response: Response) -> AsyncGenerator[str, None]:
        body = self.request_body(prompt)
        headers = self._headers()
        attempt = 0
        last_tries = 2
        while True:
            try:
                async for chunk in self._stream(body, headers, response):
                    yield chunk
                return
            except _Rejected as exc:
                if not self._adapt(exc.detail, body):
                    raise
                body = self.request_body(prompt)
            except ModelError as exc:
                if not exc.transient or attempt == self.retries:
                    if not (isinstance(exc, _EmptyStream) and last_tries):
                        raise
                    # llama_cpp.server answers a streamed request it refuses (e.g. a
                    # prompt longer than its context) with an empty stream, then drops
                    # the connection; asked without streaming, it says why. Last tries
                    # that way: two, as the first may meet that dropped connection.
                    last_tries -= 1
                    body = {k: v for k, v in body.items() if k != "stream_options"}
                    body["stream"] = False
                    continue
                attempt += 1
                backoff = self.retry_backoff * 2 ** (attempt - 1)
                await self._sleep(backoff if exc.retry_after is None else exc.retry_after)

    def _adapt(self, detail: str, body: dict[str, Any]) -> bool:
        """Learn from a 400 that names a field this server does not take:
        ``max_tokens`` when it wants ``max_completion_tokens`` (OpenAI's
        reasoning models, Azure), or an optional field (``top_k``, ``stream_options``
        on strict or older servers). True when the request changed."""
        if "max_tokens" in body and "max_completion_tokens" in detail:
            self._token_field = "max_completion_tokens"
            return True
        rejected = {key for key in _OPTIONAL if key in body and re.search(rf"\b{key}\b", detail)}
        self._dropped |= rejected
        return bool(rejected)

    def _headers(self) -> dict[str, str]:
        if not self.api_key_env:
            return {}
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ModelError(
                f"model {self.model_id!r}: api_key_env names ${self.api_key_env}, which is not set"
            )
        return {"Authorization": f"Bearer {key}"}

    def _http(self) -> httpx.AsyncClient:
        """One client per event loop (a client's pool cannot cross loops)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))
            # keep alive as many connections as calls may run at once (httpx keeps only 20)
            most = max(int(self.max_concurrency), 20)
            limits = httpx.Limits(max_connections=max(most, 100), max_keepalive_connections=most)
            self._client = httpx.AsyncClient(timeout=timeout, limits=limits)
            self._client_loop = loop
        return self._client

    async def _stream(
        self, body: dict[str, Any], headers: dict[str, str], response: Response
    ) -> AsyncGenerator[str, None]:
        url = f"{self.base_url}/chat/completions"
        produced = False
        pieces: list[str] = []
        logprobs: list[dict[str, Any]] = []
        try:
            async with self._http().stream("POST", url, json=body, headers=headers) as reply:
                if reply.status_code != 200:
                    await reply.aread()
                    raise self._http_error(reply)
                if reply.headers.get("content-type", "").startswith("application/json"):
                    await reply.aread()  # a server or proxy that does not stream
                    text = self._absorb_whole(self._decode(reply.text), response)
                    if text:
                        yield text
                    return
                events = EventSource(reply).aiter_sse()
                async for event in events:
                    if event.data.strip() == "[DONE]":
                        await _drain(events)
                        break
                    chunk = self._decode(event.data)
                    text = self._absorb(chunk, response, logprobs)
                    if text:
                        produced = True
                        pieces.append(text)
                        yield text
                else:
                    if response.finish_reason is None:
                        raise (ModelError if produced else _EmptyStream)(
                            f"the stream from {self.base_url} ended early "
                            f"(after {sum(map(len, pieces))} characters, no [DONE])",
                            transient=not produced,
                        )
        except httpx.ConnectError as exc:
            raise ModelError(f"no server at {self.base_url} ({exc})", transient=True) from exc
        except httpx.TimeoutException as exc:
            raise ModelError(
                f"no answer from {self.base_url} within {self.timeout:g} s"
                + (" (while streaming)" if produced else "")
            ) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise (ModelError if produced else _EmptyStream)(
                f"the stream from {self.base_url} was cut "
                f"after {sum(map(len, pieces))} characters ({exc})",
                transient=not produced,
            ) from exc
        except SSEError as exc:
            raise ModelError(f"{self.base_url} did not answer with a stream: {exc}") from exc
        if logprobs:
            response.generated = [Part("generated", "".join(pieces), logprobs)]

    def _decode(self, data: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ModelError(
                f"{self.base_url} sent a chunk that is not JSON: {data[:80]!r}"
            ) from exc
        if not isinstance(chunk, dict):
            raise ModelError(f"{self.base_url} sent a chunk that is not an object: {data[:80]!r}")
        if "error" in chunk:
            raise ModelError(f"{self.base_url} reported an error: {_message(chunk)}")
        return chunk

    @staticmethod
    def _absorb(chunk: dict[str, Any], response: Response, logprobs: list[dict[str, Any]]) -> str:
        """Record what a chunk says about the response; return its text."""
        if isinstance(chunk.get("model"), str):
            response.resolved_model = chunk["model"]
        usage = chunk.get("usage")
        if isinstance(usage, dict) and "completion_tokens" in usage:
            response.usage = Usage(int(usage.get("prompt_tokens", 0)), usage["completion_tokens"])
        choices = chunk.get("choices") or []
        if not choices:
            return ""
        choice = choices[0]
        reason = choice.get("finish_reason")
        if reason == "abort":  # vLLM: the server dropped the request
            raise ModelError("the server aborted the generation (finish_reason 'abort')")
        if reason:
            response.finish_reason = _FINISH.get(reason, "stop")
        found = (choice.get("logprobs") or {}).get("content")
        if isinstance(found, list):
            logprobs.extend(found)
        content = (choice.get("delta") or {}).get("content")
        return content if isinstance(content, str) else ""

    def _absorb_whole(self, completion: dict[str, Any], response: Response) -> str:
        """The text of a complete (not streamed) chat completion, recording the rest."""
        choices = completion.get("choices") or [{}]
        message = choices[0].get("message") or {}
        return self._absorb(
            {**completion, "choices": [{**choices[0], "delta": message}]}, response, []
        )

    def _http_error(self, reply: httpx.Response) -> ModelError:
        status = reply.status_code
        detail = _message(_json_or_text(reply))
        where = self.base_url
        error: ModelError
        if status in (401, 403):
            hint = "" if self.api_key_env else " (no api_key_env is configured)"
            error = ModelError(f"API key rejected by {where} (HTTP {status}: {detail}){hint}")
        elif status in (400, 404) and _MODEL_MISSING.search(detail):
            error = ModelError(f"model {self.remote_model!r} not found on {where} ({detail})")
        elif status == 404:
            error = ModelError(
                f"{where}/chat/completions not found (HTTP 404): is base_url right? "
                "It usually ends in /v1"
            )
        elif status == 429:
            error = ModelError(
                f"rate limited by {where} (HTTP 429: {detail})",
                transient=True,
                retry_after=_retry_after(reply),
            )
        elif status >= 500:
            error = ModelError(f"server error at {where} (HTTP {status}: {detail})", transient=True)
        else:
            error = _Rejected(f"{where} rejected the request (HTTP {status}: {detail})", detail)
        return error


async def _drain(events: AsyncIterator[Any]) -> None:
    """Read the body to its end after ``[DONE]``, so the connection goes back to the pool.

    Closing a response that was not read to the end closes its connection, and
    the next request pays for a new one. A server that keeps the body open after
    ``[DONE]`` gets :data:`DRAIN_SECONDS`, then its connection is closed; one that
    cuts it short has still given the whole answer.
    """

    async def exhaust() -> None:
        async for _ in events:
            pass

    with contextlib.suppress(asyncio.TimeoutError, httpx.HTTPError):
        await asyncio.wait_for(exhaust(), DRAIN_SECONDS)


def _json_or_text(reply: httpx.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return reply.text


def _message(payload: Any) -> str:
    """The human part of an error body, in the shapes servers use."""
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:300]
        return str(error)[:300]
    text = str(payload).strip()
    return text[:300] or "no details"


def _is_openai(base_url: str) -> bool:
    """Whether ``base_url`` is OpenAI's own API (or Azure's), which reject non-standard fields."""
    host = urlsplit(base_url).hostname or ""
    return host == "api.openai.com" or host.endswith(".openai.azure.com")


def _retry_after(reply: httpx.Response) -> float | None:
    try:
        return max(0.0, min(float(reply.headers.get("retry-after", "")), 60.0))
    except ValueError:
        return None
