"""Code actions, UTF-8 positions, chat."""

from __future__ import annotations

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
    for word in ("explain", "refactor", "docstring", "test", "translate"):
        assert word in names, (word, titles(ours))
    assert "fix" not in names, "Fix only when diagnostics touch the range"
    for action in ours:
        command = action["command"]
        if "command" in command and isinstance(command["command"], dict):
            command = command["command"]
        assert command["command"].startswith("deepseek."), command
        assert isinstance(command.get("arguments"), list) and len(command["arguments"]) == 1

    # a diagnostic touching the range brings Fix
    diag = {
        "range": client.range(py_uri, 19, 31),
        "message": "undefined name",
        "severity": 1,
        "source": "pyflakes",
    }
    with_diag = await code_actions(client, py_uri, 0, 32, [diag])
    fixes = [a for a in with_diag if a["title"].startswith("DeepSeek:") and "fix" in a["title"].lower()]
    assert len(fixes) == 1
    # a diagnostic elsewhere does not
    far = {**diag, "range": client.range(py_uri, 40, 50)}
    assert not [a for a in await code_actions(client, py_uri, 0, 32, [far]) if "fix" in a["title"].lower()]
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
