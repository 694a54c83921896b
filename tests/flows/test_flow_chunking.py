"""Splitting long text for a model's context: paragraph boundaries, nothing lost."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from llm_flows.flows import split_text


def tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


def test_short_text_is_one_chunk() -> None:
    assert split_text("one paragraph\n", 100, tokens) == ["one paragraph\n"]


def test_chunks_end_at_paragraph_boundaries_and_keep_the_blank_lines() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 30 for i in range(6)]
    text = "\n\n".join(paragraphs) + "\n"
    chunks = split_text(text, 100, tokens)
    assert "".join(chunks) == text
    assert len(chunks) > 1
    for chunk in chunks[:-1]:
        assert chunk.endswith("\n\n")
        assert tokens(chunk) <= 100
    assert all(chunk.startswith("Paragraph") for chunk in chunks)


def test_one_huge_paragraph_is_cut_at_lines_then_spaces() -> None:
    lines = "\n".join("line " * 20 for _ in range(10))
    chunks = split_text(lines, 40, tokens)
    assert "".join(chunks) == lines
    assert all(tokens(c) <= 40 for c in chunks)
    words = "word " * 200
    chunks = split_text(words, 40, tokens)
    assert "".join(chunks) == words
    assert all(c.endswith(" ") for c in chunks[:-1])


def test_a_single_enormous_word_is_cut_by_characters() -> None:
    blob = "x" * 1000
    chunks = split_text(blob, 50, tokens)
    assert "".join(chunks) == blob
    assert all(tokens(c) <= 50 for c in chunks)


@given(st.text(alphabet=st.sampled_from("ab \n\r\t."), max_size=400), st.integers(8, 60))
def test_joining_the_chunks_gives_the_text_back(text: str, budget: int) -> None:
    chunks = split_text(text, budget, tokens)
    assert "".join(chunks) == text
    assert all(chunks) or chunks == [""]
    assert all(tokens(chunk) <= budget for chunk in chunks)
