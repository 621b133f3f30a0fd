"""Glue shared by the features: command arguments, document snapshots, context requests."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from lsprotocol import types
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from .. import limits, pricing, textcodec, tokens
from ..context import BuiltContext, ContextRequest, DiagnosticInfo, DocumentSnapshot, build_context
from ..errors import DeepSeekError
from ..positions import Pos, lsp_range
from ..prompts import SYSTEM_PROMPT, PromptContext
from ..settings import context_window_for

if TYPE_CHECKING:
    from ..server import DeepSeekLanguageServer

log = logging.getLogger(__name__)

A = TypeVar("A", bound="Args")


class Args(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class LspPosition(Args):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class LspRange(Args):
    start: LspPosition
    end: LspPosition

    def to_lsp(self) -> types.Range:
        return types.Range(
            start=types.Position(line=self.start.line, character=self.start.character),
            end=types.Position(line=self.end.line, character=self.end.character),
        )


class LspDiagnostic(Args):
    range: LspRange
    message: str
    severity: int | None = None
    source: str | None = None


def parse_args(model: type[A], args: tuple[Any, ...], command: str) -> A:
    """One JSON object argument, validated; a bad one is a clear InvalidParams error."""
    if len(args) != 1 or not isinstance(args[0], dict):
        got = f"{len(args)} arguments" if len(args) != 1 else f"a {_json_type(args[0])}"
        raise JsonRpcInvalidParams(f"{command} takes one argument, an object; got {got}")
    try:
        return model.model_validate(args[0])
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise JsonRpcInvalidParams(f"{command}: invalid argument: {problems}") from None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {str: "string", int: "number", float: "number", list: "array"}.get(
        type(value), type(value).__name__
    )


_SEVERITY = {1: "error", 2: "warning", 3: "information", 4: "hint"}


def content_changes(params: types.DidChangeTextDocumentParams) -> list[tuple[Pos, Pos, str] | str]:
    """A didChange's changes as the pure modules take them: ranged, or the whole new text."""
    out: list[tuple[Pos, Pos, str] | str] = []
    for c in params.content_changes:
        if isinstance(c, types.TextDocumentContentChangePartial):
            r = c.range
            out.append((Pos(r.start.line, r.start.character), Pos(r.end.line, r.end.character), c.text))
        else:
            out.append(c.text)
    return out


MAX_DISK_BYTES = 16 * 1024 * 1024  # a document that is not open is read from disk up to this size


def snapshot(ls: DeepSeekLanguageServer, uri: str) -> DocumentSnapshot:
    """The document as the editor has it; one that is not open is read from disk, but only a
    regular `file:` of sane size (pygls would read any path, a FIFO or /dev/zero included,
    on the event loop)."""
    doc = ls.workspace.text_documents.get(unquote(uri))
    if doc is not None:
        return DocumentSnapshot(
            uri=uri,
            path=to_fs_path(uri),
            language_id=doc.language_id or _guess_language(uri),
            text=doc.source,
            version=doc.version,
        )
    return DocumentSnapshot(
        uri=uri, path=to_fs_path(uri), language_id=_guess_language(uri), text=_read_closed(uri)
    )


def _read_closed(uri: str) -> str:
    path = to_fs_path(uri) if uri.startswith("file:") else None
    advice = "Open it in the editor first."
    if not path:
        raise JsonRpcInvalidParams(
            f"{uri!r} is not open, and only file: URIs can be read from disk. {advice}"
        )
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise JsonRpcInvalidParams(f"{uri} is not open and is not a regular file. {advice}")
        if info.st_size > MAX_DISK_BYTES:
            raise JsonRpcInvalidParams(
                f"{uri} is not open and is {info.st_size:,} bytes on disk, over the "
                f"{MAX_DISK_BYTES:,} read from disk. {advice}"
            )
        with open(path, "rb") as f:
            data = f.read(MAX_DISK_BYTES + 1)
    except OSError as exc:
        raise JsonRpcInvalidParams(
            f"{uri} is not open and cannot be read: {exc.strerror}. {advice}"
        ) from None
    text = textcodec.decode(data)  # in its own encoding (UTF-8, a BOM's, else cp1252/latin-1)
    if text is None:
        raise JsonRpcInvalidParams(f"{uri} is not open and looks like a binary file. {advice}")
    return text


def _guess_language(uri: str) -> str:
    ext = uri.rsplit(".", 1)[-1].lower() if "." in uri else ""
    return {
        "py": "python",
        "js": "javascript",
        "ts": "typescript",
        "go": "go",
        "rs": "rust",
        "lua": "lua",
        "c": "c",
        "h": "c",
        "cpp": "cpp",
        "java": "java",
        "rb": "ruby",
    }.get(ext, ext or "text")


def diagnostics_for(
    ls: DeepSeekLanguageServer, uri: str, extra: list[LspDiagnostic] | None = None
) -> tuple[DiagnosticInfo, ...]:
    """Diagnostics the client told us about (code action requests carry them)."""
    seen = list(extra or []) + list(ls.diagnostics.get(uri, []))
    out: dict[tuple[int, int, str], DiagnosticInfo] = {}
    for d in seen:
        info = DiagnosticInfo(
            start_line=d.range.start.line,
            end_line=d.range.end.line,
            message=d.message,
            severity=_SEVERITY.get(d.severity or 1, "error"),
            source=d.source,
        )
        out[(info.start_line, info.end_line, info.message)] = info
    return tuple(sorted(out.values(), key=lambda d: (d.start_line, d.end_line, d.message)))


def open_documents(ls: DeepSeekLanguageServer, except_uri: str) -> tuple[DocumentSnapshot, ...]:
    """Other open documents, most recently edited first."""
    docs = []
    for uri in reversed(ls.recent_uris):
        if uri == except_uri or uri not in ls.workspace.text_documents:
            continue
        d = ls.workspace.text_documents[uri]
        docs.append(
            DocumentSnapshot(
                uri=uri,
                path=to_fs_path(uri),
                language_id=d.language_id or _guess_language(uri),
                text=d.source,
                version=d.version,
            )
        )
    return tuple(docs)


def workspace_root(ls: DeepSeekLanguageServer) -> str | None:
    """The first workspace folder: where AGENTS.md lives and `#file:` paths resolve."""
    folders = ls.workspace.folders
    if folders:
        return to_fs_path(next(iter(folders.values())).uri)
    return ls.workspace.root_path or None


def _display(doc: DocumentSnapshot, root: str | None) -> str:
    """A document's name as the user knows it: relative to the workspace when inside it."""
    if doc.path and root:
        rel = os.path.relpath(doc.path, root)
        if not rel.startswith(".."):
            return rel
    return doc.path or doc.uri


async def gather_context(
    ls: DeepSeekLanguageServer,
    action: str,
    doc: DocumentSnapshot,
    start: int,
    end: int,
    diagnostics: tuple[DiagnosticInfo, ...] = (),
    reply_tokens: int | None = None,
) -> tuple[PromptContext, BuiltContext]:
    """Build the context off the event loop (large files must never stall streaming).

    Every feature passes here before it asks DeepSeek, so the size limits live here: a selection
    (or whole document) over `deepseek.maxSelectionChars`, or a prompt over the model's context
    window, fails the job with `bad_request` before any byte is sent. `reply_tokens` is the
    request's `max_tokens` when the caller knows it; else the most the action may ask for.
    """
    s = ls.services.settings
    whole = start == 0 and end == len(doc.text) and end > 0
    what = f"file {_display(doc, workspace_root(ls))}" if whole else "selection"
    limits.check_selection(end - start, s.max_selection_chars, what)
    req = ContextRequest(
        action=action,
        document=doc,
        start=start,
        end=end,
        diagnostics=diagnostics,
        open_documents=open_documents(ls, doc.uri),
        workspace_root=workspace_root(ls),
        budget_tokens=s.context_budget,
        exclude_patterns=tuple(s.exclude_patterns),
        mask_secrets=s.mask_secrets,
    )
    built = await asyncio.to_thread(build_context, req)
    model = await ls.services.model()
    window = context_window_for(model, s.context_window)
    reply = reply_tokens if reply_tokens is not None else limits.reply_reserve(window, s.max_tokens)
    prompt_tokens = built.tokens + tokens.count_tokens(SYSTEM_PROMPT) + limits.PROMPT_OVERHEAD
    limits.check_prompt(prompt_tokens, reply, window, model, configured=s.context_window is not None)
    if built.omitted:
        log.info("context for %s (%s) left out: %s", built.path, action, "; ".join(built.omitted))
    rng = lsp_range(doc.text, start, end, ls.encoding)
    first, last = rng["start"]["line"] + 1, rng["end"]["line"] + 1
    prompt = PromptContext(
        path=built.path,
        language=built.language,
        file_context=built.file_context,
        selection=built.selection,
        location=f"line {first}" if first == last else f"lines {first}-{last}",
    )
    return prompt, built


def context_note(built: BuiltContext) -> dict[str, Any]:
    """The `context` field of a job's first notification (see docs/protocol.md)."""
    return {
        "tokens": built.tokens,
        "omitted": list(built.omitted),
        "maskedSecrets": built.masked_secrets,
        "excluded": built.excluded,
    }


# -- dryRun: what a request would send and cost, without sending it ---------------------------
MESSAGE_FRAMING = 4  # tokens each chat message adds beyond its text (role, separators)


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """The prompt tokens of `messages` as DeepSeek counts them (exact with the tokenizer when
    installed, else the estimate); blocking on large texts, so call it in a thread."""
    total = 0
    for m in messages:
        for key in ("content", "reasoning_content"):
            value = m.get(key)
            if isinstance(value, str):
                total += tokens.count_tokens(value)
        total += MESSAGE_FRAMING
    return total


async def dry_run_answer(ls: DeepSeekLanguageServer, body: dict[str, Any]) -> dict[str, Any]:
    """The answer to `dryRun: true`: the request `body` (built exactly as it would be sent)
    measured and priced. Nothing is sent and no job starts. `maxTokens` is the request's
    `max_tokens`, else the reply room the server keeps for it; the cost is an upper bound
    (every prompt token at the cache-miss rate, a reply of `maxTokens`)."""
    s = ls.services.settings
    model = str(body["model"])
    count = await asyncio.to_thread(prompt_tokens, list(body["messages"]))
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int):
        max_tokens = limits.reply_reserve(context_window_for(model, s.context_window), s.max_tokens)
    quote = pricing.quote(model, s.prices)
    cost: dict[str, Any] | None = None
    if quote is not None:
        prompt_cost = count * quote.price.miss / 1_000_000
        reply_cost = max_tokens * quote.price.output / 1_000_000
        cost = {
            "prompt": round(prompt_cost, 6),
            "replyAtMost": round(reply_cost, 6),
            "total": round(prompt_cost + reply_cost, 6),
            "currency": "USD",
            "rate": quote.rate,
            "pricedAs": quote.priced_as,
        }
    threshold = s.confirm_above_tokens
    return {
        "dryRun": True,
        "promptTokens": count,
        "maxTokens": max_tokens,
        "estimatedCost": cost,
        "model": model,
        "confirmAboveTokens": threshold,
        "confirm": bool(threshold) and count > threshold,
    }


def dry_run_refused(err: DeepSeekError) -> dict[str, Any]:
    """The answer to `dryRun: true` for a request the server would refuse before sending
    (empty, excluded, too large): the client can show `error` or just run the action."""
    return {
        "dryRun": True,
        "promptTokens": 0,
        "maxTokens": 0,
        "estimatedCost": None,
        "model": None,
        "confirm": False,
        "error": err.to_json(),
    }
