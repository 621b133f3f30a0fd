"""Jobs end to end: each way of cancelling, each error status, settings, and the key kept secret."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from deepseek_lsp.fake import FakeDeepSeek, Reply

from .harness import TEST_KEY, Recorder, command, open_doc, plain, rng, server_config, start_client

URI = "file:///tmp/project/app.py"
TEXT = "def add(a, b):\n    return a + b\n"
SEL = rng(0, 0, 1, 16)

Lsp = tuple[LanguageClient, Recorder]


async def start_explain(client: LanguageClient) -> str:
    open_doc(client, URI, TEXT)
    result = await command(client, "deepseek.explain", {"uri": URI, "range": SEL})
    job_id: str = result["jobId"]
    return job_id


# -- cancellation --------------------------------------------------------------------------


async def wait_streaming(rec: Recorder, fake: FakeDeepSeek, job: str) -> None:
    await rec.wait_for(lambda: rec.content(job))
    await fake.wait_for_held(1)


async def assert_cancelled_quickly(rec: Recorder, fake: FakeDeepSeek, job: str, started: float) -> None:
    record = await fake.wait_for_disconnect(timeout=2)
    assert record.disconnected_at is not None
    assert record.disconnected_at - started < 0.2, f"{(record.disconnected_at - started) * 1000:.0f} ms"
    final = await rec.wait_done(job)
    assert final["state"] == "cancelled" and final["error"]["code"] == "cancelled"
    assert sum(1 for n in rec.job(job) if n["done"]) == 1


async def test_cancel_command_closes_the_upstream_stream(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content="one two three four", hold_after=2))
    job = await start_explain(client)
    await wait_streaming(rec, fake, job)
    started = time.perf_counter()
    assert await command(client, "deepseek.cancel", {"jobId": job}) == {"cancelled": True}
    await assert_cancelled_quickly(rec, fake, job, started)
    assert await command(client, "deepseek.cancel", {"jobId": job}) == {"cancelled": False}


async def test_work_done_progress_cancel(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content="one two three four", hold_after=2))
    job = await start_explain(client)
    await wait_streaming(rec, fake, job)
    await rec.wait_for(lambda: any(plain(p.value)["kind"] == "begin" for p in rec.progress))
    token = next(p.token for p in rec.progress if plain(p.value)["kind"] == "begin")
    started = time.perf_counter()
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    await assert_cancelled_quickly(rec, fake, job, started)


async def test_cancel_request_of_the_command(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content="one two three four", hold_after=2))
    open_doc(client, URI, TEXT)
    fut = client.protocol.send_request_async(
        types.WORKSPACE_EXECUTE_COMMAND,
        types.ExecuteCommandParams(command="deepseek.explain", arguments=[{"uri": URI, "range": SEL}]),
        msg_id="explain-1",
    )
    job = plain(await asyncio.wait_for(fut, 5))["jobId"]
    await wait_streaming(rec, fake, job)
    started = time.perf_counter()
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="explain-1"))
    await assert_cancelled_quickly(rec, fake, job, started)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "advice"),
    [
        (401, "unauthorized", "key"),
        (402, "insufficient_balance", "Top up"),
        (400, "bad_request", "rejected"),
        (422, "bad_request", "parameter"),
    ],
)
async def test_client_errors_fail_once_with_advice(
    lsp: Lsp, fake: FakeDeepSeek, status: int, code: str, advice: str
) -> None:
    client, rec = lsp
    fake.enqueue(Reply(status=status), Reply(content="never"))
    job = await start_explain(client)
    final = await rec.wait_done(job)
    assert final["state"] == "failed" and final["error"]["code"] == code
    assert advice in final["error"]["message"]
    await rec.wait_for(lambda: rec.messages)
    assert rec.messages[0].type == types.MessageType.Error and advice in rec.messages[0].message
    assert len([r for r in fake.requests if r.path.endswith("completions")]) == 1  # no retry


@pytest.mark.parametrize("status", [429, 503])
async def test_429_or_503_then_200_is_retried(lsp: Lsp, fake: FakeDeepSeek, status: int) -> None:
    client, rec = lsp
    fake.enqueue(Reply(status=status, retry_after=0.05), Reply(content="after the limit"))
    job = await start_explain(client)
    final = await rec.wait_done(job)
    assert final["state"] == "done" and rec.content(job) == "after the limit"


async def test_three_500s_then_200_succeeds(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    fake.enqueue(Reply(status=500, repeat=3), Reply(content="fourth time lucky"))
    job = await start_explain(client)
    final = await rec.wait_done(job, timeout=30)
    assert final["state"] == "done" and rec.content(job) == "fourth time lucky"
    assert len([r for r in fake.requests if r.path.endswith("completions")]) == 4


async def test_500s_past_the_retry_budget_fail(fake: FakeDeepSeek) -> None:
    client, rec = await start_client(server_config(fake.base_url), init_options={"maxRetries": 1})
    try:
        fake.enqueue(Reply(status=500, repeat=3))
        job = await start_explain(client)
        final = await rec.wait_done(job, timeout=30)
        assert final["state"] == "failed" and final["error"]["code"] == "server_error"
        assert "retry" in final["error"]["message"]
    finally:
        await client.shutdown_session()


async def test_cut_off_stream_is_truncated(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content="one two three four five six", cut_after=3))
    job = await start_explain(client)
    final = await rec.wait_done(job)
    assert final["state"] == "failed" and final["error"]["code"] == "truncated"
    assert rec.content(job) and rec.content(job) != "one two three four five six"


async def test_error_payload_mid_stream(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content="one two three", error_after=2))
    job = await start_explain(client)
    final = await rec.wait_done(job)
    assert final["state"] == "failed" and final["error"]["code"] == "server_error"


async def test_dead_network(fake: FakeDeepSeek) -> None:
    client, rec = await start_client(server_config("http://127.0.0.1:9"), init_options={"maxRetries": 0})
    try:
        job = await start_explain(client)
        final = await rec.wait_done(job)
        assert final["error"]["code"] == "network" and "127.0.0.1:9" in final["error"]["message"]
    finally:
        await client.shutdown_session()


async def test_no_key_tells_the_user_how_to_set_it(fake: FakeDeepSeek) -> None:
    client, rec = await start_client(server_config(fake.base_url, key=None))
    try:
        job = await start_explain(client)
        final = await rec.wait_done(job)
        assert final["error"]["code"] == "unauthorized"
        assert "DEEPSEEK_API_KEY" in final["error"]["message"]
        assert not [r for r in fake.requests if r.path.endswith("completions")]
        status = await command(client, "deepseek.status", {})
        assert status["apiKeySet"] is False
    finally:
        await client.shutdown_session()


# -- settings ---------------------------------------------------------------------------------


async def test_bad_setting_is_reported_by_key_and_the_last_good_ones_stay(
    lsp: Lsp, fake: FakeDeepSeek
) -> None:
    client, rec = lsp
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"deepseek": {"temperature": 7, "model": "deepseek-v4-pro"}}
        )
    )
    await rec.wait_for(lambda: rec.messages)
    message = rec.messages[0]
    assert message.type == types.MessageType.Error
    assert "deepseek.temperature" in message.message
    fake.enqueue(Reply(content="still works"))
    job = await start_explain(client)
    await rec.wait_done(job)
    assert rec.content(job) == "still works"
    assert fake.requests[-1].body["model"] == "deepseek-chat"  # the bad layer was not applied
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"deepseek": {"model": "deepseek-v4-pro"}})
    )
    status = await command(client, "deepseek.status", {})
    assert status["model"] == "deepseek-v4-pro"


async def test_settings_pulled_with_workspace_configuration(fake: FakeDeepSeek) -> None:
    client, rec = await start_client(
        server_config(fake.base_url, key=None),
        settings={"apiKey": TEST_KEY, "model": "deepseek-v4-flash"},
    )
    try:
        await rec.wait_for(lambda: True)
        fake.enqueue(Reply(content="configured"))
        deadline = time.monotonic() + 5
        status = await command(client, "deepseek.status", {})
        while not status["apiKeySet"] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # the pull happens after `initialized`; no event marks it
            status = await command(client, "deepseek.status", {})
        assert status["apiKeySet"] and status["model"] == "deepseek-v4-flash"
        job = await start_explain(client)
        await rec.wait_done(job)
        assert fake.requests[-1].body["thinking"] == {"type": "disabled"}
    finally:
        await client.shutdown_session()


# -- the key never leaks -----------------------------------------------------------------------


async def test_the_key_appears_in_no_output(fake: FakeDeepSeek, tmp_path, capfd) -> None:  # type: ignore[no-untyped-def]
    log_file = tmp_path / "server.log"
    config = server_config(fake.base_url)
    config.server_command += ["--log-file", str(log_file)]
    client, rec = await start_client(config, init_options={"apiKey": TEST_KEY, "logLevel": "debug"})
    try:
        fake.enqueue(Reply(status=401), Reply(content="ok"), Reply(content="a b c", cut_after=1))
        for _ in range(3):
            job = await start_explain(client)
            await rec.wait_done(job)
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"deepseek": {"apiKey": 42, "temperature": "hot"}})
        )
        await rec.wait_for(lambda: len(rec.messages) >= 3)
        status = await command(client, "deepseek.status", {})
    finally:
        await client.shutdown_session()
    assert fake.requests[0].auth_ok  # the key was really used
    outputs = [
        json.dumps(rec.streams),
        json.dumps(status),
        " ".join(m.message for m in rec.messages),
        " ".join(m.message for m in rec.logs),
        log_file.read_text(),
        capfd.readouterr().err,
    ]
    assert log_file.read_text()  # something was logged
    for text in outputs:
        assert TEST_KEY not in text
        assert TEST_KEY[-4:] not in text.replace("0123456789abcdef0123456789abcdef", "")


def test_stdout_carries_only_lsp_frames(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def frame(obj: dict) -> bytes:  # type: ignore[type-arg]
        body = json.dumps(obj).encode()
        return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)

    stdin = b"".join(
        [
            frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
            frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
            frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}),
            frame({"jsonrpc": "2.0", "method": "exit"}),
        ]
    )
    out = subprocess.run(
        [sys.executable, "-m", "deepseek_lsp", "--log-level", "debug"],
        input=stdin,
        capture_output=True,
        timeout=30,
        check=False,
    ).stdout
    frames = []
    while out:
        header, sep, rest = out.partition(b"\r\n\r\n")
        assert sep and header.startswith(b"Content-Length: "), out[:80]
        length = int(header.split(b"\r\n")[0].split(b": ")[1])
        frames.append(json.loads(rest[:length]))
        out = rest[length:]
    assert frames[0]["id"] == 1 and frames[0]["result"]["serverInfo"]["name"] == "deepseek-lsp"
    caps = frames[0]["result"]["capabilities"]
    assert {"deepseek.explain", "deepseek.cancel", "deepseek.status"} <= set(
        caps["executeCommandProvider"]["commands"]
    )
    assert caps["hoverProvider"] and caps["codeActionProvider"]
