"""`deepseek-lsp demo` as a new user runs it: the code, then the explanation, then what next;
any text file in its own encoding; one clear line for a file it cannot use."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from deepseek_lsp.demo import MAX_LINES, decode, first_function

from .test_cli import run

LATIN1_SOURCE = "x = 1\n\n# café\ndef café_name(a):\n    return a + 1\n"


async def test_demo_shows_the_code_then_the_explanation_then_next_steps() -> None:
    code, out, err = await run("demo")
    assert code == 0 and err == "", err
    code_at = out.index(" 4 | def dijkstra(graph, source):")
    assert "17 |     return dist" in out
    explanation_at = out.index("shortest distance")
    key_at = out.index("export DEEPSEEK_API_KEY=sk-...")
    check_at = out.index("deepseek-lsp check")
    editor_at = out.index("Use it from an editor")
    assert code_at < explanation_at < key_at < check_at < editor_at
    for jargon in ("job j", "Hover shows", "jobId"):
        assert jargon not in out


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("latin-1", LATIN1_SOURCE.encode("latin-1")),
        ("utf-16", codecs.BOM_UTF16_LE + LATIN1_SOURCE.encode("utf-16-le")),
    ],
)
async def test_demo_reads_a_file_in_its_own_encoding(tmp_path: Path, encoding: str, data: bytes) -> None:
    path = tmp_path / f"{encoding}.py"
    path.write_bytes(data)
    code, out, err = await run("demo", str(path), env={"PYTHONIOENCODING": "utf-8"})
    assert code == 0 and err == "", err
    assert "function café_name (lines 4-5)" in out
    assert "4 | def café_name(a):" in out and "5 |     return a + 1" in out
    assert "x = 1" not in out  # the first function, not the whole file
    assert "\ufffd" not in out


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("missing.py", None, "missing.py: no such file"),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "is not a text file"),
        ("empty.py", b"  \n", "is empty"),
        ("folder", "dir", "is a folder"),
    ],
)
async def test_demo_says_in_one_line_why_it_cannot_use_a_file(
    tmp_path: Path, name: str, data: bytes | str | None, says: str
) -> None:
    path = tmp_path / name
    if data == "dir":
        path.mkdir()
    elif isinstance(data, bytes):
        path.write_bytes(data)
    code, out, err = await run("demo", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and says in err and "Traceback" not in err, err
    assert err.startswith(f"deepseek-lsp demo: {path}")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"caf\xc3\xa9", "café"),  # UTF-8
        (codecs.BOM_UTF8 + b"caf\xc3\xa9", "café"),
        (codecs.BOM_UTF16_BE + "café".encode("utf-16-be"), "café"),
        (b"caf\xe9", "café"),  # latin-1
        (b"it\x92s", "it\u2019s"),  # cp1252's right quote
        (b"\x81\x8d", "\x81\x8d"),  # undefined in cp1252: latin-1
        (b"\x00\x01\x02binary", None),
        (bytes(range(1, 32)) * 4, None),
    ],
)
def test_decode(data: bytes, expected: str | None) -> None:
    assert decode(data) == expected


def test_first_function_with_and_without_a_parser() -> None:
    js = "const LIMIT = 3;\n\nfunction greet(name) {\n  return `hi ${name}`;\n}\n"
    part = first_function(js, "javascript")
    assert (part.first, part.last, part.what) == (2, 4, "function greet")
    ruby = "require 'set'\n\ndef total(items)\n  items.sum\nend\n\nputs total([1])\n"
    part = first_function(ruby, "ruby")  # no grammar: the indentation's block
    assert (part.first, part.last, part.what) == (2, 4, "function total")
    decorated = "import functools\n\n\n@functools.cache\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
    assert first_function(decorated, "python").first == 3  # the decorator belongs to it
    prose = "".join(f"line {n}\n" for n in range(200))
    part = first_function(prose, "plaintext")
    assert (part.first, part.last) == (0, MAX_LINES - 1) and "no function" in part.what
