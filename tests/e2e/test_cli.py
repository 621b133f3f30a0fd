"""The `deepseek-lsp` command as a new user runs it: --version, check, demo, --tcp."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from deepseek_lsp import __version__
from deepseek_lsp.fake import FakeDeepSeek

from .harness import TEST_KEY


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deepseek_lsp",
        *args,
        env={**base, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_version() -> None:
    code, out, _ = await run("--version")
    assert code == 0 and out.strip() == f"deepseek-lsp {__version__}"


async def test_check_all_good(fake: FakeDeepSeek) -> None:
    env = {"DEEPSEEK_API_KEY": TEST_KEY, "DEEPSEEK_BASE_URL": fake.base_url}
    code, out, _ = await run("check", env=env)
    assert code == 0, out
    assert "API key" in out and "Base URL" in out and "Model" in out and "Balance" in out
    assert "FAIL" not in out and TEST_KEY not in out
    code, out, _ = await run("check", "--json", env=env)
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    assert {c["name"] for c in report["checks"]} == {"API key", "Base URL", "Model", "Balance"}


async def test_check_says_what_to_do(fake: FakeDeepSeek) -> None:
    code, out, _ = await run("check", env={"DEEPSEEK_BASE_URL": fake.base_url})
    assert code == 1 and "DEEPSEEK_API_KEY" in out
    env = {"DEEPSEEK_API_KEY": "sk-wrong", "DEEPSEEK_BASE_URL": fake.base_url}
    code, out, _ = await run("check", env=env)
    assert code == 1 and "rejected by the server" in out and "sk-wrong" not in out
    env = {"DEEPSEEK_API_KEY": TEST_KEY, "DEEPSEEK_BASE_URL": fake.base_url, "DEEPSEEK_MODEL": "gpt-9"}
    code, out, _ = await run("check", env=env)
    assert code == 1 and "gpt-9 is not listed" in out and "deepseek-chat" in out
    code, out, _ = await run(
        "check", env={"DEEPSEEK_API_KEY": TEST_KEY, "DEEPSEEK_BASE_URL": "http://127.0.0.1:9"}
    )
    assert code == 1 and "Could not reach" in out


async def test_demo_streams_an_explanation_without_key_or_network() -> None:
    code, out, err = await run("demo")
    assert code == 0, err
    assert "shortest distance" in out and "Dijkstra" in out
    assert "first words after" in err and "Hover shows it afterwards: yes" in err


async def test_tcp_mode() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deepseek_lsp",
        "--tcp",
        "--port",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        while b"serving LSP on tcp://" not in (line := await asyncio.wait_for(proc.stderr.readline(), 10)):
            assert line, "server exited"
        client = LanguageClient("t", "1")
        for _ in range(100):  # the log line comes just before the socket is bound
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except ConnectionRefusedError:
                await asyncio.sleep(0.02)
        result = await asyncio.wait_for(
            client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities())), 10
        )
        assert result.server_info is not None and result.server_info.name == "deepseek-lsp"
    finally:
        proc.kill()
        await proc.wait()
