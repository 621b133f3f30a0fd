"""The fake DeepSeek: a real HTTP server on 127.0.0.1 that speaks DeepSeek's wire format.

The language server's end-to-end tests, the editor clients' tests, `deepseek-lsp demo` and the
benchmarks all talk to it over real sockets, so timing, streaming, disconnects and error bodies
behave as they do against api.deepseek.com. Tests script responses with `Reply` objects (in process
with `enqueue`, out of process over the `/_fake/*` control API) and inspect what the client sent in
`requests`. Without a script, a deterministic default responder answers.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from aiohttp import web
from pydantic import ValidationError

from deepseek_lsp.fake.cache import PromptCache, count_tokens, render_chat, render_fim, usage
from deepseek_lsp.fake.replies import default_reply
from deepseek_lsp.fake.script import Reply, error_body, split_tokens

DEFAULT_MODELS = [
    "deepseek-chat",
    "deepseek-reasoner",
    "deepseek-v4-flash",
    "deepseek-v4-pro",
    "deepseek-flash",
]
V3_MODELS = frozenset({"deepseek-chat", "deepseek-reasoner"})
V3_CONTEXT = 131072
V4_CONTEXT = 1_000_000
# Largest max_tokens each model accepts (chat 8K, reasoner 64K, V4 384K).
MAX_OUTPUT = {"deepseek-chat": 8192, "deepseek-reasoner": 65536}
V4_MAX_OUTPUT = 393216
FIM_MAX_OUTPUT = 4096
# The generic mode (`profile="openai"`) plays a local OpenAI-compatible server such as
# llama-cpp-python's: one model served under any name, /v1 only, no key, no /beta, no balance,
# usage only when `stream_options.include_usage` asks for it, and a small context window.
Profile = Literal["deepseek", "openai"]
UsageMode = Literal["if_asked", "never"]
Overflow = Literal["empty", "error"]
OPENAI_MODELS = ["local-model"]
OPENAI_CONTEXT = 4096
REASONING_CONTENT_400 = (
    "The reasoning_content is an intermediate result for display purposes only and will not be "
    "included in the context for inference. Please remove the reasoning_content from your input "
    "messages."
)
_SSE_DONE = b"data: [DONE]\n\n"
_KEEPALIVE = b": keep-alive\n\n"
_JSON_SEPARATORS = (",", ":")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(value: Any) -> str:
    """Compact JSON with raw UTF-8, as DeepSeek sends it."""
    return json.dumps(value, ensure_ascii=False, separators=_JSON_SEPARATORS)


def _sse(value: Any) -> bytes:
    return f"data: {_dumps(value)}\n\n".encode()


class _Rejected(Exception):
    """A request the real API would refuse; carries the response to send."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        plain_text: bool = False,
        type_: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.plain_text = plain_text
        self.type_ = type_
        self.code = code


class _Overflow(Exception):
    """Generic mode: a prompt over the context, answered with an empty 200 (see `overflow`)."""


@dataclass
class RecordedRequest:
    """What a client sent and how the exchange went (times are `time.perf_counter()`).

    `perf_counter` is CLOCK_MONOTONIC on Linux, so the times compare with other processes' clocks.
    `headers["Authorization"]` is replaced by `<valid>`, `<invalid>` or `<missing>`.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    started: float
    auth_ok: bool
    status: int = 200
    stream: bool = False
    reply: dict[str, Any] | None = None
    ended: float | None = None
    chunk_times: list[float] = field(default_factory=list)
    disconnected: bool = False
    disconnected_at: float | None = None
    completed: bool = False
    # the usage this response reports (or would have, for one the client left): the cache
    # accounting of every prompt, cancelled ones included
    usage: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON data (for the control API)."""
        return asdict(self)


@dataclass
class _Plan:
    """The text deltas of one response, after stop strings and max_tokens were applied."""

    events: list[tuple[str, str]]  # ("reasoning" | "content", text)
    thinking_format: bool
    finish_reason: str
    usage: dict[str, Any]

    @property
    def content(self) -> str:
        return "".join(text for kind, text in self.events if kind == "content")

    @property
    def reasoning(self) -> str:
        return "".join(text for kind, text in self.events if kind == "reasoning")


def _is_v4(model: str) -> bool:
    return model not in V3_MODELS


def _thinking(model: str, body: Mapping[str, Any]) -> bool:
    """Whether the request runs in thinking mode (reasoner always; V4 unless disabled)."""
    setting = body.get("thinking")
    kind = setting.get("type") if isinstance(setting, Mapping) else None
    if model == "deepseek-reasoner":
        return True
    if model == "deepseek-chat":
        return kind == "enabled"
    return kind != "disabled"


def _message_text(message: Any) -> str:
    if not isinstance(message, Mapping):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def _cut_chars(pieces: list[str], limit: int) -> list[str]:
    """The leading pieces holding exactly `limit` characters (the last one cut short)."""
    out: list[str] = []
    used = 0
    for piece in pieces:
        if used + len(piece) >= limit:
            if limit > used:
                out.append(piece[: limit - used])
            return out
        out.append(piece)
        used += len(piece)
    return out


def _apply_stop(pieces: list[str], stop: Any) -> tuple[list[str], bool]:
    """Cut the content just before the first stop string; report whether one was found."""
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
    text = "".join(pieces)
    hits = [text.find(s) for s in stops if s and s in text]
    if not hits:
        return pieces, False
    return _cut_chars(pieces, min(hits)), True


def _apply_budget(pieces: list[str], budget: int) -> tuple[list[str], int, bool]:
    """Keep at most `budget` tokens of pieces; return (pieces, tokens used, truncated)."""
    out: list[str] = []
    used = 0
    for piece in pieces:
        tokens = split_tokens(piece)
        if used + len(tokens) > budget:
            keep = "".join(tokens[: budget - used])
            if keep:
                out.append(keep)
            return out, budget, True
        out.append(piece)
        used += len(tokens)
    return out, used, False


class FakeDeepSeek:
    """A fake DeepSeek API server; `async with FakeDeepSeek() as fake: ... fake.base_url`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = "sk-fake",
        models: Sequence[str] | None = None,
        context_limits: Mapping[str, int] | None = None,
        balance: float = 110.0,
        default_delay: float = 0.015,
        profile: Profile = "deepseek",
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.profile: Profile = profile
        # generic mode: "if_asked" (usage with stream_options.include_usage, as the OpenAI API
        # and llama.cpp do) or "never" (a server that reports none)
        self.usage_mode: UsageMode = "if_asked"
        # generic mode, a prompt over the context: "empty" (200 with an empty body) or "error"
        # (llama-cpp-python's 400 `context_length_exceeded`)
        self.overflow: Overflow = "empty"
        # a document FIM answers from when no reply is scripted: what follows the prompt's end
        # in it (a model that guesses right, for benchmarks of typing through suggestions)
        self.fim_oracle: str | None = None
        defaults = OPENAI_MODELS if profile == "openai" else DEFAULT_MODELS
        self.models: list[str] = list(models if models is not None else defaults)
        self.context_limits: dict[str, int] = self._default_limits()
        self.context_limits.update(context_limits or {})
        self.balance = balance
        self.default_delay = default_delay
        self.requests: list[RecordedRequest] = []
        self.info_requests: list[RecordedRequest] = []
        self.cache = PromptCache()
        self._queue: deque[list[Any]] = deque()  # [Reply, remaining uses]
        self._holders: list[asyncio.Future[None]] = []
        self._permits = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._stopping = False

    def _default_limits(self) -> dict[str, int]:
        if self.profile == "openai":
            return dict.fromkeys(self.models, OPENAI_CONTEXT)
        return {m: V3_CONTEXT if m in V3_MODELS else V4_CONTEXT for m in self.models}

    def set_profile(self, profile: Profile, models: Sequence[str] | None = None) -> None:
        """Switch between DeepSeek and the generic mode; models and context limits follow."""
        self.profile = profile
        defaults = OPENAI_MODELS if profile == "openai" else DEFAULT_MODELS
        self.models = list(models if models is not None else defaults)
        self.context_limits = self._default_limits()

    @property
    def generic(self) -> bool:
        return self.profile == "openai"

    def _not_served(self, path: str) -> bool:
        """Generic mode: what llama-cpp-python's server lacks (no /v1, /beta, /user/balance)."""
        return self.generic and (
            not path.startswith("/v1/") or path.startswith("/v1/beta") or path.endswith("/user/balance")
        )

    @staticmethod
    def _not_found() -> web.Response:
        return web.json_response({"detail": "Not Found"}, status=404)

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` (valid after `start()`)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; `port=0` picks a free port."""
        # DeepSeek takes 1M-token prompts (megabytes); aiohttp's default cap is 1 MB
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for prefix in ("", "/v1", "/beta", "/v1/beta"):
            app.router.add_post(f"{prefix}/chat/completions", self._tracked(self._chat))
            app.router.add_get(f"{prefix}/models", self._tracked(self._models))
            app.router.add_get(f"{prefix}/user/balance", self._tracked(self._balance))
        app.router.add_post("/beta/completions", self._tracked(self._fim))
        app.router.add_post("/v1/beta/completions", self._tracked(self._fim))
        # the generic mode's FIM: OpenAI's (legacy) completions with `suffix`, as llama-cpp-python
        app.router.add_post("/completions", self._tracked(self._fim))
        app.router.add_post("/v1/completions", self._tracked(self._fim))
        app.router.add_post("/_fake/enqueue", self._control_enqueue)
        app.router.add_post("/_fake/release", self._control_release)
        app.router.add_post("/_fake/reset", self._control_reset)
        app.router.add_post("/_fake/config", self._control_config)
        app.router.add_get("/_fake/requests", self._control_requests)
        app.router.add_post("/_fake/wait_for_requests", self._control_wait_requests)
        app.router.add_post("/_fake/wait_for_disconnect", self._control_wait_disconnect)
        # handler_cancellation: a client that goes away cancels its handler at once, which is how
        # disconnects are seen promptly even while a response is hanging or held.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._stopping = False

    async def stop(self) -> None:
        """Stop serving; in-flight responses are cut off."""
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDeepSeek:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- test API

    def enqueue(self, *replies: Reply | Mapping[str, Any]) -> None:
        """Script the next completion responses (FIFO; chat and FIM share the queue)."""
        for reply in replies:
            parsed = reply if isinstance(reply, Reply) else Reply.model_validate(reply)
            self._queue.append([parsed, parsed.repeat])

    @property
    def queued_replies(self) -> int:
        """How many scripted responses are left (counting repeats)."""
        return sum(remaining for _, remaining in self._queue)

    def release(self) -> int:
        """Let every response held by `hold_after` continue; returns how many were released.

        With none held, one permit is stored, so the next hold passes straight through (this
        covers the race where a test releases before the server reaches its hold point).
        """
        released = 0
        for future in self._holders:
            if not future.done():
                future.set_result(None)
                released += 1
        self._holders.clear()
        if not released:
            self._permits += 1
        return released

    @property
    def held(self) -> int:
        """How many responses are waiting for `release()`."""
        return sum(1 for f in self._holders if not f.done())

    def reset(self) -> None:
        """Forget the script, the records, the prompt cache, stored release permits and the FIM
        oracle."""
        self._queue.clear()
        self.requests.clear()
        self.info_requests.clear()
        self.cache.clear()
        self._permits = 0
        self.fim_oracle = None

    def _notify(self) -> None:
        """Wake every waiter so it re-checks its condition (records or holds changed)."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _wait(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Wait, event-driven, until `predicate()` holds; TimeoutError after `timeout` s."""
        async with asyncio.timeout(timeout):
            while not predicate():
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter

    def _resolve(self, index: int) -> Callable[[], bool]:
        def exists() -> bool:
            return index < len(self.requests) if index >= 0 else -index <= len(self.requests)

        return exists

    async def wait_for_requests(
        self, n: int = 1, timeout: float = 5.0, *, path: str | None = None
    ) -> list[RecordedRequest]:
        """Wait until `n` completion requests (whose path ends with `path`, if given) arrived."""

        def matching() -> list[RecordedRequest]:
            return [r for r in self.requests if path is None or r.path.endswith(path)]

        await self._wait(lambda: len(matching()) >= n, timeout)
        return matching()

    async def wait_for_disconnect(self, index: int = -1, timeout: float = 5.0) -> RecordedRequest:
        """Wait until the client of `requests[index]` went away; return its record.

        The index is resolved as soon as that request exists. Raises TimeoutError, or
        AssertionError when the response finished without the client disconnecting.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        await self._wait(self._resolve(index), timeout)
        record = self.requests[index]
        remaining = deadline - asyncio.get_running_loop().time()
        await self._wait(lambda: record.disconnected or record.ended is not None, remaining)
        if not record.disconnected:
            raise AssertionError(f"request {index} ended without a client disconnect")
        return record

    async def wait_for_end(self, index: int = -1, timeout: float = 5.0) -> RecordedRequest:
        """Wait until the response to `requests[index]` ended (completed, cut or abandoned)."""
        deadline = asyncio.get_running_loop().time() + timeout
        await self._wait(self._resolve(index), timeout)
        record = self.requests[index]
        remaining = deadline - asyncio.get_running_loop().time()
        await self._wait(lambda: record.ended is not None, remaining)
        return record

    async def wait_for_held(self, n: int = 1, timeout: float = 5.0) -> None:
        """Wait until `n` responses are held by `hold_after`."""
        await self._wait(lambda: self.held >= n, timeout)

    # ---------------------------------------------------------------- plumbing

    def _tracked(self, handler: Handler) -> Handler:
        """Run a handler as a task `stop()` can cancel."""

        async def run(request: web.Request) -> web.StreamResponse:
            if not self.generic and request.path.startswith("/v1/beta"):
                raise web.HTTPNotFound()  # DeepSeek has no /v1/beta: unrouted, unrecorded
            path = request.path
            if (
                not self.generic
                and path.endswith("/completions")
                and "/beta/" not in path
                and "/chat/" not in path
            ):
                raise web.HTTPNotFound()  # FIM is only under /beta at DeepSeek
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                return await handler(request)
            finally:
                self._tasks.discard(task)

        return run

    def _authenticate(self, request: web.Request) -> tuple[bool, str | None, str]:
        """(accepted, presented key, how it looked: valid/invalid/missing)."""
        header = request.headers.get("Authorization")
        key = header[7:].strip() if header and header[:7].lower() == "bearer " else None
        ok = self.api_key is None or key == self.api_key
        shown = "missing" if header is None else ("valid" if ok else "invalid")
        return ok, key, shown

    async def _begin(
        self, request: web.Request, records: list[RecordedRequest]
    ) -> tuple[RecordedRequest, bytes, str | None]:
        started = time.perf_counter()
        raw = await request.read()
        ok, key, shown = self._authenticate(request)
        headers = dict(request.headers)
        for name in list(headers):
            if name.lower() == "authorization":
                headers[name] = f"<{shown}>"
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=headers,
            body=body,
            started=started,
            auth_ok=ok,
        )
        records.append(record)
        self._notify()
        return record, raw, key

    def _unauthorized(self, key: str | None) -> web.Response:
        if self.generic:  # llama-cpp-python's answer (FastAPI's HTTPException)
            return web.json_response({"detail": "Invalid API key"}, status=401)
        if key is None:
            message = "Authentication Fails (no such user)"
        else:
            tail = key[-4:] if len(key) >= 8 else ""
            message = f"Authentication Fails, Your api key: ****{tail} is invalid"
        return self._error_response(401, message)

    def _error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        reply: Reply | None = None,
        type_: str | None = None,
        code: str | None = None,
    ) -> web.Response:
        headers = {"x-ds-trace-id": uuid.uuid4().hex}
        if reply is not None and reply.retry_after is not None:
            retry = reply.retry_after
            headers["Retry-After"] = str(int(retry)) if retry == int(retry) else str(retry)
        if reply is not None and reply.error_message is not None:
            message = reply.error_message
        if reply is not None and reply.plain_text:
            text = message if message is not None else error_body(status)["error"]["message"]
            return web.Response(status=status, text=text, headers=headers)
        body = error_body(
            status,
            message,
            type_=reply.error_type if reply else type_,
            code=reply.error_code if reply else code,
        )
        return web.Response(
            status=status, text=_dumps(body), content_type="application/json", headers=headers
        )

    def _next_reply(self) -> Reply | None:
        if not self._queue:
            return None
        entry = self._queue[0]
        entry[1] -= 1
        if entry[1] <= 0:
            self._queue.popleft()
        reply: Reply = entry[0]
        return reply

    def _mark_disconnected(self, record: RecordedRequest) -> None:
        if not self._stopping and not record.completed:
            record.disconnected = True
            record.disconnected_at = time.perf_counter()
        self._finish_record(record)

    def _finish_record(self, record: RecordedRequest) -> None:
        record.ended = time.perf_counter()
        self._notify()

    async def _run_completion(
        self,
        request: web.Request,
        validate: Callable[[Any, str], tuple[str, list[str], Any]],
        respond: Callable[..., Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Shared flow of the two completion endpoints: record, check, pick the reply, respond."""
        record, raw, key = await self._begin(request, self.requests)
        try:
            if self._not_served(request.path):
                response: web.StreamResponse = self._not_found()
            elif not record.auth_ok:
                response = self._unauthorized(key)
            else:
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise _Rejected(400, f"Failed to parse the request body as JSON: {exc}") from None
                if not isinstance(body, dict):
                    raise _Rejected(400, "Failed to deserialize the JSON body: expected an object")
                record.stream = bool(body.get("stream"))
                model, prompt_tokens, extra = validate(body, request.path)
                if self.balance <= 0 and not self.generic:
                    raise _Rejected(402, "Insufficient Balance")
                reply = self._next_reply()
                record.reply = reply.model_dump(exclude_defaults=True) if reply else None
                if reply is not None and reply.status != 200:
                    response = self._error_response(reply.status, reply=reply)
                elif reply is not None and reply.body is not None:
                    response = web.Response(
                        status=200,
                        body=reply.body.encode(),
                        headers={"Content-Type": reply.body_content_type},
                    )
                    record.completed = True
                else:
                    response = await respond(
                        request,
                        record,
                        body,
                        model,
                        prompt_tokens,
                        extra,
                        reply or Reply(delay=self.default_delay),
                    )
        except _Rejected as rejected:
            response = self._error_response(
                rejected.status, rejected.message, type_=rejected.type_, code=rejected.code
            )
        except _Overflow:
            # what a local server whose generation failed before the first token may send: the
            # stream's headers, then nothing
            response = web.Response(status=200, body=b"", content_type="text/event-stream")
        except asyncio.CancelledError:  # handler_cancellation: the client went away
            self._mark_disconnected(record)
            raise
        except ConnectionError:  # a write found the connection closed
            self._mark_disconnected(record)
            # aiohttp's finish_response swallows the ConnectionError this response will meet.
            return web.Response()
        record.status = response.status
        self._finish_record(record)
        return response

    # ---------------------------------------------------------------- validation

    def _check_model(self, body: Mapping[str, Any]) -> str:
        model = body.get("model")
        if self.generic:  # one model, served under any name (or none), as llama-cpp-python does
            return model if isinstance(model, str) and model in self.models else self.models[0]
        if model is None:
            raise _Rejected(
                400,
                "Failed to deserialize the JSON body into the target type: missing field `model`",
            )
        if not isinstance(model, str) or model not in self.models:
            raise _Rejected(400, "Model Not Exist")
        return model

    @staticmethod
    def _check_range(body: Mapping[str, Any], name: str, low: float, high: float) -> None:
        value = body.get(name)
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise _Rejected(422, f"Invalid {name} value, the valid range of {name} is [{low:g}, {high:g}]")

    def _check_max_tokens(self, body: Mapping[str, Any], limit: int) -> int:
        value = body.get("max_tokens")
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise _Rejected(422, f"Invalid max_tokens value, the valid range of max_tokens is [1, {limit}]")
        return value

    def _check_stop(self, body: Mapping[str, Any]) -> None:
        stop = body.get("stop")
        if stop is None or isinstance(stop, str):
            return
        if not isinstance(stop, list) or len(stop) > 16 or not all(isinstance(s, str) for s in stop):
            raise _Rejected(422, "Invalid stop value: a string or a list of up to 16 strings")

    def _check_context(self, model: str, prompt_tokens: int, max_tokens: int) -> None:
        limit = self.context_limits.get(model, V4_CONTEXT)
        requested = prompt_tokens + max_tokens
        if self.generic and requested > limit:
            if self.overflow == "empty":
                raise _Overflow()
            raise _Rejected(
                400,
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{requested} tokens ({prompt_tokens} in the messages, {max_tokens or None} in the "
                "completion). Please reduce the length of the messages or completion.",
                type_="invalid_request_error",
                code="context_length_exceeded",
            )
        if requested > limit:
            raise _Rejected(
                400,
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{requested} tokens ({prompt_tokens} in the messages, {max_tokens} in the "
                "completion). Please reduce the length of the messages or completion.",
            )

    def _validate_chat(self, body: Any, path: str) -> tuple[str, list[str], Any]:
        messages = body.get("messages")
        if messages is None:
            raise _Rejected(
                400,
                "Failed to deserialize the JSON body into the target type: missing field `messages`",
            )
        model = self._check_model(body)
        if not isinstance(messages, list) or not messages:
            raise _Rejected(400, "Empty input messages")
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in (
                "system",
                "user",
                "assistant",
                "tool",
            ):
                raise _Rejected(
                    400,
                    "Failed to deserialize the JSON body into the target type: messages: unknown "
                    "variant, expected one of `system`, `user`, `assistant`, `tool`",
                )
            if (
                model == "deepseek-reasoner"
                and message["role"] == "assistant"
                and message.get("reasoning_content") is not None
            ):
                raise _Rejected(400, REASONING_CONTENT_400)
        last = messages[-1]
        prefix = last.get("role") == "assistant" and bool(last.get("prefix")) and not self.generic
        if prefix and not path.startswith(("/beta/", "/v1/beta/")):
            raise _Rejected(
                400,
                "Chat prefix completion is a beta feature: use base_url https://api.deepseek.com/beta",
            )
        thinking = _thinking(model, body) and not self.generic
        if not thinking:
            self._check_range(body, "temperature", 0, 2)
            self._check_range(body, "top_p", 0, 1)
            self._check_range(body, "frequency_penalty", -2, 2)
            self._check_range(body, "presence_penalty", -2, 2)
        elif model == "deepseek-reasoner" and body.get("logprobs"):
            raise _Rejected(400, "deepseek-reasoner does not support the parameter `logprobs`")
        self._check_range(body, "top_logprobs", 0, 20)
        self._check_stop(body)
        tools = body.get("tools")
        if tools is not None and (not isinstance(tools, list) or len(tools) > 128):
            raise _Rejected(400, "Invalid tools: a list of at most 128 tools")
        response_format = body.get("response_format")
        if response_format is not None and (
            not isinstance(response_format, dict)
            or response_format.get("type") not in ("text", "json_object")
        ):
            raise _Rejected(422, "Invalid response_format type: expected `text` or `json_object`")
        setting = body.get("thinking")
        if (
            setting is not None
            and not self.generic  # an unknown field: ignored
            and (not isinstance(setting, dict) or setting.get("type") not in ("enabled", "disabled"))
        ):
            raise _Rejected(422, "Invalid thinking type: expected `enabled` or `disabled`")
        limit = MAX_OUTPUT.get(model, V4_MAX_OUTPUT)
        max_tokens = self._check_max_tokens(body, limit)
        tokens = render_chat(messages, tools)
        self._check_context(model, len(tokens), max_tokens)
        return model, tokens, prefix

    def _validate_fim(self, body: Any, path: str) -> tuple[str, list[str], Any]:
        prompt = body.get("prompt")
        if prompt is None:
            raise _Rejected(
                400,
                "Failed to deserialize the JSON body into the target type: missing field `prompt`",
            )
        model = self._check_model(body)
        if model == "deepseek-reasoner" and not self.generic:
            raise _Rejected(400, "FIM completion is not supported by deepseek-reasoner")
        if not isinstance(prompt, str) or not isinstance(body.get("suffix") or "", str):
            raise _Rejected(422, "Invalid prompt or suffix: expected strings")
        self._check_range(body, "temperature", 0, 2)
        self._check_range(body, "top_p", 0, 1)
        self._check_stop(body)
        max_tokens = self._check_max_tokens(body, FIM_MAX_OUTPUT)
        tokens = render_fim(prompt, body.get("suffix"))
        self._check_context(model, len(tokens), max_tokens)
        return model, tokens, None

    # ---------------------------------------------------------------- planning

    def _default_chat(self, body: Mapping[str, Any], thinking: bool, prefix: bool) -> tuple[str, str | None]:
        """The default answer: one that suits the request (see `replies`)."""
        messages = body.get("messages") or []
        user = next((_message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
        content, reasoning = default_reply(user, prefix=prefix)
        response_format = body.get("response_format")
        if isinstance(response_format, Mapping) and response_format.get("type") == "json_object":
            content = _dumps({"answer": content})
        return content, reasoning if thinking else None

    def _plan(
        self,
        body: Mapping[str, Any],
        reply: Reply,
        prompt_tokens: list[str],
        namespace: str,
        default: tuple[str, str | None],
        thinking: bool,
    ) -> _Plan:
        if reply.chunks is not None:
            content = "".join(reply.chunks)
            reasoning = reply.reasoning
        elif reply.content is not None:
            content = reply.content
            reasoning = reply.reasoning
        else:
            content = default[0]
            reasoning = reply.reasoning if reply.reasoning is not None else default[1]
        content_pieces = reply.content_chunks(content)
        reasoning_pieces = split_tokens(reasoning) if reasoning else []
        finish_reason = reply.effective_finish_reason()
        content_pieces, _ = _apply_stop(content_pieces, body.get("stop"))
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int):
            reasoning_pieces, used, cut = _apply_budget(reasoning_pieces, max_tokens)
            if cut:
                content_pieces = []
            else:
                content_pieces, _, cut = _apply_budget(content_pieces, max_tokens - used)
            if cut:
                finish_reason = "length"
        events = [("reasoning", p) for p in reasoning_pieces if p] + [
            ("content", p) for p in content_pieces if p
        ]
        reasoning_tokens = count_tokens("".join(reasoning_pieces))
        completion = reasoning_tokens + count_tokens("".join(content_pieces))
        hit = self.cache.lookup_and_store(namespace, prompt_tokens)
        return _Plan(
            events=events,
            thinking_format=thinking or reasoning is not None,
            finish_reason=finish_reason,
            usage=usage(len(prompt_tokens), hit, completion, reasoning_tokens),
        )

    def _namespace(self, request: web.Request, body: Mapping[str, Any], model: str) -> str:
        _, key, _ = self._authenticate(request)
        return _dumps([key, model, body.get("user_id")])

    # ---------------------------------------------------------------- responding

    async def _forever(self) -> None:
        """Wait until cancelled (client gone or server stopping)."""
        await asyncio.get_running_loop().create_future()

    async def _hold(self) -> None:
        if self._permits:
            self._permits -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._holders.append(future)
        self._notify()
        try:
            await future
        finally:
            if future in self._holders:
                self._holders.remove(future)

    async def _queue_wait(self, response: web.StreamResponse, reply: Reply, filler: bytes) -> None:
        """Sit 'in the queue' for `reply.queued` seconds, sending keep-alive filler."""
        interval = reply.keepalive_interval
        count = int(reply.queued / interval + 1e-9)
        for _ in range(count):
            await asyncio.sleep(interval)
            await response.write(filler)
        rest = reply.queued - count * interval
        if rest > 1e-6:
            await asyncio.sleep(rest)

    def _cut(self, request: web.Request, record: RecordedRequest) -> None:
        """Drop the connection mid-body (what a network cut looks like to the client)."""
        record.completed = False
        transport = request.transport
        if transport is not None:
            transport.close()

    async def _stream(
        self,
        request: web.Request,
        record: RecordedRequest,
        reply: Reply,
        plan: _Plan,
        make_chunk: Callable[[str, str | None, str | None, Any], dict[str, Any]],
        include_usage: bool,
        role_chunk: bool = True,
    ) -> web.StreamResponse:
        """Send `plan` as SSE, honouring every timing and failure option of `reply`."""
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-ds-trace-id": uuid.uuid4().hex,
            },
        )
        await response.prepare(request)
        await self._queue_wait(response, reply, _KEEPALIVE)
        if reply.hang:
            await self._forever()
        if reply.first_delay:
            await asyncio.sleep(reply.first_delay)

        async def send(data: bytes) -> None:
            await response.write(data)
            record.chunk_times.append(time.perf_counter())

        if role_chunk:
            await send(_sse(make_chunk("role", None, None, None)))
        total = len(plan.events)

        def at(counter: int | None, i: int) -> bool:
            return counter is not None and min(counter, total) == i

        for i in range(total + 1):
            if at(reply.cut_after, i):
                if reply.cut_clean:
                    await response.write_eof()
                else:
                    self._cut(request, record)
                return response
            if at(reply.error_after, i):
                await send(_sse(error_body(500, reply.error_message)))
                await response.write_eof()
                return response
            if at(reply.malformed_after, i):
                await send(b'data: {"choices":[{"index":0,"delta":{"content":"lost\n\n')
            if at(reply.hang_after, i):
                await self._forever()
            if at(reply.hold_after, i):
                await self._hold()
            if i > 0 and reply.delay:
                await asyncio.sleep(reply.delay)
            if i == total:
                break
            kind, text = plan.events[i]
            await send(_sse(make_chunk(kind, text, None, None)))
        separate = reply.usage_style == "separate_chunk"
        finish_usage = None if separate else plan.usage
        await send(_sse(make_chunk("finish", "", plan.finish_reason, finish_usage)))
        if separate and include_usage:
            await send(_sse(make_chunk("usage", None, None, plan.usage)))
        await send(_SSE_DONE)
        record.completed = True
        await response.write_eof()
        return response

    async def _whole(
        self,
        request: web.Request,
        record: RecordedRequest,
        reply: Reply,
        plan: _Plan,
        body: dict[str, Any],
    ) -> web.StreamResponse:
        """Send `body` as one JSON document (non-streaming), honouring the reply's options."""
        headers = {"x-ds-trace-id": uuid.uuid4().hex}
        prepared: web.StreamResponse | None = None

        async def prepare() -> web.StreamResponse:
            nonlocal prepared
            if prepared is None:
                prepared = web.StreamResponse(status=200, headers=headers)
                prepared.content_type = "application/json"
                await prepared.prepare(request)
            return prepared

        if reply.queued or reply.hang:
            await self._queue_wait(await prepare(), reply, b"\n")
        if reply.hang or reply.hang_after is not None:
            await self._forever()
        generation = reply.first_delay + reply.delay * max(0, len(plan.events) - 1)
        if generation:
            await asyncio.sleep(generation)
        if reply.hold_after is not None:
            await self._hold()
        if reply.error_after is not None:
            payload = error_body(500, reply.error_message)
            if prepared is None:
                return self._error_response(500, reply.error_message)
        else:
            payload = body
        data = _dumps(payload).encode()
        if reply.cut_after is not None:
            response = await prepare()
            await response.write(data[: len(data) // 2])
            record.chunk_times.append(time.perf_counter())
            if reply.cut_clean:
                await response.write_eof()
            else:
                self._cut(request, record)
            return response
        if prepared is not None:
            await prepared.write(data)
            record.chunk_times.append(time.perf_counter())
            record.completed = True
            await prepared.write_eof()
            return prepared
        record.chunk_times.append(time.perf_counter())
        record.completed = True
        return web.Response(body=data, content_type="application/json", headers=headers)

    # ---------------------------------------------------------------- endpoints

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._run_completion(request, self._validate_chat, self._respond_chat)

    async def _respond_chat(
        self,
        request: web.Request,
        record: RecordedRequest,
        body: dict[str, Any],
        model: str,
        prompt_tokens: list[str],
        prefix: bool,
        reply: Reply,
    ) -> web.StreamResponse:
        thinking = _thinking(model, body) and not self.generic
        plan = self._plan(
            body,
            reply,
            prompt_tokens,
            self._namespace(request, body, model),
            self._default_chat(body, thinking, prefix),
            thinking,
        )
        record.usage = dict(plan.usage)
        ident = str(uuid.uuid4())
        created = int(time.time())
        fingerprint = "fp_8b33d1ac49" if _is_v4(model) else "fp_1c141eb703"
        v4 = _is_v4(model) and not self.generic
        if self.generic:
            plan.usage = {k: plan.usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}

        def chunk(kind: str, text: str | None, finish: str | None, use: Any) -> dict[str, Any]:
            if kind == "role":
                delta: dict[str, Any] = (
                    {"role": "assistant", "content": None, "reasoning_content": ""}
                    if plan.thinking_format
                    else {"role": "assistant", "content": ""}
                )
            elif kind == "reasoning":
                delta = {"content": None, "reasoning_content": text}
            elif plan.thinking_format:
                delta = {"content": text, "reasoning_content": None}
            else:
                delta = {"content": text}
            choices = (
                []
                if kind == "usage"
                else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            )
            out: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
            }
            if not self.generic:
                out["system_fingerprint"] = fingerprint
            if v4 or use is not None:
                out["usage"] = use
            return out

        if body.get("stream"):
            options = body.get("stream_options")
            include = isinstance(options, Mapping) and bool(options.get("include_usage"))
            if self.generic:  # OpenAI's way: a last chunk with no choices, only when asked
                include = include and self.usage_mode == "if_asked"
                reply = reply.model_copy(update={"usage_style": "separate_chunk"})
            return await self._stream(request, record, reply, plan, chunk, include)
        message: dict[str, Any] = {"role": "assistant", "content": plan.content}
        if plan.thinking_format:
            message["reasoning_content"] = plan.reasoning
        whole = {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": plan.finish_reason,
                }
            ],
            "usage": plan.usage,
            "system_fingerprint": fingerprint,
        }
        if self.generic:
            del whole["system_fingerprint"]
            if self.usage_mode == "never":
                del whole["usage"]
        return await self._whole(request, record, reply, plan, whole)

    async def _fim(self, request: web.Request) -> web.StreamResponse:
        return await self._run_completion(request, self._validate_fim, self._respond_fim)

    async def _respond_fim(
        self,
        request: web.Request,
        record: RecordedRequest,
        body: dict[str, Any],
        model: str,
        prompt_tokens: list[str],
        _extra: Any,
        reply: Reply,
    ) -> web.StreamResponse:
        plan = self._plan(
            body,
            reply,
            prompt_tokens,
            self._namespace(request, body, model),
            (self._oracle(str(body.get("prompt") or "")), None),
            False,
        )
        record.usage = dict(plan.usage)
        ident = str(uuid.uuid4())
        created = int(time.time())
        fingerprint = "fp_8b33d1ac49" if _is_v4(model) else "fp_1c141eb703"
        if self.generic:
            plan.usage = {k: plan.usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}

        def chunk(kind: str, text: str | None, finish: str | None, use: Any) -> dict[str, Any]:
            choices = (
                []
                if kind == "usage"
                else [{"text": text or "", "index": 0, "logprobs": None, "finish_reason": finish}]
            )
            out: dict[str, Any] = {
                "id": ident,
                "object": "text_completion",
                "created": created,
                "model": model,
                "system_fingerprint": fingerprint,
                "choices": choices,
            }
            if self.generic:
                del out["system_fingerprint"]
            if use is not None:
                out["usage"] = use
            return out

        if body.get("stream"):
            options = body.get("stream_options")
            include = isinstance(options, Mapping) and bool(options.get("include_usage"))
            if self.generic:  # OpenAI's way: a last chunk with no choices, only when asked
                include = include and self.usage_mode == "if_asked"
                reply = reply.model_copy(update={"usage_style": "separate_chunk"})
            # FIM has no role chunk: the first event already carries text.
            return await self._stream(request, record, reply, plan, chunk, include, False)
        whole = {
            "id": ident,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "text": plan.content,
                    "index": 0,
                    "logprobs": None,
                    "finish_reason": plan.finish_reason,
                }
            ],
            "usage": plan.usage,
            "system_fingerprint": fingerprint,
        }
        if self.generic:
            del whole["system_fingerprint"]
            if self.usage_mode == "never":
                del whole["usage"]
        return await self._whole(request, record, reply, plan, whole)

    def _oracle(self, prompt: str) -> str:
        """The default FIM answer: with `fim_oracle`, the text that follows the prompt's last
        characters in it (up to a blank line, at most 400 characters); else a fixed call."""
        oracle = self.fim_oracle
        if oracle:
            for size in (160, 60, 20):
                tail = prompt[-size:]
                at = oracle.find(tail) if len(tail) == size else -1
                if at >= 0:
                    rest = oracle[at + size : at + size + 400]
                    blank = rest.find("\n\n")
                    return rest if blank < 0 else rest[:blank]
        return "fake_completion()"

    async def _models(self, request: web.Request) -> web.StreamResponse:
        record, _, key = await self._begin(request, self.info_requests)
        if self._not_served(request.path):
            response = self._not_found()
        elif not record.auth_ok:
            response = self._unauthorized(key)
        else:
            owner = "me" if self.generic else "deepseek"
            data = [{"id": m, "object": "model", "owned_by": owner} for m in self.models]
            response = web.json_response({"object": "list", "data": data}, dumps=_dumps)
        record.status = response.status
        record.completed = response.status == 200
        self._finish_record(record)
        return response

    async def _balance(self, request: web.Request) -> web.StreamResponse:
        record, _, key = await self._begin(request, self.info_requests)
        if self._not_served(request.path):
            response = self._not_found()
        elif not record.auth_ok:
            response = self._unauthorized(key)
        else:
            amount = f"{max(self.balance, 0.0):.2f}"
            info = {
                "currency": "CNY",
                "total_balance": amount,
                "granted_balance": "0.00",
                "topped_up_balance": amount,
            }
            response = web.json_response(
                {"is_available": self.balance > 0, "balance_infos": [info]}, dumps=_dumps
            )
        record.status = response.status
        record.completed = response.status == 200
        self._finish_record(record)
        return response

    # ---------------------------------------------------------------- control API

    async def _control_enqueue(self, request: web.Request) -> web.StreamResponse:
        try:
            data = await request.json()
            items = data if isinstance(data, list) else [data]
            replies = [Reply.model_validate(item) for item in items]
        except (ValueError, ValidationError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.enqueue(*replies)
        return web.json_response({"queued": self.queued_replies})

    async def _control_release(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"released": self.release()})

    async def _control_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return web.json_response({"reset": True})

    async def _control_config(self, request: web.Request) -> web.StreamResponse:
        try:
            data = await request.json()
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if not isinstance(data, dict):
            return web.json_response({"error": "expected an object"}, status=400)
        if "api_key" in data:
            self.api_key = data["api_key"]
        if "balance" in data:
            self.balance = float(data["balance"])
        if "default_delay" in data:
            self.default_delay = float(data["default_delay"])
        if "fim_oracle" in data:
            oracle = data["fim_oracle"]
            if oracle is not None and not isinstance(oracle, str):
                return web.json_response({"error": "fim_oracle: expected a string or null"}, status=400)
            self.fim_oracle = oracle
        problem = self._configure_generic(data)
        if problem:
            return web.json_response({"error": problem}, status=400)
        return web.json_response(
            {
                "api_key_set": self.api_key is not None,
                "balance": self.balance,
                "default_delay": self.default_delay,
                "fim_oracle": self.fim_oracle is not None,
                "models": self.models,
                "profile": self.profile,
                "usage": self.usage_mode,
                "overflow": self.overflow,
                "context_limits": self.context_limits,
            }
        )

    def _configure_generic(self, data: Mapping[str, Any]) -> str | None:
        """`profile`, `models`, `usage`, `overflow`, `context_limit` of `/_fake/config`."""
        checks: list[tuple[str, tuple[str, ...]]] = [
            ("profile", get_args(Profile)),
            ("usage", get_args(UsageMode)),
            ("overflow", get_args(Overflow)),
        ]
        for name, allowed in checks:
            if name in data and data[name] not in allowed:
                return f"{name}: expected one of {', '.join(allowed)}"
        models = data.get("models")
        if models is not None and not (
            isinstance(models, list) and models and all(isinstance(m, str) for m in models)
        ):
            return "models: expected a non-empty list of strings"
        limit = data.get("context_limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            return "context_limit: expected a positive integer"
        if "profile" in data or models is not None:
            self.set_profile(data.get("profile", self.profile), models)
        if "usage" in data:
            self.usage_mode = data["usage"]
        if "overflow" in data:
            self.overflow = data["overflow"]
        if limit is not None:
            self.context_limits = dict.fromkeys(self.models, limit)
        return None

    async def _control_requests(self, request: web.Request) -> web.StreamResponse:
        records = self.info_requests if request.query.get("kind") == "info" else self.requests
        return web.json_response([r.to_json() for r in records], dumps=_dumps)

    async def _control_wait_requests(self, request: web.Request) -> web.StreamResponse:
        data = await request.json() if request.can_read_body else {}
        try:
            records = await self.wait_for_requests(int(data.get("n", 1)), float(data.get("timeout", 5.0)))
        except TimeoutError:
            return web.json_response({"error": "timeout"}, status=408)
        return web.json_response([r.to_json() for r in records], dumps=_dumps)

    async def _control_wait_disconnect(self, request: web.Request) -> web.StreamResponse:
        data = await request.json() if request.can_read_body else {}
        try:
            record = await self.wait_for_disconnect(
                int(data.get("index", -1)), float(data.get("timeout", 5.0))
            )
        except TimeoutError:
            return web.json_response({"error": "timeout"}, status=408)
        except AssertionError as exc:
            return web.json_response({"error": str(exc)}, status=409)
        return web.json_response(record.to_json(), dumps=_dumps)
