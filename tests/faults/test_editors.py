"""Editors that are slow, refuse, or never answer while a rewrite writes into the document.

Whatever the editor does, a rewrite that reports `cancelled` (or `rejected: true`) has put the
original back byte for byte, checked; when it cannot, it says `restore_failed` and hands the
original over in its final notification and in a message.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.contract.fakeds import FakeDeepSeek, Reply
from tests.contract.lsp import Client
from tests.contract.test_rewrite import DOC, END, MODEL_CODE, START, TARGET

from .conftest import Start


async def start_rewrite(client: Client, uri: str, action: str = "refactor") -> str:
    arg = {"uri": uri, "range": client.range(uri, START, END), "action": action}
    result = await client.command("deepseek.rewrite", arg)
    job: str = result["jobId"]
    return job


@pytest.mark.parametrize(
    ("late", "delay"),
    [
        ("apply", 0.0),
        ("apply", 0.5),
        ("apply", 5.0),
        ("answer", 0.5),
        ("answer", 5.0),
    ],
)
async def test_cancel_with_a_slow_editor(
    start: Start, fake: FakeDeepSeek, py_uri: str, late: str, delay: float
) -> None:
    """`apply`: the editor takes `delay` seconds before it applies an edit and answers;
    `answer`: it applies at once (its didChange arrives) but answers `delay` seconds later."""
    release = asyncio.Event()
    fake.enqueue(Reply(code=MODEL_CODE * 4, delay=0.01, hang_after=3, release=release))
    client = await start()
    client.open(py_uri, DOC)
    if late == "apply":
        client.apply.delay = delay
    else:
        client.apply.answer_delay = delay
    job = await start_rewrite(client, py_uri)
    if delay:
        await client.wait_for(lambda: client.in_flight == 1, what="an edit in flight")
    else:
        await client.wait_for(lambda: client.docs[py_uri].text != DOC, what="a first edit")
    assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": True}
    final = await client.wait_done(job, timeout=30)
    await client.wait_for(lambda: client.in_flight == 0, timeout=30, what="no edit in flight")
    await client.command("deepseek.status", {})  # a round trip: every didChange has arrived
    assert final["state"] == "cancelled", final  # a slow editor is no reason to give up
    assert client.docs[py_uri].text == DOC


@pytest.mark.parametrize("delay", [0.5, 3.0])
async def test_reject_in_review_with_a_slow_editor(
    start: Start, fake: FakeDeepSeek, py_uri: str, delay: float
) -> None:
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(init_options={"review": True})
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri, action="docstring")
    await client.wait_state(job, "review")
    client.apply.delay = delay
    result = await client.command("deepseek.reject", {"jobId": job}, timeout=30)
    final = await client.wait_done(job, timeout=30)
    await client.command("deepseek.status", {})
    assert result["rejected"] is True, result
    assert final["state"] == "cancelled"
    assert client.docs[py_uri].text == DOC


async def test_reject_after_done_with_a_slow_editor(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start()
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri, action="docstring")
    assert (await client.wait_done(job))["state"] == "done"
    client.apply.delay = 3.0
    result = await client.command("deepseek.reject", {"jobId": job}, timeout=30)
    await client.command("deepseek.status", {})
    assert result["rejected"] is True
    assert client.docs[py_uri].text == DOC


async def test_user_types_above_while_the_restore_is_in_flight(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    """The restore edit is refused on version (the user typed first); the retry uses the
    document as it is now, not the stale range."""
    release = asyncio.Event()
    fake.enqueue(Reply(code=MODEL_CODE * 4, delay=0.01, hang_after=3, release=release))
    client = await start()
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    await client.wait_for(lambda: client.docs[py_uri].text != DOC, what="a first edit")
    typed = [False]

    def type_above(params: dict) -> None:
        if not typed[0]:
            typed[0] = True
            client.type_text(py_uri, 0, 0, "# note\r\n")  # bumps the version under the edit

    client.apply.before = type_above
    client.apply.delay = 0.2
    assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": True}
    final = await client.wait_done(job, timeout=30)
    await client.wait_for(lambda: client.in_flight == 0, timeout=30, what="no edit in flight")
    await client.command("deepseek.status", {})
    assert typed[0]
    assert final["state"] == "cancelled", final
    assert client.docs[py_uri].text == "# note\r\n" + DOC


async def held_rewrite(start: Start, fake: FakeDeepSeek, uri: str) -> tuple[Client, str, asyncio.Event]:
    """A rewrite whose reply stops after three chunks (until released), with its first edit
    applied and answered: (client, job id, the release)."""
    release = asyncio.Event()
    fake.enqueue(Reply(code=MODEL_CODE * 4, delay=0.01, hang_after=3, release=release))
    client = await start()
    client.open(uri, DOC)
    job = await start_rewrite(client, uri)
    await client.wait_for(lambda: client.docs[uri].text != DOC, what="a first edit")
    await client.wait_for(lambda: client.in_flight == 0, what="the edit answered")
    return client, job, release


async def test_editor_that_refuses_the_restore(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """Streaming edits land, then the editor refuses everything: restore_failed with the original."""
    client, job, _ = await held_rewrite(start, fake, py_uri)
    client.apply.reject = True
    await client.command("deepseek.cancel", {"jobId": job})
    final = await client.wait_done(job, timeout=30)
    assert client.docs[py_uri].text != DOC
    assert final["state"] == "failed", final
    assert final["error"]["code"] == "restore_failed"
    assert final["original"] == TARGET
    await client.wait_for(
        lambda: any("original" in m and "def size" in m for m in client.errors_shown()),
        what="a message holding the original",
    )


async def test_editor_that_never_answers(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """No answer to applyEdit at all: the job still ends, and never claims the original is back
    unless the document shows it."""
    release = asyncio.Event()
    fake.enqueue(Reply(code=MODEL_CODE * 4, delay=0.01, hang_after=3, release=release))
    client = await start(env={"DEEPSEEK_LSP_APPLY_TIMEOUTS": "2,2"})  # "no answer" after 2 s, not 10
    client.open(py_uri, DOC)
    client.apply.silent = True
    job = await start_rewrite(client, py_uri)
    await client.wait_for(lambda: client.in_flight == 1, what="an edit in flight")
    await client.command("deepseek.cancel", {"jobId": job})
    final = await client.wait_done(job, timeout=40)
    # nothing was applied: the document holds the original, and the job may say so
    assert client.docs[py_uri].text == DOC
    assert final["state"] in ("cancelled", "failed"), final
    if final["state"] == "failed":
        assert final["error"]["code"] == "restore_failed"
        assert final["original"] == TARGET


async def test_document_closed_mid_rewrite(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client, job, release = await held_rewrite(start, fake, py_uri)
    client.notify("textDocument/didClose", {"textDocument": {"uri": py_uri}})
    release.set()
    final = await client.wait_done(job, timeout=30)
    assert final["state"] == "failed"
    assert final["error"]["code"] in ("document_changed", "restore_failed")
    assert final["original"] == TARGET  # the user can still get it back
