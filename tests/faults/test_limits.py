"""Limits, end to end: what is too big or too many is refused before anything is sent, with a
message that names the size, the limit and the setting; never uploaded, never queued for ever.

Refusals are job failures (docs/protocol.md's way): the command answers `{"jobId"}`, the job's final
notification carries `error.code: "bad_request"` and the message, which also goes out once in
`window/showMessage`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.contract.fakeds import FakeDeepSeek, Reply
from tests.contract.lsp import Client

from .conftest import Start

LINE = "x = 1  # a line of code, forty-eight characters\n"
FIVE_MB = LINE * (5_000_000 // len(LINE))


def no_upload(fake: FakeDeepSeek) -> None:
    """Nothing was asked of DeepSeek, and nothing big was sent anywhere."""
    assert fake.completions == [], "a refused request reached DeepSeek"
    assert all(len(json.dumps(r.body or "")) < 10_000 for r in fake.requests)


async def failed(client: Client, job_id: str) -> dict[str, Any]:
    final = await client.wait_done(job_id, timeout=30)
    assert final["state"] == "failed" and final["error"]["code"] == "bad_request", final
    message: str = final["error"]["message"]
    await client.wait_for(
        lambda: any(message in shown for shown in client.errors_shown()), what="the showMessage"
    )
    return final


async def test_a_5mb_selection_is_refused_before_anything_is_sent(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    client = await start()
    doc = client.open(py_uri, FIVE_MB)
    part = len(FIVE_MB) - len(LINE)  # all but the last line: a selection, not the whole file
    chars = f"{part:,}"
    for name, arg in (
        ("deepseek.explain", {"uri": py_uri, "range": client.range(py_uri, 0, part)}),
        ("deepseek.rewrite", {"uri": py_uri, "range": client.range(py_uri, 0, part)}),
    ):
        job = await client.command(name, arg, timeout=30)
        message = (await failed(client, job["jobId"]))["error"]["message"]
        assert f"The selection is {chars} characters" in message, message
        assert "deepseek.maxSelectionChars allows 200,000" in message, message
        assert "Select less code or raise the setting" in message, message
    assert client.applies == [] and doc.text == FIVE_MB  # the rewrite touched nothing
    no_upload(fake)


async def test_a_whole_file_reference_in_chat_is_refused(
    start: Start, fake: FakeDeepSeek, py_uri: str, tmp_path: Path
) -> None:
    client = await start(init_options={"maxSelectionChars": 1000})
    client.open(py_uri, LINE * 100)
    job = await client.command("deepseek.chat", {"message": "#file:app.py what does this do?"}, timeout=30)
    message = (await failed(client, job["jobId"]))["error"]["message"]
    assert f"The file app.py is {len(LINE) * 100:,} characters" in message, message
    assert "maxSelectionChars allows 1,000" in message, message
    assert fake.completions == []


async def test_a_prompt_over_the_context_window_is_refused(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    client = await start(init_options={"contextWindow": 2048, "model": "deepseek-v4-flash"})
    client.open(py_uri, LINE * 200)  # 9,600 characters: under maxSelectionChars, over 2,048 tokens
    job = await client.command("deepseek.explain", {"uri": py_uri, "range": client.range(py_uri, 0, 9000)})
    message = (await failed(client, job["jobId"]))["error"]["message"]
    assert "2,048-token context window of deepseek-v4-flash (deepseek.contextWindow)" in message, message
    assert "kept for the reply" in message and "Select less code" in message, message
    no_upload(fake)


async def test_an_unknown_model_gets_a_small_default_window(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    client = await start(init_options={"model": "my-local-coder"})
    text = LINE * 3000  # 144,000 characters: over 40,000 tokens, over 32,768
    client.open(py_uri, text)
    job = await client.command(
        "deepseek.explain", {"uri": py_uri, "range": client.range(py_uri, 0, len(text) - 1)}
    )
    message = (await failed(client, job["jobId"]))["error"]["message"]
    assert "32,768-token context window of my-local-coder" in message, message
    assert "set deepseek.contextWindow" in message, message
    no_upload(fake)


async def test_jobs_over_the_limit_are_refused_at_once_not_queued(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    client = await start(init_options={"maxConcurrentJobs": 2})
    client.open(py_uri, "def add(a, b):\n    return a + b\n")
    release = asyncio.Event()
    fake.enqueue(*[Reply(content=["adds ", "two numbers"], hang_after=1, release=release) for _ in range(3)])
    # distinct ranges: one range asked twice while it streams is one job (docs/protocol.md)
    ranges = [client.range(py_uri, 0, end) for end in (14, 13, 12, 11)]
    running = [
        (await client.command("deepseek.explain", {"uri": py_uri, "range": rng}))["jobId"]
        for rng in ranges[:2]
    ]
    await fake.wait_requests(2)
    await client.wait_for(
        lambda: all(any(n.get("content") for n in client.stream(j)) for j in running),
        what="two streaming jobs",
    )

    refused = (await client.command("deepseek.explain", {"uri": py_uri, "range": ranges[2]}))["jobId"]
    message = (await failed(client, refused))["error"]["message"]
    assert "2 DeepSeek requests are already running" in message, message
    assert "deepseek.maxConcurrentJobs allows 2" in message and "cancel" in message, message
    assert len(fake.completions) == 2  # the refused one asked nothing
    assert all(client.final(j) is None for j in running)  # and the others go on

    assert (await client.command("deepseek.cancel", {"jobId": running[0]}))["cancelled"] is True
    await client.wait_done(running[0])
    third = (await client.command("deepseek.explain", {"uri": py_uri, "range": ranges[3]}))["jobId"]
    await fake.wait_requests(3)  # room again: it runs
    release.set()
    for job_id in (running[1], third):
        final = await client.wait_done(job_id)
        assert final["state"] == "done", final
