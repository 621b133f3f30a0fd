"""The `deepseek-lsp` command as a new user runs it: --version, check, --tcp, the logs, fake-server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path

import pytest
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
    assert code == 1 and "rejected this key" in out and "sk-wrong" not in out
    env = {"DEEPSEEK_API_KEY": TEST_KEY, "DEEPSEEK_BASE_URL": fake.base_url, "DEEPSEEK_MODEL": "gpt-9"}
    env["DEEPSEEK_PROVIDER"] = "deepseek"  # DeepSeek refuses a model it does not list
    code, out, _ = await run("check", env=env)
    flat = " ".join(out.split())
    assert code == 1 and "gpt-9 (from DEEPSEEK_MODEL) is not listed" in flat and "deepseek-chat" in flat
    assert "Set DEEPSEEK_MODEL to one of them" in flat


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


# -- logs: routine lines stay off stderr, which editors file as errors ------------------------------


def _frame(obj: dict[str, object]) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


# A request before `initialize` is refused with an INFO log line: a routine line to look for.
SESSION = b"".join(
    [
        _frame({"jsonrpc": "2.0", "id": 0, "method": "deepseek/early", "params": {}}),
        _frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
        _frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
        _frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}),
        _frame({"jsonrpc": "2.0", "method": "exit"}),
    ]
)
ROUTINE = "not initialized yet"


async def serve_session(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deepseek_lsp",
        *args,
        env={k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK_")},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(SESSION), 60)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_stderr_carries_warnings_only_by_default(tmp_path: Path) -> None:
    code, err = await serve_session()
    assert code == 0 and ROUTINE not in err and " INFO " not in err, err
    log_file = tmp_path / "server.log"
    code, err = await serve_session("--log-file", str(log_file))
    assert code == 0 and ROUTINE not in err, err
    assert ROUTINE in log_file.read_text()  # the file still gets INFO by default


async def test_log_level_asks_for_more_on_stderr() -> None:
    code, err = await serve_session("--log-level", "info")
    assert code == 0 and ROUTINE in err and " INFO " in err
    code, err = await serve_session("--log-level", "error")
    assert code == 0 and ROUTINE not in err


# -- the fake DeepSeek as a command ------------------------------------------------------------------


async def test_fake_server_help_describes_every_option() -> None:
    code, out, _ = await run("fake-server", "--help")
    assert code == 0
    host = re.search(r"--host HOST\s+(\S.*)", out)
    assert host is not None and "address to listen on" in host[1]


@pytest.mark.parametrize(
    ("args", "accepts"),
    [((), "accepts the API key sk-fake only"), (("--any-key",), "accepts any API key")],
)
async def test_fake_server_says_which_key_it_accepts(args: tuple[str, ...], accepts: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deepseek_lsp",
        "fake-server",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        url = line.rsplit(" ", 1)[-1].strip()
        assert line.startswith("fake DeepSeek listening on http://127.0.0.1:"), line
        note = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        assert accepts in note and f"DEEPSEEK_BASE_URL={url}" in note
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
