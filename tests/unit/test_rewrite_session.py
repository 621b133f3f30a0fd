"""The edit loop against simulated editors: VS Code (checks versions, answers after didChange)
and Neovim (didChange debounced after the answer, stale edits dropped but "applied")."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest

from deepseek_lsp.positions import to_pos
from deepseek_lsp.rewrite.region import Edit, Region
from deepseek_lsp.rewrite.session import DocumentChanged, EditRefused, Session

DOC = "import os\n\ndef f():\n    return 1\n\nprint(f())\n"
OLD = "def f():\n    return 1\n"
NEW = "def f() -> int:\n    value = 41\n    return value + 1\n"


class Editor:
    def __init__(self, text: str, style: Literal["vscode", "neovim", "refuse"] = "vscode") -> None:
        self.text = text
        self.version = 1
        self.style = style
        self.session: Session | None = None
        self.applied = 0

    def _notify(self, a: int, b: int, t: str, before: str, version: int) -> None:
        assert self.session is not None
        change = (to_pos(before, a, "utf-32"), to_pos(before, b, "utf-32"), t)
        self.session.on_change([change], version, "utf-32")

    def change(self, a: int, b: int, t: str, *, late: bool = False) -> None:
        before = self.text
        self.text = before[:a] + t + before[b:]
        self.version += 1
        if late:
            asyncio.get_running_loop().call_later(0.02, self._notify, a, b, t, before, self.version)
        else:
            self._notify(a, b, t, before, self.version)

    async def send(self, edit: Edit) -> bool:
        await asyncio.sleep(0.001)
        if self.style == "refuse":
            return False
        if edit.version != self.version:
            return self.style == "neovim"  # Neovim prints "newer than edits" and answers applied
        self.applied += 1
        self.change(edit.start, edit.end, edit.text, late=self.style == "neovim")
        return True


def make(editor: Editor) -> Session:
    start = editor.text.index(OLD)
    session = Session(
        Region(editor.text, editor.version, start, start + len(OLD)), editor.send, confirm_timeout=0.5
    )
    editor.session = session
    return session


async def stream(session: Session, text: str, step: int = 3, pause: float = 0.0) -> None:
    session.start()
    for i in range(0, len(text), step):
        session.set_target(text[: i + step])
        await asyncio.sleep(pause)


@pytest.mark.parametrize("style", ["vscode", "neovim"])
async def test_the_stream_lands_exactly(style: Literal["vscode", "neovim"]) -> None:
    editor = Editor(DOC, style)
    session = make(editor)
    await stream(session, NEW, pause=0.002)
    await asyncio.wait_for(session.finish(NEW), 5)
    assert editor.text == DOC.replace(OLD, NEW)
    assert session.edits == editor.applied >= 2


@pytest.mark.parametrize("style", ["vscode", "neovim"])
async def test_typing_above_mid_stream_is_kept(style: Literal["vscode", "neovim"]) -> None:
    editor = Editor(DOC, style)
    session = make(editor)
    session.start()
    session.set_target(NEW[:20])
    await asyncio.sleep(0.05)
    editor.change(0, 0, "# 注释 🎉\n")
    session.set_target(NEW[:30])
    editor.change(0, 0, "#!\n", late=style == "neovim")
    await asyncio.wait_for(session.finish(NEW), 5)
    assert editor.text == "#!\n# 注释 🎉\n" + DOC.replace(OLD, NEW)


async def test_typing_inside_stops_and_leaves_the_text() -> None:
    editor = Editor(DOC)
    session = make(editor)
    session.start()
    session.set_target(NEW[:20])
    await asyncio.sleep(0.05)
    inside = editor.text.index("-> int")
    editor.change(inside, inside, "XYZ")
    snapshot = editor.text
    with pytest.raises(DocumentChanged):
        await asyncio.wait_for(session.finish(NEW), 5)
    assert editor.text == snapshot
    assert await session.restore() is False and editor.text == snapshot


@pytest.mark.parametrize("style", ["vscode", "neovim"])
async def test_cancel_mid_flight_restores_byte_for_byte(style: Literal["vscode", "neovim"]) -> None:
    editor = Editor(DOC, style)
    session = make(editor)
    task = asyncio.create_task(stream(session, NEW, step=1, pause=0.001))
    await asyncio.sleep(0.03)
    task.cancel()
    assert editor.text != DOC
    assert await asyncio.wait_for(session.restore(), 5)
    await asyncio.sleep(0.05)  # nothing late may land afterwards
    assert editor.text == DOC


async def test_a_refusing_client_fails_cleanly() -> None:
    editor = Editor(DOC, "refuse")
    session = make(editor)
    session.max_failures = 3
    with pytest.raises(EditRefused):
        await asyncio.wait_for(session.finish(NEW), 5)
    assert editor.text == DOC


async def test_an_unanswered_edit_that_lands_later_is_undone() -> None:
    """The editor never answers an edit (the glue's send gives None) but applies it after the
    restore: the cancelled rewrite undoes it too."""
    editor = Editor(DOC)
    held: list[Edit] = []
    sent = asyncio.Event()

    async def silent(edit: Edit) -> bool | None:
        held.append(edit)
        sent.set()
        return None  # no answer within the apply timeout

    start = DOC.index(OLD)
    session = Session(Region(DOC, 1, start, start + len(OLD)), silent, confirm_timeout=0.05)
    editor.session = session
    session.start()
    session.set_target(NEW)
    await asyncio.wait_for(sent.wait(), 5)
    await session.stop()
    assert await session.restore() is True  # the document still shows the original
    assert session.region.pending is held[0]  # unresolved: still recognised as ours

    session._send = editor.send  # the editor wakes up and answers again
    watch = asyncio.ensure_future(session.undo_stray(5))
    late = held[0]
    editor.change(late.start, late.end, late.text)  # the stray edit lands at last
    assert await watch is True
    assert editor.text == DOC
