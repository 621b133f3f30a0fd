"""Chat: `deepseek.chat` and the session commands (docs/protocol.md, "Chat").

The glue only: parsing, history, storage and transcripts live in `deepseek_lsp.chat`; a turn's
run is `turn.py`, its `#references` `references.py`, the shared state `state.py`.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from ...chat import commands as cmds
from ...chat.store import (
    AsyncChatStore,
    Message,
    Session,
    new_session_id,
)
from ...chat.transcript import to_markdown
from ...context import DocumentSnapshot
from ...server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from ..common import (
    Args,
    LspDiagnostic,
    LspRange,
    parse_args,
    snapshot,
    workspace_root,
)
from .state import ChatState, Turn
from .turn import dry_run_turn, run_turn

CHAT = "deepseek.chat"
Effort = Literal["low", "high", "max"]


class ChatArgs(Args):
    message: str
    session_id: str | None = None
    uri: str | None = None
    range: LspRange | None = None
    thinking: bool | Effort | None = None
    diagnostics: list[LspDiagnostic] | None = None
    dry_run: bool = False  # measure and price the request, send nothing, start no job


class SessionArgs(Args):
    session_id: str


class RenameArgs(SessionArgs):
    title: str


class ListArgs(Args):
    all: bool = False
    limit: int = 100


def register(ls: DeepSeekLanguageServer) -> None:
    state = ChatState(env=dict(ls.services.env) if ls.services.env is not None else None)
    ls.services.status_extra["chat"] = state.status

    def warn(message: str) -> None:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))

    async def store() -> AsyncChatStore:
        return await state.open(warn)

    @ls.command(CHAT)
    async def chat(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        # async for dryRun; a real turn captures its document before the first await
        a = parse_args(ChatArgs, args, CHAT)
        turn = capture(ls, a)
        if a.dry_run:
            return await dry_run_turn(ls, state, warn, turn)
        job = ls.services.jobs.start(
            "chat",
            lambda job: run_turn(ls, state, warn, job, turn),
            uri=a.uri,
            range=a.range.model_dump() if a.range and a.uri else None,
            title="DeepSeek: Chat",
            request_id=ls.protocol.msg_id,
        )
        return {"jobId": job.id, "sessionId": turn.session_id}

    @ls.command("deepseek.chat.sessions")
    async def sessions(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        a = parse_args(ListArgs, args or ({},), "deepseek.chat.sessions")
        s = await store()
        infos = await s.call(s.sync.list_sessions, None if a.all else workspace_root(ls), a.limit)
        return {
            "sessions": [
                {
                    "sessionId": i.session.id,
                    "title": i.session.title,
                    "workspace": i.session.workspace,
                    "created": iso(i.session.created),
                    "updated": iso(i.session.updated),
                    "messages": i.messages,
                    "preview": i.preview,
                    "usage": i.totals,
                }
                for i in infos
            ]
        }

    @ls.command("deepseek.chat.history")
    async def session_history(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        a = parse_args(SessionArgs, args, "deepseek.chat.history")
        s = await store()
        session, rows = await session_and_messages(s, a.session_id)
        totals = await s.call(s.sync.totals, a.session_id)
        state.active = a.session_id
        state.session_usage[a.session_id] = totals
        return {
            "sessionId": session.id,
            "title": session.title,
            "options": session.options,
            "messages": [message_json(m) for m in rows],
            "usage": totals,
        }

    @ls.command("deepseek.chat.rename")
    async def rename(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, bool]:
        a = parse_args(RenameArgs, args, "deepseek.chat.rename")
        s = await store()
        return {"renamed": await s.call(s.sync.rename, a.session_id, a.title.strip())}

    @ls.command("deepseek.chat.delete")
    async def delete(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, bool]:
        a = parse_args(SessionArgs, args, "deepseek.chat.delete")
        for job_id in state.running.pop(a.session_id, set()):
            ls.services.jobs.cancel(job_id)  # a reply into a deleted session goes nowhere
        s = await store()
        state.session_usage.pop(a.session_id, None)
        if state.active == a.session_id:
            state.active = None
        return {"deleted": await s.call(s.sync.delete, a.session_id)}

    @ls.command("deepseek.chat.export")
    async def export(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, str]:
        a = parse_args(SessionArgs, args, "deepseek.chat.export")
        s = await store()
        session, rows = await session_and_messages(s, a.session_id)
        return {"sessionId": session.id, "title": session.title, "markdown": to_markdown(session, rows)}


async def session_and_messages(s: AsyncChatStore, session_id: str) -> tuple[Session, list[Message]]:
    """A session and its messages, or InvalidParams naming the unknown id."""
    session = await s.call(s.sync.get_session, session_id)
    if session is None:
        raise JsonRpcInvalidParams(f"no chat session {session_id}")
    return session, await s.call(s.sync.messages, session_id)


# -- the command handler's synchronous part --------------------------------------------------


def capture(ls: DeepSeekLanguageServer, a: ChatArgs) -> Turn:
    """Parse the message and snapshot the document now: ranges are valid only at this moment."""
    if not a.message.strip():
        raise JsonRpcInvalidParams(f"{CHAT}: the message is empty")
    parsed = cmds.parse(a.message)
    session_id = a.session_id or new_session_id()
    if parsed.command is not None and parsed.command.name == "new":
        session_id = new_session_id()
        if parsed.argument:  # "/new <question>": the question opens the new session
            parsed = cmds.parse(parsed.argument)
    document: DocumentSnapshot | None = None
    start = end = 0
    if a.uri:
        document = snapshot(ls, a.uri)
        if a.range is not None:
            start, end = ls.offsets(document.text, a.range.to_lsp())
    refs = cmds.references_for(parsed, has_document=document is not None, has_selection=end > start)
    return Turn(
        session_id,
        parsed,
        refs,
        workspace_root(ls),
        document,
        start,
        end,
        a.thinking,
        list(a.diagnostics or []),
    )


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def message_json(m: Message) -> dict[str, Any]:
    """A stored message for a client to render: the user's text as typed, never the expansion."""
    out: dict[str, Any] = {
        "id": m.id,
        "turn": m.turn,
        "role": m.role,
        "content": m.display if m.role == "user" and m.display is not None else m.content,
        "status": m.status,
        "inContext": m.in_context,
        "created": iso(m.created),
    }
    if m.reasoning:
        out["reasoning"] = m.reasoning
    if m.model:
        out["model"] = m.model
    if m.usage:
        out["usage"] = m.usage
    for key in ("attachments", "finishReason", "command", "error"):
        if key in m.meta:
            out[key] = m.meta[key]
    return out
