"""The whole chain with real parts: raw frames -> ``llm-flows serve`` -> the ``openai``
backend -> a real llama_cpp.server on loopback serving a tiny GGUF (a grammar forces the
answer) -> the word-level merge into text the user kept editing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from testkit import apply_edits
from tiny_gguf import exact_grammar, llama_server, need_llama, write_tiny_gguf

pytestmark = [pytest.mark.llama, pytest.mark.slow]
need_llama("llama_cpp.server")

SNAPSHOT = "She go to the store yesterday and buyed three apple."
ANSWER = "She went to the store yesterday and bought three apples."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    with llama_server(model, n_ctx=4096) as url:  # the correct flow's prompt: ~1,500 tokens
        yield url


def config_text(url: str) -> str:
    grammar = json.dumps(exact_grammar(ANSWER))
    return (
        'default_model = "local"\n\n[models.local]\nbackend = "openai"\n'
        f'base_url = "{url}"\nmodel = "tiny"\nextra_body = {{ grammar = {grammar} }}\n'
    )


def test_a_real_server_s_correction_merges_around_the_user_s_edit(
    serve: Callable[..., Any], server: str
) -> None:
    client = serve(config_text=config_text(server)).client
    assert client.initialize()["defaultModel"] == "local"
    flow_id = client.call("flow/start", {"flow": "correct", "text": SNAPSHOT})["id"]
    assert client.final(flow_id)["method"] == "flow/ready"
    # While the model worked, the user replaced "store" with "market".
    current = "She go to the market yesterday and buyed three apple."
    result = client.call("flow/merge", {"id": flow_id, "current": current})
    assert result["status"] == "clean"
    merged = apply_edits(current, result["edits"])
    assert merged == "She went to the market yesterday and bought three apples."
    assert [e["text"] for e in result["edits"]] == ["went", "bought", "apples"]
