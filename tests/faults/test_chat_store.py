"""Chat store faults, end to end: the real server over stdio, a raw client, a fake DeepSeek.

The store is `$DEEPSEEK_LSP_DATA_DIR/chat.sqlite3` (the `start` fixture points that at
`tmp_path/"data"`). Each test breaks it the way a user's machine does (a read-only folder, the
file deleted or replaced by garbage while the server runs, a write failing mid-turn) and checks
what the user sees (the reply, one clear warning, never an "Internal error") and what a restarted
server finds in the history.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.contract.fakeds import FakeDeepSeek, Reply
from tests.contract.lsp import Client

from .conftest import Start

DB = "chat.sqlite3"
WARNING = 2  # window/showMessage type


class ReadOnly:
    """Makes files and folders really unwritable, and undoes it.

    chmod stops an ordinary user; root ignores it, so as root the files are also made immutable
    (`chattr +i`). A `-shm` file is never touched: SQLite maps it into memory, and an immutable
    mapped file kills the process (SIGBUS) instead of failing a write. `enforced_on_open_files`
    says whether files the server already has open stop taking writes too (only `chattr` does
    that; chmod applies to the next open)."""

    def __init__(self) -> None:
        self.locked: list[tuple[Path, int]] = []
        self.immutable: list[Path] = []
        self.root = hasattr(os, "geteuid") and os.geteuid() == 0

    @property
    def enforced_on_open_files(self) -> bool:
        return bool(self.immutable)

    def lock(self, *paths: Path) -> None:
        for path in paths:
            if path.name.endswith("-shm") or not path.exists():
                continue
            self.locked.append((path, stat.S_IMODE(path.stat().st_mode)))
            path.chmod(0o555 if path.is_dir() else 0o444)
            if self.root:
                done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
                if done.returncode != 0:
                    self.unlock()
                    pytest.skip(f"cannot make {path} read-only for root here (chattr: {done.stderr!r})")
                self.immutable.append(path)
        for path in paths:
            if path.is_dir() and _writable_dir(path):
                self.unlock()
                pytest.skip(f"cannot make {path} read-only here")

    def unlock(self) -> None:
        for path in reversed(self.immutable):
            subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)
        self.immutable.clear()
        for path, mode in reversed(self.locked):
            path.chmod(mode)
        self.locked.clear()


def _writable_dir(path: Path) -> bool:
    probe = path / ".probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


@pytest.fixture
def read_only() -> Iterator[ReadOnly]:
    guard = ReadOnly()
    yield guard
    guard.unlock()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"  # what the `start` fixture sets DEEPSEEK_LSP_DATA_DIR to


async def chat(client: Client, message: str, **extra: Any) -> tuple[dict[str, Any], str, str]:
    """One turn: (final notification, session id, the reply as the user saw it)."""
    started = await client.command("deepseek.chat", {"message": message, **extra})
    final = await client.wait_done(started["jobId"])
    text = "".join(n.get("content") or "" for n in client.stream(started["jobId"]))
    return final, started["sessionId"], text


async def restart_point(client: Client) -> None:
    """Stop the server now (shutdown, exit, exit code 0), as before a restart. The fixture's own
    stop at teardown then only reports that exit code (it still checks the invariants)."""
    assert await client.stop() == 0, "the server did not exit cleanly after shutdown/exit"


def shown(client: Client, kind: int) -> list[str]:
    return [p["message"] for p in client.notifications("window/showMessage") if p.get("type") == kind]


def no_internal_error(client: Client) -> None:
    everything = [*shown(client, 1), *shown(client, WARNING)]
    everything += [str(p.get("error")) for p in client.notifications("deepseek/stream") if p.get("error")]
    assert not [m for m in everything if "Internal error" in m], everything


async def history(client: Client, sid: str) -> list[tuple[str, str, str]]:
    """(role, content, status) of every stored message of the session."""
    hist = await client.command("deepseek.chat.history", {"sessionId": sid})
    return [(m["role"], m["content"], m["status"]) for m in hist["messages"]]


def sent(fake: FakeDeepSeek) -> list[str]:
    """The contents of the last request's messages after the system prompt."""
    return [m["content"] for m in fake.completions[-1].body["messages"][1:]]


def ok_turns(*pairs: tuple[str, str]) -> list[tuple[str, str, str]]:
    return [row for q, a in pairs for row in (("user", q, "ok"), ("assistant", a, "ok"))]


def unsaved_warning(text: str, data: Path) -> None:
    """The warning says what happened, where, and what to do."""
    assert "cannot be saved" in text and str(data / DB) in text, text
    assert "DEEPSEEK_LSP_DATA_DIR" in text and "writable" in text, text


# -- a read-only store -------------------------------------------------------------------------


async def test_read_only_store_still_chats_with_context_and_warns_once(
    start: Start, fake: FakeDeepSeek, data: Path, read_only: ReadOnly
) -> None:
    first = await start()
    fake.enqueue(Reply(content=["One."]))
    _, sid, _ = await chat(first, "one")
    await restart_point(first)
    read_only.lock(data / DB, data)

    server = await start()
    fake.enqueue(Reply(content=["Two", "."]), Reply(content=["Three."]))
    final, _, text = await chat(server, "two", sessionId=sid)
    assert final["state"] == "done" and text == "Two.", final
    assert len(final["warnings"]) == 1
    unsaved_warning(final["warnings"][0], data)
    final, _, text = await chat(server, "three", sessionId=sid)
    assert final["state"] == "done" and text == "Three." and final["warnings"]
    assert sent(fake) == ["one", "One.", "two", "Two.", "three"]  # the old turn and the new, in memory
    [warning] = shown(server, WARNING)  # told once, not at every turn
    unsaved_warning(warning, data)
    assert await history(server, sid) == ok_turns(("one", "One."), ("two", "Two."), ("three", "Three."))
    no_internal_error(server)
    await restart_point(server)

    read_only.unlock()
    after = await start()
    assert await history(after, sid) == ok_turns(("one", "One."))  # the file is intact
    fake.enqueue(Reply(content=["Four."]))
    final, _, _ = await chat(after, "four", sessionId=sid)
    assert final["state"] == "done" and "warnings" not in final
    assert shown(after, WARNING) == []


async def test_read_only_folder_without_a_store(
    start: Start, fake: FakeDeepSeek, data: Path, read_only: ReadOnly
) -> None:
    read_only.lock(data)
    server = await start()
    fake.enqueue(Reply(content=["A."]), Reply(content=["B."]))
    final, sid, text = await chat(server, "a")
    assert final["state"] == "done" and text == "A." and final["warnings"]
    final, _, _ = await chat(server, "b", sessionId=sid)
    assert final["state"] == "done" and final["warnings"]
    assert sent(fake) == ["a", "A.", "b"]
    [warning] = shown(server, WARNING)
    unsaved_warning(warning, data)
    no_internal_error(server)
    assert not (data / DB).exists()


# -- the store deleted while the server runs ---------------------------------------------------


@pytest.mark.parametrize("what", ["file", "folder"])
async def test_a_store_deleted_mid_session_is_recreated_and_loses_nothing(
    start: Start, fake: FakeDeepSeek, data: Path, what: str
) -> None:
    server = await start()
    fake.enqueue(*(Reply(content=[r]) for r in ("One.", "Other.", "Two.", "Three.")))
    _, sid, _ = await chat(server, "one")
    other = (await chat(server, "another session"))[1]
    if what == "file":
        (data / DB).unlink()
    else:
        shutil.rmtree(data)
    final, _, _ = await chat(server, "two", sessionId=sid)
    assert final["state"] == "done" and "warnings" not in final, final
    final, _, _ = await chat(server, "three", sessionId=sid)
    assert final["state"] == "done" and "warnings" not in final, final
    assert sent(fake) == ["one", "One.", "two", "Two.", "three"]
    [notice] = shown(server, WARNING)
    assert "deleted" in notice and "recreated" in notice and str(data / DB) in notice, notice
    no_internal_error(server)
    await restart_point(server)

    after = await start()
    assert await history(after, sid) == ok_turns(("one", "One."), ("two", "Two."), ("three", "Three."))
    assert (await history(after, other))[0] == ("user", "another session", "ok")
    assert shown(after, WARNING) == []


async def test_a_store_replaced_mid_session_gets_this_servers_turns_merged_in(
    start: Start, fake: FakeDeepSeek, data: Path, tmp_path: Path
) -> None:
    """Another file put in place (say a backup restored) keeps its sessions and gains ours."""
    server = await start()
    fake.enqueue(Reply(content=["One."]))
    _, sid, _ = await chat(server, "one")
    elsewhere = tmp_path / "elsewhere"
    backup = await start(env={"DEEPSEEK_LSP_DATA_DIR": str(elsewhere)})
    fake.enqueue(Reply(content=["Old."]))
    _, old_sid, _ = await chat(backup, "from the backup")
    await restart_point(backup)
    with closing(sqlite3.connect(elsewhere / DB)) as src, closing(sqlite3.connect(tmp_path / "copy")) as copy:
        src.backup(copy)  # one self-contained file, as a backup tool makes
    os.replace(tmp_path / "copy", data / DB)

    fake.enqueue(Reply(content=["Two."]))
    final, _, _ = await chat(server, "two", sessionId=sid)
    assert final["state"] == "done" and "warnings" not in final, final
    [notice] = shown(server, WARNING)
    assert "replaced" in notice and "merged" in notice, notice
    await restart_point(server)

    after = await start()
    assert await history(after, sid) == ok_turns(("one", "One."), ("two", "Two."))
    assert await history(after, old_sid) == ok_turns(("from the backup", "Old."))


# -- a damaged store ---------------------------------------------------------------------------


async def test_a_damaged_store_is_set_aside_not_deleted(start: Start, fake: FakeDeepSeek, data: Path) -> None:
    garbage = b"this is not a SQLite database\n" * 200
    (data / DB).write_bytes(garbage)
    server = await start()
    fake.enqueue(Reply(content=["Fresh."]))
    final, sid, text = await chat(server, "hello")
    assert final["state"] == "done" and text == "Fresh." and "warnings" not in final, final
    [kept] = await asyncio.to_thread(lambda: list(data.glob(f"{DB}.corrupt-*")))
    assert kept.read_bytes() == garbage
    [notice] = shown(server, WARNING)
    assert "damaged" in notice and str(kept) in notice and "new, empty history" in notice, notice
    no_internal_error(server)
    await restart_point(server)

    after = await start()
    assert await history(after, sid) == ok_turns(("hello", "Fresh."))
    assert shown(after, WARNING) == []


# -- a write failing mid-turn ------------------------------------------------------------------


async def test_a_write_error_mid_turn_keeps_the_reply_and_says_it_was_not_saved(
    start: Start, fake: FakeDeepSeek, data: Path, read_only: ReadOnly
) -> None:
    """The store turns read-only (as a full or failing disk does) while a reply streams: the
    reply still ends `done`, and either it was saved or it says it was not."""
    server = await start()
    release = asyncio.Event()
    fake.enqueue(
        Reply(content=["One."]),
        Reply(content=["Tw", "o."], hang_after=1, release=release),
        Reply(content=["Three."]),
    )
    _, sid, _ = await chat(server, "one")
    started = await server.command("deepseek.chat", {"message": "two", "sessionId": sid})
    await server.wait_for(
        lambda: any(n.get("content") for n in server.stream(started["jobId"])), what="the reply started"
    )
    read_only.lock(*await asyncio.to_thread(lambda: sorted(data.iterdir())), data)
    release.set()
    two = await server.wait_done(started["jobId"])
    assert two["state"] == "done", two
    three, _, _ = await chat(server, "three", sessionId=sid)
    assert three["state"] == "done"
    assert sent(fake) == ["one", "One.", "two", "Two.", "three"]  # the reply stays in the context
    no_internal_error(server)
    if read_only.enforced_on_open_files:
        assert two["warnings"] and three["warnings"], (two, three)
        [warning] = shown(server, WARNING)
        unsaved_warning(warning, data)
    await restart_point(server)

    read_only.unlock()
    after = await start()
    saved = await history(after, sid)
    assert saved[:2] == ok_turns(("one", "One."))  # what was saved before is intact
    for final, turn in ((two, ("two", "Two.")), (three, ("three", "Three."))):
        assert final.get("warnings") or all(row in saved for row in ok_turns(turn)), (final, saved)
