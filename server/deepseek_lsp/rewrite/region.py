"""The document as the client has it, and where the rewritten region stands in it now.

The client is the only source of truth: its `didChange` events are replayed here in order on
a private copy of the text (LSP line semantics, any position encoding), so pygls's own copy
does not matter. The copy is a `positions.Text`, so replaying a keystroke costs O(change),
not a copy of the document and a rescan of its line ends. An edit we sent counts as applied only once the
client's `didChange` shows it; a client may report it in another shape (Neovim sends the
minimal diff), so an event is recognised as ours by its effect on the text, not its form.

A change by the user before the region shifts it, after it leaves it alone, and inside it
latches `broken`: the job must stop and leave the user's text alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..positions import Encoding, Pos, Text, common_ends

_common_ends = common_ends  # (the name the tests know)


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
    refusal: str | None = None  # the client's reason when it did not apply it
    applied: bool | None = None  # the client's answer (None: none yet, or never)


class Region:
    """A private copy of one document and one region in it, kept in step with the client."""

    def __init__(
        self,
        text: str,
        version: int | None,
        start: int,
        end: int,
        broken: bool = False,
        pending: Edit | None = None,
    ) -> None:
        self.doc = Text(text)
        self.version = version
        self.start = start
        self.end = end
        self.broken = broken  # the user edited inside the region
        self.pending = pending

    def __repr__(self) -> str:
        return (
            f"Region(version={self.version!r}, start={self.start}, end={self.end}, "
            f"broken={self.broken}, pending={self.pending!r}, current={self.current!r})"
        )

    @property
    def text(self) -> str:
        """The whole document (joined on demand: prefer `current` and `doc`)."""
        return str(self.doc)

    @text.setter
    def text(self, value: str) -> None:
        self.doc = Text(value)

    @property
    def current(self) -> str:
        return self.doc.slice(self.start, self.end)

    def lsp_range(self, encoding: Encoding) -> dict[str, dict[str, int]]:
        """Where the region stands now, as a JSON LSP range."""
        return self.range_of(self.start, self.end, encoding)

    def range_of(self, start: int, end: int, encoding: Encoding) -> dict[str, dict[str, int]]:
        return self.doc.lsp_range(start, end, encoding)

    def edit_to(self, target: str) -> Edit | None:
        """The smallest edit that turns the region into `target` (None when it already is)."""
        shown = self.current
        if shown == target:
            return None
        p, s = common_ends(shown, target)
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
            a, b, t = self._effect(changes, encoding)
            if self._same_effect(a, b, t, edit):
                self.version = version
                return [self.apply(a, b, t)]
        outcomes = []
        for change in changes:
            parts = self._whole(change) if isinstance(change, str) else [_locate(self.doc, change, encoding)]
            outcomes += [self.apply(*part) for part in parts]
        self.version = version
        return outcomes

    def _whole(self, new: str) -> list[tuple[int, int, str]]:
        """A whole-document change as range changes, kept out of the region while its text is
        still there: a plain prefix/suffix diff can put a change next to it into it ("aab" ->
        "ab"), and a client with full sync sends one text for edits on both sides of it. Those
        come back as two changes, the one after the region first."""
        old = self.text
        a, b, t = _diff(old, new)
        if b <= self.start or a >= self.end or self.start == self.end:
            return [(a, b, t)]
        shown = old[self.start : self.end]
        moved = self.start + len(new) - len(old)  # where it stands if only text before it changed
        for x in (moved, self.start):
            if x >= 0 and new[x : x + len(shown)] == shown:
                break
        else:
            x = new.find(shown)
            if x < 0:
                return [(a, b, t)]  # its text changed: that is a change inside it
        ea, eb, et = _diff(old[self.end :], new[x + len(shown) :])
        ba, bb, bt = _diff(old[: self.start], new[:x])
        parts = [(self.end + ea, self.end + eb, et), (ba, bb, bt)]
        return [p for p in parts if p[0] != p[1] or p[2]] or [(a, b, t)]

    def _effect(self, changes: list[tuple[Pos, Pos, str] | str], encoding: Encoding) -> tuple[int, int, str]:
        """Several changes in a row as one: text[a:b] became t (on a copy-on-write clone)."""
        scratch = self.doc.clone()
        lo = hi_old = hi_new = -1  # the window [lo, hi_old) of the text became scratch[lo:hi_new]
        for change in changes:
            a, b, t = _locate(scratch, change, encoding)
            scratch.replace(a, b, t)
            if lo < 0:
                lo, hi_old, hi_new = a, b, b
            lo = min(lo, a)  # the text before the window is as it was
            if b > hi_new:  # and so is the text after it
                hi_old, hi_new = hi_old + b - hi_new, b
            hi_new += len(t) - (b - a)
        old, new = self.doc.slice(lo, hi_old), scratch.slice(lo, hi_new)
        p, s = common_ends(old, new)
        return lo + p, hi_old - s, new[p : len(new) - s]

    def apply(self, a: int, b: int, t: str) -> Outcome:
        """Replay one change: text[a:b] became t."""
        edit = self.pending
        if edit is not None and not edit.seen and not edit.dead and self._same_effect(a, b, t, edit):
            shown = self.current
            new = shown[: edit.rel_start] + edit.text + shown[edit.rel_end :]
            self.doc.replace(a, b, t)
            self.end = self.start + len(new)
            edit.seen = True
            return Outcome.OURS
        if edit is not None and not edit.seen:
            edit.dead = True  # the version moved on under it: a versioned client drops it
        self.doc.replace(a, b, t)
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
        m = self.doc.slice(lo, hi)
        return m[: a - lo] + t + m[b - lo :] == m[: ea - lo] + edit.text + m[eb - lo :]


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two regions share text, or an empty one stands strictly inside the other: one
    rewrite's edits would then land in the other. Regions that only touch can both run (an
    edit at a region's start counts as before it, at its end as after it)."""
    (s1, e1), (s2, e2) = a, b
    if max(s1, s2) < min(e1, e2):
        return True
    return (s1 == e1 and s2 < s1 < e2) or (s2 == e2 and s1 < s2 < e1)


def _locate(text: Text, change: tuple[Pos, Pos, str] | str, encoding: Encoding) -> tuple[int, int, str]:
    """One LSP content change as `text[a:b]` becoming `t`."""
    if isinstance(change, str):
        return _diff(str(text), change)
    a = text.offset(change[0], encoding)
    b = text.offset(change[1], encoding)
    return min(a, b), max(a, b), change[2]


def _diff(old: str, new: str) -> tuple[int, int, str]:
    """A whole-document change as one range change (common prefix and suffix trimmed)."""
    p, s = common_ends(old, new)
    return p, len(old) - s, new[p : len(new) - s]
