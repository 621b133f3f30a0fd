"""LSP positions <-> Python str offsets, in any position encoding.

LSP lines end at \\n, \\r\\n or \\r only (str.splitlines would also split on \\f, \\x85, U+2028...).
Characters count in the negotiated encoding: UTF-16 code units (VS Code), UTF-8 bytes (Neovim)
or code points (Emacs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["utf-8", "utf-16", "utf-32"]

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, order=True)
class Pos:
    line: int
    character: int


def line_starts(text: str) -> list[int]:
    """Offsets where each LSP line starts."""
    return [0, *(m.end() for m in _LINE_END.finditer(text))]


def _units(s: str, encoding: Encoding) -> int:
    if encoding == "utf-32":
        return len(s)
    if encoding == "utf-16":
        return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)
    return len(s.encode("utf-8", errors="surrogatepass"))


def _line_text(text: str, starts: list[int], line: int) -> str:
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    return text[starts[line] : end].rstrip("\r\n")


def to_offset(text: str, pos: Pos, encoding: Encoding = "utf-16", starts: list[int] | None = None) -> int:
    """Offset of `pos`; positions past a line's end clamp to it, past the text to its end."""
    starts = starts if starts is not None else line_starts(text)
    if pos.line < 0:
        return 0
    if pos.line >= len(starts):
        return len(text)
    line = _line_text(text, starts, pos.line)
    if encoding == "utf-32":
        return starts[pos.line] + min(pos.character, len(line))
    units = 0
    for i, ch in enumerate(line):
        if units >= pos.character:
            return starts[pos.line] + i
        units += _units(ch, encoding)
    return starts[pos.line] + len(line)


def to_pos(text: str, offset: int, encoding: Encoding = "utf-16", starts: list[int] | None = None) -> Pos:
    starts = starts if starts is not None else line_starts(text)
    offset = max(0, min(offset, len(text)))
    lo, hi = 0, len(starts) - 1
    while lo < hi:  # last line start <= offset
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return Pos(lo, _units(text[starts[lo] : offset], encoding))


def range_offsets(text: str, start: Pos, end: Pos, encoding: Encoding = "utf-16") -> tuple[int, int]:
    starts = line_starts(text)
    a = to_offset(text, start, encoding, starts)
    b = to_offset(text, end, encoding, starts)
    return (a, b) if a <= b else (b, a)


def lsp_range(text: str, start: int, end: int, encoding: Encoding = "utf-16") -> dict[str, dict[str, int]]:
    """A JSON LSP range for the offsets [start, end)."""
    starts = line_starts(text)
    a, b = to_pos(text, start, encoding, starts), to_pos(text, end, encoding, starts)
    return {
        "start": {"line": a.line, "character": a.character},
        "end": {"line": b.line, "character": b.character},
    }
