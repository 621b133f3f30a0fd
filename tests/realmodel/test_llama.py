"""The real server process against a real model server (llama-cpp-python, SmolLM2-135M): what a
user of a local model meets. The model is tiny and rambles, so the assertions are about the
plumbing (no key, no DeepSeek extras, usage counted, the document never corrupted, clear errors),
never about the quality of its text.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.harness import Recorder, command, open_doc, rng, server_config, start_client
from tests.e2e.test_rewrite import Editor

from .conftest import N_CTX, LlamaServer

pytestmark = pytest.mark.timeout(300)

URI = "file:///tmp/project/calc.py"
CODE = """def mean(values):
    total = 0
    for v in values:
        total = total + v
    return total / len(values)


def spread(values):
    return max(values) - min(values)
"""
BODY_START, BODY_END = CODE.index("    total = 0"), CODE.index("\n\n\ndef spread") + 1
SELECTION = rng(1, 0, 5, 0)  # the body of mean()
# The tiny model rambles until max_tokens: short answers keep each test to seconds; greedy
# decoding (temperature 0) makes its answers vary less between runs (not fully: every branch of
# an outcome is asserted).
SHORT = {"maxTokens": 96, "temperature": 0}

Start = Callable[..., Awaitable[tuple[LanguageClient, Recorder]]]


@pytest_asyncio.fixture
async def start(llama: LlamaServer) -> AsyncIterator[Start]:
    """A fresh language server on the llama server: no key, no model set, as a user starts."""
    clients: list[LanguageClient] = []

    async def _start(init: dict[str, Any] | None = None) -> tuple[LanguageClient, Recorder]:
        config = server_config(llama.base_url, key=None, DEEPSEEK_MODEL="")
        client, rec = await start_client(config, init_options={**SHORT, **(init or {})})
        clients.append(client)
        return client, rec

    yield _start
    for client in clients:
        await client.shutdown_session()


async def explain(client: LanguageClient, rec: Recorder, text: str = CODE) -> dict[str, Any]:
    open_doc(client, URI, text)
    job = (await command(client, "deepseek.explain", {"uri": URI, "range": SELECTION}))["jobId"]
    final: dict[str, Any] = await rec.wait_done(job, timeout=120)
    return final


async def test_check_passes_without_a_key_and_without_a_balance(llama: LlamaServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deepseek_lsp",
        "check",
        "--json",
        env={**env, "DEEPSEEK_BASE_URL": llama.base_url},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    report = json.loads(out)
    assert proc.returncode == 0 and report["ok"] and report["provider"] == "openai", report
    balance = report["checks"][3]
    assert balance["ok"] and balance["detail"].startswith("not applicable")


async def test_explain_streams_and_counts_an_estimated_usage(start: Start, llama: LlamaServer) -> None:
    client, rec = await start()
    final = await explain(client, rec)
    assert final["state"] == "done", final
    assert rec.content(final["jobId"]).strip(), "the model wrote something"
    usage = final["usage"]
    assert usage["estimated"] is True, "llama-cpp-python reports no usage in a stream"
    assert usage["promptTokens"] > 50 and usage["completionTokens"] > 0
    assert usage["cost"] is None and usage["rate"] == "unpriced"
    status = await command(client, "deepseek.status", {})
    assert (status["provider"], status["model"]) == ("openai", llama.model)


async def test_a_rewrite_lands_what_the_model_wrote_or_leaves_the_document_as_it_was(
    llama: LlamaServer,
) -> None:
    config = server_config(llama.base_url, key=None, DEEPSEEK_MODEL="")
    client, rec = await start_client(config, init_options={"presentation": "stream", **SHORT})
    editor = Editor(client, rec, "utf-16")

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def on_apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return editor.apply(params)

    def landed() -> str:  # exactly the code the job streamed, between the untouched parts
        return CODE[:BODY_START] + rec.content(job) + CODE[BODY_END:]

    try:
        editor.open(URI, CODE)
        arg = {"uri": URI, "range": SELECTION, "action": "refactor"}
        job = (await command(client, "deepseek.rewrite", arg))["jobId"]
        # done, failed, or (a syntax error the original did not have) waiting in review
        last = await rec.wait_for(
            lambda: next((n for n in rec.job(job) if n.get("done") or n["state"] == "review"), None),
            timeout=120,
        )
        if last["state"] == "review":
            assert last["warnings"] and editor.text(URI) == landed(), last
            assert (await command(client, "deepseek.reject", {"jobId": job}))["rejected"] is True
            assert (await rec.wait_done(job))["state"] == "cancelled" and editor.text(URI) == CODE
        elif last["state"] == "done":
            assert editor.text(URI) == landed(), last
        else:  # a rambling answer stopped by a bound, or no code at all: the original is back
            assert last["state"] == "failed" and editor.text(URI) == CODE, last
            assert last["error"]["code"] != "restore_failed"
    finally:
        await client.shutdown_session()


async def test_three_chat_turns_count_three_requests(start: Start) -> None:
    client, rec = await start()
    session: dict[str, str] = {}
    for question in ("What is Python?", "Name one list method.", "And one dict method?"):
        started = await command(client, "deepseek.chat", {"message": question, **session})
        session = {"sessionId": started["sessionId"]}
        final = await rec.wait_done(started["jobId"], timeout=120)
        assert final["state"] == "done", final
    totals = (await command(client, "deepseek.status", {}))["usage"]
    assert totals["requests"] == 3, totals
    assert totals["estimatedRequests"] in (0, 3) and totals["promptTokens"] > 0
    assert totals["cost"] is None


async def test_cancel_stops_the_stream_and_the_server_answers_again(start: Start) -> None:
    client, rec = await start({"maxTokens": 1500})
    story = "Write a very long story about a dragon, at least 2000 words."  # greedy: 1,500 tokens
    started = await command(client, "deepseek.chat", {"message": story})
    job = started["jobId"]
    await rec.wait_for(lambda: rec.content(job), timeout=120)  # streaming
    assert (await command(client, "deepseek.cancel", {"jobId": job}))["cancelled"] is True
    final = await rec.wait_done(job, timeout=10)
    assert final["state"] == "cancelled" and final["error"]["code"] == "cancelled"
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"deepseek": {"maxTokens": 32}})
    )
    again = await command(
        client, "deepseek.chat", {"message": "Say hello.", "sessionId": started["sessionId"]}
    )
    assert (await rec.wait_done(again["jobId"], timeout=120))["state"] == "done"  # the model is free


async def test_an_oversized_prompt(start: Start) -> None:
    big = "def f():\n" + "    value = compute(value, 'a line that costs the model tokens')\n" * 300
    # told the window: refused before anything is sent, naming the setting
    client, rec = await start({"contextWindow": N_CTX})
    refused = await explain(client, rec, big)
    message = refused["error"]["message"]
    assert refused["state"] == "failed" and refused["error"]["code"] == "bad_request"
    assert f"{N_CTX:,}-token context window" in message and "deepseek.contextWindow" in message
    # not told: sent, and llama-cpp-python's empty 200 is reported as what it is
    client, rec = await start()
    failed = await explain(client, rec, big)
    message = failed["error"]["message"]
    assert failed["state"] == "failed" and failed["error"]["code"] == "server_error", failed
    assert "answered 200 with an empty body" in message and "set deepseek.contextWindow" in message
