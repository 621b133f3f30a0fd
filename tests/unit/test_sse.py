"""SSE parsing: DeepSeek's framing, split at every possible byte boundary."""

from __future__ import annotations

import pytest

from deepseek_lsp.sse import SSEParser

STREAM = (
    ': keep-alive\n\ndata: {"a":"我"}\n\n\n: keep-alive\n\ndata: {"b":2}\r\n\r\ndata: [DONE]\n\n'
).encode()


def feed_all(chunks: list[bytes]) -> list[str]:
    parser = SSEParser()
    out = [event for chunk in chunks for event in parser.feed(chunk)]
    return out + list(parser.close())


def test_whole_stream() -> None:
    assert feed_all([STREAM]) == ['{"a":"我"}', '{"b":2}', "[DONE]"]


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_anywhere(cut: int) -> None:
    assert feed_all([STREAM[:cut], STREAM[cut:]]) == ['{"a":"我"}', '{"b":2}', "[DONE]"]


def test_byte_by_byte() -> None:
    assert feed_all([bytes([b]) for b in STREAM]) == ['{"a":"我"}', '{"b":2}', "[DONE]"]


def test_multiline_data_and_other_fields() -> None:
    events = feed_all([b"event: x\nid: 3\ndata: one\ndata:two\n\n"])
    assert events == ["one\ntwo"]


def test_last_event_without_blank_line_is_kept() -> None:
    assert feed_all([b'data: {"x":1}']) == ['{"x":1}']


def test_comments_and_blank_lines_only() -> None:
    assert feed_all([b": keep-alive\n\n\n\n: keep-alive\n\n"]) == []
