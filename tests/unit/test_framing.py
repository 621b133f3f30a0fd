"""The stdio frame reader alone: good frames, and every bad one it must skip without going deaf."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from deepseek_lsp.framing import End, Message, MessageReader, Skipped


def frame(msg: Any, length: int | None = None, header: bytes | None = None) -> bytes:
    body = json.dumps(msg).encode()
    if header is None:
        header = b"Content-Length: %d\r\n" % (len(body) if length is None else length)
    return header + b"\r\n" + body


def read_all(data: bytes) -> list[Any]:
    reader = MessageReader(io.BytesIO(data))
    out: list[Any] = []
    for _ in range(100):
        event = reader.read()
        out.append(event)
        if isinstance(event, End):
            return out
    raise AssertionError("the reader never reached the end")


def payloads(events: list[Any]) -> list[Any]:
    return [e.payload for e in events if isinstance(e, Message)]


A, B = {"id": 1, "method": "a"}, {"id": 2, "method": "b"}


def test_good_frames_with_content_type_and_lf_only_headers() -> None:
    data = (
        frame(
            A,
            header=b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
            % len(json.dumps(A)),
        )
        + b"content-length: %d\n\n" % len(json.dumps(B))
        + json.dumps(B).encode()
    )
    events = read_all(data)
    assert payloads(events) == [A, B]
    assert events[-1] == End()  # a clean end between messages


@pytest.mark.parametrize(
    "bad",
    [
        frame({"id": 9}, header=b"Content-Length: abc\r\n"),
        frame({"id": 9}, header=b"Content-Type: application/json\r\n"),  # no length at all
        frame({"id": 9}, header=b"Content-Length: 99999999999999\r\n"),  # absurd: not awaited
        b"hello, I am not LSP\r\n",
        b'{"jsonrpc": "2.0"}',  # a body without any header, glued to the next frame
        frame("not json at all", length=len(b'"not json at all"') - 3),  # counted too short
    ],
)
def test_bad_input_is_skipped_once_and_the_next_frame_is_read(bad: bytes) -> None:
    events = read_all(frame(A) + bad + frame(B))
    assert payloads(events) == [A, B]
    assert sum(isinstance(e, Skipped) for e in events) == 1, events
    assert events[-1] == End()


def test_a_length_counted_too_long_keeps_both_messages() -> None:
    body = json.dumps(A).encode()
    data = b"Content-Length: %d\r\n\r\n" % (len(body) + 10) + body + frame(B)
    assert payloads(read_all(data)) == [A, B]


def test_a_body_that_is_not_json_is_reported() -> None:
    events = read_all(b"Content-Length: 5\r\n\r\n{oops" + frame(B))
    assert isinstance(events[0], Skipped) and "not JSON" in events[0].reason
    assert payloads(events) == [B]


def test_the_end_in_the_middle_of_a_body_or_header_is_said() -> None:
    body = json.dumps(A).encode()
    cut = read_all(b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
    assert cut == [End(f"the input ended in the middle of a message (5 of {len(body)} bytes received)")]
    half = read_all(frame(A) + b"Content-Length: 10\r\n")
    assert payloads(half) == [A] and half[-1].reason and "header" in half[-1].reason


def test_blank_lines_between_messages_are_harmless() -> None:
    events = read_all(b"\r\n\r\n" + frame(A) + b"\r\n" + frame(B))
    assert payloads(events) == [A, B] and not any(isinstance(e, Skipped) for e in events)


def test_non_ascii_body_and_a_huge_line_of_garbage() -> None:
    msg = {"id": 3, "text": "héllo ✓ 𝄞"}
    garbage = b"x" * 300_000 + b"\r\n"  # longer than a header line may be
    events = read_all(garbage + frame(msg) + frame(B))
    assert payloads(events) == [msg, B]
