"""The rewrite job: `deepseek.rewrite`, `deepseek.accept`, `deepseek.reject`.

The new code goes into the document itself through versioned `workspace/applyEdit`s: streamed
as it comes for our own clients, or as one edit once it is complete and checked for every
other client (`ls.presentation.rewrite_edits`, handed to the session as an `EditPolicy`). The
logic is in `rewrite/` (pure), this module only wires it to LSP: the command arguments,
DeepSeek's stream, `didChange` events (through `ls.change_listeners`), the client's answers,
and the job's notifications. A job that finished `done` stays tracked (up to TRACKED jobs) so
`deepseek.reject` can still put the original back while the user keeps working elsewhere.
Only one rewrite at a time may hold a stretch of a document: a second one on the same lines
is refused at once, saying which job holds them (its edits would land in the first one's text
and look like the user's typing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from ... import errors, limits, syntax
from ...client import StreamResult
from ...context import DiagnosticInfo, DocumentSnapshot
from ...errors import DeepSeekError
from ...jobs import Job
from ...payload import chat_body, is_thinking
from ...prompts import PromptContext
from ...rewrite import prompts as rp
from ...rewrite.code_stream import PROSE_LANGUAGES, CodeStream
from ...rewrite.indent import Layout, Shaper, insert_layout, insertion_after_block, replace_layout
from ...rewrite.journal import Entry
from ...rewrite.region import Edit, Region, overlaps
from ...rewrite.session import DocumentChanged, EditRefused, Session, Unverified, edit_policy
from ...server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from ...syntax import language_of
from ..common import (
    Args,
    LspDiagnostic,
    LspRange,
    content_changes,
    context_note,
    diagnostics_for,
    dry_run_answer,
    dry_run_refused,
    gather_context,
    snapshot,
)
from .edits import document_text, send_edit, uquote

log = logging.getLogger(__name__)

REWRITE, ACCEPT, REJECT = "deepseek.rewrite", "deepseek.accept", "deepseek.reject"
TRACKED = 16  # finished rewrites that can still be rejected
STRAY_WATCH = 60.0  # seconds a cancelled rewrite still watches for an edit the editor never answered
SHUTDOWN_RESTORE_TIMEOUT = 3.0  # at shutdown the client may no longer answer: the journal keeps it
_prefix_refused: set[str] = set()  # base URLs whose /beta endpoint refused prefix completion


class RewriteArgs(Args):
    uri: str
    range: LspRange
    instruction: str | None = None
    action: str | None = None
    diagnostics: list[LspDiagnostic] | None = None
    dry_run: bool = False  # measure and price the request, send nothing


@dataclass
class Plan:
    """A checked rewrite request: what to send, and where the code goes."""

    doc: DocumentSnapshot
    start: int
    end: int
    action: str
    instruction: str | None
    diags: tuple[DiagnosticInfo, ...]
    target: Target
    title: str


class JobArgs(Args):
    job_id: str


@dataclass
class Target:
    """Where the code goes: replacing the selection, or inserted (tests)."""

    uri: str
    text: str
    version: int | None
    start: int
    end: int
    layout: Layout
    where: str = ""
    module: str = ""


@dataclass
class Rewrite:
    """The glue's state for one rewrite job."""

    job: Job
    uri: str
    session: Session
    title: str = "Rewrite"  # the action's title: "Add docstring"
    listener: Callable[[types.DidChangeTextDocumentParams], None] | None = None
    emitted: str = ""
    decision: asyncio.Future[str] | None = None
    accept_early: bool = False
    finished_done: bool = False
    entry: Entry | None = None  # its journal entry, on disk while the original is not verified back
    extra: dict[str, Any] = field(default_factory=dict)


class RewriteFeature:
    def __init__(self, ls: DeepSeekLanguageServer) -> None:
        self.ls = ls
        self.done: deque[Rewrite] = deque()  # finished rewrites still tracked, oldest first
        # rewrites that may still edit their region: running, in review, watching for a late edit
        self.live: list[Rewrite] = []

    # -- commands ----------------------------------------------------------------------------
    def plan(self, a: RewriteArgs) -> Plan:
        """Check the request (InvalidParams at once when it cannot run) and decide the target."""
        ls = self.ls
        action = a.action or "refactor"
        user_actions = ls.services.settings.actions
        if action not in rp.BUILTIN and not any(u.name == action for u in user_actions):
            known = ", ".join([*rp.BUILTIN, *(u.name for u in user_actions)])
            raise JsonRpcInvalidParams(f"{REWRITE}: unknown action {action!r}; expected one of: {known}")
        if uquote(a.uri) not in {uquote(u) for u in ls.workspace.text_documents}:
            raise JsonRpcInvalidParams(
                f"{REWRITE}: {a.uri} is not open; open it first (rewrites edit open documents)"
            )
        caps = ls.client_capabilities.workspace
        if caps is not None and caps.apply_edit is False:
            raise JsonRpcInvalidParams(f"{REWRITE}: this client does not support workspace/applyEdit")
        doc = snapshot(ls, a.uri)
        start, end = ls.offsets(doc.text, a.range.to_lsp())
        if start == end and action != "tests":
            start, end = _line_span(doc.text, start)  # an empty range means its line
        if action != "tests" and not doc.text[start:end].strip() and not (a.instruction or "").strip():
            raise JsonRpcInvalidParams(
                "Nothing to rewrite: the selection is empty (or only blank lines). "
                "Select some code, or give an instruction."
            )
        diags = _touching(diagnostics_for(ls, a.uri, a.diagnostics), doc.text, start, end)
        target = self._target(doc, action, start, end)
        title = rp.TITLES.get(action) or next((u.title for u in user_actions if u.name == action), action)
        return Plan(doc, start, end, action, a.instruction, diags, target, title)

    def start(self, p: Plan) -> Job:
        ls, target = self.ls, p.target
        busy = self._busy(target)
        if busy is not None:
            return self._refuse(p, busy)
        region = Region(target.text, target.version, target.start, target.end)
        holder: list[Rewrite] = []
        session = Session(
            region,
            lambda edit: self._send(holder[0], edit),
            on_applied=lambda: self._applied(holder[0]),
            document=lambda: document_text(ls, target.uri),
            policy=edit_policy(ls.presentation.rewrite_edits, ls.services.env),
        )

        async def run(job: Job) -> None:
            await self._run(holder[0], p)

        job = ls.services.jobs.start(
            "rewrite",
            run,
            uri=target.uri,
            range=region.lsp_range(ls.encoding),
            title=f"DeepSeek: {p.title}",
            request_id=ls.protocol.msg_id,
        )
        rw = Rewrite(job=job, uri=target.uri, session=session, title=p.title)
        holder.append(rw)
        job.data["rewrite"] = rw
        self.live.append(rw)
        self._listen(rw)
        return job

    def _busy(self, target: Target) -> str | None:
        """Why these lines are taken, when another rewrite may still edit them: its edits would
        land inside this one's text and look like the user's typing (a false "you edited")."""
        plain = uquote(target.uri)
        unreported = [rw for rw in self.done if rw.session.unconfirmed is not None]
        for rw in [*self.live, *unreported]:
            region = rw.session.region
            if uquote(rw.uri) != plain or not overlaps(
                (region.start, region.end), (target.start, target.end)
            ):
                continue
            what = f"({rw.title}, job {rw.job.id})"
            task = rw.job.task
            if rw.extra.get("restoring") or (not rw.job.finished and task is not None and task.cancelling()):
                return (
                    f"A DeepSeek rewrite of these lines is still putting its original back {what}: "
                    "try again in a moment."
                )
            if rw.job.state == "done":  # applied, its didChange not come yet (eglot: the next key press)
                return (
                    f"A DeepSeek rewrite of these lines was applied {what}, but the editor has not "
                    "reported the change yet: try again in a moment."
                )
            if rw.job.finished:  # cancelled, watching for an edit the editor never answered
                return (
                    f"A DeepSeek rewrite of these lines was cancelled {what}, but the editor has not "
                    "answered one of its edits yet: try again once it has."
                )
            if rw.job.state == "review":
                return f"A DeepSeek rewrite of these lines is waiting for review {what}: accept or reject it first."
            return f"A DeepSeek rewrite of these lines is already running {what}: wait for it, or cancel it first."
        return None

    def _refuse(self, p: Plan, message: str) -> Job:
        """A job whose only notification is its failure, as for a limit: nothing is sent."""
        error = DeepSeekError("bad_request", message)
        host = self.ls.services.jobs.host

        async def refuse(job: Job) -> None:
            job.finish("failed", error=error)
            host.show_error(f"DeepSeek rewrite refused: {message}")

        return self.ls.services.jobs.start(
            "rewrite",
            refuse,
            uri=p.target.uri,
            range=Region(p.target.text, p.target.version, p.target.start, p.target.end).lsp_range(
                self.ls.encoding
            ),
            title=f"DeepSeek: {p.title}",
            request_id=self.ls.protocol.msg_id,
        )

    async def dry_run(self, p: Plan) -> dict[str, Any]:
        """`dryRun: true`: the first request this rewrite would send, measured and priced."""
        try:
            ctx, _, task, bound = await self._prepare(p)
        except DeepSeekError as err:
            return dry_run_refused(err)
        services = self.ls.services
        model = await services.model()
        prefix = self._use_prefix(ctx, model, task, bound.max_tokens)
        body = chat_body(
            services.settings, model, rp.messages(ctx, task, prefix=prefix), max_tokens=bound.max_tokens
        )
        return await dry_run_answer(self.ls, body)

    def accept(self, job_id: str) -> dict[str, Any]:
        job = self.ls.services.jobs.get(job_id)
        rw = job.data.get("rewrite") if job else None
        if job is None or not isinstance(rw, Rewrite):
            return {"jobId": job_id, "accepted": False}
        if job.state == "review" and rw.decision is not None and not rw.decision.done():
            rw.decision.set_result("accept")
        elif job.state == "streaming":
            rw.accept_early = True  # no review for this one
        elif job.state != "done":
            return {"jobId": job_id, "accepted": False}
        else:
            self._forget(rw)
        return {"jobId": job_id, "accepted": True}

    async def reject(self, job_id: str) -> dict[str, Any]:
        job = self.ls.services.jobs.get(job_id)
        rw = job.data.get("rewrite") if job else None
        if job is None or not isinstance(rw, Rewrite):
            return {"jobId": job_id, "rejected": False}
        if not job.finished and job.task is not None:
            if job.state == "review" and rw.decision is not None and not rw.decision.done():
                rw.decision.set_result("reject")
            else:
                self.ls.services.jobs.cancel(job.id)  # mid-stream: cancelling restores
            timeout = rw.session.policy.restore_timeout + 15
            await asyncio.wait({job.task}, timeout=timeout)  # back, or cannot be
            return {"jobId": job_id, "rejected": job.state == "cancelled"}
        if job.state != "done" or rw.listener is None or not self._in_sync(rw):
            return {"jobId": job_id, "rejected": False}
        if not any(r is rw for r in self.live):
            self.live.append(rw)  # its lines are taken again while the original goes back
        ok = await self._restore(rw)
        self._forget(rw)
        if not ok:
            message = self._restore_failed_message(rw, "rejected")
            self.ls.services.jobs.host.show_error(message)
            return {"jobId": job_id, "rejected": False, "original": rw.session.original, "message": message}
        return {"jobId": job_id, "rejected": True}

    # -- the job -----------------------------------------------------------------------------
    async def _prepare(self, p: Plan) -> tuple[PromptContext, Any, rp.Task, limits.OutputBound]:
        """The context, the task and the output bound: the same for a run and a dry run."""
        ls, doc, target = self.ls, p.doc, p.target
        bound = limits.output_bound(ls.services.settings, doc.text[p.start : p.end], p.action, p.instruction)
        ctx, built = await gather_context(ls, "rewrite", doc, p.start, p.end, p.diags, bound.max_tokens)
        if built.excluded:
            raise DeepSeekError(
                "bad_request",
                f"{built.path} matches deepseek.excludePatterns, so it is never sent to DeepSeek.",
            )
        if p.action != "tests" and built.selection != doc.text[p.start : p.end]:
            raise DeepSeekError(
                "bad_request",
                "The selection holds what looks like a secret, which is masked before it is "
                "sent, so a rewrite would lose it. Select code without it, or set "
                "deepseek.maskSecrets to false.",
            )
        task = rp.build_task(
            p.action,
            p.instruction,
            ctx,
            p.diags,
            ls.services.settings.actions,
            tests_where=target.where or "below the selected code, in the same file",
            tests_module=target.module,
        )
        return ctx, built, task, bound

    async def _run(self, rw: Rewrite, p: Plan) -> None:
        ls, job, session = self.ls, rw.job, rw.session
        doc, target = p.doc, p.target
        streamed = session.policy.stream
        host = ls.services.jobs.host
        keep_tracking = False
        try:
            ctx, built, task, bound = await self._prepare(p)
            job.emit(context=context_note(built))
            shaper = Shaper(target.layout)

            def on_code(code: str) -> None:
                delta = shaper.feed(code)  # append-only: O(code) per token, never the whole text
                if shaper.size > bound.max_chars:
                    raise bound.exceeded(shaper.size)  # closes the stream: stops the bill
                if session.region.broken:
                    raise DocumentChanged  # the user edited the selection: stop the bill too
                if not shaper.empty:  # nothing before the first code: the original stays
                    session.extend(delta, lines=code.count("\n"))
                    if not streamed:
                        host.progress_report(job, f"Writing… {session.lines:,} lines")

            if streamed:
                await self._journal(rw)
                session.start()
            result = await self._stream(job, ctx, task, on_code, bound.max_tokens)
            shaper.finish()
            if shaper.empty:
                raise DeepSeekError(
                    "bad_request",
                    "The model answered without any code; your text is unchanged. Retry, or rephrase the instruction.",
                )
            if shaper.size > bound.max_chars:
                raise bound.exceeded(shaper.size)
            if result.finish_reason == "length":
                raise DeepSeekError(
                    "truncated",
                    f"The model's code hit its token limit ({bound.max_tokens:,} tokens for this "
                    "selection) before it ended, so it was not kept and your code is unchanged. "
                    "Select less code, or raise deepseek.rewriteMaxTokens.",
                )
            if result.finish_reason not in (None, "stop"):
                raise DeepSeekError(
                    "bad_request",
                    f"The model stopped early ({result.finish_reason}), so the code was not kept.",
                )
            lang = language_of(doc.language_id, rw.uri)
            if streamed:
                await session.finish(shaper.text)
                found = await self._syntax_error(lang, target.text, session.region.text)
            else:
                # one edit: nothing has touched the document yet; it is checked first, then sent
                if document_text(ls, rw.uri) is None:
                    rw.extra["closed"] = True
                if session.region.broken or rw.extra.get("closed"):
                    raise DocumentChanged
                region = session.region
                before = region.text
                after = before[: region.start] + shaper.text + before[region.end :]
                found = await self._syntax_error(lang, before, after)
                await self._journal(rw)
                await session.finish(shaper.text)
                if found is not None and session.region.text != after:  # the user typed meanwhile
                    found = await self._syntax_error(lang, before, session.region.text) or found
            self._applied(rw)
            warnings = self._warn(rw, found)
            review = (ls.services.settings.review and not rw.accept_early) or bool(warnings)
            if review:
                rw.decision = asyncio.get_running_loop().create_future()
                job.range = session.region.lsp_range(ls.encoding)
                job.review(warnings=warnings or None)
                if await rw.decision == "reject":
                    if not await self._restore(rw):
                        self._fail_restore(rw, "rejected")
                        return
                    self._journal_done(rw)
                    rw.extra["restored"] = True
                    job.range = session.region.lsp_range(ls.encoding)
                    job.finish("cancelled")
                    return
                self._clear_warnings(rw)
            job.range = session.region.lsp_range(ls.encoding)
            self._journal_done(rw)
            job.finish("done", finish_reason=result.finish_reason)
            keep_tracking = not review
        except asyncio.CancelledError:
            if await self._restore(rw):
                self._journal_done(rw)
                rw.extra["restored"] = True
            else:
                self._fail_restore(rw, "cancelled")
            raise
        except DocumentChanged:
            # the user typed inside the region: their text stays, and so does a way back
            job.range = session.region.lsp_range(ls.encoding)
            if rw.extra.get("closed"):
                message = "The document was closed, so the rewrite stopped."
            else:
                message = errors.ADVICE["document_changed"]
            self._finish_with_original(
                rw, DeepSeekError("document_changed", message + self._recover_hint(rw))
            )
        except Exception as exc:
            if not await self._restore(rw):
                self._fail_restore(rw, "stopped by an error")
                return
            self._journal_done(rw)
            rw.extra["restored"] = True  # an edit that got no answer may still land: watched
            if isinstance(exc, EditRefused):
                error = DeepSeekError("document_changed", self._refused_message(rw, exc))
                if session.policy.stream or exc.unanswered:
                    raise error from None
                # the editor (a person, at its "Proceed?") said no: their choice, not an error
                job.finish("failed", error=error)
                ls.window_show_message(
                    types.ShowMessageParams(
                        type=types.MessageType.Info, message=f"{job.title}: {error.message}"
                    )
                )
                return
            if isinstance(exc, Unverified):
                raise DeepSeekError(
                    "document_changed",
                    "The document did not hold what the rewrite's edits should have produced, so "
                    "the rewrite stopped; the original text was put back.",
                ) from None
            raise
        finally:
            await session.stop()
            self._clear_warnings(rw)
            if keep_tracking:
                rw.finished_done = True
                self._keep(rw)
                self._unlive(rw)
            elif rw.extra.get("restored") and rw.session.region.pending is not None:
                ls.background(self._watch_stray(rw))  # an unanswered edit may still land
            else:
                self._forget(rw)

    def _refused_message(self, rw: Rewrite, exc: EditRefused) -> str:
        policy = rw.session.policy
        if policy.stream:
            return (
                "The editor refused the rewrite's edits (workspace/applyEdit answered "
                "applied: false); the original text was kept."
            )
        if exc.unanswered:
            wait = policy.apply_timeout
            took = f"{wait / 60:g} minutes" if wait >= 120 else f"{wait:g} seconds"
            return (
                f"The editor did not answer the rewrite's edit within {took}, so your code is "
                "unchanged; if the edit still lands later, it is undone."
            )
        said = f" (it said: {exc.reason})" if exc.reason else ""
        return f"The editor did not apply the rewrite{said}, so your code is unchanged."

    async def _watch_stray(self, rw: Rewrite) -> None:
        """A cancelled rewrite stays `cancelled`: an edit the editor never answered that lands
        later is undone too (and said so if it cannot be). One edit behind a person's
        "Proceed?" may be answered minutes later: it is watched as long as it was waited for."""
        try:
            watch = max(STRAY_WATCH, rw.session.policy.apply_timeout)
            restored = await rw.session.undo_stray(watch)
            if restored is False:
                self.ls.services.jobs.host.show_error(self._restore_failed_message(rw, "cancelled"))
        finally:
            self._forget(rw)

    # -- the original: journal, verified restore, and saying so when it cannot be ------------
    async def _journal(self, rw: Rewrite) -> None:
        """Write the original to the recovery journal before the first edit (one edit: once the
        code is complete, so a crash while the model writes leaves nothing to recover)."""
        services = self.ls.services
        region = rw.session.region
        entry = Entry(
            uri=rw.uri,
            original=region.current,
            before=region.text[: region.start],
            after=region.text[region.end :],
            title=rw.job.title,
            version=region.version,
        )
        try:
            await asyncio.to_thread(services.journal.write, entry)
        except OSError as exc:
            what = "did not start" if rw.session.policy.stream else "was not applied"
            raise DeepSeekError(
                "bad_request",
                f"The rewrite {what}: its recovery journal cannot be written in "
                f"{services.journal.folder} ({exc.strerror or type(exc).__name__}). Your code is "
                "untouched. Make that folder writable, or set DEEPSEEK_LSP_STATE_DIR to a writable folder.",
            ) from None
        rw.entry = entry
        services.active_journal.add(entry.id)

    def _journal_done(self, rw: Rewrite) -> None:
        """The job ended with the document as promised: nothing left to recover."""
        entry, rw.entry = rw.entry, None
        if entry is not None:
            self.ls.services.active_journal.discard(entry.id)
            self.ls.services.journal.remove(entry.id)

    async def _restore(self, rw: Rewrite) -> bool:
        """Put the original back and check it; False when it is not verified in place."""
        services = self.ls.services
        limit = SHUTDOWN_RESTORE_TIMEOUT if services.shutting_down else rw.session.policy.restore_timeout
        rw.extra["restoring"] = True
        try:  # bounded: at shutdown the client may no longer answer
            ok = await asyncio.wait_for(rw.session.restore(deadline=limit), limit + 5)
        except TimeoutError:
            log.warning("job %s: the client did not take the original text back in time", rw.job.id)
            ok = False
        except Exception:
            log.exception("restoring the original text failed")
            ok = False
        finally:
            rw.extra.pop("restoring", None)
        rw.job.range = rw.session.region.lsp_range(self.ls.encoding)
        return ok

    def _recover_hint(self, rw: Rewrite) -> str:
        if rw.entry is None:
            return ""
        return (
            " The original is kept: run “DeepSeek: Recover interrupted rewrites” "
            "(the deepseek.recover command) to put it back."
        )

    def _restore_failed_message(self, rw: Rewrite, how: str) -> str:
        original = rw.session.original
        shown = original if len(original) <= 2000 else original[:2000] + "\n…"
        return (
            f"DeepSeek: the rewrite was {how}, but its original code could not be put back "
            f"(the editor did not apply the edit, or the text changed). Your original code was:\n{shown}\n"
            + self._recover_hint(rw).strip()
        )

    def _fail_restore(self, rw: Rewrite, how: str) -> None:
        """Never a false `cancelled`: the job fails `restore_failed` and hands the original over."""
        message = self._restore_failed_message(rw, how)
        self._finish_with_original(rw, DeepSeekError("restore_failed", message), show=False)
        self.ls.services.jobs.host.show_error(message)

    def _finish_with_original(self, rw: Rewrite, error: DeepSeekError, *, show: bool = True) -> None:
        if rw.entry is not None:  # not verified back: the entry stays on disk for deepseek.recover
            self.ls.services.active_journal.discard(rw.entry.id)
        rw.job.range = rw.session.region.lsp_range(self.ls.encoding)
        rw.job.finish("failed", error=error, original=rw.session.original)
        if show:
            self.ls.services.jobs.host.show_error(f"DeepSeek rewrite failed: {error.message}")

    async def _syntax_error(self, lang: str, before: str, after: str) -> tuple[int, int, str] | None:
        """A syntax error `after` has that `before` had not: (line, character, what), in `after`."""
        return await asyncio.to_thread(syntax.new_error, lang, before, after)

    def _warn(self, rw: Rewrite, found: tuple[int, int, str] | None) -> list[str]:
        """A rewrite that brings a syntax error the original did not have is not kept silently."""
        if found is None:
            return []
        line, character, what = found
        warning = (
            f"The rewritten code has a syntax error the original did not have ({what}, line {line + 1}). "
            "Review it: accept to keep it, reject to put the original back."
        )
        pos = types.Position(line=line, character=character)
        self.ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=rw.uri,
                diagnostics=[
                    types.Diagnostic(
                        range=types.Range(start=pos, end=pos),
                        message=warning,
                        severity=types.DiagnosticSeverity.Warning,
                        source="deepseek",
                    )
                ],
            )
        )
        rw.extra["diagnostics"] = True
        return [warning]

    def _clear_warnings(self, rw: Rewrite) -> None:
        if rw.extra.pop("diagnostics", None):
            self.ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=rw.uri, diagnostics=[])
            )

    def _use_prefix(self, ctx: PromptContext, model: str, task: rp.Task, max_tokens: int | None) -> bool:
        """Chat prefix completion (`/beta`) for this request: by the setting, else when it fits
        (not thinking, not prose) and the server has not refused it before."""
        settings = self.ls.services.settings
        probe = chat_body(settings, model, rp.messages(ctx, task, prefix=False), max_tokens=max_tokens)
        prefix = rp.use_prefix(ctx.language, is_thinking(probe), settings.rewrite_prefix)
        refused = settings.base_url in _prefix_refused or not self.ls.services.prefix_by_default(model)
        return prefix and not (settings.rewrite_prefix is None and refused)

    async def _stream(
        self,
        job: Job,
        ctx: PromptContext,
        task: rp.Task,
        on_code: Callable[[str], None],
        max_tokens: int | None = None,
    ) -> StreamResult:
        """Ask DeepSeek; code goes to `on_code` as it is decided. Prefix completion first when it
        applies; a refusal of it before any text falls back to the plain path."""
        services = self.ls.services
        model = await services.model()
        prefix = self._use_prefix(ctx, model, task, max_tokens)
        strip_prose = ctx.language.lower() not in PROSE_LANGUAGES
        for attempt in (True, False) if prefix else (False,):
            body = chat_body(
                services.settings, model, rp.messages(ctx, task, prefix=attempt), max_tokens=max_tokens
            )
            if attempt:
                body["stop"] = rp.PREFIX_STOP
            stream = CodeStream(fenced=attempt, strip_prose=strip_prose)
            result = StreamResult()
            got = False
            try:
                async for delta in services.client.stream_chat(body, result, beta=attempt):
                    if delta.reasoning:
                        job.emit(reasoning=delta.reasoning)
                    if delta.content:
                        got = True
                        code = stream.feed(delta.content)
                        if code:
                            on_code(code)
            except DeepSeekError as err:
                if attempt and not got and err.code == "bad_request":
                    log.info("chat prefix completion refused (%s); using the plain path", err.message)
                    _prefix_refused.add(services.settings.base_url)
                    continue
                raise
            tail = stream.finish()
            if tail:
                on_code(tail)
            services.record_usage(job, body["model"], result)
            return result
        raise AssertionError("unreachable")

    # -- edits -------------------------------------------------------------------------------
    async def _send(self, rw: Rewrite, edit: Edit) -> bool | None:
        if uquote(rw.uri) not in {uquote(u) for u in self.ls.workspace.text_documents}:
            rw.extra["closed"] = True  # closed mid-rewrite: stop, and touch nothing
            rw.session.region.broken = True
            return False
        policy = rw.session.policy
        return await send_edit(
            self.ls, rw.uri, rw.session.region, edit, label=rw.job.title, timeout=policy.apply_timeout
        )

    def _applied(self, rw: Rewrite) -> None:
        """An edit landed: tell the client what now stands in the region, and where."""
        shown = rw.session.shown
        job = rw.job
        job.range = rw.session.region.lsp_range(self.ls.encoding)
        if shown.startswith(rw.emitted) and len(shown) > len(rw.emitted) and job.state == "streaming":
            delta, rw.emitted = shown[len(rw.emitted) :], shown
            job.emit(content=delta)
            self.ls.services.jobs.host.progress_report(job, f"{shown.count(chr(10)) + 1} lines written")

    def _listen(self, rw: Rewrite) -> None:
        uri = uquote(rw.uri)

        def listener(params: types.DidChangeTextDocumentParams) -> None:
            if uquote(params.text_document.uri) != uri:
                return
            rw.session.on_change(content_changes(params), params.text_document.version, self.ls.encoding)
            if rw.finished_done and rw.session.region.broken:
                self._forget(rw)  # edited inside: there is nothing exact left to reject

        rw.listener = listener
        self.ls.change_listeners.append(listener)

    def _keep(self, rw: Rewrite) -> None:
        self.done.append(rw)
        while len(self.done) > TRACKED:
            self._forget(self.done[0])

    def _unlive(self, rw: Rewrite) -> None:
        """It will not edit its region again (done, or forgotten): other rewrites may take it."""
        with contextlib.suppress(ValueError):
            self.live.remove(rw)

    def _forget(self, rw: Rewrite) -> None:
        self._unlive(rw)
        if rw.listener is not None:
            with contextlib.suppress(ValueError):
                self.ls.change_listeners.remove(rw.listener)
            rw.listener = None
        with contextlib.suppress(ValueError):
            self.done.remove(rw)

    def _in_sync(self, rw: Rewrite) -> bool:
        """Our copy still matches pygls's (a reopened document would not)."""
        doc = self.ls.workspace.text_documents.get(rw.uri) or self.ls.workspace.text_documents.get(
            uquote(rw.uri)
        )
        return doc is not None and doc.source == rw.session.region.text

    # -- where the code goes -----------------------------------------------------------------
    def _target(self, doc: DocumentSnapshot, action: str, start: int, end: int) -> Target:
        if action != "tests":
            return Target(doc.uri, doc.text, doc.version, start, end, replace_layout(doc.text, start, end))
        other = self._open_test_file(doc.uri)
        if other is not None:
            uri, text, version = other
            at = len(text.rstrip())
            name = posixpath.basename(unquote(uri))
            return Target(
                uri,
                text,
                version,
                at,
                at,
                insert_layout(text, at),
                where=f"at the end of the test file {name}",
                module=posixpath.splitext(posixpath.basename(unquote(doc.uri)))[0],
            )
        at = insertion_after_block(doc.text, end)
        return Target(doc.uri, doc.text, doc.version, at, at, insert_layout(doc.text, at))

    def _open_test_file(self, uri: str) -> tuple[str, str, int | None] | None:
        """An open test file for this module, by the usual naming conventions."""
        path = unquote(uri)
        name = posixpath.basename(path)
        stem, ext = posixpath.splitext(name)
        if stem.startswith("test_") or stem.endswith(("_test", ".test", ".spec")):
            return None
        names = {
            f"test_{stem}{ext}",
            f"{stem}_test{ext}",
            f"{stem}.test{ext}",
            f"{stem}.spec{ext}",
            f"{stem[:1].upper()}{stem[1:]}Test{ext}",
            f"{stem}_spec{ext}",
        }
        for other, document in self.ls.workspace.text_documents.items():
            if posixpath.basename(unquote(other)) in names and other != uri:
                return document.uri, document.source, document.version
        return None


def rewrites_on(ls: DeepSeekLanguageServer, uri: str, rng: types.Range) -> list[Rewrite]:
    """Running rewrites (streaming, or waiting in review) whose region touches `rng`: the code
    actions offer their cancel, accept and reject."""
    plain = uquote(uri)
    found = []
    for job in ls.services.jobs.running():
        rw = job.data.get("rewrite")
        if isinstance(rw, Rewrite) and uquote(rw.uri) == plain:
            found.append(rw)
    text = document_text(ls, uri) if found else None
    if text is None:
        return []
    try:
        start, end = ls.offsets(text, rng)
    except JsonRpcInvalidParams:
        return []
    return [rw for rw in found if start <= rw.session.region.end and end >= rw.session.region.start]


def _line_span(text: str, offset: int) -> tuple[int, int]:
    start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    end = offset
    while end < len(text) and text[end] not in "\r\n":
        end += 1
    return start, end


def _touching(
    diags: tuple[DiagnosticInfo, ...], text: str, start: int, end: int
) -> tuple[DiagnosticInfo, ...]:
    """Diagnostics on the selection's lines."""
    first = text.count("\n", 0, start)
    last = text.count("\n", 0, end)
    return tuple(d for d in diags if d.start_line <= last and d.end_line >= first)
