"""Rewrite end to end: the real server process, a pytest-lsp client that behaves like an editor
(it applies every workspace/applyEdit to its own copy of the document, checks the version as
VS Code does and sends didChange back), and the fake DeepSeek on loopback. Every scenario
checks the final document text exactly.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from deepseek_lsp.fake import FakeDeepSeek, Reply

from .harness import Recorder, command, server_config, start_client

URI = "file:///tmp/project/shapes.py"
DOC = """import math


class Circle:
    def __init__(self, r):
        self.r = r

    def area(self):
        a = math.pi * self.r * self.r
        return a

    def name(self):
        return "circle"
"""
OLD = "        a = math.pi * self.r * self.r\n        return a\n"
NEW_CODE = "return math.pi * self.r ** 2\n"  # as the model writes it: from column 0
NEW = "        return math.pi * self.r ** 2\n"
SELECTION = {"start": {"line": 8, "character": 0}, "end": {"line": 10, "character": 0}}


# -- an editor in the test client -------------------------------------------------------------
_EOL = re.compile(r"\r\n|\r|\n")


def to_offset(text: str, line: int, character: int, encoding: str) -> int:
    """Independent of the server's positions.py on purpose."""
    starts = [0, *(m.end() for m in _EOL.finditer(text))]
    if line >= len(starts):
        return len(text)
    start = starts[line]
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    content = text[start:end].rstrip("\r\n")
    units = 0
    for i, ch in enumerate(content):
        if units >= character:
            return start + i
        units += {"utf-8": len(ch.encode()), "utf-16": 2 if ord(ch) > 0xFFFF else 1}.get(encoding, 1)
    return start + len(content)


def to_position(text: str, offset: int, encoding: str) -> types.Position:
    before = text[:offset]
    line = len(_EOL.findall(before))
    last = max(before.rfind("\n"), before.rfind("\r")) + 1
    part = before[last:]
    units = {"utf-8": len(part.encode()), "utf-16": len(part.encode("utf-16-le")) // 2}.get(
        encoding, len(part)
    )
    return types.Position(line=line, character=units)


@dataclass
class Editor:
    client: LanguageClient
    rec: Recorder
    encoding: str
    docs: dict[str, list[Any]] = field(default_factory=dict)  # uri -> [text, version]
    edit_times: list[float] = field(default_factory=list)
    edits: list[types.TextEdit] = field(default_factory=list)
    refuse: int = 0  # answer applied: false to the next N edits
    # Neovim: didChange debounced (several changes in one), versions are changedticks (gaps),
    # and an edit for an older version is dropped while the answer says applied: true
    debounce: float = 0.0
    version_step: int = 1
    _pending: dict[str, list[types.TextDocumentContentChangePartial]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def open(self, uri: str, text: str, language: str = "python") -> None:
        self.docs[uri] = [text, 1]
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
            )
        )

    def text(self, uri: str = URI) -> str:
        return str(self.docs[uri][0])

    def change(self, uri: str, start: int, end: int, new: str) -> None:
        """Edit our copy and tell the server, as an editor does after any change."""
        text, version = self.docs[uri]
        rng = types.Range(
            start=to_position(text, start, self.encoding), end=to_position(text, end, self.encoding)
        )
        version += self.version_step
        self.docs[uri] = [text[:start] + new + text[end:], version]
        self.changed.set()
        change = types.TextDocumentContentChangePartial(range=rng, text=new)
        if not self.debounce:
            self._notify(uri, [change])
            return
        pending = self._pending.setdefault(uri, [])
        pending.append(change)
        if len(pending) == 1:
            asyncio.get_running_loop().call_later(self.debounce, self._flush, uri)

    def _flush(self, uri: str) -> None:
        self._notify(uri, self._pending.pop(uri, []))

    def _notify(self, uri: str, changes: list[types.TextDocumentContentChangePartial]) -> None:
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.docs[uri][1]),
                content_changes=list(changes),
            )
        )

    def type(self, at: str, new: str, uri: str = URI, after: bool = False) -> None:
        text = self.text(uri)
        i = text.index(at) + (len(at) if after else 0)
        self.change(uri, i, i, new)

    def apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        self.edit_times.append(time.perf_counter())
        for change in params.edit.document_changes or []:
            assert isinstance(change, types.TextDocumentEdit)
            uri = change.text_document.uri
            if self.refuse > 0:
                self.refuse -= 1
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="refused by the test")
            if change.text_document.version != self.docs[uri][1]:
                if self.debounce:  # Neovim: prints "newer than edits", answers applied
                    return types.ApplyWorkspaceEditResult(applied=True)
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="version mismatch")
            for edit in change.edits:
                assert isinstance(edit, types.TextEdit)
                text = self.text(uri)
                a = to_offset(text, edit.range.start.line, edit.range.start.character, self.encoding)
                b = to_offset(text, edit.range.end.line, edit.range.end.character, self.encoding)
                self.edits.append(edit)
                self.change(uri, a, b, edit.new_text)
        return types.ApplyWorkspaceEditResult(applied=True)


Start = Callable[..., Awaitable[Editor]]


@pytest_asyncio.fixture
async def start(fake: FakeDeepSeek) -> AsyncIterator[Start]:
    """Start a server and an editor client: `await start(capabilities=..., init=..., base=...)`."""
    clients: list[LanguageClient] = []

    async def _start(
        capabilities: str = "visual-studio-code", init: dict[str, Any] | None = None, base: str = ""
    ) -> Editor:
        config = server_config(fake.base_url + base)
        log_file = os.environ.get("DEEPSEEK_TEST_LOG")  # debugging: where the server logs go
        if log_file:
            config.server_command += ["--log-file", f"{log_file}.{time.time_ns()}"]
        client, rec = await start_client(config, capabilities=capabilities, init_options=init)
        clients.append(client)
        encoding = "utf-8" if capabilities == "neovim" else "utf-16"
        editor = Editor(client, rec, encoding)

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def on_apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            return editor.apply(params)

        return editor

    yield _start
    for client in clients:
        await client.shutdown_session()


async def rewrite(editor: Editor, selection: dict[str, Any] = SELECTION, uri: str = URI, **extra: Any) -> str:
    result = await command(editor.client, "deepseek.rewrite", {"uri": uri, "range": selection, **extra})
    job_id: str = result["jobId"]
    return job_id


async def wait_text(
    editor: Editor, predicate: Callable[[str], bool], uri: str = URI, timeout: float = 10
) -> None:
    async def wait() -> None:
        while not predicate(editor.text(uri)):
            editor.changed.clear()
            await editor.changed.wait()

    await asyncio.wait_for(wait(), timeout)


def region_text(editor: Editor, final: dict[str, Any], uri: str = URI) -> str:
    r = final["range"]
    text = editor.text(uri)
    a = to_offset(text, r["start"]["line"], r["start"]["character"], editor.encoding)
    b = to_offset(text, r["end"]["line"], r["end"]["character"], editor.encoding)
    return text[a:b]


def prose_reply(code: str) -> str:
    return f"Here is the refactored code:\n\n```python\n{code}```\n\nThis version is shorter and clearer.\n"


# -- scenarios ------------------------------------------------------------------------------------
async def test_plain_reply_streams_into_the_document(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    fake.enqueue(Reply(content=NEW_CODE + "```\nIt squares the radius.", delay=0.005))
    editor.open(URI, DOC)
    job = await rewrite(editor, instruction="simplify")
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    assert editor.text() == DOC.replace(OLD, NEW)
    assert editor.rec.content(job) == NEW == region_text(editor, final)
    request = fake.requests[-1]
    assert request.path == "/beta/chat/completions"  # prefix completion opened the fence
    assert request.body["messages"][-1] == {"role": "assistant", "content": "```python\n", "prefix": True}
    assert request.body["stop"] == ["\n```"]
    assert "simplify" in request.body["messages"][-2]["content"]
    seqs = [n["seq"] for n in editor.rec.job(job)]
    assert seqs == list(range(len(seqs)))


async def test_fenced_reply_with_prose_falls_back_from_prefix_and_strips_it(
    start: Start, fake: FakeDeepSeek
) -> None:
    editor = await start(base="/v1")  # /v1/beta does not exist: prefix completion is refused
    fake.enqueue(Reply(content=prose_reply(NEW_CODE), chunks=None, delay=0.002))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    assert editor.text() == DOC.replace(OLD, NEW)
    assert "```" not in editor.rec.content(job)
    # the fake records only routed requests: the refused /v1/beta one is not among them
    plain = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert [r.path for r in plain] == ["/v1/chat/completions"]
    assert "stop" not in plain[0].body and not plain[0].body["messages"][-1].get("prefix")


async def test_fenced_reply_on_the_plain_path_by_setting(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start(init={"rewritePrefix": False})
    fake.enqueue(Reply(content=prose_reply(NEW_CODE), delay=0.001))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    assert editor.text() == DOC.replace(OLD, NEW)
    assert fake.requests[-1].path == "/chat/completions" and "stop" not in fake.requests[-1].body


async def test_unopened_document_or_unknown_action_is_refused(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    for arg in (
        {"uri": "file:///tmp/nowhere.py", "range": SELECTION},
        {"uri": URI, "range": SELECTION, "action": "nope"},
    ):
        if arg["uri"] == URI:
            editor.open(URI, DOC)
        with pytest.raises(Exception, match=r"not open|unknown action"):
            await command(editor.client, "deepseek.rewrite", arg)
    assert editor.text() == DOC and not editor.edits


async def test_an_instruction_on_an_empty_line_inserts_code(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    doc = "class A:\n    x = 1\n    \n    y = 2\n"
    fake.enqueue(Reply(content="def get_x(self):\n    return self.x\n"))
    editor.open(URI, doc)
    cursor = {"start": {"line": 2, "character": 4}, "end": {"line": 2, "character": 4}}
    job = await rewrite(editor, cursor, instruction="add a getter for x")
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    assert editor.text() == "class A:\n    x = 1\n    def get_x(self):\n        return self.x\n    y = 2\n"


async def test_fence_split_across_chunks(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start(init={"thinking": True})  # thinking mode: the plain path
    chunks = ["``", "`py", "thon\nreturn math.pi", " * self.r ** 2\n`", "`", "`\nDone."]
    assert "".join(chunks) == "```python\nreturn math.pi * self.r ** 2\n```\nDone."
    fake.enqueue(Reply(reasoning="Square the radius.", chunks=chunks))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    assert editor.text() == DOC.replace(OLD, NEW)
    assert editor.rec.reasoning(job) == "Square the radius."


async def test_crlf_file_stays_crlf(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    code = "if self.r < 0:\n    raise ValueError(self.r)\nreturn math.pi * self.r ** 2\n"
    fake.enqueue(Reply(content=code, delay=0.002))
    editor.open(URI, DOC.replace("\n", "\r\n"))
    job = await rewrite(editor)
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    want = "        if self.r < 0:\r\n            raise ValueError(self.r)\r\n        return math.pi * self.r ** 2\r\n"
    assert editor.text() == DOC.replace(OLD, want.replace("\r\n", "\n")).replace("\n", "\r\n")


@pytest.mark.parametrize("capabilities", ["visual-studio-code", "neovim"])
async def test_emoji_and_cjk_before_and_inside_the_region(
    start: Start, fake: FakeDeepSeek, capabilities: str
) -> None:
    editor = await start(capabilities=capabilities)
    doc = "# 圆 🎉 shapes\n" + DOC.replace(
        "        a = math.pi", "        a = math.pi  # 面积 🟢\n        a = a"
    ).replace('"circle"', '"圆形 ⭕"')
    old = "        a = math.pi  # 面积 🟢\n        a = a * self.r * self.r\n        return a\n"
    assert old in doc
    code = "# 面积 = π r² 🎯\nreturn math.pi * self.r ** 2  # 😀 done\n"
    fake.enqueue(Reply(content=code, delay=0.002))
    editor.open(URI, doc)
    line = doc[: doc.index(old)].count("\n")
    # the range ends after the emoji comment's line: its columns count in the negotiated encoding
    job = await rewrite(
        editor, {"start": {"line": line, "character": 0}, "end": {"line": line + 3, "character": 0}}
    )
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    want = "        # 面积 = π r² 🎯\n        return math.pi * self.r ** 2  # 😀 done\n"
    assert editor.text() == doc.replace(old, want)
    assert region_text(editor, final) == want


async def test_user_typing_above_mid_stream_is_kept(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    code = "if self.r < 0:\n    raise ValueError(self.r)\nreturn math.pi * self.r ** 2\n"
    fake.enqueue(Reply(content=code, hold_after=6, delay=0.003))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    await fake.wait_for_held()
    await wait_text(editor, lambda t: "if self.r" in t)
    editor.type("import math", "# 导入 🎉\n")
    editor.type("class Circle:", "  # 圆", after=True)
    fake.release()
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    want = DOC.replace(
        OLD,
        "        if self.r < 0:\n            raise ValueError(self.r)\n        return math.pi * self.r ** 2\n",
    )
    want = want.replace("import math", "# 导入 🎉\nimport math").replace(
        "class Circle:", "class Circle:  # 圆"
    )
    assert editor.text() == want
    assert (
        region_text(editor, final)
        == "        if self.r < 0:\n            raise ValueError(self.r)\n        return math.pi * self.r ** 2\n"
    )


async def test_a_neovim_like_client_debounced_didchange_and_dropped_stale_edits(
    start: Start, fake: FakeDeepSeek
) -> None:
    editor = await start(capabilities="neovim")
    editor.debounce, editor.version_step = 0.03, 2
    code = "".join(f"total += item_{i}  # 第{i}步\n" for i in range(40)) + "return total\n"
    fake.enqueue(Reply(content=code, hold_after=30, delay=0.002))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    await fake.wait_for_held()
    await wait_text(editor, lambda t: "total +=" in t)
    editor.type("import math", "# 🎉 above\n")  # typed while an edit may be in flight
    fake.release()
    final = await editor.rec.wait_done(job, timeout=30)
    assert final["state"] == "done", final
    want = "".join("        " + ln + "\n" for ln in code.splitlines())
    assert editor.text() == "# 🎉 above\n" + DOC.replace(OLD, want)
    assert region_text(editor, final) == want


async def test_user_typing_inside_stops_and_leaves_the_text(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    code = "if self.r < 0:\n    raise ValueError(self.r)\nreturn math.pi * self.r ** 2\n"
    fake.enqueue(Reply(content=code, hold_after=6, delay=0.003))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    await fake.wait_for_held()
    await wait_text(editor, lambda t: "if self.r" in t)
    editor.type("if self.r", "XX", after=True)
    left = editor.text()
    fake.release()
    final = await editor.rec.wait_done(job)
    assert final["state"] == "failed" and final["error"]["code"] == "document_changed"
    await asyncio.sleep(0.1)
    assert editor.text() == left and "if self.rXX" in left
    assert any(m.type == types.MessageType.Error for m in editor.rec.messages)


async def test_closing_the_document_mid_stream_stops_the_rewrite(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    fake.enqueue(Reply(content=NEW_CODE * 3, hold_after=4, delay=0.002))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    await fake.wait_for_held()
    await wait_text(editor, lambda t: t != DOC)
    editor.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )
    # a round trip: the server has taken the didClose (and every edit sent before it is counted)
    # before the reply goes on, however loaded the machine
    await command(editor.client, "deepseek.status", {})
    sent = len(editor.edits)
    fake.release()
    final = await editor.rec.wait_done(job)
    assert final["state"] == "failed" and final["error"]["code"] == "document_changed"
    assert "closed" in final["error"]["message"] and len(editor.edits) == sent


async def test_cancel_mid_stream_restores_the_original(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    fake.enqueue(Reply(content=NEW_CODE * 3, hold_after=4, delay=0.002))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    await fake.wait_for_held()
    await wait_text(editor, lambda t: t != DOC)
    result = await command(editor.client, "deepseek.cancel", {"jobId": job})
    assert result == {"cancelled": True}
    final = await editor.rec.wait_done(job)
    assert final["state"] == "cancelled"
    assert editor.text() == DOC
    assert region_text(editor, final) == OLD
    await fake.wait_for_disconnect()


@pytest.mark.parametrize(
    "failure",
    [
        Reply(content=NEW_CODE * 4, cut_after=8, delay=0.003),
        Reply(content=NEW_CODE * 4, error_after=8, delay=0.003),
    ],
    ids=["cut-off", "5xx-mid-stream"],
)
async def test_failure_mid_stream_restores_the_original(
    start: Start, fake: FakeDeepSeek, failure: Reply
) -> None:
    editor = await start()
    fake.enqueue(failure)
    editor.open(URI, DOC.replace("\n", "\r\n"))
    job = await rewrite(editor)
    final = await editor.rec.wait_done(job)
    assert final["state"] == "failed" and final["error"]["code"] in ("truncated", "server_error", "network")
    assert len(editor.edits) >= 1  # something was written, then taken back
    assert editor.text() == DOC.replace("\n", "\r\n")


async def test_reject_after_done_restores_even_after_typing_elsewhere(
    start: Start, fake: FakeDeepSeek
) -> None:
    editor = await start()
    fake.enqueue(Reply(content=NEW_CODE))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    await editor.rec.wait_done(job)
    assert editor.text() == DOC.replace(OLD, NEW)
    editor.type("import math", "# top 🎉\n")
    result = await command(editor.client, "deepseek.reject", {"jobId": job})
    assert result["rejected"] is True
    assert editor.text() == "# top 🎉\n" + DOC


async def test_review_then_accept(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start(init={"review": True})
    fake.enqueue(Reply(content=NEW_CODE))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    review = await editor.rec.wait_for(
        lambda: next((n for n in editor.rec.job(job) if n["state"] == "review"), None)
    )
    assert review["done"] is False and editor.rec.final(job) is None
    assert editor.text() == DOC.replace(OLD, NEW)
    assert (await command(editor.client, "deepseek.accept", {"jobId": job}))["accepted"] is True
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done"
    assert editor.text() == DOC.replace(OLD, NEW)
    assert (await command(editor.client, "deepseek.reject", {"jobId": job}))["rejected"] is False


@pytest.mark.parametrize("how", ["reject", "cancel"])
async def test_review_then_reject_or_cancel_restores(start: Start, fake: FakeDeepSeek, how: str) -> None:
    editor = await start(init={"review": True})
    fake.enqueue(Reply(content=NEW_CODE))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    await editor.rec.wait_for(lambda: any(n["state"] == "review" for n in editor.rec.job(job)))
    editor.type("import math", "# top\n")
    await command(editor.client, f"deepseek.{how}", {"jobId": job})
    final = await editor.rec.wait_done(job)
    assert final["state"] == "cancelled"
    assert editor.text() == "# top\n" + DOC
    assert region_text(editor, final) == OLD


async def test_a_client_answering_applied_false_gets_the_edit_again(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    editor.refuse = 2
    fake.enqueue(Reply(content=NEW_CODE))
    editor.open(URI, DOC)
    job = await rewrite(editor)
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    assert editor.text() == DOC.replace(OLD, NEW)


async def test_write_tests_goes_below_the_class_and_keeps_the_code(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    tests = "def test_area():\n    assert Circle(1).area() == math.pi\n"
    fake.enqueue(Reply(content=tests))
    editor.open(URI, DOC + "\n\nprint(Circle(2).area())\n")
    job = await rewrite(
        editor, {"start": {"line": 7, "character": 0}, "end": {"line": 10, "character": 0}}, action="tests"
    )
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    assert editor.text() == DOC + "\n" + tests + "\n\nprint(Circle(2).area())\n"
    assert "Write unit tests" in fake.requests[-1].body["messages"][-2]["content"]


async def test_write_tests_goes_to_the_open_test_file(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    tests = "def test_name():\n    assert Circle(1).name() == 'circle'\n"
    fake.enqueue(Reply(content=tests))
    editor.open(URI, DOC)
    test_uri = "file:///tmp/project/tests/test_shapes.py"
    editor.open(test_uri, "from shapes import Circle\n")
    job = await rewrite(editor, action="tests")
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done" and final["uri"] == test_uri
    assert editor.text(test_uri) == "from shapes import Circle\n\n" + tests.rstrip("\n") + "\n"
    assert editor.text() == DOC


async def test_code_action_then_command_then_edits(start: Start, fake: FakeDeepSeek) -> None:
    """A client with no plugin of ours: code action, then its command, then edits."""
    editor = await start(
        init={
            "actions": [
                {
                    "name": "typed",
                    "title": "Add type hints",
                    "prompt": "Add type hints to {selection} in {file} ({language}). {instruction}",
                }
            ]
        }
    )
    fake.enqueue(Reply(content=NEW_CODE))
    editor.open(URI, DOC)
    rng = types.Range(start=types.Position(line=8, character=0), end=types.Position(line=10, character=0))
    actions = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=rng,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions is not None
    chosen = next(
        a for a in actions if isinstance(a, types.CodeAction) and a.title == "DeepSeek: Add type hints"
    )
    assert chosen.command is not None
    result = await asyncio.wait_for(
        editor.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=chosen.command.command, arguments=chosen.command.arguments)
        ),
        10,
    )
    job = result["jobId"] if isinstance(result, dict) else result.jobId
    final = await editor.rec.wait_done(job)
    assert final["state"] == "done", final
    assert editor.text() == DOC.replace(OLD, NEW)
    task = fake.requests[-1].body["messages"][-2]["content"]
    assert "Add type hints to         a = math.pi" in task and "shapes.py (python)" in task


async def test_fix_sends_the_diagnostics(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    fake.enqueue(Reply(content=NEW_CODE))
    editor.open(URI, DOC)
    diag = {
        "range": {"start": {"line": 8, "character": 8}, "end": {"line": 8, "character": 9}},
        "message": "variable 'a' is redundant",
        "severity": 2,
        "source": "lint",
    }
    job = await rewrite(editor, action="fix", diagnostics=[diag])
    await editor.rec.wait_done(job)
    assert editor.text() == DOC.replace(OLD, NEW)
    assert (
        "- line 9 (warning, lint): variable 'a' is redundant"
        in fake.requests[-1].body["messages"][-2]["content"]
    )


async def test_a_5000_token_reply_is_batched(start: Start, fake: FakeDeepSeek) -> None:
    editor = await start()
    lines = [f"total += values[{i}] * weights[{i}]  # step {i}" for i in range(500)]
    code = "total = 0\n" + "\n".join(lines) + "\nreturn total\n"
    fake.enqueue(Reply(content=code))  # no delay: as fast as the fake can write
    editor.open(URI, DOC)
    job = await rewrite(editor, instruction="unroll it")  # asked for: far more code than selected
    final = await editor.rec.wait_done(job, timeout=60)
    assert final["state"] == "done", final
    indented = "".join("        " + ln + "\n" for ln in code.splitlines())
    assert editor.text() == DOC.replace(OLD, indented)
    tokens = len(fake.requests[-1].chunk_times) - 3
    assert tokens >= 5000
    assert len(editor.edits) <= len(lines) + 2 + 20, len(editor.edits)


async def test_acceptance_2000_tokens_at_1ms(start: Start, fake: FakeDeepSeek) -> None:
    """At most duration / 50 ms + lines of output edits; the final edit within 100 ms of the
    last token (the fake's send time against the client's receive time, one clock)."""
    editor = await start()
    body = "\n".join(f"acc = combine(acc, item_{i}, weight={i})" for i in range(200))
    code = "acc = start()\n" + body + "\nreturn acc\n"
    fake.enqueue(Reply(content=code, delay=0.001))
    editor.open(URI, DOC)
    job = await rewrite(editor, instruction="unroll it")  # asked for: far more code than selected
    final = await editor.rec.wait_done(job, timeout=60)
    assert final["state"] == "done", final
    assert editor.text() == DOC.replace(OLD, "".join("        " + ln + "\n" for ln in code.splitlines()))
    times = fake.requests[-1].chunk_times
    tokens = len(times) - 3  # role chunk, finish chunk, [DONE]
    assert tokens >= 2000
    first, last = times[1], times[-3]
    duration = last - first
    lines = code.count("\n")
    assert len(editor.edits) <= duration / 0.05 + lines, (len(editor.edits), duration, lines)
    lag = editor.edit_times[-1] - last
    assert lag < 0.1, f"final edit {lag * 1000:.1f} ms after the last token"
