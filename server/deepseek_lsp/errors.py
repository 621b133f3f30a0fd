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


def advice(code: ErrorCode, server: str = "DeepSeek") -> str:
    """`ADVICE[code]` for the server that answered: DeepSeek's words for DeepSeek, words that name
    the server (`the server at HOST`) for any other, which has no DeepSeek account or page."""
    if server == "DeepSeek":
        return ADVICE[code]
    generic: dict[str, str] = {
        "unauthorized": (
            f"Set the key {server} expects: the DEEPSEEK_API_KEY environment variable or the "
            "`deepseek.apiKey` setting."
        ),
        "insufficient_balance": f"Check the account {server} bills, then retry.",
        "rate_limited": f"{_cap(server)} is rate limiting requests; wait a moment and retry.",
        "server_error": f"{_cap(server)} had a server error; retry in a moment.",
        "timeout": f"{_cap(server)} did not answer in time; check it runs, or raise `deepseek.timeouts`.",
        "bad_request": f"{_cap(server)} rejected the request.",
        "network": f"Could not reach {server}; check that it runs and `deepseek.baseUrl`.",
    }
    return generic.get(code, ADVICE[code])


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def from_status(
    status: int, detail: str, retry_after: float | None = None, server: str = "DeepSeek"
) -> DeepSeekError:
    """Map an HTTP error status to a user-facing error naming `server` (DeepSeek, or the server
    at the configured base URL)."""
    detail = detail.strip()
    deepseek = server == "DeepSeek"
    if status == 401:
        said = "DeepSeek rejected the API key." if deepseek else f"{_cap(server)} asks for an API key (401)."
        return DeepSeekError("unauthorized", f"{said} {advice('unauthorized', server)}", status=status)
    if status == 402:
        said = "Insufficient balance." if deepseek else f"{_cap(server)} answered 402 Payment Required."
        return DeepSeekError(
            "insufficient_balance", f"{said} {advice('insufficient_balance', server)}", status=status
        )
    if status == 429:
        return DeepSeekError(
            "rate_limited",
            f"Rate limited (429). {advice('rate_limited', server)}",
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
            f"{_cap(server)} rejected the request: {detail or 'invalid format'}.",
            status=status,
        )
    if status in (500, 502, 503, 504):
        said = f"DeepSeek server error ({status})." if deepseek else f"Server error ({status}) from {server}."
        return DeepSeekError(
            "server_error",
            f"{said} {advice('server_error', server)}",
            status=status,
            retryable=True,
            retry_after=retry_after,
        )
    if status == 404 and not deepseek:
        return DeepSeekError(
            "bad_request", f"{_cap(server)} answered 404 Not Found ({detail or 'no detail'}).", status=status
        )
    return DeepSeekError("bad_request", f"Unexpected HTTP {status} from {server}: {detail}", status=status)
