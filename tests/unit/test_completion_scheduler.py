"""The completion scheduler: debounce per document, a newer request cancels the older one."""

from __future__ import annotations

import asyncio

import pytest

from deepseek_lsp.completion.scheduler import CompletionScheduler, Outcome


class Gate:
    """An injectable debounce clock: every sleep waits until the test opens the gate."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.sleeping = 0

    async def sleep(self, _delay: float) -> None:
        self.sleeping += 1
        await self.open.wait()


class Upstream:
    """A fetch that records its calls and holds each one until released."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.release = asyncio.Event()
        self.running = asyncio.Event()

    def fetch(self, name: str) -> object:
        async def run() -> str:
            self.started.append(name)
            self.running.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.append(name)
                raise
            return f"answer {name}"

        return run


async def settle() -> None:
    """Let every ready task run (a few loop iterations, no timing)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_burst_makes_one_request_after_the_pause() -> None:
    gate = Gate()
    up = Upstream()
    scheduler = CompletionScheduler(0.05, sleep=gate.sleep)
    calls = [asyncio.create_task(scheduler.run("a.py", up.fetch(f"k{i}"), tag=i)) for i in range(5)]
    await settle()
    assert up.started == []  # all of them still wait for the pause
    gate.open.set()
    up.release.set()
    results = await asyncio.gather(*calls)
    assert up.started == ["k4"]
    assert results[:4] == [None, None, None, None]
    assert results[4] == Outcome("answer k4", 4, adopted=False)


async def test_a_newer_request_cancels_the_one_in_flight_at_once() -> None:
    gate = Gate()
    up = Upstream()
    scheduler = CompletionScheduler(1.0, sleep=gate.sleep)
    first = asyncio.create_task(scheduler.run("a.py", up.fetch("old"), tag="old", debounce=0))
    await up.running.wait()
    assert scheduler.fetching("a.py")
    second = asyncio.create_task(scheduler.run("a.py", up.fetch("new"), tag="new"))
    await settle()
    # the old request is closed while the new one still waits for its pause
    assert gate.sleeping == 1 and not gate.open.is_set()
    assert up.cancelled == ["old"]
    assert await first is None
    assert up.started == ["old"]
    gate.open.set()
    up.release.set()
    assert await second == Outcome("answer new", "new")
    assert scheduler.pending("a.py") is None


async def test_documents_do_not_cancel_each_other() -> None:
    up = Upstream()
    scheduler = CompletionScheduler(0)
    a = asyncio.create_task(scheduler.run("a.py", up.fetch("a")))
    b = asyncio.create_task(scheduler.run("b.py", up.fetch("b")))
    await settle()
    up.release.set()
    assert (await a, await b) == (Outcome("answer a", None), Outcome("answer b", None))
    assert up.cancelled == []


async def test_a_cancelled_caller_closes_its_request() -> None:
    up = Upstream()
    scheduler = CompletionScheduler(0)
    call = asyncio.create_task(scheduler.run("a.py", up.fetch("x")))
    await up.running.wait()
    call.cancel()  # the client's $/cancelRequest
    with pytest.raises(asyncio.CancelledError):
        await call
    await settle()
    assert up.cancelled == ["x"]
    assert scheduler.pending("a.py") is None


async def test_a_request_can_adopt_the_one_in_flight() -> None:
    up = Upstream()
    scheduler = CompletionScheduler(0)
    first = asyncio.create_task(scheduler.run("a.py", up.fetch("p"), tag=("pos", 10)))
    await up.running.wait()
    seen: list[object] = []

    def adopt(tag: object) -> bool:
        seen.append(tag)
        return True

    second = asyncio.create_task(scheduler.run("a.py", up.fetch("q"), tag=("pos", 12), adopt=adopt))
    await settle()
    assert seen == [("pos", 10)]
    assert up.cancelled == []
    up.release.set()
    assert await first == Outcome("answer p", ("pos", 10))
    assert await second == Outcome("answer p", ("pos", 10), adopted=True)
    assert up.started == ["p"]  # no second upstream request


async def test_an_adopted_fetch_survives_one_of_its_callers_cancelling() -> None:
    up = Upstream()
    scheduler = CompletionScheduler(0)
    first = asyncio.create_task(scheduler.run("a.py", up.fetch("p")))
    await up.running.wait()
    second = asyncio.create_task(scheduler.run("a.py", up.fetch("q"), adopt=lambda _tag: True))
    await settle()
    first.cancel()
    await settle()
    assert up.cancelled == []
    up.release.set()
    assert await second == Outcome("answer p", None, adopted=True)


async def test_no_adoption_while_the_older_request_is_still_debouncing() -> None:
    gate = Gate()
    up = Upstream()
    scheduler = CompletionScheduler(0.05, sleep=gate.sleep)
    first = asyncio.create_task(scheduler.run("a.py", up.fetch("p")))
    await settle()
    second = asyncio.create_task(scheduler.run("a.py", up.fetch("q"), adopt=lambda _tag: True))
    await settle()
    gate.open.set()
    up.release.set()
    assert await first is None
    assert await second == Outcome("answer q", None)
    assert up.started == ["q"]


async def test_fetch_errors_reach_the_caller() -> None:
    scheduler = CompletionScheduler(0)

    async def boom() -> str:
        raise RuntimeError("upstream failed")

    with pytest.raises(RuntimeError, match="upstream failed"):
        await scheduler.run("a.py", boom)
    assert scheduler.pending("a.py") is None


async def test_cancel_on_close() -> None:
    up = Upstream()
    scheduler = CompletionScheduler(0)
    call = asyncio.create_task(scheduler.run("a.py", up.fetch("x")))
    await up.running.wait()
    assert scheduler.cancel("a.py") is True
    assert await call is None
    assert up.cancelled == ["x"]
    assert scheduler.cancel("a.py") is False
