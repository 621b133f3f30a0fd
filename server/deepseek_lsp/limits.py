"""Limits checked before anything is sent, and the messages that say what to change.

A request that cannot fit (a selection over `deepseek.maxSelectionChars`, a prompt over the
model's context window) is refused here, before any byte goes out: uploading 5 MB to get a 400
back costs time, money and, for a rewrite, nothing good. Each message names the size, the limit
and the setting that moves it. Pure: no pygls, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DeepSeekError
from .provider import is_deepseek_model
from .settings import Settings
from .tokens import estimate_tokens

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


def check_prompt(prompt_tokens: int, reply_tokens: int, window: int, model: str, configured: bool) -> None:
    """Refuse a prompt that leaves too little of the context window for the reply."""
    if prompt_tokens + reply_tokens <= window:
        return
    if configured:
        source = "deepseek.contextWindow"
    elif is_deepseek_model(model):
        source = "its default; set deepseek.contextWindow to change it"
    else:  # a guess: a local server's window is whatever it was started with
        source = (
            "assumed for a model deepseek-lsp does not know; set deepseek.contextWindow to the "
            "context size the server runs with, e.g. llama.cpp's --ctx-size"
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


# -- how much a rewrite may write ----------------------------------------------------------------
# A model that runs away (repeats itself, rewrites the whole file, never stops) must neither bill
# the user for thousands of tokens nor grow their document without end: a rewrite's `max_tokens`
# is derived from the selection, and the text it writes is bounded relative to the original.

MIN_TOKENS = 1024  # a one-line selection may still become a documented function
MIN_EXTRA_CHARS = 2000
TESTS_FACTOR = 4  # tests are longer than the code they test
CHARS_PER_TOKEN = 4  # generous for code: a bound on the text, not a count


@dataclass(frozen=True)
class OutputBound:
    max_tokens: int
    max_chars: int
    original_chars: int

    def exceeded(self, chars: int) -> DeepSeekError:
        return DeepSeekError(
            "truncated",
            f"The model's rewrite grew to more than {self.max_chars:,} characters for a "
            f"{self.original_chars:,}-character selection, so it was stopped and your code was "
            "put back. Retry, rephrase the instruction, or raise deepseek.rewriteMaxGrowth.",
        )


def output_bound(
    settings: Settings, selected: str, action: str, instruction: str | None = None
) -> OutputBound:
    """`max_tokens`: 2x the selection's tokens + 1,024 (4x + 2,048 for tests), capped by
    `deepseek.rewriteMaxTokens` (and `deepseek.maxTokens` when lower). The text may grow to
    `deepseek.rewriteMaxGrowth` times the selection (at least 2,000 characters more).

    With an instruction the user asked for something the selection's size says nothing about
    ("implement this stub"): the cap alone bounds it, and the text may fill that many tokens.
    """
    cap = settings.rewrite_max_tokens
    if settings.max_tokens:
        cap = min(cap, settings.max_tokens)
    chars = len(selected)
    tests = action == "tests"
    max_chars = max(int(settings.rewrite_max_growth * chars), chars + MIN_EXTRA_CHARS)
    if instruction and instruction.strip():
        return OutputBound(cap, max(max_chars, chars + cap * CHARS_PER_TOKEN), chars)
    wanted = (TESTS_FACTOR if tests else 2) * estimate_tokens(selected) + MIN_TOKENS * (2 if tests else 1)
    if tests:
        max_chars *= 2
    return OutputBound(max_tokens=min(cap, wanted), max_chars=max_chars, original_chars=chars)
