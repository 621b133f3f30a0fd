"""The fake DeepSeek's error responses: auth, validation, and scripted HTTP errors."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from deepseek_lsp.fake import FakeDeepSeek, Reply
from deepseek_lsp.fake.server import REASONING_CONTENT_400

KEY = "sk-fake"


def chat(model: str = "deepseek-chat", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def assert_error_shape(body: Any) -> dict[str, Any]:
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] is None and isinstance(error["message"], str)
    return error


async def test_wrong_key_gives_the_real_401(fake: FakeDeepSeek) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-wrong-abcd") as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(**chat())
    assert caught.value.status_code == 401
    error = assert_error_shape({"error": caught.value.body})
    assert error["message"] == "Authentication Fails, Your api key: ****abcd is invalid"
    assert error["type"] == "authentication_error"
    record = fake.requests[0]
    assert not record.auth_ok and record.headers["Authorization"] == "<invalid>"
    assert "sk-wrong" not in str(record.to_json())


async def test_missing_key_gives_401(fake: FakeDeepSeek) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        response = await client.post("/chat/completions", json=chat())
        assert response.status_code == 401
        assert_error_shape(response.json())
        assert (await client.get("/models")).status_code == 401
        assert (await client.get("/user/balance")).status_code == 401
    assert fake.requests[0].headers.get("Authorization") is None


async def test_any_key_when_api_key_is_none() -> None:
    async with (
        FakeDeepSeek(api_key=None, default_delay=0) as fake,
        httpx.AsyncClient(base_url=fake.base_url) as client,
    ):
        assert (await client.post("/chat/completions", json=chat())).status_code == 200
        response = await client.post(
            "/chat/completions", json=chat(), headers={"Authorization": "Bearer whatever"}
        )
        assert response.status_code == 200


@pytest.mark.parametrize("status", [400, 401, 402, 422, 429, 500, 503])
async def test_scripted_errors_have_the_real_shape(
    fake: FakeDeepSeek, http: httpx.AsyncClient, status: int
) -> None:
    fake.enqueue(Reply(status=status))
    response = await http.post("/chat/completions", json=chat(stream=True))
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = assert_error_shape(response.json())
    assert error["message"]
    assert fake.requests[-1].status == status


async def test_retry_after_and_overrides(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    fake.enqueue(Reply(status=429, retry_after=2, error_message="slow down", error_code="x"))
    response = await http.post("/chat/completions", json=chat())
    assert response.headers["Retry-After"] == "2"
    assert response.json()["error"]["message"] == "slow down"
    assert response.json()["error"]["code"] == "x"
    fake.enqueue(Reply(status=503, retry_after=0.5))
    assert (await http.post("/chat/completions", json=chat())).headers["Retry-After"] == "0.5"


async def test_422_as_plain_text(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    message = "Failed to deserialize the JSON body into the target type: missing field `role`"
    fake.enqueue(Reply(status=422, plain_text=True, error_message=message))
    response = await http.post("/chat/completions", json=chat())
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == message


async def test_sdk_maps_scripted_errors(fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(status=402), Reply(status=429), Reply(status=503))
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError, match="Insufficient Balance"):
            await client.chat.completions.create(**chat())
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(**chat())
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(**chat(), stream=True)


async def test_malformed_json_and_missing_messages(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert_error_shape(response.json())
    response = await http.post("/chat/completions", json={"model": "deepseek-chat"})
    assert response.status_code == 400
    assert "messages" in assert_error_shape(response.json())["message"]
    response = await http.post("/chat/completions", json={"model": "deepseek-chat", "messages": []})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("extra", "status", "needle"),
    [
        ({"temperature": 2.5}, 422, "temperature"),
        ({"top_p": 1.5}, 422, "top_p"),
        ({"max_tokens": 100_000}, 422, "max_tokens"),
        ({"stop": ["x"] * 17}, 422, "stop"),
        ({"model": "gpt-4"}, 400, "Model Not Exist"),
        ({"response_format": {"type": "yaml"}}, 422, "response_format"),
    ],
)
async def test_bad_parameters(
    fake: FakeDeepSeek, http: httpx.AsyncClient, extra: dict[str, Any], status: int, needle: str
) -> None:
    fake.enqueue(Reply(content="not consumed"))
    response = await http.post("/chat/completions", json={**chat(), **extra})
    assert response.status_code == status
    assert needle in assert_error_shape(response.json())["message"]
    assert fake.queued_replies == 1  # a rejected request does not use up the script


async def test_thinking_mode_ignores_temperature(http: httpx.AsyncClient) -> None:
    response = await http.post("/chat/completions", json=chat("deepseek-reasoner", temperature=5))
    assert response.status_code == 200


async def test_reasoner_rejects_reasoning_content_in_history(http: httpx.AsyncClient) -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "reasoning_content": "thought"},
        {"role": "user", "content": "again"},
    ]
    response = await http.post("/chat/completions", json={"model": "deepseek-reasoner", "messages": messages})
    assert response.status_code == 400
    assert assert_error_shape(response.json())["message"] == REASONING_CONTENT_400
    response = await http.post("/chat/completions", json={"model": "deepseek-v4-flash", "messages": messages})
    assert response.status_code == 200  # V3.2+ ignores it


async def test_context_length_exceeded() -> None:
    body = {
        "model": "deepseek-chat",
        "messages": [{"role": "user", "content": "word " * 40}],  # 41 tokens + 3 markers
        "max_tokens": 20,
    }
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        FakeDeepSeek(context_limits={"deepseek-chat": 50}, default_delay=0) as fake,
        httpx.AsyncClient(base_url=fake.base_url, headers=headers) as client,
    ):
        response = await client.post("/chat/completions", json=body)
    assert response.status_code == 400
    message = assert_error_shape(response.json())["message"]
    assert message == (
        "This model's maximum context length is 50 tokens. However, you requested 64 tokens "
        "(44 in the messages, 20 in the completion). Please reduce the length of the messages "
        "or completion."
    )
    assert FakeDeepSeek().context_limits == {
        "deepseek-chat": 131072,
        "deepseek-reasoner": 131072,
        "deepseek-v4-flash": 1_000_000,
        "deepseek-v4-pro": 1_000_000,
        "deepseek-flash": 1_000_000,
    }


async def test_zero_balance_gives_402(fake: FakeDeepSeek, http: httpx.AsyncClient) -> None:
    fake.balance = 0
    response = await http.post("/chat/completions", json=chat())
    assert response.status_code == 402
    assert assert_error_shape(response.json())["message"] == "Insufficient Balance"
    balance = (await http.get("/user/balance")).json()
    assert balance["is_available"] is False


async def test_fim_validation(http: httpx.AsyncClient) -> None:
    response = await http.post("/beta/completions", json={"model": "deepseek-chat"})
    assert response.status_code == 400
    response = await http.post(
        "/beta/completions", json={"model": "deepseek-chat", "prompt": "x", "max_tokens": 5000}
    )
    assert response.status_code == 422
    response = await http.post("/beta/completions", json={"model": "deepseek-reasoner", "prompt": "x"})
    assert response.status_code == 400
