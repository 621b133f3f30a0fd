"""Code actions: every command reachable from a plain LSP client's code action menu."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsprotocol import types

from ..server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from .common import LspDiagnostic

# Explain is a quick fix by kind: VS Code groups the light bulb by kind (Quick Fix first, then
# Extract, Inline, Rewrite, ..., and unknown kinds last under "More Actions..."), and Explain is
# the action that changes nothing, so it heads the menu rather than trailing after the rewrites.
EXPLAIN_KIND = "quickfix.deepseek.explain"
REWRITE_KIND = "refactor.rewrite.deepseek"
FIX_KIND = "quickfix.deepseek"

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
        if rng.start == rng.end:
            return []
        ls.warm_up()  # a selection: an action may follow, have the tokenizer ready for it
        return actions_for(ls, uri, rng, diags, params.context.only)


def actions_for(
    ls: DeepSeekLanguageServer,
    uri: str,
    rng: types.Range,
    diags: list[LspDiagnostic],
    only: Sequence[str] | None = None,
) -> list[types.CodeAction]:
    target = {"uri": uri, "range": ls.protocol._converter.unstructure(rng)}
    out: list[tuple[str, str, str, dict[str, Any]]] = [
        ("DeepSeek: Explain", EXPLAIN_KIND, "deepseek.explain", target),
    ]
    touching = [d for d in diags if _touches(d, rng)]
    if touching:
        fix = {
            **target,
            "action": "fix",
            "diagnostics": [d.model_dump(by_alias=True, exclude_none=True) for d in touching],
        }
        out.append(("DeepSeek: Fix", FIX_KIND, "deepseek.rewrite", fix))
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
