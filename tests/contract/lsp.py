"""A deliberately small LSP client over stdio, written from docs/protocol.md and the LSP spec alone.

It frames and parses every byte the server writes to stdout (anything that is not a
well-formed `Content-Length` frame is recorded as a violation), keeps its own copy of each open
document, applies `workspace/applyEdit` to it like an editor would (sending `didChange` back),
and records every message in arrival order so tests can check ordering.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

STREAM = "deepseek/stream"
_BREAK = re.compile(r"\r\n|\r|\n")


class LspError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.error = error


# -- positions ---------------------------------------------------------------------------
def _units(s: str, enc: str) -> int:
    if enc == "utf-8":
        return len(s.encode("utf-8"))
    if enc == "utf-32":
        return len(s)
    return len(s.encode("utf-16-le")) // 2


def line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _BREAK.finditer(text)]


def to_offset(text: str, pos: dict[str, int], enc: str) -> int:
    starts = line_starts(text)
    line = pos["line"]
    if line >= len(starts):
        return len(text)
    start = starts[line]
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    content = text[start:end].rstrip("\r\n")
    units = 0
    for i, ch in enumerate(content):
        if units >= pos["character"]:
            return start + i
        units += _units(ch, enc)
    return start + len(content)


def to_position(text: str, offset: int, enc: str) -> dict[str, int]:
    starts = line_starts(text)
    line = max(i for i, s in enumerate(starts) if s <= offset)
    return {"line": line, "character": _units(text[starts[line] : offset], enc)}


def span(text: str, rng: dict[str, Any], enc: str) -> tuple[int, int]:
    return to_offset(text, rng["start"], enc), to_offset(text, rng["end"], enc)


def range_of(text: str, start: int, end: int, enc: str) -> dict[str, Any]:
    return {"start": to_position(text, start, enc), "end": to_position(text, end, enc)}


@dataclass
class Doc:
    uri: str
    text: str
    version: int
    language: str = "python"


@dataclass
class ApplyPolicy:
    """How the client answers `workspace/applyEdit`."""

    reject: bool = False
    delay: float = 0.0
    hook: Callable[[dict[str, Any]], None] | None = None  # runs after an edit was applied
    before: Callable[[dict[str, Any]], None] | None = None  # runs when an applyEdit arrives
    answer_delay: float = 0.0  # applied at once (didChange sent), but the answer comes this late
    silent: bool = False  # never answers (nor applies)


@dataclass
class Client:
    proc: asyncio.subprocess.Process
    encodings: list[str] | None
    config: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    docs: dict[str, Doc] = field(default_factory=dict)
    apply: ApplyPolicy = field(default_factory=ApplyPolicy)
    applies: list[dict[str, Any]] = field(default_factory=list)  # applyEdit params, in order
    apply_results: list[dict[str, Any]] = field(default_factory=list)
    started: dict[str, int] = field(default_factory=dict)  # jobId -> the request that started it
    in_flight: int = 0
    max_in_flight: int = 0
    encoding: str = "utf-16"
    init_result: dict[str, Any] = field(default_factory=dict)
    _next_id: int = 0
    _pending: dict[int | str, asyncio.Future[Any]] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    # -- plumbing -----------------------------------------------------------------------
    @classmethod
    async def spawn(
        cls, env: dict[str, str], encodings: list[str] | None = None, config: dict[str, Any] | None = None
    ) -> Client:
        """The real server over stdio, reading its output, not yet initialized."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "deepseek_lsp",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        client = cls(proc=proc, encodings=encodings, config=config or {})
        client._tasks.append(asyncio.create_task(client._read_stdout()))
        client._tasks.append(asyncio.create_task(client._read_stderr()))
        return client

    @classmethod
    async def start(
        cls,
        env: dict[str, str],
        init_options: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        encodings: list[str] | None = None,
        root: str | None = None,
        stream: bool = True,
    ) -> Client:
        """Spawn and initialize. `stream`: announce `experimental.deepseek.stream` (the client
        renders `deepseek/stream`); without it the server treats it as any standard client."""
        client = await cls.spawn(env, encodings=encodings, config=config)
        general: dict[str, Any] = {}
        if encodings is not None:
            general["positionEncodings"] = encodings
        caps = {
            "general": general,
            "window": {"workDoneProgress": True, "showMessage": {}},
            "workspace": {
                "applyEdit": True,
                "workspaceEdit": {"documentChanges": True},
                "configuration": True,
                "didChangeConfiguration": {"dynamicRegistration": True},
                "executeCommand": {},
            },
            "textDocument": {
                "synchronization": {"didSave": True},
                "hover": {"contentFormat": ["markdown", "plaintext"]},
                "codeAction": {
                    "codeActionLiteralSupport": {
                        "codeActionKind": {"valueSet": ["", "quickfix", "refactor", "refactor.rewrite"]}
                    }
                },
            },
        }
        if stream:
            caps["experimental"] = {"deepseek": {"stream": True}}
        root_uri = f"file://{root}" if root else None
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "clientInfo": {"name": "contract-client", "version": "1"},
            "rootUri": root_uri,
            "capabilities": caps,
            "initializationOptions": init_options,
        }
        if root:
            params["workspaceFolders"] = [{"uri": root_uri, "name": "ws"}]
        client.init_result = await client.request("initialize", params)
        enc = client.init_result.get("capabilities", {}).get("positionEncoding", "utf-16")
        client.encoding = enc
        client.notify("initialized", {})
        return client

    def _write(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        body = json.dumps(msg, ensure_ascii=False).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read_stdout(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                length = None
                while True:
                    line = await out.readline()
                    if not line:
                        return
                    self.stdout += line
                    if line == b"\r\n":
                        break
                    m = re.fullmatch(rb"(?i)(content-length|content-type): *(.*?)\r\n", line)
                    if not m:
                        self.violations.append(f"not an LSP header on stdout: {line!r}")
                        continue
                    if m.group(1).lower() == b"content-length":
                        length = int(m.group(2))
                if length is None:
                    self.violations.append("frame without Content-Length")
                    continue
                body = await out.readexactly(length)
                self.stdout += body
                try:
                    msg = json.loads(body)
                except ValueError:
                    self.violations.append(f"frame body is not JSON: {body[:200]!r}")
                    continue
                if msg.get("jsonrpc") != "2.0":
                    self.violations.append(f"not JSON-RPC 2.0: {body[:200]!r}")
                self._dispatch(msg)
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    async def _read_stderr(self) -> None:
        err = self.proc.stderr
        assert err is not None
        while chunk := await err.read(65536):
            self.stderr += chunk

    def _dispatch(self, msg: dict[str, Any]) -> None:
        self.messages.append(msg)
        self._changed.set()
        if "method" in msg and "id" in msg:
            self._tasks.append(asyncio.create_task(self._serve(msg)))
        elif "id" in msg:
            fut = self._pending.pop(msg["id"], None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    async def _serve(self, msg: dict[str, Any]) -> None:
        method: str = msg["method"]
        params: Any = msg.get("params")
        result: Any = None
        error: dict[str, Any] | None = None
        if method == "workspace/configuration":
            result = [self.config.get(item.get("section", "")) for item in params["items"]]
        elif method == "workspace/applyEdit":
            result = await self._apply_edit(params)
        elif method in (
            "window/workDoneProgress/create",
            "client/registerCapability",
            "window/showMessageRequest",
        ):
            result = None
        else:
            error = {"code": -32601, "message": f"unhandled {method}"}
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": msg["id"]}
        if error:
            reply["error"] = error
        else:
            reply["result"] = result
        with contextlib.suppress(ConnectionError):
            self._write(reply)

    async def _apply_edit(self, params: dict[str, Any]) -> dict[str, Any]:
        result = await self._apply_edit_inner(params)
        self.apply_results.append(result)
        return result

    async def _apply_edit_inner(self, params: dict[str, Any]) -> dict[str, Any]:
        self.applies.append(params)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self._changed.set()
        try:
            if self.apply.before:
                self.apply.before(params)
            if self.apply.silent:
                await asyncio.Event().wait()  # an editor that never answers
            if self.apply.delay:
                await asyncio.sleep(self.apply.delay)  # an editor that takes its time
            if self.apply.reject:
                return {"applied": False, "failureReason": "rejected by the test"}
            edit = params["edit"]
            if "documentChanges" not in edit:
                self.violations.append(f"applyEdit without documentChanges: {edit}")
                return {"applied": False}
            for change in edit["documentChanges"]:
                if "textDocument" not in change or "edits" not in change:
                    self.violations.append(f"not a TextDocumentEdit: {change}")
                    return {"applied": False}
                ident = change["textDocument"]
                doc = self.docs.get(ident["uri"])
                if doc is None:
                    self.violations.append(f"applyEdit on a document not open: {ident['uri']}")
                    return {"applied": False}
                if ident.get("version") != doc.version:
                    return {"applied": False, "failureReason": "stale version"}
                self._apply_local(doc, change["edits"])
            if self.apply.hook:
                self.apply.hook(params)
            if self.apply.answer_delay:
                await asyncio.sleep(self.apply.answer_delay)  # applied, answered late
            return {"applied": True}
        finally:
            self.in_flight -= 1
            self._changed.set()

    def _apply_local(self, doc: Doc, edits: list[dict[str, Any]]) -> None:
        """Apply edits given in the document's current coordinates; send didChange like an editor."""
        spans = sorted(
            ((*span(doc.text, e["range"], self.encoding), e["newText"]) for e in edits),
            key=lambda t: t[0],
            reverse=True,
        )
        changes = []
        text = doc.text
        for start, end, new in spans:  # last first: earlier ranges stay valid
            changes.append({"range": range_of(text, start, end, self.encoding), "text": new})
            text = text[:start] + new + text[end:]
        doc.text = text
        doc.version += 1
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": doc.uri, "version": doc.version}, "contentChanges": changes},
        )

    # -- API ----------------------------------------------------------------------------
    def send_request(self, method: str, params: Any) -> int:
        self._next_id += 1
        rid = self._next_id
        self._pending[rid] = asyncio.get_running_loop().create_future()
        self._write({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return rid

    async def response(self, rid: int, timeout: float = 15) -> Any:
        msg = await asyncio.wait_for(self._pending[rid], timeout)
        if "error" in msg:
            raise LspError(msg["error"])
        result = msg.get("result")
        if isinstance(result, dict) and isinstance(result.get("jobId"), str) and "cancelled" not in result:
            self.started.setdefault(result["jobId"], rid)
        return result

    async def request(self, method: str, params: Any, timeout: float = 15) -> Any:
        return await self.response(self.send_request(method, params), timeout)

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    async def command(self, name: str, arg: dict[str, Any], timeout: float = 15) -> Any:
        return await self.request("workspace/executeCommand", {"command": name, "arguments": [arg]}, timeout)

    async def wait_for(self, pred: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
        async def until() -> Any:
            while True:
                self._changed.clear()
                value = pred()
                if value:
                    return value
                await self._changed.wait()

        try:
            return await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    def notifications(self, method: str) -> list[Any]:
        return [m.get("params") for m in self.messages if m.get("method") == method and "id" not in m]

    def stream(self, job_id: str) -> list[dict[str, Any]]:
        return [p for p in self.notifications(STREAM) if p.get("jobId") == job_id]

    def final(self, job_id: str) -> dict[str, Any] | None:
        return next((p for p in self.stream(job_id) if p.get("done")), None)

    async def wait_done(self, job_id: str, timeout: float = 15) -> dict[str, Any]:
        result: dict[str, Any] = await self.wait_for(
            lambda: self.final(job_id), timeout, f"job {job_id} done"
        )
        return result

    async def wait_state(self, job_id: str, state: str, timeout: float = 15) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((p for p in self.stream(job_id) if p.get("state") == state), None)

        result: dict[str, Any] = await self.wait_for(found, timeout, f"job {job_id} state {state}")
        return result

    def errors_shown(self) -> list[str]:
        return [p["message"] for p in self.notifications("window/showMessage") if p.get("type") == 1]

    def open(self, uri: str, text: str, language: str = "python") -> Doc:
        doc = Doc(uri, text, 1, language)
        self.docs[uri] = doc
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}},
        )
        return doc

    def type_text(self, uri: str, start: int, end: int, new: str) -> None:
        """The user edits the document (offsets in the current text)."""
        doc = self.docs[uri]
        self._apply_local(doc, [{"range": range_of(doc.text, start, end, self.encoding), "newText": new}])

    def range(self, uri: str, start: int, end: int) -> dict[str, Any]:
        return range_of(self.docs[uri].text, start, end, self.encoding)

    async def stop(self) -> int:
        if self.proc.returncode is not None:  # already gone (killed, or exited on its own)
            return self.proc.returncode
        with contextlib.suppress(Exception):
            await self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
        try:
            code = await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, 2)
        return code


async def poll(check: Callable[[], Awaitable[Any]], timeout: float = 10, what: str = "condition") -> Any:
    """Ask again until `check` returns something truthy (for state only a request can show)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
