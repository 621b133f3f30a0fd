"""Cost of a usage from the configured price table, and session totals."""

from __future__ import annotations

import pytest

from deepseek_lsp import settings
from deepseek_lsp.pricing import DEFAULT_PRICES, Price, UsageTotals, cost, price_for

PRICE = Price(hit=0.1, miss=1.0, output=2.0)


def test_cost_prices_hit_miss_and_output() -> None:
    usage = {
        "prompt_tokens": 1_000_000,
        "prompt_cache_hit_tokens": 800_000,
        "prompt_cache_miss_tokens": 200_000,
        "completion_tokens": 500_000,
    }
    assert cost(usage, PRICE) == pytest.approx(0.08 + 0.2 + 1.0)


def test_prompt_without_a_cache_split_is_all_miss() -> None:
    assert cost({"prompt_tokens": 1_000_000, "completion_tokens": 0}, PRICE) == pytest.approx(1.0)


def test_cost_accepts_objects_and_camel_case() -> None:
    class Usage:
        prompt_tokens = 100
        completion_tokens = 10
        prompt_cache_hit_tokens = 60
        prompt_cache_miss_tokens = 40

    camel = {
        "promptTokens": 100,
        "completionTokens": 10,
        "promptCacheHitTokens": 60,
        "promptCacheMissTokens": 40,
    }
    assert cost(Usage(), PRICE) == pytest.approx(cost(camel, PRICE))


def test_price_table_has_the_settings_shape() -> None:
    assert DEFAULT_PRICES is settings.DEFAULT_PRICES
    assert price_for("no-such-model") is None
    configured = settings.Settings().prices  # pydantic Price objects
    model = next(iter(configured))
    entry = configured[model]
    assert price_for(model, configured) == Price(entry.hit, entry.miss, entry.output)
    assert price_for("m", {"m": {"hit": 1, "miss": 2, "output": 3}}) == Price(1.0, 2.0, 3.0)


def test_usage_totals_add_up_and_report_the_cache_share() -> None:
    totals = UsageTotals()
    first = totals.add(
        {"prompt_tokens": 1000, "prompt_cache_miss_tokens": 1000, "completion_tokens": 100}, PRICE
    )
    second = totals.add(
        {
            "prompt_tokens": 1000,
            "prompt_cache_hit_tokens": 900,
            "prompt_cache_miss_tokens": 100,
            "completion_tokens": 50,
            "completion_tokens_details": {"reasoning_tokens": 20},
        },
        PRICE,
    )
    assert totals.requests == 2
    assert totals.prompt_tokens == 2000
    assert totals.completion_tokens == 150
    assert totals.reasoning_tokens == 20
    assert totals.cache_hit_share == pytest.approx(0.45)
    assert totals.cost == pytest.approx(first + second)
    report = totals.to_dict()
    assert report["promptCacheHitTokens"] == 900
    assert report["cacheHitShare"] == 0.45


def test_unknown_price_costs_nothing_but_counts_tokens() -> None:
    totals = UsageTotals()
    assert totals.add({"prompt_tokens": 10, "completion_tokens": 1}) == 0.0
    assert totals.prompt_cache_miss_tokens == 10
    assert UsageTotals().cache_hit_share == 0.0
