"""The quality rules of inline completion, each on scripted answers.

Documents mark the cursor with ‸. Python, JavaScript, Go, Rust and Lua are parsed with
tree-sitter; C, Nim and "someday" (an unknown language) have no grammar and use the fallbacks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deepseek_lsp import syntax
from deepseek_lsp.completion import quality
from deepseek_lsp.completion.quality import (
    CursorContext,
    analyze,
    clean,
    decide_mode,
    literal_at,
    stop_sequences,
)

SERVER = Path(__file__).resolve().parents[2] / "server/deepseek_lsp"

CARET = "‸"


def at(doc: str) -> tuple[str, int]:
    offset = doc.index(CARET)
    return doc.replace(CARET, "", 1), offset


def context(doc: str, lang: str, explicit: bool = False) -> CursorContext:
    text, offset = at(doc)
    return analyze(text, offset, lang, explicit=explicit)


def complete(doc: str, answer: str | None, lang: str, explicit: bool = False) -> str | None:
    """The answer cleaned for the cursor at ‸ in `doc`."""
    return clean(answer, context(doc, lang, explicit))


def mode(doc: str, lang: str, explicit: bool = False) -> str | None:
    text, offset = at(doc)
    return decide_mode(text, offset, lang, explicit=explicit)


def test_the_grammars_used_here_are_installed() -> None:
    for lang in ("python", "javascript", "go", "rust", "lua"):
        assert syntax.has_grammar(lang), lang
    for lang in ("c", "nim", "someday"):
        assert not syntax.has_grammar(lang), lang


# ---------------------------------------------------------------- the mode at the cursor


@pytest.mark.parametrize(
    ("doc", "lang", "want"),
    [
        ("def f(x):\n    ‸\n", "python", "block"),  # a statement position
        ("def f(x):‸\n", "python", "block"),  # after a block opener
        ("def f(\n    x,\n):‸\n", "python", "block"),  # the end of a multi-line signature
        ("d = {1:‸\n", "python", "line"),  # a colon that opens no block
        ("x = ‸\n", "python", "line"),
        ("x = foo(‸)\n", "python", "line"),  # the parenthesis is closed on the line
        ("x = foo(‸\n", "python", "block"),  # not closed: the arguments may span lines
        ("if ok:\n    return f(a, ‸b)\n", "python", "line"),  # code follows the cursor
        ("x = 1  # the ‸\n", "python", None),  # in a comment
        ("x = 1  # the end‸\n", "python", None),  # at the end of a line comment
        ('x = "ab‸c"\n', "python", None),  # in a string
        ('x = "abc"‸\n', "python", "line"),  # just after it
        ('def f():\n    """Say\n    ‸\n    """\n', "python", None),  # in a docstring
        ('x = f"{ab‸}"\n', "python", "line"),  # code inside an f-string
        ('x = "ab‸\n', "python", None),  # an unterminated string (a parse error)
        ("function f() {‸}\n", "javascript", "block"),
        ("const s = `a ${b‸} c`;\n", "javascript", "line"),  # a template substitution
        ("const s = `a ‸ c`;\n", "javascript", None),
        ("/* a ‸ */ x\n", "javascript", None),
        ("/* a */‸\n", "javascript", "line"),
        ("func f() {\n\ts := `raw ‸`\n}\n", "go", None),
        ("fn f<'a>(x: &'a str) {\n    ‸\n}\n", "rust", "block"),  # a lifetime is no string
        ("local s = 1 -- note ‸\n", "lua", None),
        ("if ok then‸\n", "lua", "block"),
        ("int x = 1; // note ‸\n", "c", None),  # no grammar: the line is scanned
        ("/* long\n   note ‸\n", "c", None),  # an unclosed block comment above
        ('char *s = "ab‸\n', "c", None),
        ("int f() {‸\n", "c", "block"),
        ("it's a ‸\n", "plaintext", "line"),  # an apostrophe is no quote in prose
        ("proc f() =\n  ‸\n", "nim", "block"),
    ],
)
def test_mode(doc: str, lang: str, want: str | None) -> None:
    assert mode(doc, lang) == want


def test_asking_explicitly_allows_a_line_in_a_comment_or_string() -> None:
    assert mode("x = 1  # the ‸\n", "python", explicit=True) == "line"
    assert mode('x = "ab‸c"\n', "python", explicit=True) == "line"


def test_nothing_is_suggested_in_a_comment_unless_asked() -> None:
    assert complete("x = 1  # compute the ‸\n", "area of a circle", "python") is None
    got = complete("x = 1  # compute the ‸\n", "area of a circle\nx = 2", "python", explicit=True)
    assert got == "area of a circle"


def test_a_string_asked_explicitly_does_not_repeat_its_closing_quote() -> None:
    assert complete('print("hel‸")\n', 'lo, world")', "python", explicit=True) == "lo, world"


# ---------------------------------------------------------------- empty answers


@pytest.mark.parametrize("answer", [None, "", "   ", "\n\n", " \r\n\t"])
def test_an_empty_answer_is_no_suggestion(answer: str | None) -> None:
    assert complete("def f(x):\n    ‸\n", answer, "python") is None
    assert complete("x = ‸\n", answer, "javascript") is None


def test_an_answer_that_only_repeats_the_suffix_is_no_suggestion() -> None:
    assert complete("x = foo(‸)\n", ")", "python") is None
    assert complete("def f(x):\n    ‸\n    return x * 2\n", "return x * 2\n", "python") is None


def test_a_line_answer_that_starts_on_the_next_line_is_no_suggestion() -> None:
    assert complete("x = ‸\n", "\ny = 2", "python") is None


def test_a_masked_secret_is_never_shown() -> None:
    assert complete("KEY = ‸\n", '"<masked:sk>"', "python") is None


# ---------------------------------------------------------------- single line


def test_line_mode_keeps_the_first_line() -> None:
    assert complete("total = ‸\n", "price * count\nprint(total)\n", "python") == "price * count"
    assert complete("let total = ‸;\n", "price * count;\nfoo();", "javascript") == "price * count"


def test_line_mode_keeps_trailing_space_before_code() -> None:
    assert complete("x = ‸b\n", "a + ", "python") == "a + "


# ---------------------------------------------------------------- never repeat the suffix


@pytest.mark.parametrize(
    ("doc", "answer", "want", "lang"),
    [
        ("x = foo(‸)\n", "a, b)", "a, b", "python"),  # the closing parenthesis again
        ("x = foo(‸)\n", "bar(1)", "bar(1)", "python"),  # balanced: its own parenthesis
        ("x = foo(a‸, b)\n", "rg, b)", "rg", "python"),  # the rest of the line again
        ("    return ‸value\n", "self.value", "self.", "python"),
        ("    return ‸x)\n", "foo(x)", "foo(x)", "python"),  # would unbalance: kept
        ("const v = [‸];\n", "1, 2];", "1, 2", "javascript"),
        ("fmt.Println(‸)\n", '"hi")', '"hi"', "go"),
        ("let s = String::from(‸);\n", '"x");', '"x"', "rust"),
    ],
)
def test_the_rest_of_the_line_is_not_repeated(doc: str, answer: str, want: str, lang: str) -> None:
    assert complete(doc, answer, lang) == want


def test_the_next_lines_are_not_repeated() -> None:
    doc = "def f(x):\n    ‸\n    return y\n"
    assert complete(doc, "y = x * 2\n    return y\n", "python") == "y = x * 2"
    assert complete(doc, "y = x * 2\n    retu", "python") == "y = x * 2\n    retu"  # too short to tell
    # cut short by max_tokens: the last line is the start of the next one
    doc = "def f(x):\n    ‸\n    y = x * 2\n    return y\n"
    assert complete(doc, "x = abs(x)\n    y = x * 2\n    ret", "python") == "x = abs(x)"


def test_copying_the_next_line_and_going_on_stops_before_the_copy() -> None:
    doc = "def f(x):\n    ‸\n    total = compute(x)\n    return total\n"
    answer = "x = clean(x)\n    total = compute(x)\n    log(total)\n"
    assert complete(doc, answer, "python") == "x = clean(x)"


def test_blank_lines_between_do_not_hide_a_repeat() -> None:
    doc = "def f(x):\n    ‸\n\n    return result\n"
    assert complete(doc, "result = x + 1\n\n    return result", "python") == "result = x + 1"


# ---------------------------------------------------------------- stop at the end of the block


def test_python_stops_at_a_dedent_below_the_block() -> None:
    doc = "class A:\n    def f(self):\n        ‸\n"
    answer = "return 1\n\n    def g(self):\n        return 2\n"
    assert complete(doc, answer, "python") == "return 1"


def test_python_after_an_opener_keeps_the_body_only() -> None:
    doc = "def area(r):‸\n"
    answer = "\n    return 3.14 * r * r\n\n\ndef volume(r):\n    return 4\n"
    assert complete(doc, answer, "python") == "\n    return 3.14 * r * r"


def test_python_keeps_deeper_lines_of_the_block() -> None:
    doc = "def f(items):\n    ‸\n"
    answer = "for item in items:\n        if item:\n            yield item\n    return\n"
    assert complete(doc, answer, "python") == answer.rstrip()


def test_python_top_level_stops_after_one_definition() -> None:
    doc = "import math\n\n‸\n"
    answer = "def area(r):\n    return math.pi * r * r\n\n\ndef volume(r):\n    return 1\n"
    assert complete(doc, answer, "python") == "def area(r):\n    return math.pi * r * r"


def test_javascript_stops_before_a_brace_the_document_has() -> None:
    doc = "function f(x) {\n  ‸\n}\n\nf(1);\n"
    answer = "return x * 2;\n}\n\nfunction g() {\n  return 0;\n}\n"
    assert complete(doc, answer, "javascript") == "return x * 2;"


def test_javascript_keeps_the_closing_brace_the_document_lacks() -> None:
    doc = "function f(x) {‸\n"
    answer = "\n  return x * 2;\n}\n\nfunction g() {}\n"
    assert complete(doc, answer, "javascript") == "\n  return x * 2;\n}"


def test_javascript_between_braces_keeps_the_line_break_before_the_brace() -> None:
    doc = "function f(x) {‸}\n"
    assert complete(doc, "\n  return x * 2;\n}", "javascript") == "\n  return x * 2;\n"


def test_javascript_ignores_brackets_in_strings_and_comments() -> None:
    doc = "function f(x) {\n  ‸\n}\n"
    answer = 'const s = "}"; // }\n  return s;\n}\n'
    assert complete(doc, answer, "javascript") == 'const s = "}"; // }\n  return s;'


def test_go_stops_at_the_end_of_the_function() -> None:
    doc = "func f(x int) int {\n\t‸\n}\n"
    answer = "y := x * 2\n\treturn y\n}\n\nfunc g() {}\n"
    assert complete(doc, answer, "go") == "y := x * 2\n\treturn y"


def test_rust_stops_at_the_end_of_the_function() -> None:
    doc = "fn f(x: i32) -> i32 {\n    ‸\n}\n"
    answer = "let y = x * 2;\n    y\n}\n\nfn g() {}\n"
    assert complete(doc, answer, "rust") == "let y = x * 2;\n    y"


def test_lua_keeps_end_only_when_the_document_lacks_it() -> None:
    answer = "return 1\nend\n\nlocal x = 2\n"
    assert complete("local function f()\n  ‸\n", answer, "lua") == "return 1\nend"
    assert complete("local function f()\n  ‸\nend\n", answer, "lua") == "return 1"


def test_c_without_a_grammar_balances_braces() -> None:
    doc = "int main(void) {\n    ‸\n}\n"
    answer = 'puts("}");\n    return 0;\n}\n\nint other(void) {\n}\n'
    assert complete(doc, answer, "c") == 'puts("}");\n    return 0;'


def test_unknown_language_stops_at_a_dedent() -> None:
    doc = "task build:\n    ‸\n"
    answer = "run make\n    run test\nother thing\n"
    assert complete(doc, answer, "someday") == "run make\n    run test"


def test_nim_without_a_grammar_stops_at_a_dedent() -> None:
    doc = "proc f(x: int): int =\n  ‸\n"
    answer = "result = x * 2\n\nproc g() =\n  discard\n"
    assert complete(doc, answer, "nim") == "result = x * 2"


def test_a_block_is_cut_to_max_lines() -> None:
    text, offset = at("def f():\n    ‸\n")
    ctx = analyze(text, offset, "python", max_lines=3)
    answer = "\n".join(f"    x{i} = {i}" for i in range(10)).lstrip()
    assert clean(answer, ctx) == "x0 = 0\n    x1 = 1\n    x2 = 2"


# ---------------------------------------------------------------- the document's layout


def test_crlf_documents_get_crlf() -> None:
    doc = "def f(x):\r\n    ‸\r\n    return y\r\n"
    answer = "y = x * 2\n    if y:\n        y += 1\n    return y\n"
    assert complete(doc, answer, "python") == "y = x * 2\r\n    if y:\r\n        y += 1"


def test_crlf_answers_are_cut_like_lf_ones() -> None:
    doc = "function f() {\r\n  ‸\r\n}\r\n"
    answer = "a();\r\n  b();\r\n}\r\n\r\nfunction g() {}\r\n"
    assert complete(doc, answer, "javascript") == "a();\r\n  b();"
    assert complete("x = ‸\r\n", "1\r\ny = 2\r\n", "python") == "1"


def test_tabs_documents_get_tabs() -> None:
    doc = "func f() {\n\tif ok {\n\t\t‸\n\t}\n}\n"
    answer = "x := 1\n        y := 2\n\t}\n"
    assert complete(doc, answer, "go") == "x := 1\n\t\ty := 2"


def test_python_with_tabs() -> None:
    doc = "def f(x):\n\t‸\n"
    answer = "if x:\n        return 1\n    return 2\n\ndef g():\n    pass\n"
    assert complete(doc, answer, "python") == "if x:\n\t\treturn 1\n\treturn 2"


def test_spaces_documents_get_spaces() -> None:
    doc = "def f(x):\n  if x:\n    ‸\n"
    assert complete(doc, "a = 1\n\tb = 2\n", "python") == "a = 1\n  b = 2"


# ---------------------------------------------------------------- stop sequences


def test_stop_sequences() -> None:
    assert stop_sequences(context("x = ‸\n", "python")) == ["\n"]
    inside = stop_sequences(context("def f():\n    ‸\n", "python"))
    assert inside[0] == "\n\n\n" and "\ndef " in inside and "\nclass " in inside
    top = stop_sequences(context("import os\n\n‸\n", "python"))
    assert top == ["\n\n\n"]  # a whole definition may be wanted at the top level
    crlf = stop_sequences(context("function f() {\r\n  ‸\r\n}\r\n", "javascript"))
    assert crlf[0] == "\r\n\r\n\r\n" and "\r\nfunction " in crlf
    assert all(len(stop_sequences(context(d, "rust"))) <= 16 for d in ("fn f() {\n    ‸\n}\n",))


# ---------------------------------------------------------------- the bounded parse window


def full_parse_verdict(text: str, offset: int, lang: str) -> str | None:
    """What a parse of the whole file says (the bounded window must agree)."""
    return quality._literal_by_tree(text, offset, lang, 0, len(text))


@pytest.mark.parametrize("module", ["context.py", "syntax.py", "completion/quality.py"])
def test_the_window_agrees_with_a_parse_of_the_whole_file(module: str) -> None:
    text = (SERVER / module).read_text(encoding="utf-8")
    offsets = [o for o in range(1, len(text), len(text) // 80) if text[o - 1] != "\n"]
    disagree = [o for o in offsets if literal_at(text, o, "python") != full_parse_verdict(text, o, "python")]
    assert disagree == []


def test_a_def_inside_a_docstring_is_no_place_to_start() -> None:
    example = '        """Use it like this::\n\n            def handler(x):\n                return x\n\n'
    methods = "".join(
        f'    def m{i}(self):\n{example}        and so on.\n        """\n        return {i}\n\n'
        for i in range(60)
    )
    text = "class Big:\n" + methods
    inside = text.index("and so on", len(text) // 2) + 3
    code = text.index("return 30") + 3
    assert literal_at(text, inside, "python") == "string"
    assert literal_at(text, code, "python") == ""


def test_a_long_block_comment_is_parsed_to_its_end() -> None:
    lines = "".join(f" *   console.log('example {i}');\n" for i in range(80))
    text = "function f() {\n  return 1;\n}\n\n/**\n * Usage:\n" + lines + " */\nfunction g() {}\n"
    cursor = text.index("example 3") + 3
    assert literal_at(text, cursor, "javascript") == "comment"
    assert literal_at(text, text.index("function g") + 3, "javascript") == ""


def test_a_closer_of_another_kind_in_the_document_does_not_count() -> None:
    # the document closes `foo(` but not `a[`: the answer's `]` is kept, its `)` is not
    assert complete("x = foo(a[‸)\n", "1])", "python") == "1]"
    assert complete("x = foo(a[‸\ny = 2\n", "1])", "python") == "1])"
