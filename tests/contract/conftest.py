"""Fixtures for the contract suite: our own fake DeepSeek and the real server over stdio."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from .fakeds import FakeDeepSeek
from .lsp import Client

KEY = "sk-contract-5e1f0a9c7d3b4e21"

Start = Callable[..., Awaitable[Client]]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDeepSeek]:
    async with FakeDeepSeek(api_key=KEY) as server:
        yield server


def server_env(fake: FakeDeepSeek, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK")}
    env.update(
        DEEPSEEK_API_KEY=KEY,
        DEEPSEEK_BASE_URL=fake.base_url,
        DEEPSEEK_LSP_DATA_DIR=str(data_dir),
        # the estimate instead of the tokenizer: 0.25 s of CPU less per server, which the suite's
        # hundreds of servers need to stay under 3 minutes; tests of exact counts ask for "exact"
        DEEPSEEK_LSP_TOKENIZER="estimate",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest_asyncio.fixture
async def start(fake: FakeDeepSeek, tmp_path: Path) -> AsyncIterator[Start]:
    """Start the real server; on teardown check the stdout/key invariants for every client."""
    clients: list[Client] = []
    data_dir = tmp_path / "data"
    data_dir.mkdir()

    async def go(
        init_options: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        encodings: list[str] | None = None,
        env: dict[str, str] | None = None,
        root: Path | None = None,
    ) -> Client:
        client = await Client.start(
            server_env(fake, data_dir, **(env or {})),
            init_options=init_options,
            config=config,
            encodings=encodings,
            root=str(root or tmp_path),
        )
        clients.append(client)
        return client

    yield go
    for client in clients:
        assert await client.stop() == 0, "the server did not exit cleanly after shutdown/exit"
        check_invariants(client, data_dir)
    assert fake.violations == [], fake.violations


def check_invariants(client: Client, data_dir: Path) -> None:
    assert client.violations == [], client.violations
    key = KEY.encode()
    assert key not in bytes(client.stdout), "the API key went to the client"
    assert key not in bytes(client.stderr), "the API key went to stderr"
    assert key[-12:] not in bytes(client.stdout) + bytes(client.stderr)
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert key not in path.read_bytes(), f"the API key was written to {path}"


@pytest.fixture
def py_uri(tmp_path: Path) -> str:
    return (tmp_path / "app.py").as_uri()
