"""Errors that reach the user: a docs/protocol.md code and a message that says what to do."""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "unauthorized",
    "insufficient_balance",
    "rate_limited",
    "server_error",
    "timeout",
    "truncated",
    "bad_request",
    "network",
    "cancelled",
    "document_changed",
    "restore_failed",
]

# What the user should do, by code. Messages never contain the API key.
ADVICE: dict[str, str] = {
    "unauthorized": (
        "Set a valid key: the DEEPSEEK_API_KEY environment variable or the `deepseek.apiKey` "
        "setting (get one at platform.deepseek.com)."
    ),
    "insufficient_balance": "Top up your DeepSeek account, then retry.",
    "rate_limited": "DeepSeek is rate limiting this account; wait a moment and retry.",
    "server_error": "DeepSeek had a server error; retry in a moment.",
    "timeout": "DeepSeek did not answer in time; check the network or raise `deepseek.timeouts`.",
    "truncated": "The answer was cut off before it finished; retry.",
    "bad_request": "DeepSeek rejected the request.",
    "network": "Could not reach DeepSeek; check the network and `deepseek.baseUrl`.",
    "cancelled": "Cancelled.",
    "document_changed": (
        "You edited the text being rewritten, so the rewrite stopped and left your text as is."
    ),
    "restore_failed": (
        "The rewrite could not put your original text back into the document; the original is "
        "included here: copy it back by hand (or undo in the editor)."
    ),
}


class DeepSeekError(Exception):
    """A failure with an error code of docs/protocol.md; `message` is fit to show the user."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.code: ErrorCode = code
        self.message = message or ADVICE[code]
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(self.message)

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def from_status(status: int, detail: str, retry_after: float | None = None) -> DeepSeekError:
    """Map an HTTP error status from DeepSeek to a user-facing error."""
    detail = detail.strip()
    if status == 401:
        return DeepSeekError(
            "unauthorized",
            f"DeepSeek rejected the API key. {ADVICE['unauthorized']}",
            status=status,
        )
    if status == 402:
        return DeepSeekError(
            "insufficient_balance",
            f"Insufficient balance. {ADVICE['insufficient_balance']}",
            status=status,
        )
    if status == 429:
        return DeepSeekError(
            "rate_limited",
            f"Rate limited (429). {ADVICE['rate_limited']}",
            status=status,
            retryable=True,
            retry_after=retry_after,
        )
    if status == 422:
        return DeepSeekError(
            "bad_request",
            f"Invalid parameter: {detail or 'unknown'}. Check your deepseek settings.",
            status=status,
        )
    if status == 400:
        return DeepSeekError(
            "bad_request",
            f"DeepSeek rejected the request: {detail or 'invalid format'}.",
            status=status,
        )
    if status in (500, 502, 503, 504):
        return DeepSeekError(
            "server_error",
            f"DeepSeek server error ({status}). {ADVICE['server_error']}",
            status=status,
            retryable=True,
            retry_after=retry_after,
        )
    return DeepSeekError("bad_request", f"Unexpected HTTP {status} from DeepSeek: {detail}", status=status)
