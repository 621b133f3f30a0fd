"""Provider profiles (issue 12): DeepSeek's API or a generic OpenAI-compatible server.

The pure parts (which profile, what a request carries, how errors and costs read) directly;
the client against the fake in its generic mode (llama-cpp-python's behaviour) over loopback.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from deepseek_lsp import provider
from deepseek_lsp.client import ClientConfig, DeepSeekClient, EstimatedUsage, StreamResult
from deepseek_lsp.errors import DeepSeekError, from_status
from deepseek_lsp.fake import FakeDeepSeek, Reply
from deepseek_lsp.payload import chat_body
from deepseek_lsp.pricing import UsageTotals
from deepseek_lsp.settings import Settings
from deepseek_lsp.tokens import estimate_usage

LOCAL = "http://127.0.0.1:8080/v1"
MESSAGES = [{"role": "user", "content": "hi"}]


# -- which profile ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "url", "model", "expected"),
    [
        ("auto", "https://api.deepseek.com", None, "deepseek"),
        ("auto", "https://api.deepseek.com/beta", "anything", "deepseek"),
        ("auto", LOCAL, None, "openai"),
        ("auto", LOCAL, "deepseek-chat", "deepseek"),  # the fake DeepSeek, a proxy of DeepSeek's API
        ("auto", LOCAL, "deepseek-v4-flash-2026-12", "deepseek"),  # a later, dated V4 id
        ("auto", LOCAL, "deepseek-r1:7b", "openai"),  # Ollama's tag: a DeepSeek model elsewhere
        ("auto", LOCAL, "deepseek-ai/DeepSeek-V3", "openai"),  # vLLM's path
        ("auto", LOCAL, "deepseek-coder", "openai"),
        ("auto", "https://deepseek.com.evil.example", None, "openai"),
        ("openai", "https://api.deepseek.com", "deepseek-chat", "openai"),
        ("deepseek", LOCAL, "local-model", "deepseek"),
    ],
)
def test_the_profile_follows_the_setting_the_host_and_the_model(
    setting: provider.ProviderSetting, url: str, model: str | None, expected: str
) -> None:
    assert provider.resolve(setting, url, model).name == expected


def test_a_generic_profile_names_the_server_and_asks_for_nothing_of_deepseeks() -> None:
    generic = provider.resolve("auto", LOCAL, "local-model")
    assert generic.server == "the server at 127.0.0.1:8080"
    assert not (
        generic.needs_key or generic.has_balance or generic.prefix_by_default or generic.thinking_switch
    )
    deepseek = provider.resolve("auto", "https://api.deepseek.com", None)
    assert deepseek.server == "DeepSeek" and deepseek.needs_key and deepseek.has_balance


def test_the_v1_hint_names_the_url_to_set() -> None:
    assert "set deepseek.baseUrl to http://127.0.0.1:8000/v1." in provider.v1_hint("http://127.0.0.1:8000")
    assert "/v1/v1" not in provider.v1_hint(LOCAL)


# -- what a request carries ---------------------------------------------------------------------


def test_a_generic_server_gets_the_standard_fields_only() -> None:
    s = Settings(base_url=LOCAL, temperature=0.3, reasoning_effort="high")
    body = chat_body(s, "local-model", MESSAGES, max_tokens=100)
    assert body == {"model": "local-model", "messages": MESSAGES, "temperature": 0.3, "max_tokens": 100}
    asked = chat_body(s, "local-model", MESSAGES, thinking=True)  # the user asked: sent as asked
    assert asked["thinking"] == {"type": "enabled"} and asked["reasoning_effort"] == "high"
    deepseek = chat_body(Settings(), "deepseek-v4-flash", MESSAGES)
    assert deepseek["thinking"] == {"type": "disabled"}
    forced = chat_body(Settings(provider="openai"), "deepseek-chat", MESSAGES, thinking=True)
    assert forced["model"] == "deepseek-chat" and "thinking" not in forced  # no reasoner switch


# -- messages that name the server --------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 402, 429, 400, 500, 404])
def test_errors_from_a_generic_server_name_it_not_deepseek(status: int) -> None:
    err = from_status(status, "nope", server="the server at 127.0.0.1:8080")
    assert "DeepSeek" not in err.message, err.message
    assert "127.0.0.1:8080" in err.message or status in (422,), err.message
    assert "DeepSeek rejected the API key" in from_status(401, "").message  # DeepSeek's unchanged


# -- usage: estimated, and costs nobody knows ---------------------------------------------------


def test_an_estimate_counts_every_message_and_the_answer() -> None:
    counts = estimate_usage(
        [{"role": "system", "content": "You help."}, {"role": "user", "content": [{"text": "Say hi"}]}],
        "Hi there!",
        "thinking",
    )
    assert counts.prompt >= 2 * 4 + 3 and counts.completion >= counts.reasoning > 0


def test_totals_count_estimates_and_leave_unknown_costs_null() -> None:
    totals = UsageTotals()
    totals.add({"prompt_tokens": 10, "completion_tokens": 2}, estimated=True)
    report = totals.to_dict()
    assert report["requests"] == 1 and report["estimatedRequests"] == 1
    assert report["cost"] is None and report["byRate"] == {"unpriced": {"requests": 1, "cost": None}}
    assert UsageTotals().to_dict()["cost"] == 0  # nothing sent: nothing spent


# -- the client against the fake's generic mode -------------------------------------------------


@pytest_asyncio.fixture
async def local() -> AsyncIterator[FakeDeepSeek]:
    async with FakeDeepSeek(api_key=None, profile="openai", default_delay=0) as server:
        yield server


def generic_client(url: str, key: str | None = None) -> DeepSeekClient:
    return DeepSeekClient(ClientConfig(base_url=url, api_key=key, max_retries=0, provider="openai"))


async def stream(client: DeepSeekClient, body: dict[str, Any]) -> tuple[str, StreamResult]:
    result = StreamResult()
    parts: list[str] = []
    try:
        async for delta in client.stream_chat(body, result):
            parts.append(delta.content or "")
    finally:
        await client.aclose()
    return "".join(parts), result


BODY = {"model": "local-model", "messages": [{"role": "user", "content": "Explain recursion briefly."}]}


async def test_no_key_no_authorization_header(local: FakeDeepSeek) -> None:
    text, result = await stream(generic_client(f"{local.base_url}/v1"), BODY)
    assert text and result.done
    assert local.requests[0].headers.get("Authorization") is None
    assert local.requests[0].body["stream_options"] == {"include_usage": True}
    assert result.usage is not None and not result.estimated  # it asked, so the fake reported


async def test_a_server_that_reports_no_usage_gets_an_estimate(local: FakeDeepSeek) -> None:
    local.usage_mode = "never"
    local.enqueue(Reply(content="Recursion is a function calling itself."))
    text, result = await stream(generic_client(f"{local.base_url}/v1"), BODY)
    assert text == "Recursion is a function calling itself."
    assert isinstance(result.usage, EstimatedUsage) and result.estimated
    assert result.usage.prompt_tokens > 4 and result.usage.completion_tokens > 4


async def test_a_base_url_without_v1_gets_the_hint(local: FakeDeepSeek) -> None:
    with pytest.raises(DeepSeekError) as info:
        await stream(generic_client(local.base_url), BODY)
    message = info.value.message
    assert info.value.code == "bad_request" and "404" in message
    assert f"set deepseek.baseUrl to {local.base_url}/v1" in message, message
    assert "DeepSeek" not in message
    assert not local.info_requests, "a 404 about no model must not ask GET /models"


@pytest.mark.parametrize("overflow", ["empty", "error"])
async def test_a_prompt_over_the_context(local: FakeDeepSeek, overflow: str) -> None:
    local.overflow = overflow
    local.context_limits = {"local-model": 64}
    big = {"model": "local-model", "messages": [{"role": "user", "content": "word " * 200}]}
    with pytest.raises(DeepSeekError) as info:
        await stream(generic_client(f"{local.base_url}/v1"), big)
    message = info.value.message
    if overflow == "empty":
        assert info.value.code == "server_error"
        assert "answered 200 with an empty body" in message and "context window" in message
        assert "tokens sent; set deepseek.contextWindow" in message and "retry" not in message.lower()
    else:
        assert info.value.code == "bad_request" and "maximum context length is 64 tokens" in message


async def test_a_stream_of_only_keepalives_is_an_empty_answer(local: FakeDeepSeek) -> None:
    local.enqueue(Reply(body=": ping\n\n", body_content_type="text/event-stream"))
    with pytest.raises(DeepSeekError, match="empty body"):
        await stream(generic_client(f"{local.base_url}/v1"), BODY)


async def test_a_key_is_sent_when_set_and_a_401_names_the_server(local: FakeDeepSeek) -> None:
    local.api_key = "sk-local-0123456789"
    with pytest.raises(DeepSeekError) as info:
        await stream(generic_client(f"{local.base_url}/v1"), BODY)
    assert info.value.code == "unauthorized"
    assert f"the server at 127.0.0.1:{local.port}" in info.value.message.lower()
    assert "DeepSeek" not in info.value.message
    text, _ = await stream(generic_client(f"{local.base_url}/v1", "sk-local-0123456789"), BODY)
    assert text and local.requests[-1].headers["Authorization"] == "<valid>"


async def test_deepseeks_profile_without_a_key_says_how_to_switch() -> None:
    client = DeepSeekClient(ClientConfig(base_url=LOCAL, api_key=None))
    with pytest.raises(DeepSeekError) as info:
        await stream(client, BODY)
    assert info.value.code == "unauthorized" and 'set `deepseek.provider` to "openai"' in info.value.message


async def test_a_server_refusing_stream_options_is_asked_again_without(local: FakeDeepSeek) -> None:
    local.enqueue(
        Reply(status=422, error_message="stream_options: extra fields not permitted"), Reply(content="ok")
    )
    text, result = await stream(generic_client(f"{local.base_url}/v1"), BODY)
    assert text == "ok" and result.estimated
    assert "stream_options" in local.requests[0].body and "stream_options" not in local.requests[1].body


# -- the fake's generic mode, by raw HTTP --------------------------------------------------------


async def test_the_generic_fake_serves_only_v1_and_no_deepseek_extras(local: FakeDeepSeek) -> None:
    async with httpx.AsyncClient(base_url=local.base_url, timeout=5) as http:
        assert (await http.get("/models")).status_code == 404
        assert (await http.get("/v1/user/balance")).status_code == 404
        assert (await http.post("/v1/beta/chat/completions", json=BODY)).json() == {"detail": "Not Found"}
        listed = (await http.get("/v1/models")).json()["data"]
        assert [(m["id"], m["owned_by"]) for m in listed] == [("local-model", "me")]
        whole = (await http.post("/v1/chat/completions", json={**BODY, "model": "any-name"})).json()
        assert whole["model"] == "local-model" and "usage" in whole  # any name: its one model
        sse = (await http.post("/v1/chat/completions", json={**BODY, "stream": True})).text
        assert "usage" not in sse and "[DONE]" in sse  # not asked: no usage
        asked = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
        events = [
            json.loads(line[6:])
            for line in (await http.post("/v1/chat/completions", json=asked)).text.splitlines()
            if line.startswith("data: {")
        ]
        assert events[-1]["choices"] == [] and events[-1]["usage"]["prompt_tokens"] > 0
        assert all("usage" not in e for e in events[:-1])


async def test_the_fake_switches_mode_over_the_control_api() -> None:
    async with FakeDeepSeek(default_delay=0) as fake:
        http = httpx.AsyncClient(base_url=fake.base_url, timeout=5)
        async with http:
            bad = await http.post("/_fake/config", json={"usage": "sometimes"})
            assert bad.status_code == 400 and "usage" in bad.json()["error"]
            config = (
                await http.post(
                    "/_fake/config",
                    json={"profile": "openai", "api_key": None, "usage": "never", "context_limit": 2048},
                )
            ).json()
            assert config["profile"] == "openai" and config["models"] == ["local-model"]
            assert config["context_limits"] == {"local-model": 2048} and config["usage"] == "never"
            asked = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
            sse = (await http.post("/v1/chat/completions", json=asked)).text
            assert "usage" not in sse and "[DONE]" in sse  # llama-cpp-python: never
            back = (await http.post("/_fake/config", json={"profile": "deepseek"})).json()
            assert "deepseek-chat" in back["models"]
