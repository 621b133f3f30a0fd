"""Issue 12 end to end: the real server process against the fake in its generic mode, which
plays llama-cpp-python's OpenAI-compatible server (no key, /v1 only, no /beta, no balance, usage
only when asked or never, an empty 200 for a prompt over its context)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from deepseek_lsp.fake import FakeDeepSeek, Reply

from .harness import TEST_KEY, Recorder, command, open_doc, rng, server_config, start_client
from .test_rewrite import DOC, NEW, NEW_CODE, OLD, SELECTION, Editor

URI = "file:///tmp/project/graph.py"
TEXT = "def add(a, b):\n    return a + b\n"
SEL = rng(0, 0, 2, 0)

Start = Callable[..., Awaitable[tuple[LanguageClient, Recorder]]]


@pytest_asyncio.fixture
async def local() -> AsyncIterator[FakeDeepSeek]:
    async with FakeDeepSeek(api_key=None, profile="openai") as server:
        yield server


@pytest_asyncio.fixture
async def start(local: FakeDeepSeek) -> AsyncIterator[Start]:
    """A server pointed at the generic fake: no key, no model unless given, `/v1` unless `base`."""
    clients: list[LanguageClient] = []

    async def _start(
        base: str = "/v1", key: str | None = None, init: dict[str, Any] | None = None, **env: str
    ) -> tuple[LanguageClient, Recorder]:
        config = server_config(local.base_url + base, key=key, **{"DEEPSEEK_MODEL": "", **env})
        client, rec = await start_client(config, init_options=init)
        clients.append(client)
        return client, rec

    yield _start
    for client in clients:
        await client.shutdown_session()


async def explain(client: LanguageClient, rec: Recorder, text: str = TEXT) -> dict[str, Any]:
    open_doc(client, URI, text)
    end = text.count("\n")
    job = (await command(client, "deepseek.explain", {"uri": URI, "range": rng(0, 0, end, 0)}))["jobId"]
    final: dict[str, Any] = await rec.wait_done(job, timeout=20)
    return final


def completions(fake: FakeDeepSeek) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith("/chat/completions")]


async def test_no_key_no_deepseek_fields_and_the_model_from_the_list(
    start: Start, local: FakeDeepSeek
) -> None:
    client, rec = await start(init={"thinking": False, "reasoningEffort": "high"})
    final = await explain(client, rec)
    assert final["state"] == "done", final
    [sent] = completions(local)
    assert sent.path == "/v1/chat/completions"
    assert "Authorization" not in sent.headers
    assert sent.body["model"] == "local-model"  # the first (only) model GET /models lists
    assert not {"thinking", "reasoning_effort"} & set(sent.body)
    assert sent.body["stream_options"] == {"include_usage": True}
    assert [r.path for r in local.info_requests] == ["/v1/models"]  # once; no balance, no /beta
    system = sent.body["messages"][0]["content"]
    assert "DeepSeek" not in system  # the model is not told it is DeepSeek
    usage = final["usage"]
    assert usage["estimated"] is False and usage["rate"] == "unpriced" and usage["cost"] is None
    status = await command(client, "deepseek.status", {})
    assert (status["provider"], status["model"], status["apiKeySet"]) == ("openai", "local-model", False)
    assert status["usage"]["requests"] == 1 and status["usage"]["cost"] is None


async def test_three_chat_turns_without_usage_count_three_estimated_requests(
    start: Start, local: FakeDeepSeek
) -> None:
    local.usage_mode = "never"  # as llama-cpp-python: not even when asked
    client, rec = await start()
    prompts = []
    session: dict[str, str] = {}
    for question in ("What is a closure?", "And a generator?", "Which one is lazier?"):
        started = await command(client, "deepseek.chat", {"message": question, **session})
        job, session = started["jobId"], {"sessionId": started["sessionId"]}
        final = await rec.wait_done(job, timeout=20)
        assert final["state"] == "done", final
        usage = final["usage"]
        assert usage["estimated"] is True and usage["cost"] is None
        assert usage["promptTokens"] > 0 and usage["completionTokens"] > 0
        prompts.append(usage["promptTokens"])
    assert prompts[0] < prompts[1] < prompts[2]  # one session: the history grows
    totals = (await command(client, "deepseek.status", {}))["usage"]
    assert totals["requests"] == 3 and totals["estimatedRequests"] == 3
    assert totals["promptTokens"] == sum(prompts) and totals["cost"] is None
    assert totals["byRate"] == {"unpriced": {"requests": 3, "cost": None}}


async def test_a_base_url_without_v1_says_to_add_it(start: Start, local: FakeDeepSeek) -> None:
    client, rec = await start(base="", DEEPSEEK_MODEL="local-model")
    final = await explain(client, rec)
    error = final["error"]
    assert final["state"] == "failed" and error["code"] == "bad_request"
    assert "404" in error["message"] and f"set deepseek.baseUrl to {local.base_url}/v1" in error["message"]
    assert "DeepSeek" not in error["message"]
    client2, rec2 = await start(base="")  # no model: the model list fails the same way
    final = await explain(client2, rec2)
    assert (
        f"{local.base_url}/v1" in final["error"]["message"] and "deepseek.model" in final["error"]["message"]
    )


async def test_an_oversized_prompt_is_refused_before_sending_with_a_context_window(
    start: Start, local: FakeDeepSeek
) -> None:
    text = "def f():\n" + "    x = 'a fairly long line of code that takes tokens'\n" * 400
    client, rec = await start(init={"contextWindow": 2048})
    final = await explain(client, rec, text)
    message = final["error"]["message"]
    assert final["state"] == "failed" and final["error"]["code"] == "bad_request"
    assert "2,048-token context window" in message and "deepseek.contextWindow" in message
    assert not completions(local), "nothing is sent"


@pytest.mark.parametrize("overflow", ["empty", "error"])
async def test_an_oversized_prompt_the_server_refuses_says_what_happened(
    start: Start, local: FakeDeepSeek, overflow: str
) -> None:
    local.overflow = overflow
    local.context_limits = {"local-model": 1024}
    text = "def f():\n" + "    x = 'a fairly long line of code that takes tokens'\n" * 150
    client, rec = await start()  # no contextWindow: 32,768 assumed, so it goes out
    final = await explain(client, rec, text)
    message = final["error"]["message"]
    assert final["state"] == "failed" and len(completions(local)) == 1, final
    if overflow == "empty":
        assert final["error"]["code"] == "server_error"
        assert "answered 200 with an empty body" in message and "set deepseek.contextWindow" in message
        assert "cut off" not in message and "retry" not in message.lower().split("raise")[0]
    else:
        assert final["error"]["code"] == "bad_request"
        assert "maximum context length is 1024 tokens" in message


async def test_a_server_that_wants_a_key_names_itself(start: Start, local: FakeDeepSeek) -> None:
    local.api_key = TEST_KEY
    client, rec = await start(DEEPSEEK_MODEL="local-model")
    final = await explain(client, rec)
    assert final["error"]["code"] == "unauthorized"
    assert f"127.0.0.1:{local.port} asks for an API key" in final["error"]["message"]
    assert "DEEPSEEK_API_KEY" in final["error"]["message"]
    client2, rec2 = await start(key=TEST_KEY, DEEPSEEK_MODEL="local-model")
    assert (await explain(client2, rec2))["state"] == "done"
    assert completions(local)[-1].headers["Authorization"] == "<valid>"


async def test_provider_openai_sends_no_deepseek_fields_to_deepseeks_fake() -> None:
    async with FakeDeepSeek(api_key=TEST_KEY) as fake:
        config = server_config(fake.base_url, DEEPSEEK_MODEL="deepseek-v4-flash", DEEPSEEK_PROVIDER="openai")
        client, rec = await start_client(config)
        try:
            final = await explain(client, rec)
            assert final["state"] == "done"
            assert "thinking" not in fake.requests[-1].body
            assert (await command(client, "deepseek.status", {}))["provider"] == "openai"
        finally:
            await client.shutdown_session()
        client, rec = await start_client(server_config(fake.base_url))  # auto: deepseek-chat
        try:
            assert (await command(client, "deepseek.status", {}))["provider"] == "deepseek"
        finally:
            await client.shutdown_session()


# -- rewrites: never /beta on a generic server unless asked -------------------------------------


async def rewrite_once(local: FakeDeepSeek, init: dict[str, Any]) -> tuple[Editor, dict[str, Any]]:
    config = server_config(f"{local.base_url}/v1", key=None, DEEPSEEK_MODEL="")
    client, rec = await start_client(config, init_options={"presentation": "stream", **init})
    editor = Editor(client, rec, "utf-16")

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def on_apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return editor.apply(params)

    editor.open("file:///tmp/project/shapes.py", DOC)
    local.enqueue(Reply(content=NEW_CODE))
    job = (
        await command(
            client,
            "deepseek.rewrite",
            {"uri": "file:///tmp/project/shapes.py", "range": SELECTION, "action": "refactor"},
        )
    )["jobId"]
    return editor, await rec.wait_done(job, timeout=20)


async def test_a_rewrite_on_a_generic_server_never_tries_beta(local: FakeDeepSeek) -> None:
    editor, final = await rewrite_once(local, {})
    try:
        assert final["state"] == "done", final
        assert editor.text("file:///tmp/project/shapes.py") == DOC.replace(OLD, NEW)
        assert [r.path for r in completions(local)] == ["/v1/chat/completions"]
        assert not any(m.get("prefix") for m in completions(local)[0].body["messages"])
    finally:
        await editor.client.shutdown_session()


async def test_rewrite_prefix_true_still_tries_beta_and_falls_back(local: FakeDeepSeek) -> None:
    editor, final = await rewrite_once(local, {"rewritePrefix": True})
    try:
        assert final["state"] == "done", final
        assert editor.text("file:///tmp/project/shapes.py") == DOC.replace(OLD, NEW)
        paths = [r.path for r in completions(local)]
        assert paths == ["/v1/beta/chat/completions", "/v1/chat/completions"], paths
    finally:
        await editor.client.shutdown_session()


async def test_fake_server_profile_openai_as_a_process() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deepseek_lsp",
        "fake-server",
        "--profile",
        "openai",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().rsplit(" ", 1)[-1].strip()
        hint = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        assert "accepts any API key, or none" in hint and f"DEEPSEEK_BASE_URL={url}/v1" in hint
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            assert (await http.get("/v1/models")).json()["data"][0]["id"] == "local-model"
            assert (await http.get("/user/balance")).status_code == 404
    finally:
        proc.terminate()
        await proc.wait()
