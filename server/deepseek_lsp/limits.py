"""Limits checked before anything is sent, and the messages that say what to change.

A request that cannot fit (a selection over `deepseek.maxSelectionChars`, a prompt over the
model's context window) is refused here, before any byte goes out: uploading 5 MB to get a 400
back costs time, money and, for a rewrite, nothing good. Each message names the size, the limit
and the setting that moves it. Pure: no pygls, no I/O.
"""

from __future__ import annotations

from .errors import DeepSeekError

# Tokens a request takes beyond the context builder's count and the system prompt: the task's
# instructions and the message framing (measured: at most 152 for the built-in actions; a
# user action's prompt or a chat message adds its own, hence the margin).
PROMPT_OVERHEAD = 512


def check_selection(chars: int, limit: int, what: str = "selection") -> None:
    """Refuse a selection (or whole document) longer than `deepseek.maxSelectionChars`."""
    if chars > limit:
        raise DeepSeekError(
            "bad_request",
            f"The {what} is {chars:,} characters; deepseek.maxSelectionChars allows {limit:,}. "
            "Select less code or raise the setting.",
        )


def reply_reserve(window: int, max_tokens: int | None) -> int:
    """Tokens kept for the reply of a request without a bound of its own (explain, chat)."""
    return max_tokens if max_tokens else min(8192, window // 8)


def rewrite_reserve(rewrite_max_tokens: int, max_tokens: int | None) -> int:
    """The most a rewrite's reply may take (`rewrite/limits.py` derives less from the selection)."""
    return min(rewrite_max_tokens, max_tokens) if max_tokens else rewrite_max_tokens


def check_prompt(prompt_tokens: int, reply_tokens: int, window: int, model: str, configured: bool) -> None:
    """Refuse a prompt that leaves too little of the context window for the reply."""
    if prompt_tokens + reply_tokens <= window:
        return
    source = (
        "deepseek.contextWindow" if configured else "its default; set deepseek.contextWindow to change it"
    )
    raise DeepSeekError(
        "bad_request",
        f"The request is about {prompt_tokens:,} tokens and {reply_tokens:,} are kept for the reply, "
        f"over the {window:,}-token context window of {model} ({source}). "
        "Select less code, or raise deepseek.contextWindow if the model takes more.",
    )


def too_many_jobs(running: int, limit: int) -> DeepSeekError:
    """The refusal of a job over `deepseek.maxConcurrentJobs` (never queued: it would wait unseen)."""
    return DeepSeekError(
        "bad_request",
        f"{running:,} DeepSeek request{'s are' if running != 1 else ' is'} already running and "
        f"deepseek.maxConcurrentJobs allows {limit:,}. Wait for one to finish, cancel one "
        "(deepseek.cancel, or the cancel button of its progress), or raise the setting.",
    )
