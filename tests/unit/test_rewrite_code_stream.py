"""Fence and prose stripping while streaming: every split of the reply gives the same code."""

from __future__ import annotations

import pytest

from deepseek_lsp.rewrite.code_stream import CodeStream, looks_like_prose


def run(reply: str, sizes: int | list[int], **kw: bool) -> tuple[str, list[str]]:
    """Feed `reply` in chunks; return the code and what each feed released."""
    stream = CodeStream(**kw)
    released: list[str] = []
    i = 0
    step = iter(sizes if isinstance(sizes, list) else [])
    while i < len(reply):
        n = sizes if isinstance(sizes, int) else next(step, 1)
        released.append(stream.feed(reply[i : i + n]))
        i += n
    released.append(stream.finish())
    assert "".join(released) == stream.code
    return stream.code, released


def all_splits(reply: str, **kw: bool) -> str:
    """The code for chunk sizes 1..7 and the whole; all must agree."""
    results = {run(reply, n, **kw)[0] for n in (1, 2, 3, 5, 7, len(reply) or 1)}
    assert len(results) == 1, results
    return results.pop()


CODE = "def add(a, b):\n    return a + b\n"


@pytest.mark.parametrize(
    "reply",
    [
        CODE,
        "```python\n" + CODE + "```\n",
        "```python\n" + CODE + "```",
        "```\n" + CODE + "```\nThis adds two numbers.\n",
        "Here is the refactored code:\n\n```python\n" + CODE + "```\n\nIt is shorter now.",
        "Sure! Here's the updated function:\n```py\n" + CODE + "```\n",
        "\n\n```python\n" + CODE + "```\n```python\nprint(add(1, 2))\n```\n",
        CODE + "\nThis version is simpler and avoids the temporary variable.\n",
        CODE + "```\n\nExplanation: nothing else changed.",
        "```python\r\ndef add(a, b):\r\n    return a + b\r\n```\r\n",
    ],
)
def test_code_is_extracted_whatever_the_wrapping(reply: str) -> None:
    assert all_splits(reply).rstrip("\n") == CODE.rstrip("\n")


def test_a_fence_split_across_chunks_never_leaks() -> None:
    reply = "```python\n" + CODE + "```\nDone."
    for cut in range(len(reply)):
        code, released = run(reply, [cut, len(reply)] if cut else [len(reply)])
        assert code.rstrip("\n") == CODE.rstrip("\n")
        assert all("`" not in piece for piece in released)


def test_partial_lines_stream_out_before_their_newline() -> None:
    stream = CodeStream()
    assert stream.feed("x = 1\n") == "x = 1\n"
    assert stream.feed("y = comp") == "y = comp"
    assert stream.feed("ute()\n") == "ute()\n"


def test_the_first_line_waits_until_it_is_decided() -> None:
    stream = CodeStream()
    assert stream.feed("Here is the") == ""
    assert stream.feed(" code:\n") == ""
    assert stream.feed("x = 1\n") == "x = 1\n"


def test_a_possible_closing_fence_is_held_then_released_when_it_is_code() -> None:
    stream = CodeStream(fenced=True)
    assert stream.feed("const s = 1;\n") == "const s = 1;\n"
    assert stream.feed("`") == ""
    assert stream.feed("${s}`;\n") == "`${s}`;\n"
    assert stream.feed("``") == ""
    assert stream.feed("`\nAfter the fence.") == ""
    assert stream.finish() == ""
    assert stream.code == "const s = 1;\n`${s}`;\n"


def test_prefix_completion_starts_inside_the_fence_and_keeps_prose_like_lines() -> None:
    reply = "def f():\n    pass\n\nThis line is inside the fence, so it stays.\n"
    assert all_splits(reply, fenced=True) == reply


def test_a_fence_reopened_after_the_prefix_is_skipped() -> None:
    assert all_splits("```python\nx = 1\n", fenced=True) == "x = 1\n"
    assert all_splits("```\nx = 1\n", fenced=True) == ""


def test_longer_fences_close_only_with_a_fence_as_long() -> None:
    reply = "````markdown\n```python\nx = 1\n```\n````\nBye."
    assert all_splits(reply) == "```python\nx = 1\n```\n"


def test_prose_stays_in_prose_languages() -> None:
    reply = "Here is the new paragraph.\nIt has two sentences in it.\n"
    assert all_splits(reply, strip_prose=False) == reply


def test_code_lines_that_merely_look_like_words_survive() -> None:
    reply = 'def f():\n    """Summary.\n\nReturns the sum of the values given.\n    """\n    return 1\n'
    assert all_splits(reply) == reply


def test_an_all_prose_reply_yields_no_code() -> None:
    assert all_splits("I cannot rewrite this code without more context.\n") == ""


def test_a_cr_split_from_its_lf_is_one_line_ending() -> None:
    code, _ = run("a = 1\r\nb = 2\r\n", [6, 1, 6, 1])
    assert code == "a = 1\nb = 2\n"


@pytest.mark.parametrize(
    ("line", "prose"),
    [
        ("Here is the refactored code:", True),
        ("This version avoids the extra loop.", True),
        ("Sure! Here it is:", True),
        ("Explanation of the changes below", False),  # 5 words, no end mark
        ("def f(x):", False),
        ("class Foo(Base):", False),
        ("    Returns the value.", False),
        ("SELECT name FROM users;", False),
        ("Console.WriteLine(x);", False),
        ("# This is a comment line.", False),
        ("List<String> names = new ArrayList<>();", False),
    ],
)
def test_prose_heuristic(line: str, prose: bool) -> None:
    assert looks_like_prose(line) is prose
