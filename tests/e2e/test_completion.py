"""Issue 13 end to end: inline completion through the real server process against the fake
DeepSeek's FIM endpoint (`POST /beta/completions`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from deepseek_lsp.fake import FakeDeepSeek, Reply

from .harness import TEST_KEY, Recorder, command, open_doc, server_config, start_client

URI = "file:///tmp/project/calc.py"
TEXT = "import math\n\n\ndef area(r):\n    return \n\n\ndef twice(x):\n    return 2 * x\n"
RETURN = types.Position(line=4, character=11)  # after `return ` in area()
INVOKED = types.InlineCompletionTriggerKind.Invoked
AUTOMATIC = types.InlineCompletionTriggerKind.Automatic

Start = Callable[..., Awaitable[tuple[LanguageClient, Recorder]]]


@pytest_asyncio.fixture
async def start(fake: FakeDeepSeek) -> AsyncIterator[Start]:
    clients: list[LanguageClient] = []

    async def _start(
        completion: dict[str, Any] | None = None,
        base: str = "",
        key: str | None = TEST_KEY,
        capabilities: str = "visual-studio-code",
        **env: str,
    ) -> tuple[LanguageClient, Recorder]:
        init = {"completion": completion} if completion is not None else None
        config = server_config(fake.base_url + base, key=key, **env)
        client, rec = await start_client(config, init_options=init, capabilities=capabilities)
        clients.append(client)
        return client, rec

    yield _start
    for client in clients:
        await client.shutdown_session()


def params(
    uri: str, pos: types.Position, kind: types.InlineCompletionTriggerKind
) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=pos,
        context=types.InlineCompletionContext(trigger_kind=kind),
    )


async def inline(
    client: LanguageClient,
    pos: types.Position,
    kind: types.InlineCompletionTriggerKind = INVOKED,
    uri: str = URI,
) -> list[str]:
    """The insertTexts answered at `pos` (each item's range is the empty range at `pos`)."""
    result = await asyncio.wait_for(client.text_document_inline_completion_async(params(uri, pos, kind)), 10)
    assert isinstance(result, types.InlineCompletionList), result
    for item in result.items:
        assert item.range == types.Range(start=pos, end=pos)
        assert item.insert_text  # never an empty item
    return [str(item.insert_text) for item in result.items]


def type_at(client: LanguageClient, pos: types.Position, text: str, version: int, uri: str = URI) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(range=types.Range(start=pos, end=pos), text=text)
            ],
        )
    )


def fim(fake: FakeDeepSeek) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith("/completions") and "/chat/" not in r.path]


async def test_ghost_text_then_the_cache_answers_repeats_and_typing_through(
    start: Start, fake: FakeDeepSeek
) -> None:
    client, _ = await start()
    open_doc(client, URI, TEXT)
    fake.enqueue(Reply(content="math.pi * r ** 2\n\n\ndef other():"))
    assert await inline(client, RETURN) == ["math.pi * r ** 2"]
    [sent] = fim(fake)
    assert sent.path == "/beta/completions"
    body = sent.body
    assert body["model"] == "deepseek-flash"  # the cheapest non-thinking model listed
    assert body["prompt"].endswith("def area(r):\n    return ")
    assert body["suffix"].startswith("\n\n\ndef twice(x):")
    assert body["max_tokens"] == 256 and body["stream"] is True and body["stop"] == ["\n"]
    assert "thinking" not in body and "messages" not in body

    # the same position again: from the cache
    assert await inline(client, RETURN, AUTOMATIC) == ["math.pi * r ** 2"]
    # typing the start of the suggestion: its rest, without a request (didChange comes first)
    type_at(client, RETURN, "math.", 2)
    assert await inline(client, types.Position(line=4, character=16), AUTOMATIC) == ["pi * r ** 2"]
    assert len(fim(fake)) == 1

    status = await command(client, "deepseek.status", {})
    comp = status["completion"]
    assert comp["upstream"] == 1 and comp["cacheAnswers"] == 2 and comp["model"] == "deepseek-flash"
    assert comp["usage"]["requests"] == 1 and comp["usage"]["promptTokens"] > 0
    assert status["usage"]["requests"] == 1  # in the session totals too


async def test_quality_rules_on_scripted_replies(start: Start, fake: FakeDeepSeek) -> None:
    client, _ = await start()
    text = "def f(items):\n    total = 0\n    for x in items:\n        \n    return total\n\n\ndef g():\n    pass\n"
    open_doc(client, URI, text)
    body = types.Position(line=3, character=8)
    # repeats the text after the cursor, runs past the block: cut to the loop's body
    fake.enqueue(Reply(content="total += x\n    return total\n\n\ndef g():\n    pass\n"))
    assert await inline(client, body) == ["total += x"]
    # nothing but the suffix again: no item
    fake.enqueue(Reply(content="0"))  # at `total = |0`
    assert await inline(client, types.Position(line=1, character=12), AUTOMATIC) == []
    # an empty answer: no item, never an empty one
    fake.enqueue(Reply(content=""))
    assert await inline(client, types.Position(line=8, character=8)) == []
    assert len(fim(fake)) == 3
    # inside a comment or string: no request unless invoked
    open_doc(client, "file:///tmp/project/c.py", "# a comment here\nx = 1\n")
    assert (
        await inline(client, types.Position(line=0, character=9), AUTOMATIC, "file:///tmp/project/c.py") == []
    )
    assert len(fim(fake)) == 3


async def test_a_newer_request_cancels_the_older_and_closes_its_http_request(
    start: Start, fake: FakeDeepSeek
) -> None:
    client, _ = await start({"debounce": 0})
    open_doc(client, URI, TEXT)
    fake.enqueue(Reply(hang=True), Reply(content="2 * r"))
    older = asyncio.ensure_future(inline(client, RETURN, AUTOMATIC))
    await fake.wait_for_requests(1)
    type_at(client, RETURN, "x", 2)  # typed, and not what the pending answer streamed
    newer = await inline(client, types.Position(line=4, character=12), AUTOMATIC)
    record = await fake.wait_for_disconnect(0)
    assert record.disconnected and not record.completed
    assert await older == []  # superseded: no suggestion
    assert newer == ["2 * r"]


async def test_cancel_request_closes_the_upstream_request(start: Start, fake: FakeDeepSeek) -> None:
    client, _ = await start()
    open_doc(client, URI, TEXT)
    fake.enqueue(Reply(hang=True))
    fut = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params(URI, RETURN, INVOKED), msg_id="ghost-1"
        )
    )
    await fake.wait_for_requests(1)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="ghost-1"))
    record = await fake.wait_for_disconnect(0)
    assert record.disconnected
    try:
        await asyncio.wait_for(fut, 5)
    except Exception as exc:  # the request is answered RequestCancelled (-32800)
        assert "cancel" in str(exc).lower()


async def test_the_debounce_sends_one_request_for_a_burst(start: Start, fake: FakeDeepSeek) -> None:
    client, _ = await start({"debounce": 200})
    open_doc(client, URI, TEXT)
    fake.enqueue(Reply(content="r * r"))
    first = asyncio.ensure_future(inline(client, RETURN, AUTOMATIC))
    type_at(client, RETURN, "m", 2)
    second = asyncio.ensure_future(inline(client, types.Position(line=4, character=12), AUTOMATIC))
    assert await first == []  # superseded while it waited: never sent
    assert await second == ["r * r"]
    [sent] = fim(fake)
    assert sent.body["prompt"].endswith("    return m")


async def test_no_request_for_excluded_files_other_languages_or_when_disabled(
    start: Start, fake: FakeDeepSeek
) -> None:
    client, _ = await start({"languages": ["python", "go"]})
    secret = "file:///tmp/project/.env"
    open_doc(client, secret, "API_URL=\nDEBUG=1\n", language="dotenv")
    open_doc(client, "file:///tmp/project/notes.md", "# Notes\n\nSome \n", language="markdown")
    open_doc(client, URI, TEXT)
    assert await inline(client, types.Position(line=0, character=8), uri=secret) == []
    assert await inline(client, types.Position(line=2, character=5), uri="file:///tmp/project/notes.md") == []
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"deepseek": {"completion": {"enabled": False}}})
    )
    assert await inline(client, RETURN) == []
    status = await command(client, "deepseek.status", {})
    assert status["completion"]["enabled"] is False
    assert fim(fake) == []


async def test_textdocument_completion_fallback_item(start: Start, fake: FakeDeepSeek) -> None:
    client, rec = await start({"fallbackItem": True})
    assert rec.init is not None and rec.init.capabilities.completion_provider is not None
    assert rec.init.capabilities.inline_completion_provider is not None
    open_doc(client, URI, "def area(r):\n    return ma\n")
    fake.enqueue(Reply(content="th.pi * r ** 2"))
    pos = types.Position(line=1, character=13)
    result = await asyncio.wait_for(
        client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=URI), position=pos)
        ),
        10,
    )
    assert isinstance(result, types.CompletionList) and result.is_incomplete
    [item] = result.items
    assert isinstance(item.text_edit, types.TextEdit)
    # the word before the cursor is replaced by itself and the suggestion (clients filter by it)
    assert item.text_edit.range == types.Range(start=types.Position(line=1, character=11), end=pos)
    assert item.text_edit.new_text == "math.pi * r ** 2" and item.filter_text == "math.pi * r ** 2"


async def test_without_the_setting_no_completion_provider(start: Start) -> None:
    _, rec = await start()
    assert rec.init is not None and rec.init.capabilities.completion_provider is None
    assert rec.init.capabilities.inline_completion_provider is not None


async def test_a_generic_server_gets_completions_with_suffix(start: Start, fake: FakeDeepSeek) -> None:
    fake.set_profile("openai")
    fake.api_key = None
    client, _ = await start(base="/v1", key=None, DEEPSEEK_MODEL="")
    open_doc(client, URI, TEXT)
    fake.enqueue(Reply(content="math.tau * r"))
    assert await inline(client, RETURN) == ["math.tau * r"]
    [sent] = fim(fake)
    assert sent.path == "/v1/completions"
    assert sent.body["model"] == "local-model" and sent.body["suffix"].startswith("\n\n\ndef twice")
    assert "Authorization" not in sent.headers
    usage = (await command(client, "deepseek.status", {}))["completion"]["usage"]
    assert usage["requests"] == 1 and usage["estimatedRequests"] == 1  # the server reported none


async def test_a_server_without_fim_turns_completion_off_once(start: Start, fake: FakeDeepSeek) -> None:
    fake.set_profile("openai")
    fake.api_key = None
    # no /v1: the generic fake answers 404 for /completions, as a server without FIM would
    client, rec = await start(key=None, DEEPSEEK_MODEL="local-model", DEEPSEEK_PROVIDER="openai")
    open_doc(client, URI, TEXT)
    assert await inline(client, RETURN) == []
    assert await inline(client, types.Position(line=8, character=14)) == []
    assert [r.path for r in fim(fake)] == ["/completions"]  # asked once, then off
    await rec.wait_for(lambda: any("no FIM endpoint" in m.message for m in rec.logs))
    status = (await command(client, "deepseek.status", {}))["completion"]
    assert status["enabled"] is False and status["lastError"]["code"] == "bad_request"


async def test_positions_in_utf8_as_neovim_negotiates(start: Start, fake: FakeDeepSeek) -> None:
    client, _ = await start(capabilities="neovim")
    text = 'def greet():\n    s = "héllo" + \n'
    open_doc(client, URI, text)
    fake.enqueue(Reply(content="name"))
    pos = types.Position(line=1, character=len('    s = "héllo" + '.encode()))  # UTF-8 code units
    assert await inline(client, pos) == ["name"]
    [sent] = fim(fake)
    assert sent.body["prompt"].endswith('s = "héllo" + ') and sent.body["suffix"] == "\n"
