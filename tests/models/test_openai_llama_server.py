"""The `openai` backend against a real OpenAI-compatible server: llama_cpp.server
on loopback, serving a tiny random-weight GGUF; a grammar forces exact text."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from llm_flows.models import ModelError, Prompt
from llm_flows.models.openai import OpenAIModel
from tiny_gguf import exact_grammar, llama_server, need_llama, write_tiny_gguf

pytestmark = [pytest.mark.llama, pytest.mark.slow]
need_llama("llama_cpp.server")

ANSWER = "Hello, world!"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_server(write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")) as url:
        yield url


def ask(url: str, **options: Any) -> tuple[list[str], Any]:
    return ask_prompt(url, "Say hello", **options)


def ask_prompt(url: str, text: str, **options: Any) -> tuple[list[str], Any]:
    async def run() -> tuple[list[str], Any]:
        model = OpenAIModel(
            "tiny", base_url=url, extra_body={"grammar": exact_grammar(ANSWER)}, retries=0
        )
        response = model.respond(Prompt(text, options=model.default_options.merged(options)))
        chunks = [chunk async for chunk in response]
        await model.aclose()
        return chunks, response

    return asyncio.run(run())


def test_streams_the_forced_answer_in_several_chunks(server: str) -> None:
    chunks, response = ask(server, temperature=0.0)
    assert "".join(chunks) == ANSWER and len(chunks) > 1
    assert response.finish_reason == "stop"
    assert response.usage.output_tokens >= 1 and response.usage.input_tokens >= 1


def test_stop_sequence_ends_the_answer_before_it(server: str) -> None:
    chunks, response = ask(server, stop=["wor"])
    assert "".join(chunks) == "Hello, "
    assert response.finish_reason == "stop"


def test_max_tokens_cuts_with_finish_reason_length(server: str) -> None:
    chunks, response = ask(server, max_tokens=3)
    assert ANSWER.startswith("".join(chunks)) and len("".join(chunks)) < len(ANSWER)
    assert response.finish_reason == "length"


def test_wrong_base_url_says_so(server: str) -> None:
    with pytest.raises(ModelError, match=r"not found \(HTTP 404\): is base_url right"):
        ask(server.removesuffix("/v1") + "/nope")


def test_a_prompt_longer_than_the_context_gets_the_server_s_reason(server: str) -> None:
    """llama_cpp.server answers such a streamed request with an empty stream; we ask
    again without streaming, where it says why, rather than 'the stream ended early'."""
    with pytest.raises(ModelError, match="maximum context length is 512 tokens"):
        ask_prompt(server, "x" * 2000)
