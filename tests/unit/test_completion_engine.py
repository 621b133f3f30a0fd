"""The completion engine: one request from the document to the suggestion, with a scripted
fetch (no server, no HTTP) and no timing: debounces are 0 or gated by events."""

from __future__ import annotations

import asyncio

import pytest

from deepseek_lsp.completion.engine import (
    CompletionEngine,
    Fetch,
    Options,
    Request,
    Rhythm,
    _enough,
    language_allowed,
)
from deepseek_lsp.completion.quality import analyze

TEXT = "def area(r):\n    return \n\n\ndef twice(x):\n    return 2 * x\n"
AT = TEXT.index("return ") + len("return ")
NOW = Options(debounce=0)


def at(text: str = TEXT, offset: int = AT, explicit: bool = False) -> Request:
    return Request(
        uri="file:///a.py", path="a.py", language="python", text=text, offset=offset, explicit=explicit
    )


def typed(chars: str) -> Request:
    return at(TEXT[:AT] + chars + TEXT[AT:], AT + len(chars))


class Upstream:
    """A fetch that records its calls; each answers its scripted text, or waits for `release`
    after streaming `partial` (what DeepSeek sent so far)."""

    def __init__(self, *answers: str, partial: str | None = None) -> None:
        self.answers = list(answers)
        self.partial = partial
        self.calls: list[Fetch] = []
        self.cancelled = 0
        self.release = asyncio.Event()
        self.running = asyncio.Event()

    async def __call__(self, call: Fetch) -> str | None:
        self.calls.append(call)
        answer = self.answers.pop(0)
        if self.partial is not None:
            call.on_text(self.partial)
            self.running.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return answer


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_suggestion_then_the_cache_for_a_repeat_and_for_typing_through() -> None:
    up = Upstream("math.pi * r ** 2")
    engine = CompletionEngine(up)
    first = await engine.complete(at(explicit=True), NOW)
    assert first is not None and first.text == "math.pi * r ** 2" and not first.cached
    [call] = up.calls
    assert call.stop == ["\n"] and call.max_tokens == 256 and call.fim.prompt.endswith("    return ")
    again = await engine.complete(at(), NOW)
    assert again is not None and again.text == "math.pi * r ** 2" and again.cached
    through = await engine.complete(typed("math.p"), NOW)
    assert through is not None and through.text == "i * r ** 2" and through.cached
    assert len(up.calls) == 1 and engine.stats.cache_answers == 2


async def test_no_suggestion_is_remembered_too_and_never_an_empty_one() -> None:
    up = Upstream("   ")
    engine = CompletionEngine(up)
    assert await engine.complete(at(), NOW) is None
    assert await engine.complete(at(), NOW) is None
    assert len(up.calls) == 1


async def test_a_newer_request_cancels_the_older_fetch() -> None:
    up = Upstream("never", "r * r", partial="")
    engine = CompletionEngine(up)
    older = asyncio.create_task(engine.complete(at(), NOW))
    await up.running.wait()
    up.partial = None
    newer = await engine.complete(typed("x"), NOW)
    assert await older is None and up.cancelled == 1
    assert newer is not None and newer.text == "r * r"
    assert engine.stats.superseded == 1


async def test_a_newer_request_adopts_a_fetch_whose_streamed_text_it_typed() -> None:
    up = Upstream("math.pi * r ** 2", partial="math.")
    engine = CompletionEngine(up)
    older = asyncio.create_task(engine.complete(at(), NOW))
    await up.running.wait()
    newer = asyncio.create_task(engine.complete(typed("ma"), NOW))
    await settle()
    assert up.cancelled == 0 and len(up.calls) == 1  # it waits for the coming suggestion
    up.release.set()
    assert await older is None  # superseded: only the newest request shows it
    shown = await newer
    assert shown is not None and shown.text == "th.pi * r ** 2"


async def test_a_request_inside_a_comment_asks_only_when_invoked() -> None:
    text = "x = 1  # the \n"
    up = Upstream("answer")
    engine = CompletionEngine(up)
    assert await engine.complete(at(text, text.index("the ") + 4), NOW) is None
    assert up.calls == []
    shown = await engine.complete(at(text, text.index("the ") + 4, explicit=True), NOW)
    assert shown is not None and shown.text == "answer"


async def test_a_secret_file_is_never_asked_about() -> None:
    up = Upstream("x")
    engine = CompletionEngine(up)
    req = Request(
        uri="file:///p/.env", path=".env", language="dotenv", text="KEY=\n", offset=4, explicit=True
    )
    assert await engine.complete(req, NOW) is None and up.calls == []


async def test_errors_propagate_and_nothing_is_remembered() -> None:
    calls = 0

    async def failing(call: Fetch) -> str | None:
        nonlocal calls
        calls += 1
        raise RuntimeError("down")

    engine = CompletionEngine(failing)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await engine.complete(at(), NOW)
    assert calls == 2


async def test_the_wait_follows_the_typing_rhythm() -> None:
    clock = [0.0]
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    engine = CompletionEngine(Upstream(*["a"] * 5), sleep=sleep, clock=lambda: clock[0])
    for i in range(3):
        clock[0] = i * 0.1
        await engine.complete(typed("m" * (i + 1)), Options(debounce=0.075))
    # no rhythm known yet: the debounce; then 1.5 x the 100 ms gaps (each 1 ms early: asyncio's
    # timers fire up to a millisecond late)
    assert slept == [pytest.approx(0.074), pytest.approx(0.149), pytest.approx(0.149)]


def test_rhythm() -> None:
    rhythm = Rhythm()
    assert rhythm.wait(0.075) == 0.075
    for t in (0.0, 0.1, 0.2, 0.3):
        rhythm.observe("a", t)
    assert rhythm.wait(0.075) == pytest.approx(0.15)
    assert rhythm.wait(0) == 0  # no debounce stays none
    rhythm.observe("a", 5.0)  # a pause is not a gap between keystrokes
    assert rhythm.wait(0.075) == pytest.approx(0.15)
    slow = Rhythm()
    for t in (0.0, 0.4, 0.8):
        slow.observe("a", t)
    assert slow.wait(0.075) == pytest.approx(0.225)  # at most 3 x the debounce


def test_a_stream_ends_once_the_answer_left_the_block() -> None:
    text = "def f(xs):\n    for x in xs:\n        \n    return 1\n"
    ctx = analyze(text, text.index("        ") + 8, "python")
    assert ctx.mode == "block"
    assert not _enough("print(x)\n        y = x", ctx)
    assert _enough("print(x)\n        y = x\n    return 1\n", ctx)  # a line back at the function's level
    line = analyze(TEXT, AT, "python")
    assert not _enough("math.pi", line) and _enough("math.pi\n", line)


def test_languages_filter() -> None:
    assert language_allowed("python", "/a.py", ())
    assert language_allowed("python", "/a.py", ("python", "go"))
    assert not language_allowed("markdown", "/a.md", ("python",))
    assert language_allowed("javascriptreact", "/a.jsx", ("javascriptreact",))
