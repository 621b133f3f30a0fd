"""The fake DeepSeek's streaming wire format, checked raw and through the official openai SDK."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx
import openai
import pytest

from deepseek_lsp.fake import FakeDeepSeek, Reply
from deepseek_lsp.fake.script import split_tokens

KEY = "sk-fake"
CODE_QUESTION = "Explain this:\n```python\ndef add(a, b):\n    return a + b\n```"


def sdk(fake: FakeDeepSeek, path: str = "") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.base_url + path, api_key=KEY, max_retries=0)


def chat(model: str = "deepseek-chat", content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


async def collect(fake: FakeDeepSeek, **kwargs: Any) -> tuple[str, str, list[Any]]:
    """Stream through the SDK; return (content, reasoning, chunks)."""
    params = chat(**{k: v for k, v in kwargs.items() if k != "path"})
    async with sdk(fake, kwargs.get("path", "")) as client:
        stream = await client.chat.completions.create(stream=True, **params)
        chunks = [chunk async for chunk in stream]
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    return content, reasoning, chunks


def events(raw: str) -> list[Any]:
    """The data payloads of a raw SSE body ([DONE] kept as the string)."""
    out: list[Any] = []
    for block in raw.split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


async def test_raw_stream_matches_the_v3_capture(http: httpx.AsyncClient) -> None:
    response = await http.post("/chat/completions", json=chat(stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-ds-trace-id"]
    assert response.text.endswith("data: [DONE]\n\n")
    for block in response.text.strip().split("\n\n"):
        assert block.startswith("data: ")
        assert ": " not in block[6:] and ", " not in block[6:28]  # compact JSON
    payloads = events(response.text)
    first, *middle, finish, done = payloads
    assert done == "[DONE]"
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert set(first) == {"id", "object", "created", "model", "system_fingerprint", "choices"}
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0] == {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": None,
    }
    assert all("usage" not in p for p in middle)  # V3-era models have no usage key until the end
    assert finish["choices"][0]["delta"] == {"content": ""}
    assert finish["choices"][0]["finish_reason"] == "stop"
    usage = finish["usage"]
    assert usage["prompt_tokens"] == usage["prompt_cache_hit_tokens"] + usage["prompt_cache_miss_tokens"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert len({p["id"] for p in payloads[:-1]}) == 1


async def test_raw_v4_thinking_stream_matches_the_v4_capture(http: httpx.AsyncClient) -> None:
    body = chat("deepseek-v4-flash", CODE_QUESTION, stream=True)
    payloads = events((await http.post("/chat/completions", json=body)).text)[:-1]
    assert payloads[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": None,
        "reasoning_content": "",
    }
    deltas = [p["choices"][0]["delta"] for p in payloads[1:-1]]
    kinds = ["r" if d["content"] is None else "c" for d in deltas]
    assert kinds == sorted(kinds, reverse=True) and "r" in kinds and "c" in kinds  # r... then c...
    assert all(d["reasoning_content"] is None for d in deltas if d["content"] is not None)
    assert all(p["usage"] is None for p in payloads[:-1])
    finish = payloads[-1]
    assert finish["choices"][0]["delta"] == {"content": "", "reasoning_content": None}
    assert finish["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


async def test_default_responder_through_the_sdk(fake: FakeDeepSeek) -> None:
    content, reasoning, _ = await collect(fake, model="deepseek-chat", content=CODE_QUESTION)
    assert "def add(a, b):" in content
    assert reasoning == ""
    content, reasoning, _ = await collect(fake, model="deepseek-reasoner", content=CODE_QUESTION)
    assert "def add(a, b):" in content and "def add(a, b):" in reasoning
    _, reasoning, _ = await collect(
        fake,
        model="deepseek-v4-pro",
        content=CODE_QUESTION,
        extra_body={"thinking": {"type": "disabled"}},
    )
    assert reasoning == ""
    _, reasoning, _ = await collect(fake, model="deepseek-flash", content=CODE_QUESTION)
    assert reasoning


async def test_default_responder_streams_visibly() -> None:
    assert FakeDeepSeek().default_delay == 0.015  # what the demo uses
    async with FakeDeepSeek(default_delay=0.004) as fake:
        await collect(fake)
    times = fake.requests[0].chunk_times
    assert len(times) > 5
    assert times[-2] - times[1] >= 0.004 * (len(times) - 3)


async def test_scripted_content_reasoning_and_usage_through_the_sdk(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="Hello, world!", reasoning="Let me think."))
    content, reasoning, chunks = await collect(fake, model="deepseek-v4-flash")
    assert (content, reasoning) == ("Hello, world!", "Let me think.")
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == len(split_tokens("Hello, world!")) + len(split_tokens("Let me think."))
    assert usage.completion_tokens_details.reasoning_tokens == len(split_tokens("Let me think."))
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_split_tokens_round_trips() -> None:
    for text in ["", "  ", "a", "Hello, world!  \n", "我喜欢代码 ok", "x=1;\n\ty  ", "é́ ß\u200b"]:
        assert "".join(split_tokens(text)) == text
    assert split_tokens("def f(x):") == ["def", " f", "(", "x", ")", ":"]


async def test_explicit_chunks_are_sent_as_given(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    fake.enqueue(Reply(chunks=["Hel", "lo", " wor", "ld"]))
    payloads = events((await http.post("/chat/completions", json=chat(stream=True))).text)
    texts = [p["choices"][0]["delta"]["content"] for p in payloads[1:-2]]
    assert texts == ["Hel", "lo", " wor", "ld"]


async def test_usage_as_a_separate_chunk(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="a b c", usage_style="separate_chunk", repeat=2))
    content, _, chunks = await collect(fake, stream_options={"include_usage": True})
    assert content == "a b c"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-2].usage is None
    _, _, chunks = await collect(fake)  # without include_usage: no usage at all
    assert all(c.usage is None for c in chunks)


async def test_delays_space_the_chunks(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(chunks=["a", "b", "c"], delay=0.03, first_delay=0.05))
    started = time.perf_counter()
    await collect(fake)
    record = fake.requests[0]
    times = record.chunk_times
    assert times[0] - started >= 0.05
    assert len(times) == 6  # role, a, b, c, finish, [DONE]
    gaps = [b - a for a, b in itertools.pairwise(times[1:5])]  # a→b→c→finish
    assert len(gaps) == 3 and min(gaps) >= 0.025


async def test_queued_sends_headers_then_keepalive_comments(
    fake: FakeDeepSeek, http: httpx.AsyncClient
) -> None:
    fake.enqueue(Reply(content="ok", queued=0.15, keepalive_interval=0.05))
    started = time.perf_counter()
    async with http.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
        headers_at = time.perf_counter()
        raw = (await response.aread()).decode()
    assert headers_at - started < 0.1  # headers come before the queue time
    assert raw.startswith(": keep-alive\n\n" * 3 + "data: ")
    fake.enqueue(Reply(content="ok", queued=0.1, keepalive_interval=0.05))
    content, _, _ = await collect(fake)  # the SDK ignores the comments
    assert content == "ok"


async def test_cut_after_drops_the_connection(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    fake.enqueue(Reply(content="one two three", cut_after=2))
    received = []
    with pytest.raises(httpx.RemoteProtocolError):
        async with http.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
            async for line in response.aiter_lines():
                received.append(line)
    assert "data: [DONE]" not in received
    assert len([line for line in received if line.startswith("data: ")]) == 3  # role + 2
    record = await fake.wait_for_end()
    assert not record.completed and not record.disconnected
    # Observed: the SDK wraps httpx's RemoteProtocolError in APIConnectionError mid-iteration.
    fake.enqueue(Reply(content="one two three", cut_after=2))
    with pytest.raises(openai.APIConnectionError) as caught:
        await collect(fake)
    assert type(caught.value.__cause__).__name__ == "RemoteProtocolError"


async def test_cut_clean_ends_without_done(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="one two three", cut_after=2, cut_clean=True))
    # Observed: the SDK ends the iteration quietly; only the missing finish_reason shows the cut.
    content, _, chunks = await collect(fake)
    assert content == "one two"
    assert all(c.choices[0].finish_reason is None for c in chunks)


async def test_error_after_sends_an_error_event(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    fake.enqueue(Reply(content="one two three", error_after=1, error_message="boom"))
    raw = (await http.post("/chat/completions", json=chat(stream=True))).text
    payloads = events(raw)
    assert payloads[-1] == {
        "error": {
            "message": "boom",
            "type": "server_error",
            "param": None,
            "code": "internal_error",
        }
    }
    assert "[DONE]" not in raw
    fake.enqueue(Reply(content="one two three", error_after=1, error_message="boom"))
    with pytest.raises(openai.APIError, match="boom"):
        await collect(fake)


async def test_hold_after_streams_the_first_chunks_then_waits(
    fake: FakeDeepSeek, http: httpx.AsyncClient
) -> None:
    fake.enqueue(Reply(chunks=["first", " second", " third"], hold_after=1))
    async with http.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
        lines = response.aiter_lines()
        seen: list[str] = []
        while not any('"first"' in line for line in seen):
            seen.append(await anext(lines))
        await fake.wait_for_held(1, timeout=1)
        assert fake.held == 1 and not any("second" in line for line in seen)
        assert fake.release() == 1
        rest = [line async for line in lines]
    assert any("third" in line for line in rest) and rest[-2] == "data: [DONE]"


async def test_release_before_the_hold_is_remembered(fake: FakeDeepSeek) -> None:
    fake.release()
    fake.enqueue(Reply(content="a b", hold_after=1))
    assert (await collect(fake))[0] == "a b"


async def test_insufficient_system_resource(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="partial", insufficient_system_resource=True))
    _, _, chunks = await collect(fake)
    assert chunks[-1].choices[0].finish_reason == "insufficient_system_resource"


async def test_finish_reason_and_repeat(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="x", finish_reason="content_filter", repeat=2), Reply(content="y"))
    results = [await collect(fake) for _ in range(3)]
    assert [r[0] for r in results] == ["x", "x", "y"]
    assert results[1][2][-1].choices[0].finish_reason == "content_filter"
    assert fake.queued_replies == 0


async def test_max_tokens_truncates_with_length(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="one two three four five"))
    content, _, chunks = await collect(fake, max_tokens=3)
    assert content == "one two three"
    assert chunks[-1].choices[0].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == 3


async def test_stop_strings_stop_before_them(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="x = 1\n```\nmore"))
    content, _, chunks = await collect(fake, stop=["```", "never"])
    assert content == "x = 1\n"
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_prefix_completion_on_beta(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    messages: list[Any] = [
        {"role": "user", "content": CODE_QUESTION},
        {"role": "assistant", "content": "```python\n", "prefix": True},
    ]
    async with sdk(fake, "/beta") as client:
        result = await client.chat.completions.create(model="deepseek-chat", messages=messages, stop=["```"])
    assert result.choices[0].message.content == "def add(a, b):\n    return a + b\n"
    response = await http.post("/chat/completions", json={"model": "deepseek-chat", "messages": messages})
    assert response.status_code == 400  # prefix completion needs /beta
    fake.enqueue(Reply(content="x = 2\n```"))
    response = await http.post(
        "/beta/chat/completions",
        json={"model": "deepseek-chat", "messages": messages, "stop": "```"},
    )
    assert response.json()["choices"][0]["message"]["content"] == "x = 2\n"


async def test_v1_path_is_accepted(fake: FakeDeepSeek) -> None:
    assert (await collect(fake, path="/v1"))[0]


async def test_non_streaming_body(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    fake.enqueue(Reply(content="The answer.", reasoning="Hmm."))
    async with sdk(fake) as client:
        result = await client.chat.completions.create(**chat("deepseek-v4-flash"))
    assert result.object == "chat.completion"
    message = result.choices[0].message
    assert message.content == "The answer."
    assert getattr(message, "reasoning_content", None) == "Hmm."
    assert result.usage is not None and result.usage.completion_tokens == 5  # The answer . Hmm .
    assert result.choices[0].finish_reason == "stop"
    fake.enqueue(Reply(content="late", queued=0.1, keepalive_interval=0.05))
    response = await http.post("/chat/completions", json=chat())
    assert response.text.startswith("\n\n{")  # blank lines while queued
    assert response.json()["choices"][0]["message"] == {"role": "assistant", "content": "late"}


async def test_non_streaming_cut_and_error(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    fake.enqueue(Reply(content="x", cut_after=0))
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post("/chat/completions", json=chat())
    fake.enqueue(Reply(content="x", error_after=0))
    response = await http.post("/chat/completions", json=chat())
    assert response.status_code == 500 and "error" in response.json()


async def test_fim_completion(fake: FakeDeepSeek) -> None:
    async with sdk(fake, "/beta") as client:
        fake.enqueue(Reply(content="    return a + b\n"))
        result = await client.completions.create(
            model="deepseek-chat", prompt="def add(a, b):\n", suffix="\nprint(add(1, 2))"
        )
        assert result.object == "text_completion"
        assert result.choices[0].text == "    return a + b\n"
        assert result.usage is not None and result.usage.prompt_tokens > 0
        fake.enqueue(Reply(content="    return a + b\n"))
        stream = await client.completions.create(
            model="deepseek-chat", prompt="def add(a, b):\n", suffix="", stream=True
        )
        chunks = [c async for c in stream]
        assert "".join(c.choices[0].text for c in chunks) == "    return a + b\n"
        assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage is not None
        default = await client.completions.create(model="deepseek-chat", prompt="x = ")
        assert default.choices[0].text
