"""Chat sessions on disk: one SQLite file in the user's data directory.

Why SQLite: a completed turn must survive the server being killed (SIGKILL) the moment after,
and two servers (two editor windows) may write at once. So: WAL journal, a busy timeout,
`BEGIN IMMEDIATE` for every write (no lock upgrades that could deadlock), synchronous=FULL,
and each completed turn committed in its own transaction before the client hears "done".
The schema is versioned by a `migrations` table; migrations only ever add.

This module is synchronous; `AsyncChatStore` runs every call in a worker thread so the event
loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)

DATA_DIR_ENV = "DEEPSEEK_LSP_DATA_DIR"
DB_NAME = "chat.sqlite3"

# Roles stored besides user/assistant: a compaction summary and a /clear marker start a new
# request history; a notice is shown to the user but never sent.
SUMMARY = "summary"
RESET = "reset"
NOTICE = "notice"
BOUNDARIES = frozenset({SUMMARY, RESET})

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            workspace TEXT,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            options TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            turn TEXT NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            display TEXT,
            reasoning TEXT,
            tool_calls TEXT,
            status TEXT NOT NULL,
            in_context INTEGER NOT NULL,
            model TEXT,
            usage TEXT,
            meta TEXT NOT NULL DEFAULT '{}',
            created REAL NOT NULL
        );
        CREATE INDEX messages_by_session ON messages(session_id, id);
        CREATE INDEX sessions_by_update ON sessions(updated DESC);
        """,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

USAGE_KEYS = (
    "promptTokens",
    "completionTokens",
    "promptCacheHitTokens",
    "promptCacheMissTokens",
    "reasoningTokens",
)


class StoreError(Exception):
    """The chat store could not be opened or written."""


def data_dir(env: dict[str, str] | None = None) -> Path:
    """`$DEEPSEEK_LSP_DATA_DIR`, else the platform's user data dir (e.g. ~/.local/share/deepseek-lsp)."""
    environ = os.environ if env is None else env
    override = environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("deepseek-lsp", appauthor=False))


def new_session_id() -> str:
    return "s-" + uuid.uuid4().hex[:16]


def new_turn_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Session:
    id: str
    title: str
    workspace: str | None
    created: float
    updated: float
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Message:
    id: int
    session_id: str
    turn: str
    role: str
    content: str
    status: str = "ok"
    in_context: bool = True
    display: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0


@dataclass
class SessionInfo:
    """A row of the session list."""

    session: Session
    messages: int
    totals: dict[str, Any]
    preview: str


def add_usage(totals: dict[str, Any], usage: dict[str, Any] | None) -> dict[str, Any]:
    """Sum a turn's usage (PROTOCOL.md's camelCase usage object) into `totals`."""
    if not usage:
        return totals
    for key in USAGE_KEYS:
        totals[key] = int(totals.get(key, 0)) + int(usage.get(key) or 0)
    totals["cost"] = round(float(totals.get("cost", 0.0)) + float(usage.get("cost") or 0.0), 8)
    totals["requests"] = int(totals.get("requests", 0)) + 1
    return totals


def empty_totals() -> dict[str, Any]:
    return {**dict.fromkeys(USAGE_KEYS, 0), "cost": 0.0, "requests": 0}


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ChatStore:
    """Sessions and their messages. Thread-safe: one connection behind a lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = 10000")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the chat store {self.path}: {exc}") from exc
        self._lock = threading.Lock()
        self.migrate()

    @classmethod
    def default(cls, env: dict[str, str] | None = None) -> ChatStore:
        return cls(data_dir(env) / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front (waits busy_timeout)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- schema ------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply missing migrations (safe when another server does the same at once)."""
        with self._write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied REAL NOT NULL)"
            )
            current = db.execute("SELECT COALESCE(MAX(version), 0) FROM migrations").fetchone()[0]
            for version, sql in MIGRATIONS:
                if version <= current:
                    continue
                for statement in (s.strip() for s in sql.split(";")):
                    if statement:
                        db.execute(statement)
                db.execute("INSERT INTO migrations VALUES (?, ?)", (version, time.time()))
                current = version
        if current > SCHEMA_VERSION:
            log.warning(
                "chat store %s has schema %d, newer than this server's %d",
                self.path,
                current,
                SCHEMA_VERSION,
            )
        return int(current)

    def schema_version(self) -> int:
        return int(self._read("SELECT MAX(version) FROM migrations")[0][0])

    # -- sessions ----------------------------------------------------------------------------
    def ensure_session(
        self, session_id: str, workspace: str | None = None, options: dict[str, Any] | None = None
    ) -> Session:
        """The session, created when new (a client may choose its own id)."""
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO sessions (id, title, workspace, created, updated, options) "
                "VALUES (?, '', ?, ?, ?, ?)",
                (session_id, workspace, now, now, _dumps(options or {})),
            )
        session = self.get_session(session_id)
        assert session is not None
        return session

    def get_session(self, session_id: str) -> Session | None:
        rows = self._read("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _session(rows[0]) if rows else None

    def list_sessions(self, workspace: str | None = None, limit: int = 200) -> list[SessionInfo]:
        """Newest first; with `workspace`, only that workspace's sessions. Reads only the columns
        a list needs, in one snapshot."""
        where, params = ("WHERE workspace = ?", (workspace,)) if workspace else ("", ())
        with self._lock:
            self._db.execute("BEGIN")
            try:
                rows = self._db.execute(
                    f"SELECT * FROM sessions {where} ORDER BY updated DESC LIMIT ?", (*params, limit)
                ).fetchall()
                ids = [r["id"] for r in rows]
                marks = ",".join("?" * len(ids))
                stats = self._db.execute(
                    f"SELECT session_id, role, display, content, usage FROM messages "
                    f"WHERE session_id IN ({marks}) "
                    "AND (role IN ('user', 'assistant') OR usage IS NOT NULL) ORDER BY id",
                    ids,
                ).fetchall()
            finally:
                self._db.execute("COMMIT")
        counts: dict[str, int] = {}
        previews: dict[str, str] = {}
        totals: dict[str, dict[str, Any]] = {}
        for st in stats:
            sid = st["session_id"]
            if st["role"] in ("user", "assistant"):
                counts[sid] = counts.get(sid, 0) + 1
            if st["role"] == "user" and sid not in previews:
                previews[sid] = (st["display"] or st["content"])[:120]
            add_usage(totals.setdefault(sid, empty_totals()), _loads(st["usage"]))
        return [
            SessionInfo(
                _session(r),
                counts.get(r["id"], 0),
                totals.get(r["id"], empty_totals()),
                previews.get(r["id"], ""),
            )
            for r in rows
        ]

    def rename(self, session_id: str, title: str) -> bool:
        with self._write() as db:
            cur = db.execute("UPDATE sessions SET title = ? WHERE id = ?", (title, session_id))
        return cur.rowcount > 0

    def delete(self, session_id: str) -> bool:
        with self._write() as db:
            db.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            cur = db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return cur.rowcount > 0

    def set_options(self, session_id: str, options: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute("UPDATE sessions SET options = ? WHERE id = ?", (_dumps(options), session_id))

    # -- messages ----------------------------------------------------------------------------
    def messages(self, session_id: str) -> list[Message]:
        rows = self._read("SELECT * FROM messages WHERE session_id = ? ORDER BY id", (session_id,))
        return [_message(r) for r in rows]

    def add(
        self,
        session_id: str,
        role: str,
        content: str,
        *,
        turn: str | None = None,
        in_context: bool = False,
        status: str = "ok",
        display: str | None = None,
        reasoning: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        model: str | None = None,
        usage: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> int:
        """Append one message in its own transaction; returns its id."""
        with self._write() as db:
            return self._insert(
                db,
                session_id,
                role,
                content,
                turn=turn or new_turn_id(),
                in_context=in_context,
                status=status,
                display=display,
                reasoning=reasoning,
                tool_calls=tool_calls,
                model=model,
                usage=usage,
                meta=meta,
            )

    def _insert(
        self,
        db: sqlite3.Connection,
        session_id: str,
        role: str,
        content: str,
        *,
        turn: str,
        in_context: bool,
        status: str,
        display: str | None,
        reasoning: str | None,
        tool_calls: list[dict[str, Any]] | None,
        model: str | None,
        usage: dict[str, Any] | None,
        meta: dict[str, Any] | None,
    ) -> int:
        now = time.time()
        cur = db.execute(
            "INSERT INTO messages (session_id, turn, role, content, display, reasoning, tool_calls,"
            " status, in_context, model, usage, meta, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                turn,
                role,
                content,
                display,
                reasoning,
                _dumps(tool_calls),
                status,
                int(in_context),
                model,
                _dumps(usage),
                _dumps(meta or {}),
                now,
            ),
        )
        db.execute("UPDATE sessions SET updated = ? WHERE id = ?", (now, session_id))
        return int(cur.lastrowid or 0)

    def begin_turn(
        self,
        session_id: str,
        turn: str,
        content: str,
        display: str,
        meta: dict[str, Any] | None = None,
    ) -> int:
        """Record the user's message as pending: shown when resuming, never sent until completed."""
        return self.add(
            session_id,
            "user",
            content,
            turn=turn,
            in_context=False,
            status="pending",
            display=display,
            meta=meta,
        )

    def complete_turn(
        self,
        session_id: str,
        user_id: int,
        turn: str,
        content: str,
        *,
        reasoning: str | None,
        model: str,
        usage: dict[str, Any] | None,
        tool_calls: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> int:
        """The user's message and the reply enter the history together, in one commit.

        An untitled session takes `title`, else the start of its first message."""
        with self._write() as db:
            db.execute("UPDATE messages SET status = 'ok', in_context = 1 WHERE id = ?", (user_id,))
            row_id = self._insert(
                db,
                session_id,
                "assistant",
                content,
                turn=turn,
                in_context=True,
                status="ok",
                display=None,
                reasoning=reasoning,
                tool_calls=tool_calls,
                model=model,
                usage=usage,
                meta=meta,
            )
            title_row = db.execute("SELECT title FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if title_row is not None and not title_row[0]:
                user = db.execute("SELECT display, content FROM messages WHERE id = ?", (user_id,)).fetchone()
                db.execute(
                    "UPDATE sessions SET title = ? WHERE id = ?",
                    (make_title(title or user[0] or user[1]), session_id),
                )
        return row_id

    def abort_turn(
        self,
        session_id: str,
        user_id: int,
        turn: str,
        status: str,
        content: str,
        *,
        reasoning: str | None = None,
        model: str | None = None,
        usage: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """A cancelled or failed turn: kept for the record, out of the history sent to DeepSeek."""
        with self._write() as db:
            db.execute("UPDATE messages SET status = ? WHERE id = ?", (status, user_id))
            if content or reasoning or usage:
                self._insert(
                    db,
                    session_id,
                    "assistant",
                    content,
                    turn=turn,
                    in_context=False,
                    status=status,
                    display=None,
                    reasoning=reasoning,
                    tool_calls=None,
                    model=model,
                    usage=usage,
                    meta=meta,
                )

    def totals(self, session_id: str) -> dict[str, Any]:
        totals = empty_totals()
        for (usage,) in self._read(
            "SELECT usage FROM messages WHERE session_id = ? AND usage IS NOT NULL", (session_id,)
        ):
            add_usage(totals, _loads(usage))
        return totals


def make_title(text: str, limit: int = 60) -> str:
    """A session title from its first message: the first line, shortened at a word."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "") or "Chat"
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0] or line[:limit]
    return cut.rstrip(" ,.;:") + "…"


def _session(row: sqlite3.Row) -> Session:
    return Session(
        id=row["id"],
        title=row["title"],
        workspace=row["workspace"],
        created=row["created"],
        updated=row["updated"],
        options=_loads(row["options"]) or {},
    )


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        turn=row["turn"],
        role=row["role"],
        content=row["content"],
        status=row["status"],
        in_context=bool(row["in_context"]),
        display=row["display"],
        reasoning=row["reasoning"],
        tool_calls=_loads(row["tool_calls"]),
        model=row["model"],
        usage=_loads(row["usage"]),
        meta=_loads(row["meta"]) or {},
        created=row["created"],
    )


P = ParamSpec("P")
R = TypeVar("R")


class AsyncChatStore:
    """The same store for the event loop: every call runs in a worker thread."""

    def __init__(self, store: ChatStore) -> None:
        self.sync = store

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))
