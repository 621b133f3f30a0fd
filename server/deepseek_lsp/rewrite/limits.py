"""How much a rewrite may write: its `max_tokens` and a bound on its text, from the selection.

A model that runs away (repeats itself, rewrites the whole file, never stops) must neither
bill the user for thousands of tokens nor grow their document without end. The token limit
asked of the server is derived from the selection's size; the text the rewrite writes is
bounded relative to the original, and crossing that bound stops the stream and restores.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DeepSeekError
from ..settings import Settings
from ..tokens import estimate_tokens

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
