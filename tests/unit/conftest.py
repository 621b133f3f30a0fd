"""Fixtures shared by the fake DeepSeek's tests: the fake on loopback and a raw HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from deepseek_lsp.fake import FakeDeepSeek

FAKE_KEY = "sk-fake"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDeepSeek]:
    async with FakeDeepSeek(default_delay=0) as server:
        yield server


@pytest.fixture
async def http(fake: FakeDeepSeek) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {FAKE_KEY}"}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers, timeout=5) as client:
        yield client
