"""Code actions, UTF-8 positions, chat."""

from __future__ import annotations

import asyncio
from typing import Any

from .conftest import Start
from .fakeds import FakeDeepSeek, Reply
from .lsp import Client
from .test_jobs import CODE, check_stream, joined, response_precedes_stream

ACTIONS = [
    {"name": "translate", "title": "Translate comments", "prompt": "Translate the comments to English."}
]


async def code_actions(
    client: Client, uri: str, start: int, end: int, diags: list[Any]
) -> list[dict[str, Any]]:
    result = await client.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": client.range(uri, start, end),
            "context": {"diagnostics": diags},
        },
    )
    return list(result or [])


def titles(actions: list[dict[str, Any]]) -> list[str]:
    return [a["title"] for a in actions]


async def test_code_actions(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start(init_options={"actions": ACTIONS})
    client.open(py_uri, CODE)
    actions = await code_actions(client, py_uri, 0, 32, [])
    ours = [a for a in actions if a["title"].startswith("DeepSeek:")]
    names = " ".join(titles(ours)).lower()
    for word in ("explain", "fix", "refactor", "docstring", "test", "translate"):
        assert word in names, (word, titles(ours))
    # Fix on any selection: with no diagnostics, its command carries none (the model looks)
    [fix] = [a for a in ours if a["title"] == "DeepSeek: Fix"]
    assert fix["command"]["arguments"][0]["action"] == "fix"
    assert "diagnostics" not in fix["command"]["arguments"][0]
    for action in ours:
        command = action["command"]
        if "command" in command and isinstance(command["command"], dict):
            command = command["command"]
        assert command["command"].startswith("deepseek."), command
        assert isinstance(command.get("arguments"), list) and len(command["arguments"]) == 1

    # a diagnostic touching the range goes with Fix
    diag = {
        "range": client.range(py_uri, 19, 31),
        "message": "undefined name",
        "severity": 1,
        "source": "pyflakes",
    }
    with_diag = await code_actions(client, py_uri, 0, 32, [diag])
    fixes = [a for a in with_diag if a["title"].startswith("DeepSeek:") and "fix" in a["title"].lower()]
    assert len(fixes) == 1
    assert [d["message"] for d in fixes[0]["command"]["arguments"][0]["diagnostics"]] == ["undefined name"]
    # a diagnostic elsewhere does not
    far = {**diag, "range": client.range(py_uri, 40, 50)}
    [fix] = [a for a in await code_actions(client, py_uri, 0, 32, [far]) if "fix" in a["title"].lower()]
    assert "diagnostics" not in fix["command"]["arguments"][0]
    # an empty range: no requirement, but no crash
    await code_actions(client, py_uri, 5, 5, [])

    # running the Explain action's command starts a job, like any client without a plugin would
    [explain] = [a for a in ours if "explain" in a["title"].lower()]
    fake.enqueue(Reply(content=["Adds."]))
    result = await client.request("workspace/executeCommand", explain["command"])
    await client.wait_done(result["jobId"])
    assert joined(check_stream(client, result["jobId"], "explain")) == "Adds."

    # the user-defined action runs a rewrite carrying its prompt
    [translate] = [a for a in ours if "translate" in a["title"].lower()]
    fake.enqueue(Reply(code="def add(a, b):\n    return a + b\n"))
    result = await client.request("workspace/executeCommand", translate["command"])
    final = await client.wait_done(result["jobId"])
    assert final["state"] == "done", final
    assert final["kind"] == "rewrite"
    assert "Translate the comments to English." in str(fake.completions[-1].body["messages"])


CJK = "# 计算 😀 sum\ns = '😀😀' + \"漢字\"\ndef f(x):\n    return x  # ✓\n"


async def test_utf8_only_client(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """Neovim offers only utf-8: the server must pick it and speak it in both directions."""
    client = await start(encodings=["utf-8"])
    assert client.encoding == "utf-8"
    client.open(py_uri, CJK)
    sel_start = CJK.index("'😀😀'")
    sel_end = CJK.index('"漢字"') + len('"漢字"')
    rng = client.range(py_uri, sel_start, sel_end)
    assert rng["start"]["character"] == 4 and rng["end"]["character"] == 4 + 10 + 3 + 8
    fake.enqueue(Reply(content=["Two strings."]))
    job = (await client.command("deepseek.explain", {"uri": py_uri, "range": rng}))["jobId"]
    await client.wait_done(job)
    notes = check_stream(client, job, "explain")
    sent = "\n".join(m["content"] for m in fake.completions[-1].body["messages"])
    assert "s = '😀😀' + \"漢字\"" in sent
    # the explained range comes back in utf-8 (the same or the whole line)
    back = notes[-1].get("range") or notes[0]["range"]
    assert back["start"]["line"] == 1 and back["end"]["line"] in (1, 2)
    assert back["start"]["character"] in (0, 4)
    assert back["end"]["character"] in (0, rng["end"]["character"], len("s = '😀😀' + \"漢字\"".encode()))

    # hover in utf-8 units: a byte column past the emoji, still inside the range
    hover = await client.request(
        "textDocument/hover",
        {"textDocument": {"uri": py_uri}, "position": {"line": 1, "character": rng["end"]["character"] - 2}},
    )
    assert hover is not None and "Two strings." in str(hover["contents"])

    # a rewrite of the last line lands in the right place
    last = CJK.index("    return x")
    fake.enqueue(Reply(code="return x + 1  # ✓✓\n"))
    job = (
        await client.command(
            "deepseek.rewrite",
            {"uri": py_uri, "range": client.range(py_uri, last, len(CJK)), "instruction": "add 1"},
        )
    )["jobId"]
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    assert client.docs[py_uri].text == CJK[:last] + "    return x + 1  # ✓✓\n"


async def test_chat_multi_turn(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(
        Reply(reasoning=["The user ", "greets."], content=["Hello", ", 世界!"]),
        Reply(content=["Still here."]),
    )
    client = await start(init_options={"thinking": True})
    client.open(py_uri, CODE)
    rid = client.send_request(
        "workspace/executeCommand",
        {
            "command": "deepseek.chat",
            "arguments": [
                {"message": "Hi! What does this do?", "uri": py_uri, "range": client.range(py_uri, 0, 32)}
            ],
        },
    )
    first = await client.response(rid)
    assert isinstance(first["jobId"], str) and isinstance(first["sessionId"], str)
    await client.wait_done(first["jobId"])
    response_precedes_stream(client, rid, first["jobId"])
    notes = check_stream(client, first["jobId"], "chat")
    assert any(n.get("uri") == py_uri for n in notes), "chat with attached code carries its uri"
    assert joined(notes) == "Hello, 世界!"
    assert joined(notes, "reasoning") == "The user greets."
    assert notes[-1]["state"] == "done"
    assert "return a + b" in str(fake.completions[0].body["messages"])

    second = await client.command("deepseek.chat", {"message": "And now?", "sessionId": first["sessionId"]})
    assert second["sessionId"] == first["sessionId"]
    assert second["jobId"] != first["jobId"]
    await client.wait_done(second["jobId"])
    assert joined(check_stream(client, second["jobId"], "chat")) == "Still here."
    messages = fake.completions[1].body["messages"]
    assistant = [m for m in messages if m["role"] == "assistant"]
    assert [m["content"] for m in assistant] == ["Hello, 世界!"], "the answer is resent without its reasoning"
    assert "The user greets." not in str([m.get("content") for m in messages])
    assert messages[-1]["role"] == "user" and "And now?" in messages[-1]["content"]


async def test_chat_failures_are_never_resent(start: Start, fake: FakeDeepSeek) -> None:
    fake.enqueue(
        Reply(content=["A partial ", "answer"], cut=True),
        Reply(status=402, message="Insufficient Balance"),
        Reply(content=["Full answer."]),
    )
    client = await start()
    first = await client.command("deepseek.chat", {"message": "one"})
    final = await client.wait_done(first["jobId"])
    assert final["state"] == "failed" and final["error"]["code"] in ("truncated", "network")
    sid = first["sessionId"]
    second = await client.command("deepseek.chat", {"message": "two", "sessionId": sid})
    final = await client.wait_done(second["jobId"])
    assert final["error"]["code"] == "insufficient_balance"
    await client.wait_for(lambda: len(client.errors_shown()) >= 2, what="two errors shown")
    third = await client.command("deepseek.chat", {"message": "three", "sessionId": sid})
    assert (await client.wait_done(third["jobId"]))["state"] == "done"
    sent = fake.completions[-1].body["messages"]
    assert not [m for m in sent if m["role"] == "assistant"], "a failed turn's partial answer was resent"
    assert "three" in sent[-1]["content"]


def user_task(fake: FakeDeepSeek) -> str:
    """The last request's user message (a prefix request ends with the assistant's fence)."""
    messages = fake.completions[-1].body["messages"]
    return str(next(m["content"] for m in reversed(messages) if m["role"] == "user"))


async def test_fix_without_diagnostics_asks_the_model_to_find_the_problem(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    """A client that sends no diagnostics (eglot: one server per buffer) still gets Fix; the
    model is asked to find what is wrong. Diagnostics sent earlier for the lines are used."""
    client = await start()
    client.open(py_uri, CODE)
    [fix] = [a for a in await code_actions(client, py_uri, 0, 32, []) if a["title"] == "DeepSeek: Fix"]
    assert fix["kind"] == "quickfix.deepseek"
    fake.enqueue(Reply(code="def add(a, b):\n    return a + b  # fixed\n"))
    result = await client.request("workspace/executeCommand", fix["command"])
    assert (await client.wait_done(result["jobId"]))["state"] == "done"
    task = user_task(fake)
    assert "Fix the problem in the selected code. No diagnostics were reported for it, so first find" in task
    assert client.docs[py_uri].text.startswith("def add(a, b):\n    return a + b  # fixed\n")

    # diagnostics a client sent with an earlier request are remembered for the document
    diag = {
        "range": client.range(py_uri, 5, 8),
        "message": "shadowed name 'add'",
        "severity": 2,
        "source": "lint",
    }
    await code_actions(client, py_uri, 0, 5, [diag])
    [fix] = [a for a in await code_actions(client, py_uri, 0, 32, []) if a["title"] == "DeepSeek: Fix"]
    assert "diagnostics" not in fix["command"]["arguments"][0]
    fake.enqueue(Reply(code="def add(a, b):\n    return a + b\n"))
    result = await client.request("workspace/executeCommand", fix["command"])
    assert (await client.wait_done(result["jobId"]))["state"] == "done"
    task = user_task(fake)
    assert "- line 1 (warning, lint): shadowed name 'add'" in task
    assert "No diagnostics were reported" not in task


async def test_a_running_rewrite_offers_its_cancel(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """The only way out of a rewrite for a client without our plugin: its code action."""
    release = asyncio.Event()
    fake.enqueue(Reply(code="def add(a, b):\n    return b + a\n" * 3, hang_after=2, release=release))
    client = await start()
    client.open(py_uri, CODE)
    job = (
        await client.command(
            "deepseek.rewrite", {"uri": py_uri, "range": client.range(py_uri, 0, 32), "action": "refactor"}
        )
    )["jobId"]
    await client.wait_for(
        lambda: client.docs[py_uri].text != CODE and client.in_flight == 0, what="a first edit"
    )
    point = await code_actions(client, py_uri, 20, 20, [])  # an empty range inside it: only its own action
    assert [(a["title"], a["kind"], a["command"]) for a in point] == [
        (
            f"DeepSeek: Cancel rewrite (Refactor, {job})",
            "refactor.rewrite.deepseek.job",
            {
                "title": f"DeepSeek: Cancel rewrite (Refactor, {job})",
                "command": "deepseek.cancel",
                "arguments": [{"jobId": job}],
            },
        )
    ]
    selection = titles(await code_actions(client, py_uri, 0, 10, []))
    assert selection.index(f"DeepSeek: Cancel rewrite (Refactor, {job})") == 2  # after Explain and Fix
    elsewhere = len(client.docs[py_uri].text) - 3
    assert titles(await code_actions(client, py_uri, elsewhere, elsewhere, [])) == []
    assert await client.request("workspace/executeCommand", point[0]["command"]) == {"cancelled": True}
    assert (await client.wait_done(job))["state"] == "cancelled"
    await client.wait_for(
        lambda: client.docs[py_uri].text == CODE and client.in_flight == 0, what="the original"
    )
