"""Cost of a usage from the configured price table (by time of day), and session totals.

Every time is injected: nothing here reads the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from deepseek_lsp import settings
from deepseek_lsp.api import Usage
from deepseek_lsp.client import StreamResult
from deepseek_lsp.jobs import Job
from deepseek_lsp.pricing import (
    DEFAULT_PRICES,
    Price,
    Quote,
    UsageTotals,
    cost,
    is_peak,
    price_for,
    quote,
)
from deepseek_lsp.services import Services

PRICE = Price(hit=0.1, miss=1.0, output=2.0)
# 2026-11-16 is a Monday, 2026-11-21 a Saturday.
MONDAY_PEAK = datetime(2026, 11, 16, 7, 30, tzinfo=UTC)
MONDAY_OFF_PEAK = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
SATURDAY_MORNING = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)
FLASH_OFF_PEAK = Price(hit=0.003, miss=0.15, output=0.60)
FLASH_PEAK = Price(hit=0.006, miss=0.30, output=1.20)


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
    assert price_for("no-such-model", at=MONDAY_PEAK) is None
    configured = settings.Settings().prices  # pydantic Price objects
    for table in (configured, DEFAULT_PRICES):  # settings objects and raw camelCase dicts alike
        assert quote("deepseek-flash", table, MONDAY_PEAK) == Quote(FLASH_PEAK, "peak", "deepseek-flash")
        assert price_for("deepseek-flash", table, MONDAY_OFF_PEAK) == FLASH_OFF_PEAK
    assert price_for("m", {"m": {"hit": 1, "miss": 2, "output": 3}}) == Price(1.0, 2.0, 3.0)


@pytest.mark.parametrize(
    ("at", "peak"),
    [
        (datetime(2026, 11, 16, 0, 59, tzinfo=UTC), False),
        (datetime(2026, 11, 16, 1, 0, tzinfo=UTC), True),
        (datetime(2026, 11, 16, 3, 59, tzinfo=UTC), True),
        (datetime(2026, 11, 16, 4, 0, tzinfo=UTC), False),
        (datetime(2026, 11, 16, 5, 59, tzinfo=UTC), False),
        (datetime(2026, 11, 16, 6, 0, tzinfo=UTC), True),
        (datetime(2026, 11, 20, 9, 59, tzinfo=UTC), True),  # Friday
        (datetime(2026, 11, 20, 10, 0, tzinfo=UTC), False),
        (SATURDAY_MORNING, False),
        (datetime(2026, 11, 22, 2, 0, tzinfo=UTC), False),  # Sunday
        (datetime(2026, 11, 16, 7, 30), True),  # naive: taken as UTC
        # 15:30 in UTC+8 is 07:30 UTC: peak, although the local hour is not
        (datetime(2026, 11, 16, 15, 30, tzinfo=timezone(timedelta(hours=8))), True),
        # 23:30 Sunday in UTC-3 is 02:30 UTC Monday: peak
        (datetime(2026, 11, 15, 23, 30, tzinfo=timezone(timedelta(hours=-3))), True),
    ],
)
def test_peak_hours_are_weekday_utc_windows(at: datetime, peak: bool) -> None:
    assert is_peak(at) is peak


def test_default_prices_are_the_current_ones_peak_twice_off_peak() -> None:
    """DeepSeek's pricing page, 2026-11-15: off-peak is half of peak for every model."""
    pro_off = price_for("deepseek-v4-pro", at=SATURDAY_MORNING)
    assert pro_off == Price(hit=0.022, miss=0.66, output=1.98)
    for model in ("deepseek-flash", "deepseek-v4-pro"):
        off, peak = price_for(model, at=MONDAY_OFF_PEAK), price_for(model, at=MONDAY_PEAK)
        assert off is not None and peak is not None
        assert (peak.hit, peak.miss, peak.output) == pytest.approx(
            (2 * off.hit, 2 * off.miss, 2 * off.output)
        )


@pytest.mark.parametrize("legacy", ["deepseek-v4-flash", "deepseek-chat", "deepseek-reasoner"])
def test_a_legacy_id_is_priced_as_the_model_that_serves_it(legacy: str) -> None:
    assert quote(legacy, at=MONDAY_PEAK) == Quote(FLASH_PEAK, "peak", "deepseek-flash")
    assert quote(legacy, at=SATURDAY_MORNING) == Quote(FLASH_OFF_PEAK, "off-peak", "deepseek-flash")


def test_a_flat_price_holds_at_all_hours_and_says_so() -> None:
    table = settings.validate({"prices": {"local": {"hit": 0, "miss": 1, "output": 2}}}).prices
    for at in (MONDAY_PEAK, MONDAY_OFF_PEAK, SATURDAY_MORNING):
        assert quote("local", table, at) == Quote(Price(0.0, 1.0, 2.0), "flat", "local")


def test_billed_as_chains_end_and_loops_or_dangling_ids_are_unpriced() -> None:
    table: dict[str, Any] = {
        "old": {"billedAs": "mid"},
        "mid": {"billed_as": "new"},
        "new": {"hit": 1, "miss": 2, "output": 3},
        "loop": {"billedAs": "loop"},
        "gone": {"billedAs": "nowhere"},
    }
    assert quote("old", table, MONDAY_PEAK) == Quote(Price(1.0, 2.0, 3.0), "flat", "new")
    assert quote("loop", table, MONDAY_PEAK) is None
    assert quote("gone", table, MONDAY_PEAK) is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"hit": 1, "miss": 2}, "needs"),
        ({"peak": {"hit": 1, "miss": 2, "output": 3}}, "both"),
        ({"hit": 1, "miss": 2, "output": 3, "billedAs": "x"}, "give"),
        ({}, "give"),
        ({"offPeak": {"hit": -1, "miss": 2, "output": 3}, "peak": {"hit": 1, "miss": 2, "output": 3}}, ""),
    ],
)
def test_a_price_entry_takes_exactly_one_shape(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(settings.SettingsError) as err:
        settings.validate({"prices": {"m": entry}})
    assert err.value.problems[0].startswith("deepseek.prices.m")
    assert problem in err.value.problems[0]


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


def test_totals_split_by_rate() -> None:
    totals = UsageTotals()
    usage = {"prompt_tokens": 1_000_000, "completion_tokens": 0}
    totals.add(usage, FLASH_PEAK, "peak")
    totals.add(usage, FLASH_PEAK, "peak")
    totals.add(usage, FLASH_OFF_PEAK, "off-peak")
    totals.add(usage)
    report = totals.to_dict()
    assert report["byRate"] == {
        "peak": {"requests": 2, "cost": 0.6},
        "off-peak": {"requests": 1, "cost": 0.15},
        "unpriced": {"requests": 1, "cost": None},  # unknown, not zero
    }
    assert report["cost"] == pytest.approx(0.75)
    assert UsageTotals().to_dict()["byRate"] == {}


class _Host:
    """A job host that drops everything: these tests only price usages."""

    def send_stream(self, payload: dict[str, Any]) -> None: ...
    def progress_begin(self, job: Job) -> None: ...
    def progress_report(self, job: Job, message: str) -> None: ...
    def progress_end(self, job: Job, message: str) -> None: ...
    def show_error(self, message: str) -> None: ...


def _services(now: list[datetime], prices: dict[str, Any] | None = None) -> Services:
    services = Services(host=_Host(), env={}, clock=lambda: now[0])
    if prices is not None:
        assert services.apply_settings("workspace", {"prices": prices}) == []
    return services


MILLION = Usage(prompt_tokens=1_000_000, prompt_cache_miss_tokens=1_000_000, completion_tokens=1_000_000)


def test_a_job_usage_says_which_rate_applied_and_status_adds_up_by_rate() -> None:
    now = [MONDAY_PEAK]
    services = _services(now)
    peak = services.account("deepseek-v4-flash", MILLION)
    assert peak is not None
    assert (peak["rate"], peak["pricedAs"]) == ("peak", "deepseek-flash")
    assert peak["cost"] == pytest.approx(0.30 + 1.20)
    now[0] = SATURDAY_MORNING
    off = services.account("deepseek-flash", MILLION)
    assert off is not None and (off["rate"], off["cost"]) == ("off-peak", pytest.approx(0.15 + 0.60))
    unknown = services.account("llama3", MILLION)
    assert unknown is not None and (unknown["rate"], unknown["pricedAs"], unknown["cost"]) == (
        "unpriced",
        None,
        None,  # unknown, not zero
    )
    usage = services.status()["usage"]
    assert usage["byRate"] == {
        "peak": {"requests": 1, "cost": 1.5},
        "off-peak": {"requests": 1, "cost": 0.75},
        "unpriced": {"requests": 1, "cost": None},  # unknown, not zero
    }
    assert usage["cost"] == pytest.approx(2.25)


def test_a_job_is_priced_when_it_started_not_when_it_ended() -> None:
    """A rewrite that starts at 09:59:59 on a weekday and ends after 10:00 is billed at peak."""
    now = [datetime(2026, 11, 16, 10, 0, 30, tzinfo=UTC)]
    services = _services(now)
    job = Job(id="j1", kind="rewrite", host=_Host())
    job.started -= 60  # the job began a minute before "now"
    services.record_usage(job, "deepseek-flash", StreamResult(usage=MILLION))
    assert job.usage is not None and job.usage["rate"] == "peak"
    later = Job(id="j2", kind="rewrite", host=_Host())
    services.record_usage(later, "deepseek-flash", StreamResult(usage=MILLION))
    assert later.usage is not None and later.usage["rate"] == "off-peak"


def test_the_old_flat_setting_still_prices_at_all_hours() -> None:
    now = [MONDAY_PEAK]
    services = _services(now, {"deepseek-flash": {"hit": 0.1, "miss": 1.0, "output": 2.0}})
    usage = services.account("deepseek-flash", MILLION)
    assert usage is not None and (usage["rate"], usage["cost"]) == ("flat", pytest.approx(3.0))
