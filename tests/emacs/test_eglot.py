"""eglot 1.9 (Emacs 28, Debian's elpa-eglot) with the README's snippet: the code actions, an
explanation the user can read (a message, a Markdown file, a plain-text hover) and a rewrite that
is one confirmed edit. eglot gives a buffer one server, so deepseek-lsp gets no diagnostics:
`DeepSeek: Fix` is offered on any selection."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Emacs, Reply, ThreadedFake, problems, start_emacs

CODE = "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n"
ACTIONS = [
    "DeepSeek: Explain",
    "DeepSeek: Fix",
    "DeepSeek: Refactor",
    "DeepSeek: Add docstring",
    "DeepSeek: Write tests",
]
ANSWER = (
    "`add` returns the **sum** of its two arguments.\n\n"
    "## Example\n\n"
    "```python\nadd(1, 2)  # 3\n```\n\n"
    "It works for any two values that support `+`."
)
SENTENCE = "returns the sum of its two arguments."
DOCSTRING = 'def add(a, b):\n    """Return the sum of a and b."""\n    return a + b\n'
WITH_DOCSTRING = CODE.replace("def add(a, b):\n    return a + b\n", DOCSTRING)
MARKDOWN_FILE = re.compile(r"(/\S+\.md)\b")


@pytest.fixture
def emacs(fake: ThreadedFake, tmp_path: Path) -> Iterator[Emacs]:
    fake.reset()
    yield from start_emacs("eglot", fake, tmp_path, {"calc.py": CODE}, "calc.py")


def test_explain_is_a_message_a_markdown_file_and_a_plain_text_hover(
    emacs: Emacs, fake: ThreadedFake, tmp_path: Path
) -> None:
    fake.enqueue(Reply(content=ANSWER))
    emacs.code_action(1, 2, "DeepSeek: Explain")

    state = emacs.state()
    # the whole menu, Fix included: eglot sends no diagnostics to a second server
    assert state["menus"] == [ACTIONS]
    emacs.wait_jobs_done()
    state = emacs.wait_for(
        lambda s: any(MARKDOWN_FILE.search(m) for m in emacs.server_messages(s)),
        what="the explanation's message naming its Markdown file",
    )
    message = next(m for m in emacs.server_messages(state) if MARKDOWN_FILE.search(m))

    # the message is readable plain text: no Markdown syntax, the code block kept as code
    assert "calc.py" in message and SENTENCE in message, message
    assert "    add(1, 2)  # 3" in message
    assert "It works for any two values that support `+`." in message
    assert not any(mark in message for mark in ("**", "## ", "```")), message

    # it names the Markdown file, in the cache folder, holding DeepSeek's answer exactly
    match = MARKDOWN_FILE.search(message)
    assert match is not None
    path = Path(match.group(1))
    assert path.is_relative_to(tmp_path / "home" / "deepseek-cache"), path
    markdown = path.read_text(encoding="utf-8")
    assert markdown.startswith("# calc.py, lines 1–2\n"), markdown
    assert markdown.endswith("\n\n" + ANSWER + "\n"), markdown

    # the user sees it: the echo area shows the message (its last lines, in a 40-line terminal)
    emacs.wait_screen("It works for any two values that support `+`.")
    assert "(The Markdown is in " in emacs.screen()

    # hover inside the explained range: plain text (eglot without markdown-mode asks for it),
    # covering the explained lines
    raw = emacs.eval("(ds-test-raw-hover 2 6)")
    assert raw["contents"]["kind"] == "plaintext", raw
    assert SENTENCE in raw["contents"]["value"] and "**" not in raw["contents"]["value"], raw
    assert raw["range"] == {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}
    emacs.eval("(ds-test-hover-at 1 5)")
    shown = emacs.wait("ds-test-hover", what="eglot's hover (eldoc)")
    assert SENTENCE in shown and "**" not in shown, shown
    assert emacs.eval("(ds-test-raw-hover 5 2)") is None  # outside the explained lines

    final = emacs.state()
    assert final["prompts"] == []
    assert problems(final["messages"]) == []
    assert len(fake.completions()) == 1


def test_docstring_rewrite_is_one_confirmed_edit(emacs: Emacs, fake: ThreadedFake) -> None:
    fake.enqueue(Reply(content=DOCSTRING + "```\nI added a one-line docstring."))
    emacs.code_action(1, 2, "DeepSeek: Add docstring")

    # eglot asks (eglot-confirm-server-initiated-edits is `confirm' by default), once, for the
    # complete rewrite: nothing has changed in the buffer yet
    assert emacs.eval("eglot-confirm-server-initiated-edits") == "confirm"
    state = emacs.wait_for(lambda s: "Proceed?" in (s["minibufferPrompt"] or ""), what="eglot's Proceed?")
    assert state["text"] == CODE
    emacs.keys("y")

    emacs.wait_for(lambda s: s["text"] == WITH_DOCSTRING, what="the rewrite in the buffer")
    emacs.wait_jobs_done()
    final = emacs.state()
    assert final["text"] == WITH_DOCSTRING  # kept: not undone after the job ended
    assert len(final["prompts"]) == 1, final["prompts"]
    assert "Server wants to edit" in final["prompts"][0]
    assert problems(final["messages"]) == []
    assert len(fake.completions()) == 1


def test_refusing_the_rewrite_keeps_the_original_and_asks_once(emacs: Emacs, fake: ThreadedFake) -> None:
    fake.enqueue(Reply(content=DOCSTRING + "```\n"))
    emacs.code_action(1, 2, "DeepSeek: Add docstring")
    emacs.wait_for(lambda s: "Proceed?" in (s["minibufferPrompt"] or ""), what="eglot's Proceed?")
    emacs.keys("n")

    emacs.wait_jobs_done()
    final = emacs.state()
    assert final["text"] == CODE
    assert final["modified"] is False
    assert len(final["prompts"]) == 1, final["prompts"]
    assert final["minibufferPrompt"] is None
    assert [line for line in problems(final["messages"]) if "type=1" in line] == []
    assert len(fake.completions()) == 1
