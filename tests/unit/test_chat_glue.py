"""Small pieces of the chat glue that need no server."""

from __future__ import annotations

import asyncio

from deepseek_lsp.chat import commands as cmds
from deepseek_lsp.features.chat.turn import suggest_title, uninterrupted


async def test_a_commit_survives_cancellation() -> None:
    done = asyncio.Event()

    async def commit() -> str:
        await asyncio.sleep(0.05)
        done.set()
        return "saved"

    async def turn() -> str:
        return await uninterrupted(commit())

    task = asyncio.create_task(turn())
    await asyncio.sleep(0.01)
    task.cancel()
    assert await task == "saved" and done.is_set()


def test_titles_for_commands() -> None:
    att = [cmds.Attachment("#selection", "a.py, lines 1-3", "x")]
    assert suggest_title(cmds.parse("/fix the crash"), att) == "Fix a.py, lines 1-3: the crash"
    assert suggest_title(cmds.parse("plain"), att) is None
