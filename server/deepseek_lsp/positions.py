"""LSP positions <-> Python str offsets, in any position encoding.

LSP lines end at \\n, \\r\\n or \\r only (str.splitlines would also split on \\f, \\x85, U+2028...).
Characters count in the negotiated encoding: UTF-16 code units (VS Code), UTF-8 bytes (Neovim)
or code points (Emacs).

The functions take a whole `str` and scan it (fine once per request); `Text` is a document
that a stream of small changes edits in O(change), for the per-keystroke paths.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate, chain
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
    if encoding == "utf-32" or s.isascii():
        return len(s)
    if encoding == "utf-16":
        return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)
    return len(s.encode("utf-8", errors="surrogatepass"))


def _column(line: str, character: int, encoding: Encoding) -> int:
    """The str index in `line` (no line end) of a column in `encoding`, clamped to the line."""
    if character <= 0:
        return 0
    if encoding == "utf-32" or line.isascii():
        return min(character, len(line))
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        units += _units(ch, encoding)
    return len(line)


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
    return starts[pos.line] + _column(_line_text(text, starts, pos.line), pos.character, encoding)


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


def common_ends(a: str, b: str) -> tuple[int, int]:
    """Lengths of the common prefix and of the common suffix after it, compared in blocks."""
    limit = min(len(a), len(b))
    p = _run(a, b, 0, limit, 1)
    s = _run(a, b, 0, limit - p, -1)
    return p, s


def _run(a: str, b: str, start: int, limit: int, direction: int, block: int = 256) -> int:
    """How many characters match from the front (direction 1) or the back (-1)."""
    n = start
    while n + block <= limit and _piece(a, n, block, direction) == _piece(b, n, block, direction):
        n += block
    while n < limit and _piece(a, n, 1, direction) == _piece(b, n, 1, direction):
        n += 1
    return n


def _piece(s: str, n: int, k: int, direction: int) -> str:
    return s[n : n + k] if direction > 0 else s[len(s) - n - k : len(s) - n]


# -- a document edited in O(change) ---------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One change to a `Text`: [start, end) became `length` characters; `end_line` is the line
    `end` stood on before it, `lines` how many lines it added (negative: removed)."""

    start: int
    end: int
    length: int
    end_line: int
    lines: int


_SPLIT = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")  # just after each LSP line end
_BLOCK = 128  # lines per block when (re)built; a block splits once it holds twice that


def split_lines(text: str) -> list[str]:
    """The LSP lines of `text`, each with its line end; the last one has none (it may be "")."""
    return _SPLIT.split(text)


class Text:
    """A document as blocks of LSP lines, so that a change costs O(its size + one block +
    log(blocks)), not O(document).

    A `str` per keystroke copies the whole document (a fresh 600 kB allocation is ~0.5 ms)
    and finding line starts rescans it (~5 ms for 20,000 lines); here a change re-splits only
    the lines it touches, and lines and offsets are found through Fenwick trees of the
    blocks' sizes. `str(text)` joins it once and keeps the result until the next change.
    `clone()` is cheap: blocks are copied on write.
    """

    __slots__ = ("_blocks", "_chars", "_count", "_joined", "_owned", "_size", "_tree")

    def __init__(self, text: str = "") -> None:
        lines = split_lines(text)
        self._blocks = [lines[i : i + _BLOCK] for i in range(0, len(lines), _BLOCK)]
        self._owned = [True] * len(self._blocks)
        self._chars = [sum(map(len, b)) for b in self._blocks]
        self._size, self._count = len(text), len(lines)
        self._tree: tuple[list[int], list[int]] | None = None  # (lines, characters) per block
        self._joined: str | None = text

    # -- reading ------------------------------------------------------------------------------
    def __str__(self) -> str:
        if self._joined is None:
            self._joined = "".join(chain.from_iterable(self._blocks))
        return self._joined

    def __len__(self) -> int:
        return self._size

    @property
    def line_count(self) -> int:
        return self._count

    def _trees(self) -> tuple[list[int], list[int]]:
        if self._tree is None:  # after blocks were split or merged
            self._tree = (_fenwick([len(b) for b in self._blocks]), _fenwick(self._chars))
        return self._tree

    def _at_line(self, line: int) -> tuple[int, int, int]:
        """(block, index in it, offset where the line starts) of a line in range."""
        lines, chars = self._trees()
        k, before = _search(lines, line)
        j = line - before
        return k, j, _prefix(chars, k) + sum(map(len, self._blocks[k][:j]))

    def _at_offset(self, offset: int) -> tuple[int, int, int, int]:
        """(block, index in it, line number, line start) of the line holding `offset`."""
        lines, chars = self._trees()
        k, base = _search(chars, offset)
        if k >= len(self._blocks):  # the end of the text
            k = len(self._blocks) - 1
            base = self._size - self._chars[k]
        block = self._blocks[k]
        ends = list(accumulate(map(len, block)))
        j = min(bisect_right(ends, offset - base), len(block) - 1)
        return k, j, _prefix(lines, k) + j, base + (ends[j - 1] if j else 0)

    def line(self, line: int) -> str:
        """The line with its line end ("" past the last line)."""
        if line < 0 or line >= self.line_count:
            return ""
        k, j, _ = self._at_line(line)
        return self._blocks[k][j]

    def line_start(self, line: int) -> int:
        if line <= 0:
            return 0
        if line >= self.line_count:
            return len(self)
        return self._at_line(line)[2]

    def offset(self, pos: Pos, encoding: Encoding = "utf-16") -> int:
        """Like `to_offset`: past a line's end clamps to it, past the text to its end."""
        if pos.line < 0:
            return 0
        if pos.line >= self.line_count:
            return len(self)
        k, j, start = self._at_line(pos.line)
        return start + _column(self._blocks[k][j].rstrip("\r\n"), pos.character, encoding)

    def pos(self, offset: int, encoding: Encoding = "utf-16") -> Pos:
        """Like `to_pos`."""
        offset = max(0, min(offset, len(self)))
        k, j, line, start = self._at_offset(offset)
        return Pos(line, _units(self._blocks[k][j][: offset - start], encoding))

    def lsp_range(self, start: int, end: int, encoding: Encoding = "utf-16") -> dict[str, dict[str, int]]:
        """Like `lsp_range`."""
        a, b = self.pos(start, encoding), self.pos(end, encoding)
        return {
            "start": {"line": a.line, "character": a.character},
            "end": {"line": b.line, "character": b.character},
        }

    def slice(self, start: int, end: int) -> str:
        """`str(self)[start:end]`, without joining the whole text."""
        if self._joined is not None:
            return self._joined[start:end]
        n = len(self)
        start, end = max(0, min(start, n)), max(0, min(end, n))
        if start >= end:
            return ""
        k, j, _, line_start = self._at_offset(start)
        parts: list[str] = []
        got = -(start - line_start)
        while got < end - start and k < len(self._blocks):
            block = self._blocks[k]
            while j < len(block) and got < end - start:
                parts.append(block[j])
                got += len(block[j])
                j += 1
            k, j = k + 1, 0
        return "".join(parts)[start - line_start : end - line_start]

    # -- editing ------------------------------------------------------------------------------
    def clone(self) -> Text:
        """A copy that shares the blocks until either side changes one."""
        other = Text.__new__(Text)
        other._blocks = list(self._blocks)
        other._chars = list(self._chars)
        other._owned = [False] * len(self._blocks)
        self._owned = [False] * len(self._blocks)
        other._size, other._count, other._joined = self._size, self._count, self._joined
        other._tree = (list(self._tree[0]), list(self._tree[1])) if self._tree is not None else None
        return other

    def replace(self, start: int, end: int, text: str) -> Change:
        """`self[start:end] = text` (offsets clamped to the text); returns what changed."""
        n = len(self)
        a, b = max(0, min(start, end, n)), max(0, min(max(start, end), n))
        k1, j1, g1, s1 = self._at_offset(a)
        k2, j2, g2, s2 = self._at_offset(b)
        change = Change(a, b, len(text), g2, 0)
        if a == b and not text:
            return change
        last = self.line_count - 1
        seg = self._blocks[k1][j1][: a - s1] + text + self._blocks[k2][j2][b - s2 :]
        if a == s1 and seg.startswith("\n") and g1 > 0 and self.line(g1 - 1).endswith("\r"):
            seg = self.line(g1 - 1) + seg  # "\r" + "\n" join into one line end
            g1 -= 1
            k1, j1 = (k1, j1 - 1) if j1 else (k1 - 1, len(self._blocks[k1 - 1]) - 1)
        if seg.endswith("\r") and g2 < last and self.line(g2 + 1).startswith("\n"):
            seg += self.line(g2 + 1)
            g2 += 1
            k2, j2 = (k2, j2 + 1) if j2 + 1 < len(self._blocks[k2]) else (k2 + 1, 0)
        new = split_lines(seg)
        if g2 < last:
            new.pop()  # seg ends with a line end: the "" after it is the next line's business
        change = Change(a, b, len(text), change.end_line, len(new) - (g2 - g1 + 1))
        chars = len(text) - (b - a)
        if k1 == k2:
            block = self._own(k1)
            block[j1 : j2 + 1] = new
            self._chars[k1] += chars
            if len(block) > 2 * _BLOCK:
                self._rebuild(k1, k1 + 1, block)
            elif self._tree is not None:
                _add(self._tree[0], k1, change.lines)
                _add(self._tree[1], k1, chars)
        else:
            merged = self._blocks[k1][:j1] + new + self._blocks[k2][j2 + 1 :]
            self._rebuild(k1, k2 + 1, merged)
        self._size += chars
        self._count += change.lines
        self._joined = None
        return change

    def _own(self, k: int) -> list[str]:
        if not self._owned[k]:
            self._blocks[k] = list(self._blocks[k])
            self._owned[k] = True
        return self._blocks[k]

    def _rebuild(self, k1: int, k2: int, lines: list[str]) -> None:
        """Blocks k1..k2-1 become `lines`, in blocks of _BLOCK lines."""
        blocks = [lines[i : i + _BLOCK] for i in range(0, len(lines), _BLOCK)]
        self._blocks[k1:k2] = blocks
        self._owned[k1:k2] = [True] * len(blocks)
        self._chars[k1:k2] = [sum(map(len, b)) for b in blocks]
        self._tree = None


def _fenwick(values: list[int]) -> list[int]:
    """A Fenwick tree of `values` (1-based), built in O(n)."""
    tree = [0, *values]
    n = len(tree)
    for i in range(1, n):
        j = i + (i & -i)
        if j < n:
            tree[j] += tree[i]
    return tree


def _add(tree: list[int], k: int, delta: int) -> None:
    """values[k] += delta."""
    i = k + 1
    while i < len(tree):
        tree[i] += delta
        i += i & -i


def _prefix(tree: list[int], k: int) -> int:
    """sum(values[:k])."""
    total = 0
    while k > 0:
        total += tree[k]
        k -= k & -k
    return total


def _search(tree: list[int], target: int) -> tuple[int, int]:
    """(k, sum(values[:k])) for the largest k with sum(values[:k]) <= target: with values >= 0,
    the index of the block that holds the `target`-th unit (len(values) past the end)."""
    pos, rest = 0, target
    step = 1 << (len(tree) - 1).bit_length() >> 1
    while step:
        nxt = pos + step
        if nxt < len(tree) and tree[nxt] <= rest:
            pos, rest = nxt, rest - tree[nxt]
        step >>= 1
    return pos, target - rest


def shift_span(start: int, end: int, a: int, b: int, inserted: int) -> tuple[int, int]:
    """Where [start, end) stands after text[a:b] became `inserted` characters.

    Typing right at its start moves it (as `Region` counts it), right at its end leaves it; a
    change over one of its ends pulls that end to the change's edge.
    """
    delta = inserted - (b - a)
    if b <= start:
        return start + delta, end + delta
    if a >= end:
        return start, end
    new_start = min(start, a) if a < start else start
    new_end = end + delta if b <= end else a + inserted
    return new_start, max(new_start, new_end)


class Span:
    """A range of a `Text` that follows its changes: its offsets move in O(1) per change, and its
    LSP range is recomputed from the text only when a change touches the lines it starts or
    ends on (a change on earlier lines only moves its line numbers, a change after it nothing).
    """

    __slots__ = ("encoding", "end", "range", "start")

    def __init__(self, text: Text, start: int, end: int, encoding: Encoding) -> None:
        self.start, self.end, self.encoding = start, end, encoding
        self.range = text.lsp_range(start, end, encoding)

    def follow(self, text: Text, changes: list[Change]) -> None:
        """Replay the changes that turned the previous text into `text` (in order)."""
        stale = False
        for c in changes:
            before = c.end <= self.start
            after = not before and c.start > self.end  # (at its end: a "\n" after a "\r" moves it)
            self.start, self.end = shift_span(self.start, self.end, c.start, c.end, c.length)
            if stale or after:
                continue  # after it: nothing before it moved
            first = self.range["start"]["line"]
            if before and c.end_line < first:  # on earlier lines: only its line numbers move
                if c.lines:
                    self.range = {
                        "start": {**self.range["start"], "line": first + c.lines},
                        "end": {**self.range["end"], "line": self.range["end"]["line"] + c.lines},
                    }
                continue
            stale = True
        if stale:
            self.range = text.lsp_range(self.start, self.end, self.encoding)
