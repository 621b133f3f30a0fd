"""`DeepSeekClient.warm()`: the pool is built ahead of the first request, from any thread."""

from __future__ import annotations

import asyncio

from deepseek_lsp.client import ClientConfig, DeepSeekClient


async def test_warm_builds_the_pool_once_and_requests_use_it() -> None:
    client = DeepSeekClient(ClientConfig(base_url="http://127.0.0.1:9/", api_key="sk-x"))
    await asyncio.to_thread(client.warm)
    http = client._http
    assert http is not None and str(http.base_url) == "http://127.0.0.1:9"
    client.warm()
    assert client._client() is http
    await client.aclose()


async def test_new_settings_drop_a_warmed_pool() -> None:
    client = DeepSeekClient(ClientConfig(base_url="http://127.0.0.1:9", api_key="sk-x"))
    client.warm()
    client.reconfigure(ClientConfig(base_url="http://127.0.0.1:10", api_key="sk-x"))
    assert client._http is None
    assert str(client._client().base_url) == "http://127.0.0.1:10"
    await client.aclose()
    await asyncio.sleep(0)  # let the old pool's aclose() task run
