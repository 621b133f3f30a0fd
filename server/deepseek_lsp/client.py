"""The DeepSeek HTTP client: one pooled httpx.AsyncClient, streaming chat, retries, FIM.

Retries happen only before any token reached the caller: once text is on the user's screen,
a retry would show it twice. Cancelling the consuming task closes the HTTP stream at once
(httpx drops a connection whose body was not read to the end).

FIM (`complete_fim`, inline completion) is never retried: a suggestion that comes late is worse
than none, and the next keystroke asks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import __version__
from .api import Balance, ChatChunk, CompletionDetails, ErrorBody, ModelList, Usage
from .errors import DeepSeekError, ErrorCode, advice, from_status
from .payload import encode_body
from .provider import ProviderName, host_of, is_deepseek_host, v1_hint
from .sse import DONE, SSEParser
from .tokens import estimate_tokens, estimate_usage

if TYPE_CHECKING:
    import httpx  # imported on first use: ~6 MB and 20-50 ms that cold start need not pay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None
    connect_timeout: float = 10.0
    idle_timeout: float = 60.0  # between any two bytes; keep-alive comments reset it
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    # DeepSeek's API or a generic OpenAI-compatible server (see `provider.py`): whether a key is
    # required, and how messages name the server.
    provider: ProviderName = "deepseek"


class EstimatedUsage(Usage):
    """Usage counted here, with the tokenizer, because the server reported none."""


@dataclass
class StreamDelta:
    content: str | None = None
    reasoning: str | None = None


@dataclass
class FimResult:
    """A FIM answer: its text and what the server reported with it."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None  # an `EstimatedUsage` when the server reported none
    done: bool = False
    stopped: bool = False  # the caller ended the stream early (it had what it wanted)


# A FIM answer that takes longer than this between two bytes is of no use to a typing user.
FIM_IDLE_TIMEOUT = 15.0


@dataclass
class StreamResult:
    """What a finished stream reported besides its text."""

    finish_reason: str | None = None
    usage: Usage | None = None  # an `EstimatedUsage` when the server reported none
    attempts: int = 0
    done: bool = False

    @property
    def estimated(self) -> bool:
        return isinstance(self.usage, EstimatedUsage)


class DeepSeekClient:
    def __init__(self, config: ClientConfig) -> None:
        self._config = config
        self._http: httpx.AsyncClient | None = None

    @property
    def config(self) -> ClientConfig:
        return self._config

    def reconfigure(self, config: ClientConfig) -> None:
        """New settings; the pool is rebuilt lazily (running streams keep their connection)."""
        if config != self._config:
            old, self._http = self._http, None
            self._config = config
            if old is not None:
                asyncio.get_running_loop().create_task(old.aclose())

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = _new_http(self._config)
        return self._http

    def warm(self) -> None:
        """Import httpx and build the pool (its SSL context: ~20 ms) before the first request.

        Meant for a worker thread while the user is about to act; a request that starts
        meanwhile builds its own pool and this one is dropped unused (it holds no connection).
        """
        config = self._config
        if self._http is None:
            http = _new_http(config)
            if self._http is None and self._config is config:
                self._http = http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _headers(self) -> dict[str, str]:
        key = self._config.api_key
        if key:
            return {"Authorization": f"Bearer {key}"}
        if self._config.provider != "deepseek":
            return {}  # a generic server gets no Authorization header without a key
        hint = ""
        if not is_deepseek_host(self._config.base_url):
            hint = (
                f" If the server at {self._host} needs no key, set `deepseek.provider` to "
                '"openai" (a generic OpenAI-compatible server).'
            )
        raise DeepSeekError(
            "unauthorized",
            "No DeepSeek API key is set. Set DEEPSEEK_API_KEY in the environment the editor "
            f"starts from, or the `deepseek.apiKey` setting.{hint}",
        )

    @property
    def _server(self) -> str:
        """The server as messages name it: DeepSeek, or the server at host[:port]."""
        return "DeepSeek" if self._config.provider == "deepseek" else f"the server at {self._host}"

    async def stream_chat(
        self, body: dict[str, Any], result: StreamResult, *, beta: bool = False
    ) -> AsyncIterator[StreamDelta]:
        """POST /chat/completions with stream=true; yields text deltas, fills `result`.

        Raises DeepSeekError; a stream that ends without [DONE] raises `truncated`.
        """
        payload = {**body, "stream": True}
        # standard OpenAI: servers that can report usage in a stream (llama.cpp does) do so
        payload.setdefault("stream_options", {"include_usage": True})
        path = "/beta/chat/completions" if beta else "/chat/completions"
        attempt = 0
        content: list[str] = []
        reasoning: list[str] = []
        while True:
            attempt += 1
            result.attempts = attempt
            yielded = False
            try:
                async for delta in self._stream_once(path, payload, result):
                    yielded = True
                    if delta.content:
                        content.append(delta.content)
                    if delta.reasoning:
                        reasoning.append(delta.reasoning)
                    yield delta
                break
            except DeepSeekError as err:
                if not yielded and _refused_stream_options(err, payload):
                    log.info("the server refused stream_options; asking again without it")
                    payload.pop("stream_options")
                    attempt -= 1
                    continue
                if not yielded and err.status in (400, 404, 422) and payload.get("model"):
                    err = await self._unknown_model(str(payload["model"]), err)
                    if err.status == 404 and err.code == "bad_request" and "/v1" not in err.message:
                        err = self._with_hint(err, path)
                    raise err from None
                if yielded or not err.retryable or attempt > self._config.max_retries:
                    raise
                await asyncio.sleep(self._backoff(attempt, err.retry_after))
                log.info("retrying the request to %s (attempt %d): %s", self._host, attempt + 1, err.code)
        if result.usage is None and result.done:
            # the server reported none: count with the tokenizer (off the event loop; it may
            # load the tokenizer or count a long prompt) and say it is an estimate
            messages = payload.get("messages") or []
            counts = await asyncio.to_thread(estimate_usage, messages, "".join(content), "".join(reasoning))
            result.usage = EstimatedUsage(
                prompt_tokens=counts.prompt,
                completion_tokens=counts.completion,
                total_tokens=counts.prompt + counts.completion,
                completion_tokens_details=CompletionDetails(reasoning_tokens=counts.reasoning),
            )

    def fim_url(self) -> str:
        """Where FIM goes: DeepSeek's `/beta/completions` (at the API's root: DeepSeek has no
        `/v1/beta`), or a generic server's `/completions` with `suffix` (llama.cpp's and
        llama-cpp-python's OpenAI-compatible servers take it)."""
        base = self._config.base_url.rstrip("/")
        if self._config.provider != "deepseek":
            return f"{base}/completions"
        if base.endswith("/v1"):
            base = base[:-3]
        return f"{base}/beta/completions"

    async def complete_fim(
        self, body: dict[str, Any], *, on_text: Callable[[str], bool] | None = None
    ) -> FimResult:
        """POST a fill-in-the-middle completion (streamed when `body["stream"]`) and return its
        text. `on_text(text so far)` runs after each network read of a stream; True ends the
        stream there (its connection is closed: no more tokens are generated or billed).
        Cancelling the caller closes the connection at once. Raises DeepSeekError; no retries."""
        import httpx

        url = self.fim_url()
        headers = {**self._headers(), "Content-Type": "application/json"}
        config = self._config
        timeout = httpx.Timeout(min(config.idle_timeout, FIM_IDLE_TIMEOUT), connect=config.connect_timeout)
        result = FimResult()
        try:
            async with self._client().stream(
                "POST", url, content=encode_body(body), headers=headers, timeout=timeout
            ) as resp:
                if resp.status_code != 200:
                    await resp.aread()
                    err = self._redact(_http_error(resp, self._server))
                    if resp.status_code == 404 and err.code == "bad_request":
                        err = DeepSeekError(
                            err.code,
                            f"{_cap(self._server)} has no FIM endpoint ({url} answered 404).",
                            status=404,
                        )
                    raise err
                chunks = resp.aiter_bytes()
                head = await _head(chunks)
                if _is_sse(resp.headers.get("content-type", ""), head):
                    await self._fim_events(head, chunks, result, on_text)
                else:
                    data = await _rest(head, chunks)
                    self._redact_call(_fim_whole, data, self._host, result)
        except httpx.TimeoutException as exc:
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
            raise DeepSeekError(
                "timeout", f"{self._host} did not answer the completion in time ({kind} timeout)."
            ) from None
        except (httpx.TransportError, OSError) as exc:
            if isinstance(exc, httpx.RemoteProtocolError):
                raise _truncated(self._server) from None
            raise DeepSeekError(
                "network",
                f"Could not reach {self._server} at {config.base_url} ({type(exc).__name__}). "
                "Check the network and `deepseek.baseUrl`.",
            ) from None
        if not result.done:
            raise _truncated(self._server)
        if result.usage is None:
            # the server reported none (or the stream was ended early): an estimate, without
            # loading the tokenizer for a keystroke's request
            prompt = estimate_tokens(str(body.get("prompt") or "")) + estimate_tokens(
                str(body.get("suffix") or "")
            )
            completion = estimate_tokens(result.text)
            result.usage = EstimatedUsage(
                prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
            )
        return result

    async def _fim_events(
        self,
        head: bytes,
        chunks: AsyncIterator[bytes],
        result: FimResult,
        on_text: Callable[[str], bool] | None,
    ) -> None:
        parser = SSEParser()
        parts: list[str] = []
        raw: bytes | None = head
        while raw is not None:
            events = parser.feed(raw)
            before = len(parts)
            for data in events:
                piece = self._redact_fim(data, result)
                if piece:
                    parts.append(piece)
                if result.done:
                    break
            result.text = "".join(parts) if len(parts) != before else result.text
            if result.done:
                await _drain(chunks)
                return
            if on_text is not None and len(parts) != before and on_text(result.text):
                result.done = result.stopped = True
                result.finish_reason = result.finish_reason or "stop"
                return
            raw = await anext(chunks, None)
        for data in parser.close():
            piece = self._redact_fim(data, result)
            if piece:
                parts.append(piece)
        result.text = "".join(parts)

    def _redact_fim(self, data: str, result: FimResult) -> str | None:
        try:
            return _fim_event(data, result, self._host)
        except DeepSeekError as err:
            raise self._redact(err) from None

    def _with_hint(self, err: DeepSeekError, path: str) -> DeepSeekError:
        """A 404 for the chat endpoint: most likely the base URL lacks the API's /v1."""
        return DeepSeekError(
            err.code,
            f"{err.message.rstrip('.')} for {path}. {v1_hint(self._config.base_url)}",
            status=err.status,
        )

    async def _unknown_model(self, model: str, err: DeepSeekError) -> DeepSeekError:
        """A refused request for a model GET /models does not list: name the ones it does.

        A generic server is asked only when its error is about the model: a single-model server
        (llama.cpp) lists a file name and serves any model name, so a 400 there is something else.
        """
        if self._config.provider != "deepseek" and not _about_the_model(err.message):
            return err
        try:
            listed = await self.list_models()
        except Exception:
            return err
        if not listed or model in listed:
            return err
        return DeepSeekError(
            "bad_request",
            f"{_cap(self._server)} has no model “{model}”; available: {', '.join(listed)}. "
            "Set `deepseek.model` to one of them, or leave it unset.",
            status=err.status,
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), 60.0)
        base = min(self._config.backoff_max, self._config.backoff_base * 2 ** (attempt - 1))
        return base / 2 + random.uniform(0, base / 2)  # "equal jitter"

    async def _stream_once(
        self, path: str, payload: dict[str, Any], result: StreamResult
    ) -> AsyncIterator[StreamDelta]:
        import httpx

        headers = {**self._headers(), "Content-Type": "application/json"}
        content = encode_body(payload)
        try:
            async with self._client().stream("POST", path, content=content, headers=headers) as resp:
                if resp.status_code != 200:
                    await resp.aread()
                    raise self._redact(_http_error(resp, self._server))
                chunks = resp.aiter_bytes()
                head = await _head(chunks)
                if not _is_sse(resp.headers.get("content-type", ""), head):
                    body = await _rest(head, chunks)
                    delta = self._redact_call(
                        _whole_body,
                        body,
                        resp.headers.get("content-type", ""),
                        self._host,
                        result,
                        payload,
                    )
                    if delta is not None:
                        yield delta
                    return
                parser = SSEParser()
                raw: bytes | None = head
                events = 0
                while raw is not None:
                    batch = parser.feed(raw)
                    events += len(batch)
                    delta = self._events(batch, result)
                    if delta is not None:
                        yield delta
                    if result.done:
                        return
                    raw = await anext(chunks, None)
                batch = parser.close()
                events += len(batch)
                delta = self._events(batch, result)
                if delta is not None:
                    yield delta
                if not events and self._config.provider != "deepseek":
                    # keep-alive comments, then the end: a local server whose generation failed
                    # before its first token (llama-cpp-python, a prompt over its context)
                    raise empty_answer(self._host, payload)
        except httpx.TimeoutException as exc:
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
            raise DeepSeekError(
                "timeout",
                f"{self._host} did not answer in time ({kind} timeout). Check the network, or raise "
                "`deepseek.timeouts`.",
                retryable=kind == "connect",
            ) from None
        except (httpx.TransportError, OSError) as exc:
            if isinstance(exc, httpx.RemoteProtocolError):
                raise _truncated(self._server) from None
            what = "DeepSeek" if self._config.provider == "deepseek" else "the server"
            raise DeepSeekError(
                "network",
                f"Could not reach {what} at {self._config.base_url} ({type(exc).__name__}). "
                "Check the network and `deepseek.baseUrl`.",
                retryable=True,
            ) from None
        if not result.done:
            raise _truncated(self._server)

    @property
    def _host(self) -> str:
        """Who answered, for messages: users may point `deepseek.baseUrl` at a local server."""
        return host_of(self._config.base_url)  # cached: it is passed along with every event

    async def get_json(self, path: str) -> Any:
        import httpx

        try:
            resp = await self._client().get(path, headers=self._headers())
        except httpx.TimeoutException:
            raise DeepSeekError("timeout", advice("timeout", self._server)) from None
        except (httpx.TransportError, OSError) as exc:
            raise DeepSeekError(
                "network",
                f"Could not reach {self._config.base_url} ({type(exc).__name__}).",
            ) from None
        if resp.status_code != 200:
            err = self._redact(_http_error(resp, self._server))
            if resp.status_code == 404 and err.code == "bad_request":
                err = self._with_hint(err, path)
            raise err
        return resp.json()

    def _events(self, events: list[str], result: StreamResult) -> StreamDelta | None:
        """The deltas of the events one network read brought, as one: when DeepSeek outpaces
        us, reads carry many events, and one notification for them all (instead of one per
        token) is what keeps the server's cost per token flat. A failing event fails them all:
        nothing of that read reached the caller, so a retry is still clean."""
        if len(events) == 1:
            return self._redact_call(_handle_event, events[0], result, self._host)
        content: list[str] = []
        reasoning: list[str] = []
        for data in events:
            delta = self._redact_call(_handle_event, data, result, self._host)
            if delta is not None:
                if delta.content:
                    content.append(delta.content)
                if delta.reasoning:
                    reasoning.append(delta.reasoning)
        if not content and not reasoning:
            return None
        return StreamDelta(content="".join(content) or None, reasoning="".join(reasoning) or None)

    def _redact_call(self, fn: Callable[..., StreamDelta | None], *args: Any) -> StreamDelta | None:
        try:
            return fn(*args)
        except DeepSeekError as err:
            raise self._redact(err) from None

    def _redact(self, err: DeepSeekError) -> DeepSeekError:
        """DeepSeek's error text may echo the key itself: it never goes further than here."""
        key = self._config.api_key
        if key and key in err.message:
            err.message = err.message.replace(key, "****")
            err.args = (err.message,)
        return err

    async def list_models(self) -> list[str]:
        return [m.id for m in ModelList.model_validate(await self.get_json("/models")).data]

    async def balance(self) -> Balance:
        return Balance.model_validate(await self.get_json("/user/balance"))


def _new_http(c: ClientConfig) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(
        base_url=c.base_url.rstrip("/"),
        timeout=httpx.Timeout(c.idle_timeout, connect=c.connect_timeout),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        headers={"User-Agent": f"deepseek-lsp/{__version__}"},
    )


def _truncated(server: str = "DeepSeek") -> DeepSeekError:
    whose = "DeepSeek's answer" if server == "DeepSeek" else f"The answer from {server}"
    return DeepSeekError(
        "truncated",
        f"{whose} was cut off before it finished (no [DONE]); retry.",
        retryable=True,  # only ever retried before the first token reached the user
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _about_the_model(message: str) -> bool:
    """An error that says the model is unknown (vLLM, Ollama, LiteLLM phrase it like this)."""
    text = message.lower()
    return "model" in text and any(
        w in text for w in ("not found", "not exist", "does not exist", "unknown", "no such", "invalid model")
    )


def _refused_stream_options(err: DeepSeekError, payload: dict[str, Any]) -> bool:
    """A server that rejects the (standard, but not universal) `stream_options` field."""
    return err.status in (400, 422) and "stream_options" in payload and "stream_options" in err.message


class _Done:
    """The `[DONE]` event."""


def _event_json(data: str, result: StreamResult | FimResult, host: str) -> Any:
    """One SSE event's JSON (`_Done` for `[DONE]`); an error object or bad JSON raises."""
    if data.strip() == DONE:
        result.done = True
        return _Done
    try:
        raw = json.loads(data)
    except json.JSONDecodeError:
        raise _malformed(host, data) from None
    if isinstance(raw, dict) and "error" in raw:
        raise _error_object(raw, host, "mid-answer")
    return raw


def _handle_event(data: str, result: StreamResult, host: str) -> StreamDelta | None:
    raw = _event_json(data, result, host)
    if raw is _Done:
        return None
    try:
        chunk = ChatChunk.model_validate(raw)
    except ValidationError:
        if not (isinstance(raw, dict) and "usage" in raw):
            raise _malformed(host, data) from None
        # usage in a shape we do not know (some OpenAI-compatible servers): the text matters more
        log.warning("ignoring a usage object that does not match the API reference")
        try:
            chunk = ChatChunk.model_validate({k: v for k, v in raw.items() if k != "usage"})
        except ValidationError:
            raise _malformed(host, data) from None
    if chunk.usage is not None:
        result.usage = chunk.usage
    content: list[str] = []
    reasoning: list[str] = []
    for choice in chunk.choices:
        if choice.finish_reason:
            result.finish_reason = choice.finish_reason
            if choice.finish_reason == "insufficient_system_resource":
                raise DeepSeekError(
                    "server_error",
                    "DeepSeek ran out of capacity for this request; retry in a moment.",
                    retryable=True,
                )
        if choice.delta.content:
            content.append(choice.delta.content)
        if choice.delta.reasoning_content:
            reasoning.append(choice.delta.reasoning_content)
    if not content and not reasoning:
        return None
    return StreamDelta(content="".join(content) or None, reasoning="".join(reasoning) or None)


def _fim_event(data: str, result: FimResult, host: str) -> str | None:
    """One event of a FIM stream (`text_completion` chunks): its text, if any. Parsed with
    `json` alone: a ghost text's few hundred events must cost microseconds each."""
    raw = _event_json(data, result, host)
    if raw is _Done:
        return None
    if not isinstance(raw, dict):
        raise _malformed(host, data)
    return _fim_choice(raw, result, host, data)


def _fim_choice(raw: dict[str, Any], result: FimResult, host: str, data: str) -> str | None:
    usage = raw.get("usage")
    if isinstance(usage, dict):
        try:
            result.usage = Usage.model_validate(usage)
        except ValidationError:
            log.warning("ignoring a usage object that does not match the API reference")
    choices = raw.get("choices")
    if not isinstance(choices, list):
        raise _malformed(host, data)
    texts = []
    for choice in choices:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        text = choice.get("text")
        if text is not None and not isinstance(text, str):
            raise _malformed(host, data)
        if text:
            texts.append(text)
        finish = choice.get("finish_reason")
        if finish:
            result.finish_reason = str(finish)
    return "".join(texts) or None


def _fim_whole(body: bytes, host: str, result: FimResult) -> None:
    """A non-streamed FIM answer (or a server that ignored `stream`): one JSON document."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        raise DeepSeekError(
            "server_error", f"The server at {host} answered the completion with an empty body."
        )
    try:
        raw = json.loads(text)
    except ValueError:
        raise _malformed(host, text[:200]) from None
    if not isinstance(raw, dict):
        raise _malformed(host, text[:200])
    if "error" in raw:
        raise _error_object(raw, host, "instead of an answer")
    result.text = _fim_choice(raw, result, host, text[:200]) or ""
    result.finish_reason = result.finish_reason or "stop"
    result.done = True


def _malformed(host: str, data: str) -> DeepSeekError:
    """An event that is not a chat chunk: skipping it would silently drop part of the answer."""
    log.warning("malformed SSE payload from %s (%d bytes)", host, len(data))
    return DeepSeekError(
        "server_error",
        f"The server at {host} sent a malformed stream event, so the answer is incomplete and was "
        "not kept. Retry; if it happens again, check `deepseek.baseUrl` points at an "
        "OpenAI-compatible API.",
        retryable=True,  # only ever retried before the first token reached the user
    )


def _error_object(raw: dict[str, Any], host: str, where: str) -> DeepSeekError:
    """An `{"error": ...}` object in place of the answer (`where`: "mid-answer" in a stream,
    "instead of a stream" as a whole 200 body), mapped to the code that tells the user what to do."""
    err = raw.get("error")
    if isinstance(err, dict):
        message = str(err.get("message") or err.get("type") or err)
        kind = f"{err.get('type') or ''} {err.get('code') or ''}"
        status = _int(err.get("code"))
    else:
        message, kind, status = str(err), "", None
    detail = _scrub(" ".join(message.split()))[:300]
    code, retryable = _classify(status, f"{kind} {message}".lower())
    said = f"The server at {host} reported an error {where}: {detail}"
    advice_for = {
        "unauthorized": advice("unauthorized"),
        "insufficient_balance": advice("insufficient_balance"),
        "rate_limited": "Wait a moment and retry.",
        "bad_request": "Check your deepseek settings and the selection's size.",
        "server_error": "Retry in a moment." if retryable else "Retry; if it persists, check the server.",
    }[code]
    return DeepSeekError(code, f"{said.rstrip('.')}. {advice_for}", status=status, retryable=retryable)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _classify(status: int | None, text: str) -> tuple[ErrorCode, bool]:
    """(code, retryable) for an error object: by its numeric code when it has one (DeepSeek's
    and llama.cpp's do), otherwise by its words."""
    if status is not None and 400 <= status < 600:
        err = from_status(status, "")
        return err.code, err.retryable
    if any(w in text for w in ("auth", "api key", "api_key", "apikey")):
        return "unauthorized", False
    if any(w in text for w in ("balance", "quota", "billing", "payment")):
        return "insufficient_balance", False
    if any(w in text for w in ("rate limit", "rate_limit", "too many requests")):
        return "rate_limited", True
    if any(w in text for w in ("overload", "server", "internal", "unavailable", "busy", "resource")):
        return "server_error", True
    if any(w in text for w in ("invalid", "context", "not found", "not exist", "too long", "large")):
        return "bad_request", False
    return "server_error", False


# After [DONE], the end of the body is read for this long at most: a connection whose body was
# read to its end goes back to the pool (the next keystroke's request saves a TCP connect).
DRAIN_SECONDS = 0.05


async def _drain(chunks: AsyncIterator[bytes], limit: int = 65536) -> None:
    """Read what is left of a finished response (bounded in time and size)."""

    async def rest() -> None:
        size = 0
        async for more in chunks:
            size += len(more)
            if size > limit:
                break

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(rest(), DRAIN_SECONDS)


# Bytes read from a 200 body that is not an event stream before giving up on it.
_BODY_LIMIT = 8 * 1024 * 1024


async def _head(chunks: AsyncIterator[bytes]) -> bytes:
    """The body's first bytes, read until one is not whitespace (b"" for an empty body)."""
    head = b""
    while not head.strip():
        more = await anext(chunks, None)
        if more is None:
            break
        head += more
    return head


def _is_sse(content_type: str, head: bytes) -> bool:
    """An event stream by its header, unless its first bytes are JSON or HTML (a server that
    sent an error page with the stream's header); by its first bytes when the header is missing
    or wrong (some local servers send SSE as text/plain)."""
    first = head.lstrip()[:1]
    if not first:
        return False
    if content_type.split(";")[0].strip().lower() == "text/event-stream":
        return first not in (b"{", b"[", b"<")
    return head.lstrip().startswith((b"data:", b":", b"event:", b"id:", b"retry:"))


async def _rest(head: bytes, chunks: AsyncIterator[bytes]) -> bytes:
    parts, size = [head], len(head)
    async for more in chunks:
        parts.append(more)
        size += len(more)
        if size > _BODY_LIMIT:
            break
    return b"".join(parts)


def _whole_body(
    body: bytes,
    content_type: str,
    host: str,
    result: StreamResult,
    payload: dict[str, Any] | None = None,
) -> StreamDelta | None:
    """A 200 answer that is not an event stream: a whole completion (a server that ignored
    `stream`) is taken as one delta; anything else is an error that shows what came back."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        raise empty_answer(host, payload or {})
    try:
        raw = json.loads(text)
    except ValueError:
        raw = None
    if isinstance(raw, dict) and "error" in raw:
        raise _error_object(raw, host, "instead of an answer")
    if isinstance(raw, dict) and isinstance(raw.get("choices"), list):
        return _completion(raw, host, result)
    snippet = _scrub(" ".join(text[:400].split()))[:200]
    kind = content_type.split(";")[0].strip() or "no Content-Type"
    raise DeepSeekError(
        "server_error",
        f"The server at {host} answered HTTP 200 with {kind} instead of an event stream: "
        f"“{snippet}”. Check `deepseek.baseUrl`: it must point at an OpenAI-compatible API "
        "(e.g. https://api.deepseek.com).",
    )


def _completion(raw: dict[str, Any], host: str, result: StreamResult) -> StreamDelta | None:
    """A non-streamed chat completion: its message as one delta."""
    try:
        choice = raw["choices"][0]
        message = choice["message"]
        content, reasoning = message.get("content"), message.get("reasoning_content")
        if not isinstance(content, str | None) or not isinstance(reasoning, str | None):
            raise TypeError
        usage = Usage.model_validate(raw["usage"]) if raw.get("usage") else None
    except (LookupError, TypeError, AttributeError, ValidationError):
        raise _malformed(host, json.dumps(raw)[:200]) from None
    result.finish_reason = choice.get("finish_reason") or "stop"
    result.usage = usage
    result.done = True
    if not content and not reasoning:
        return None
    return StreamDelta(content=content or None, reasoning=reasoning or None)


def empty_answer(host: str, payload: dict[str, Any]) -> DeepSeekError:
    """An empty 200 (llama-cpp-python's answer to a prompt over its context): said as what it
    is, with the model, the size sent and the setting that refuses such a prompt before sending."""
    messages = payload.get("messages") or []
    sent = sum(estimate_tokens(_text(m.get("content"))) + 4 for m in messages if isinstance(m, dict))
    model = f" of {payload['model']}" if payload.get("model") else ""
    return DeepSeekError(
        "server_error",
        f"The server at {host} answered 200 with an empty body — the prompt may exceed the "
        f"model's context window{model} (about {sent:,} tokens sent; set deepseek.contextWindow "
        "to the context size the server runs with, so such a request is refused before it is "
        "sent). Select less text or raise the server's context size.",
    )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _http_error(resp: httpx.Response, server: str = "DeepSeek") -> DeepSeekError:
    detail = ""
    try:
        detail = ErrorBody.model_validate_json(resp.content).error.message
    except (ValidationError, ValueError):
        detail = resp.text[:300]
    retry_after = _retry_after(resp.headers.get("retry-after"))
    return from_status(resp.status_code, _scrub(detail), retry_after, server)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _scrub(detail: str) -> str:
    """DeepSeek echoes a masked key ("****fcc2") in 401s; keep even that out of our messages."""
    detail = re.sub(r"\bsk-[A-Za-z0-9_-]{4,}", "sk-****", detail)
    return re.sub(r"\*{2,}\w{1,8}", "****", detail)
