"""What a job cost, from a price table that lives in configuration.

DeepSeek bills input tokens at two rates (context-cache hit or miss) and output tokens at a third,
all per 1M tokens. Models and prices move, so nothing here is authoritative: the settings layer
passes the table in, and `DEFAULT_PRICES` is only the starting value of that setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .settings import DEFAULT_PRICES as _SETTINGS_PRICES


@dataclass(frozen=True, slots=True)
class Price:
    """Prices per 1M tokens: input on a cache hit, input on a cache miss, output."""

    hit: float
    miss: float
    output: float


# The default price table lives with the other defaults in the settings layer (model id ->
# {hit, miss, output} per 1M tokens). It is data, not truth: prices change, so it MUST stay
# configurable (`deepseek.prices`); re-exported here for callers that only price usages.
DEFAULT_PRICES: dict[str, dict[str, float]] = _SETTINGS_PRICES


class UsageLike(Protocol):
    """Anything with DeepSeek's usage counters (api.Usage, a job's usage...)."""

    prompt_tokens: int
    completion_tokens: int
    prompt_cache_hit_tokens: int
    prompt_cache_miss_tokens: int


def price_for(model: str, table: Mapping[str, Any] | None = None) -> Price | None:
    """The price of `model` in `table` (settings shape: model id -> {hit, miss, output}, as dicts
    or as objects with those attributes), or None when the model has no price."""
    entry = (DEFAULT_PRICES if table is None else table).get(model)
    if entry is None:
        return None

    def get(name: str) -> float:
        return float(entry[name] if isinstance(entry, Mapping) else getattr(entry, name))

    return Price(hit=get("hit"), miss=get("miss"), output=get("output"))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _field(usage: UsageLike | Mapping[str, Any], name: str) -> int:
    """A usage counter by its DeepSeek name, from an object or a dict (snake or camelCase keys)."""
    if isinstance(usage, Mapping):
        value = usage.get(name, usage.get(_camel(name)))
    else:
        value = getattr(usage, name, None)
    return int(value or 0)


def _reasoning(usage: UsageLike | Mapping[str, Any]) -> int:
    """Reasoning tokens, flat or in DeepSeek's `completion_tokens_details`."""
    flat = _field(usage, "reasoning_tokens")
    if flat:
        return flat
    details = usage.get("completion_tokens_details") if isinstance(usage, Mapping) else None
    return _field(details, "reasoning_tokens") if isinstance(details, Mapping) else 0


def _split_prompt(usage: UsageLike | Mapping[str, Any]) -> tuple[int, int]:
    """(hit, miss) input tokens; when DeepSeek reports no split, all of the prompt is a miss."""
    hit = _field(usage, "prompt_cache_hit_tokens")
    miss = _field(usage, "prompt_cache_miss_tokens")
    if hit + miss == 0:
        miss = _field(usage, "prompt_tokens")
    return hit, miss


def cost(usage: UsageLike | Mapping[str, Any], price: Price) -> float:
    """Cost of one usage in the price table's currency (reasoning tokens are output tokens)."""
    hit, miss = _split_prompt(usage)
    output = _field(usage, "completion_tokens")
    return (hit * price.hit + miss * price.miss + output * price.output) / 1_000_000


@dataclass(slots=True)
class UsageTotals:
    """Session totals for `deepseek.status`: tokens by kind, cost, and how much the cache paid off."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_cache_hit_tokens: int = 0
    prompt_cache_miss_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0

    def add(self, usage: UsageLike | Mapping[str, Any], price: Price | None = None) -> float:
        """Add one job's usage; returns its cost (0.0 when the model has no known price)."""
        hit, miss = _split_prompt(usage)
        self.requests += 1
        self.prompt_tokens += _field(usage, "prompt_tokens")
        self.completion_tokens += _field(usage, "completion_tokens")
        self.prompt_cache_hit_tokens += hit
        self.prompt_cache_miss_tokens += miss
        self.reasoning_tokens += _reasoning(usage)
        job_cost = cost(usage, price) if price is not None else 0.0
        self.cost += job_cost
        return job_cost

    @property
    def cache_hit_share(self) -> float:
        """Share of input tokens served from DeepSeek's context cache (0.0 to 1.0)."""
        total = self.prompt_cache_hit_tokens + self.prompt_cache_miss_tokens
        return self.prompt_cache_hit_tokens / total if total else 0.0

    def to_dict(self) -> dict[str, float | int]:
        """camelCase shape for `deepseek.status` `usage`."""
        return {
            "requests": self.requests,
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "promptCacheHitTokens": self.prompt_cache_hit_tokens,
            "promptCacheMissTokens": self.prompt_cache_miss_tokens,
            "reasoningTokens": self.reasoning_tokens,
            "cost": round(self.cost, 6),
            "cacheHitShare": round(self.cache_hit_share, 4),
        }
