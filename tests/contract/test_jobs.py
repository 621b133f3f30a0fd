"""Jobs: command responses, deepseek/stream shape, progress, cancellation, errors, hover."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from .conftest import Start
from .fakeds import FakeDeepSeek, Reply
from .lsp import Client, LspError

CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def check_stream(client: Client, job_id: str, kind: str) -> list[dict[str, Any]]:
    """The per-job invariants of docs/protocol.md: seq 0.. without gaps, one done, done last."""
    notes = client.stream(job_id)
    assert notes, "no deepseek/stream for the job"
    if job_id in client.started:
        response_precedes_stream(client, client.started[job_id], job_id)
    assert [n["seq"] for n in notes] == list(range(len(notes)))
    dones = [n for n in notes if n.get("done") is True]
    assert len(dones) == 1, dones
    assert notes[-1]["done"] is True
    for n in notes:
        assert n["kind"] == kind
        assert n["state"] in ("streaming", "review", "done", "cancelled", "failed")
        for key in ("content", "reasoning"):
            assert key not in n or isinstance(n[key], str)
    return notes


def joined(notes: list[dict[str, Any]], key: str = "content") -> str:
    return "".join(n.get(key) or "" for n in notes)


def response_precedes_stream(client: Client, rid: int, job_id: str) -> None:
    idx_resp = next(i for i, m in enumerate(client.messages) if m.get("id") == rid and "method" not in m)
    idx_first = next(
        i
        for i, m in enumerate(client.messages)
        if m.get("method") == "deepseek/stream" and m["params"].get("jobId") == job_id
    )
    assert idx_resp < idx_first


async def explain(client: Client, uri: str, start: int = 0, end: int = 32) -> tuple[int, str]:
    rid = client.send_request(
        "workspace/executeCommand",
        {"command": "deepseek.explain", "arguments": [{"uri": uri, "range": client.range(uri, start, end)}]},
    )
    result = await client.response(rid)
    assert isinstance(result, dict) and isinstance(result["jobId"], str)
    return rid, result["jobId"]


async def test_explain_streams_deltas_progress_and_hover(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    parts = ["`add` returns ", "the sum of ", "its two arguments.", " 足し算です 🎉"]
    fake.enqueue(Reply(content=parts, delay=0.01))
    client = await start()
    client.open(py_uri, CODE)
    rid, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    notes = check_stream(client, job, "explain")
    response_precedes_stream(client, rid, job)
    assert joined(notes) == "".join(parts)
    assert final["state"] == "done"
    assert final.get("finishReason") == "stop"
    assert "error" not in final
    usage = final.get("usage")
    assert usage is not None
    for key in ("promptTokens", "completionTokens", "promptCacheHitTokens", "promptCacheMissTokens"):
        assert isinstance(usage[key], int | float), key
    assert all(n.get("uri") == py_uri for n in notes)
    assert notes[0]["range"] == client.range(py_uri, 0, 32)
    # the upstream request: streaming, with the key, carrying the selected code
    req = fake.completions[0]
    assert req.body["stream"] is True
    assert "return a + b" in str(req.body["messages"])

    # work-done progress: create, begin (DeepSeek..., cancellable), end
    await client.wait_for(lambda: progress_kinds(client)[-1:] == ["end"], what="progress end")
    assert progress_kinds(client)[0] == "begin"
    begin = progress(client)[0]["value"]
    assert begin["title"].startswith("DeepSeek")
    assert begin["cancellable"] is True
    created = [m for m in client.messages if m.get("method") == "window/workDoneProgress/create"]
    assert [m["params"]["token"] for m in created] == [progress(client)[0]["token"]]

    # hover inside the explained range shows the explanation
    hover = await client.request(
        "textDocument/hover", {"textDocument": {"uri": py_uri}, "position": {"line": 1, "character": 8}}
    )
    assert hover is not None
    contents = hover["contents"]
    text = contents["value"] if isinstance(contents, dict) else str(contents)
    assert "the sum of its two arguments." in text


def progress(client: Client) -> list[dict[str, Any]]:
    return client.notifications("$/progress")


def progress_kinds(client: Client) -> list[str]:
    return [p["value"]["kind"] for p in progress(client)]


async def test_reasoning_stays_out_of_content(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(reasoning=["Let me ", "think."], content=["It ", "adds."]))
    client = await start(init_options={"thinking": True})
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    await client.wait_done(job)
    notes = check_stream(client, job, "explain")
    assert joined(notes) == "It adds."
    assert joined(notes, "reasoning") == "Let me think."


async def test_2024_capture_shape(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(content=["我", "们"], v4=False))
    client = await start()
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "done"
    assert joined(check_stream(client, job, "explain")) == "我们"


CANCELLERS = ["command", "progress", "cancelRequest"]


async def test_cancel_closes_upstream_at_once(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """deepseek.cancel, window/workDoneProgress/cancel and $/cancelRequest, one job each."""
    client = await start()
    client.open(py_uri, CODE)
    for n, how in enumerate(CANCELLERS):
        fake.enqueue(Reply(content=["first part, ", "never sent"], hang_after=1))
        begun = progress_kinds(client).count("begin")
        rid, job = await explain(client, py_uri)
        await client.wait_for(
            lambda job=job: joined(client.stream(job)) == "first part, ", what="first delta"
        )
        await client.wait_for(
            lambda b=begun: progress_kinds(client).count("begin") > b, what="progress begin"
        )
        token = [p for p in progress(client) if p["value"]["kind"] == "begin"][-1]["token"]
        seen = fake.completions[n]
        assert seen.disconnected is None
        t0 = time.monotonic()
        if how == "command":
            result = await client.command("deepseek.cancel", {"jobId": job})
            assert result == {"cancelled": True}
        elif how == "progress":
            client.notify("window/workDoneProgress/cancel", {"token": token})
        else:
            client.notify("$/cancelRequest", {"id": rid})
        await asyncio.wait_for(seen.closed.wait(), 5)
        assert seen.disconnected is not None, how
        assert seen.disconnected - t0 < 1.0, f"{how}: the HTTP stream was not closed at once"
        final = await client.wait_done(job)
        assert final["state"] == "cancelled", how
        check_stream(client, job, "explain")
        await client.wait_for(
            lambda t=token: any(p["token"] == t and p["value"]["kind"] == "end" for p in progress(client)),
            what="progress end",
        )
        # a finished job cannot be cancelled again
        assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": False}


ERRORS = [
    (401, "unauthorized", ("key",)),
    (402, "insufficient_balance", ("balance", "top up", "top-up", "funds")),
    (400, "bad_request", ()),
]


async def test_http_errors(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start()
    client.open(py_uri, CODE)
    for n, (status, code, hints) in enumerate(ERRORS):
        fake.enqueue(Reply(status=status, message="nope"))
        _, job = await explain(client, py_uri)
        final = await client.wait_done(job)
        assert final["state"] == "failed"
        assert final["error"]["code"] == code
        assert final["error"]["message"]
        await client.wait_for(lambda n=n: len(client.errors_shown()) > n, what="showMessage Error")
        await client.command("deepseek.status", {})
        assert len(client.errors_shown()) == n + 1, "one showMessage per failed job"
        shown = client.errors_shown()[n]
        if hints:
            assert any(h in shown.lower() for h in hints), shown
        assert len(fake.completions) == n + 1, "no retry for a client error"
        check_stream(client, job, "explain")


async def test_429_then_200_is_retried(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(status=429, message="slow down", retry_after="0"), Reply(content=["fine"]))
    client = await start()
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "done"
    assert joined(check_stream(client, job, "explain")) == "fine"
    assert len(fake.completions) == 2
    assert client.errors_shown() == []


async def test_rate_limited_for_good(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(*[Reply(status=429, message="slow down", retry_after="0") for _ in range(3)])
    client = await start(init_options={"maxRetries": 2})
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["error"]["code"] == "rate_limited"
    await client.wait_for(client.errors_shown, what="showMessage Error")


async def test_server_errors(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start(init_options={"maxRetries": 2})
    client.open(py_uri, CODE)
    for n, status in enumerate([500, 503]):
        fake.enqueue(*[Reply(status=status, message="busy", retry_after="0") for _ in range(3)])
        _, job = await explain(client, py_uri)
        final = await client.wait_done(job)
        assert final["state"] == "failed"
        assert final["error"]["code"] == "server_error"
        await client.wait_for(lambda n=n: len(client.errors_shown()) > n, what="showMessage Error")
        assert len(fake.completions) == 3 * (n + 1)
        check_stream(client, job, "explain")


async def test_cut_off_stream_is_not_complete(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(content=["partial ", "answer"], cut=True))
    client = await start()
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "failed"
    assert final["error"]["code"] in ("truncated", "network", "server_error")
    await client.wait_for(client.errors_shown, what="showMessage Error")
    check_stream(client, job, "explain")


async def test_error_payload_in_stream(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """A data payload with an "error" key is an error, wherever it comes."""
    fake.enqueue(Reply(content=["some ", "more"], error_after=1))
    client = await start()
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "failed"


async def test_unknown_job_and_bad_arguments(start: Start, py_uri: str) -> None:
    client = await start()
    assert await client.command("deepseek.cancel", {"jobId": "no-such-job"}) == {"cancelled": False}
    with pytest.raises(LspError):
        await client.command("deepseek.explain", {"uri": py_uri})  # no range, document not open


async def test_usage_in_a_separate_chunk(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(content=["Adds."], usage_chunk=True, v4=False))
    client = await start()
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "done"
    assert final["usage"]["promptTokens"] == 12
    assert final["usage"]["promptCacheMissTokens"] == 12


async def test_keep_alives_reset_the_idle_timeout(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(content=["Queued, ", "then answered."], keepalive=1.0))
    client = await start(init_options={"timeouts": {"idle": 0.6}})
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    assert joined(client.stream(job)) == "Queued, then answered."


async def test_idle_timeout(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(*[Reply(content=["never"], hang_after=0) for _ in range(3)])
    client = await start(init_options={"timeouts": {"idle": 0.3}, "maxRetries": 0})
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "failed"
    assert final["error"]["code"] == "timeout"
    await client.wait_for(client.errors_shown, what="showMessage Error")


async def test_concurrent_jobs_count_their_own_seq(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(*[Reply(content=[f"part {i} " for i in range(6)], delay=0.01) for _ in range(3)])
    client = await start()
    client.open(py_uri, CODE)
    # two ranges: a second explain of a range still streaming answers the same job
    jobs = [(await explain(client, py_uri, *span))[1] for span in ((0, 32), (34, len(CODE)))]
    chat = await client.command("deepseek.chat", {"message": "hello"})
    jobs.append(chat["jobId"])
    assert len(set(jobs)) == 3
    for job in jobs:
        await client.wait_done(job)
    for job, kind in zip(jobs, ["explain", "explain", "chat"], strict=True):
        assert joined(check_stream(client, job, kind)) == "".join(f"part {i} " for i in range(6))
    # every job had its own progress, begun and ended
    await client.wait_for(lambda: progress_kinds(client).count("end") == 3, what="three progress ends")
    assert progress_kinds(client).count("begin") == 3
    tokens = {p["token"] for p in progress(client)}
    assert len(tokens) == 3
    for p in progress(client):
        if p["value"]["kind"] == "begin":
            assert p["value"]["title"].startswith("DeepSeek") and p["value"]["cancellable"] is True
    status = await client.command("deepseek.status", {})
    assert status["usage"]


async def test_cancel_chat_closes_upstream(start: Start, fake: FakeDeepSeek) -> None:
    client = await start()
    for n, how in enumerate(CANCELLERS):
        fake.enqueue(Reply(content=["Hello ", "there"], hang_after=1))
        begun = progress_kinds(client).count("begin")
        rid = client.send_request(
            "workspace/executeCommand", {"command": "deepseek.chat", "arguments": [{"message": f"hello {n}"}]}
        )
        job = (await client.response(rid))["jobId"]
        await client.wait_for(lambda job=job: joined(client.stream(job)) == "Hello ", what="first delta")
        await client.wait_for(
            lambda b=begun: progress_kinds(client).count("begin") > b, what="progress begin"
        )
        token = [p for p in progress(client) if p["value"]["kind"] == "begin"][-1]["token"]
        seen = fake.completions[n]
        status = await client.command("deepseek.status", {})
        assert job in str(status["jobs"])
        if how == "command":
            assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": True}
        elif how == "progress":
            client.notify("window/workDoneProgress/cancel", {"token": token})
        else:
            client.notify("$/cancelRequest", {"id": rid})
        await asyncio.wait_for(seen.closed.wait(), 2)
        assert seen.disconnected is not None, how
        assert (await client.wait_done(job))["state"] == "cancelled", how
        check_stream(client, job, "chat")


async def test_422_names_the_parameter(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start()
    client.open(py_uri, CODE)
    for n, plain in enumerate([False, True]):
        fake.enqueue(Reply(status=422, message="Invalid parameter: top_logprobs must be <= 20", plain=plain))
        _, job = await explain(client, py_uri)
        final = await client.wait_done(job)
        assert final["error"]["code"] == "bad_request"
        assert "top_logprobs" in final["error"]["message"]
        assert len(fake.completions) == n + 1


async def test_finish_reason_is_reported(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start()
    client.open(py_uri, CODE)
    for reason in ["length", "content_filter", "brand_new_reason"]:
        fake.enqueue(Reply(content=["Partial explanation"], finish_reason=reason))
        _, job = await explain(client, py_uri)
        final = await client.wait_done(job)
        assert final.get("finishReason") == reason
        assert joined(check_stream(client, job, "explain")) == "Partial explanation"


async def test_insufficient_system_resource_is_retried(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(finish_reason="insufficient_system_resource"), Reply(content=["Second try."]))
    client = await start()
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "done"
    assert joined(check_stream(client, job, "explain")) == "Second try."
    assert len(fake.completions) == 2


async def test_unknown_model_names_the_available_ones(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start(init_options={"model": "deepseek-v9-imaginary"})
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    await client.wait_done(job)
    await client.wait_for(client.errors_shown, what="an error naming the models")
    text = " ".join(client.errors_shown()) + str(client.final(job))
    assert "deepseek-v9-imaginary" in text
    assert "deepseek-v4-flash" in text


async def test_explain_range_follows_edits(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """Ranges are in the document's coordinates at the moment they are sent."""
    release = asyncio.Event()
    fake.enqueue(Reply(content=["`sub` ", "subtracts."], hang_after=1, release=release))
    client = await start()
    client.open(py_uri, CODE)
    at = CODE.index("def sub")
    rid = client.send_request(
        "workspace/executeCommand",
        {
            "command": "deepseek.explain",
            "arguments": [{"uri": py_uri, "range": client.range(py_uri, at, len(CODE))}],
        },
    )
    job = (await client.response(rid))["jobId"]
    await client.wait_for(lambda: joined(client.stream(job)) == "`sub` ", what="first delta")
    client.type_text(py_uri, 0, 0, "import math\n\n")
    await client.command("deepseek.status", {})  # a round trip: the server has seen the edit
    release.set()
    final = await client.wait_done(job)
    assert final["state"] == "done"
    assert final["range"]["start"] == {"line": 6, "character": 0}
    hover = await client.request(
        "textDocument/hover", {"textDocument": {"uri": py_uri}, "position": {"line": 7, "character": 8}}
    )
    assert hover is not None and "subtracts." in str(hover["contents"])


async def test_cancel_while_queued_or_backing_off(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start()
    client.open(py_uri, CODE)
    # queued: DeepSeek sends keep-alive comments only
    fake.enqueue(Reply(content=["late"], keepalive=30))
    _, job = await explain(client, py_uri)
    [seen] = await fake.wait_requests(1)
    t0 = time.monotonic()
    assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": True}
    await asyncio.wait_for(seen.closed.wait(), 2)
    assert seen.disconnected is not None and seen.disconnected - t0 < 1.0
    assert (await client.wait_done(job, timeout=2))["state"] == "cancelled"
    # backing off after a 429 with a long Retry-After: no second request after the cancel
    fake.enqueue(Reply(status=429, message="slow down", retry_after="20"), Reply(content=["never"]))
    _, job = await explain(client, py_uri)
    await fake.wait_requests(2)
    assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": True}
    assert (await client.wait_done(job, timeout=2))["state"] == "cancelled"
    await client.command("deepseek.status", {})
    assert len(fake.completions) == 2
