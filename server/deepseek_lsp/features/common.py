"""Glue shared by the features: command arguments, document snapshots, context requests."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from ..context import BuiltContext, ContextRequest, DiagnosticInfo, DocumentSnapshot, build_context
from ..positions import Pos, lsp_range
from ..prompts import PromptContext

if TYPE_CHECKING:
    from ..server import DeepSeekLanguageServer

log = logging.getLogger(__name__)

A = TypeVar("A", bound="Args")


class Args(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class LspPosition(Args):
    line: int
    character: int


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
        raise JsonRpcInvalidParams(f"{command} takes one argument, an object")
    try:
        return model.model_validate(args[0])
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise JsonRpcInvalidParams(f"{command}: invalid argument: {problems}") from None


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


def snapshot(ls: DeepSeekLanguageServer, uri: str) -> DocumentSnapshot:
    doc = ls.workspace.get_text_document(uri)
    try:
        text = doc.source
    except OSError as exc:
        raise JsonRpcInvalidParams(f"cannot read {uri}: {exc.strerror}") from None
    return DocumentSnapshot(
        uri=uri,
        path=to_fs_path(uri),
        language_id=doc.language_id or _guess_language(uri),
        text=text,
        version=doc.version,
    )


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


async def gather_context(
    ls: DeepSeekLanguageServer,
    action: str,
    doc: DocumentSnapshot,
    start: int,
    end: int,
    diagnostics: tuple[DiagnosticInfo, ...] = (),
) -> tuple[PromptContext, BuiltContext]:
    """Build the context off the event loop (large files must never stall streaming)."""
    s = ls.services.settings
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
    """The `context` field of a job's first notification (an additive PROTOCOL extension)."""
    return {
        "tokens": built.tokens,
        "omitted": list(built.omitted),
        "maskedSecrets": built.masked_secrets,
        "excluded": built.excluded,
    }
