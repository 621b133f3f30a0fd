"""`deepseek.recover`: put back the originals of rewrites a crash interrupted.

The journal (`rewrite/journal.py`) holds each rewrite's original until the job ended with the
document as promised. Entries left by a server that died, or by a rewrite whose original could
not be verified back, are listed here and restored through the same checked edit loop as a
cancel (`rewrite/session.py`): the region is found again in the document as the client has it
now, replaced by the original, and the result is read back before the entry is removed. At
start, a client is asked once (standard `window/showMessageRequest`) whether to recover.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from ...positions import to_pos
from ...rewrite.journal import Entry, locate, pid_alive
from ...rewrite.region import Region
from ...rewrite.session import Session
from ...server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from ..common import Args, content_changes
from .edits import document_text, send_edit, uquote

log = logging.getLogger(__name__)

RECOVER = "deepseek.recover"
OPEN_TIMEOUT = 5.0  # seconds to wait for a document the client was asked to open


class RecoverArgs(Args):
    dry_run: bool = False
    ids: list[str] | None = None


def pending(ls: DeepSeekLanguageServer) -> list[Entry]:
    """Entries no running rewrite holds: left by a dead server, or not verified back here."""
    active = ls.services.active_journal
    return [
        e
        for e in ls.services.journal.entries()
        if e.id not in active and (e.pid == os.getpid() or not pid_alive(e.pid))
    ]


def describe(ls: DeepSeekLanguageServer, entry: Entry, status: str, message: str) -> dict[str, Any]:
    """An entry as the contract shows it: `range` is where the original stood."""
    whole = entry.before + entry.original + entry.after
    a, b = to_pos(whole, entry.start, ls.encoding), to_pos(whole, entry.end, ls.encoding)
    return {
        "id": entry.id,
        "uri": entry.uri,
        "range": {
            "start": {"line": a.line, "character": a.character},
            "end": {"line": b.line, "character": b.character},
        },
        "original": entry.original,
        "title": entry.title,
        "startedAt": entry.started_at,
        "status": status,
        "message": message,
    }


def _where(entry: Entry) -> str:
    name = os.path.basename(unquote(urlparse(entry.uri).path)) or entry.uri
    return f"{name}:{entry.line}"


class RecoverFeature:
    def __init__(self, ls: DeepSeekLanguageServer) -> None:
        self.ls = ls
        self._lock = asyncio.Lock()  # one recovery at a time: two would fight over one region

    async def run(self, a: RecoverArgs) -> dict[str, Any]:
        entries = pending(self.ls)
        if a.ids is not None:
            entries = [e for e in entries if e.id in set(a.ids)]
        if a.dry_run:
            return {
                "entries": [
                    describe(self.ls, e, "pending", f"{e.title} at {_where(e)} was interrupted.")
                    for e in entries
                ]
            }
        results = []
        async with self._lock:
            for entry in entries:
                status, message = await self.recover_one(entry)
                if status in ("restored", "unchanged"):
                    self.ls.services.journal.remove(entry.id)
                results.append(describe(self.ls, entry, status, message))
        return {"entries": results}

    async def recover_one(self, entry: Entry) -> tuple[str, str]:
        where = _where(entry)
        text = document_text(self.ls, entry.uri)
        if text is None:
            text = await self._open(entry.uri)
        if text is None:
            return "failed", f"{where} is not open in the editor: open it and run recover again."
        found = locate(text, entry)
        if found is None:
            return (
                "conflict",
                f"{where}: the rewritten code cannot be found safely (the file changed around it), "
                "so nothing was changed. The original is kept: copy it back by hand.",
            )
        start, end = found
        if text[start:end] == entry.original:
            return "unchanged", f"{where} already holds the original code."
        ok = await self._put_back(entry, text, start, end)
        if ok:
            return "restored", f"{where}: the original code is back ({entry.title})."
        return "failed", f"{where}: the editor did not take the original back; it is kept for another try."

    async def _put_back(self, entry: Entry, text: str, start: int, end: int) -> bool:
        ls = self.ls
        doc = ls.workspace.text_documents.get(entry.uri) or next(
            (d for u, d in ls.workspace.text_documents.items() if uquote(u) == uquote(entry.uri)), None
        )
        region = Region(text, doc.version if doc else None, start, end)

        async def send(edit: Any) -> bool | None:
            return await send_edit(ls, entry.uri, region, edit, label="DeepSeek: recover the original")

        session = Session(region, send, document=lambda: document_text(ls, entry.uri))
        session.original = entry.original
        uri = uquote(entry.uri)

        def listener(params: types.DidChangeTextDocumentParams) -> None:
            if uquote(params.text_document.uri) == uri:
                session.on_change(content_changes(params), params.text_document.version, ls.encoding)

        ls.change_listeners.append(listener)
        try:
            return await session.restore()
        finally:
            ls.change_listeners.remove(listener)

    async def _open(self, uri: str) -> str | None:
        """Ask the client to open the document (LSP 3.16 showDocument) and wait for it."""
        window = self.ls.client_capabilities.window
        if not (window and window.show_document and window.show_document.support):
            return None
        try:
            result = await asyncio.wait_for(
                self.ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True)),
                OPEN_TIMEOUT,
            )
        except Exception:
            return None
        if not result.success:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + OPEN_TIMEOUT
        while loop.time() < deadline:  # didOpen follows the answer, on the same stream
            text = document_text(self.ls, uri)
            if text is not None:
                return text
            await asyncio.sleep(0.05)
        return None

    async def offer(self) -> None:
        """At start: interrupted rewrites are offered back once."""
        entries = await asyncio.to_thread(pending, self.ls)
        if not entries:
            return
        where = ", ".join(_where(e) for e in entries[:3]) + (" …" if len(entries) > 3 else "")
        n = len(entries)
        message = (
            f"deepseek-lsp: {n} rewrite{'s were' if n > 1 else ' was'} interrupted before "
            f"{'their' if n > 1 else 'its'} original code was verified back ({where}). "
            "Put the original code back?"
        )
        window = self.ls.client_capabilities.window
        if not (window and window.show_message is not None):
            self.ls.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Warning,
                    message=message + " Run the deepseek.recover command to do so.",
                )
            )
            return
        try:
            choice = await self.ls.window_show_message_request_async(
                types.ShowMessageRequestParams(
                    type=types.MessageType.Warning,
                    message=message,
                    actions=[
                        types.MessageActionItem(title="Recover"),
                        types.MessageActionItem(title="Later"),
                    ],
                )
            )
        except Exception:
            return
        if choice is None or choice.title != "Recover":
            return
        result = await self.run(RecoverArgs())
        lines = [e["message"] for e in result["entries"]]
        failed = any(e["status"] in ("conflict", "failed") for e in result["entries"])
        self.ls.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Warning if failed else types.MessageType.Info,
                message="deepseek-lsp: " + " ".join(lines),
            )
        )


def register(ls: DeepSeekLanguageServer) -> None:
    feature = RecoverFeature(ls)
    ls.initialized_hooks.append(feature.offer)

    @ls.command(RECOVER)
    async def recover(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        if len(args) > 1:
            raise JsonRpcInvalidParams(f"{RECOVER}: expected at most one argument object")
        if not args or args[0] is None:
            return await feature.run(RecoverArgs())
        from ..common import parse_args

        return await feature.run(parse_args(RecoverArgs, args, RECOVER))
