"""Chat end to end: the real server process over stdio, the fake DeepSeek on loopback, and the
exact JSON bodies the fake received. Each test gets its own chat store (DEEPSEEK_LSP_DATA_DIR)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from deepseek_lsp.chat import history
from deepseek_lsp.chat.store import ChatStore
from deepseek_lsp.fake import FakeDeepSeek, Reply

from .harness import (
    SAMPLE_TEXT,
    SAMPLE_URI,
    TEST_KEY,
    Recorder,
    attach_recorder,
    capabilities_of,
    command,
    open_doc,
    rng,
    server_config,
)

URI, TEXT = SAMPLE_URI, SAMPLE_TEXT
REASONING_400 = (
    "The reasoning_content is an intermediate result for display purposes only and will not be "
    "included in the context for inference. Please remove the reasoning_content from your input "
    "messages."
)


class Chat:
    """One editor: a server process on a given chat store, and helpers for turns."""

    def __init__(self, client: LanguageClient, rec: Recorder) -> None:
        self.client = client
        self.rec = rec

    async def send(self, message: str, **extra: Any) -> tuple[str, str]:
        result = await command(self.client, "deepseek.chat", {"message": message, **extra})
        return result["jobId"], result["sessionId"]

    async def turn(self, message: str, **extra: Any) -> tuple[dict[str, Any], str]:
        job, sid = await self.send(message, **extra)
        final = await self.rec.wait_done(job, timeout=20)
        return final, sid

    async def cmd(self, name: str, arg: dict[str, Any]) -> Any:
        return await command(self.client, name, arg)


async def start(
    fake: FakeDeepSeek,
    data: Path,
    root: Path | None = None,
    init: dict[str, Any] | None = None,
    **env: str,
) -> Chat:
    config = server_config(fake.base_url, TEST_KEY, DEEPSEEK_LSP_DATA_DIR=str(data), **env)
    client = await config.start()
    assert isinstance(client, LanguageClient)
    rec = attach_recorder(client)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities_of("visual-studio-code"),
            root_uri=root.as_uri() if root else None,
            initialization_options=init,
        )
    )
    return Chat(client, rec)


async def kill(chat: Chat) -> None:
    """SIGKILL the server process: no shutdown, no flush, nothing."""
    proc = chat.client._server
    assert proc is not None
    proc.kill()
    await proc.wait()
    await chat.client.stop()


@pytest_asyncio.fixture
async def chat(fake: FakeDeepSeek, tmp_path: Path) -> AsyncIterator[Chat]:
    c = await start(fake, tmp_path / "data")
    yield c
    await c.client.shutdown_session()


def bodies(fake: FakeDeepSeek) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.path.endswith("/chat/completions")]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def test_turns_resend_history_as_exact_prefix_without_reasoning(chat: Chat, fake: FakeDeepSeek) -> None:
    fake.enqueue(
        Reply(content="Answer one.", reasoning="Thinking about one."),
        Reply(content="Answer two."),
        Reply(content="Answer three.", reasoning="Thinking about three."),
    )
    final1, sid = await chat.turn("First question?", thinking=True)
    final2, sid2 = await chat.turn("Second question?", sessionId=sid)
    final3, _ = await chat.turn("Third question?", sessionId=sid, thinking="high")
    assert sid2 == sid
    for final in (final1, final2, final3):
        assert final["state"] == "done" and final["sessionId"] == sid
    # reasoning and content kept apart in the stream
    j1 = final1["jobId"]
    assert chat.rec.reasoning(j1) == "Thinking about one." and chat.rec.content(j1) == "Answer one."
    assert all(not (n.get("content") and n.get("reasoning")) for n in chat.rec.job(j1))
    b1, b2, b3 = bodies(fake)
    m1, m2, m3 = b1["messages"], b2["messages"], b3["messages"]
    assert [m["role"] for m in m1] == ["system", "user"]
    assert m2 == [
        *m1,
        {"role": "assistant", "content": "Answer one."},
        {"role": "user", "content": "Second question?"},
    ]
    assert m3 == [
        *m2,
        {"role": "assistant", "content": "Answer two."},
        {"role": "user", "content": "Third question?"},
    ]
    # byte-identical prefix: each request's serialized messages start with the previous one's
    for before, after in ((m1, m2), (m2, m3)):
        assert dumps(after).startswith(dumps(before)[:-1])
        assert dumps(after[: len(before)]) == dumps(before)
    assert not any("reasoning_content" in m for b in (b1, b2, b3) for m in b["messages"])
    # thinking per turn: the legacy model switches to deepseek-reasoner, effort is not sent to it
    assert b1["model"] == "deepseek-reasoner" and b2["model"] == "deepseek-chat"
    assert b3["model"] == "deepseek-reasoner"
    # usage per turn and per session
    assert final3["usage"]["promptCacheHitTokens"] > 0  # the cache is per model: turn 1 primed it
    session = final3["sessionUsage"]
    assert session["requests"] == 3
    assert session["promptTokens"] == sum(f["usage"]["promptTokens"] for f in (final1, final2, final3))
    status = await chat.cmd("deepseek.status", {})
    assert status["chat"]["activeSession"] == sid
    assert status["chat"]["usage"]["promptTokens"] == session["promptTokens"]


@pytest.mark.parametrize("thinking", [False, True], ids=["plain", "thinking"])
async def test_twenty_turns_hit_the_cache(chat: Chat, fake: FakeDeepSeek, thinking: bool) -> None:
    answer = (
        "The loop pops the closest node first, so each node is settled once. {i} Edge weights must "
        "be non-negative; otherwise a settled distance can still shrink. Consider returning early "
        "when the target is reached, and skipping stale queue entries:\n\n```python\n"
        "if d > dist.get(node, float('inf')):\n    continue\n```\n"
    )
    thought = "Let me trace the queue and the distances step by step before answering. " * 3
    fake.enqueue(
        *(
            Reply(content=answer.format(i=i), reasoning=thought if thinking else None, delay=0.0)
            for i in range(20)
        )
    )
    open_doc(chat.client, URI, TEXT)
    final, sid = await chat.turn("What does this do?", uri=URI, range=rng(3, 0, 8, 15), thinking=thinking)
    finals = [final]
    for i in range(19):
        f, _ = await chat.turn(
            f"Follow-up number {i + 2}: and what about the edge case {i}?", sessionId=sid, thinking=thinking
        )
        finals.append(f)
    assert all(bool(f["usage"]["reasoningTokens"]) == thinking for f in finals)
    assert all(f["state"] == "done" for f in finals)
    prompt = sum(f["usage"]["promptTokens"] for f in finals)
    hit = sum(f["usage"]["promptCacheHitTokens"] for f in finals)
    share = hit / prompt
    print(
        f"\n20-turn chat ({'thinking' if thinking else 'plain'}): {hit}/{prompt} prompt tokens hit ({share:.1%})"
    )
    assert share >= 0.8
    assert finals[-1]["sessionUsage"]["promptCacheHitTokens"] == hit


async def test_cancel_mid_reply_does_not_poison_history(chat: Chat, fake: FakeDeepSeek) -> None:
    fake.enqueue(
        Reply(content="Kept answer."),
        Reply(content="Never finished " * 20, hold_after=3),
        Reply(content="Third answer."),
    )
    _, sid = await chat.turn("Keep me")
    job, _ = await chat.send("Cancel me", sessionId=sid)
    await fake.wait_for_held(1)
    assert (await chat.cmd("deepseek.cancel", {"jobId": job}))["cancelled"] is True
    final = await chat.rec.wait_done(job)
    assert final["state"] == "cancelled"
    await fake.wait_for_disconnect(1)  # cancelling closed the HTTP stream
    final3, _ = await chat.turn("After the cancel", sessionId=sid)
    assert final3["state"] == "done"
    b3 = bodies(fake)[-1]["messages"]
    assert [m["content"] for m in b3[1:]] == ["Keep me", "Kept answer.", "After the cancel"]
    hist = await chat.cmd("deepseek.chat.history", {"sessionId": sid})
    shown = [(m["role"], m["content"], m["status"]) for m in hist["messages"]]
    assert ("user", "Cancel me", "cancelled") in shown
    assert [m["content"] for m in hist["messages"] if m["inContext"]] == [
        "Keep me",
        "Kept answer.",
        "After the cancel",
        "Third answer.",
    ]


async def test_persistence_across_restart(fake: FakeDeepSeek, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = await start(fake, data)
    fake.enqueue(Reply(content="One."), Reply(content="Two."))
    _, sid = await first.turn("Question one")
    await first.turn("Question two", sessionId=sid)
    await first.client.shutdown_session()

    second = await start(fake, data)
    listed = (await second.cmd("deepseek.chat.sessions", {}))["sessions"]
    assert [s["sessionId"] for s in listed] == [sid]
    assert listed[0]["title"] == "Question one" and listed[0]["messages"] == 4
    hist = await second.cmd("deepseek.chat.history", {"sessionId": sid})
    assert [(m["role"], m["content"]) for m in hist["messages"]] == [
        ("user", "Question one"),
        ("assistant", "One."),
        ("user", "Question two"),
        ("assistant", "Two."),
    ]
    fake.enqueue(Reply(content="Three."))
    await second.turn("Question three", sessionId=sid)
    before, after = bodies(fake)[1]["messages"], bodies(fake)[2]["messages"]
    assert dumps(after[: len(before)]) == dumps(before)
    assert [m["content"] for m in after[1:]] == [
        "Question one",
        "One.",
        "Question two",
        "Two.",
        "Question three",
    ]
    await second.client.shutdown_session()


async def test_sigkill_mid_reply_loses_no_completed_turn(fake: FakeDeepSeek, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = await start(fake, data)
    fake.enqueue(
        *(Reply(content=f"Answer {i}.") for i in range(3)), Reply(content="Lost " * 30, hold_after=2)
    )
    _, sid = await first.turn("Q0")
    for i in (1, 2):
        await first.turn(f"Q{i}", sessionId=sid)
    job, _ = await first.send("Q3 (killed)", sessionId=sid)
    await fake.wait_for_held(1)
    await first.rec.wait_for(lambda: first.rec.content(job))
    await kill(first)
    fake.release()

    second = await start(fake, data)
    hist = await second.cmd("deepseek.chat.history", {"sessionId": sid})
    kept = [(m["role"], m["content"]) for m in hist["messages"] if m["inContext"]]
    assert kept == [
        ("user", "Q0"),
        ("assistant", "Answer 0."),
        ("user", "Q1"),
        ("assistant", "Answer 1."),
        ("user", "Q2"),
        ("assistant", "Answer 2."),
    ]
    assert [m["status"] for m in hist["messages"] if m["content"] == "Q3 (killed)"] == ["pending"]
    fake.enqueue(Reply(content="Answer 4."))
    final, _ = await second.turn("Q4", sessionId=sid)
    assert final["state"] == "done"
    sent = bodies(fake)[-1]["messages"]
    assert [m["content"] for m in sent[1:]] == ["Q0", "Answer 0.", "Q1", "Answer 1.", "Q2", "Answer 2.", "Q4"]
    await second.client.shutdown_session()


async def test_reasoning_content_400_is_retried_without_it(chat: Chat, fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(status=400, error_message=REASONING_400), Reply(content="Fine."))
    final, _ = await chat.turn("Hello", thinking=True)
    assert final["state"] == "done" and chat.rec.content(final["jobId"]) == "Fine."
    assert len(bodies(fake)) == 2
    assert not [m for m in chat.rec.messages if m.type == types.MessageType.Error]


async def test_tool_call_turns_keep_reasoning_and_legacy_refusal_is_handled(
    fake: FakeDeepSeek, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    store = ChatStore(data / "chat.sqlite3")
    sid = "s-tools"
    store.ensure_session(sid)
    turn = "t1"
    uid = store.begin_turn(sid, turn, "Look it up", "Look it up")
    calls = [{"id": "call_00_x", "type": "function", "function": {"name": "find", "arguments": "{}"}}]
    store.complete_turn(
        sid,
        uid,
        turn,
        "",
        reasoning="I should call find.",
        model="deepseek-v4-flash",
        usage=None,
        tool_calls=calls,
    )
    store.add(sid, "tool", "found it", turn=turn, in_context=True, meta={"tool_call_id": "call_00_x"})
    store.add(sid, "assistant", "It is there.", turn=turn, in_context=True)
    store.close()
    chat = await start(fake, data)
    fake.enqueue(Reply(content="Plain answer."), Reply(content="Reasoner answer."))
    final, _ = await chat.turn("And now?", sessionId=sid)
    assert final["state"] == "done"
    sent = bodies(fake)[0]["messages"]
    assert sent[2]["reasoning_content"] == "I should call find." and sent[2]["tool_calls"] == calls
    assert sent[3] == {"role": "tool", "content": "found it", "tool_call_id": "call_00_x"}
    # deepseek-reasoner (R1 era) refuses reasoning_content with a 400: the user never sees it
    final, _ = await chat.turn("Think about it", sessionId=sid, thinking=True)
    assert final["state"] == "done" and chat.rec.content(final["jobId"]) == "Reasoner answer."
    refused, retried = bodies(fake)[1:]
    assert refused["model"] == "deepseek-reasoner" and "reasoning_content" in refused["messages"][2]
    assert "reasoning_content" not in retried["messages"][2]
    assert not [m for m in chat.rec.messages if m.type == types.MessageType.Error]
    await chat.client.shutdown_session()


async def test_context_limit_compacts_instead_of_failing(tmp_path: Path) -> None:
    async with FakeDeepSeek(api_key=TEST_KEY, context_limits={"deepseek-chat": 1500}) as fake:
        chat = await start(fake, tmp_path / "data")
        long = " ".join(f"word{i}" for i in range(150))
        finals = []
        sid: str | None = None
        fake.enqueue(Reply(content="Reply: " + long, repeat=40))
        for i in range(8):
            extra = {"sessionId": sid} if sid else {}
            f, sid = await chat.turn(f"Question {i}: {long}", **extra)
            finals.append(f)
        assert [f["state"] for f in finals] == ["done"] * 8, [f.get("error") for f in finals]
        # DeepSeek said "maximum context length" once; the server learnt the limit from it and
        # compacted deliberately from then on, before any further 400
        assert [r.status for r in fake.requests if r.status != 200] == [400]
        summaries = [b for b in bodies(fake) if b["messages"][-1]["content"] == history.SUMMARY_INSTRUCTION]
        assert len(summaries) >= 2
        notices = [n["notice"] for n in chat.rec.streams if n.get("notice")]
        assert any("compacted" in n for n in notices)
        compacted = [n for n in chat.rec.streams if n.get("compacted")]
        assert compacted
        assert any(m.type == types.MessageType.Info and "compacted" in m.message for m in chat.rec.messages)
        last = bodies(fake)[-1]["messages"]
        assert last[1]["content"].startswith("Summary of our conversation so far")
        assert last[-1]["content"].startswith("Question 7")
        hist = await chat.cmd("deepseek.chat.history", {"sessionId": sid})
        assert sum(m["role"] == "user" and m["status"] == "ok" for m in hist["messages"]) == 8
        await chat.client.shutdown_session()


async def test_slash_commands_and_references(fake: FakeDeepSeek, tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    secret = "sk-live0123456789abcdef0123456789abcdef"
    (root / "util.py").write_text(f"TOKEN = '{secret}'\n\n\ndef helper():\n    return 42\n")
    (root / ".env").write_text("SECRET=1\n")
    chat = await start(fake, tmp_path / "data", root=root)
    uri = (root / "graph.py").as_uri()
    open_doc(chat.client, uri, TEXT)

    final, sid = await chat.turn("/help")
    assert "/explain" in chat.rec.content(final["jobId"]) and not bodies(fake)

    fake.enqueue(Reply(content="It finds shortest paths."))
    final, _ = await chat.turn("/explain", sessionId=sid, uri=uri, range=rng(3, 0, 8, 15))
    user = bodies(fake)[-1]["messages"][-1]["content"]
    assert "#selection (graph.py, lines 4-9)" in user and "def shortest(graph, source):" in user
    assert user.rstrip().endswith("Mention bugs or risks you notice.")
    listed = (await chat.cmd("deepseek.chat.sessions", {}))["sessions"]
    assert [x["title"] for x in listed] == ["Explain graph.py, lines 4-9"]
    assert listed[0]["workspace"] == str(root)

    fake.enqueue(Reply(content="helper returns 42."))
    final, _ = await chat.turn("Compare with #file:util.py and #file:../outside.py", sessionId=sid)
    user = bodies(fake)[-1]["messages"][-1]["content"]
    assert "#file:util.py (util.py)" in user and "return 42" in user
    assert secret not in user  # attachments go through the context builder, which masks secrets
    notices = [n["notice"] for n in chat.rec.job(final["jobId"]) if n.get("notice")]
    assert any("#file:../outside.py" in n and "outside the workspace" in n for n in notices)
    [attached] = chat.rec.job(final["jobId"])[0]["attachments"]
    assert attached["label"] == "#file:util.py" and any("masked" in n for n in attached["notes"])

    fake.enqueue(Reply(content="No."))
    final, _ = await chat.turn("What is in #file:.env ?", sessionId=sid)
    assert "SECRET=1" not in bodies(fake)[-1]["messages"][-1]["content"]
    notices = [n["notice"] for n in chat.rec.job(final["jobId"]) if n.get("notice")]
    assert any("#file:.env" in n and "excludePatterns" in n for n in notices)

    fake.enqueue(Reply(content="Same code."))
    await chat.turn("Again: #selection", sessionId=sid, uri=uri, range=rng(3, 0, 8, 15))
    user = bodies(fake)[-1]["messages"][-1]["content"]
    assert "unchanged since it was attached earlier" in user and "heapq.heappop" not in user

    final, _ = await chat.turn("/think max", sessionId=sid)
    assert "effort max" in chat.rec.content(final["jobId"])
    fake.enqueue(Reply(content="Thought hard."))
    await chat.turn("Think", sessionId=sid)
    assert bodies(fake)[-1]["model"] == "deepseek-reasoner"

    fake.enqueue(Reply(content="The gist."), Reply(content="Continuing."))
    final, _ = await chat.turn("/compact", sessionId=sid)
    assert bodies(fake)[-1]["messages"][-1]["content"] == history.SUMMARY_INSTRUCTION
    assert any("compacted on request" in (n.get("notice") or "") for n in chat.rec.job(final["jobId"]))
    await chat.turn("Go on", sessionId=sid)
    sent = bodies(fake)[-1]["messages"]
    assert sent[1]["content"] == history.SUMMARY_LEAD + "The gist." and sent[-1]["content"] == "Go on"

    final, _ = await chat.turn("/clear", sessionId=sid)
    fake.enqueue(Reply(content="Fresh."))
    await chat.turn("Fresh start", sessionId=sid)
    assert [m["role"] for m in bodies(fake)[-1]["messages"]] == ["system", "user"]

    final, new_sid = await chat.turn("/new", sessionId=sid)
    assert new_sid != sid and final["sessionId"] == new_sid
    await chat.client.shutdown_session()


async def test_rename_export_delete(chat: Chat, fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="A **bold** answer.", reasoning="Let me think."))
    _, sid = await chat.turn("Tell me something", thinking=True)
    assert (await chat.cmd("deepseek.chat.rename", {"sessionId": sid, "title": "Renamed"}))["renamed"]
    md = (await chat.cmd("deepseek.chat.export", {"sessionId": sid}))["markdown"]
    assert md.startswith("# Renamed\n")
    assert "## You\n\nTell me something" in md and "A **bold** answer." in md
    assert "<details><summary>Thinking</summary>" in md and "Let me think." in md
    assert (await chat.cmd("deepseek.chat.delete", {"sessionId": sid}))["deleted"]
    assert (await chat.cmd("deepseek.chat.sessions", {"all": True}))["sessions"] == []


@pytest.mark.parametrize("model", ["deepseek-v4-flash"])
async def test_v4_thinking_parameter_and_effort(fake: FakeDeepSeek, tmp_path: Path, model: str) -> None:
    chat = await start(fake, tmp_path / "data", DEEPSEEK_MODEL=model)
    fake.enqueue(Reply(content="a", reasoning="r"), Reply(content="b"))
    _, sid = await chat.turn("q1", thinking="high")
    await chat.turn("q2", sessionId=sid, thinking=False)
    b1, b2 = bodies(fake)
    assert b1["model"] == b2["model"] == model
    assert b1["thinking"] == {"type": "enabled"} and b1["reasoning_effort"] == "high"
    assert b2["thinking"] == {"type": "disabled"} and "reasoning_effort" not in b2
    assert b2["messages"][:2] == b1["messages"]
    await chat.client.shutdown_session()


async def test_thinking_settings_apply_to_chat(fake: FakeDeepSeek, tmp_path: Path) -> None:
    init = {"thinking": True, "reasoningEffort": "max"}
    chat = await start(fake, tmp_path / "data", init=init, DEEPSEEK_MODEL="deepseek-v4-pro")
    fake.enqueue(Reply(content="a", reasoning="r"), Reply(content="b"), Reply(content="c"))
    final, sid = await chat.turn("q1")
    assert chat.rec.reasoning(final["jobId"]) == "r" and chat.rec.content(final["jobId"]) == "a"
    await chat.turn("/think off", sessionId=sid)
    await chat.turn("q2", sessionId=sid)
    final, new_sid = await chat.turn("/new q3", sessionId=sid)
    b1, b2, b3 = bodies(fake)
    assert b1["thinking"] == {"type": "enabled"} and b1["reasoning_effort"] == "max"
    assert b2["thinking"] == {"type": "disabled"} and "reasoning_effort" not in b2
    assert new_sid != sid and [m["content"] for m in b3["messages"][1:]] == ["q3"]
    assert b3["thinking"] == {"type": "enabled"}
    await chat.client.shutdown_session()


async def test_empty_message_is_refused(chat: Chat) -> None:
    with pytest.raises(Exception, match="empty"):
        await chat.send("   ")


async def test_two_servers_share_the_store(fake: FakeDeepSeek, tmp_path: Path) -> None:
    data = tmp_path / "data"
    a, b = await start(fake, data), await start(fake, data)
    fake.enqueue(Reply(content="ok", delay=0.01, repeat=20))

    async def talk(chat: Chat, name: str) -> str:
        _, sid = await chat.turn(f"{name} 0")
        for i in range(1, 5):
            final, _ = await chat.turn(f"{name} {i}", sessionId=sid)
            assert final["state"] == "done", final
        return sid

    sid_a, sid_b = await asyncio.gather(talk(a, "A"), talk(b, "B"))
    listed = (await a.cmd("deepseek.chat.sessions", {"all": True}))["sessions"]
    assert {x["sessionId"] for x in listed} == {sid_a, sid_b}
    assert all(x["messages"] == 10 for x in listed)
    hist = await a.cmd("deepseek.chat.history", {"sessionId": sid_b})
    assert [m["content"] for m in hist["messages"] if m["role"] == "user"] == [f"B {i}" for i in range(5)]
    await a.client.shutdown_session()
    await b.client.shutdown_session()


async def test_a_failed_turn_is_not_resent(chat: Chat, fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="One."), Reply(status=402), Reply(content="Three."))
    _, sid = await chat.turn("first")
    final, _ = await chat.turn("second", sessionId=sid)
    assert final["state"] == "failed" and final["error"]["code"] == "insufficient_balance"
    await chat.turn("third", sessionId=sid)
    assert [m["content"] for m in bodies(fake)[-1]["messages"][1:]] == ["first", "One.", "third"]
    hist = await chat.cmd("deepseek.chat.history", {"sessionId": sid})
    assert [(m["content"], m["status"]) for m in hist["messages"] if m["role"] == "user"] == [
        ("first", "ok"),
        ("second", "failed"),
        ("third", "ok"),
    ]


async def test_an_attachment_too_large_for_the_model_is_refused_clearly(tmp_path: Path) -> None:
    async with FakeDeepSeek(api_key=TEST_KEY, context_limits={"deepseek-chat": 2000}) as fake:
        chat = await start(fake, tmp_path / "data")
        fake.enqueue(Reply(content="x"))
        await chat.turn("hello")  # the server learns nothing yet: it assumes 128K
        big = "".join(f"value_{i} = compute({i})\n" for i in range(600))
        open_doc(chat.client, URI, big)
        final, _ = await chat.turn("What is this file?", uri=URI)
        # too big for the real window: DeepSeek's 400 teaches the limit, compaction cannot help
        assert final["state"] == "failed" and final["error"]["code"] == "bad_request"
        assert "too large" in final["error"]["message"]
        assert not [b for b in bodies(fake) if b["messages"][-1]["content"] == history.SUMMARY_INSTRUCTION]
        fake.enqueue(Reply(content="y"))
        final, _ = await chat.turn("What is this file?", uri=URI)
        assert final["state"] == "failed" and "too large" in final["error"]["message"]
        await chat.client.shutdown_session()


async def test_deleting_a_session_cancels_its_running_turn(chat: Chat, fake: FakeDeepSeek) -> None:
    fake.enqueue(Reply(content="one"), Reply(content="held " * 10, hold_after=1))
    _, sid = await chat.turn("first")
    job, _ = await chat.send("second", sessionId=sid)
    await fake.wait_for_held(1)
    assert (await chat.cmd("deepseek.chat.delete", {"sessionId": sid}))["deleted"]
    assert (await chat.rec.wait_done(job))["state"] == "cancelled"
    assert (await chat.cmd("deepseek.chat.sessions", {"all": True}))["sessions"] == []
