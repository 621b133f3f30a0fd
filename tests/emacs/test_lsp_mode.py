"""lsp-mode 8.0 (Emacs 28, Debian's elpa-lsp-mode) with the README's snippet: deepseek-lsp as an
add-on beside the buffer's own Python server (a stand-in for pylsp, `stub_server.py`). Both
servers' actions in one menu, both hovers merged, an explanation the user can read, a rewrite
applied as one edit, and nothing in *Warnings* (the reported bug: "Unknown notification:
deepseek/stream")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Emacs, Reply, ThreadedFake, problems, start_emacs
from .stub_server import ACTION_TITLE, HOVER_PREFIX
from .test_eglot import ACTIONS, CODE, DOCSTRING, WITH_DOCSTRING

ANSWER = "`add` returns the **sum** of `a` and `b`.\n\nIt is pure: no side effects."
MARKDOWN_FILE = re.compile(r"(/\S+\.md)\b")


@pytest.fixture
def emacs(fake: ThreadedFake, tmp_path: Path) -> Iterator[Emacs]:
    fake.reset()
    yield from start_emacs("lsp-mode", fake, tmp_path, {"calc.py": CODE}, "calc.py")


def test_explain_beside_another_server(emacs: Emacs, fake: ThreadedFake, tmp_path: Path) -> None:
    fake.enqueue(Reply(content=ANSWER))
    emacs.code_action(1, 2, "DeepSeek: Explain")

    # one menu with both servers' actions; ours all there, in order, Fix included
    (menu,) = emacs.state()["menus"]
    assert ACTION_TITLE in menu
    assert [t for t in menu if t.startswith("DeepSeek: ")] == ACTIONS, menu

    emacs.wait_jobs_done()
    state = emacs.wait_for(
        lambda s: any(MARKDOWN_FILE.search(m) for m in emacs.server_messages(s)),
        what="the explanation's message naming its Markdown file",
    )
    message = next(m for m in emacs.server_messages(state) if MARKDOWN_FILE.search(m))
    assert "`add` returns the sum of `a` and `b`." in message and "It is pure" in message, message
    assert "**" not in message
    match = MARKDOWN_FILE.search(message)
    assert match is not None
    markdown = Path(match.group(1)).read_text(encoding="utf-8")
    assert Path(match.group(1)).is_relative_to(tmp_path / "home" / "deepseek-cache")
    assert markdown.startswith("# calc.py, lines 1–2\n") and markdown.endswith("\n\n" + ANSWER + "\n"), (
        markdown
    )

    # lsp-mode's hover (C-c l h h) asks both servers: the explanation beside the stub's hover
    emacs.eval("(ds-test-hover-at 1 5)")
    shown = emacs.wait("ds-test-hover", what="lsp-mode's hover")
    assert HOVER_PREFIX + "add" in shown, shown
    assert "returns the sum of" in shown and "It is pure: no side effects." in shown, shown

    final = emacs.state()
    assert final["warnings"] == ""  # no "Unknown notification: deepseek/stream"
    assert final["prompts"] == []
    assert problems(final["messages"]) == []
    assert len(fake.completions()) == 1


def test_docstring_rewrite_is_one_edit_without_a_prompt(emacs: Emacs, fake: ThreadedFake) -> None:
    fake.enqueue(Reply(content=DOCSTRING + "```\nI added a one-line docstring."))
    emacs.code_action(1, 2, "DeepSeek: Add docstring")

    emacs.wait_for(lambda s: s["text"] == WITH_DOCSTRING, what="the rewrite in the buffer")
    emacs.wait_jobs_done()
    final = emacs.state()
    assert final["text"] == WITH_DOCSTRING
    assert final["prompts"] == []  # lsp-mode applies server edits without asking
    assert final["warnings"] == ""
    assert problems(final["messages"]) == []
    assert len(fake.completions()) == 1
