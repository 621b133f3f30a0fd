"""The DeepSeek client against the real fake DeepSeek over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from deepseek_lsp.client import ClientConfig, DeepSeekClient, StreamResult
from deepseek_lsp.errors import DeepSeekError
from deepseek_lsp.fake import FakeDeepSeek, Reply

KEY = "sk-unit-0123456789abcdef"
BODY = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDeepSeek]:
    async with FakeDeepSeek(api_key=KEY) as server:
        yield server


def make_client(fake: FakeDeepSeek, key: str | None = KEY, **kw: float) -> DeepSeekClient:
    return DeepSeekClient(
        ClientConfig(base_url=fake.base_url, api_key=key, backoff_base=0.01, backoff_max=0.02, **kw)  # type: ignore[arg-type]
    )


async def collect(client: DeepSeekClient, body: dict = BODY) -> tuple[str, str, StreamResult]:  # type: ignore[type-arg]
    result = StreamResult()
    content, reasoning = [], []
    try:
        async for d in client.stream_chat(body, result):
            content.append(d.content or "")
            reasoning.append(d.reasoning or "")
    finally:
        await client.aclose()
    return "".join(content), "".join(reasoning), result


async def test_plain_stream_with_usage_on_finish_chunk(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="Hello, 世界 😀!", usage_style="finish_chunk"))
    content, reasoning, result = await collect(make_client(fake))
    assert content == "Hello, 世界 😀!"
    assert reasoning == ""
    assert result.finish_reason == "stop" and result.done
    assert result.usage is not None and result.usage.completion_tokens > 0


async def test_usage_in_separate_chunk_and_keepalives(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="ok then", usage_style="separate_chunk", queued=0.3, keepalive_interval=0.05))
    content, _, result = await collect(make_client(fake))
    assert content == "ok then"
    assert result.usage is not None and result.usage.prompt_tokens > 0


async def test_reasoning_kept_apart(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="The answer.", reasoning="Let me think."))
    body = {**BODY, "model": "deepseek-reasoner"}
    content, reasoning, _ = await collect(make_client(fake), body)
    assert content == "The answer."
    assert reasoning == "Let me think."


async def test_idle_timeout_is_reset_by_keepalives(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="late", queued=0.6, keepalive_interval=0.05))
    content, _, _ = await collect(make_client(fake, idle_timeout=0.3))
    assert content == "late"


async def test_idle_timeout_fires_on_silence(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(hang=True))
    with pytest.raises(DeepSeekError) as info:
        await collect(make_client(fake, idle_timeout=0.2))
    assert info.value.code == "timeout"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "bad_request"),
        (401, "unauthorized"),
        (402, "insufficient_balance"),
        (422, "bad_request"),
    ],
)
async def test_no_retry_on_client_errors(fake: FakeDeepSeek, status: int, code: str) -> None:
    fake.enqueue(Reply(status=status), Reply(content="should not be reached"))
    with pytest.raises(DeepSeekError) as info:
        await collect(make_client(fake))
    assert info.value.code == code
    assert len(fake.requests) == 1
    assert "****" not in info.value.message or "abcd" not in info.value.message


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_retry_then_success(fake: FakeDeepSeek, status: int) -> None:
    fake.enqueue(Reply(status=status, retry_after=0.01 if status == 429 else None), Reply(content="fine"))
    content, _, result = await collect(make_client(fake))
    assert content == "fine"
    assert result.attempts == 2


async def test_three_500s_then_give_up_with_max_retries_2(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(status=500, repeat=3), Reply(content="never"))
    client = DeepSeekClient(
        ClientConfig(base_url=fake.base_url, api_key=KEY, max_retries=2, backoff_base=0.01)
    )
    with pytest.raises(DeepSeekError) as info:
        await collect(client)
    assert info.value.code == "server_error"
    assert len(fake.requests) == 3


async def test_insufficient_system_resource_before_tokens_is_retried(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="", insufficient_system_resource=True), Reply(content="second try"))
    content, _, _ = await collect(make_client(fake))
    assert content == "second try"


async def test_cut_off_stream_is_truncated_and_not_retried_after_tokens(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="one two three four five", cut_after=2), Reply(content="no"))
    got: list[str] = []
    client = make_client(fake)
    with pytest.raises(DeepSeekError) as info:
        async for d in client.stream_chat(BODY, StreamResult()):
            got.append(d.content or "")
    await client.aclose()
    assert info.value.code == "truncated"
    assert got and "".join(got) != "one two three four five"
    assert len(fake.requests) == 1


async def test_error_payload_mid_stream(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="one two three", error_after=1))
    with pytest.raises(DeepSeekError) as info:
        await collect(make_client(fake))
    assert info.value.code == "server_error"


async def test_no_key_is_unauthorized_without_a_request(fake: FakeDeepSeek) -> None:
    with pytest.raises(DeepSeekError) as info:
        await collect(make_client(fake, key=None))
    assert info.value.code == "unauthorized"
    assert fake.requests == []


async def test_network_error_names_the_url() -> None:
    client = DeepSeekClient(
        ClientConfig(base_url="http://127.0.0.1:9", api_key=KEY, max_retries=1, backoff_base=0.01)
    )
    with pytest.raises(DeepSeekError) as info:
        await collect(client)
    assert info.value.code == "network"
    assert "127.0.0.1:9" in info.value.message


async def test_cancel_closes_the_connection(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="a b c d e f", hold_after=2))
    client = make_client(fake)
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in client.stream_chat(BODY, StreamResult()):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await fake.wait_for_disconnect(timeout=0.2)
    await client.aclose()


async def test_models_and_balance(fake: FakeDeepSeek) -> None:
    client = make_client(fake)
    assert "deepseek-chat" in await client.list_models()
    balance = await client.balance()
    assert balance.is_available and balance.balance_infos
    await client.aclose()


# -- malformed and non-SSE answers (issue 11) -----------------------------------------------


async def test_malformed_event_after_tokens_fails_and_names_the_host(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="one two three four", malformed_after=2), Reply(content="no"))
    got: list[str] = []
    client = make_client(fake)
    with pytest.raises(DeepSeekError) as info:
        async for d in client.stream_chat(BODY, StreamResult()):
            got.append(d.content or "")
    await client.aclose()
    assert info.value.code == "server_error"
    assert "malformed" in info.value.message and "not kept" in info.value.message
    assert f"127.0.0.1:{fake.port}" in info.value.message
    assert KEY not in info.value.message
    assert "".join(got) == "one two"  # nothing after the bad event was passed on as if whole
    assert len(fake.requests) == 1  # text reached the caller: never retried


async def test_malformed_event_before_tokens_is_retried(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="lost", malformed_after=0), Reply(content="second try"))
    content, _, result = await collect(make_client(fake))
    assert content == "second try"
    assert result.attempts == 2


async def test_event_that_is_not_a_chunk_is_an_error(fake: FakeDeepSeek) -> None:
    fake.enqueue(
        Reply(
            body='data: ["not", "a", "chunk"]\n\ndata: [DONE]\n\n',
            body_content_type="text/event-stream",
        )
    )
    client = make_client(fake, max_retries=0)
    with pytest.raises(DeepSeekError) as info:
        await collect(client)
    assert info.value.code == "server_error" and "malformed" in info.value.message


async def test_unknown_usage_shape_keeps_the_text(fake: FakeDeepSeek) -> None:
    body = (
        'data: {"choices":[{"index":0,"delta":{"content":"kept"}}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":null}}\n\n'
        "data: [DONE]\n\n"
    )
    fake.enqueue(Reply(body=body, body_content_type="text/event-stream"))
    content, _, result = await collect(make_client(fake))
    assert content == "kept" and result.done and result.finish_reason == "stop"


@pytest.mark.parametrize(
    ("error", "code", "requests"),
    [
        (
            {
                "message": f"Authentication Fails, Your api key: {KEY} is invalid",
                "type": "authentication_error",
            },
            "unauthorized",
            1,
        ),
        (
            {"message": "Insufficient Balance", "type": "unknown_error", "code": "invalid_request_error"},
            "insufficient_balance",
            1,
        ),
        (
            {
                "message": "the request exceeds the available context size",
                "code": 400,
                "type": "exceed_context_size_error",
            },
            "bad_request",
            1,
        ),
        ({"message": "Server Overloaded", "type": "server_overloaded"}, "server_error", 2),
        ("model 'x' not found", "bad_request", 1),
    ],
)
async def test_200_json_error_body_is_surfaced(
    fake: FakeDeepSeek, error: object, code: str, requests: int
) -> None:
    fake.enqueue(Reply(body=json.dumps({"error": error})), Reply(content="second"))
    client = make_client(fake, max_retries=1)
    if requests == 2:
        content, _, _ = await collect(client)
        assert content == "second"
    else:
        with pytest.raises(DeepSeekError) as info:
            await collect(client)
        assert info.value.code == code
        message = info.value.message
        detail = str(error["message"] if isinstance(error, dict) else error)
        assert detail.split(":")[0] in message  # the upstream's own words (up to the echoed key)
        assert KEY not in message and "truncated" not in message
        assert f"127.0.0.1:{fake.port}" in message
    assert len(fake.requests) == requests


async def test_empty_200_body_says_so(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(body="", body_content_type="text/event-stream"), Reply(content="no"))
    with pytest.raises(DeepSeekError) as info:
        await collect(make_client(fake))
    assert info.value.code == "server_error"
    assert "empty body" in info.value.message and "context" in info.value.message
    assert len(fake.requests) == 1


async def test_html_200_body_is_quoted(fake: FakeDeepSeek) -> None:
    page = "<html><head><title>Login required</title></head><body>" + "x" * 500 + "</body></html>"
    fake.enqueue(Reply(body=page, body_content_type="text/html"), Reply(content="no"))
    with pytest.raises(DeepSeekError) as info:
        await collect(make_client(fake))
    assert info.value.code == "server_error"
    assert "text/html" in info.value.message and "<title>Login required</title>" in info.value.message
    assert "x" * 300 not in info.value.message  # quoted, not dumped
    assert "deepseek.baseUrl" in info.value.message
    assert len(fake.requests) == 1


async def test_json_under_an_event_stream_header_is_read(fake: FakeDeepSeek) -> None:
    fake.enqueue(
        Reply(
            body='{"error": {"message": "Invalid API key", "code": "401"}}',
            body_content_type="text/event-stream",
        )
    )
    with pytest.raises(DeepSeekError) as info:
        await collect(make_client(fake))
    assert info.value.code == "unauthorized" and "Invalid API key" in info.value.message


async def test_sse_under_a_wrong_header_is_parsed(fake: FakeDeepSeek) -> None:
    body = 'data: {"choices":[{"index":0,"delta":{"content":"fine"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    fake.enqueue(Reply(body=body, body_content_type="text/plain"))
    content, _, result = await collect(make_client(fake))
    assert content == "fine" and result.done


async def test_a_whole_completion_is_taken(fake: FakeDeepSeek) -> None:
    """A server that ignores `stream: true` answers with one chat.completion object."""
    whole = {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "all at once"},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    fake.enqueue(Reply(body=json.dumps(whole)))
    content, _, result = await collect(make_client(fake))
    assert content == "all at once"
    assert result.finish_reason == "length" and result.usage and result.usage.completion_tokens == 4


async def test_lone_surrogate_goes_out_replaced(fake: FakeDeepSeek) -> None:
    body = {**BODY, "messages": [{"role": "user", "content": "x = '\ud800' 😀"}]}
    content, _, _ = await collect(make_client(fake), body)
    assert content
    sent = fake.requests[0].body
    assert sent["messages"][0]["content"] == "x = '\ufffd' 😀"
    assert body["messages"][0]["content"] == "x = '\ud800' 😀"  # the caller's text is untouched


async def test_events_of_one_read_come_as_one_delta(fake: FakeDeepSeek) -> None:
    """Many events in one network read: one delta (one notification downstream), in order."""
    chunk = {"choices": [{"index": 0, "delta": {"content": ""}}]}
    events = ""
    for word in ("a", "b", "c"):
        chunk["choices"][0]["delta"]["content"] = word
        events += f"data: {json.dumps(chunk)}\n\n"
    fake.enqueue(Reply(body=events + "data: [DONE]\n\n", body_content_type="text/event-stream"))
    client = make_client(fake)
    deltas = [d async for d in client.stream_chat(BODY, StreamResult())]
    await client.aclose()
    assert [d.content for d in deltas] == ["abc"]
