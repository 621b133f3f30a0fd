"""A small, fast LSP client for benchmarks: JSON-RPC over the server's stdio, nothing else.

It stamps every message from the server with `time.perf_counter()` (CLOCK_MONOTONIC, the
clock the fake DeepSeek stamps its chunks with) the moment its last byte is read, answers
the server's requests the way an editor does (`workspace/applyEdit` is applied to its own
copy of the document and followed by a `didChange`), and keeps out of the way otherwise:
no pygls/cattrs parsing on the client side, so the figures are the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Stamped:
    t: float
    params: dict[str, Any]


@dataclass
class Doc:
    uri: str
    text: str
    version: int = 1
    language: str = "python"


@dataclass
class AppliedEdit:
    t: float  # when the applyEdit request was fully read
    text: str  # the whole document after applying it


class LspClient:
    def __init__(self, cmd: list[str], env: dict[str, str] | None = None, stderr: Any = None) -> None:
        self.cmd = cmd
        self.env = env
        self.stderr = stderr if stderr is not None else asyncio.subprocess.DEVNULL
        self.proc: asyncio.subprocess.Process | None = None
        self.spawned = 0.0
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[float, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.streams: list[Stamped] = []
        self.by_job: dict[str, list[Stamped]] = {}
        self.progress: list[Stamped] = []
        self.messages: list[Stamped] = []
        self.docs: dict[str, Doc] = {}
        self.edits: dict[str, list[AppliedEdit]] = {}  # uri -> applied edits
        self.capabilities: dict[str, Any] = {}
        self._changed = asyncio.Event()
        self.on_stream: Callable[[Stamped], None] | None = None

    # -- lifecycle ------------------------------------------------------------------------
    async def spawn(self) -> None:
        self.spawned = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self.stderr,
            env=self.env,
            limit=256 * 1024 * 1024,
        )
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def initialize(self, init_options: dict[str, Any] | None = None) -> float:
        """initialize + initialized; returns the seconds from spawn to the initialize result.

        The client capabilities are VS Code's (as pytest-lsp recorded them) where available:
        a real editor's large capabilities object is part of what the server parses at start.
        """
        params = {
            "processId": os.getpid(),
            "rootUri": None,
            "clientInfo": {"name": "deepseek-lsp-bench", "version": "1"},
            "capabilities": {
                "general": {"positionEncodings": ["utf-16"]},
                "window": {"workDoneProgress": True},
                "workspace": {
                    "applyEdit": True,
                    "workspaceEdit": {"documentChanges": True},
                    "configuration": True,
                    "didChangeConfiguration": {"dynamicRegistration": False},
                },
                "textDocument": {
                    "hover": {"contentFormat": ["markdown", "plaintext"]},
                    "codeAction": {
                        "codeActionLiteralSupport": {
                            "codeActionKind": {"valueSet": ["quickfix", "refactor", "refactor.rewrite"]}
                        }
                    },
                    "synchronization": {"didSave": True},
                },
            },
            "initializationOptions": init_options,
        }
        vscode = _vscode_capabilities()
        if vscode is not None:
            params["capabilities"] = vscode
        # it renders deepseek/stream, as our editor clients announce (docs/protocol.md, Initialization)
        params["capabilities"]["experimental"] = {"deepseek": {"stream": True}}
        t, result = await self.request("initialize", params, timeout=30)
        self.capabilities = result.get("capabilities", {})
        self.notify("initialized", {})
        return t - self.spawned

    @property
    def commands(self) -> list[str]:
        return list((self.capabilities.get("executeCommandProvider") or {}).get("commands") or [])

    async def close(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.request("shutdown", None, timeout=5)
                self.notify("exit", None)
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader

    # -- JSON-RPC -------------------------------------------------------------------------
    def _send(self, msg: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        body = json.dumps(msg, separators=(",", ":")).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def send_request(self, method: str, params: Any) -> tuple[float, asyncio.Future[tuple[float, Any]]]:
        msg_id = next(self._ids)
        fut: asyncio.Future[tuple[float, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        sent = time.perf_counter()
        self._send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return sent, fut

    async def request(self, method: str, params: Any, timeout: float = 10) -> tuple[float, Any]:
        """Returns (time the response was read, result)."""
        _, fut = self.send_request(method, params)
        return await asyncio.wait_for(fut, timeout)

    async def timed(self, method: str, params: Any, timeout: float = 10) -> tuple[float, Any]:
        """Returns (seconds from send to response, result)."""
        sent, fut = self.send_request(method, params)
        t, result = await asyncio.wait_for(fut, timeout)
        return t - sent, result

    async def command(self, name: str, arg: dict[str, Any]) -> tuple[float, float, Any]:
        """workspace/executeCommand: (time sent, time answered, result)."""
        sent, fut = self.send_request("workspace/executeCommand", {"command": name, "arguments": [arg]})
        t, result = await asyncio.wait_for(fut, 10)
        return sent, t, result

    async def _read_loop(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        out = self.proc.stdout
        while True:
            try:
                header = await out.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = 0
            for line in header.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await out.readexactly(length)
            t = time.perf_counter()
            self._dispatch(t, json.loads(body))
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("server exited"))

    def _dispatch(self, t: float, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        if method is None:  # a response
            fut = self._pending.pop(msg.get("id"), None)  # type: ignore[arg-type]
            if fut is not None and not fut.done():
                if "error" in msg:
                    fut.set_exception(RuntimeError(f"LSP error: {msg['error']}"))
                else:
                    fut.set_result((t, msg.get("result")))
            return
        params = msg.get("params")
        if "id" in msg:  # a request from the server
            result = self._answer(t, method, params)
            self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            self._changed.set()
            return
        if method == "deepseek/stream":
            s = Stamped(t, params)
            self.streams.append(s)
            self.by_job.setdefault(params["jobId"], []).append(s)
            if self.on_stream is not None:
                self.on_stream(s)
        elif method == "$/progress":
            self.progress.append(Stamped(t, params))
        elif method == "window/showMessage":
            self.messages.append(Stamped(t, params))
        self._changed.set()

    def _answer(self, t: float, method: str, params: Any) -> Any:
        if method == "workspace/configuration":
            return [None for _ in params.get("items", [])]
        if method == "workspace/applyEdit":
            return self._apply(t, params["edit"])
        return None  # workDoneProgress/create, registerCapability, ...

    # -- documents ------------------------------------------------------------------------
    def open(self, uri: str, text: str, language: str = "python") -> Doc:
        doc = Doc(uri, text, 1, language)
        self.docs[uri] = doc
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}},
        )
        return doc

    def _apply(self, t: float, edit: dict[str, Any]) -> dict[str, Any]:
        """Apply a WorkspaceEdit like an editor: to the buffer, then tell the server (didChange)."""
        changes: list[tuple[str, list[dict[str, Any]]]] = []
        for dc in edit.get("documentChanges") or []:
            if "textDocument" in dc:
                changes.append((dc["textDocument"]["uri"], dc["edits"]))
        for uri, edits in (edit.get("changes") or {}).items():
            changes.append((uri, edits))
        for uri, edits in changes:
            doc = self.docs.get(uri)
            if doc is None:
                return {"applied": False, "failureReason": "document not open"}
            # apply from the end so earlier positions stay valid
            ordered = sorted(
                edits,
                key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
                reverse=True,
            )
            for e in ordered:
                doc.text = _replace(doc.text, e["range"], e["newText"])
            doc.version += 1
            self.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": doc.version},
                    "contentChanges": [{"range": e["range"], "text": e["newText"]} for e in ordered],
                },
            )
            self.edits.setdefault(uri, []).append(AppliedEdit(t, doc.text))
        return {"applied": True}

    # -- waiting --------------------------------------------------------------------------
    async def wait(self, predicate: Callable[[], Any], timeout: float = 30) -> Any:
        deadline = time.perf_counter() + timeout
        while not (value := predicate()):
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError("condition not met in time")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
        return value

    def final(self, job_id: str) -> dict[str, Any] | None:
        for s in reversed(self.by_job.get(job_id, [])):
            if s.params.get("done"):
                return s.params
        return None

    async def wait_done(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        result: dict[str, Any] = await self.wait(lambda: self.final(job_id), timeout)
        return result


def _vscode_capabilities() -> dict[str, Any] | None:
    try:
        import pytest_lsp
    except ImportError:
        return None
    from pathlib import Path

    files = sorted(Path(pytest_lsp.__file__).parent.joinpath("clients").glob("visual_studio_code_*.json"))
    if not files:
        return None
    caps: dict[str, Any] = json.loads(files[-1].read_text())["capabilities"]
    return caps


def _offset(text: str, pos: dict[str, int]) -> int:
    """UTF-16 position -> str offset (the bench's documents are ASCII, where they agree)."""
    line, ch = pos["line"], pos["character"]
    start = 0
    for _ in range(line):
        nl = text.find("\n", start)
        if nl < 0:
            return len(text)
        start = nl + 1
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    return min(start + ch, end)


def _replace(text: str, rng: dict[str, Any], new: str) -> str:
    a, b = _offset(text, rng["start"]), _offset(text, rng["end"])
    return text[:a] + new + text[b:]
