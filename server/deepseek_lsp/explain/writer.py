"""A file kept up to date with a streaming text, without blocking the event loop.

Deltas arrive dozens of times a second; the file is rewritten at most every `interval`
seconds, with the newest text only, one write at a time in a worker thread, each atomic (a
reader sees the old file or the new one, never half of one). `close` writes the final text at
once and returns when it is on disk, so what follows (a message naming the file) is true.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from ..rewrite.journal import atomic_write

log = logging.getLogger(__name__)

INTERVAL = 0.25  # seconds between two writes while the text streams


def write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)


class DocumentWriter:
    """Writes `path` with the newest text given to `update`; `on_written(text)` runs on the
    loop after each write that succeeded. The first failure stops the writing (logged once)."""

    def __init__(
        self,
        path: Path,
        *,
        interval: float = INTERVAL,
        on_written: Callable[[str], None] | None = None,
        write: Callable[[Path, str], None] = write_file,
    ) -> None:
        self.path = path
        self.interval = interval
        self.on_written = on_written
        self.written: str | None = None  # what the file holds now (as far as we wrote it)
        self.writes = 0
        self.error: OSError | None = None
        self._write = write
        self._pending: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    @property
    def failed(self) -> bool:
        return self.error is not None

    def update(self, text: str) -> None:
        """The file should hold `text` soon (at once when nothing was written for `interval`)."""
        if self.failed or (self._pending is None and text == self.written):
            return
        self._pending = text
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self, text: str) -> bool:
        """Write the final `text` now (no throttling) and wait for it; True when the file holds it."""
        self._closing.set()
        self.update(text)
        if self._task is not None:
            await asyncio.shield(self._task)
        return self.written == text

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending is not None and not self.failed:
            text, self._pending = self._pending, None
            started = loop.time()
            try:
                await asyncio.to_thread(self._write, self.path, text)
            except OSError as exc:
                self.error = exc
                log.warning("could not write %s: %s", self.path, exc.strerror or exc)
                return
            self.written = text
            self.writes += 1
            if self.on_written is not None:
                try:
                    self.on_written(text)
                except Exception:  # a bug in the listener must not stop the writing
                    log.exception("after writing %s", self.path)
            wait = self.interval - (loop.time() - started)
            if wait > 0 and not self._closing.is_set():
                # the next write waits (an update now is kept), unless the text is complete
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), wait)
