"""PLACEHOLDER until the context builder (issue 5) lands: a line window around the selection."""

from __future__ import annotations

from dataclasses import dataclass

from .settings import DEFAULT_EXCLUDES


@dataclass(frozen=True)
class DocumentSnapshot:
    uri: str
    path: str | None
    language_id: str
    text: str
    version: int | None = None


@dataclass(frozen=True)
class DiagnosticInfo:
    start_line: int
    end_line: int
    message: str
    severity: str
    source: str | None


@dataclass(frozen=True)
class ContextRequest:
    action: str
    document: DocumentSnapshot
    start: int
    end: int
    diagnostics: tuple[DiagnosticInfo, ...] = ()
    open_documents: tuple[DocumentSnapshot, ...] = ()
    workspace_root: str | None = None
    budget_tokens: int = 6000
    exclude_patterns: tuple[str, ...] = DEFAULT_EXCLUDES
    mask_secrets: bool = True


@dataclass(frozen=True)
class BuiltContext:
    file_context: str
    selection: str
    language: str
    path: str
    omitted: tuple[str, ...]
    masked_secrets: int
    tokens: int
    excluded: bool


def build_context(req: ContextRequest) -> BuiltContext:
    doc = req.document
    return BuiltContext(
        file_context="```\n" + doc.text + "\n```",
        selection=doc.text[req.start : req.end],
        language=doc.language_id,
        path=doc.path or doc.uri,
        omitted=(),
        masked_secrets=0,
        tokens=len(doc.text) // 3,
        excluded=False,
    )
