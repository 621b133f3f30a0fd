"""Indentation re-basing and line endings, streamed in any chunking."""

from __future__ import annotations

import pytest

from deepseek_lsp.rewrite.indent import (
    Layout,
    Shaper,
    detect_eol,
    insert_layout,
    insertion_after_block,
    replace_layout,
    width,
)


def shape(layout: Layout, code: str, step: int) -> str:
    shaper = Shaper(layout)
    parts = [shaper.feed(code[i : i + step]) for i in range(0, len(code), step)]
    parts.append(shaper.finish())
    assert "".join(parts) == shaper.text
    return shaper.text


def apply(doc: str, start: int, end: int, code: str) -> str:
    """The document after the region is replaced with the shaped code; every chunking agrees."""
    layout = replace_layout(doc, start, end)
    results = {shape(layout, code, n) for n in (1, 2, 3, 7, len(code))}
    assert len(results) == 1, results
    return doc[:start] + results.pop() + doc[end:]


CLASS = "class A:\n    def f(self):\n        x = 1\n        return x\n\n    def g(self):\n        pass\n"
BODY_START = CLASS.index("        x = 1")
BODY_END = CLASS.index("\n\n") + 1
WANT = CLASS.replace(
    "        x = 1\n        return x\n", "        if ok:\n            return 2\n        return 3\n"
)


@pytest.mark.parametrize(
    "reply",
    [
        "if ok:\n    return 2\nreturn 3\n",  # re-indented from zero
        "        if ok:\n            return 2\n        return 3",  # mirrored, no final newline
        "\n\n  if ok:\n      return 2\n  return 3\n\n\n",  # two-space, blank lines around
    ],
)
def test_full_line_selection_keeps_the_level(reply: str) -> None:
    assert apply(CLASS, BODY_START, BODY_END, reply) == WANT


@pytest.mark.parametrize(
    "reply",
    [
        "if ok:\n    return 2\nreturn 3",  # re-indented from zero
        "if ok:\n            return 2\n        return 3",  # mirrors the cut selection
    ],
)
def test_selection_starting_after_the_indentation(reply: str) -> None:
    start = CLASS.index("x = 1")
    end = CLASS.index("return x") + len("return x")
    assert apply(CLASS, start, end, reply) == WANT


def test_crlf_document_stays_crlf() -> None:
    doc = CLASS.replace("\n", "\r\n")
    start = doc.index("        x = 1")
    end = doc.index("\r\n\r\n") + 2
    assert apply(doc, start, end, "if ok:\n    return 2\nreturn 3\n") == WANT.replace("\n", "\r\n")
    assert detect_eol(doc) == "\r\n"


def test_tabs_document_gets_tabs() -> None:
    doc = "func f() {\n\tif x {\n\t\treturn 1\n\t}\n}\n"
    start, end = doc.index("\tif"), doc.index("\t}") + 3
    out = apply(doc, start, end, "if y {\n    return 2\n}\n")
    assert out == "func f() {\n\tif y {\n\t\treturn 2\n\t}\n}\n"


def test_inline_region_mid_line() -> None:
    doc = "total = compute(a, b) + 1\n"
    start, end = doc.index("compute"), doc.index(" + 1")
    assert apply(doc, start, end, "sum((a, b))") == "total = sum((a, b)) + 1\n"
    multi = apply(doc, start, end, "sum(\n    (a, b)\n)")
    assert multi == "total = sum(\n    (a, b)\n) + 1\n"


def test_leading_blank_lines_and_next_line_indentation_are_kept() -> None:
    doc = "a = 1\n\n\nb = 2\n    c = 3\n"
    start, end = doc.index("\n") + 1, doc.index("c = 3")
    assert apply(doc, start, end, "b = 20\n") == "a = 1\n\n\nb = 20\n    c = 3\n"


def test_blank_lines_inside_the_code_are_kept_without_indentation() -> None:
    doc = "x = 1\n"
    assert (
        apply(doc, 0, 6, "def f():\n    a = 1\n    \n    return a\n")
        == "def f():\n    a = 1\n\n    return a\n"
    )


def test_nothing_is_emitted_for_empty_code() -> None:
    shaper = Shaper(replace_layout("x = 1\n", 0, 6))
    assert shaper.feed("\n  \n") == "" and shaper.finish() == "" and shaper.empty


def test_output_grows_monotonically_and_indentation_waits_for_content() -> None:
    shaper = Shaper(replace_layout(CLASS, BODY_START, BODY_END))
    assert shaper.feed("if ok:\n") == "        if ok:"
    assert shaper.feed("    ") == ""
    assert shaper.feed("ret") == "\n            ret"


def test_width_counts_tab_stops() -> None:
    assert width("\t") == 4 and width("  \t") == 4 and width("\t  ") == 6


def test_tests_go_after_the_enclosing_top_level_block() -> None:
    doc = "class A:\n    def f(self):\n        return 1\n\n    def g(self):\n        pass\n\n\nx = A()\n"
    sel_end = doc.index("        return 1") + len("        return 1\n")
    at = insertion_after_block(doc, sel_end)
    assert doc[:at].endswith("        pass") and doc[at:] == "\n\n\nx = A()\n"
    braces = "function f() {\n  return 1;\n}\n\nf();\n"
    at = insertion_after_block(braces, braces.index("return"))
    assert braces[:at].endswith("}") and braces[at:] == "\n\nf();\n"
    tail = "def f():\n    return 1\n"
    assert insertion_after_block(tail, 5) == len(tail) - 1


def test_inserted_code_is_separated_by_a_blank_line() -> None:
    doc = "def f():\n    return 1\n"
    at = insertion_after_block(doc, 3)
    layout = insert_layout(doc, at)
    out = shape(layout, "def test_f():\n    assert f() == 1\n", 4)
    assert doc[:at] + out + doc[at:] == "def f():\n    return 1\n\ndef test_f():\n    assert f() == 1\n"


def test_a_whitespace_only_line_gives_its_indentation_to_the_code() -> None:
    doc = "class A:\n    x = 1\n    \n    y = 2\n"
    start = doc.index("    \n")
    out = apply(doc, start, start + 4, "def get(self):\n    return self.x\n")
    assert out == "class A:\n    x = 1\n    def get(self):\n        return self.x\n    y = 2\n"
