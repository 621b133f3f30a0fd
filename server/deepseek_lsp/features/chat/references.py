"""Chat `#references`: the code a message attaches, through the shared context builder.

Every attachment goes through `context.build_context`, so excluded files are refused and
secrets masked exactly as for every other action; `#file:` paths never leave the workspace.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from pygls.uris import from_fs_path

from ... import prompts, textcodec
from ...chat import commands as cmds
from ...context import DocumentSnapshot
from ...server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from ..common import _guess_language, diagnostics_for, gather_context
from .state import Turn

MAX_FILE_BYTES = 1_000_000


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
    text = textcodec.decode(path.read_bytes())  # its own encoding: latin-1 stays "café"
    if text is None:
        raise cmds.AttachError("the file looks binary")
    return text


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
