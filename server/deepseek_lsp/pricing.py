"""What a job cost, from a price table that lives in configuration.

DeepSeek bills input tokens at two rates (context-cache hit or miss) and output tokens at a third,
all per 1M tokens, and since 2026-08 by time of day: peak on weekdays at `PEAK_HOURS_UTC`,
off-peak (half price) otherwise. A table entry is a flat price (`{hit, miss, output}`, the older
setting, valid at all hours), a time-of-day price (`{peak, offPeak}`) or `{billedAs: model}` for
a legacy id served by another model. Models and prices move, so nothing here is authoritative:
the settings layer passes the table in, and `DEFAULT_PRICES` is only the setting's start value.
Every function takes the time it prices, so tests inject it and no answer depends on the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from .settings import DEFAULT_PRICES as _SETTINGS_PRICES

# DeepSeek's peak hours, [start, end) in UTC, Monday to Friday (pricing page, 2026-11-15).
# Chinese public holidays are off-peak too; they are not known here, so they price as peak.
PEAK_HOURS_UTC: tuple[tuple[int, int], ...] = ((1, 4), (6, 10))

RateName = Literal["peak", "off-peak", "flat"]
UNPRICED = "unpriced"  # the rate reported for a model the table does not price


@dataclass(frozen=True, slots=True)
class Price:
    """Prices per 1M tokens: input on a cache hit, input on a cache miss, output."""

    hit: float
    miss: float
    output: float


@dataclass(frozen=True, slots=True)
class Quote:
    """The price that applies to one request: which model's, and at which rate."""

    price: Price
    rate: RateName
    priced_as: str  # the model whose price applied (differs from the request's for a legacy id)


# The default price table lives with the other defaults in the settings layer (model id ->
# entry, see the module docstring). It is data, not truth: prices change, so it MUST stay
# configurable (`deepseek.prices`); re-exported here for callers that only price usages.
DEFAULT_PRICES: dict[str, dict[str, Any]] = _SETTINGS_PRICES


def is_peak(at: datetime) -> bool:
    """Whether DeepSeek bills `at` at its peak rate (a naive time counts as UTC)."""
    utc = at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return utc.weekday() < 5 and any(start <= utc.hour < end for start, end in PEAK_HOURS_UTC)


def _get(entry: Any, name: str) -> Any:
    """An entry's field from a settings object (snake_case) or a raw dict (camel or snake)."""
    if isinstance(entry, Mapping):
        camel = _camel(name)
        return entry.get(camel, entry.get(name))
    return getattr(entry, name, None)


def _rate(entry: Any) -> Price | None:
    values = [_get(entry, name) for name in ("hit", "miss", "output")]
    if entry is None or any(v is None for v in values):
        return None
    return Price(*(float(v) for v in values))


def quote(model: str, table: Mapping[str, Any] | None = None, at: datetime | None = None) -> Quote | None:
    """The price of a request to `model` made at `at` (default: now), or None when the table
    has no price for it. `billedAs` entries are followed to the model that serves the id."""
    prices = DEFAULT_PRICES if table is None else table
    priced_as, entry = model, prices.get(model)
    for _ in range(8):  # a chain of legacy ids; a loop in a bad table ends here
        target = _get(entry, "billed_as") if entry is not None else None
        if not target:
            break
        priced_as, entry = str(target), prices.get(str(target))
    if entry is None:
        return None
    flat = _rate(entry)
    if flat is not None:
        return Quote(flat, "flat", priced_as)
    when = datetime.now(UTC) if at is None else at
    rate: RateName = "peak" if is_peak(when) else "off-peak"
    price = _rate(_get(entry, "peak" if rate == "peak" else "off_peak"))
    return Quote(price, rate, priced_as) if price is not None else None


def price_for(model: str, table: Mapping[str, Any] | None = None, at: datetime | None = None) -> Price | None:
    """The price of `model` in `table` at `at` (default: now), or None when it has no price."""
    found = quote(model, table, at)
    return found.price if found is not None else None


class UsageLike(Protocol):
    """Anything with DeepSeek's usage counters (api.Usage, a job's usage...)."""

    prompt_tokens: int
    completion_tokens: int
    prompt_cache_hit_tokens: int
    prompt_cache_miss_tokens: int


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
    # rate ("peak", "off-peak", "flat", "unpriced") -> [requests, cost]: what each rate added up to
    by_rate: dict[str, list[float]] = field(default_factory=dict)
    # requests whose server reported no usage: their tokens were counted here (an estimate)
    estimated_requests: int = 0

    def add(
        self,
        usage: UsageLike | Mapping[str, Any],
        price: Price | None = None,
        rate: str | None = None,
        *,
        estimated: bool = False,
    ) -> float:
        """Add one job's usage at `rate` (default: "flat" with a price, else "unpriced"); returns
        its cost (0.0 when the model has no known price). `estimated`: counted, not reported."""
        hit, miss = _split_prompt(usage)
        self.requests += 1
        self.estimated_requests += estimated
        self.prompt_tokens += _field(usage, "prompt_tokens")
        self.completion_tokens += _field(usage, "completion_tokens")
        self.prompt_cache_hit_tokens += hit
        self.prompt_cache_miss_tokens += miss
        self.reasoning_tokens += _reasoning(usage)
        job_cost = cost(usage, price) if price is not None else 0.0
        self.cost += job_cost
        counted = self.by_rate.setdefault(rate or ("flat" if price is not None else UNPRICED), [0, 0.0])
        counted[0] += 1
        counted[1] += job_cost
        return job_cost

    @property
    def cache_hit_share(self) -> float:
        """Share of input tokens served from DeepSeek's context cache (0.0 to 1.0)."""
        total = self.prompt_cache_hit_tokens + self.prompt_cache_miss_tokens
        return self.prompt_cache_hit_tokens / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """camelCase shape for `deepseek.status` `usage`; `byRate` holds only the rates used.
        A cost nobody knows is `null`, not 0: the unpriced rate's, and the total's when no
        request had a price."""
        unpriced = int(self.by_rate.get(UNPRICED, [0, 0.0])[0])
        known = not self.requests or unpriced < self.requests
        return {
            "requests": self.requests,
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "promptCacheHitTokens": self.prompt_cache_hit_tokens,
            "promptCacheMissTokens": self.prompt_cache_miss_tokens,
            "reasoningTokens": self.reasoning_tokens,
            "cost": round(self.cost, 6) if known else None,
            "cacheHitShare": round(self.cache_hit_share, 4),
            "byRate": {
                rate: {"requests": int(requests), "cost": None if rate == UNPRICED else round(spent, 6)}
                for rate, (requests, spent) in self.by_rate.items()
            },
            "estimatedRequests": self.estimated_requests,
        }
