"""Chat: `deepseek.chat` turns and the session commands (PROTOCOL.md plus docs/protocol.md).

The glue only: parsing, history, storage and transcripts live in `deepseek_lsp.chat`. A turn
runs as a job; its messages are the session's stored history plus the new question, so each
request repeats the previous one as its exact prefix. The turn enters the stored history only
once the reply completed, and is committed before the client hears `done`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import from_fs_path

from .. import prompts
from ..chat import commands as cmds
from ..chat import history
from ..chat.store import (
    RESET,
    SUMMARY,
    AsyncChatStore,
    ChatStore,
    Message,
    StoreError,
    empty_totals,
    new_session_id,
    new_turn_id,
)
from ..chat.transcript import to_markdown
from ..client import StreamResult
from ..context import DocumentSnapshot
from ..errors import DeepSeekError
from ..jobs import Job
from ..payload import chat_body, is_thinking
from ..server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from .common import (
    Args,
    LspDiagnostic,
    LspRange,
    _guess_language,
    diagnostics_for,
    gather_context,
    parse_args,
    snapshot,
    workspace_root,
)

log = logging.getLogger(__name__)

CHAT = "deepseek.chat"
SYSTEM = prompts.SYSTEM_PROMPT  # shared with every action: one cached prefix for all
SUMMARY_MAX_TOKENS = 1200
MAX_FILE_BYTES = 1_000_000

Effort = Literal["low", "medium", "high", "max"]
T = TypeVar("T")


class ChatArgs(Args):
    message: str
    session_id: str | None = None
    uri: str | None = None
    range: LspRange | None = None
    thinking: bool | Effort | None = None
    diagnostics: list[LspDiagnostic] | None = None


class SessionArgs(Args):
    session_id: str


class RenameArgs(SessionArgs):
    title: str


class ListArgs(Args):
    all: bool = False
    limit: int = 100


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
        async with self._opening:
            if self.store is None:
                try:
                    sync = await asyncio.to_thread(ChatStore.default, self.env)
                except (StoreError, OSError, sqlite3.Error) as exc:
                    warn(
                        f"deepseek-lsp: chat sessions will not be saved ({exc}). Set "
                        "DEEPSEEK_LSP_DATA_DIR to a writable directory."
                    )
                    sync = await asyncio.to_thread(ChatStore, ":memory:")
                self.store = AsyncChatStore(sync)
            return self.store

    def lock(self, session_id: str) -> asyncio.Lock:
        return self.locks.setdefault(session_id, asyncio.Lock())

    def status(self) -> dict[str, Any]:
        return {
            "activeSession": self.active,
            "sessions": {sid: dict(u) for sid, u in self.session_usage.items()},
            "usage": self.session_usage.get(self.active, empty_totals()) if self.active else None,
        }


def register(ls: DeepSeekLanguageServer) -> None:
    state = ChatState(env=dict(ls.services.env) if ls.services.env is not None else None)
    ls.chat = state  # type: ignore[attr-defined]
    extra = getattr(ls.services, "status_extra", None)
    if isinstance(extra, dict):
        extra["chat"] = state.status

    def warn(message: str) -> None:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))

    async def store() -> AsyncChatStore:
        return await state.open(warn)

    @ls.command(CHAT)
    def chat(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, str]:
        a = parse_args(ChatArgs, args, CHAT)
        turn = capture(ls, a)
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
        session = await s.call(s.sync.get_session, a.session_id)
        if session is None:
            raise JsonRpcInvalidParams(f"no chat session {a.session_id}")
        rows = await s.call(s.sync.messages, a.session_id)
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
        session = await s.call(s.sync.get_session, a.session_id)
        if session is None:
            raise JsonRpcInvalidParams(f"no chat session {a.session_id}")
        rows = await s.call(s.sync.messages, a.session_id)
        return {"sessionId": session.id, "title": session.title, "markdown": to_markdown(session, rows)}


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


# -- one turn ---------------------------------------------------------------------------------


async def run_turn(
    ls: DeepSeekLanguageServer,
    state: ChatState,
    warn: Callable[[str], None],
    job: Job,
    turn: Turn,
) -> None:
    sid = turn.session_id
    state.running.setdefault(sid, set()).add(job.id)
    try:
        await _run_turn(ls, state, warn, job, turn)
    finally:
        state.running.get(sid, set()).discard(job.id)


async def _run_turn(
    ls: DeepSeekLanguageServer,
    state: ChatState,
    warn: Callable[[str], None],
    job: Job,
    turn: Turn,
) -> None:
    s = await state.open(warn)
    sid = turn.session_id
    async with state.lock(sid):
        session = await s.call(s.sync.ensure_session, sid, turn.workspace)
        state.active = sid
        if sid not in state.session_usage:
            state.session_usage[sid] = await s.call(s.sync.totals, sid)
        parsed = turn.parsed
        if parsed.unknown or (parsed.command is not None and parsed.command.local):
            await local_command(ls, state, s, job, turn, session.options)
            return

        model = session.options.get("model") or await ls.services.model()
        think, effort = resolve_thinking(turn.thinking, session.options, ls)
        attachments, problems = await resolve_references(ls, turn)
        rows = await s.call(s.sync.messages, sid)
        _, sent = history.context_rows(rows)
        earlier = "\n".join(r.content for r in sent if r.role == "user")
        attachments = [
            cmds.unchanged(a) if a.body.strip() and a.render() in earlier else a for a in attachments
        ]
        content = cmds.compose(parsed, attachments)
        job.emit(sessionId=sid, attachments=[a.to_json() for a in attachments])
        for problem in problems:
            job.emit(notice=problem)

        limit = history.context_limit(model, state.learned_limits)
        max_tokens = ls.services.settings.max_tokens
        check_size(content, model, limit)
        if history.needs_compaction(history.prompt_estimate(SYSTEM, rows, content), limit, max_tokens):
            rows = await compact(ls, state, s, job, sid, rows, model, limit, forced=False)

        async def recompact(new_limit: int) -> list[dict[str, Any]]:
            nonlocal rows
            check_size(content, model, new_limit)  # no summary can make room for this one
            rows = await compact(ls, state, s, job, sid, rows, model, new_limit, forced=False)
            return history.request(SYSTEM, rows, content)

        meta: dict[str, Any] = {"attachments": [a.to_json() for a in attachments]}
        if parsed.command is not None:
            meta["command"] = parsed.command.name
        turn_id = new_turn_id()
        user_id = await s.call(s.sync.begin_turn, sid, turn_id, content, parsed.message, meta)
        messages = history.request(SYSTEM, rows, content)
        try:
            result, used_model = await ask(ls, state, job, messages, model, think, effort, recompact)
        except asyncio.CancelledError:
            await save_aborted(s, sid, user_id, turn_id, "cancelled", job, model)
            raise
        except DeepSeekError as err:
            await save_aborted(s, sid, user_id, turn_id, "failed", job, model, err)
            raise
        reasoning = "".join(job.reasoning) or None
        reply_meta = {"finishReason": result.finish_reason} if result.finish_reason else {}
        commit = s.call(
            s.sync.complete_turn,
            sid,
            user_id,
            turn_id,
            job.text,
            reasoning=reasoning,
            model=used_model,
            usage=job.usage,
            meta=reply_meta,
            title=suggest_title(parsed, attachments),
        )
        try:
            await uninterrupted(commit)
        except (sqlite3.Error, StoreError) as exc:
            log.exception("could not save a chat turn")
            warn(f"deepseek-lsp: the reply could not be saved to the chat history ({exc}).")
        totals = await uninterrupted(s.call(s.sync.totals, sid))
        state.session_usage[sid] = totals
        job.finish("done", finish_reason=result.finish_reason, sessionId=sid, sessionUsage=totals)


async def uninterrupted(work: Awaitable[T]) -> T:
    """Finish `work` even if the job is cancelled meanwhile: the reply was complete, so the
    turn is saved and reported done rather than half-recorded as cancelled."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        return await task


def check_size(content: str, model: str, limit: int) -> None:
    """A message that alone would crowd out the context window is refused with advice."""
    size = history.estimate_tokens(content)
    if size > history.MAX_MESSAGE_SHARE * limit:
        raise DeepSeekError(
            "bad_request",
            f"This message with its attachments is too large for {model} (about {size:,} tokens; "
            f"the model's context is {limit:,}). Attach a selection instead of whole files.",
        )


def suggest_title(parsed: cmds.Parsed, attachments: list[cmds.Attachment]) -> str | None:
    """ "/explain" makes a poor session title: "Explain graph.py, lines 4-9" is better."""
    if parsed.command is None:
        return None
    what = f" {attachments[0].title}" if attachments else ""
    ask = f": {parsed.argument}" if parsed.argument else ""
    return f"{parsed.command.name.capitalize()}{what}{ask}"


def resolve_thinking(
    arg: bool | str | None, options: dict[str, Any], ls: DeepSeekLanguageServer
) -> tuple[bool, str | None]:
    """Per turn beats per session (`/think`) beats the `deepseek.thinking` setting."""
    s = ls.services.settings
    if isinstance(arg, str):
        return True, arg
    if arg is not None:
        return arg, options.get("effort") or s.reasoning_effort
    if "thinking" in options:
        return bool(options["thinking"]), options.get("effort") or s.reasoning_effort
    return s.thinking, s.reasoning_effort


async def ask(
    ls: DeepSeekLanguageServer,
    state: ChatState,
    job: Job,
    messages: list[dict[str, Any]],
    model: str,
    think: bool,
    effort: str | None,
    recompact: Callable[[int], Awaitable[list[dict[str, Any]]]],
) -> tuple[StreamResult, str]:
    """Stream the reply into the job. Two 400s are handled here and never reach the user: one
    about `reasoning_content` (strip it, retry once) and one about the context length (learn
    the limit, compact, retry once). Retries happen only before any text was shown."""
    body = chat_body(ls.services.settings, model, messages, thinking=think)
    if effort and is_thinking(body) and "thinking" in body:
        body["reasoning_effort"] = effort
    if body["model"] in state.strip_reasoning:
        body["messages"] = history.strip_reasoning(body["messages"])
    stripped = compacted = False
    while True:
        result = StreamResult()
        shown = False
        try:
            async for delta in ls.services.client.stream_chat(body, result):
                shown = True
                job.emit(content=delta.content, reasoning=delta.reasoning)
        except DeepSeekError as err:
            if shown:
                raise
            if not stripped and history.is_reasoning_error(err.message, err.status):
                log.info("DeepSeek refused reasoning_content for %s; resending without it", body["model"])
                state.strip_reasoning.add(body["model"])
                body["messages"] = history.strip_reasoning(body["messages"])
                stripped = True
                continue
            limit = history.limit_from_error(err.message) if err.status == 400 else None
            if limit and not compacted:
                state.learned_limits[model] = limit
                compacted = True
                body["messages"] = await recompact(limit)
                if body["model"] in state.strip_reasoning:
                    body["messages"] = history.strip_reasoning(body["messages"])
                continue
            if limit:
                raise DeepSeekError(
                    "bad_request",
                    f"This message and its attachments are too long for {model} ({limit} tokens "
                    "of context) even after compacting the conversation. Attach less code or "
                    "start a new session (/new).",
                    status=400,
                ) from None
            raise
        ls.services.record_usage(job, body["model"], result)
        return result, str(body["model"])


async def save_aborted(
    s: AsyncChatStore,
    sid: str,
    user_id: int,
    turn_id: str,
    status: str,
    job: Job,
    model: str,
    err: DeepSeekError | None = None,
) -> None:
    """Keep the cancelled/failed turn for the record, outside the history that is sent."""
    meta: dict[str, Any] = {"error": err.to_json()} if err else {}
    try:
        await s.call(
            s.sync.abort_turn,
            sid,
            user_id,
            turn_id,
            status,
            job.text,
            reasoning="".join(job.reasoning) or None,
            model=model,
            usage=job.usage,
            meta=meta,
        )
    except (sqlite3.Error, StoreError) as exc:  # e.g. the session was deleted meanwhile
        log.info("could not record an aborted chat turn: %s", exc)


async def compact(
    ls: DeepSeekLanguageServer,
    state: ChatState,
    s: AsyncChatStore,
    job: Job,
    sid: str,
    rows: list[Message],
    model: str,
    limit: int,
    *,
    forced: bool,
) -> list[Message]:
    """Summarise the older turns (DeepSeek writes the summary), store it, tell the user."""
    plan = history.plan_compaction(rows, limit)
    if plan is None:
        if forced:
            job.emit(content="There is nothing to compact yet.")
        return rows
    job.emit(notice="Compacting the conversation (it nears the model's context limit)…")
    summary, usage = await summarize(ls, plan, model, limit)
    await s.call(
        s.sync.add,
        sid,
        SUMMARY,
        summary,
        in_context=True,
        model=model,
        usage=usage,
        meta=history.compaction_meta(plan),
    )
    kept = sum(1 for r in plan.keep if r.role == "user")
    why = "on request" if forced else f"because it neared {model}'s context limit ({limit:,} tokens)"
    notice = (
        f"The conversation was compacted {why}: {len(plan.summarize)} older messages were "
        f"replaced by a summary"
        + (f"; the last {kept} exchanges stay verbatim." if kept else ".")
        + " The full transcript stays in the session history."
    )
    job.emit(notice=notice, compacted={"summarized": len(plan.summarize), "kept": len(plan.keep)})
    ls.window_show_message(
        types.ShowMessageParams(type=types.MessageType.Info, message=f"DeepSeek chat: {notice}")
    )
    return await s.call(s.sync.messages, sid)


async def summarize(
    ls: DeepSeekLanguageServer, plan: history.CompactionPlan, model: str, limit: int
) -> tuple[str, dict[str, Any] | None]:
    """DeepSeek's summary of `plan.summarize`; a mechanical one if that request fails."""
    budget = limit
    for _ in range(3):
        messages = history.summary_request(SYSTEM, plan, budget)
        body = chat_body(
            ls.services.settings,
            model,
            messages,
            thinking=False,
            max_tokens=min(SUMMARY_MAX_TOKENS, max(limit // 8, 64)),
        )
        body["messages"] = history.strip_reasoning(body["messages"])
        result = StreamResult()
        parts: list[str] = []
        try:
            async for delta in ls.services.client.stream_chat(body, result):
                if delta.content:
                    parts.append(delta.content)
        except DeepSeekError as err:
            if err.status == 400 and history.limit_from_error(err.message):
                budget //= 2
                continue
            log.warning("the compaction summary failed (%s); summarising mechanically", err.code)
            break
        usage = ls.services.account(str(body["model"]), result.usage)
        text = "".join(parts).strip()
        if text:
            return text, usage
        break
    return history.fallback_summary(plan), None


# -- local commands ---------------------------------------------------------------------------


async def local_command(
    ls: DeepSeekLanguageServer,
    state: ChatState,
    s: AsyncChatStore,
    job: Job,
    turn: Turn,
    options: dict[str, Any],
) -> None:
    """Commands that act on the session without asking DeepSeek a question."""
    sid = turn.session_id
    parsed = turn.parsed
    job.emit(sessionId=sid)
    name = parsed.command.name if parsed.command else None
    settings = ls.services.settings
    default_thinking = "on" if settings.thinking else "off"
    reply: str
    if name is None:
        reply = f"Unknown command `/{parsed.unknown}`. Type `/help` for the list."
    elif name == "help":
        reply = cmds.help_text()
    elif name == "new":
        reply = "Started a new chat session."
    elif name == "clear":
        await s.call(s.sync.add, sid, RESET, "", in_context=True)
        reply = "Context cleared: the next messages start a fresh conversation (the transcript is kept)."
    elif name == "compact":
        rows = await s.call(s.sync.messages, sid)
        model = options.get("model") or await ls.services.model()
        before = len(rows)
        rows = await compact(
            ls,
            state,
            s,
            job,
            sid,
            rows,
            model,
            history.context_limit(model, state.learned_limits),
            forced=True,
        )
        reply = "Done." if len(rows) != before else ""
    elif name == "rename":
        title = parsed.argument
        if title:
            await s.call(s.sync.rename, sid, title)
            reply = f"Session renamed to “{title}”."
        else:
            reply = "Usage: `/rename <title>`."
    elif name == "think":
        change = cmds.think_option(parsed.argument, options, default_thinking)
        if change.changed:
            await s.call(s.sync.set_options, sid, change.options)
        reply = change.message
    elif name == "model":
        current = options.get("model") or await ls.services.model()
        try:
            available = await ls.services.client.list_models()
        except DeepSeekError:
            available = []
        change = cmds.model_option(parsed.argument, options, current, available)
        if change.changed:
            await s.call(s.sync.set_options, sid, change.options)
        reply = change.message
    else:  # a command marked local without a handler
        reply = f"`/{name}` is not available here."
    meta = {"command": name or parsed.unknown}
    turn_id = new_turn_id()
    await s.call(s.sync.add, sid, "user", parsed.message, turn=turn_id, display=parsed.message, meta=meta)
    if reply:
        await s.call(s.sync.add, sid, "notice", reply, turn=turn_id, meta=meta)
        job.emit(content=reply)
    job.finish(
        "done", finish_reason="stop", sessionId=sid, sessionUsage=state.session_usage.get(sid, empty_totals())
    )


# -- references -------------------------------------------------------------------------------


async def resolve_references(
    ls: DeepSeekLanguageServer, turn: Turn
) -> tuple[list[cmds.Attachment], list[str]]:
    """Attach each reference; one that cannot be attached is reported, not fatal."""
    out: list[cmds.Attachment] = []
    problems: list[str] = []
    for ref in turn.references:
        try:
            attachment = await attach(ls, turn, ref)
        except cmds.AttachError as exc:
            problems.append(f"Could not attach {ref.label}: {exc}")
            continue
        if attachment is not None:
            out.append(attachment)
    return out, problems


async def attach(ls: DeepSeekLanguageServer, turn: Turn, ref: cmds.Reference) -> cmds.Attachment | None:
    doc = turn.document
    if ref.kind == "file" and ref.path:
        return await attach_file(ls, turn, ref)
    if doc is None:
        raise cmds.AttachError("no document was sent with the message (uri)")
    name = display_path(doc.path or doc.uri, turn.workspace)
    if ref.kind == "diagnostics":
        diags = diagnostics_for(ls, doc.uri, turn.diagnostics)
        if not diags:
            return None
        lines = [
            f"- line {d.start_line + 1}: {d.severity}: {d.message}" + (f" ({d.source})" if d.source else "")
            for d in diags
        ]
        return cmds.Attachment(ref.label, name, "\n".join(lines), uri=doc.uri)
    if ref.kind == "selection":
        if turn.end <= turn.start:
            raise cmds.AttachError("nothing is selected")
        prompt, built = await gather_context(ls, "chat", doc, turn.start, turn.end)
        if built.excluded:
            raise cmds.AttachError(f"{name} matches deepseek.excludePatterns")
        body = prompts.context_block(prompt) + prompts.selection_block(prompt)
        return cmds.Attachment(ref.label, f"{name}, {prompt.location}", body, _notes(built), doc.uri)
    return await attach_whole(ls, doc, ref.label, name)


async def attach_whole(
    ls: DeepSeekLanguageServer, doc: DocumentSnapshot, label: str, name: str
) -> cmds.Attachment:
    """A whole file, through the context builder (exclusions, secret masking)."""
    _, built = await gather_context(ls, "chat", doc, 0, len(doc.text))
    if built.excluded:
        raise cmds.AttachError(f"{name} matches deepseek.excludePatterns")
    body = cmds.fenced(built.selection, built.language)
    return cmds.Attachment(label, name, body, _notes(built), doc.uri)


async def attach_file(ls: DeepSeekLanguageServer, turn: Turn, ref: cmds.Reference) -> cmds.Attachment:
    """`#file:path`: a file inside the workspace (the open buffer if there is one)."""
    assert ref.path is not None
    root = turn.workspace
    path = await asyncio.to_thread(resolve_path, ref.path, root)
    uri = from_fs_path(str(path)) or path.as_uri()
    open_doc = ls.workspace.text_documents.get(uri)
    if open_doc is not None:
        text = open_doc.source
    else:
        text = await asyncio.to_thread(_read_text, path)
    doc = DocumentSnapshot(uri=uri, path=str(path), language_id=_guess_language(uri), text=text)
    return await attach_whole(ls, doc, ref.label, display_path(str(path), root))


def resolve_path(given: str, root: str | None) -> Path:
    """A workspace path; never one outside it (`#file:../../.ssh/id_rsa`)."""
    raw = Path(os.path.expanduser(given))
    if not raw.is_absolute():
        if root is None:
            raise cmds.AttachError("there is no workspace folder to resolve the path against")
        raw = Path(root) / raw
    path = raw.resolve()
    if root is not None and not path.is_relative_to(Path(root).resolve()):
        raise cmds.AttachError("the file is outside the workspace")
    return path


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise cmds.AttachError("no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise cmds.AttachError(f"the file is larger than {MAX_FILE_BYTES // 1000} KB")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise cmds.AttachError("the file looks binary")
    return data.decode("utf-8", errors="replace")


def display_path(path: str, root: str | None) -> str:
    if root:
        try:
            return str(Path(path).resolve().relative_to(Path(root).resolve()))
        except ValueError:
            pass
    return path


def _notes(built: Any) -> tuple[str, ...]:
    notes = []
    if getattr(built, "masked_secrets", 0):
        notes.append(f"{built.masked_secrets} secret(s) masked")
    notes += [f"omitted: {o}" for o in getattr(built, "omitted", ())]
    return tuple(notes)
