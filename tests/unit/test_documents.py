"""The O(change) document: `positions.Text`, `positions.Span` and pygls's `Document` on top,
checked against naive references (whole-string edits, `line_starts`, `to_offset`/`to_pos`) and,
where LSP and `str.splitlines` agree on line ends, against pygls's own TextDocument."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from deepseek_lsp import positions
from deepseek_lsp.documents import Document, DocumentWorkspace, changes_for, install
from deepseek_lsp.positions import Pos, Span, Text, line_starts, lsp_range, shift_span, to_offset, to_pos

ENCODINGS: list[positions.Encoding] = ["utf-8", "utf-16", "utf-32"]
# every LSP line end, lone halves of \r\n, characters str.splitlines breaks on but LSP does not,
# and characters that are 2 (é), 3 (中) and 4 (🎉, two UTF-16 units) UTF-8 bytes
PIECES = ["a", "bc", " ", "\n", "\r", "\r\n", "é", "中", "🎉", "\x0c", "\u2028", "\x85"]
_text = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
# what both LSP and str.splitlines call line ends: pygls's own document can be the reference
_plain = st.lists(st.sampled_from(["a", "bc", " ", "\n", "\r", "\r\n", "é", "🎉"]), max_size=30).map("".join)


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 2 lines: every edit crosses, splits and merges blocks."""
    monkeypatch.setattr(positions, "_BLOCK", 2)


def check(text: Text, ref: str) -> None:
    """Everything a Text answers, against the whole string."""
    assert str(text) == ref and len(text) == len(ref)
    starts = line_starts(ref)
    assert text.line_count == len(starts)
    assert [text.line_start(i) for i in range(len(starts))] == starts
    for off in range(len(ref) + 1):
        for enc in ENCODINGS:
            assert text.pos(off, enc) == to_pos(ref, off, enc)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_edits_match_whole_string_edits(data: st.DataObject) -> None:
    ref = data.draw(_text)
    text = Text(ref)
    copies: list[tuple[Text, str]] = []
    for _ in range(data.draw(st.integers(1, 12))):
        a = data.draw(st.integers(0, len(ref)))
        b = data.draw(st.integers(a, len(ref)))
        new = data.draw(_text)
        if data.draw(st.booleans()):
            copies.append((text.clone(), ref))  # copy-on-write: neither side sees the other's edits
        lines_before = len(line_starts(ref))
        end_line = to_pos(ref, b).line
        change = text.replace(a, b, new)
        ref = ref[:a] + new + ref[b:]
        assert (change.start, change.end, change.length) == (a, b, len(new))
        assert change.end_line == end_line
        assert change.lines == len(line_starts(ref)) - lines_before
        x = data.draw(st.integers(0, len(ref)))
        y = data.draw(st.integers(0, len(ref)))
        assert text.slice(x, y) == ref[x:y]
        if data.draw(st.booleans()):
            str(text)  # joined and cached: the next edit must drop the cache
    check(text, ref)
    for copy, was in copies:
        check(copy, was)
        copy.replace(0, 0, "x\r")
        assert str(copy) == "x\r" + was and str(text) == ref


@settings(max_examples=200, deadline=None)
@given(_text, st.lists(st.tuples(st.integers(-2, 40), st.integers(-2, 12)), max_size=12))
def test_positions_match_to_offset_even_out_of_range(ref: str, points: list[tuple[int, int]]) -> None:
    text = Text(ref)
    for line, character in points:
        for enc in ENCODINGS:
            assert text.offset(Pos(line, character), enc) == to_offset(ref, Pos(line, character), enc)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_span_follows_like_offsets_on_the_whole_string(data: st.DataObject) -> None:
    """Its range is always what `lsp_range` says of its shifted offsets in the new text."""
    ref = data.draw(_text)
    text = Text(ref)
    start = data.draw(st.integers(0, len(ref)))
    end = data.draw(st.integers(start, len(ref)))
    enc = data.draw(st.sampled_from(ENCODINGS))
    span = Span(text, start, end, enc)
    for _ in range(data.draw(st.integers(1, 4))):  # one didChange event
        changes = []
        for _ in range(data.draw(st.integers(1, 3))):  # of one or more changes
            a = data.draw(st.integers(0, len(ref)))
            b = data.draw(st.integers(a, len(ref)))
            new = data.draw(_text)
            changes.append(text.replace(a, b, new))
            ref = ref[:a] + new + ref[b:]
            start, end = shift_span(start, end, a, b, len(new))
        span.follow(text, changes)
        assert (span.start, span.end) == (start, end)
        assert span.range == lsp_range(ref, start, end, enc)


def test_shift_span() -> None:
    assert shift_span(10, 20, 5, 10, 3) == (8, 18)  # before (ending at its start)
    assert shift_span(10, 20, 10, 10, 2) == (12, 22)  # typed right at its start: moves
    assert shift_span(10, 20, 20, 20, 2) == (10, 20)  # typed right at its end: stays
    assert shift_span(10, 20, 12, 14, 5) == (10, 23)  # inside
    assert shift_span(10, 20, 5, 15, 1) == (5, 11)  # over its start
    assert shift_span(10, 20, 15, 25, 0) == (10, 15)  # over its end
    assert shift_span(10, 20, 5, 25, 0) == (5, 5)  # all of it


def test_line_ends_join_and_split_across_edits() -> None:
    text = Text("a\rb\n")
    text.replace(2, 3, "\n")  # a lone \r and a \n typed after it: one line end
    assert str(text) == "a\r\n\n" and text.line_count == 3
    text.replace(2, 2, "x")  # and split again
    assert str(text) == "a\rx\n\n" and text.line_count == 4
    text.replace(2, 3, "")
    assert text.line_count == 3
    assert text.pos(2) == Pos(0, 2)  # between \r and \n: still on the first line, as to_pos says


# -- pygls's document ------------------------------------------------------------------------------


def workspace(encoding: str) -> Workspace:
    ws = Workspace(None, position_encoding=encoding)
    install(ws)
    return ws


def open_doc(ws: Workspace, text: str, uri: str = "file:///tmp/a%20b.py") -> None:
    ws.put_text_document(types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))


def change(a: Pos, b: Pos, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=a.line, character=a.character),
            end=types.Position(line=b.line, character=b.character),
        ),
        text=text,
    )


def test_install_makes_the_workspace_hold_documents() -> None:
    ws = Workspace(None)
    open_doc(ws, "before\n", "file:///tmp/early.py")
    install(ws)
    assert isinstance(ws, DocumentWorkspace)
    early = ws.get_text_document("file:///tmp/early.py")
    assert isinstance(early, Document) and early.source == "before\n" and early.version == 1
    open_doc(ws, "x = 1\n")
    doc = ws.get_text_document("file:///tmp/a%20b.py")
    assert isinstance(doc, Document) and doc.language_id == "python"
    assert doc.lines == ("x = 1\n",)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_edits_match_pygls_own_document(data: st.DataObject) -> None:
    """Where LSP and str.splitlines agree on line ends, pygls's TextDocument is the reference."""
    enc = data.draw(st.sampled_from(ENCODINGS))
    ref = data.draw(_plain)
    ws = workspace(enc)
    open_doc(ws, ref)
    theirs = TextDocument("file:///tmp/a%20b.py", ref, position_codec=ws.position_codec)
    ident = types.VersionedTextDocumentIdentifier(uri="file:///tmp/a%20b.py", version=1)
    for v in range(2, data.draw(st.integers(2, 10))):
        cur = theirs.source
        a = data.draw(st.integers(0, len(cur)))
        b = data.draw(st.integers(a, len(cur)))
        if cur[a - 1 : a + 1] == "\r\n" or cur[b - 1 : b + 1] == "\r\n":
            continue  # between \r and \n is not a position
        c = change(to_pos(cur, a, enc), to_pos(cur, b, enc), data.draw(_plain))
        ident = types.VersionedTextDocumentIdentifier(uri=ident.uri, version=v)
        ws.update_text_document(ident, c)
        theirs.apply_change(c)
    doc = ws.get_text_document(ident.uri)
    assert doc.source == theirs.source and doc.lines == theirs.lines
    assert doc.version == ident.version


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_edits_in_lsp_line_semantics(data: st.DataObject) -> None:
    """Any text (\\f, U+2028 are not line ends for LSP), any position, out of range included."""
    enc = data.draw(st.sampled_from(ENCODINGS))
    ref = data.draw(_text)
    ws = workspace(enc)
    open_doc(ws, ref)
    for v in range(2, data.draw(st.integers(3, 8))):
        ident = types.VersionedTextDocumentIdentifier(uri="file:///tmp/a b.py", version=v)
        p1, p2 = (Pos(data.draw(st.integers(0, 12)), data.draw(st.integers(0, 8))) for _ in range(2))
        new = data.draw(_text)
        ws.update_text_document(ident, change(p1, p2, new))
        a, b = sorted(to_offset(ref, p, enc) for p in (p1, p2))
        ref = ref[:a] + new + ref[b:]
    doc = ws.get_text_document("file:///tmp/a%20b.py")
    assert doc.source == ref


def test_a_change_touches_only_its_lines_and_is_recorded_per_event() -> None:
    ws = workspace("utf-16")
    text = "".join(f"line {i}\n" for i in range(50))
    open_doc(ws, text)
    doc = ws.get_text_document("file:///tmp/a%20b.py")
    assert isinstance(doc, Document)
    before = [tuple(b) for b in doc.text._blocks]
    params = types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri="file:///tmp/a%20b.py", version=2),
        content_changes=[change(Pos(10, 0), Pos(10, 0), "# "), change(Pos(20, 4), Pos(21, 0), "\r\n")],
    )
    for c in params.content_changes:
        ws.update_text_document(params.text_document, c)
    assert doc.text._joined is None  # nothing joined the whole text
    after = [tuple(b) for b in doc.text._blocks]
    assert len(after) == len(before) and sum(x != y for x, y in zip(before, after, strict=True)) == 2
    found = changes_for(ws, params)
    assert found is not None and found[0] is doc
    offset = text.index("line 20") + 4
    assert [(c.start, c.end, c.length, c.lines) for c in found[1]] == [
        (text.index("line 10"), text.index("line 10"), 2, 0),
        (offset + 2, offset + 2 + len(" 20\n"), 2, 0),
    ]
    assert doc.source == text.replace("line 10", "# line 10").replace("line 20\n", "line\r\n")
    same_version = types.VersionedTextDocumentIdentifier(uri="file:///tmp/a%20b.py", version=2)
    other = types.DidChangeTextDocumentParams(text_document=same_version, content_changes=[])
    assert changes_for(ws, other) is None  # not the event whose changes the document holds


def test_a_full_change_is_recorded_as_its_diff() -> None:
    ws = workspace("utf-16")
    open_doc(ws, "a\nb\nc\n")
    ident = types.VersionedTextDocumentIdentifier(uri="file:///tmp/a%20b.py", version=2)
    params = types.DidChangeTextDocumentParams(
        text_document=ident,
        content_changes=[types.TextDocumentContentChangeWholeDocument(text="a\nB\nB\nc\n")],
    )
    ws.update_text_document(ident, params.content_changes[0])
    found = changes_for(ws, params)
    assert found is not None
    (c,) = found[1]
    assert (c.start, c.end, c.length, c.end_line, c.lines) == (2, 3, 3, 1, 1)
    assert found[0].source == "a\nB\nB\nc\n"


def test_a_closed_document_reads_from_disk(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "f.py"
    path.write_text("on disk\n")
    ws = workspace("utf-16")
    doc = ws.get_text_document(path.as_uri())
    assert isinstance(doc, Document) and doc.source == "on disk\n"
