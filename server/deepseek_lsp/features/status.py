"""`deepseek.status` and `deepseek.cancel`, and the document bookkeeping other features read."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from ..server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from .common import Args, parse_args


class CancelArgs(Args):
    job_id: str


def register(ls: DeepSeekLanguageServer) -> None:
    @ls.command("deepseek.status")
    def status(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        return ls.services.status()

    @ls.command("deepseek.cancel")
    def cancel(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, bool]:
        a = parse_args(CancelArgs, args, "deepseek.cancel")
        return {"cancelled": ls.services.jobs.cancel(a.job_id)}

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DeepSeekLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.touch(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DeepSeekLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.touch(params.text_document.uri)
        for listener in list(ls.change_listeners):
            listener(params)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DeepSeekLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri in ls.recent_uris:
            ls.recent_uris.remove(uri)
        ls.diagnostics.pop(uri, None)
