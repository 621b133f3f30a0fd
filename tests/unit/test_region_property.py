"""Region tracking, property-based, against a reference document edited naively (whole strings).

Any sequence of didChange events outside the region (before or after it, in any position
encoding, multi-line, CRLF and lone CR line ends, several changes per event) keeps it anchored:
its text stays the same and its offsets are where that text stands in the reference. A change
that touches it latches `broken`. Our own edit, reported by the client as several smaller
changes, is recognised by its effect.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_lsp import positions
from deepseek_lsp.positions import Encoding, Pos, to_offset, to_pos
from deepseek_lsp.rewrite.region import Outcome, Region

ENCODINGS: list[Encoding] = ["utf-8", "utf-16", "utf-32"]
PIECES = ["a", "bc", " ", "\n", "\r", "\r\n", "é", "中", "🎉", "\x0c", "\u2028"]
_text = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)
_some = st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map("".join)
Change = tuple[Pos, Pos, str]


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 2 lines: edits cross, split and merge the region's blocks."""
    monkeypatch.setattr(positions, "_BLOCK", 2)


def lsp_change(ref: str, a: int, b: int, new: str, enc: Encoding) -> tuple[Change, str, int, int]:
    """The change an editor would send for ref[a:b] = new, the reference after it, and the
    offsets it really replaced (a position cannot stand between \\r and \\n: it clamps)."""
    pa, pb = to_pos(ref, a, enc), to_pos(ref, b, enc)
    ra, rb = to_offset(ref, pa, enc), to_offset(ref, pb, enc)
    return (pa, pb, new), ref[:ra] + new + ref[rb:], ra, rb


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, int, int]:
    """(document, region start, region end): a non-empty region anywhere in it."""
    before, inside, after = draw(_text), draw(_some), draw(_text)
    return before + inside + after, len(before), len(before) + len(inside)


def outside(
    data: st.DataObject, ref: str, start: int, end: int, enc: Encoding
) -> tuple[Change, str, int, int]:
    """A change that does not touch [start, end) once its offsets are clamped to positions."""
    while True:
        if data.draw(st.booleans()):  # before: ending at or before its start
            a = data.draw(st.integers(0, start))
            b = data.draw(st.integers(a, start))
        else:  # after: starting at or after its end
            a = data.draw(st.integers(end, len(ref)))
            b = data.draw(st.integers(a, len(ref)))
        change, new_ref, ra, rb = lsp_change(ref, a, b, data.draw(_text), enc)
        if rb <= start or ra >= end:
            return change, new_ref, ra, rb


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_edits_outside_keep_the_region_anchored(data: st.DataObject) -> None:
    ref, start, end = data.draw(documents())
    original = ref[start:end]
    enc = data.draw(st.sampled_from(ENCODINGS))
    region = Region(ref, 1, start, end)
    version = 1
    for _ in range(data.draw(st.integers(1, 8))):
        if data.draw(st.booleans()):  # an edit of ours in flight: the user's typing kills it
            # "§" never appears in the user's text: no change of theirs has our edit's effect
            # (one that had would be indistinguishable from ours, and harmlessly taken for it)
            region.pending = region.edit_to(data.draw(_some) + "§")
        changes: list[Change | str] = []
        for _ in range(data.draw(st.integers(1, 3))):  # one event, one or more changes
            change, ref, ra, rb = outside(data, ref, start, end, enc)
            if rb <= start:
                delta = len(change[2]) - (rb - ra)
                start, end = start + delta, end + delta
            changes.append(change)
        if data.draw(st.integers(0, 9)) == 0:  # a client with full sync sends the whole text
            changes = [ref]
        version += 1
        outcomes = region.apply_lsp(changes, version, enc)
        assert Outcome.INSIDE not in outcomes and Outcome.OURS not in outcomes
        assert not region.broken
        assert region.current == original
        assert region.text == ref
        assert region.version == version
        if region.pending is not None:
            assert region.pending.dead and not region.pending.seen
            region.pending = None
        assert ref[region.start : region.end] == original
        if changes == [ref]:  # a whole text may be read either way when it repeats around it
            start, end = region.start, region.end
        assert (region.start, region.end) == (start, end)
        assert region.lsp_range(enc) == positions.lsp_range(ref, region.start, region.end, enc)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_an_edit_touching_the_region_latches_broken(data: st.DataObject) -> None:
    ref, start, end = data.draw(documents())
    enc = data.draw(st.sampled_from(ENCODINGS))
    region = Region(ref, 1, start, end)
    while True:
        a = data.draw(st.integers(0, end - 1))
        b = data.draw(st.integers(max(a, start + 1), len(ref)))
        change, new_ref, ra, rb = lsp_change(ref, a, b, data.draw(_text), enc)
        if ra < end and rb > start:  # it touches the region even after clamping
            break
    assert region.apply_lsp([change], 2, enc) == [Outcome.INSIDE]
    assert region.broken and region.text == new_ref
    for v in range(3, 3 + data.draw(st.integers(0, 3))):  # and it stays latched
        change, new_ref, _, _ = lsp_change(new_ref, 0, 0, data.draw(_text), enc)
        region.apply_lsp([change], v, enc)
        assert region.broken and region.text == new_ref


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_our_edit_split_into_changes_is_recognised(data: st.DataObject) -> None:
    """VS Code reports one applied edit as several changes, in any order; the region knows it."""
    ref, start, end = data.draw(documents())
    enc = data.draw(st.sampled_from(ENCODINGS))
    region = Region(ref, 1, start, end)
    target = data.draw(_text)
    edit = region.edit_to(target)
    if edit is None:
        return
    region.pending = edit
    # old[edit.start:edit.end] -> edit.text, cut into pieces replaced one by one
    old, new = ref[edit.start : edit.end], edit.text
    k = data.draw(st.integers(1, 3))
    cuts_old = sorted(data.draw(st.lists(st.integers(0, len(old)), min_size=k - 1, max_size=k - 1)))
    cuts_new = sorted(data.draw(st.lists(st.integers(0, len(new)), min_size=k - 1, max_size=k - 1)))
    pieces = list(
        zip(
            zip([0, *cuts_old], [*cuts_old, len(old)], strict=True),
            zip([0, *cuts_new], [*cuts_new, len(new)], strict=True),
            strict=True,
        )
    )
    order = data.draw(st.permutations(range(len(pieces))))
    done: set[int] = set()
    changes: list[Change | str] = []
    for i in order:
        (oa, ob), (na, nb) = pieces[i]
        # where piece i stands now: pieces before it that are done have their new length
        shift = sum(
            (pieces[j][1][1] - pieces[j][1][0]) - (pieces[j][0][1] - pieces[j][0][0]) for j in done if j < i
        )
        a, b = edit.start + oa + shift, edit.start + ob + shift
        if ref[a - 1 : a + 1] == "\r\n" or ref[b - 1 : b + 1] == "\r\n":
            return  # a cut between \r and \n is no position: an editor cannot send it
        change, ref, _, _ = lsp_change(ref, a, b, new[na:nb], enc)
        changes.append(change)
        done.add(i)
    out = region.apply_lsp(changes, 2, enc)
    assert region.text == ref
    assert out == [Outcome.OURS], (changes, out)
    assert edit.seen and not region.broken
    assert region.current == target
