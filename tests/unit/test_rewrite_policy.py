"""One edit for editors that confirm each server edit (eglot), and which regions collide.

The session is driven by simulated editors: one that asks a person ("Proceed?") before it
applies, one that refuses stale versions with eglot's words and sends its didChange late.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from deepseek_lsp.rewrite.region import Edit, Region, overlaps
from deepseek_lsp.rewrite.session import (
    APPLY_TIMEOUT,
    FINAL,
    FINAL_APPLY_TIMEOUT,
    STREAM,
    EditPolicy,
    EditRefused,
    Session,
    edit_policy,
)

from .test_rewrite_session import DOC, NEW, OLD, Editor


def test_regions_that_share_text_overlap_and_touching_ones_do_not() -> None:
    assert overlaps((0, 10), (5, 15)) and overlaps((5, 15), (0, 10))
    assert overlaps((0, 10), (2, 3))  # inside
    assert not overlaps((0, 10), (10, 20))  # adjacent: an edit at the border belongs to one side
    assert not overlaps((0, 10), (20, 30))
    assert overlaps((0, 10), (4, 4))  # an insertion point inside a region
    assert not overlaps((0, 10), (10, 10)) and not overlaps((0, 10), (0, 0))
    assert not overlaps((5, 5), (5, 5))  # two insertions at one point: one lands after the other


def test_the_policy_for_each_presentation() -> None:
    assert edit_policy("stream", {}) == STREAM
    assert edit_policy("final", {}) == FINAL
    assert STREAM.stream and STREAM.apply_timeout == APPLY_TIMEOUT
    assert STREAM.restore_timeout == 45.0  # what a streamed rewrite always had
    assert not FINAL.stream and FINAL.max_refusals == 1
    assert FINAL.apply_timeout == FINAL_APPLY_TIMEOUT >= 120  # minutes: a person answers
    assert FINAL.restore_timeout > FINAL.apply_timeout


def test_the_timeouts_can_be_shortened_for_tests() -> None:
    env = {"DEEPSEEK_LSP_APPLY_TIMEOUTS": "0.5,3"}
    assert edit_policy("stream", env).apply_timeout == 0.5
    assert edit_policy("final", env).apply_timeout == 3.0
    assert edit_policy("final", env).max_refusals == 1
    for bad in ("3", "a,b", "1,2,3", "0,0"):
        assert edit_policy("final", {"DEEPSEEK_LSP_APPLY_TIMEOUTS": bad}) == FINAL


class Prompting(Editor):
    """An editor that asks a person before each edit: `answers` says what they answer.
    `idle`: like eglot, it sends the didChange of a server edit only once the user is idle again
    (after their next key press): `idle.set()` is that moment."""

    def __init__(self, answers: list[str], *, think: float = 0.0, idle: asyncio.Event | None = None) -> None:
        super().__init__(DOC)
        self.answers = answers
        self.think = think
        self.idle = idle
        self.asked: list[Edit] = []

    def apply_later(self, a: int, b: int, t: str) -> None:
        """Apply now, tell the server when idle."""
        before = self.text
        self.text = before[:a] + t + before[b:]
        self.version += 1
        version = self.version
        assert self.idle is not None
        idle = self.idle

        async def tell() -> None:
            await idle.wait()
            self._notify(a, b, t, before, version)

        asyncio.get_running_loop().create_task(tell())

    async def ask(self, edit: Edit) -> bool | None:
        self.asked.append(edit)
        await asyncio.sleep(self.think)
        answer = self.answers.pop(0) if self.answers else "yes"
        if answer == "silent":
            return None
        if answer == "no":
            edit.refusal = "User cancelled server edit"
            return False
        if edit.version != self.version:  # eglot checks the version after the prompt
            edit.refusal = f"Edits on `app.py' require version {edit.version}, you have {self.version}"
            return False
        if self.idle is not None:
            self.apply_later(edit.start, edit.end, edit.text)
        else:
            self.change(edit.start, edit.end, edit.text)
        return True


def final(editor: Prompting, policy: EditPolicy = FINAL) -> Session:
    start = editor.text.index(OLD)
    session = Session(
        Region(editor.text, editor.version, start, start + len(OLD)),
        editor.ask,
        confirm_timeout=0.5,
        policy=policy,
    )
    editor.session = session
    return session


async def test_nothing_is_sent_until_the_code_is_complete_then_one_minimal_edit() -> None:
    editor = Prompting([])
    session = final(editor)
    session.start()  # even started, a final-mode session waits for the whole code
    for i in range(0, len(NEW), 4):
        session.extend(NEW[i : i + 4], lines=NEW[i : i + 4].count("\n"))
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert editor.asked == []
    await asyncio.wait_for(session.finish(NEW), 5)
    assert editor.text == DOC.replace(OLD, NEW)
    [edit] = editor.asked
    assert edit.text == NEW[len("def f()") : -len(" 1\n")]  # only the changed part


async def test_a_no_is_asked_once() -> None:
    editor = Prompting(["no"])
    session = final(editor)
    with pytest.raises(EditRefused) as refused:
        await asyncio.wait_for(session.finish(NEW), 5)
    assert refused.value.reason == "User cancelled server edit" and not refused.value.unanswered
    assert len(editor.asked) == 1 and editor.text == DOC
    assert await session.restore() is True  # nothing landed: nothing to send
    assert len(editor.asked) == 1


async def test_the_same_no_while_streaming_is_retried_as_before() -> None:
    editor = Prompting(["no", "no"])
    session = final(editor, STREAM)
    await asyncio.wait_for(session.finish(NEW), 5)
    assert len(editor.asked) == 3 and editor.text == DOC.replace(OLD, NEW)


async def test_a_refusal_naming_the_version_waits_for_the_late_didchange_and_goes_again() -> None:
    """eglot: the user typed just before the edit arrived; its didChange follows 0.5 s later."""
    editor = Prompting([])
    session = final(editor)
    editor.change(0, 0, "# typed\n", late=True)  # the editor has it; the server learns 20 ms later
    await asyncio.wait_for(session.finish(NEW), 5)
    assert editor.text == "# typed\n" + DOC.replace(OLD, NEW)
    assert len(editor.asked) == 2 and "require version" in (editor.asked[0].refusal or "")


async def test_an_unanswered_edit_is_no_answer() -> None:
    editor = Prompting(["silent"])
    session = final(editor)
    with pytest.raises(EditRefused) as refused:
        await asyncio.wait_for(session.finish(NEW), 5)
    assert refused.value.unanswered and len(editor.asked) == 1


async def test_cancel_with_the_prompt_open_does_not_wait_for_the_person() -> None:
    """The restore waits `settle_timeout` for the edit in flight, then verifies the original
    (nothing landed) and leaves the edit pending: if the person says yes later, it is undone."""
    editor = Prompting(["yes"], think=0.5)
    session = final(editor, EditPolicy(stream=False, max_refusals=1, settle_timeout=0.05))
    finishing = asyncio.ensure_future(session.finish(NEW))
    await asyncio.sleep(0.01)
    assert len(editor.asked) == 1
    finishing.cancel()
    began = time.monotonic()
    assert await asyncio.wait_for(session.restore(), 5) is True
    assert time.monotonic() - began < 0.4
    assert editor.text == DOC and session.region.pending is editor.asked[0]
    assert await asyncio.wait_for(session.undo_stray(5), 5) is True  # the yes came: undone
    assert editor.text == DOC and len(editor.asked) == 2


async def test_a_no_after_the_cancel_ends_the_watch_at_once() -> None:
    editor = Prompting(["no"], think=0.2)
    session = final(editor, EditPolicy(stream=False, max_refusals=1, settle_timeout=0.01))
    finishing = asyncio.ensure_future(session.finish(NEW))
    await asyncio.sleep(0.01)
    finishing.cancel()
    assert await session.restore() is True
    began = time.monotonic()
    assert await asyncio.wait_for(session.undo_stray(30), 5) is None  # it will never land
    assert time.monotonic() - began < 1
    assert editor.text == DOC and len(editor.asked) == 1


async def test_an_applied_edit_whose_didchange_comes_later_is_taken_as_applied() -> None:
    """eglot: `applied: true`, then the didChange only after the user's next key press. The
    job ends with the edit taken as applied; nothing is verified back until it shows."""
    idle = asyncio.Event()
    editor = Prompting([], idle=idle)
    session = final(editor)
    await asyncio.wait_for(session.finish(NEW), 5)  # confirm_timeout 0.5 s: no didChange yet
    assert editor.text == DOC.replace(OLD, NEW)
    assert session.region.current == OLD and session.unconfirmed == NEW and session.shown == NEW
    assert not session.verified(OLD), "the client holds the new code: the original is not back"

    restoring = asyncio.ensure_future(session.restore(deadline=5))
    await asyncio.sleep(0.05)
    assert not restoring.done() and len(editor.asked) == 1  # waits for the edit to show first
    editor.idle = None  # from now on the editor answers at once
    idle.set()  # the user presses a key: the didChange comes
    assert await asyncio.wait_for(restoring, 5) is True
    assert editor.text == DOC and len(editor.asked) == 2


async def test_an_applied_edit_that_never_shows_is_never_called_restored() -> None:
    editor = Prompting([], idle=asyncio.Event())
    session = final(editor)
    await asyncio.wait_for(session.finish(NEW), 5)
    assert await session.restore(deadline=0.2) is False  # the caller hands the original over
    assert len(editor.asked) == 1
