"""The frame decoder, in process: any chunking, any garbage, then the next frame is served."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from llm_flows.rpc.framing import FrameDecoder, FrameError, encode_frame

LIMIT = 4096

bodies = st.dictionaries(st.text(max_size=8), st.text(max_size=40), max_size=4).map(
    lambda d: json.dumps({"jsonrpc": "2.0", "id": 1, "method": "m", "params": d}).encode()
)
fragments = st.sampled_from(
    [
        b"Content-Length: ",
        b"content-length:",
        b"Content-Length: 5",
        b"Content-Length: 99999999",
        b"Content-Length: -3",
        b"Content-Length: abc",
        b"Content-Type: x",
        b"\r\n",
        b"\n",
        b"\r\n\r\n",
        b"{",
        b"}",
        b'"id":',
        b":",
        b" ",
        b"\xff\xfe",
    ]
)
garbage = st.lists(st.one_of(fragments, st.binary(max_size=30)), max_size=12).map(b"".join)


def feed_in_chunks(decoder: FrameDecoder, data: bytes, cuts: list[int]) -> list[bytes | FrameError]:
    frames: list[bytes | FrameError] = []
    start = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        frames += decoder.feed(data[start:cut])
        start = cut
    return frames


@given(st.lists(bodies, max_size=5), st.lists(st.integers(0, 10_000), max_size=8))
def test_valid_frames_come_out_whole_however_they_are_cut(
    messages: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(encode_frame(m) for m in messages)
    assert feed_in_chunks(FrameDecoder(LIMIT), data, cuts) == messages


@settings(max_examples=500)
@given(garbage, bodies, st.lists(st.integers(0, 10_000), max_size=4))
def test_after_any_garbage_the_next_frame_is_served(
    junk: bytes, message: bytes, cuts: list[int]
) -> None:
    frames = feed_in_chunks(FrameDecoder(LIMIT), junk + encode_frame(message), cuts)
    assert frames[-1] == message


def test_header_names_in_any_case_and_spacing() -> None:
    decoder = FrameDecoder(LIMIT)
    data = b"content-length :2\r\nContent-Type: application/json\r\n\r\n{}CONTENT-LENGTH:  2\n\n[]"
    assert decoder.feed(data) == [b"{}", b"[]"]


def test_a_too_large_message_is_refused_without_being_kept() -> None:
    decoder = FrameDecoder(LIMIT)
    frames = decoder.feed(b"Content-Length: 1000000\r\n\r\n" + b"x" * 500_000)
    assert frames == [
        FrameError(
            -32005,
            "message of 1000000 bytes is larger than the limit of 4096 bytes "
            "(--max-message-bytes); it was skipped",
        )
    ]
    assert decoder.feed(b"x" * 500_000 + encode_frame(b"{}")) == [b"{}"]


def test_a_wrong_length_is_reported_and_the_next_frame_kept() -> None:
    decoder = FrameDecoder(LIMIT)
    frames = decoder.feed(b"Content-Length: 80\r\n\r\n{}" + encode_frame(b'{"next":1}'))
    assert isinstance(frames[0], FrameError)
    assert "shorter than its Content-Length of 80 bytes" in frames[0].message
    assert frames[1:] == [b'{"next":1}']


def test_a_body_without_a_header_is_named() -> None:
    frames = FrameDecoder(LIMIT).feed(b'{"jsonrpc": "2.0"}')
    assert frames == [
        FrameError(-32700, "expected a 'Content-Length: N' header, got '{\"jsonrpc\": \"2.0\"}'")
    ]
