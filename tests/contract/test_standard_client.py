"""A standard client (docs/protocol.md, "Standard clients"): the raw client without
`experimental.deepseek.stream`, as eglot 1.9 announces itself (no `window`, plain-text hovers).
Written from the protocol page: no `deepseek/stream`, Info messages at start and end, the
explanation as plain text naming its Markdown file, the hover in plain text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from .conftest import check_invariants, server_env
from .fakeds import FakeDeepSeek, Reply
from .lsp import Client

CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
INFO = 3


@pytest_asyncio.fixture
async def eglot(fake: FakeDeepSeek, tmp_path: Path) -> AsyncIterator[Client]:
    data = tmp_path / "data"
    data.mkdir()
    env = server_env(fake, data, DEEPSEEK_LSP_CACHE_DIR=str(tmp_path / "cache"))
    client = await Client.spawn(env)
    caps: dict[str, Any] = {
        "workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True}, "configuration": True},
        "textDocument": {"hover": {"contentFormat": ["plaintext"]}, "synchronization": {"didSave": True}},
        "experimental": {},
    }
    client.init_result = await client.request(
        "initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": caps}
    )
    client.notify("initialized", {})
    yield client
    assert await client.stop() == 0
    check_invariants(client, data)
    assert fake.violations == [], fake.violations


def infos(client: Client) -> list[str]:
    return [p["message"] for p in client.notifications("window/showMessage") if p.get("type") == INFO]


async def test_a_standard_client_gets_standard_lsp_only(
    eglot: Client, fake: FakeDeepSeek, tmp_path: Path
) -> None:
    client, uri = eglot, (tmp_path / "app.py").as_uri()
    fake.enqueue(Reply(content=["`add` returns **the sum** ", "of its arguments."]))
    client.open(uri, CODE)
    result = await client.command("deepseek.explain", {"uri": uri, "range": client.range(uri, 0, 32)})
    assert isinstance(result["jobId"], str)
    told = await client.wait_for(lambda: len(infos(client)) >= 2 and infos(client), what="two Info messages")
    assert told[0].startswith("DeepSeek: Explain — waiting for ")
    head, _, rest = told[1].partition(":\n\n")
    assert head == "DeepSeek: Explain — app.py, lines 1–2"
    assert rest.startswith("`add` returns the sum of its arguments.\n\n(The Markdown is in ")
    path = Path(rest.rsplit("(The Markdown is in ", 1)[1].removesuffix(".)"))
    assert path.parent == tmp_path / "cache" / "explanations" and path.name.startswith("app.py-L1-2-")
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    assert text.endswith("`add` returns **the sum** of its arguments.\n")
    assert client.notifications("deepseek/stream") == [] and client.notifications("$/progress") == []
    hover = await client.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}}
    )
    assert hover["contents"] == {"kind": "plaintext", "value": "`add` returns the sum of its arguments."}
    end = await client.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 0}}
    )
    assert end is None  # the range's end is outside it
