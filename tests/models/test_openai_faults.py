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
        ctype = act.get("ctype", "text/event-stream" if status == 200 else "application/json")
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
            response = model.prompt("Say hi", system="Be brief")
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


# What the servers the backend must work with do differently (from their public docs
# and trackers), imitated on loopback.


def test_openai_gets_max_completion_tokens_and_no_sampling_extras() -> None:
    openai = OpenAIModel("m", base_url="https://api.openai.com/v1")
    options = openai.default_options.merged({"max_tokens": 9, "top_k": 2, "repeat_penalty": 1.1})
    body = openai.request_body(Prompt("hi", options=options))
    assert body["max_completion_tokens"] == 9
    assert not {"max_tokens", "top_k", "repeat_penalty", "repetition_penalty"} & set(body)


def test_a_server_wanting_max_completion_tokens_gets_it_on_the_next_try() -> None:
    wants = (
        b'{"error": {"message": "Unsupported parameter: \'max_tokens\' is not supported with '
        b'this model. Use \'max_completion_tokens\' instead.", "type": '
        b'"invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}}'
    )
    out = run(
        {"status": 400, "body": wants}, {"body": sse("ok")}, default_options={"max_tokens": 5}
    )
    assert out.error is None and out.chunks == ["ok"]
    first, second = (r["body"] for r in out.server.requests)
    assert first["max_tokens"] == 5 and "max_completion_tokens" not in first
    assert second["max_completion_tokens"] == 5 and "max_tokens" not in second
    assert out.slept == []


def test_a_strict_server_rejecting_top_k_is_asked_again_without_it() -> None:
    # Mistral-style 422 with a pydantic detail list naming the field
    strict = b'{"detail": [{"loc": ["body", "top_k"], "msg": "Extra inputs are not permitted"}]}'
    out = run({"status": 422, "body": strict}, {"body": sse("ok")}, default_options={"top_k": 3})
    assert out.error is None and out.chunks == ["ok"]
    first, second = (r["body"] for r in out.server.requests)
    assert first["top_k"] == 3 and "top_k" not in second


def test_an_old_server_rejecting_stream_options_still_answers_and_usage_is_counted() -> None:
    old = b'{"error": {"message": "Unrecognized request argument supplied: stream_options"}}'
    out = run({"status": 400, "body": old}, {"body": sse("four", usage=False)})
    assert out.error is None and out.chunks == ["four"]
    assert "stream_options" not in out.server.requests[1]["body"]
    assert out.response.usage is not None and out.response.usage.counted


def test_a_bad_request_that_no_field_explains_is_reported_once() -> None:
    bad = b'{"error": {"message": "messages: too long"}}'
    out = run({"status": 400, "body": bad}, {"body": sse("never")})
    assert out.error is not None and not out.error.transient
    assert str(out.error) == f"{out.server.url} rejected the request (HTTP 400: messages: too long)"
    assert len(out.server.requests) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        # OpenAI
        (
            404,
            b'{"error": {"message": "The model `qwen` does not exist or you do not have '
            b'access to it.", "type": "invalid_request_error", "code": "model_not_found"}}',
        ),
        # vLLM: a top-level error object
        (
            404,
            b'{"object": "error", "message": "The model `qwen` does not exist.", '
            b'"type": "NotFoundError", "param": null, "code": 404}',
        ),
        # LiteLLM-style proxies answer 400
        (400, b'{"error": {"message": "Invalid model name passed in model=qwen"}}'),
    ],
)
def test_unknown_model_is_named_in_each_servers_shape(status: int, body: bytes) -> None:
    out = run({"status": status, "body": body}, model="qwen")
    assert out.error is not None
    assert str(out.error).startswith("model 'qwen' not found on http://127.0.0.1")
    assert len(out.server.requests) == 1


def test_a_server_that_ignores_stream_true_is_read_as_one_completion() -> None:
    whole = {
        "model": "served-name",
        "choices": [
            {"message": {"role": "assistant", "content": "all at once"}, "finish_reason": "length"}
        ],
        "usage": {"prompt_tokens": 4, "completion_tokens": 3},
    }
    out = run({"body": json.dumps(whole).encode(), "ctype": "application/json"})
    assert out.error is None and out.chunks == ["all at once"]
    assert out.response.finish_reason == "length"
    assert out.response.usage == Usage(4, 3, counted=False)
    assert out.response.resolved_model == "served-name"


def test_an_error_event_mid_stream_is_reported_not_swallowed() -> None:
    # vLLM and OpenAI send an error object as an SSE event and end the stream
    part = json.dumps({"choices": [{"delta": {"content": "par"}}]}).encode()
    body = b"data: " + part + b'\n\ndata: {"error": {"message": "engine dead"}}\n\n'
    out = run({"body": body + b"data: [DONE]\n\n"})
    assert out.error is not None and "reported an error: engine dead" in str(out.error)
    assert out.response.finish_reason == "error"


def test_a_vllm_abort_is_an_error_not_a_silent_stop() -> None:
    out = run({"body": sse("half", finish="abort")}, retries=0)
    assert out.error is not None and "aborted" in str(out.error)
    assert out.response.finish_reason == "error"
