"""The DeepSeek HTTP client: one pooled httpx.AsyncClient, streaming chat, retries.

Retries happen only before any token reached the caller: once text is on the user's screen,
a retry would show it twice. Cancelling the consuming task closes the HTTP stream at once
(httpx drops a connection whose body was not read to the end).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import __version__
from .api import Balance, ChatChunk, ErrorBody, ModelList, Usage
from .errors import DeepSeekError, from_status
from .sse import DONE, SSEParser

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


@dataclass
class StreamDelta:
    content: str | None = None
    reasoning: str | None = None


@dataclass
class StreamResult:
    """What a finished stream reported besides its text."""

    finish_reason: str | None = None
    usage: Usage | None = None
    attempts: int = 0
    done: bool = False


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
        if not key:
            raise DeepSeekError(
                "unauthorized",
                "No DeepSeek API key is set. Set DEEPSEEK_API_KEY in the environment the editor "
                "starts from, or the `deepseek.apiKey` setting.",
            )
        return {"Authorization": f"Bearer {key}"}

    async def stream_chat(
        self, body: dict[str, Any], result: StreamResult, *, beta: bool = False
    ) -> AsyncIterator[StreamDelta]:
        """POST /chat/completions with stream=true; yields text deltas, fills `result`.

        Raises DeepSeekError; a stream that ends without [DONE] raises `truncated`.
        """
        payload = {**body, "stream": True}
        payload.setdefault("stream_options", {"include_usage": True})
        path = "/beta/chat/completions" if beta else "/chat/completions"
        attempt = 0
        while True:
            attempt += 1
            result.attempts = attempt
            yielded = False
            try:
                async for delta in self._stream_once(path, payload, result):
                    yielded = True
                    yield delta
                return
            except DeepSeekError as err:
                if not yielded and err.status in (400, 404, 422) and payload.get("model"):
                    raise await self._unknown_model(str(payload["model"]), err) from None
                if yielded or not err.retryable or attempt > self._config.max_retries:
                    raise
                await asyncio.sleep(self._backoff(attempt, err.retry_after))
                log.info("retrying DeepSeek request (attempt %d): %s", attempt + 1, err.code)

    async def _unknown_model(self, model: str, err: DeepSeekError) -> DeepSeekError:
        """A refused request for a model GET /models does not list: name the ones it does."""
        try:
            listed = await self.list_models()
        except Exception:
            return err
        if not listed or model in listed:
            return err
        return DeepSeekError(
            "bad_request",
            f"DeepSeek has no model “{model}”; available: {', '.join(listed)}. "
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

        headers = self._headers()
        try:
            async with self._client().stream("POST", path, json=payload, headers=headers) as resp:
                if resp.status_code != 200:
                    await resp.aread()
                    raise self._redact(_http_error(resp))
                parser = SSEParser()
                async for raw in resp.aiter_raw():
                    for data in parser.feed(raw):
                        delta = self._event(data, result)
                        if delta is not None:
                            yield delta
                    if result.done:
                        return
                for data in parser.close():
                    delta = self._event(data, result)
                    if delta is not None:
                        yield delta
        except httpx.TimeoutException as exc:
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
            raise DeepSeekError(
                "timeout",
                f"DeepSeek did not answer in time ({kind} timeout). Check the network, or raise "
                "`deepseek.timeouts`.",
                retryable=kind == "connect",
            ) from None
        except (httpx.TransportError, OSError) as exc:
            if isinstance(exc, httpx.RemoteProtocolError):
                raise _truncated() from None
            raise DeepSeekError(
                "network",
                f"Could not reach DeepSeek at {self._config.base_url} ({type(exc).__name__}). "
                "Check the network and `deepseek.baseUrl`.",
                retryable=True,
            ) from None
        if not result.done:
            raise _truncated()

    async def get_json(self, path: str) -> Any:
        import httpx

        try:
            resp = await self._client().get(path, headers=self._headers())
        except httpx.TimeoutException:
            raise DeepSeekError("timeout") from None
        except (httpx.TransportError, OSError) as exc:
            raise DeepSeekError(
                "network",
                f"Could not reach {self._config.base_url} ({type(exc).__name__}).",
            ) from None
        if resp.status_code != 200:
            raise self._redact(_http_error(resp))
        return resp.json()

    def _event(self, data: str, result: StreamResult) -> StreamDelta | None:
        try:
            return _handle_event(data, result)
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


def _truncated() -> DeepSeekError:
    return DeepSeekError(
        "truncated",
        "DeepSeek's answer was cut off before it finished (no [DONE]); retry.",
        retryable=True,  # only ever retried before the first token reached the user
    )


def _handle_event(data: str, result: StreamResult) -> StreamDelta | None:
    if data.strip() == DONE:
        result.done = True
        return None
    try:
        raw = json.loads(data)
    except json.JSONDecodeError:
        log.warning("skipping a malformed SSE payload (%d bytes)", len(data))
        return None
    if isinstance(raw, dict) and "error" in raw:
        raise _payload_error(raw)
    try:
        chunk = ChatChunk.model_validate(raw)
    except ValidationError:
        log.warning("skipping an SSE payload that is not a chat chunk")
        return None
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


def _payload_error(raw: dict[str, Any]) -> DeepSeekError:
    """An `{"error": ...}` payload inside a stream: the server gave up mid-answer."""
    err = raw.get("error")
    message = err.get("message", "") if isinstance(err, dict) else str(err)
    code = str(err.get("code", "")) if isinstance(err, dict) else ""
    if "insufficient" in code or "overload" in message.lower():
        return DeepSeekError(
            "server_error",
            f"DeepSeek stopped mid-answer: {_scrub(message)}. Retry in a moment.",
            retryable=True,
        )
    return DeepSeekError(
        "server_error",
        f"DeepSeek reported an error mid-answer: {_scrub(message)}. Retry.",
        retryable=True,
    )


def _http_error(resp: httpx.Response) -> DeepSeekError:
    detail = ""
    try:
        detail = ErrorBody.model_validate_json(resp.content).error.message
    except (ValidationError, ValueError):
        detail = resp.text[:300]
    retry_after = _retry_after(resp.headers.get("retry-after"))
    return from_status(resp.status_code, _scrub(detail), retry_after)


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
