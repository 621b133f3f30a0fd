"""The rewrite's edits on the wire: one versioned `workspace/applyEdit`, and the server's own
copy of a document to check the result against. Shared by the rewrite job and recovery."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import unquote

from lsprotocol import types

from ...rewrite.region import Edit, Region
from ...rewrite.session import APPLY_TIMEOUT
from ...server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations

log = logging.getLogger(__name__)


def uquote(uri: str) -> str:
    return unquote(uri)


async def send_edit(
    ls: DeepSeekLanguageServer,
    uri: str,
    region: Region,
    edit: Edit,
    label: str = "DeepSeek rewrite",
    timeout: float = APPLY_TIMEOUT,
) -> bool | None:
    """One versioned `workspace/applyEdit`: True applied, False refused (the client's reason,
    if it gave one, in `edit.refusal`), None no answer within `timeout` seconds."""
    rng = region.range_of(edit.start, edit.end, ls.encoding)
    params = types.ApplyWorkspaceEditParams(
        label=label,
        edit=types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=edit.version
                    ),
                    edits=[types.TextEdit(range=lsp_range(rng), new_text=edit.text)],
                )
            ]
        ),
    )
    try:
        result = await asyncio.wait_for(ls.workspace_apply_edit_async(params), timeout)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        log.info("workspace/applyEdit: no answer in %.0f s", timeout)
        return None  # unknown: it may still land, and is then recognised as ours
    except Exception as exc:  # an error answer: eglot's "User cancelled server edit"
        edit.refusal = str(getattr(exc, "message", None) or exc) or None
        log.info("workspace/applyEdit failed: %s: %s", type(exc).__name__, edit.refusal)
        return False
    if not result.applied:
        edit.refusal = result.failure_reason
        log.info("the client did not apply an edit: %s", result.failure_reason or "no reason given")
    return bool(result.applied)


def document_text(ls: DeepSeekLanguageServer, uri: str) -> str | None:
    """The server's own copy of an open document (None when it is not open)."""
    docs = ls.workspace.text_documents
    doc = docs.get(uri)
    if doc is None:
        plain = uquote(uri)
        doc = next((d for u, d in docs.items() if uquote(u) == plain), None)
    return doc.source if doc is not None else None


def lsp_range(r: dict[str, dict[str, int]]) -> types.Range:
    return types.Range(
        start=types.Position(line=r["start"]["line"], character=r["start"]["character"]),
        end=types.Position(line=r["end"]["line"], character=r["end"]["character"]),
    )
