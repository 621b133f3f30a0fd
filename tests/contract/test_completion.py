"""Inline completion as docs/protocol.md ("Inline completion") says, checked with the raw client
and the second fake (its FIM endpoint written from DeepSeek's API reference)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from .conftest import Start, check_invariants, server_env
from .fakeds import FakeDeepSeek, Reply
from .lsp import Client, LspError

CODE = "import os\n\n\ndef home():\n    return \n\n\ndef cwd():\n    return os.getcwd()\n"
AFTER_RETURN = {"line": 4, "character": 11}


def inline_params(uri: str, pos: dict[str, int], kind: int = 1) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, "position": pos, "context": {"triggerKind": kind}}


async def test_ghost_text_from_a_fim_reply(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start(init_options={"completion": {"debounce": 0}})
    assert client.init_result["capabilities"]["inlineCompletionProvider"] == {}
    assert "completionProvider" not in client.init_result["capabilities"]  # fallbackItem is off
    client.open(py_uri, CODE)
    fake.enqueue(Reply(content=["os.path", ".expanduser", '("~")\n', "\n\ndef other():"]))
    result = await client.request("textDocument/inlineCompletion", inline_params(py_uri, AFTER_RETURN))
    assert result == {
        "items": [
            {"insertText": 'os.path.expanduser("~")', "range": {"start": AFTER_RETURN, "end": AFTER_RETURN}}
        ]
    }
    [sent] = fake.fims
    body = sent.body
    assert body["prompt"].endswith("def home():\n    return ") and body["suffix"].startswith("\n\n\ndef cwd")
    assert body["model"] != "deepseek-reasoner" and 0 < body["max_tokens"] <= 4096
    # nothing to suggest: an empty list, never an empty item
    fake.enqueue(Reply(content=[]))
    pos = {"line": 8, "character": 22}
    assert await client.request("textDocument/inlineCompletion", inline_params(py_uri, pos)) == {"items": []}
    usage = (await client.command("deepseek.status", {}))["usage"]
    assert usage["requests"] == 2


async def test_cancel_request_closes_the_fim_request(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start()
    client.open(py_uri, CODE)
    fake.enqueue(Reply(content=["never"], hang_after=0))
    rid = client.send_request("textDocument/inlineCompletion", inline_params(py_uri, AFTER_RETURN))
    answer = asyncio.ensure_future(client.response(rid))
    [seen] = await fake.wait_fims(1)
    sent = asyncio.get_running_loop().time()
    client.notify("$/cancelRequest", {"id": rid})
    await fake.wait_closed(seen)
    assert seen.disconnected is not None and seen.finished is None
    assert asyncio.get_running_loop().time() - sent < 2.0
    try:
        assert await answer == {"items": []}
    except LspError as err:
        assert err.code == -32800  # RequestCancelled


async def test_a_newer_request_supersedes_the_older(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start(init_options={"completion": {"debounce": 0}})
    client.open(py_uri, CODE)
    fake.enqueue(Reply(content=["never"], hang_after=0), Reply(content=["os.sep"]))
    older = asyncio.ensure_future(
        client.response(
            client.send_request("textDocument/inlineCompletion", inline_params(py_uri, AFTER_RETURN, 2))
        )
    )
    [first] = await fake.wait_fims(1)
    doc = client.docs[py_uri]  # the user types at the cursor: the older suggestion is stale
    at = doc.text.index("    return \n") + len("    return ")
    client.type_text(py_uri, at, at, "(")
    newer = await client.request(
        "textDocument/inlineCompletion", inline_params(py_uri, {"line": 4, "character": 12}, 2)
    )
    await fake.wait_closed(first)
    assert first.disconnected is not None
    assert newer["items"][0]["insertText"] == "os.sep"
    try:
        assert await older == {"items": []}
    except LspError as err:
        assert err.code == -32800


async def test_the_fallback_item_registered_when_the_setting_comes_later(
    fake: FakeDeepSeek, tmp_path: Path, py_uri: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    client = await Client.spawn(
        server_env(fake, data), config={"deepseek": {"completion": {"fallbackItem": True, "debounce": 0}}}
    )
    try:
        caps = {
            "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": True}},
            "textDocument": {"completion": {"dynamicRegistration": True}},
        }
        init = await client.request(
            "initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": caps}
        )
        assert "completionProvider" not in init["capabilities"]  # not known at initialize
        client.notify("initialized", {})

        def registered() -> list[Any]:
            return [
                r
                for m in client.messages
                if m.get("method") == "client/registerCapability"
                for r in m["params"]["registrations"]
                if r["method"] == "textDocument/completion"
            ]

        await client.wait_for(registered, what="textDocument/completion registered")
        client.open(py_uri, "def home():\n    return os\n")
        fake.enqueue(Reply(content=[".getcwd()"]))
        pos = {"line": 1, "character": 13}
        result = await client.request(
            "textDocument/completion", {"textDocument": {"uri": py_uri}, "position": pos}
        )
        [item] = result["items"]
        assert item["textEdit"] == {
            "range": {"start": {"line": 1, "character": 11}, "end": pos},
            "newText": "os.getcwd()",
        }
        # turned off: unregistered
        client.notify("workspace/didChangeConfiguration", {"settings": {"deepseek": {"completion": {}}}})
        await client.wait_for(
            lambda: any(m.get("method") == "client/unregisterCapability" for m in client.messages),
            what="unregistered",
        )
    finally:
        assert await client.stop() == 0
    check_invariants(client, data)
    assert fake.violations == [], fake.violations
