"""The document as the client has it, and where the rewritten region stands in it now.

The client is the only source of truth: its `didChange` events are replayed here in order on
a private copy of the text (LSP line semantics, any position encoding), so pygls's own copy and
its `str.splitlines` quirks do not matter. An edit we sent counts as applied only once the
client's `didChange` shows it; a client may report it in another shape (Neovim sends the
minimal diff), so an event is recognised as ours by its effect on the text, not its form.

A change by the user before the region shifts it, after it leaves it alone, and inside it
latches `broken`: the job must stop and leave the user's text alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..positions import Encoding, Pos, line_starts, to_offset, to_pos


class Outcome(Enum):
    OURS = "ours"  # the edit we were waiting for
    BEFORE = "before"  # a user change before the region: it moved
    AFTER = "after"  # a user change after the region
    INSIDE = "inside"  # a user change that touched the region


@dataclass
class Edit:
    """An edit we sent: region[rel_start:rel_end] becomes `text` (region-relative, so it
    survives the user typing elsewhere while it is in flight)."""

    rel_start: int
    rel_end: int
    text: str
    version: int | None
    start: int  # absolute offsets when sent (for the LSP range)
    end: int
    seen: bool = False  # the client's didChange showed it
    dead: bool = False  # it can no longer apply (the user's change bumped the version first)


@dataclass
class Region:
    """A private copy of one document and one region in it, kept in step with the client."""

    text: str
    version: int | None
    start: int
    end: int
    broken: bool = False  # the user edited inside the region
    pending: Edit | None = None
    _starts: tuple[str, list[int]] | None = field(default=None, repr=False)

    @property
    def current(self) -> str:
        return self.text[self.start : self.end]

    def lsp_range(self, encoding: Encoding) -> dict[str, dict[str, int]]:
        """Where the region stands now, as a JSON LSP range."""
        return self.range_of(self.start, self.end, encoding)

    def range_of(self, start: int, end: int, encoding: Encoding) -> dict[str, dict[str, int]]:
        starts = self.starts()
        a = to_pos(self.text, start, encoding, starts)
        b = to_pos(self.text, end, encoding, starts)
        return {
            "start": {"line": a.line, "character": a.character},
            "end": {"line": b.line, "character": b.character},
        }

    def starts(self) -> list[int]:
        """Line starts of the current text, computed once per text (large files: ms each)."""
        cached = self._starts
        if cached is None or cached[0] is not self.text:
            cached = self._starts = (self.text, line_starts(self.text))
        return cached[1]

    def edit_to(self, target: str) -> Edit | None:
        """The smallest edit that turns the region into `target` (None when it already is)."""
        shown = self.current
        if shown == target:
            return None
        p, s = _common_ends(shown, target)
        rel_end = len(shown) - s
        return Edit(
            rel_start=p,
            rel_end=rel_end,
            text=target[p : len(target) - s],
            version=self.version,
            start=self.start + p,
            end=self.start + rel_end,
        )

    # -- the client's changes ------------------------------------------------------------
    def apply_lsp(
        self,
        changes: list[tuple[Pos, Pos, str] | str],
        version: int | None,
        encoding: Encoding,
    ) -> list[Outcome]:
        """Replay one didChange event: (start, end, text) ranges, or a whole-document text.

        VS Code reports one applied edit as several smaller changes in one event, so an event
        with a pending edit of ours is first judged by its whole effect on the text.
        """
        edit = self.pending
        if len(changes) > 1 and edit is not None and not edit.seen and not edit.dead:
            text = self.text
            for change in changes:
                a, b, t = _locate(text, change, encoding)
                text = text[:a] + t + text[b:]
            a, b, t = _diff(self.text, text)
            if self._same_effect(a, b, t, edit):
                self.version = version
                return [self.apply(a, b, t)]
        outcomes = []
        for change in changes:
            starts = self.starts() if not isinstance(change, str) else None
            outcomes.append(self.apply(*_locate(self.text, change, encoding, starts)))
        self.version = version
        return outcomes

    def apply(self, a: int, b: int, t: str) -> Outcome:
        """Replay one change: text[a:b] became t."""
        edit = self.pending
        if edit is not None and not edit.seen and not edit.dead and self._same_effect(a, b, t, edit):
            shown = self.current
            new = shown[: edit.rel_start] + edit.text + shown[edit.rel_end :]
            self.text = self.text[:a] + t + self.text[b:]
            self.end = self.start + len(new)
            edit.seen = True
            return Outcome.OURS
        if edit is not None and not edit.seen:
            edit.dead = True  # the version moved on under it: a versioned client drops it
        self.text = self.text[:a] + t + self.text[b:]
        delta = len(t) - (b - a)
        if b <= self.start:  # typing right at its start counts as before it
            self.start += delta
            self.end += delta
            return Outcome.BEFORE
        if a >= self.end:
            return Outcome.AFTER
        self.end = max(self.start, self.end + delta)
        self.broken = True
        return Outcome.INSIDE

    def _same_effect(self, a: int, b: int, t: str, edit: Edit) -> bool:
        ea, eb = self.start + edit.rel_start, self.start + edit.rel_end
        if len(t) - (b - a) != len(edit.text) - (eb - ea):
            return False
        lo, hi = min(a, ea), max(b, eb)
        m = self.text
        return m[lo:a] + t + m[b:hi] == m[lo:ea] + edit.text + m[eb:hi]


def _locate(
    text: str, change: tuple[Pos, Pos, str] | str, encoding: Encoding, starts: list[int] | None = None
) -> tuple[int, int, str]:
    """One LSP content change as `text[a:b]` becoming `t`."""
    if isinstance(change, str):
        return _diff(text, change)
    a = to_offset(text, change[0], encoding, starts)
    b = to_offset(text, change[1], encoding, starts)
    return min(a, b), max(a, b), change[2]


def _diff(old: str, new: str) -> tuple[int, int, str]:
    """A whole-document change as one range change (common prefix and suffix trimmed)."""
    p, s = _common_ends(old, new)
    return p, len(old) - s, new[p : len(new) - s]


def _common_ends(a: str, b: str) -> tuple[int, int]:
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
