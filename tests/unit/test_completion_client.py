"""`DeepSeekClient.complete_fim` against the real fake DeepSeek over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from deepseek_lsp.client import ClientConfig, DeepSeekClient, EstimatedUsage
from deepseek_lsp.errors import DeepSeekError
from deepseek_lsp.fake import FakeDeepSeek, Reply

KEY = "sk-unit-0123456789abcdef"
BODY = {
    "model": "deepseek-flash",
    "prompt": "def f(x):\n    return ",
    "suffix": "\n",
    "max_tokens": 64,
    "stream": True,
}


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDeepSeek]:
    async with FakeDeepSeek(api_key=KEY, default_delay=0) as server:
        yield server


@pytest_asyncio.fixture
async def client(fake: FakeDeepSeek) -> AsyncIterator[DeepSeekClient]:
    c = DeepSeekClient(ClientConfig(base_url=fake.base_url, api_key=KEY))
    yield c
    await c.aclose()


async def test_a_streamed_answer_with_its_usage(client: DeepSeekClient, fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="x * 2", delay=0.001))
    result = await client.complete_fim(dict(BODY))
    assert result.text == "x * 2" and result.done and result.finish_reason == "stop"
    assert result.usage is not None and not isinstance(result.usage, EstimatedUsage)
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    [sent] = fake.requests
    assert sent.path == "/beta/completions" and sent.body["suffix"] == "\n"
    # the same prompt again: DeepSeek's cache hits it (64-token units, none here: too short)
    fake.enqueue(Reply(content="x + x"))
    again = await client.complete_fim({**BODY, "stream": False})
    assert again.text == "x + x" and again.usage is not None


async def test_enough_text_ends_the_stream_and_closes_the_connection(
    client: DeepSeekClient, fake: FakeDeepSeek
) -> None:
    fake.enqueue(Reply(chunks=["x * 2", "\n", "more", " and", " more"], delay=0.05))
    seen: list[str] = []

    def on_text(text: str) -> bool:
        seen.append(text)
        return "\n" in text

    result = await client.complete_fim(dict(BODY), on_text=on_text)
    assert result.stopped and result.text.startswith("x * 2\n") and "more" not in result.text
    assert isinstance(result.usage, EstimatedUsage)  # the usage chunk never came
    record = await fake.wait_for_disconnect(0)
    assert record.disconnected


async def test_cancelling_closes_the_http_request_at_once(client: DeepSeekClient, fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(hang=True))
    task = asyncio.create_task(client.complete_fim(dict(BODY)))
    await fake.wait_for_requests(1)
    task.cancel()
    record = await fake.wait_for_disconnect(0)
    assert record.disconnected


async def test_errors_are_deepseek_errors_without_the_key(client: DeepSeekClient, fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(status=401, error_message=f"Authentication Fails, Your api key: {KEY} is invalid"))
    with pytest.raises(DeepSeekError) as err:
        await client.complete_fim(dict(BODY))
    assert err.value.code == "unauthorized" and KEY not in err.value.message
    with pytest.raises(DeepSeekError) as bad:
        await client.complete_fim({**BODY, "max_tokens": 5000})  # FIM allows at most 4K
    assert bad.value.code == "bad_request"
    assert len(fake.requests) == 2  # no retries


async def test_the_endpoint_by_profile(fake: FakeDeepSeek) -> None:
    v1 = DeepSeekClient(ClientConfig(base_url=fake.base_url + "/v1", api_key=KEY))
    assert v1.fim_url() == fake.base_url + "/beta/completions"  # DeepSeek has no /v1/beta
    generic = DeepSeekClient(ClientConfig(base_url=fake.base_url + "/v1", api_key=None, provider="openai"))
    assert generic.fim_url() == fake.base_url + "/v1/completions"
    fake.set_profile("openai")
    fake.api_key = None
    fake.enqueue(Reply(content="x * 2"))
    try:
        result = await generic.complete_fim({**BODY, "model": "local-model"})
    finally:
        await generic.aclose()
        await v1.aclose()
    assert result.text == "x * 2" and isinstance(result.usage, EstimatedUsage)
    assert fake.requests[0].path == "/v1/completions"


async def test_the_fakes_fim_fidelity(client: DeepSeekClient, fake: FakeDeepSeek) -> None:
    """What benchmarks rely on: an oracle answers what the document holds next, every record
    carries the usage its answer reports (cancelled ones too), and FIM is only under /beta."""
    document = "def f(x):\n    return x * 2\n\n\ndef g():\n    pass\n"
    fake.fim_oracle = document
    result = await client.complete_fim({**BODY, "prompt": "# header\n" + document[:22], "suffix": "\n"})
    assert result.text == " * 2"  # the rest of the document, up to a blank line
    assert fake.requests[0].usage is not None and fake.requests[0].usage["prompt_tokens"] > 0
    fake.enqueue(Reply(hang=True))
    task = asyncio.create_task(client.complete_fim(dict(BODY)))
    await fake.wait_for_requests(2)
    task.cancel()
    record = await fake.wait_for_disconnect(1)
    assert record.usage is not None  # the cache accounting of a prompt the client left
    for path in ("/completions", "/v1/completions"):
        response = await client._client().post(fake.base_url + path, json=BODY)
        assert response.status_code == 404  # DeepSeek serves FIM only at /beta/completions
