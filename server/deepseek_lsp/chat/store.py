"""Chat sessions on disk: one SQLite file in the user's data directory.

Why SQLite: a completed turn must survive the server being killed (SIGKILL) the moment after,
and two servers (two editor windows) may write at once. So: WAL journal, a busy timeout,
`BEGIN IMMEDIATE` for every write (no lock upgrades that could deadlock), synchronous=FULL,
and each completed turn committed in its own transaction before the client hears "done".
The schema is versioned by a `migrations` table; migrations only ever add.

The store never takes the chat down with it. A file that cannot be written (read-only, disk
full, an I/O error) turns it into an in-memory copy of everything it held, so the conversation
goes on with its context and `problem` says, once, why nothing is saved any more. A file deleted
or replaced while the server runs is noticed at the next write (its device and inode changed)
and recreated from the connection, which still holds the deleted file's content. A file that is
not a database is renamed aside, never deleted, and a fresh store starts beside it.

This module is synchronous; `AsyncChatStore` runs every call in a worker thread so the event
loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from ..tokens import replace_surrogates

log = logging.getLogger(__name__)

DATA_DIR_ENV = "DEEPSEEK_LSP_DATA_DIR"
DB_NAME = "chat.sqlite3"
BUSY_TIMEOUT = 10.0  # seconds another server may hold the write lock before a write gives up
OPEN_DEADLINE = 10.0  # seconds to keep retrying the journal-mode switch while others hold locks

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
    """The chat store could not be opened or written; `reason` is fit to show the user."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot use the chat store {path}: {reason}")
        self.path = path
        self.reason = reason


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
    """Sum a turn's usage (the camelCase usage object of docs/protocol.md) into `totals`."""
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


# SQLite primary result codes (`exc.sqlite_errorcode & 0xFF`).
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 3, 5, 6, 8, 10, 11, 13, 14, 26
# The file cannot be read or written: not a bug of ours, and waiting will not help.
STORAGE_FAULTS = frozenset({_PERM, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB})
_DAMAGED = frozenset({_CORRUPT, _NOTADB})
_CONTENDED = frozenset({_BUSY, _LOCKED})

T = TypeVar("T")


def error_code(exc: BaseException) -> int | None:
    """The primary SQLite result code of `exc`, if it carries one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def describe(exc: BaseException) -> str:
    """Why the store failed, in the user's words, with SQLite's or the OS's own text."""
    code = error_code(exc)
    plain = {
        _READONLY: "the file or its folder is read-only",
        _PERM: "permission denied",
        _CANTOPEN: "the file cannot be opened or created",
        _FULL: "the disk is full",
        _IOERR: "a disk write failed",
        _CORRUPT: "the file is damaged",
        _NOTADB: "the file is not a SQLite database",
    }.get(code or -1)
    if isinstance(exc, OSError):
        detail = exc.strerror or str(exc)
        return f"{detail}: {exc.filename}" if exc.filename else detail
    return f"{plain}: {exc}" if plain else str(exc)


def unsaved_message(path: str, reason: str) -> str:
    """What the user reads when turns are kept in memory only: where, why, what to do."""
    folder = Path(path).parent
    return (
        f"DeepSeek chat: the chat history cannot be saved to {path} ({reason}). Chat still works "
        "and this session keeps its context, but new turns are kept in memory only and are lost "
        f"when the server stops. To keep them, make {folder} writable (check its permissions and "
        f"free disk space) or set {DATA_DIR_ENV} to a writable folder, then restart the server."
    )


def _ident(path: str) -> tuple[int, int] | None:
    """The file's (device, inode): it changes when the file is deleted and created again."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _memory() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA foreign_keys = ON")
    return db


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, waiting for other servers.

    Why the loop: changing the journal mode needs an exclusive lock, and SQLite answers
    SQLITE_BUSY at once, without calling the busy handler, while another connection holds any
    lock on the file (another server opening or migrating the same new file). That made two
    servers that open a new store at the same moment fail now and then."""
    deadline = time.monotonic() + OPEN_DEADLINE
    pause = 0.002
    while True:
        try:
            if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                db.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if error_code(exc) not in _CONTENDED or time.monotonic() > deadline:
                raise
        time.sleep(pause)  # a worker thread, never the event loop; nothing to wait on but time
        pause = min(pause * 2, 0.05)


def _connect(path: str) -> sqlite3.Connection:
    """A connection to the file, configured: busy timeout first, so every later statement waits."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    try:
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        _use_wal(db)
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        db.close()
        raise
    return db


def _in_transaction(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work` in one write transaction; IMMEDIATE takes the write lock up front (waits busy_timeout),
    so no lock upgrade can deadlock two servers."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work(db)
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    return result


def _migrate(db: sqlite3.Connection) -> int:
    """Apply missing migrations in one IMMEDIATE transaction: two servers migrating the same
    new file at once serialise, and the second finds nothing left to do."""

    def work(db: sqlite3.Connection) -> int:
        db.execute(
            "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied REAL NOT NULL)"
        )
        current = int(db.execute("SELECT COALESCE(MAX(version), 0) FROM migrations").fetchone()[0])
        for version, sql in MIGRATIONS:
            if version <= current:
                continue
            for statement in (s.strip() for s in sql.split(";")):
                if statement:
                    db.execute(statement)
            db.execute("INSERT INTO migrations VALUES (?, ?)", (version, time.time()))
            current = version
        return current

    return _in_transaction(db, work)


def _abandon(db: sqlite3.Connection) -> None:
    """Keep a connection to a replaced file open for the life of the process.

    Closing the last connection to a WAL file checkpoints it and then deletes `<path>-wal` and
    `<path>-shm` *by name*; once another file stands at the path, those names are the new
    file's. An extra reference means it is never closed; the OS releases it at exit."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(db))


_MESSAGE_COLUMNS = (
    "session_id, turn, role, content, display, reasoning, tool_calls, status, in_context, model, "
    "usage, meta, created"
)


def _merge(db: sqlite3.Connection, source: sqlite3.Connection) -> int:
    """Copy into `db` what `source` holds and `db` lacks; returns the messages added.

    Sessions match by id, messages by (session, turn, role, created); a pending turn completed in
    `source` is completed in `db`. Added rows get new ids, so a summary's `keep_from` (a row id)
    is mapped to the id its first kept row received."""
    sessions = source.execute("SELECT * FROM sessions").fetchall()
    rows = source.execute("SELECT * FROM messages ORDER BY id").fetchall()

    def work(db: sqlite3.Connection) -> int:
        for s in sessions:
            db.execute(
                "INSERT OR IGNORE INTO sessions (id, title, workspace, created, updated, options) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (s["id"], s["title"], s["workspace"], s["created"], s["updated"], s["options"]),
            )
        new_id: dict[int, int] = {}
        added: list[tuple[int, sqlite3.Row]] = []
        for r in rows:
            found = db.execute(
                "SELECT id, status FROM messages WHERE session_id = ? AND turn = ? AND role = ? AND created = ?",
                (r["session_id"], r["turn"], r["role"], r["created"]),
            ).fetchone()
            if found is not None:
                new_id[r["id"]] = int(found["id"])
                if found["status"] == "pending" and r["status"] != "pending":
                    db.execute(
                        "UPDATE messages SET status = ?, in_context = ? WHERE id = ?",
                        (r["status"], r["in_context"], found["id"]),
                    )
                continue
            cur = db.execute(
                f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(r[c.strip()] for c in _MESSAGE_COLUMNS.split(",")),
            )
            new_id[r["id"]] = int(cur.lastrowid or 0)
            added.append((new_id[r["id"]], r))
        for row_id, r in added:
            meta = _loads(r["meta"]) or {}
            if r["role"] != SUMMARY or "keep_from" not in meta:
                continue
            first = next(
                (
                    x["id"]
                    for x in rows
                    if x["session_id"] == r["session_id"] and x["id"] >= meta["keep_from"]
                ),
                r["id"],
            )
            meta["keep_from"] = new_id[first]
            db.execute("UPDATE messages SET meta = ? WHERE id = ?", (_dumps(meta), row_id))
        return len(added)

    return _in_transaction(db, work)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


class ChatStore:
    """Sessions and their messages. Thread-safe: one connection behind a lock.

    `on_disk` tells whether writes reach the file; when they cannot, `problem` says why (fit to
    show the user) and the store goes on in memory. `take_notices()` hands out, once each, the
    messages the user should see about the store (damaged file set aside, file recreated, history
    no longer saved)."""

    def __init__(self, path: Path | str, *, fallback: bool = False) -> None:
        """Open (and migrate) the store at `path`. A damaged file is set aside and replaced. Any other
        failure raises StoreError, or with `fallback` leaves the store in memory with a `problem`."""
        self.path = str(path)
        self._lock = threading.Lock()
        self._ident: tuple[int, int] | None = None  # the file this connection has open
        self._companions: dict[str, tuple[int, int] | None] = {}  # its -wal and -shm
        self._notices: list[str] = []
        self.problem: str | None = None
        self.on_disk = self.path != ":memory:"
        if not self.on_disk:
            self._db = _memory()
            _migrate(self._db)
            return
        try:
            self._db = self._open_file()
        except StoreError as exc:
            if not fallback:
                raise
            log.warning("%s", exc)
            self._db = self._readable_copy()
            self._to_memory(exc.reason)

    @classmethod
    def default(cls, env: dict[str, str] | None = None) -> ChatStore:
        """The user's store; never fails: an unusable file leaves it in memory with a `problem`."""
        return cls(data_dir(env) / DB_NAME, fallback=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def take_notices(self) -> list[str]:
        """Messages for the user about the store, each handed out once."""
        with self._lock:
            notices, self._notices = self._notices, []
        return notices

    # -- opening and recovering ------------------------------------------------------------
    def _open_file(self) -> sqlite3.Connection:
        """Connect and migrate; a file that is not a database (or is damaged) is set aside first."""
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(self.path, describe(exc)) from exc
        for attempt in range(2):
            ident = _ident(self.path)
            db: sqlite3.Connection | None = None
            try:
                db = _connect(self.path)
                _migrate(db)
            except sqlite3.Error as exc:
                if db is not None:
                    db.close()
                if error_code(exc) in _DAMAGED and attempt == 0 and ident is not None:
                    self._set_aside(exc, ident)
                    continue
                raise StoreError(self.path, describe(exc)) from exc
            self._remember_files()
            return db
        raise AssertionError("unreachable")  # pragma: no cover

    def _set_aside(self, exc: sqlite3.Error, ident: tuple[int, int]) -> None:
        """Rename a damaged file (and its -wal/-shm) to `<name>.corrupt-<time>`: the user's data is
        never deleted, and a fresh store can start at the path."""
        if _ident(self.path) != ident:
            return  # another server already set it aside and started a fresh one
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = f"{self.path}.corrupt-{stamp}"
        try:
            os.replace(self.path, target)
        except OSError as err:
            raise StoreError(
                self.path, f"{describe(exc)}, and it cannot be moved aside: {describe(err)}"
            ) from exc
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.replace(self.path + suffix, target + suffix)
        log.warning("the chat store %s was damaged (%s); moved to %s", self.path, exc, target)
        self._notices.append(
            f"DeepSeek chat: the chat history file {self.path} is damaged ({describe(exc)}) and "
            f"cannot be read. It was kept as {target} and a new, empty history was started."
        )

    def _readable_copy(self) -> sqlite3.Connection:
        """An in-memory copy of whatever of the file can still be read (read-only, immutable)."""
        mem = _memory()
        for query in ("mode=ro", "immutable=1"):
            try:
                src = sqlite3.connect(f"{Path(self.path).as_uri()}?{query}", uri=True)
                try:
                    src.execute("SELECT COUNT(*) FROM sessions").fetchone()
                    src.backup(mem)
                finally:
                    src.close()
                break
            except sqlite3.Error:
                continue
        _migrate(mem)
        return mem

    def _to_memory(self, reason: str) -> None:
        """Go on in memory with everything the current connection holds; say why, once."""
        mem = _memory()
        try:
            self._db.backup(mem)
        except sqlite3.Error as exc:  # not even readable: the history so far stays in the file
            log.warning("could not copy the chat store to memory: %s", exc)
        _migrate(mem)
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._db = mem
        self._ident = None
        self.on_disk = False
        self.problem = unsaved_message(self.path, reason)
        log.warning("%s", self.problem)
        self._notices.append(self.problem)

    def _follow_file(self) -> None:
        """Before a write: if the file was deleted or replaced, recreate it from this connection
        (which still reads the deleted file), or merge into the new one, so no turn is lost."""
        try:
            now = _ident(self.path)
        except OSError:
            return  # e.g. the folder became unreadable: the write itself will tell
        if now == self._ident:
            return
        replaced = now is not None
        log.warning(
            "the chat store %s was %s; restoring it", self.path, "replaced" if replaced else "deleted"
        )
        folder = Path(self.path).parent
        tmp = folder / f".{Path(self.path).name}.restore-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            copy = sqlite3.connect(tmp, isolation_level=None)
            try:
                self._db.backup(copy)
            finally:
                copy.close()
        except (OSError, sqlite3.Error) as exc:
            _remove(tmp)
            self._to_memory(f"it was deleted and cannot be created again: {describe(exc)}")
            return
        old = self._db
        linked = False
        try:
            if self._companions_are_ours():
                old.close()  # checkpoints into the old file and removes its -wal/-shm
                for suffix, ident in self._companions.items():
                    if ident is not None and _ident(self.path + suffix) == ident:
                        # still there: another server is still on the old file; out of the way
                        os.replace(self.path + suffix, f"{tmp}{suffix}.orphan")
            else:
                _abandon(old)  # see _abandon: the -wal/-shm names are the new file's
            if not replaced:
                with contextlib.suppress(FileExistsError):  # another server was quicker: merge
                    os.link(tmp, self.path)
                    linked = True
            if linked:
                _remove(tmp)  # one name per file: a second name would get its own -wal
            self._db = _connect(self.path)
            _migrate(self._db)
            if not linked:
                copy = sqlite3.connect(tmp, isolation_level=None)
                copy.row_factory = sqlite3.Row
                try:
                    _merge(self._db, copy)
                finally:
                    copy.close()
            self._remember_files()
        except (OSError, sqlite3.Error) as exc:
            self._db = _memory()
            with contextlib.suppress(sqlite3.Error):
                saved = sqlite3.connect(self.path if linked else tmp)
                saved.backup(self._db)
                saved.close()
            self._to_memory(f"it was deleted and cannot be created again: {describe(exc)}")
            return
        finally:
            for leftover in ("", "-wal", "-shm", "-wal.orphan", "-shm.orphan"):
                _remove(Path(f"{tmp}{leftover}"))
        what = (
            "replaced by another file; this server's history was merged into it"
            if replaced
            else ("deleted while the server was running; it was recreated from this server's copy")
        )
        self._notices.append(f"DeepSeek chat: the chat history file {self.path} was {what}.")

    def _remember_files(self) -> None:
        self._ident = _ident(self.path)
        self._companions = {suffix: _ident(self.path + suffix) for suffix in ("-wal", "-shm")}

    def _companions_are_ours(self) -> bool:
        """Whether `<path>-wal` and `<path>-shm` are absent or still this connection's, so
        closing it (which deletes them by name) cannot delete another file's."""
        return all(_ident(self.path + suffix) in (None, ident) for suffix, ident in self._companions.items())

    # -- transactions ------------------------------------------------------------------------
    def _transact(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """One write. A file that can no longer be written (read-only, full, I/O error, damaged)
        does not fail the write: the store goes on in memory and says so once (`problem`)."""
        with self._lock:
            if self.on_disk:
                self._follow_file()
            try:
                return _in_transaction(self._db, work)
            except sqlite3.Error as exc:
                code = error_code(exc)
                if code in _CONTENDED:
                    raise StoreError(
                        self.path, f"another process kept it locked for {BUSY_TIMEOUT:.0f} s"
                    ) from exc
                if not self.on_disk or code not in STORAGE_FAULTS:
                    raise
                log.warning("chat store write failed: %s", exc)
                self._to_memory(describe(exc))
            return _in_transaction(self._db, work)

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- schema ------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply missing migrations (safe when another server does the same at once)."""
        with self._lock:
            current = _migrate(self._db)
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
        self._transact(
            lambda db: db.execute(
                "INSERT OR IGNORE INTO sessions (id, title, workspace, created, updated, options) "
                "VALUES (?, '', ?, ?, ?, ?)",
                (session_id, workspace, now, now, _dumps(options or {})),
            )
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
        cur = self._transact(
            lambda db: db.execute("UPDATE sessions SET title = ? WHERE id = ?", (title, session_id))
        )
        return cur.rowcount > 0

    def delete(self, session_id: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            db.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            return db.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0

        return self._transact(work)

    def set_options(self, session_id: str, options: dict[str, Any]) -> None:
        self._transact(
            lambda db: db.execute(
                "UPDATE sessions SET options = ? WHERE id = ?", (_dumps(options), session_id)
            )
        )

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
        return self._transact(
            lambda db: self._insert(
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
        # SQLite stores UTF-8, which has no lone surrogates (a document may hold one): the stored
        # copy gets U+FFFD, as the copy sent to the model does; the document keeps its own.
        content = replace_surrogates(content)
        display = replace_surrogates(display) if display is not None else None
        reasoning = replace_surrogates(reasoning) if reasoning is not None else None
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

        The user's row is `user_id` (what `begin_turn` returned), found by its turn id when a
        store recreated mid-turn gave it another. An untitled session takes `title`, else the
        start of its first message."""

        def work(db: sqlite3.Connection) -> int:
            uid = _user_row(db, session_id, user_id, turn)
            db.execute("UPDATE messages SET status = 'ok', in_context = 1 WHERE id = ?", (uid,))
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
                user = db.execute("SELECT display, content FROM messages WHERE id = ?", (uid,)).fetchone()
                first = title or (user[0] or user[1] if user is not None else content)
                db.execute("UPDATE sessions SET title = ? WHERE id = ?", (make_title(first), session_id))
            return row_id

        return self._transact(work)

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

        def work(db: sqlite3.Connection) -> None:
            uid = _user_row(db, session_id, user_id, turn)
            db.execute("UPDATE messages SET status = ? WHERE id = ?", (status, uid))
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

        self._transact(work)

    def totals(self, session_id: str) -> dict[str, Any]:
        totals = empty_totals()
        for (usage,) in self._read(
            "SELECT usage FROM messages WHERE session_id = ? AND usage IS NOT NULL", (session_id,)
        ):
            add_usage(totals, _loads(usage))
        return totals


def _user_row(db: sqlite3.Connection, session_id: str, user_id: int, turn: str) -> int:
    """The id of a turn's user message: `user_id` unless a merge renumbered it."""
    row = db.execute(
        "SELECT id FROM messages WHERE session_id = ? AND turn = ? AND role = 'user' ORDER BY id = ? DESC",
        (session_id, turn, user_id),
    ).fetchone()
    return int(row[0]) if row is not None else user_id


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
    """The same store for the event loop: every call runs in a worker thread. After each call the
    store's notices (file set aside, recreated, no longer saved) go to `on_notice`, once each."""

    def __init__(self, store: ChatStore, on_notice: Callable[[str], None] | None = None) -> None:
        self.sync = store
        self.on_notice = on_notice

    @property
    def problem(self) -> str | None:
        """Why turns are no longer saved to disk (None while they are)."""
        return self.sync.problem

    def report(self) -> None:
        for notice in self.sync.take_notices():
            if self.on_notice is not None:
                self.on_notice(notice)

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))
        finally:
            self.report()
