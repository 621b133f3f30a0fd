"""From the model's code to the exact text that goes into the document, while it streams.

The model writes code at whatever indentation it likes, with "\\n" line endings. The
document wants its own: the selection's indentation level, tabs or spaces as the file uses
them, and its line endings (a CRLF file stays CRLF). The selection's leading blank lines and
its trailing line break (or the next line's indentation, when the selection ended there)
are the document's, not the model's, and are kept.

Everything emitted is final, so the target text only grows and a client can join the
streamed deltas: a line's indentation is written once its first non-blank character is
known, and blank lines wait until more code follows them (trailing ones are dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*(?:\r\n|\r|\n))*")
_TRAILING_SPACE = re.compile(r"\s*\Z")
_LINE_END = re.compile(r"\r\n|\r|\n")
_CLOSER = re.compile(r"^(?:[}\])]|end\b|fi\b|esac\b|done\b)")


def detect_eol(text: str) -> str:
    """The document's line ending: its first one ("\\n" when it has none)."""
    m = _LINE_END.search(text)
    return m.group(0) if m else "\n"


def leading_ws(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def width(ws: str, tab_width: int = 4) -> int:
    """Visual width of indentation (tabs advance to the next tab stop)."""
    col = 0
    for ch in ws:
        col = (col // tab_width + 1) * tab_width if ch == "\t" else col + 1
    return col


def _line_start(text: str, offset: int) -> int:
    return max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1


def _line_end(text: str, offset: int) -> int:
    m = _LINE_END.search(text, offset)
    return m.start() if m else len(text)


def _uses_tabs(text: str, base: str) -> bool:
    if base:
        return base.startswith("\t")
    m = re.search(r"^([ \t]+)\S", text, re.M)
    return bool(m and m.group(1).startswith("\t"))


@dataclass(frozen=True)
class Layout:
    """Where the code goes and how it must look there."""

    eol: str = "\n"
    lead: str = ""  # text before the code (the selection's leading blank lines)
    trail: str = ""  # text after the code (the selection's trailing line break(s))
    base: str = ""  # indentation of the code's first line in the document
    first_prefix: str = ""  # what the document already has on the first line before the region
    inline: bool = False  # the region starts after code on its line
    cont_width: int | None = None  # the selection's first continuation line's width, if any
    tabs: bool = False
    tab_width: int = 4

    @property
    def cut(self) -> bool:
        """The region's first line lacks its indentation (it starts after the line start)."""
        return bool(self.first_prefix)


def replace_layout(text: str, start: int, end: int) -> Layout:
    """The layout for code replacing text[start:end]."""
    sel = text[start:end]
    eol = detect_eol(text)
    if not sel.strip():  # nothing but whitespace: the code takes the line's indentation
        line_start = _line_start(text, start)
        first = text[line_start:start]
        base = leading_ws(text[line_start : _line_end(text, line_start)])
        inline = bool(first.strip())
        if inline or not base.startswith(first):
            base = leading_ws(first)
        return Layout(eol=eol, base=base, first_prefix=first, inline=inline, tabs=_uses_tabs(text, base))
    lead = _LEADING_BLANK_LINES.match(sel)
    lead_text = lead.group(0) if lead else ""
    body_start = start + len(lead_text)
    line_start = _line_start(text, body_start)
    first_prefix = text[line_start:body_start]
    line = text[line_start : _line_end(text, line_start)]
    base = leading_ws(line)
    inline = bool(first_prefix.strip())
    if not inline and not base.startswith(first_prefix):
        base = first_prefix
    space = _TRAILING_SPACE.search(sel)
    tail = space.group(0) if space else ""
    brk = _LINE_END.search(tail)
    trail = tail[brk.start() :] if brk else ""
    body = sel[len(lead_text) : len(sel) - len(tail)]
    cont = [ln for ln in _LINE_END.split(body)[1:] if ln.strip()]
    tabs = _uses_tabs(text, base)
    return Layout(
        eol=eol,
        lead=lead_text,
        trail=trail,
        base=base,
        first_prefix=first_prefix,
        inline=inline,
        cont_width=width(leading_ws(cont[0])) if cont else None,
        tabs=tabs,
    )


def insert_layout(text: str, at: int, base: str = "") -> Layout:
    """The layout for code inserted at `at` (the end of a line), after a blank line."""
    eol = detect_eol(text)
    before = text[:at]
    lead = "" if not before.strip() else eol * (2 if not before.endswith(("\n", "\r")) else 1)
    return Layout(eol=eol, lead=lead, base=base, tabs=_uses_tabs(text, base))


def insertion_after_block(text: str, end: int) -> int:
    """Where code about the selection goes below it: after the top-level block holding `end`.

    Walks down to the next line at column 0; a closing bracket (or `end`) there belongs to the
    block. Returns the offset of the end of the block's last non-blank line.
    """
    pos = end
    if pos > 0 and text[pos - 1] in "\r\n":
        pos -= 1
        if pos > 0 and text[pos - 1 : pos + 1] == "\r\n":
            pos -= 1
    last = _line_end(text, pos)
    cursor = last
    while cursor < len(text):
        m = _LINE_END.match(text, cursor)
        nxt = m.end() if m else cursor + 1
        line_end = _line_end(text, nxt)
        line = text[nxt:line_end]
        if line.strip():
            if line[0] not in " \t":
                return line_end if _CLOSER.match(line) else last
            last = line_end
        cursor = line_end
        if nxt >= len(text):
            break
    return last


class Shaper:
    """Feed code (with "\\n" line endings), get the document text to append to the region."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._text: list[str] = []  # everything emitted so far, in pieces (see `text`)
        self.size = 0  # len(self.text), without joining it
        self._line = ""  # the current code line, as the model wrote it
        self._line_open = False  # its indentation has been emitted
        self._lines = 0  # non-blank lines started so far
        self._eols = 0  # line breaks owed before the next non-blank line
        self._first_width = 0  # the model's indentation of its first line
        self._out_base: int | None = None  # model width that maps to the document's base

    def feed(self, code: str) -> str:
        out: list[str] = []
        pieces = code.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                if self._line_open or self._lines:
                    self._eols += 1
                self._line, self._line_open = "", False
            out.append(self._add(piece))
        return self._emit("".join(out))

    def finish(self) -> str:
        """The selection's own trailing line break(s); trailing blank lines are dropped."""
        if not self._lines:
            return ""  # no code at all: the caller decides what that means
        return self._emit(self.layout.trail)

    @property
    def empty(self) -> bool:
        return self._lines == 0

    @property
    def text(self) -> str:
        """Everything emitted so far. Kept in pieces and joined when asked for: appending to one
        string per token copies the whole text each time. A caller that reads it per token pays
        that copy anyway; one that uses `feed`'s return value and `size` does not."""
        if len(self._text) > 1:
            self._text[:] = ["".join(self._text)]
        return self._text[0] if self._text else ""

    def _emit(self, s: str) -> str:
        if s:
            self._text.append(s)
            self.size += len(s)
        return s

    def _add(self, piece: str) -> str:
        if not piece:
            return ""
        if self._line_open:
            self._line += piece
            return piece
        self._line += piece
        if not self._line.strip(" \t"):
            return ""  # indentation only, so far
        ws = leading_ws(self._line)
        content = self._line[len(ws) :]
        self._line_open = True
        lay = self.layout
        if self._lines == 0:
            self._lines = 1
            self._first_width = 0 if lay.inline else width(ws)
            indent = "" if lay.inline else lay.base[len(lay.first_prefix) :]
            return lay.lead + indent + content
        self._lines += 1
        w = width(ws)
        if self._out_base is None:
            self._out_base = self._choose_base(w)
        rel = max(0, w - self._out_base)
        breaks, self._eols = lay.eol * self._eols, 0
        return breaks + lay.base + self._render(rel) + content

    def _choose_base(self, w2: int) -> int:
        """Which model width stands for the document's base indentation.

        A selection that starts at the line start: the model's first line does. A selection
        whose first line was cut (it starts after the indentation, or mid-line): the model
        either mirrored the selection (continuation lines carry absolute indentation) or
        re-indented it from zero; the selection's own continuation tells them apart.
        """
        lay = self.layout
        if not lay.cut:
            return self._first_width
        base_w = width(lay.base, lay.tab_width)
        if lay.cont_width is None:
            return self._first_width
        mirrored = abs(w2 - lay.cont_width)
        rebased = abs(w2 - (self._first_width + lay.cont_width - base_w))
        return base_w if mirrored < rebased else self._first_width

    def _render(self, rel: int) -> str:
        if self.layout.tabs:
            tw = self.layout.tab_width
            return "\t" * (rel // tw) + " " * (rel % tw)
        return " " * rel
