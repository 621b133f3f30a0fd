"""The fake DeepSeek's prompt-cache accounting (64-token units from token 0)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from deepseek_lsp.fake import FakeDeepSeek
from deepseek_lsp.fake.cache import PromptCache, render_chat, tokenize

KEY = "sk-fake"
STABLE = "You are a careful reviewer. " + " ".join(f"line{i} = {i}" for i in range(60))


@pytest.fixture
async def fake() -> AsyncIterator[FakeDeepSeek]:
    async with FakeDeepSeek(default_delay=0) as server:
        yield server


async def usage_of(fake: FakeDeepSeek, messages: list[dict[str, Any]], **extra: Any) -> Any:
    headers = {"Authorization": f"Bearer {extra.pop('key', KEY)}"}
    body = {"model": "deepseek-chat", "messages": messages, **extra}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as client:
        response = await client.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()["usage"]


def messages(question: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": STABLE}, {"role": "user", "content": question}]


def test_tokenizer_is_deterministic_and_round_trips() -> None:
    text = "def f(x):\n    return x  # 你好"
    assert tokenize(text) == tokenize(text)
    assert "".join(tokenize(text)) == text
    tokens = render_chat([{"role": "user", "content": "hi"}])
    assert tokens == ["<|begin_of_sentence|>", "<|user|>", "hi", "<|assistant|>"]
    prefixed = render_chat([{"role": "assistant", "content": "x", "prefix": True}])
    assert prefixed[-1] == "x"  # no generation marker after a prefix


def test_prompt_cache_counts_whole_blocks_of_the_common_prefix() -> None:
    cache = PromptCache()
    first = [f"t{i}" for i in range(200)]
    assert cache.lookup_and_store("k", first) == 0
    assert cache.lookup_and_store("k", first) == 192  # 3 whole blocks of 64
    changed = first[:150] + ["other"] * 50
    assert cache.lookup_and_store("k", changed) == 128  # the blocks before token 150
    assert cache.lookup_and_store("other key", first) == 0
    assert cache.lookup_and_store("k", first[:63]) == 0  # less than one unit never hits


def test_prompt_cache_memory_is_bounded() -> None:
    cache = PromptCache(max_blocks=4)
    cache.lookup_and_store("k", [f"a{i}" for i in range(64 * 10)])
    assert len(cache._seen) == 4
    cache.clear()
    assert len(cache._seen) == 0


async def test_identical_request_hits_in_64_token_units(fake: FakeDeepSeek) -> None:
    first = await usage_of(fake, messages("What does line3 do?"))
    assert first["prompt_cache_hit_tokens"] == 0
    assert first["prompt_cache_miss_tokens"] == first["prompt_tokens"] > 128
    second = await usage_of(fake, messages("What does line3 do?"))
    hit = second["prompt_cache_hit_tokens"]
    assert hit == second["prompt_tokens"] // 64 * 64 and hit > 0
    assert second["prompt_cache_miss_tokens"] == second["prompt_tokens"] - hit
    assert second["prompt_tokens_details"]["cached_tokens"] == hit


async def test_changed_suffix_keeps_the_prefix_hit(fake: FakeDeepSeek) -> None:
    first = await usage_of(fake, messages("What does line3 do?"))
    second = await usage_of(fake, messages("And what about line7, and line8?"))
    stable_tokens = len(render_chat([{"role": "system", "content": STABLE}])) - 1
    assert second["prompt_cache_hit_tokens"] == stable_tokens // 64 * 64
    assert second["prompt_tokens"] != first["prompt_tokens"]


async def test_cache_is_per_key_and_user_id() -> None:
    async with FakeDeepSeek(api_key=None, default_delay=0) as fake:
        await usage_of(fake, messages("q"), key="key-a")
        assert (await usage_of(fake, messages("q"), key="key-b"))["prompt_cache_hit_tokens"] == 0
        assert (await usage_of(fake, messages("q"), key="key-a"))["prompt_cache_hit_tokens"] > 0
        other_user = await usage_of(fake, messages("q"), key="key-a", user_id="u2")
        assert other_user["prompt_cache_hit_tokens"] == 0


async def test_reset_clears_the_cache(fake: FakeDeepSeek) -> None:
    await usage_of(fake, messages("q"))
    fake.reset()
    assert (await usage_of(fake, messages("q")))["prompt_cache_hit_tokens"] == 0
