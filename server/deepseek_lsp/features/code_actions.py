"""Code actions: every command reachable from a plain LSP client's code action menu.

Fix is offered on any selection: with the client's diagnostics when it sent (or earlier sent)
some, else the model is asked to find the problem itself (eglot runs one server per buffer, so
its requests carry none of the other servers' diagnostics). A rewrite that holds the lines
offers its own way out (cancel, or accept and reject in review), the only one a client without
our plugin has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsprotocol import types

from ..server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from .common import LspDiagnostic
from .rewrite.job import rewrites_on

# Explain is a quick fix by kind: VS Code groups the light bulb by kind (Quick Fix first, then
# Extract, Inline, Rewrite, ..., and unknown kinds last under "More Actions..."), and Explain is
# the action that changes nothing, so it heads the menu rather than trailing after the rewrites.
EXPLAIN_KIND = "quickfix.deepseek.explain"
REWRITE_KIND = "refactor.rewrite.deepseek"
FIX_KIND = "quickfix.deepseek"
JOB_KIND = "refactor.rewrite.deepseek.job"  # accept, reject or cancel the rewrite holding the lines

BUILTIN_REWRITES = (
    ("refactor", "DeepSeek: Refactor", REWRITE_KIND),
    ("docstring", "DeepSeek: Add docstring", REWRITE_KIND),
    ("tests", "DeepSeek: Write tests", REWRITE_KIND),
)


def register(ls: DeepSeekLanguageServer) -> None:
    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[
                types.CodeActionKind.QuickFix,
                types.CodeActionKind.Refactor,
                types.CodeActionKind.RefactorRewrite,
            ]
        ),
    )
    def code_actions(ls: DeepSeekLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        rng = params.range
        diags = [
            LspDiagnostic.model_validate(ls.protocol._converter.unstructure(d))
            for d in params.context.diagnostics
        ]
        if diags:
            ls.diagnostics[uri] = diags
        if rng.start != rng.end:
            ls.warm_up()  # a selection: an action may follow, have the tokenizer ready for it
        return actions_for(ls, uri, rng, diags, params.context.only)


def actions_for(
    ls: DeepSeekLanguageServer,
    uri: str,
    rng: types.Range,
    diags: list[LspDiagnostic],
    only: Sequence[str] | None = None,
) -> list[types.CodeAction]:
    """The actions for `rng`, in the order of docs/protocol.md; an empty range gets only the
    actions of a rewrite holding it."""
    target = {"uri": uri, "range": ls.protocol._converter.unstructure(rng)}
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    selection = rng.start != rng.end
    if selection:
        out.append(("DeepSeek: Explain", EXPLAIN_KIND, "deepseek.explain", target))
        fix: dict[str, Any] = {**target, "action": "fix"}
        touching = [d for d in diags if _touches(d, rng)]
        if touching:
            fix["diagnostics"] = [d.model_dump(by_alias=True, exclude_none=True) for d in touching]
        out.append(("DeepSeek: Fix", FIX_KIND, "deepseek.rewrite", fix))
    for rw in rewrites_on(ls, uri, rng):
        what = f"rewrite ({rw.title}, {rw.job.id})"
        job = {"jobId": rw.job.id}
        if rw.job.state == "review":
            out.append((f"DeepSeek: Accept {what}", JOB_KIND, "deepseek.accept", job))
            out.append((f"DeepSeek: Reject {what}", JOB_KIND, "deepseek.reject", job))
        else:
            out.append((f"DeepSeek: Cancel {what}", JOB_KIND, "deepseek.cancel", job))
    if not selection:
        return _actions(out, only)
    for name, title, kind in BUILTIN_REWRITES:
        out.append((title, kind, "deepseek.rewrite", {**target, "action": name}))
    for action in ls.services.settings.actions:
        out.append(
            (
                f"DeepSeek: {action.title}",
                REWRITE_KIND,
                "deepseek.rewrite",
                {**target, "action": action.name},
            )
        )
    return _actions(out, only)


def _actions(
    out: list[tuple[str, str, str, dict[str, Any]]], only: Sequence[str] | None
) -> list[types.CodeAction]:
    return [
        types.CodeAction(
            title=title,
            kind=kind,
            command=types.Command(title=title, command=command, arguments=[args]),
            diagnostics=None,
        )
        for title, kind, command, args in out
        if not only or any(kind == o or kind.startswith(o + ".") for o in only)
    ]


def _touches(d: LspDiagnostic, rng: types.Range) -> bool:
    start = (d.range.start.line, d.range.start.character)
    end = (d.range.end.line, d.range.end.character)
    return start <= (rng.end.line, rng.end.character) and end >= (
        rng.start.line,
        rng.start.character,
    )
