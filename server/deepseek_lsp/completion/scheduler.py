"""Per-document debounce, and a newer request cancelling the older one at once.

Editors ask for inline completion on every keystroke. Only the last request of a burst is worth
an upstream call, and only one call per document may be in flight: `CompletionScheduler.run`
waits for a pause (the debounce) before fetching, and a newer request for the same document
cancels the older one's task at once, whether it is still waiting or already fetching (the
task's `CancelledError` closes its HTTP stream). The superseded call returns None.

A newer request may instead *adopt* the one in flight (`adopt(tag)` says whether its answer can
serve the new position, e.g. the user typed the start of what it will suggest): it then waits
for that answer instead of cancelling it. When the caller itself is cancelled (`$/cancelRequest`)
the fetch is cancelled too, unless another caller still waits for it.

Pure asyncio: the fetch is any coroutine function; the clock is injectable (`sleep`) so tests
drive the debounce with events instead of real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

DEBOUNCE_SECONDS = 0.075


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """A fetch's value; `tag` is the tag of the request that fetched it, `adopted` is True when
    this call took over an earlier request's fetch instead of making its own."""

    value: T
    tag: object
    adopted: bool = False


class _Flight:
    """One scheduled request: its debounce-then-fetch task and who waits for it."""

    __slots__ = ("fetching", "tag", "task", "waiters")

    def __init__(self, tag: object) -> None:
        self.tag = tag
        self.task: asyncio.Task[Any] | None = None
        self.waiters = 0
        self.fetching = False


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a finished task's exception as seen (its callers may all be gone)."""
    if not task.cancelled():
        task.exception()


class CompletionScheduler:
    """Debounced, self-cancelling requests, one flight per key (a document URI)."""

    def __init__(self, debounce: float = DEBOUNCE_SECONDS, *, sleep: Sleep = asyncio.sleep) -> None:
        self.debounce = debounce
        self._sleep = sleep
        self._flights: dict[str, _Flight] = {}

    def pending(self, key: str) -> object | None:
        """The tag of the request scheduled or in flight for `key`, if any."""
        flight = self._flights.get(key)
        return flight.tag if flight is not None else None

    def active(self, key: str) -> bool:
        """True when a request for `key` is waiting or fetching (a new one would supersede it)."""
        flight = self._flights.get(key)
        return flight is not None and flight.task is not None and not flight.task.done()

    def fetching(self, key: str) -> bool:
        """True when the request for `key` is past its debounce (its fetch has started)."""
        flight = self._flights.get(key)
        return flight is not None and flight.fetching

    async def run(
        self,
        key: str,
        fetch: Callable[[], Awaitable[T]],
        *,
        tag: object = None,
        debounce: float | None = None,
        adopt: Callable[[object], bool] | None = None,
    ) -> Outcome[T] | None:
        """Fetch after the debounce unless a newer `run` for `key` comes first: then None.
        Supersedes (cancels) the earlier request for `key` at once, or adopts its fetch when it
        is already fetching and `adopt(its tag)` is True. Exceptions of the fetch propagate."""
        delay = self.debounce if debounce is None else debounce
        current = self._flights.get(key)
        if current is not None and current.task is not None and not current.task.done():
            if adopt is not None and current.fetching and adopt(current.tag):
                return cast("Outcome[T] | None", await self._wait(key, current, adopted=True))
            current.task.cancel()
        flight = _Flight(tag)
        task = asyncio.get_running_loop().create_task(self._debounced(flight, fetch, delay))
        task.add_done_callback(_retrieve)
        flight.task = task
        self._flights[key] = flight
        return cast("Outcome[T] | None", await self._wait(key, flight, adopted=False))

    async def _debounced(self, flight: _Flight, fetch: Callable[[], Awaitable[T]], delay: float) -> T:
        if delay > 0:
            await self._sleep(delay)
        flight.fetching = True
        return await fetch()

    async def _wait(self, key: str, flight: _Flight, *, adopted: bool) -> Outcome[Any] | None:
        task = flight.task
        assert task is not None
        flight.waiters += 1
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError:
            flight.waiters -= 1
            if flight.waiters == 0:  # nobody wants the answer any more: close the request
                task.cancel()
                self._forget(key, flight)
            raise
        flight.waiters -= 1
        self._forget(key, flight)
        if task.cancelled():
            return None
        return Outcome(task.result(), flight.tag, adopted)

    def _forget(self, key: str, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]

    def cancel(self, key: str) -> bool:
        """Cancel the request for `key` (the document closed); True when there was one."""
        flight = self._flights.pop(key, None)
        if flight is None or flight.task is None or flight.task.done():
            return False
        flight.task.cancel()
        return True

    def cancel_all(self) -> None:
        """Cancel every request (shutdown)."""
        for key in list(self._flights):
            self.cancel(key)
