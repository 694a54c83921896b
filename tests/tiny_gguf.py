"""Write a tiny random-weight llama GGUF (about 0.5 MB) for tests: no downloads.

Reusable by any test: ``write_tiny_gguf(tmp_path / "tiny.gguf")``, and
``llama_server(path)`` serves it with the real OpenAI-compatible llama_cpp.server. Its output
is noise, so tests that need exact text pass a GBNF grammar admitting exactly
one string (:func:`exact_grammar`); the model must then emit that string and
stop.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import gguf
import httpx
import numpy as np
from testkit import missing

SPECIALS = ["<unk>", "<s>", "</s>"]
PIECES = ["▁", *"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?"]


def write_tiny_gguf(path: Path, *, n_embd: int = 32, n_layers: int = 1, seed: int = 0) -> Path:
    """A llama-architecture GGUF with a SentencePiece vocabulary and byte fallback."""
    rng = np.random.default_rng(seed)
    tokens = SPECIALS + [f"<0x{b:02X}>" for b in range(256)] + PIECES
    types = [2, 3, 3] + [6] * 256 + [1] * len(PIECES)  # unknown, control, byte, normal
    n_vocab, n_ff, n_head = len(tokens), n_embd * 2, 4
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(4096)  # room for a flow's system prompt (a token per character)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * 3 + [-1000.0] * 256 + [-1.0] * len(PIECES))
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)

    def weights(*shape: int) -> np.ndarray:  # numpy shapes are ggml's reversed
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    writer.add_tensor("token_embd.weight", weights(n_vocab, n_embd))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", weights(n_vocab, n_embd))
    for i in range(n_layers):
        block = f"blk.{i}"
        writer.add_tensor(f"{block}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{block}.{name}.weight", weights(n_embd, n_embd))
        writer.add_tensor(f"{block}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{block}.ffn_gate.weight", weights(n_ff, n_embd))
        writer.add_tensor(f"{block}.ffn_up.weight", weights(n_ff, n_embd))
        writer.add_tensor(f"{block}.ffn_down.weight", weights(n_embd, n_ff))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def exact_grammar(text: str) -> str:
    """A GBNF grammar that admits exactly ``text``."""
    return f"root ::= {json.dumps(text)}"


def need_llama(module: str = "llama_cpp") -> None:
    """Skip without llama-cpp-python, but fail in CI (CI=true), which installs it."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        missing(f"{module} is not installed (pip install 'llm-flows[local]' or the dev extra)")


@contextlib.contextmanager
def llama_server(model: Path, alias: str = "tiny", n_ctx: int = 512) -> Iterator[str]:
    """Serve ``model`` with ``python -m llama_cpp.server`` on loopback; yields its /v1 URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
               "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port),
               "--n_threads", "1", "--n_ctx", str(n_ctx)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):  # until it listens (or dies)
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "")
            try:
                httpx.get(f"{url}/models", timeout=0.5)
                break
            except httpx.TransportError:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(0.1)  # not a sleep: returns at once if it dies
        yield url
    finally:
        process.terminate()
        process.wait(10)
