"""The fake DeepSeek for tests that drive a real editor from a blocking test thread (Neovim,
Emacs): the fake runs on its own event loop in a daemon thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from deepseek_lsp.fake import FakeDeepSeek, Reply


class ThreadedFake:
    """FakeDeepSeek on its own event loop in a daemon thread."""

    def __init__(self, key: str, default_delay: float = 0.002) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake = FakeDeepSeek(api_key=key, default_delay=default_delay)
        self.call(self.fake.start())

    def call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def run() -> Any:
            return fn(*args)

        return self.call(run())

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    def enqueue(self, *replies: Reply | dict[str, Any]) -> None:
        self._sync(self.fake.enqueue, *replies)

    def release(self) -> int:
        return int(self._sync(self.fake.release))

    def reset(self) -> None:
        self._sync(self.fake.reset)

    def requests(self) -> list[Any]:
        return list(self._sync(lambda: list(self.fake.requests)))

    def completions(self) -> list[Any]:
        """The requests for model output (chat or FIM), without GET /models and the like."""
        return [r for r in self.requests() if r.path.endswith("completions")]

    def stop(self) -> None:
        self.call(self.fake.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
