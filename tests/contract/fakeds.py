"""A deliberately minimal fake DeepSeek, written from DeepSeek's API documentation alone.

Plain asyncio, one request per connection (`Connection: close`), SSE over chunked transfer
encoding exactly as in the reference captures. It records every request and the moment the
client closed the connection, so tests can measure how fast a cancel reaches DeepSeek.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

MODEL = "deepseek-v4-flash"
MODELS = ["deepseek-v4-flash", "deepseek-v4-pro", "deepseek-chat", "deepseek-reasoner"]


@dataclass
class Reply:
    """One scripted answer to a chat completion."""

    content: list[str] = field(default_factory=list)  # answer deltas
    reasoning: list[str] = field(default_factory=list)  # reasoning deltas, sent first
    code: str | None = None  # a rewrite answer: fenced in a plain request, bare in a prefix one
    by_char: bool = False  # stream `code` one character per chunk
    status: int = 200
    message: str = ""  # the error message for status != 200
    plain: bool = False  # the error body as plain text (a 422 has been seen so)
    retry_after: str | None = None
    v4: bool = True  # V4 capture shape ("usage": null on every chunk) or the 2024 one
    cut: bool = False  # end the body without the finish chunk and without [DONE]
    hang_after: int | None = None  # after this many answer chunks, wait until `release` or a disconnect
    release: asyncio.Event | None = None
    delay: float = 0.0  # between two chunks
    error_after: int | None = None  # after this many answer chunks, a data payload with "error", then the end
    finish_reason: str = "stop"
    usage_chunk: bool = False  # usage in an extra `"choices": []` chunk (the docs' form)
    keepalive: float = 0.0  # seconds of `: keep-alive` comments (queued) before the first chunk
    # -- faults (the fault suite, tests/faults) --
    malformed_after: int | None = None  # after this many answer chunks, a data line that is not JSON
    body: bytes | None = None  # a 200 answer with this whole body instead of a stream
    body_type: str = "application/json"  # its Content-Type
    hang_before_headers: bool = False  # read the request, then send nothing until the client leaves
    raw_after: int | None = None  # after this many answer chunks, `raw` bytes in the body, then the end
    raw: bytes = b""


@dataclass
class Seen:
    path: str
    method: str
    headers: dict[str, str]
    body: Any
    started: float
    replied: Reply | None = None
    disconnected: float | None = None  # when the client closed the connection early
    finished: float | None = None  # when we ended the response ourselves
    closed: asyncio.Event = field(default_factory=asyncio.Event)


ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_balance",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


class FakeDeepSeek:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.queue: list[Reply] = []
        self.requests: list[Seen] = []
        self.changed = asyncio.Event()
        self.violations: list[str] = []  # requests that break the API reference
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def enqueue(self, *replies: Reply) -> None:
        self.queue.extend(replies)

    @property
    def completions(self) -> list[Seen]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def fims(self) -> list[Seen]:
        """FIM requests (`POST /beta/completions`)."""
        return [r for r in self.requests if r.path.split("?")[0] == "/beta/completions"]

    async def wait_fims(self, n: int, timeout: float = 10) -> list[Seen]:
        async def until() -> None:
            while len(self.fims) < n:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), timeout)
        return self.fims

    async def wait_closed(self, seen: Seen, timeout: float = 10) -> None:
        await asyncio.wait_for(seen.closed.wait(), timeout)

    async def wait_requests(self, n: int, timeout: float = 10) -> list[Seen]:
        async def until() -> None:
            while len(self.completions) < n:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), timeout)
        return self.completions

    async def __aenter__(self) -> FakeDeepSeek:
        self._server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for r in self.queue:
            if r.release:
                r.release.set()
        for t in list(self._tasks):
            t.cancel()
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    # -- HTTP ---------------------------------------------------------------------------
    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            body: Any = json.loads(raw) if raw else None
            seen = Seen(path=path, method=method, headers=headers, body=body, started=time.monotonic())
            self.requests.append(seen)
            self.changed.set()
            await self._handle(seen, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _handle(self, seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if seen.headers.get("authorization") != f"Bearer {self.api_key}":
            await self._error(writer, 401, "Authentication Fails, Your api key: ****" + "xxxx is invalid")
            return
        path = seen.path.split("?")[0]
        if seen.method == "GET" and path.endswith("/models"):
            data = [{"id": m, "object": "model", "owned_by": "deepseek"} for m in MODELS]
            await self._json(writer, 200, {"object": "list", "data": data})
            return
        if seen.method == "GET" and path.endswith("/user/balance"):
            info = {"currency": "CNY", "total_balance": "110.00", "granted_balance": "10.00"}
            info["topped_up_balance"] = "100.00"
            await self._json(writer, 200, {"is_available": True, "balance_infos": [info]})
            return
        if seen.method == "POST" and path == "/beta/completions":
            self._validate_fim(seen)
            if (seen.body or {}).get("model") not in MODELS:
                await self._error(writer, 400, "Model Not Exist")
                return
            reply = self.queue.pop(0) if self.queue else Reply(content=["ok"])
            seen.replied = reply
            await self._fim(seen, reply, reader, writer)
            return
        if seen.method != "POST" or path not in (
            "/chat/completions",
            "/v1/chat/completions",
            "/beta/chat/completions",
        ):
            await self._error(writer, 404, f"no route {path}")
            return
        self._validate(seen)
        if (seen.body or {}).get("model") not in MODELS:
            await self._error(writer, 400, "Model Not Exist")
            return
        reply = self.queue.pop(0) if self.queue else Reply(content=["ok"])
        seen.replied = reply
        if reply.hang_before_headers:
            with contextlib.suppress(Exception):
                while await reader.read(1024):
                    pass
            seen.disconnected = time.monotonic()
            seen.closed.set()
            self.changed.set()
            return
        if reply.body is not None:
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: {reply.body_type}\r\nContent-Length: {len(reply.body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + reply.body
            )
            await writer.drain()
            seen.finished = time.monotonic()
            return
        if reply.status != 200 and reply.plain:
            data = reply.message.encode()
            writer.write(
                f"HTTP/1.1 {reply.status} X\r\nContent-Type: text/plain\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            seen.finished = time.monotonic()
            return
        if reply.status != 200:
            extra = {"Retry-After": reply.retry_after} if reply.retry_after is not None else {}
            await self._error(writer, reply.status, reply.message or "error", extra)
            seen.finished = time.monotonic()
            return
        await self._stream(seen, reply, reader, writer)

    def _validate(self, seen: Seen) -> None:
        """What the reference says a chat request looks like."""
        body = seen.body
        bad = self.violations.append
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            bad(f"no messages: {body!r}"[:300])
            return
        if seen.headers.get("content-type", "").split(";")[0] != "application/json":
            bad("the request body is not declared JSON")
        if body.get("stream") is not True:
            bad("a request without stream=true (every job streams)")
        for m in body["messages"]:
            if m.get("role") not in ("system", "user", "assistant", "tool"):
                bad(f"role {m.get('role')!r}")
            if not isinstance(m.get("content"), str):
                bad(f"content is not a string: {m!r}"[:300])
            if m.get("prefix") and not seen.path.startswith("/beta"):
                bad("a prefix completion outside /beta")
            if m.get("prefix") and m is not body["messages"][-1]:
                bad("a prefix message that is not the last")
        if "temperature" in body and not 0 <= body["temperature"] <= 2:
            bad(f"temperature {body['temperature']}")
        if "max_tokens" in body and not (isinstance(body["max_tokens"], int) and body["max_tokens"] > 0):
            bad(f"max_tokens {body['max_tokens']}")
        thinking = body.get("thinking")
        if thinking is not None and thinking not in ({"type": "enabled"}, {"type": "disabled"}):
            bad(f"thinking {thinking}")
        if body.get("reasoning_effort") not in (None, "low", "medium", "high", "max"):
            bad(f"reasoning_effort {body['reasoning_effort']}")
        stop = body.get("stop")
        if stop is not None and not (isinstance(stop, str) or (isinstance(stop, list) and len(stop) <= 16)):
            bad(f"stop {stop}")

    def _validate_fim(self, seen: Seen) -> None:
        """What the reference says a FIM request looks like: `model` (a non-thinking one),
        `prompt`, `suffix`, `max_tokens` <= 4K, `stop` (a string or up to 16), `stream`."""
        body = seen.body
        bad = self.violations.append
        if not isinstance(body, dict) or not isinstance(body.get("prompt"), str):
            bad(f"FIM without a prompt: {body!r}"[:300])
            return
        if body.get("model") == "deepseek-reasoner":
            bad("FIM with a thinking model")
        if "thinking" in body and body["thinking"] != {"type": "disabled"}:
            bad(f"FIM in thinking mode: {body['thinking']}")
        if "messages" in body:
            bad("FIM with chat messages")
        if not isinstance(body.get("suffix", ""), str):
            bad(f"suffix {body.get('suffix')!r}")
        tokens = body.get("max_tokens")
        if tokens is not None and not (isinstance(tokens, int) and 0 < tokens <= 4096):
            bad(f"FIM max_tokens {tokens}")
        stop = body.get("stop")
        if stop is not None and not (isinstance(stop, str) or (isinstance(stop, list) and len(stop) <= 16)):
            bad(f"stop {stop}")
        if body.get("stream") not in (None, True, False):
            bad(f"stream {body.get('stream')!r}")

    async def _fim(
        self, seen: Seen, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """A FIM answer: `text_completion` chunks (`choices[].text`) streamed, or one JSON body."""
        body = seen.body or {}
        base = {"id": "f1ee", "object": "text_completion", "created": 1781233924, "model": body.get("model")}
        base["system_fingerprint"] = "fp_8b33"
        text = "".join(reply.content)
        usage = {
            "prompt_tokens": 40,
            "completion_tokens": max(1, len(text) // 4),
            "total_tokens": 40 + max(1, len(text) // 4),
            "prompt_cache_hit_tokens": 0,
            "prompt_cache_miss_tokens": 40,
        }
        if not body.get("stream"):
            choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": reply.finish_reason}
            await self._json(writer, 200, {**base, "choices": [choice], "usage": usage})
            seen.finished = time.monotonic()
            return
        watcher = self._open_sse(reader, writer, seen)
        event = _sse_event

        try:
            for i, piece in enumerate(reply.content):
                if reply.hang_after is not None and i == reply.hang_after:
                    await self._hang(seen, reply)
                choice = {"text": piece, "index": 0, "logprobs": None, "finish_reason": None}
                writer.write(event({**base, "choices": [choice]}))
                await writer.drain()
                if reply.delay:
                    await _pause(seen, reply.delay)
                if seen.closed.is_set():
                    raise ConnectionResetError
            if reply.hang_after is not None and reply.hang_after >= len(reply.content):
                await self._hang(seen, reply)
            last = {"text": "", "index": 0, "logprobs": None, "finish_reason": reply.finish_reason}
            writer.write(event({**base, "choices": [last], "usage": usage}))
            data = b"data: [DONE]\n\n"
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
            await writer.drain()
            seen.finished = time.monotonic()
        except ConnectionError:
            pass
        finally:
            if seen.finished is None and seen.disconnected is None:
                seen.finished = time.monotonic()
            watcher.cancel()
            self.changed.set()

    def _open_sse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen, headers: bytes = b""
    ) -> asyncio.Task[None]:
        """Send an SSE response's head; the task it returns marks `seen` when the client hangs up."""
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n"
            + headers
            + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )

        async def watch() -> None:
            with contextlib.suppress(Exception):
                while await reader.read(1024):
                    pass
            if seen.finished is None:
                seen.disconnected = time.monotonic()
            seen.closed.set()
            self.changed.set()

        return asyncio.get_running_loop().create_task(watch())

    async def _json(
        self, writer: asyncio.StreamWriter, status: int, obj: Any, extra: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(obj).encode()
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n"
        for k, v in (extra or {}).items():
            head += f"{k}: {v}\r\n"
        writer.write(head.encode() + b"\r\n" + data)
        await writer.drain()

    async def _error(
        self, writer: asyncio.StreamWriter, status: int, message: str, extra: dict[str, str] | None = None
    ) -> None:
        body = {
            "error": {
                "message": message,
                "type": ERROR_TYPES.get(status, "error"),
                "param": None,
                "code": str(status),
            }
        }
        await self._json(writer, status, body, extra)

    async def _stream(
        self, seen: Seen, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        body = seen.body or {}
        model = body.get("model", MODEL)
        messages = body.get("messages") or [{}]
        prefix = bool(messages[-1].get("prefix")) and messages[-1].get("role") == "assistant"
        thinking = bool(reply.reasoning)
        content = list(reply.content)
        skip = 0
        if reply.code is not None:
            pieces = list(reply.code) if reply.by_char else reply.code.splitlines(keepends=True)
            if prefix:  # the assistant turn already opened the fence; the stop sequence ends it
                content = pieces
            else:
                content = ["```python\n", *pieces, "```"]
                skip = 1  # hang_after and error_after count the code's pieces, not the fence
        watcher = self._open_sse(reader, writer, seen, b"x-ds-trace-id: contract\r\n")
        base = {"id": "c0ffee", "object": "chat.completion.chunk", "created": 1781233924, "model": model}
        base["system_fingerprint"] = "fp_8b33"

        def chunk(
            delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None
        ) -> bytes:
            obj: dict[str, Any] = dict(base)
            obj["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            if usage is not None or reply.v4:
                obj["usage"] = usage
            return _sse_event(obj)

        async def send(data: bytes) -> None:
            if seen.closed.is_set():
                raise ConnectionResetError
            writer.write(data)
            await writer.drain()
            if reply.delay:
                await _pause(seen, reply.delay)
            if seen.closed.is_set():
                raise ConnectionResetError

        try:
            loop = asyncio.get_running_loop()
            until = loop.time() + reply.keepalive
            while loop.time() < until:
                data = b": keep-alive\n\n"
                writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                await writer.drain()
                await _pause(seen, 0.05)
                if seen.closed.is_set():
                    raise ConnectionResetError
            first: dict[str, Any] = {"role": "assistant", "content": ""}
            if thinking:
                first = {"role": "assistant", "content": None, "reasoning_content": ""}
            await send(chunk(first))
            for r in reply.reasoning:
                await send(chunk({"content": None, "reasoning_content": r}))
            for i, c in enumerate(content):
                if reply.hang_after is not None and i == reply.hang_after + skip:
                    await self._hang(seen, reply)
                if reply.malformed_after is not None and i == reply.malformed_after + skip:
                    data = b'data: {"choices":[{"index":0,"delta":{"content":"lo\n\n'
                    await send(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                if reply.raw_after is not None and i == reply.raw_after + skip:
                    await send(f"{len(reply.raw):x}\r\n".encode() + reply.raw + b"\r\n")
                    reply.cut = True
                    break
                if reply.error_after is not None and i == reply.error_after + skip:
                    err = {
                        "error": {
                            "message": "Internal error",
                            "type": "server_error",
                            "param": None,
                            "code": None,
                        }
                    }
                    data = b"data: " + json.dumps(err).encode() + b"\n\n"
                    await send(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    reply.cut = True
                    break
                delta: dict[str, Any] = {"content": c}
                if thinking:
                    delta["reasoning_content"] = None
                await send(chunk(delta))
            if reply.hang_after is not None and reply.hang_after + skip >= len(content):
                await self._hang(seen, reply)
            if not reply.cut:
                text = "".join(content)
                usage: dict[str, Any] = {
                    "prompt_tokens": 12,
                    "completion_tokens": max(1, len(text) // 4),
                    "total_tokens": 12 + max(1, len(text) // 4),
                    "prompt_cache_hit_tokens": 0,
                    "prompt_cache_miss_tokens": 12,
                }
                if thinking:
                    usage["completion_tokens_details"] = {"reasoning_tokens": len(reply.reasoning)}
                if reply.usage_chunk:
                    await send(chunk({"content": ""}, reply.finish_reason))
                    obj = {**base, "choices": [], "usage": usage}
                    data = b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"
                    await send(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                else:
                    await send(chunk({"content": ""}, reply.finish_reason, usage))
                data = b"data: [DONE]\n\n"
                await send(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            seen.finished = time.monotonic()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            if seen.finished is None and seen.disconnected is None:
                seen.finished = time.monotonic()
            watcher.cancel()
            self.changed.set()

    async def _hang(self, seen: Seen, reply: Reply) -> None:
        waits = [asyncio.ensure_future(seen.closed.wait())]
        if reply.release is not None:
            waits.append(asyncio.ensure_future(reply.release.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if seen.closed.is_set():
            raise ConnectionResetError


async def _pause(seen: Seen, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(seen.closed.wait(), delay)


def _sse_event(obj: Any) -> bytes:
    """One `data:` event as an HTTP chunk."""
    data = b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"
