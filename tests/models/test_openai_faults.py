"""The `openai` backend against a small local HTTP server that misbehaves on cue.

Faults a real server will not produce on demand: 429 then success, 500s, a
stream cut mid-way, a server that never answers, a JSON 401, an unknown model.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest
from llm_flows.models import ModelError, Prompt, Response, Usage
from llm_flows.models.openai import OpenAIModel

Behaviour = dict[str, Any]


def sse(*texts: str, finish: str = "stop", usage: bool = True, done: bool = True) -> bytes:
    events = [{"model": "served-name", "choices": [{"delta": {"content": t}}]} for t in texts]
    events.append({"choices": [{"delta": {}, "finish_reason": finish}]})
    if usage:
        events.append({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}})
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return body + (b"data: [DONE]\n\n" if done else b"")


class FaultServer:
    """Answers each request with the next scripted behaviour; records requests."""

    def __init__(self, *behaviours: Behaviour) -> None:
        self.behaviours = list(behaviours)
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> FaultServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = next(
            int(line.split(":", 1)[1])
            for line in head.split("\r\n")
            if line.lower().startswith("content-length:")
        )
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:] if line)
        }
        body = json.loads(await reader.readexactly(length))
        self.requests.append({"path": head.split()[1], "headers": headers, "body": body})
        act = self.behaviours.pop(0)
        if act.get("hang"):
            await asyncio.Event().wait()
        status = act.get("status", 200)
        payload: bytes = act.get("body", b"")
        ctype = "text/event-stream" if status == 200 else "application/json"
        extra = "".join(f"{k}: {v}\r\n" for k, v in act.get("headers", {}).items())
        if act.get("cut"):
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: 100000\r\n\r\n"
            writer.write(head.encode() + payload)
        else:
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\n{extra}"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
        await writer.drain()
        if act.get("hold"):
            await asyncio.Event().wait()
        writer.close()


@dataclass
class Outcome:
    server: FaultServer
    response: Response
    chunks: list[str]
    error: ModelError | None
    slept: list[float]


def run(*behaviours: Behaviour, **settings: Any) -> Outcome:
    """Send one prompt through an OpenAIModel pointed at a FaultServer."""
    slept: list[float] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def scenario() -> tuple[FaultServer, Response, list[str], ModelError | None]:
        async with FaultServer(*behaviours) as server:
            model = OpenAIModel("m", base_url=server.url, sleep=no_sleep, **settings)
            response = model.respond(Prompt("Say hi", system="Be brief"))
            chunks: list[str] = []
            error = None
            try:
                async for chunk in response:
                    chunks.append(chunk)
            except ModelError as exc:
                error = exc
            await model.aclose()
            return server, response, chunks, error

    return Outcome(*asyncio.run(scenario()), slept)


def test_streams_chunks_and_records_usage_model_and_request() -> None:
    out = run({"body": sse("Hel", "lo")}, model="remote-name")
    assert out.error is None
    assert out.chunks == ["Hel", "lo"]
    assert out.response.finish_reason == "stop"
    assert out.response.usage == Usage(7, 3, counted=False)
    assert out.response.resolved_model == "served-name"
    body = out.server.requests[0]["body"]
    assert out.server.requests[0]["path"] == "/v1/chat/completions"
    assert body["model"] == "remote-name" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Say hi"},
    ]


def test_options_are_mapped_and_extras_sent_to_non_openai_servers() -> None:
    async def scenario() -> dict[str, Any]:
        async with FaultServer({"body": sse("x")}) as server:
            model = OpenAIModel("m", base_url=server.url)
            options = model.default_options.merged(
                {
                    "max_tokens": 5,
                    "stop": ["\n"],
                    "temperature": 0.1,
                    "top_k": 4,
                    "repeat_penalty": 1.1,
                    "seed": 3,
                }
            )
            await model.respond(Prompt("hi", options=options)).text()
            await model.aclose()
            return server.requests[0]["body"]

    body = asyncio.run(scenario())
    assert body["max_tokens"] == 5 and body["stop"] == ["\n"] and body["seed"] == 3
    assert body["temperature"] == 0.1 and body["top_k"] == 4 and body["repeat_penalty"] == 1.1
    openai = OpenAIModel("m", base_url="https://api.openai.com/v1")
    assert "top_k" not in openai.request_body(Prompt("hi", options=options_with_top_k()))


def options_with_top_k() -> Any:
    return OpenAIModel("m", base_url="http://x").default_options.merged({"top_k": 2})


def test_429_then_success_is_retried_after_the_servers_delay() -> None:
    out = run(
        {
            "status": 429,
            "body": b'{"error": {"message": "slow down"}}',
            "headers": {"Retry-After": "2"},
        },
        {"body": sse("ok")},
    )
    assert out.error is None and out.chunks == ["ok"]
    assert out.slept == [2.0]
    assert len(out.server.requests) == 2


def test_500s_are_retried_with_backoff_then_reported_as_transient() -> None:
    err = {"status": 500, "body": b'{"error": {"message": "boom"}}'}
    out = run(err, err, err, retries=2, retry_backoff=0.5)
    assert out.error is not None and out.error.transient
    assert "server error at http://127.0.0.1" in str(out.error) and "HTTP 500: boom" in str(
        out.error
    )
    assert out.slept == [0.5, 1.0]
    assert out.response.finish_reason == "error"


def test_json_401_names_the_key_problem_and_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SECRET_KEY", "sk-secret-value")
    out = run(
        {"status": 401, "body": b'{"error": {"message": "Incorrect API key provided"}}'},
        api_key_env="TEST_SECRET_KEY",
    )
    assert out.error is not None and not out.error.transient
    assert str(out.error).startswith("API key rejected by http://127.0.0.1")
    assert "Incorrect API key provided" in str(out.error)
    assert "sk-secret-value" not in str(out.error)
    assert out.server.requests[0]["headers"]["authorization"] == "Bearer sk-secret-value"
    assert out.slept == []


def test_unset_key_variable_is_named() -> None:
    out = run(api_key_env="LLM_FLOWS_SURELY_UNSET")
    assert out.error is not None
    assert "$LLM_FLOWS_SURELY_UNSET, which is not set" in str(out.error)
    assert out.server.requests == []


def test_unknown_model_is_named() -> None:
    body = b'{"error": {"message": "model \\"qwen\\" not found, try pulling it first"}}'
    out = run({"status": 404, "body": body}, model="qwen")
    assert out.error is not None
    assert str(out.error).startswith("model 'qwen' not found on http://127.0.0.1")


def test_a_stream_cut_after_output_is_an_error_and_not_retried() -> None:
    out = run(
        {"cut": True, "body": sse("partial ", "answer", done=False)[:150]}, {"body": sse("never")}
    )
    assert out.chunks == ["partial "]
    assert out.error is not None and not out.error.transient
    assert "was cut after 8 characters" in str(out.error) or "ended early" in str(out.error)
    assert out.slept == []
    assert out.response.finish_reason == "error"


def test_a_stream_cut_before_output_is_retried() -> None:
    out = run({"cut": True, "body": b""}, {"body": sse("fine")})
    assert out.error is None and out.chunks == ["fine"] and len(out.slept) == 1


def test_a_server_that_never_answers_times_out() -> None:
    out = run({"hang": True}, timeout=0.3)
    assert out.error is not None
    assert "no answer from http://127.0.0.1" in str(out.error) and "within 0.3 s" in str(out.error)


def test_no_server_is_named_and_transient() -> None:
    async def scenario() -> ModelError:
        model = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", retries=0)
        with pytest.raises(ModelError) as caught:
            await model.respond(Prompt("hi")).text()
        return caught.value

    error = asyncio.run(scenario())
    assert str(error).startswith("no server at http://127.0.0.1:9/v1") and error.transient


def test_cancelling_the_reader_closes_the_stream_and_records_cancelled() -> None:
    async def scenario() -> tuple[Response, list[str]]:
        first = sse("first", done=False)[:80]
        async with FaultServer({"cut": True, "hold": True, "body": first}) as server:
            model = OpenAIModel("m", base_url=server.url)
            response = model.respond(Prompt("hi"))
            seen: list[str] = []
            started = asyncio.Event()

            async def read() -> None:
                async for chunk in response:
                    seen.append(chunk)
                    started.set()

            task = asyncio.ensure_future(read())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await model.aclose()
            return response, seen

    response, seen = asyncio.run(scenario())
    assert seen == ["first"]
    assert response.finish_reason == "cancelled" and response.done
