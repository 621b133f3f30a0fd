"""Rewrite jobs: streamed TextDocumentEdits applied by the client, review, restore, re-anchoring."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import Start
from .fakeds import FakeDeepSeek, Reply
from .lsp import Client, span
from .test_jobs import check_stream, joined, response_precedes_stream

# a CRLF document with the target indented by four spaces
DOC = (
    "import os\r\n"
    "\r\n"
    "\r\n"
    "class Box:\r\n"
    "    def size(self):\r\n"
    "        return len(self.items)\r\n"
    "\r\n"
    "    def empty(self):\r\n"
    "        return not self.items\r\n"
)
TARGET = "    def size(self):\r\n        return len(self.items)\r\n"
START = DOC.index(TARGET)
END = START + len(TARGET)
MODEL_CODE = 'def size(self):\n    """How many items the box holds."""\n    return len(self.items)\n'
EXPECTED = (
    '    def size(self):\r\n        """How many items the box holds."""\r\n        return len(self.items)\r\n'
)


def rewritten(doc: str = DOC) -> str:
    return doc.replace(TARGET, EXPECTED)


async def rewrite(client: Client, uri: str, **extra: Any) -> str:
    arg = {"uri": uri, "range": client.range(uri, START, END), **extra}
    rid = client.send_request("workspace/executeCommand", {"command": "deepseek.rewrite", "arguments": [arg]})
    result = await client.response(rid)
    job: str = result["jobId"]
    await client.wait_for(lambda: client.stream(job), what="a first deepseek/stream")
    response_precedes_stream(client, rid, job)
    return job


def begins(client: Client) -> list[str]:
    """The tokens of the work-done progresses begun so far."""
    return [p["token"] for p in client.notifications("$/progress") if p["value"]["kind"] == "begin"]


def check_edits(client: Client) -> None:
    """Every applyEdit carried versioned TextDocumentEdits, one at a time."""
    assert client.applies, "no workspace/applyEdit"
    for params in client.applies:
        for change in params["edit"]["documentChanges"]:
            assert isinstance(change["textDocument"]["version"], int)
    assert client.max_in_flight <= 1


def check_final_range(client: Client, uri: str, job: str) -> None:
    """docs/protocol.md: the joined content is exactly the text standing in the final range."""
    notes = client.stream(job)
    rng = next(n["range"] for n in reversed(notes) if "range" in n)
    start, end = span(client.docs[uri].text, rng, client.encoding)
    assert client.docs[uri].text[start:end] == joined(notes)


async def test_rewrite_streams_into_document(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code=MODEL_CODE, delay=0.005))
    client = await start()
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="docstring")
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    check_stream(client, job, "rewrite")
    check_edits(client)
    assert client.docs[py_uri].text == rewritten()
    assert "```" not in joined(client.stream(job))
    check_final_range(client, py_uri, job)
    # a rejected finished rewrite (docs/protocol.md) brings the original back
    await client.command("deepseek.reject", {"jobId": job})
    await client.wait_for(lambda: client.docs[py_uri].text == DOC, what="original back")
    await client.wait_for(lambda: client.in_flight == 0, what="no edit in flight")
    status = await client.command("deepseek.status", {})  # a round trip: anything pending has arrived
    assert job not in str(status["jobs"])
    check_stream(client, job, "rewrite")  # still exactly one done


async def test_fast_stream_does_not_flood(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    code = "".join(f"x{i} = {i}\n" for i in range(8))
    fake.enqueue(Reply(code=code, by_char=True))
    chars = [*code]
    client = await start()
    client.apply.delay = 0.02  # a slow editor
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, instruction="constants")
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    check_edits(client)
    assert len(client.applies) < len(chars) / 2
    assert client.docs[py_uri].text == DOC.replace(TARGET, "".join(f"    x{i} = {i}\r\n" for i in range(8)))


async def test_cancel_restores_original(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """deepseek.cancel, window/workDoneProgress/cancel and $/cancelRequest, one rewrite each."""
    client = await start()
    client.open(py_uri, DOC)
    for n, how in enumerate(["command", "progress", "cancelRequest"]):
        fake.enqueue(Reply(code=MODEL_CODE, hang_after=2))
        begun = len(begins(client))
        arg = {"uri": py_uri, "range": client.range(py_uri, START, END), "action": "refactor"}
        rid = client.send_request(
            "workspace/executeCommand", {"command": "deepseek.rewrite", "arguments": [arg]}
        )
        job = (await client.response(rid))["jobId"]
        await client.wait_for(lambda: client.docs[py_uri].text != DOC, what="a first edit")
        seen = fake.completions[n]
        if how == "command":
            assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": True}
        elif how == "progress":
            await client.wait_for(lambda b=begun: len(begins(client)) > b, what="progress begin")
            token = begins(client)[-1]
            client.notify("window/workDoneProgress/cancel", {"token": token})
        else:
            client.notify("$/cancelRequest", {"id": rid})
        await asyncio.wait_for(seen.closed.wait(), 5)
        final = await client.wait_done(job)
        assert final["state"] == "cancelled", how
        await client.wait_for(lambda: client.docs[py_uri].text == DOC, what="the original back")
        await client.wait_for(lambda: client.in_flight == 0, what="no edit in flight")
        check_stream(client, job, "rewrite")
    check_edits(client)


async def test_failure_restores_original(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code=MODEL_CODE, cut=True, delay=0.005))
    client = await start()
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="refactor")
    final = await client.wait_done(job)
    assert final["state"] == "failed"
    await client.wait_for(lambda: client.docs[py_uri].text == DOC, what="the original back")
    await client.wait_for(client.errors_shown, what="showMessage Error")


async def test_editor_refusing_edits(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start()
    client.apply.reject = True
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="refactor")
    final = await client.wait_done(job)
    assert final["state"] == "failed"
    assert client.docs[py_uri].text == DOC
    check_stream(client, job, "rewrite")


async def test_review_accept(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(init_options={"review": True})
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="docstring")
    review = await client.wait_state(job, "review")
    assert review["done"] is False
    assert client.final(job) is None
    assert client.docs[py_uri].text == rewritten()
    await client.command("deepseek.accept", {"jobId": job})
    final = await client.wait_done(job)
    assert final["state"] == "done"
    assert client.docs[py_uri].text == rewritten()
    check_stream(client, job, "rewrite")
    # accepting again, or cancelling, ends nothing twice
    await client.command("deepseek.accept", {"jobId": job})
    assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": False}
    await client.command("deepseek.status", {})
    check_stream(client, job, "rewrite")


async def test_review_reject(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(config={"deepseek": {"review": True}})
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="docstring")
    await client.wait_state(job, "review")
    await client.command("deepseek.reject", {"jobId": job})
    final = await client.wait_done(job)
    assert final["state"] == "cancelled"
    await client.wait_for(lambda: client.docs[py_uri].text == DOC, what="the original back")
    check_stream(client, job, "rewrite")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
async def test_user_types_above_region(start: Start, fake: FakeDeepSeek, py_uri: str, encoding: str) -> None:
    release = asyncio.Event()
    fake.enqueue(Reply(code=MODEL_CODE, hang_after=2, release=release))
    client = await start(encodings=[encoding])
    assert client.encoding == encoding
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="docstring")
    await client.wait_for(
        lambda: client.docs[py_uri].text != DOC and client.in_flight == 0 and client.stream(job),
        what="a first edit",
    )
    client.type_text(py_uri, 0, 0, "# 注释 😀\r\nimport sys\r\n")
    client.type_text(py_uri, 2, 2, "😀漢")  # on the line above, before the emoji
    release.set()
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    assert client.docs[py_uri].text == "# 😀漢注释 😀\r\nimport sys\r\n" + rewritten()
    check_edits(client)
    check_final_range(client, py_uri, job)


async def test_user_types_inside_region(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    release = asyncio.Event()
    fake.enqueue(Reply(code=MODEL_CODE, hang_after=2, release=release))
    client = await start()
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="docstring")
    await client.wait_for(
        lambda: "How many" in client.docs[py_uri].text and client.in_flight == 0, what="a first edit"
    )
    at = client.docs[py_uri].text.index("How many")
    client.type_text(py_uri, at, at, "USER ")
    typed = client.docs[py_uri].text
    release.set()
    final = await client.wait_done(job)
    assert final["state"] in ("failed", "cancelled")
    assert final["error"]["code"] == "document_changed"
    assert client.docs[py_uri].text == typed, "the user's text is left alone"
    check_stream(client, job, "rewrite")


async def test_thinking_rewrite_strips_fences_and_commentary(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    answer = [
        "Here is the code:\n\n```python\n",
        *MODEL_CODE.splitlines(keepends=True),
        "```\n",
        "\nIt adds a docstring.",
    ]
    fake.enqueue(Reply(reasoning=["A docstring ", "is needed."], content=answer))
    client = await start(init_options={"thinking": True})
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="docstring")
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    notes = check_stream(client, job, "rewrite")
    assert client.docs[py_uri].text == rewritten()
    content = joined(notes)
    assert "```" not in content and "Here is" not in content and "It adds" not in content
    assert "A docstring" not in content
    check_final_range(client, py_uri, job)


async def test_partial_line_selection(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code="len(self.items or ())\n"))
    client = await start()
    client.open(py_uri, DOC)
    at = DOC.index("len(self.items)")
    arg = {
        "uri": py_uri,
        "range": client.range(py_uri, at, at + len("len(self.items)")),
        "instruction": "None-safe",
    }
    job = (await client.command("deepseek.rewrite", arg))["jobId"]
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    assert client.docs[py_uri].text == DOC.replace("len(self.items)", "len(self.items or ())")
    check_final_range(client, py_uri, job)


async def test_model_keeps_its_own_indentation(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code="".join("    " + line for line in MODEL_CODE.splitlines(keepends=True))))
    client = await start()
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="docstring")
    assert (await client.wait_done(job))["state"] == "done"
    assert client.docs[py_uri].text == rewritten()


@pytest.mark.parametrize("prefix", [True, False])
async def test_partial_line_shows_within_50ms(
    start: Start, fake: FakeDeepSeek, py_uri: str, prefix: bool
) -> None:
    """A new edit at the latest every 50 ms: a line still streaming shows before it completes."""
    release = asyncio.Event()
    code = 'def size(self):\n    return "a long line still streaming"\n'
    cut = code.index("still") + len("still")
    fake.enqueue(Reply(code=code, by_char=True, hang_after=cut, release=release))
    client = await start(init_options={"rewritePrefix": prefix})
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, instruction="anything")
    await client.wait_for(
        lambda: '        return "a long line still' in client.docs[py_uri].text,
        timeout=5,
        what="the partial line",
    )
    release.set()
    assert (await client.wait_done(job))["state"] == "done"
    assert client.docs[py_uri].text == DOC.replace(
        TARGET, '    def size(self):\r\n        return "a long line still streaming"\r\n'
    )


async def test_review_reject_after_typing_above(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(init_options={"review": True})
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="docstring")
    await client.wait_state(job, "review")
    client.type_text(py_uri, 0, 0, "#!/usr/bin/env python\r\n")
    await client.command("deepseek.reject", {"jobId": job})
    final = await client.wait_done(job)
    assert final["state"] == "cancelled"
    await client.wait_for(
        lambda: client.docs[py_uri].text == "#!/usr/bin/env python\r\n" + DOC, what="the original back"
    )


async def test_code_action_command_runs_a_rewrite(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start()
    client.open(py_uri, DOC)
    actions = await client.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": py_uri},
            "range": client.range(py_uri, START, END),
            "context": {"diagnostics": []},
        },
    )
    [doc_action] = [
        a for a in actions if a["title"].startswith("DeepSeek:") and "docstring" in a["title"].lower()
    ]
    result = await client.request("workspace/executeCommand", doc_action["command"])
    assert (await client.wait_done(result["jobId"]))["state"] == "done"
    assert client.docs[py_uri].text == rewritten()


async def test_user_types_while_an_edit_is_in_flight(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """The editor sees the user's keystroke first: the server's edit carries a stale version."""
    fake.enqueue(Reply(code=MODEL_CODE, delay=0.01))
    client = await start()
    client.open(py_uri, DOC)
    typed: list[bool] = []

    def type_first(params: dict[str, Any]) -> None:
        if not typed:
            typed.append(True)
            client.type_text(py_uri, 0, 0, "# typed 😀\r\n")

    client.apply.before = type_first
    client.apply.delay = 0.02
    job = await rewrite(client, py_uri, action="docstring")
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    assert client.docs[py_uri].text == "# typed 😀\r\n" + rewritten()
    check_final_range(client, py_uri, job)
    assert client.max_in_flight <= 1
    assert {"applied": False, "failureReason": "stale version"} in client.apply_results


async def test_utf16_partial_line_after_emoji(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    text = 'def f(items):\r\n    s = "😀漢" + str(len(items))  # ✓\r\n    return s\r\n'
    fake.enqueue(Reply(code="repr(items)"))
    client = await start()
    assert client.encoding == "utf-16"
    client.open(py_uri, text)
    at = text.index("str(len(items))")
    rng = client.range(py_uri, at, at + len("str(len(items))"))
    assert rng["start"]["character"] == len('    s = "') + 2 + 1 + len('" + ')
    job = (await client.command("deepseek.rewrite", {"uri": py_uri, "range": rng, "instruction": "repr"}))[
        "jobId"
    ]
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    assert client.docs[py_uri].text == text.replace("str(len(items))", "repr(items)")
    check_final_range(client, py_uri, job)


async def test_review_then_cancel_restores(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """docs/protocol.md: cancelling a rewrite waiting in review behaves like reject."""
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(init_options={"review": True})
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="docstring")
    await client.wait_state(job, "review")
    assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": True}
    final = await client.wait_done(job)
    assert final["state"] == "cancelled"
    await client.wait_for(lambda: client.docs[py_uri].text == DOC, what="the original back")


async def test_cancel_with_an_edit_in_flight(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """A slow editor: the restore waits for the edit in flight, never two at once."""
    fake.enqueue(Reply(code=MODEL_CODE * 20, delay=0.01))
    client = await start()
    client.apply.delay = 0.1
    client.open(py_uri, DOC)
    job = await rewrite(client, py_uri, action="refactor")
    await client.wait_for(
        lambda: client.in_flight == 1 and len(client.applies) >= 2, what="an edit in flight"
    )
    assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": True}
    assert (await client.wait_done(job))["state"] == "cancelled"
    await client.wait_for(
        lambda: client.docs[py_uri].text == DOC and client.in_flight == 0, what="the original"
    )
    await client.command("deepseek.status", {})
    assert client.docs[py_uri].text == DOC
    assert client.max_in_flight == 1


async def test_tab_indented_document(start: Start, fake: FakeDeepSeek, tmp_path: Any) -> None:
    uri = (tmp_path / "main.go").as_uri()
    text = "package main\n\nfunc main() {\n\tif x {\n\t\ty()\n\t}\n}\n"
    target = "\tif x {\n\t\ty()\n\t}\n"
    fake.enqueue(Reply(code="if x {\n    y()\n    z()\n}\n"))
    client = await start()
    client.open(uri, text, language="go")
    at = text.index(target)
    rng = client.range(uri, at, at + len(target))
    job = (await client.command("deepseek.rewrite", {"uri": uri, "range": rng, "instruction": "call z"}))[
        "jobId"
    ]
    assert (await client.wait_done(job))["state"] == "done"
    new = client.docs[uri].text
    assert new.startswith(text[:at]) and new.endswith("}\n")
    region = new[at : len(new) - len("}\n")].splitlines()
    assert [line.strip() for line in region] == ["if x {", "y()", "z()", "}"]
    assert all(line.startswith("\t") for line in region), region
    indents = [line[: len(line) - len(line.lstrip())] for line in region]
    assert indents[1] == indents[2] and indents[0] == indents[3] != indents[1]


async def test_truncated_or_empty_answer_keeps_original(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    """docs/protocol.md: an answer cut by maxTokens, or one with no code, fails with the original kept."""
    fake.enqueue(Reply(code=MODEL_CODE, finish_reason="length"), Reply(content=["I cannot help with that."]))
    client = await start(init_options={"rewritePrefix": False})
    client.open(py_uri, DOC)
    for code in ("truncated", None):
        job = await rewrite(client, py_uri, action="refactor")
        final = await client.wait_done(job)
        assert final["state"] == "failed", final
        if code:
            assert final["error"]["code"] == code
        await client.wait_for(
            lambda: client.docs[py_uri].text == DOC and client.in_flight == 0, what="original"
        )
        check_stream(client, job, "rewrite")
