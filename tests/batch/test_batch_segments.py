"""Markdown splitting and masking: protected parts are never sent and come back byte for byte."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from llm_flows.batch.markdown import split
from llm_flows.batch.mask import mask, padded

DOC = """\
---
title: Teh notes
---

# Notes from teh field

Run `teh --fast` and see https://example.com/teh-guide, or [teh docs](https://x.org/teh "teh").
Mail teh@example.com or <https://teh.example> and <span class="teh">teh</span> works.
See [teh ref][teh-label] too.

[teh-label]: https://example.com/teh

```python
teh = 1
```

    indented teh code

<div class="teh">
teh html block
</div>

<!-- teh
comment -->

~~~
teh tilde fence
~~~

$$
teh math
$$

Last teh line.
"""


def prose_of(text: str) -> str:
    return "".join(piece.text for piece in split(text) if piece.prose)


def test_pieces_put_back_together_give_the_input() -> None:
    assert "".join(piece.text for piece in split(DOC)) == DOC


def test_only_prose_is_prose() -> None:
    prose = prose_of(DOC)
    for protected in (
        "title",
        "--fast",
        "teh-guide",
        "x.org",
        "teh@example.com",
        "teh.example",
        "span",
        "teh-label",
        "teh = 1",
        "indented",
        "html block",
        "comment",
        "tilde",
        "math",
    ):
        assert protected not in prose, protected
    for kept in ("Notes from teh field", "[teh docs", "and <", "Last teh line."):
        assert kept in prose or kept.replace("<", "") in prose, kept


def test_every_teh_left_in_prose_is_a_word_a_user_wrote() -> None:
    prose = prose_of(DOC)
    # heading, link text, inside <span>, reference link text, last line
    assert len(re.findall(r"\bteh\b", prose)) == 5


def test_unclosed_fence_protects_to_the_end() -> None:
    text = "Some teh.\n\n```\ncode teh\n\nmore teh\n"
    assert prose_of(text) == "Some teh.\n\n"


def test_escaped_backtick_does_not_open_code() -> None:
    text = "A \\` teh and `code` teh.\n"
    assert prose_of(text) == "A \\` teh and  teh.\n"


def test_code_span_does_not_cross_a_blank_line() -> None:
    text = "One ` teh.\n\nTwo ` teh.\n"
    assert prose_of(text) == text


def test_crlf_lines_are_split_the_same_way() -> None:
    text = DOC.replace("\n", "\r\n")
    assert "".join(p.text for p in split(text)) == text
    assert "teh = 1" not in prose_of(text)


def test_mask_round_trip_and_markers() -> None:
    masked = mask(split(DOC))
    assert masked is not None
    assert "https" not in masked.text and "teh = 1" not in masked.text
    assert masked.restore(masked.text) == DOC
    fixed = masked.restore(masked.text.replace("teh", "the"))
    assert fixed is not None
    assert "Notes from the field" in fixed and "teh = 1" in fixed and "x.org/teh" in fixed


def test_damaged_markers_are_refused() -> None:
    masked = mask(split("Run `x` now.\n\n```\ncode\n```\n\nEnd teh.\n"))
    assert masked is not None
    assert masked.restore(masked.text.replace("⟦0⟧", "")) is None
    swapped = masked.text.replace("⟦0⟧", "⟦9⟧").replace("⟦1⟧", "⟦0⟧").replace("⟦9⟧", "⟦1⟧")
    assert masked.restore(swapped) is None
    joined = masked.text.replace("\n⟦1⟧\n", " ⟦1⟧ ")
    assert masked.restore(joined) is None


def test_text_that_already_has_markers_is_not_masked() -> None:
    assert mask(split("A ⟦0⟧ here.\n")) is None


def test_padded_keeps_surrounding_whitespace() -> None:
    assert padded("\n  teh cat \n", "the cat") == "\n  the cat \n"


@given(st.text(alphabet=st.sampled_from(list("ab `~<>-#\n\r\t[]()*:/.@$\\ "))))
def test_split_never_loses_a_character(text: str) -> None:
    assert "".join(piece.text for piece in split(text)) == text


@given(st.text(alphabet=st.sampled_from(list("ab `~<>-#\n[]()*:/.@$\\ "))))
def test_mask_restores_what_it_masked(text: str) -> None:
    masked = mask(split(text))
    assert masked is not None
    assert masked.restore(masked.text) == text
