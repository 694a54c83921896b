"""The in-process `gguf` backend with the tiny random-weight model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from llm_flows.config import load_config
from llm_flows.models import ModelError, Registry, Response
from llm_flows.models.gguf import GGUFModel
from tiny_gguf import exact_grammar, need_llama, write_tiny_gguf

pytestmark = pytest.mark.llama
need_llama()

ANSWER = "Hello, world!"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def generate(model: GGUFModel, **options: Any) -> tuple[str, Response]:
    async def run() -> tuple[str, Response]:
        response = model.prompt("Say hello", grammar=exact_grammar(ANSWER), **options)
        return await response.text(), response

    return asyncio.run(run())


@pytest.fixture(scope="module")
def model(tiny: Path) -> GGUFModel:
    return GGUFModel("tiny", path=str(tiny), n_threads=1, n_ctx=512)


def test_grammar_forces_the_text_and_usage_is_counted(model: GGUFModel) -> None:
    text, response = generate(model)
    assert text == ANSWER
    assert response.finish_reason == "stop"
    assert response.usage is not None and response.usage.counted
    assert response.usage.output_tokens == len(ANSWER)  # one byte-level token per character


def test_stop_and_max_tokens(model: GGUFModel) -> None:
    assert generate(model, stop=[" wor"])[0] == "Hello,"
    text, response = generate(model, max_tokens=4)
    assert text == "Hell" and response.finish_reason == "length"


def test_concurrent_calls_share_the_one_owner_thread(model: GGUFModel) -> None:
    async def run() -> list[str]:
        responses = [model.prompt("hi", grammar=exact_grammar(f"answer {i}")) for i in range(3)]
        return await asyncio.gather(*(r.text() for r in responses))

    assert asyncio.run(run()) == ["answer 0", "answer 1", "answer 2"]


def test_cancelling_stops_generation_and_records_cancelled(model: GGUFModel) -> None:
    async def run() -> tuple[list[str], Response, str]:
        response = model.prompt("hi", grammar=exact_grammar("x" * 200))
        seen: list[str] = []
        first = asyncio.Event()

        async def read() -> None:
            async for chunk in response:
                seen.append(chunk)
                first.set()

        task = asyncio.ensure_future(read())
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = await model.prompt("hi", grammar=exact_grammar("next")).text()
        return seen, response, after

    seen, response, after = asyncio.run(run())
    assert response.finish_reason == "cancelled"
    assert len("".join(seen)) < 200
    assert after == "next"  # the worker is free again


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = GGUFModel("gone", path=str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelError, match=r"model 'gone': no GGUF file at .*nope\.gguf"):
        generate(missing)


def test_declared_in_config_with_grammar_option(tmp_path: Path, tiny: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[models.tiny]\nbackend = "gguf"\npath = "{tiny}"\nn_threads = 1\nn_ctx = 512\n'
        f"options = {{ grammar = '{exact_grammar('ok')}' }}\n",
        encoding="utf-8",
    )
    registry = Registry(load_config(config))
    assert [(m.model_id, m.backend, m.description) for m in registry.models()][-1] == (
        "tiny",
        "gguf",
        str(tiny),
    )
    model = registry.get_model("tiny")
    assert model.max_concurrency == 1
    assert asyncio.run(model.prompt("anything").text()) == "ok"
