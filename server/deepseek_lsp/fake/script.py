"""Scripted replies for the fake DeepSeek.

A test describes how the next response should behave (what it says, how fast, how it fails) with a
`Reply`; the server turns it into DeepSeek's exact wire format. Keeping the script declarative and
JSON-serialisable lets out-of-process clients (Neovim, VS Code, benchmarks) send the same objects
over the control API that in-process tests pass to `FakeDeepSeek.enqueue`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# DeepSeek's error bodies by HTTP status: (type, code, message). Messages follow real responses
# where they are known (401, 402, the 400 context-length text), plausible stand-ins otherwise.
ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("invalid_request_error", "invalid_request_error", "Invalid request"),
    401: (
        "authentication_error",
        "invalid_request_error",
        "Authentication Fails, Your api key: ****abcd is invalid",
    ),
    402: ("unknown_error", "invalid_request_error", "Insufficient Balance"),
    422: ("invalid_request_error", "invalid_request_error", "Invalid parameters"),
    429: ("rate_limit_error", "rate_limit_exceeded", "Rate Limit Reached"),
    500: ("server_error", "internal_error", "Internal Server Error. Please retry later."),
    503: (
        "server_overloaded",
        "server_overloaded",
        "Server Overloaded: the server is busy due to high traffic. Please retry later.",
    ),
}

# One token-like piece: a run of word characters, one CJK character or one punctuation character,
# each with the whitespace in front of it; trailing whitespace is a piece of its own. Joining the
# pieces gives back the text exactly, which is what lets the fake stream "tokens" faithfully.
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_PIECE = re.compile(rf"\s*(?:[{_CJK}]|[^\W{_CJK}]+|[^\w\s])|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text into token-like pieces whose concatenation is exactly `text`."""
    return _PIECE.findall(text)


def error_body(
    status: int,
    message: str | None = None,
    *,
    type_: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """DeepSeek's JSON error body `{"error": {"message", "type", "param": null, "code"}}`."""
    default_type, default_code, default_message = ERRORS.get(
        status, ("unknown_error", "unknown_error", f"HTTP {status}")
    )
    return {
        "error": {
            "message": message if message is not None else default_message,
            "type": type_ if type_ is not None else default_type,
            "param": None,
            "code": code if code is not None else default_code,
        }
    }


class Reply(BaseModel):
    """One scripted response to a completion request (chat or FIM).

    Chunk counters (`cut_after`, `error_after`, `hang_after`, `hold_after`) count the text deltas
    (reasoning and content) after the initial role chunk.
    """

    model_config = ConfigDict(extra="forbid")

    content: str | None = Field(
        default=None,
        description="The answer text; None lets the default responder write it (with reasoning "
        "when thinking is on and `reasoning` is None).",
    )
    reasoning: str | None = Field(
        default=None, description="Thinking text, streamed as reasoning_content before content."
    )
    chunks: list[str] | None = Field(
        default=None, description="Explicit content chunks; otherwise content is split in tokens."
    )
    delay: float = Field(default=0.0, ge=0, description="Seconds between chunks.")
    first_delay: float = Field(default=0.0, ge=0, description="Seconds before the first chunk.")
    queued: float = Field(
        default=0.0,
        ge=0,
        description="Seconds spent 'in the queue' after the headers: `: keep-alive` comments "
        "(streaming) or blank lines (non-streaming) every `keepalive_interval` seconds.",
    )
    keepalive_interval: float = Field(default=0.2, gt=0)
    finish_reason: str = "stop"
    insufficient_system_resource: bool = Field(
        default=False, description="Finish with `insufficient_system_resource`."
    )
    status: int = Field(default=200, description="HTTP status; non-200 sends DeepSeek's error body.")
    error_message: str | None = Field(default=None, description="Overrides the error message.")
    error_type: str | None = None
    error_code: str | None = None
    plain_text: bool = Field(
        default=False, description="Send the error as a plain-text body (as a 422 has been seen)."
    )
    retry_after: float | None = Field(default=None, description="Retry-After header value.")
    cut_after: int | None = Field(
        default=None, ge=0, description="Close the connection after N chunks, with no [DONE]."
    )
    cut_clean: bool = Field(
        default=False,
        description="With cut_after: end the HTTP body properly (chunked terminator) instead of "
        "dropping the connection mid-body; the stream still lacks [DONE].",
    )
    error_after: int | None = Field(
        default=None, ge=0, description='Send a `data: {"error": ...}` event after N chunks.'
    )
    malformed_after: int | None = Field(
        default=None,
        ge=0,
        description="Send one data line that is not valid JSON after N chunks, then carry on to "
        "[DONE] (a broken proxy or server; a client must not skip it silently).",
    )
    body: str | None = Field(
        default=None,
        description="With status 200: send this whole body (Content-Type `body_content_type`) "
        "instead of a stream, as a misconfigured or local server may ('' sends an empty body).",
    )
    body_content_type: str = "application/json"
    hang: bool = Field(default=False, description="Send the headers, then nothing.")
    hang_after: int | None = Field(default=None, ge=0, description="Hang after N chunks.")
    hold_after: int | None = Field(
        default=None, ge=0, description="Stream N chunks, then wait for `release()`."
    )
    usage_style: Literal["finish_chunk", "separate_chunk"] = Field(
        default="finish_chunk",
        description="finish_chunk: usage on the finish chunk (real captures); separate_chunk: an "
        'extra `"choices": []` chunk before [DONE], only when stream_options.include_usage.',
    )
    repeat: int = Field(default=1, ge=1, description="Serve this reply for N requests.")

    def effective_finish_reason(self) -> str:
        """The finish_reason to report, before max_tokens truncation."""
        return "insufficient_system_resource" if self.insufficient_system_resource else (self.finish_reason)

    def content_chunks(self, content: str) -> list[str]:
        """The content pieces to stream, explicit or token-split."""
        if self.chunks is not None:
            return list(self.chunks)
        return split_tokens(content)
