"""One chat turn as a job: history in, reply streamed, turn committed before `done`.

A turn's messages are the session's stored history plus the new question, so each request
repeats the previous one as its exact prefix (DeepSeek's cache). The turn enters the stored
history only once the reply completed; compaction and the two 400s a user must never see are
handled here.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lsprotocol import types

from ... import prompts
from ...chat import commands as cmds
from ...chat import history
from ...chat.store import RESET, SUMMARY, AsyncChatStore, Message, StoreError, empty_totals, new_turn_id
from ...client import StreamResult
from ...errors import DeepSeekError
from ...jobs import Job
from ...payload import chat_body, is_thinking
from ...server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from ..common import dry_run_answer, dry_run_refused
from .references import resolve_references
from .state import ChatState, Turn

log = logging.getLogger(__name__)

SYSTEM = prompts.SYSTEM_PROMPT  # shared with every action: one cached prefix for all
SUMMARY_MAX_TOKENS = 1200

T = TypeVar("T")


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
    except StoreError as exc:  # only a lock held past the busy timeout gets here; never "Internal error"
        raise DeepSeekError(
            "server_error",
            f"The chat history could not be used ({exc}). Retry in a moment; if it persists, "
            "close the other editors using deepseek-lsp or set DEEPSEEK_LSP_DATA_DIR to another folder.",
        ) from exc
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
        attachments = mark_unchanged(attachments, rows)
        content = cmds.compose(parsed, attachments)
        job.emit(sessionId=sid, attachments=[a.to_json() for a in attachments])
        for problem in problems:
            job.emit(notice=problem)

        limit = history.context_limit(model, state.learned_limits, ls.services.settings.context_window)
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
        warnings = None
        try:
            await uninterrupted(commit)
        except (sqlite3.Error, StoreError) as exc:
            log.exception("could not save a chat turn")
            lost = f"DeepSeek chat: this reply could not be saved to the chat history ({exc})."
            warn(lost)
            warnings = [lost]
        totals = await uninterrupted(s.call(s.sync.totals, sid))
        state.session_usage[sid] = totals
        job.finish(
            "done",
            finish_reason=result.finish_reason,
            sessionId=sid,
            sessionUsage=totals,
            warnings=warnings or state.unsaved(),
        )


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


def mark_unchanged(attachments: list[cmds.Attachment], rows: list[Message]) -> list[cmds.Attachment]:
    """An attachment already sent, unchanged, in this conversation is not sent again."""
    _, sent = history.context_rows(rows)
    earlier = "\n".join(r.content for r in sent if r.role == "user")
    return [cmds.unchanged(a) if a.body.strip() and a.render() in earlier else a for a in attachments]


async def dry_run_turn(
    ls: DeepSeekLanguageServer,
    state: ChatState,
    warn: Callable[[str], None],
    turn: Turn,
) -> dict[str, Any]:
    """`dryRun: true`: the request this turn would send, measured and priced. Nothing is sent,
    stored or started (not even a new session). A local command (/help, /new...) sends nothing:
    0 tokens. A conversation due for compaction is measured as it stands (the summary request
    that would come first is not counted)."""
    s = await state.open(warn)
    sid = turn.session_id
    parsed = turn.parsed
    session = await s.call(s.sync.get_session, sid)
    options = session.options if session is not None else {}
    model = options.get("model") or await ls.services.model()
    if parsed.unknown or (parsed.command is not None and parsed.command.local):
        return {
            "dryRun": True,
            "promptTokens": 0,
            "maxTokens": 0,
            "estimatedCost": None,
            "model": model,
            "confirm": False,
        }
    think, effort = resolve_thinking(turn.thinking, options, ls)
    attachments, _ = await resolve_references(ls, turn)
    rows = await s.call(s.sync.messages, sid) if session is not None else []
    content = cmds.compose(parsed, mark_unchanged(attachments, rows))
    limit = history.context_limit(model, state.learned_limits, ls.services.settings.context_window)
    try:
        check_size(content, model, limit)
    except DeepSeekError as err:
        return dry_run_refused(err)
    body = request_body(ls, state, history.request(SYSTEM, rows, content), model, think, effort)
    return await dry_run_answer(ls, body)


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


def request_body(
    ls: DeepSeekLanguageServer,
    state: ChatState,
    messages: list[dict[str, Any]],
    model: str,
    think: bool,
    effort: str | None,
) -> dict[str, Any]:
    """The body a turn sends first (a dryRun measures this same body)."""
    body = chat_body(ls.services.settings, model, messages, thinking=think)
    if effort and is_thinking(body) and "thinking" in body:
        body["reasoning_effort"] = effort
    if body["model"] in state.strip_reasoning:
        body["messages"] = history.strip_reasoning(body["messages"])
    return body


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
    body = request_body(ls, state, messages, model, think, effort)
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
            history.context_limit(model, state.learned_limits, ls.services.settings.context_window),
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
        "done",
        finish_reason="stop",
        sessionId=sid,
        sessionUsage=state.session_usage.get(sid, empty_totals()),
        warnings=state.unsaved(),
    )
