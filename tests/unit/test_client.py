"""The DeepSeek client against the real fake DeepSeek over loopback HTTP."""

from __future__ import annotations

import asyncio
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
