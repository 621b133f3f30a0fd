"""The limits' pure parts: what is refused, and that each message names size, limit and setting."""

from __future__ import annotations

import pytest

from deepseek_lsp.errors import DeepSeekError
from deepseek_lsp.limits import (
    check_prompt,
    check_selection,
    output_bound,
    reply_reserve,
    too_many_jobs,
)
from deepseek_lsp.settings import Settings


def test_selection_over_the_limit_names_size_limit_and_setting() -> None:
    check_selection(200_000, 200_000)  # at the limit: fine
    with pytest.raises(DeepSeekError) as info:
        check_selection(5_000_000, 200_000)
    assert info.value.code == "bad_request"
    assert info.value.message == (
        "The selection is 5,000,000 characters; deepseek.maxSelectionChars allows 200,000. "
        "Select less code or raise the setting."
    )
    with pytest.raises(DeepSeekError, match=r"The file a\.py is 301 characters"):
        check_selection(301, 300, "file a.py")


def test_prompt_over_the_window_counts_the_reply() -> None:
    check_prompt(1000, 1000, 2000, "m", configured=False)  # exactly full: fine
    with pytest.raises(DeepSeekError) as info:
        check_prompt(1001, 1000, 2000, "deepseek-chat", configured=False)
    msg = info.value.message
    assert "1,001 tokens and 1,000 are kept for the reply" in msg
    assert "2,000-token context window of deepseek-chat (its default; set deepseek.contextWindow" in msg
    with pytest.raises(DeepSeekError, match=r"\(deepseek\.contextWindow\)"):
        check_prompt(5000, 0, 4096, "x", configured=True)


def test_reply_sizes() -> None:
    assert reply_reserve(1_000_000, None) == 8192
    assert reply_reserve(32_768, None) == 4096
    assert reply_reserve(32_768, 1000) == 1000  # deepseek.maxTokens when set
    code = "x = compute(1)\n" * 5000
    assert output_bound(Settings(), code, "refactor").max_tokens == 8192  # deepseek.rewriteMaxTokens
    assert output_bound(Settings(max_tokens=2000), code, "refactor").max_tokens == 2000  # or maxTokens


def test_too_many_jobs_says_how_many_and_what_to_do() -> None:
    err = too_many_jobs(8, 8)
    assert err.code == "bad_request"
    assert err.message.startswith(
        "8 DeepSeek requests are already running and deepseek.maxConcurrentJobs allows 8."
    )
    assert "cancel" in err.message and "raise the setting" in err.message
    assert too_many_jobs(1, 1).message.startswith("1 DeepSeek request is already running")


SELECTION = "    def size(self):\n        return len(self.items)\n"


def test_output_bound_from_the_selection() -> None:
    settings = Settings()
    small = output_bound(settings, SELECTION, "refactor")
    assert 1024 < small.max_tokens < 1200
    assert small.max_chars == len(SELECTION) + 2000
    big = output_bound(settings, SELECTION * 2000, "refactor")
    assert big.max_tokens == settings.rewrite_max_tokens  # capped
    assert big.max_chars == 4 * len(SELECTION) * 2000
    asked = output_bound(settings, SELECTION, "refactor", "implement it")
    assert asked.max_tokens == settings.rewrite_max_tokens
    assert output_bound(settings, SELECTION, "tests").max_tokens > small.max_tokens
    assert "deepseek.rewriteMaxGrowth" in small.exceeded(99_999).message
