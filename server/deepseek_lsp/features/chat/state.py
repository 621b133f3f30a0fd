"""What the chat glue keeps per server, and what a turn captured when its command arrived."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...chat import commands as cmds
from ...chat.store import AsyncChatStore, ChatStore, StoreError, empty_totals
from ...context import DocumentSnapshot
from ..common import LspDiagnostic


@dataclass
class Turn:
    """What the command handler captured synchronously (documents as they were when sent)."""

    session_id: str
    parsed: cmds.Parsed
    references: tuple[cmds.Reference, ...]
    workspace: str | None
    document: DocumentSnapshot | None
    start: int
    end: int
    thinking: bool | str | None
    diagnostics: list[LspDiagnostic]


@dataclass
class ChatState:
    """Per-server chat state: the store, one lock per session, limits learned from 400s."""

    env: dict[str, str] | None = None
    store: AsyncChatStore | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    learned_limits: dict[str, int] = field(default_factory=dict)
    strip_reasoning: set[str] = field(default_factory=set)  # models that refused reasoning_content
    session_usage: dict[str, dict[str, Any]] = field(default_factory=dict)
    active: str | None = None
    running: dict[str, set[str]] = field(default_factory=dict)  # session -> its running job ids
    _opening: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def open(self, warn: Callable[[str], None]) -> AsyncChatStore:
        """The store, opened on first use. It does not fail: a file it cannot use leaves it in
        memory, and `warn` (window/showMessage) tells the user once why and what to do."""
        async with self._opening:
            if self.store is None:
                try:
                    sync = await asyncio.to_thread(ChatStore.default, self.env)
                except (StoreError, OSError, sqlite3.Error) as exc:  # ChatStore.default falls back itself
                    warn(
                        f"deepseek-lsp: chat sessions will not be saved ({exc}). Set "
                        "DEEPSEEK_LSP_DATA_DIR to a writable directory."
                    )
                    sync = await asyncio.to_thread(ChatStore, ":memory:")
                self.store = AsyncChatStore(sync, on_notice=warn)
                self.store.report()
            return self.store

    def unsaved(self) -> list[str] | None:
        """The `warnings` of a turn's final notification while the history is not being saved."""
        problem = self.store.problem if self.store is not None else None
        return [problem] if problem else None

    def lock(self, session_id: str) -> asyncio.Lock:
        return self.locks.setdefault(session_id, asyncio.Lock())

    def status(self) -> dict[str, Any]:
        return {
            "activeSession": self.active,
            "sessions": {sid: dict(u) for sid, u in self.session_usage.items()},
            "usage": self.session_usage.get(self.active, empty_totals()) if self.active else None,
        }
