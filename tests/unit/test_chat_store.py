"""The chat store: durable turns, versioned schema, two servers writing at once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from deepseek_lsp.chat.store import (
    DATA_DIR_ENV,
    SCHEMA_VERSION,
    AsyncChatStore,
    ChatStore,
    StoreError,
    data_dir,
    make_title,
)


@pytest.fixture
def store(tmp_path: Path) -> ChatStore:
    return ChatStore(tmp_path / "chat.sqlite3")


def test_data_dir_env_override(tmp_path: Path) -> None:
    assert data_dir({DATA_DIR_ENV: str(tmp_path)}) == tmp_path
    assert "deepseek-lsp" in str(data_dir({}))


def test_schema_is_versioned_and_wal(store: ChatStore, tmp_path: Path) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert store.migrate() == SCHEMA_VERSION  # idempotent
    again = ChatStore(tmp_path / "chat.sqlite3")
    assert again.schema_version() == SCHEMA_VERSION
    mode = sqlite3.connect(tmp_path / "chat.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_turn_enters_the_history_only_when_complete(store: ChatStore) -> None:
    store.ensure_session("s1", "/ws")
    uid = store.begin_turn("s1", "t1", "expanded question", "question")
    [pending] = store.messages("s1")
    assert pending.status == "pending" and not pending.in_context
    usage = {
        "promptTokens": 10,
        "completionTokens": 5,
        "promptCacheHitTokens": 0,
        "promptCacheMissTokens": 10,
        "reasoningTokens": 2,
        "cost": 0.001,
    }
    store.complete_turn("s1", uid, "t1", "answer", reasoning="thought", model="m", usage=usage)
    user, reply = store.messages("s1")
    assert (user.status, user.in_context, user.content, user.display) == (
        "ok",
        True,
        "expanded question",
        "question",
    )
    assert (reply.role, reply.content, reply.reasoning, reply.usage) == (
        "assistant",
        "answer",
        "thought",
        usage,
    )
    session = store.get_session("s1")
    assert session is not None and session.title == "question"
    totals = store.totals("s1")
    assert totals["promptTokens"] == 10 and totals["reasoningTokens"] == 2 and totals["requests"] == 1


def test_aborted_turns_stay_out_of_the_history(store: ChatStore) -> None:
    store.ensure_session("s1")
    uid = store.begin_turn("s1", "t1", "q", "q")
    store.abort_turn("s1", uid, "t1", "cancelled", "partial ans")
    rows = store.messages("s1")
    assert [(m.role, m.status, m.in_context) for m in rows] == [
        ("user", "cancelled", False),
        ("assistant", "cancelled", False),
    ]


def test_sessions_list_rename_delete(store: ChatStore) -> None:
    store.ensure_session("a", "/ws1")
    store.ensure_session("b", "/ws2")
    uid = store.begin_turn("b", "t", "hello there", "hello there")
    store.complete_turn("b", uid, "t", "hi", reasoning=None, model="m", usage=None)
    assert [i.session.id for i in store.list_sessions()] == ["b", "a"]
    assert [i.session.id for i in store.list_sessions("/ws1")] == ["a"]
    info = store.list_sessions("/ws2")[0]
    assert info.messages == 2 and info.preview == "hello there"
    assert store.rename("a", "Mine") and store.get_session("a").title == "Mine"  # type: ignore[union-attr]
    assert store.delete("b") and store.messages("b") == [] and store.get_session("b") is None
    assert not store.delete("b")


def test_two_servers_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "chat.sqlite3"
    stores = [ChatStore(path), ChatStore(path)]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        s = stores[n % 2]
        try:
            sid = f"s{n}"
            s.ensure_session(sid)
            for i in range(20):
                uid = s.begin_turn(sid, f"t{i}", f"q{i}", f"q{i}")
                s.complete_turn(sid, uid, f"t{i}", f"a{i}", reasoning=None, model="m", usage=None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    check = ChatStore(path)
    assert all(len(check.messages(f"s{n}")) == 40 for n in range(6))


def test_titles() -> None:
    assert make_title("\n  Why does this fail?\nmore") == "Why does this fail?"
    long = "word " * 30
    assert make_title(long).endswith("…") and len(make_title(long)) <= 61


async def test_async_facade_runs_off_the_loop(store: ChatStore) -> None:
    s = AsyncChatStore(store)
    session = await s.call(store.ensure_session, "x", None)
    assert session.id == "x"


def test_a_new_migration_is_applied_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deepseek_lsp.chat import store as store_mod

    path = tmp_path / "chat.sqlite3"
    old = ChatStore(path)
    old.ensure_session("kept")
    old.close()
    extra = (2, "ALTER TABLE sessions ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")
    monkeypatch.setattr(store_mod, "MIGRATIONS", (*store_mod.MIGRATIONS, extra))
    new = ChatStore(path)
    assert new.schema_version() == 2 and new.migrate() == 2
    assert new.get_session("kept") is not None
    cols = [r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(sessions)")]
    assert "pinned" in cols


def test_an_unwritable_place_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((OSError, StoreError)):
        ChatStore(blocker / "chat.sqlite3")
