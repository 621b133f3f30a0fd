"""Shared end-to-end fixtures: an in-process fake DeepSeek and the real server talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from pytest_lsp import LanguageClient

from deepseek_lsp.fake import FakeDeepSeek

from .harness import TEST_KEY, Recorder, server_config, start_client


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDeepSeek]:
    async with FakeDeepSeek(api_key=TEST_KEY) as server:
        yield server


@pytest_asyncio.fixture
async def lsp(fake: FakeDeepSeek) -> AsyncIterator[tuple[LanguageClient, Recorder]]:
    """A client (VS Code capabilities, UTF-16) connected to a fresh server process."""
    client, rec = await start_client(server_config(fake.base_url))
    yield client, rec
    await client.shutdown_session()
