"""The region follows the client's didChange events; our own edits are known by their effect."""

from __future__ import annotations

import random

from deepseek_lsp.positions import Pos
from deepseek_lsp.rewrite.pacer import Pacer
from deepseek_lsp.rewrite.region import Outcome, Region, _common_ends

DOC = "head\nold code\ntail\n"


def region() -> Region:
    start = DOC.index("old")
    return Region(DOC, 1, start, start + len("old code"))


def test_edit_to_is_minimal_and_region_relative() -> None:
    r = region()
    edit = r.edit_to("old stuff")
    assert edit is not None
    assert (edit.rel_start, edit.rel_end, edit.text) == (4, 8, "stuff")
    assert DOC[edit.start : edit.end] == "code"
    assert r.edit_to("old code") is None


def test_our_edit_in_the_clients_own_shape_is_recognised() -> None:
    r = region()
    r.pending = r.edit_to("new code")
    # the client reports it as a whole-line replacement
    line = DOC.index("old")
    out = r.apply(line, line + len("old code\n"), "new code\n")
    assert out is Outcome.OURS and r.current == "new code" and r.pending.seen
    assert not r.broken


def test_typing_before_the_region_moves_it_and_kills_the_pending_edit() -> None:
    r = region()
    edit = r.edit_to("new code")
    r.pending = edit
    assert r.apply(0, 0, "# 你好 🎉\n") is Outcome.BEFORE
    assert edit.dead and r.current == "old code"
    assert r.text[r.start :] == "old code\ntail\n"


def test_typing_after_or_at_the_end_leaves_it() -> None:
    r = region()
    assert r.apply(r.end, r.end, "!") is Outcome.AFTER
    assert r.current == "old code"
    assert r.apply(len(r.text), len(r.text), "more\n") is Outcome.AFTER


def test_typing_inside_breaks_it() -> None:
    r = region()
    assert r.apply(r.start + 2, r.start + 2, "x") is Outcome.INSIDE
    assert r.broken


def test_lsp_positions_in_every_encoding() -> None:
    doc = "é🎉x\nold\n"
    for enc, col in (("utf-16", 4), ("utf-8", 7), ("utf-32", 3)):
        start = doc.index("old")
        r = Region(doc, 1, start, start + 3)
        r.apply_lsp([(Pos(0, col), Pos(0, col), "y")], 2, enc)  # type: ignore[arg-type]
        assert r.text == "é🎉xy\nold\n" and r.current == "old" and r.version == 2
        assert r.lsp_range(enc)["start"] == {"line": 1, "character": 0}  # type: ignore[arg-type]


def test_whole_document_changes_are_diffed() -> None:
    r = region()
    r.apply_lsp([DOC.replace("head", "HEAD!")], 2, "utf-16")
    assert r.current == "old code" and not r.broken


def test_pacer_sends_lines_at_once_and_text_every_interval() -> None:
    p = Pacer(interval=0.05)
    assert p.delay(0.0, pending=False, lines=0, final=False) is None
    assert p.delay(0.0, pending=True, lines=0, final=False) == 0.0
    p.sent(0.0, 0)
    assert p.delay(0.01, pending=True, lines=0, final=False) == 0.04
    assert p.delay(0.01, pending=True, lines=1, final=False) == 0.0
    assert p.delay(0.01, pending=True, lines=0, final=True) == 0.0


def test_common_ends_match_a_char_by_char_comparison() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        n = rng.randint(0, 700)
        a = "".join(rng.choice("ab") for _ in range(n))
        extra = "".join(rng.choice("abc") for _ in range(rng.randint(0, 600)))
        b = a[: rng.randint(0, n)] + extra + a[rng.randint(0, n) :]
        limit = min(len(a), len(b))
        p = 0
        while p < limit and a[p] == b[p]:
            p += 1
        s = 0
        while s < limit - p and a[-1 - s] == b[-1 - s]:
            s += 1
        assert _common_ends(a, b) == (p, s)


def test_our_edit_split_into_several_changes_is_recognised_whole() -> None:
    """VS Code reports one applied workspace edit as several smaller content changes."""
    r = region()
    r.pending = r.edit_to("new stuff here")
    changes: list[tuple[Pos, Pos, str] | str] = [
        (Pos(1, 0), Pos(1, 3), "new"),
        (Pos(1, 4), Pos(1, 8), "stuff here"),
    ]
    assert r.apply_lsp(changes, 2, "utf-16") == [Outcome.OURS]
    assert r.current == "new stuff here" and not r.broken and r.version == 2


def test_a_split_event_that_is_not_ours_is_judged_change_by_change() -> None:
    r = region()
    r.pending = r.edit_to("new code")
    changes: list[tuple[Pos, Pos, str] | str] = [(Pos(0, 0), Pos(0, 0), "# "), (Pos(1, 2), Pos(1, 2), "x")]
    assert r.apply_lsp(changes, 2, "utf-16") == [Outcome.BEFORE, Outcome.INSIDE]
    assert r.broken


def test_a_whole_document_beside_the_region_stays_out_of_it() -> None:
    """A plain diff of "aab" -> "ab" deletes the region's first "a"; the region's text is still
    there, so it is read as a change before it (full-sync clients send whole texts)."""
    r = Region("aab", 1, 1, 3)
    assert r.apply_lsp(["ab"], 2, "utf-16") == [Outcome.BEFORE]
    assert (r.start, r.end, r.current, r.broken) == (0, 2, "ab", False)
    r = region()  # edits on both sides in one whole text: two changes, the later one first
    assert r.apply_lsp([DOC.replace("head", "HEAD!").replace("tail", "tail?")], 2, "utf-8") == [
        Outcome.AFTER,
        Outcome.BEFORE,
    ]
    assert r.current == "old code" and r.text == "HEAD!\nold code\ntail?\n" and not r.broken
    assert r.apply_lsp([r.text.replace("old", "new")], 3, "utf-8") == [Outcome.INSIDE]
    assert r.broken
