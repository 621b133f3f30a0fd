"""SSE parsing, property-based: any split of a byte stream parses to the same events as the whole.

The streams are built from events whose payloads are known, with every line ending SSE allows
(\\n, \\r\\n, \\r), comments, other fields and multi-byte UTF-8, so the whole-stream parse is also
checked against what was encoded. Splits fall anywhere: inside UTF-8 sequences, between \\r
and \\n, into empty chunks.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_lsp.sse import SSEParser

# Payload text: no line breaks (a data line cannot hold one), with multi-byte characters.
_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from('abc {}":,[]\\'),
        st.sampled_from("我é😀\u00a0\u2028"),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    ),
    max_size=20,
)
_EOL = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """(the encoded stream, the data payloads it carries)."""
    out: list[str] = []
    expected: list[str] = []

    def line(text: str) -> None:
        eol = draw(_EOL)
        if text == "" and out and out[-1].endswith("\r") and eol == "\n":
            eol = "\r"  # a blank "\n" line right after a "\r" would be that \r's \n
        out.append(text + eol)

    for _ in range(draw(st.integers(0, 6))):
        for _ in range(draw(st.integers(0, 2))):  # keep-alives, blank lines, ignored fields
            line(draw(st.sampled_from([": keep-alive", "", "event: x", "id: 7", "retry: 5"])))
        values = []
        for text in draw(st.lists(_TEXT, min_size=1, max_size=3)):
            value = draw(st.sampled_from(["", " "])) + text
            line("data:" + value)
            values.append(value[1:] if value.startswith(" ") else value)  # one space is dropped
        line("")  # the blank line that ends the event
        expected.append("\n".join(values))
    return "".join(out).encode(), expected


def parse(chunks: list[bytes]) -> list[str]:
    parser = SSEParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.close()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


@settings(max_examples=400, deadline=None)
@given(streams(), st.lists(st.integers(0, 400), max_size=12))
def test_any_split_parses_like_the_whole(stream: tuple[bytes, list[str]], cuts: list[int]) -> None:
    data, expected = stream
    whole = parse([data])
    assert whole == expected
    assert parse(split(data, cuts)) == whole


@settings(max_examples=200, deadline=None)
@given(streams())
def test_byte_by_byte_parses_like_the_whole(stream: tuple[bytes, list[str]]) -> None:
    data, _ = stream
    assert parse([data[i : i + 1] for i in range(len(data))]) == parse([data])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=6), st.lists(_EOL, min_size=1, max_size=1), st.data())
def test_whole_stream_gives_the_payloads(lines: list[str], eol: list[str], data: st.DataObject) -> None:
    """One data line per event, `data: ` with its space: the payloads come back exactly."""
    stream = "".join(f"data: {line}{eol[0]}{eol[0]}" for line in lines).encode()
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    assert parse(split(stream, cuts)) == lines


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=8))
def test_arbitrary_bytes_split_anywhere(data: bytes, cuts: list[int]) -> None:
    """Even invalid UTF-8 and stray \\r parse the same however they are split."""
    assert parse(split(data, cuts)) == parse([data])
