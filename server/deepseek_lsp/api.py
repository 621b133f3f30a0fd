"""DeepSeek's wire format as pydantic models.

Every model allows extra fields: DeepSeek adds fields over time, and a new one must never
break a stream. Finish reasons are plain strings (an open set).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class Delta(Wire):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class Choice(Wire):
    index: int = 0
    delta: Delta = Delta()
    finish_reason: str | None = None


class CompletionDetails(Wire):
    reasoning_tokens: int | None = None


class PromptDetails(Wire):
    cached_tokens: int | None = None


class Usage(Wire):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_cache_hit_tokens: int | None = None
    prompt_cache_miss_tokens: int | None = None
    prompt_tokens_details: PromptDetails | None = None
    completion_tokens_details: CompletionDetails | None = None

    @property
    def cache_hit(self) -> int:
        if self.prompt_cache_hit_tokens is not None:
            return self.prompt_cache_hit_tokens
        details = self.prompt_tokens_details
        return details.cached_tokens or 0 if details else 0

    @property
    def cache_miss(self) -> int:
        if self.prompt_cache_miss_tokens is not None:
            return self.prompt_cache_miss_tokens
        return max(self.prompt_tokens - self.cache_hit, 0)

    @property
    def reasoning_tokens(self) -> int:
        details = self.completion_tokens_details
        return details.reasoning_tokens or 0 if details else 0


class ChatChunk(Wire):
    id: str | None = None
    model: str | None = None
    choices: list[Choice] = []
    usage: Usage | None = None


class ErrorDetail(Wire):
    message: str = ""
    type: str | None = None
    code: str | int | None = None


class ErrorBody(Wire):
    error: ErrorDetail


class ModelInfo(Wire):
    id: str


class ModelList(Wire):
    data: list[ModelInfo] = []


class BalanceInfo(Wire):
    currency: str
    total_balance: str


class Balance(Wire):
    is_available: bool = True
    balance_infos: list[BalanceInfo] = []
