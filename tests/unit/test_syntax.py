"""Enclosing scopes, imports and definitions: tree-sitter per language, heuristics otherwise."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from deepseek_lsp import syntax
from deepseek_lsp.syntax import (
    definition,
    definition_index,
    definition_start,
    enclosing_scope,
    has_grammar,
    imports,
    language_of,
)

PYTHON = '''import os
from typing import Any


class Store:
    """Keeps things."""

    @property
    def size(self) -> int:
        total = 0
        for item in self.items:
            total += item
        return total

    def clear(self) -> None:
        self.items = []


def main() -> None:
    print(Store().size)
'''


def scope_of(text: str, needle: str, lang: str) -> syntax.Span | None:
    start = text.index(needle)
    return enclosing_scope(text, start, start + len(needle), lang)


def test_language_of() -> None:
    assert language_of("python") == "python"
    assert language_of("typescriptreact") == "tsx"
    assert language_of("javascriptreact") == "javascript"
    assert language_of("", "/p/a.rs") == "rust"
    assert language_of("plaintext", "/p/a.go") == "go"
    assert language_of("ruby", "/p/a.rb") == "ruby"


@pytest.mark.parametrize("lang", ["python", "javascript", "typescript", "tsx", "go", "rust", "lua"])
def test_grammar_wheels_load_offline(lang: str) -> None:
    assert has_grammar(lang)


def test_python_method_with_decorator_and_qualified_name() -> None:
    scope = scope_of(PYTHON, "total += item", "python")
    assert scope is not None
    assert (scope.kind, scope.name) == ("function", "Store.size")
    assert PYTHON[scope.start : scope.end].startswith("    @property\n    def size")
    assert PYTHON[scope.start : scope.end].endswith("return total\n")
    assert (scope.start_line, scope.end_line) == (7, 12)


def test_selecting_a_whole_function_gives_its_class() -> None:
    body = "    def clear(self) -> None:\n        self.items = []\n"
    scope = scope_of(PYTHON, body, "python")
    assert scope is not None
    assert (scope.kind, scope.name) == ("class", "Store")


def test_top_level_selection_has_no_scope() -> None:
    assert scope_of(PYTHON, "import os", "python") is None


def test_python_imports() -> None:
    assert [PYTHON[s.start : s.end] for s in imports(PYTHON, "python")] == [
        "import os\n",
        "from typing import Any\n",
    ]


CASES = {
    "javascript": (
        "import x from 'y';\nconst z = require('z');\n\nconst g = (a) => {\n  return a * 2;\n};\n\n"
        "class C {\n  m() {\n    return 1;\n  }\n}\n",
        [("return a * 2;", "g"), ("return 1;", "C.m")],
        ["import x from 'y';\n", "const z = require('z');\n"],
    ),
    "typescript": (
        "import { x } from 'y';\n\nexport function f(a: number): number {\n  return a + 1;\n}\n",
        [("return a + 1;", "f")],
        ["import { x } from 'y';\n"],
    ),
    "tsx": (
        "import React from 'react';\n\nexport function App(): JSX.Element {\n  return <div>hi</div>;\n}\n",
        [("<div>hi</div>", "App")],
        ["import React from 'react';\n"],
    ),
    "go": (
        'package main\n\nimport (\n\t"fmt"\n)\n\nfunc (r *T) Run() int {\n\tfmt.Println(1)\n\treturn 2\n}\n',
        [("fmt.Println(1)", "Run")],
        ["package main\n", 'import (\n\t"fmt"\n)\n'],
    ),
    "rust": (
        "use std::io;\n\nimpl Server {\n    fn handle(&self) -> i32 {\n        42\n    }\n}\n",
        [("42", "Server.handle")],
        ["use std::io;\n"],
    ),
    "lua": (
        "local json = require('json')\n\nfunction M.encode(value)\n  return json.encode(value)\nend\n",
        [("return json.encode(value)", "M.encode")],
        ["local json = require('json')\n"],
    ),
}


@pytest.mark.parametrize("lang", sorted(CASES))
def test_scopes_and_imports_per_language(lang: str) -> None:
    text, scopes, expected_imports = CASES[lang]
    for needle, name in scopes:
        scope = scope_of(text, needle, lang)
        assert scope is not None, needle
        assert scope.name == name
        assert needle in text[scope.start : scope.end]
    assert [text[s.start : s.end] for s in imports(text, lang)] == expected_imports


RUBY = """require 'json'
require_relative 'store'

class Cart
  def total(items)
    sum = 0
    items.each { |i| sum += i.price }
    sum
  end
end
"""


def test_unknown_language_falls_back_to_indentation() -> None:
    assert not has_grammar("ruby")
    scope = scope_of(RUBY, "sum = 0", "ruby")
    assert scope is not None
    assert (
        RUBY[scope.start : scope.end]
        == "  def total(items)\n    sum = 0\n    items.each { |i| sum += i.price }\n    sum\n  end\n"
    )
    assert [RUBY[s.start : s.end] for s in imports(RUBY, "ruby")] == [
        "require 'json'\n",
        "require_relative 'store'\n",
    ]


def test_missing_grammar_falls_back_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syntax, "_language", lambda lang: None)
    scope = scope_of(PYTHON, "total += item", "python")
    assert scope is not None
    assert PYTHON[scope.start : scope.end].startswith("    def size")
    assert [PYTHON[s.start : s.end] for s in imports(PYTHON, "python")] == [
        "import os\n",
        "from typing import Any\n",
    ]


def test_line_window() -> None:
    text = "".join(f"line {i}\n" for i in range(100))
    start = text.index("line 50")
    win = syntax.line_window(text, start, start + 7, 3, 2)
    assert (win.start_line, win.end_line) == (47, 52)
    assert text[win.start : win.end] == "".join(f"line {i}\n" for i in range(47, 53))


def big_python(functions: int) -> str:
    parts = ["import os\nimport sys\n\n"]
    for i in range(functions):
        parts.append(
            f"\ndef func_{i}(x):\n    y = x + {i}\n    if y:\n        return y * 2\n    return 0\n\n"
        )
    return "".join(parts)


def test_large_file_parses_a_window_and_still_finds_the_scope() -> None:
    text = big_python(3500)  # ~24,000 lines
    assert text.count("\n") > 20_000
    scope = scope_of(text, "    y = x + 2000\n", "python")
    assert scope is not None and scope.name == "func_2000"
    assert text[scope.start : scope.end].startswith("def func_2000(x):")
    assert [text[s.start : s.end] for s in imports(text, "python")] == ["import os\n", "import sys\n"]


def test_definitions_by_name() -> None:
    text = "# def fake(): a comment\nLIMIT = 10\n\n@cache\ndef helper(x):\n    return x\n\nclass Box:\n    pass\n"
    index = definition_index(text, "python")
    heads = {name: [definition_start(text, o) for o in offsets] for name, offsets in index.items()}
    assert heads["fake"] == [None]  # in a comment
    assert heads["LIMIT"] == [text.index("LIMIT")]
    span, cut = definition(text, definition_start(text, index["helper"][0]) or 0)
    assert text[span.start : span.end] == "@cache\ndef helper(x):\n    return x\n"
    assert cut == 0


def test_long_definitions_are_cut() -> None:
    text = "def long():\n" + "".join(f"    x{i} = {i}\n" for i in range(200))
    span, cut = definition(text, 0, max_lines=10)
    assert span.end_line - span.start_line + 1 == 10
    assert cut == 191


def test_thread_safe() -> None:
    text = big_python(300)
    needles = [f"    y = x + {i}\n" for i in range(0, 300, 7)]

    def name(needle: str) -> str | None:
        scope = scope_of(text, needle, "python")
        return scope.name if scope else None

    expected = [name(n) for n in needles]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(name, needles * 3)) == expected * 3
