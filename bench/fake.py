"""The fake DeepSeek as its own process on 127.0.0.1, scripted over its `/_fake/*` control API.

A process of its own, so that neither the benchmark client nor the server shares an event
loop with it: its chunk stamps are taken when the bytes leave it, not when a busy loop gets
round to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import httpx

KEY = "sk-bench-0123456789abcdef0123456789abcdef"


class FakeProcess:
    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.base_url = ""
        self.http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> FakeProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "deepseek_lsp.fake",
            "--port",
            "0",
            "--api-key",
            KEY,
            "--delay",
            "0",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 20)).decode()
        if "listening on" not in line:
            raise RuntimeError(f"fake DeepSeek did not start: {line!r}")
        self.base_url = line.rsplit(" ", 1)[-1].strip()
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=60)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.aclose()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def enqueue(self, *replies: dict[str, Any]) -> None:
        assert self.http is not None
        r = await self.http.post("/_fake/enqueue", json=list(replies))
        r.raise_for_status()

    async def reset(self) -> None:
        assert self.http is not None
        (await self.http.post("/_fake/reset")).raise_for_status()

    async def requests(self) -> list[dict[str, Any]]:
        """Completion requests only (not /models), oldest first."""
        assert self.http is not None
        r = await self.http.get("/_fake/requests")
        r.raise_for_status()
        return [x for x in r.json() if x["path"].endswith("/completions")]

    async def release(self) -> None:
        assert self.http is not None
        with contextlib.suppress(httpx.HTTPError):
            await self.http.post("/_fake/release")
