"""Code action order and kinds: Explain heads the menu in every editor, VS Code's light bulb included."""

from __future__ import annotations

from typing import Any

from .conftest import Start
from .fakeds import FakeDeepSeek
from .lsp import Client
from .test_actions import code_actions
from .test_jobs import CODE


def _kinds(actions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["title"], a["kind"]) for a in actions if a["title"].startswith("DeepSeek:")]


async def _only(client: Client, uri: str, only: list[str]) -> list[str]:
    result = await client.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": client.range(uri, 0, 32),
            "context": {"diagnostics": [], "only": only},
        },
    )
    return [a["title"] for a in result or []]


async def test_explain_comes_first_with_a_kind_vscode_lists_first(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    """VS Code groups code actions by kind, quick fixes first and unknown kinds last ("More Actions...")."""
    client = await start()
    client.open(py_uri, CODE)
    plain = _kinds(await code_actions(client, py_uri, 0, 32, []))
    assert plain[0] == ("DeepSeek: Explain", "quickfix.deepseek.explain"), plain
    # Fix on any selection (the model finds the problem when no diagnostics came), a quick fix too
    assert plain[1] == ("DeepSeek: Fix", "quickfix.deepseek"), plain
    assert [t for t, _ in plain[2:]] == [
        "DeepSeek: Refactor",
        "DeepSeek: Add docstring",
        "DeepSeek: Write tests",
    ]
    assert all(k.startswith("refactor.rewrite") for _, k in plain[2:]), plain

    diag = {"range": client.range(py_uri, 19, 31), "message": "undefined name", "severity": 1}
    with_fix = _kinds(await code_actions(client, py_uri, 0, 32, [diag]))
    assert with_fix == plain, "diagnostics go with Fix; they change neither titles nor order"

    # context.only: a kind matches itself and its sub-kinds
    assert await _only(client, py_uri, ["quickfix"]) == ["DeepSeek: Explain", "DeepSeek: Fix"]
    assert "DeepSeek: Explain" not in await _only(client, py_uri, ["refactor"])
