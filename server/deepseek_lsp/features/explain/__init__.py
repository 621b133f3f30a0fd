"""Explain: `deepseek.explain`, and the hover that shows the explanation afterwards.

How an explanation reaches the user is the job host's business (`LspJobHost`, routed by the
client's presentation): `deepseek/stream` for our clients, a document (`view.py`) or a message
for every other one. This module only starts jobs and answers hovers in the client's format.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from ... import prompts
from ...context import BuiltContext, DocumentSnapshot
from ...documents import Document, changes_for
from ...errors import DeepSeekError
from ...explain.plaintext import to_plain
from ...jobs import Job
from ...payload import chat_body
from ...positions import Pos, Span, lsp_range
from ...server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from ..common import (
    Args,
    LspRange,
    context_note,
    dry_run_answer,
    dry_run_refused,
    gather_context,
    parse_args,
    snapshot,
)
from .view import SCHEME, ExplainDocuments

COMMAND = "deepseek.explain"


class ExplainArgs(Args):
    uri: str
    range: LspRange
    dry_run: bool = False  # measure and price the request, send nothing


def register(ls: DeepSeekLanguageServer) -> None:
    documents = ExplainDocuments(ls)
    ls.job_host.views["explain"] = documents

    @ls.command(COMMAND)
    async def explain(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        # async for dryRun; a real explain starts before the first await, so the range still
        # means the text the editor had when it sent the command
        a = parse_args(ExplainArgs, args, COMMAND)
        if a.dry_run:
            return await explain_dry_run(ls, a.uri, a.range.to_lsp())
        return {"jobId": start_explain(ls, a.uri, a.range.to_lsp()).id}

    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: DeepSeekLanguageServer, params: types.HoverParams) -> types.Hover | None:
        job = explanation_at(ls, params.text_document.uri, params.position)
        if job is None:
            return None
        markdown = ls.presentation.hover_markdown
        return types.Hover(
            contents=types.MarkupContent(
                kind=types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText,
                value=hover_text(job, markdown=markdown),
            ),
            range=_to_range(job.range) if job.range else None,
        )

    @ls.feature(types.WORKSPACE_TEXT_DOCUMENT_CONTENT, types.TextDocumentContentOptions(schemes=[SCHEME]))
    async def content(
        ls: DeepSeekLanguageServer, params: types.TextDocumentContentParams
    ) -> types.TextDocumentContentResult:
        """A `deepseek-explain:` document (LSP 3.18), for clients that show it without a file."""
        text = await documents.content(params.uri)
        if text is None:
            raise JsonRpcInvalidParams(
                f"No explanation at {params.uri}: it is not in this session or the cache folder any more."
            )
        return types.TextDocumentContentResult(text=text)


NOTHING_TO_EXPLAIN = (
    "Nothing to explain: the selection is empty (or only blank lines). "
    "Select some code, or put the cursor on a line of code, and try again."
)


def _span(ls: DeepSeekLanguageServer, doc: DocumentSnapshot, rng: types.Range) -> tuple[int, int]:
    start, end = ls.offsets(doc.text, rng)
    if start == end:
        start, end = _line_span(doc.text, start)  # an empty range explains its line
    return start, end


async def _request(
    ls: DeepSeekLanguageServer, doc: DocumentSnapshot, start: int, end: int
) -> tuple[list[dict[str, str]], BuiltContext]:
    """The messages an explain sends, or the refusal that keeps it from being sent."""
    if not doc.text[start:end].strip():
        raise DeepSeekError("bad_request", NOTHING_TO_EXPLAIN)  # no 235-token request about nothing
    prompt, built = await gather_context(ls, "explain", doc, start, end)
    if built.excluded:
        raise DeepSeekError(
            "bad_request",
            f"{built.path} matches deepseek.excludePatterns, so it is never sent to DeepSeek.",
        )
    return prompts.explain_messages(prompt), built


async def explain_dry_run(ls: DeepSeekLanguageServer, uri: str, rng: types.Range) -> dict[str, Any]:
    """`dryRun: true`: the request an explain would send, measured and priced; nothing is sent."""
    doc = snapshot(ls, uri)
    start, end = _span(ls, doc, rng)
    try:
        messages, _ = await _request(ls, doc, start, end)
    except DeepSeekError as err:
        return dry_run_refused(err)
    s = ls.services.settings
    return await dry_run_answer(ls, chat_body(s, await ls.services.model(), messages))


def start_explain(ls: DeepSeekLanguageServer, uri: str, rng: types.Range) -> Job:
    """A new explanation job; or, when one is already streaming for exactly this range of this
    document, that one (asked twice, billed once), shown again."""
    doc = snapshot(ls, uri)
    start, end = _span(ls, doc, rng)
    job_range = lsp_range(doc.text, start, end, ls.encoding)
    running = _running_on(ls, uri, job_range, doc.text[start:end])
    if running is not None:
        ls.job_host.show_again(running)
        return running

    async def run(job: Job) -> None:
        messages, built = await _request(ls, doc, start, end)
        job.emit(context=context_note(built))
        result = await ls.services.stream_to_job(job, messages)
        job.finish("done", finish_reason=result.finish_reason)

    job = ls.services.jobs.start(
        "explain",
        run,
        uri=uri,
        range=job_range,
        title="DeepSeek: Explain",
        request_id=ls.protocol.msg_id,
    )
    job.data["explained"] = job_range  # the range as asked (job.range follows the user's edits)
    job.data["code"] = doc.text[start:end]
    _follow(ls, job, start, end)
    return job


def _running_on(ls: DeepSeekLanguageServer, uri: str, rng: dict[str, Any], code: str) -> Job | None:
    """The explanation still streaming for exactly `rng` (in the document's coordinates now)
    of the same code (not edited since)."""
    for job in ls.services.jobs.running():
        if (
            job.kind == "explain"
            and job.state == "streaming"
            and job.uri == uri
            and job.range == rng
            and job.data.get("code") == code
        ):
            return job
    return None


FOLLOWED = 8  # explanations whose range (for notifications and hover) follows the user's edits
_Listener = Callable[[types.DidChangeTextDocumentParams], None]
_followers: weakref.WeakKeyDictionary[DeepSeekLanguageServer, list[_Listener]] = weakref.WeakKeyDictionary()


def _follow(ls: DeepSeekLanguageServer, job: Job, start: int, end: int) -> None:
    """Keep `job.range` in the document's current coordinates as the user edits.

    The range follows the offsets pygls's document recorded for each didChange (O(1) each, no
    copy of the text): typing in a large file with explanations open stays cheap.
    """
    uri = unquote(job.uri or "")
    doc = ls.workspace.text_documents.get(uri)
    if not isinstance(doc, Document):
        return  # not open: no didChange will move it
    span = Span(doc.text, start, end, ls.encoding)
    job.range = span.range

    def listener(params: types.DidChangeTextDocumentParams) -> None:
        if unquote(params.text_document.uri) != uri:
            return
        found = changes_for(ls.workspace, params)
        if found is None:
            return
        if found[0] is not doc:  # closed and opened again: its old offsets mean nothing now
            _unfollow(ls, listener)
            return
        span.follow(doc.text, found[1])
        job.range = span.range

    ls.change_listeners.append(listener)
    followers = _followers.setdefault(ls, [])
    followers.append(listener)
    while len(followers) > FOLLOWED:
        _unfollow(ls, followers[0])


def _unfollow(ls: DeepSeekLanguageServer, listener: _Listener) -> None:
    with contextlib.suppress(ValueError):
        _followers.get(ls, []).remove(listener)
    with contextlib.suppress(ValueError):
        ls.change_listeners.remove(listener)


def _line_span(text: str, offset: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return start, len(text) if end < 0 else end


def explanation_at(ls: DeepSeekLanguageServer, uri: str, pos: types.Position) -> Job | None:
    """The newest explanation whose range holds `pos` (streaming ones included)."""
    p = Pos(pos.line, pos.character)
    for job in ls.services.jobs.latest("explain"):
        if job.uri != uri or job.range is None or job.state == "failed":
            continue
        r = job.range
        start = Pos(r["start"]["line"], r["start"]["character"])
        end = Pos(r["end"]["line"], r["end"]["character"])
        if start <= p < end and (job.content or not job.finished):  # the end is outside
            return job
    return None


def hover_text(job: Job, markdown: bool = True) -> str:
    """The explanation so far, in Markdown or as plain text (as the client asked)."""
    text = job.text if markdown else to_plain(job.text)
    if not job.finished:
        thinking = "*DeepSeek is thinking…*" if markdown else "DeepSeek is thinking…"
        return (text + " …" if text else thinking) + ("\n\n*(streaming)*" if markdown else "\n\n(streaming)")
    if job.state == "cancelled":
        return text + ("\n\n*(cancelled)*" if markdown else "\n\n(cancelled)")
    return text


def _to_range(r: dict[str, Any]) -> types.Range:
    return types.Range(
        start=types.Position(**r["start"]),
        end=types.Position(**r["end"]),
    )
