"""Positions in every encoding, with text that breaks naive code."""

from __future__ import annotations

import pytest

from deepseek_lsp.positions import Pos, line_starts, lsp_range, range_offsets, to_offset, to_pos

TEXT = "a😀b\r\n中文x\rline\x0cstill\nend"


def test_lines_split_only_on_lsp_line_ends() -> None:
    assert len(line_starts(TEXT)) == 4  # \x0c is not a line break for LSP


@pytest.mark.parametrize(
    ("encoding", "char_after_emoji"),
    [("utf-16", 3), ("utf-8", 5), ("utf-32", 2)],
)
def test_emoji_columns(encoding: str, char_after_emoji: int) -> None:
    offset = TEXT.index("b")
    assert to_pos(TEXT, offset, encoding) == Pos(0, char_after_emoji)  # type: ignore[arg-type]
    assert to_offset(TEXT, Pos(0, char_after_emoji), encoding) == offset  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_round_trip_every_offset(encoding: str) -> None:
    for offset in range(len(TEXT) + 1):
        if TEXT[offset - 1 : offset + 1] == "\r\n":
            continue  # between \r and \n is not a position
        pos = to_pos(TEXT, offset, encoding)  # type: ignore[arg-type]
        assert to_offset(TEXT, pos, encoding) == offset  # type: ignore[arg-type]


def test_clamping() -> None:
    assert to_offset(TEXT, Pos(0, 99)) == TEXT.index("\r")
    assert to_offset(TEXT, Pos(99, 0)) == len(TEXT)


def test_range_helpers() -> None:
    start, end = range_offsets(TEXT, Pos(1, 0), Pos(1, 2))
    assert TEXT[start:end] == "中文"
    assert lsp_range(TEXT, start, end) == {
        "start": {"line": 1, "character": 0},
        "end": {"line": 1, "character": 2},
    }


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_a_negative_character_is_the_line_start(encoding: str) -> None:
    assert to_offset(TEXT, Pos(1, -3), encoding) == TEXT.index("中")  # type: ignore[arg-type]
