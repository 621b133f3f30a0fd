"""Upstream faults, end to end: the real server over stdio against a hostile fake DeepSeek.

Each test asserts what the user sees (the final `deepseek/stream` notification's state and error,
the `window/showMessage`) and that the document is intact. The fixtures' teardown checks that the
server exits cleanly, writes only LSP frames and never the API key.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from tests.contract.fakeds import FakeDeepSeek, Reply
from tests.contract.lsp import Client, Doc
from tests.contract.test_jobs import CODE, check_stream, explain, joined
from tests.contract.test_rewrite import DOC, MODEL_CODE, rewrite

from .conftest import KEY, Start

MODEL = {"model": "deepseek-v4-flash"}  # no GET /models first: the fault hits the completion


async def failed(client: Client, job: str, kind: str = "explain") -> dict[str, Any]:
    """The job's final notification, checked to be a failure shown once as an Error message."""
    final = await client.wait_done(job)
    assert final["state"] == "failed", final
    check_stream(client, job, kind)
    message = final["error"]["message"]
    await client.wait_for(
        lambda: any(message in shown for shown in client.errors_shown()), what="the error shown"
    )
    assert KEY not in message
    return final


async def restored(client: Client, uri: str) -> None:
    await client.wait_for(
        lambda: client.docs[uri].text == DOC and client.in_flight == 0, what="the original back"
    )
    await client.command("deepseek.status", {})  # a round trip: nothing more is on its way
    assert client.docs[uri].text == DOC


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- no answer --------------------------------------------------------------------------------


async def test_refused_connection(start: Start, py_uri: str) -> None:
    port = closed_port()
    client = await start(
        env={"DEEPSEEK_BASE_URL": f"http://127.0.0.1:{port}"}, init_options={**MODEL, "maxRetries": 1}
    )
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await failed(client, job)
    assert final["error"]["code"] == "network"
    assert f"127.0.0.1:{port}" in final["error"]["message"]
    assert "deepseek.baseUrl" in final["error"]["message"]
    assert client.docs[py_uri].text == CODE and client.applies == []


async def test_hang_before_headers(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(hang_before_headers=True))
    client = await start(init_options={**MODEL, "timeouts": {"idle": 0.4}, "maxRetries": 0})
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await failed(client, job)
    assert final["error"]["code"] == "timeout"
    assert "deepseek.timeouts" in final["error"]["message"]
    await asyncio.wait_for(fake.completions[0].closed.wait(), 5)  # the connection was dropped
    assert len(fake.completions) == 1  # a read timeout is not retried: the request may be running


async def test_hang_mid_stream(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code=MODEL_CODE, hang_after=1))
    client = await start(init_options={**MODEL, "timeouts": {"idle": 0.4}})
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="refactor")
    final = await failed(client, job, "rewrite")
    assert final["error"]["code"] == "timeout"
    await restored(client, py_uri)


async def test_keep_alives_past_the_idle_timeout(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """Queued at DeepSeek: keep-alives for three idle timeouts, then the answer. Not a timeout."""
    fake.enqueue(Reply(code=MODEL_CODE, keepalive=1.2))
    client = await start(init_options={**MODEL, "timeouts": {"idle": 0.4}, "maxRetries": 0})
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="docstring")
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    assert '"""How many items the box holds."""' in client.docs[py_uri].text
    assert len(fake.completions) == 1 and client.errors_shown() == []


# -- broken streams ---------------------------------------------------------------------------


async def test_cut_stream(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(content=["partial ", "answer"], cut=True), Reply(code=MODEL_CODE, cut=True))
    client = await start(init_options=MODEL)
    client.open(py_uri, DOC)
    _, job = await explain(client, py_uri)
    final = await failed(client, job)
    assert final["error"]["code"] == "truncated"
    assert "cut off" in final["error"]["message"]
    job = await rewrite(client, py_uri, action="refactor")
    assert (await failed(client, job, "rewrite"))["error"]["code"] == "truncated"
    await restored(client, py_uri)
    assert len(fake.completions) == 2  # text had reached the user: never retried


async def test_malformed_line_mid_stream_explain(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(content=["one ", "two ", "three"], malformed_after=1))
    client = await start(init_options=MODEL)
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await failed(client, job)
    assert final["error"]["code"] == "server_error"
    message = final["error"]["message"]
    assert "malformed" in message and f"127.0.0.1:{fake.port}" in message
    assert len(fake.completions) == 1
    hover = await client.request(
        "textDocument/hover", {"textDocument": {"uri": py_uri}, "position": {"line": 1, "character": 8}}
    )
    assert "one two three" not in json.dumps(hover)  # no partial answer passed off as whole


async def test_malformed_line_before_any_token_is_retried(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    fake.enqueue(Reply(content=["lost"], malformed_after=0), Reply(content=["second ", "try"]))
    client = await start(init_options=MODEL)
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    assert joined(check_stream(client, job, "explain")) == "second try"
    assert len(fake.completions) == 2


async def test_malformed_line_mid_stream_rewrite(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code=MODEL_CODE, malformed_after=2, delay=0.01))
    client = await start(init_options=MODEL)
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="refactor")
    final = await failed(client, job, "rewrite")
    assert final["error"]["code"] == "server_error" and "malformed" in final["error"]["message"]
    assert client.applies, "the rewrite had started writing"
    await restored(client, py_uri)


async def test_error_object_mid_stream(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(content=["some ", "more"], error_after=1), Reply(code=MODEL_CODE, error_after=2))
    client = await start(init_options=MODEL)
    client.open(py_uri, DOC)
    _, job = await explain(client, py_uri)
    final = await failed(client, job)
    assert final["error"]["code"] == "server_error"
    assert "Internal error" in final["error"]["message"]  # the upstream's words
    job = await rewrite(client, py_uri, action="refactor")
    await failed(client, job, "rewrite")
    await restored(client, py_uri)
    assert len(fake.completions) == 2


async def test_5xx_page_after_the_first_token(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """A proxy gives up mid-answer and writes its 502 page into the body."""
    page = b"\r\n<html><body><h1>502 Bad Gateway</h1></body></html>\r\n"
    fake.enqueue(
        Reply(code=MODEL_CODE, raw_after=1, raw=page), Reply(content=["x ", "y"], raw_after=1, raw=page)
    )
    client = await start(init_options=MODEL)
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="refactor")
    final = await failed(client, job, "rewrite")
    assert final["error"]["code"] in ("truncated", "server_error")
    await restored(client, py_uri)
    _, job = await explain(client, py_uri)
    await failed(client, job)
    assert len(fake.completions) == 2  # text had reached the user: never retried


# -- 200 answers that are not a stream -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "kind", "code", "shown"),
    [
        (
            b'{"error":{"message":"Authentication Fails, Your api key: ****9c7d is invalid",'
            b'"type":"authentication_error","param":null,"code":"invalid_request_error"}}',
            "application/json",
            "unauthorized",
            "Authentication Fails",
        ),
        (
            b'{"error":{"code":400,"message":"the request exceeds the available context size, try '
            b'increasing it","type":"exceed_context_size_error"}}',
            "application/json",
            "bad_request",
            "exceeds the available context size",
        ),
        (b"", "text/event-stream", "server_error", "empty body"),
        (
            b"<!DOCTYPE html><html><head><title>Sign in to the Wi-Fi</title></head></html>",
            "text/html; charset=utf-8",
            "server_error",
            "<title>Sign in to the Wi-Fi</title>",
        ),
    ],
    ids=["json-auth-error", "json-context-error", "empty", "html"],
)
async def test_non_sse_200_body(
    start: Start, fake: FakeDeepSeek, py_uri: str, body: bytes, kind: str, code: str, shown: str
) -> None:
    fake.enqueue(*[Reply(body=body, body_type=kind) for _ in range(3)])
    client = await start(init_options={**MODEL, "rewritePrefix": False})
    client.open(py_uri, DOC)
    _, job = await explain(client, py_uri)
    final = await failed(client, job)
    assert final["error"]["code"] == code
    assert shown in final["error"]["message"]
    assert f"127.0.0.1:{fake.port}" in final["error"]["message"]
    assert "9c7d" not in final["error"]["message"]  # not even the masked key the upstream echoed
    assert len(fake.completions) == 1  # not retried: the same request gets the same answer
    job = await rewrite(client, py_uri, action="refactor")
    assert (await failed(client, job, "rewrite"))["error"]["code"] == code
    assert client.docs[py_uri].text == DOC and client.applies == []


# -- load -------------------------------------------------------------------------------------


async def test_429_storm(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """Three jobs at once against an upstream that rate-limits everything: each gives up after
    its retries with `rate_limited`, and the server stays responsive."""
    fake.enqueue(*[Reply(status=429, message="Rate Limit Reached", retry_after="0") for _ in range(30)])
    client = await start(init_options={**MODEL, "maxRetries": 2})
    client.open(py_uri, CODE)
    # three ranges: one range asked twice while it streams is one job (docs/protocol.md)
    jobs = [(await explain(client, py_uri, 0, end))[1] for end in (32, 31, 30)]
    for job in jobs:
        final = await client.wait_done(job)
        assert final["state"] == "failed" and final["error"]["code"] == "rate_limited"
        check_stream(client, job, "explain")
    assert len(fake.completions) == 9
    assert (await client.command("deepseek.status", {})) is not None
    assert client.docs[py_uri].text == CODE


async def test_huge_reply(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    parts = [f"word{i} " for i in range(20_000)]
    fake.enqueue(Reply(content=parts))
    client = await start(init_options=MODEL)
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job, timeout=60)
    assert final["state"] == "done", final
    assert joined(check_stream(client, job, "explain")) == "".join(parts)


# -- a lone surrogate in an open document -----------------------------------------------------


def open_with_surrogate(client: Client, uri: str, text: str) -> None:
    """didOpen carrying "\\ud800" as JSON escapes: the contract client writes raw UTF-8, which
    cannot carry a lone surrogate, so this frame is written by hand."""
    frame = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
        }
    ).encode()
    assert b"\\ud800" in frame
    assert client.proc.stdin is not None
    client.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(frame) + frame)
    client.docs[uri] = Doc(uri, text, 1)


SURROGATE_DOC = "x = '\ud800'\ny = 2\n"
FIRST_LINE = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}


def sent_replaced(fake: FakeDeepSeek) -> None:
    for seen in fake.completions:
        assert "x = '\ufffd'" in json.dumps(seen.body["messages"], ensure_ascii=False)


async def test_lone_surrogate_in_document_explain(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """An editor sends "\\ud800" (valid JSON, not valid Unicode): explain still works, and keeps
    working; the surrogate goes upstream as U+FFFD."""
    fake.enqueue(Reply(content=["A string ", "with a bad character."]), Reply(content=["Again."]))
    client = await start(init_options=MODEL)
    open_with_surrogate(client, py_uri, SURROGATE_DOC)
    for text in ("A string with a bad character.", "Again."):
        result = await client.command("deepseek.explain", {"uri": py_uri, "range": FIRST_LINE})
        final = await client.wait_done(result["jobId"])
        assert final["state"] == "done", final
        assert joined(client.stream(result["jobId"])) == text
    sent_replaced(fake)
    assert client.errors_shown() == []


async def test_lone_surrogate_in_document_chat(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(content=["Hello."]))
    client = await start(init_options=MODEL)
    open_with_surrogate(client, py_uri, SURROGATE_DOC)
    chat = await client.command(
        "deepseek.chat", {"message": "What is x?", "uri": py_uri, "range": FIRST_LINE}
    )
    final = await client.wait_done(chat["jobId"])
    assert final["state"] == "done", final
    assert joined(client.stream(chat["jobId"])) == "Hello."
    sent_replaced(fake)
    assert client.errors_shown() == []
