"""The fake DeepSeek's disconnect detection, records, info endpoints, control API and CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import deepseek_lsp
from deepseek_lsp.fake import FakeDeepSeek, Reply
from deepseek_lsp.fake.__main__ import main as fake_main

KEY = "sk-fake"
# Where deepseek_lsp is imported from, so the CLI subprocess finds it installed or not.
PACKAGE_ROOT = str(Path(deepseek_lsp.__file__).resolve().parent.parent)


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}], **extra}


async def open_and_close(
    fake: FakeDeepSeek, http: httpx.AsyncClient, reply: Reply, lines_first: int, stream: bool = True
) -> float:
    """Start a response, read `lines_first` lines, close it; return when it was closed."""
    fake.enqueue(reply)
    async with http.stream("POST", "/chat/completions", json=chat(stream=stream)) as response:
        assert response.status_code == 200
        lines = response.aiter_lines()
        for _ in range(lines_first):
            await anext(lines)
        closed_at = time.perf_counter()
    return closed_at


@pytest.mark.parametrize(
    ("reply", "lines_first", "stream"),
    [
        (Reply(content="a " * 200, delay=0.05), 3, True),  # while streaming
        (Reply(content="a " * 20000), 3, True),  # while streaming flat out
        (Reply(hang=True), 0, True),  # while hanging (headers only)
        (Reply(content="a b c", hang_after=1), 3, True),  # hanging mid-stream
        (Reply(content="a b c", hold_after=2), 5, True),  # held for release()
        (Reply(content="x", queued=5, keepalive_interval=0.05), 2, True),  # in the queue
        (Reply(content="x", hang=True), 0, False),  # non-streaming, hanging
    ],
    ids=["streaming", "fast", "hang", "hang_after", "hold_after", "queued", "non_streaming"],
)
async def test_client_disconnect_is_seen_promptly(
    fake: FakeDeepSeek,
    http: httpx.AsyncClient,
    reply: Reply,
    lines_first: int,
    stream: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed_at = await open_and_close(fake, http, reply, lines_first, stream)
    record = await fake.wait_for_disconnect(timeout=0.2)
    await asyncio.sleep(0.01)  # let aiohttp finish with the connection, to see what it logs
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.disconnected and not record.completed
    assert record.disconnected_at is not None
    assert record.disconnected_at - closed_at < 0.05
    assert record.ended is not None


async def test_wait_for_disconnect_fails_fast_on_a_completed_response(
    fake: FakeDeepSeek, http: httpx.AsyncClient
) -> None:
    await http.post("/chat/completions", json=chat(stream=True))
    with pytest.raises(AssertionError):
        await fake.wait_for_disconnect(timeout=1)
    with pytest.raises(TimeoutError):
        await fake.wait_for_disconnect(index=5, timeout=0.05)


async def test_records(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    waiter = asyncio.ensure_future(fake.wait_for_requests(2, timeout=2))
    fake.enqueue(Reply(chunks=["a", "b"], delay=0.01))
    before = time.perf_counter()
    await http.post("/chat/completions", json=chat(stream=True, temperature=0.5))
    await http.post("/v1/chat/completions", json=chat())
    records = await waiter
    first = records[0]
    assert first.method == "POST" and first.path == "/chat/completions"
    assert first.body["temperature"] == 0.5 and first.stream
    assert first.headers["Authorization"] == "<valid>" and first.auth_ok
    assert first.reply == {"chunks": ["a", "b"], "delay": 0.01}
    assert before <= first.started <= first.chunk_times[0] <= first.ended  # type: ignore[operator]
    assert len(first.chunk_times) == 5  # role, a, b, finish (with usage), [DONE]
    assert first.completed and not first.disconnected and first.status == 200
    assert records[1].path == "/v1/chat/completions" and records[1].reply is None
    assert await fake.wait_for_requests(1, path="/v1/chat/completions", timeout=0.1) == [records[1]]
    assert (await fake.wait_for_end(0)).completed
    json.dumps([r.to_json() for r in records])


async def test_models_and_balance(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    models = (await http.get("/models")).json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == [
        "deepseek-chat",
        "deepseek-reasoner",
        "deepseek-v4-flash",
        "deepseek-v4-pro",
        "deepseek-flash",
    ]
    assert models["data"][0] == {"id": "deepseek-chat", "object": "model", "owned_by": "deepseek"}
    fake.balance = 12.5
    balance = (await http.get("/user/balance")).json()
    assert balance == {
        "is_available": True,
        "balance_infos": [
            {
                "currency": "CNY",
                "total_balance": "12.50",
                "granted_balance": "0.00",
                "topped_up_balance": "12.50",
            }
        ],
    }
    assert [r.path for r in fake.info_requests] == ["/models", "/user/balance"]
    assert fake.requests == []


async def test_custom_models() -> None:
    async with FakeDeepSeek(models=["m1"], default_delay=0) as fake, httpx.AsyncClient() as client:
        headers = {"Authorization": f"Bearer {KEY}"}
        body = {"model": "m1", "messages": [{"role": "user", "content": "x"}]}
        response = await client.post(f"{fake.base_url}/chat/completions", json=body, headers=headers)
        assert response.status_code == 200
        assert fake.context_limits == {"m1": 1_000_000}


async def test_control_api(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    replies = [{"content": "scripted one"}, {"content": "scripted two", "hold_after": 1}]
    assert (await http.post("/_fake/enqueue", json=replies)).json() == {"queued": 2}
    assert (await http.post("/_fake/enqueue", json={"nope": 1})).status_code == 400
    response = await http.post("/chat/completions", json=chat())
    assert response.json()["choices"][0]["message"]["content"] == "scripted one"

    async def held_request() -> str:
        response = await http.post("/chat/completions", json=chat())
        return str(response.json()["choices"][0]["message"]["content"])

    task = asyncio.ensure_future(held_request())
    await fake.wait_for_held(1, timeout=1)
    assert (await http.post("/_fake/release")).json() == {"released": 1}
    assert await task == "scripted two"

    waited = await http.post("/_fake/wait_for_requests", json={"n": 2, "timeout": 1})
    assert [r["body"]["model"] for r in waited.json()] == ["deepseek-chat"] * 2
    records = (await http.get("/_fake/requests")).json()
    assert len(records) == 2 and records[0]["completed"] is True
    assert records[0]["headers"]["Authorization"] == "<valid>"
    timeout = await http.post("/_fake/wait_for_requests", json={"n": 9, "timeout": 0.05})
    assert timeout.status_code == 408

    config = await http.post("/_fake/config", json={"balance": 0, "api_key": "other"})
    assert config.json()["balance"] == 0 and config.json()["api_key_set"] is True
    assert (await http.post("/chat/completions", json=chat())).status_code == 401
    await http.post("/_fake/config", json={"api_key": KEY})
    assert (await http.post("/chat/completions", json=chat())).status_code == 402
    await http.get("/models")
    assert len((await http.get("/_fake/requests", params={"kind": "info"})).json()) == 1

    assert (await http.post("/_fake/reset")).status_code == 200
    assert (await http.get("/_fake/requests")).json() == []
    assert fake.queued_replies == 0


async def test_control_wait_for_disconnect(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    async def control() -> httpx.Response:
        return await http.post("/_fake/wait_for_disconnect", json={"index": 0, "timeout": 1})

    waiter = asyncio.ensure_future(control())
    await open_and_close(fake, http, Reply(hang=True), 0)
    response = await waiter
    assert response.status_code == 200 and response.json()["disconnected"] is True


async def test_stop_ends_hanging_responses_quickly(http: httpx.AsyncClient) -> None:
    server = FakeDeepSeek()
    await server.start()
    server.enqueue(Reply(hang=True))
    async with httpx.AsyncClient(base_url=server.base_url, headers=http.headers) as client:
        task = asyncio.ensure_future(client.post("/chat/completions", json=chat(stream=True)))
        await server.wait_for_requests(1, timeout=1)
        started = time.perf_counter()
        await server.stop()
        assert time.perf_counter() - started < 0.3
        with pytest.raises(httpx.HTTPError):
            response = await task
            await response.aread()


def test_cli_rejects_a_bad_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([{"content": "x", "no_such_option": 1}]))
    assert fake_main(["--script", str(script)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no_such_option" in captured.err


async def test_cli_prints_its_line_and_serves(tmp_path: Path) -> None:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([{"content": "from the script"}]))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deepseek_lsp.fake",
        "--port",
        "0",
        "--script",
        str(script),
        "--any-key",
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        prefix = "fake DeepSeek listening on http://127.0.0.1:"
        assert line.startswith(prefix) and line.rstrip()[len(prefix) :].isdigit()
        base_url = line.split(" on ")[1].strip()
        async with httpx.AsyncClient(base_url=base_url) as client:
            response = await client.post("/chat/completions", json=chat())
            assert response.json()["choices"][0]["message"]["content"] == "from the script"
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 5) == 0
