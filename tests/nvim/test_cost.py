"""The cost Neovim shows says which of DeepSeek's rates applied (DeepSeek bills by time of day)."""

from __future__ import annotations

import re

from .conftest import Nvim, Reply, ThreadedFake

CODE = "def add(a, b):\n    return a + b\n"

FORMAT = "local u = require('deepseek_lsp.util'); return {u.fmt_rated_cost(...), u.fmt_session_cost(...)}"


def test_costs_name_their_rate(nvim: Nvim) -> None:
    def shown(usage: dict[str, object]) -> list[str]:
        return list(nvim.lua(FORMAT, usage))

    assert shown({"cost": 0.0012, "rate": "peak"})[0] == "$0.0012 (peak rate)"
    assert shown({"cost": 0.0006, "rate": "off-peak"})[0] == "$0.0006 (off-peak rate)"
    assert shown({"cost": 0.0012, "rate": "flat"})[0] == "$0.0012"
    assert shown({"cost": 0, "rate": "unpriced"})[0] == "cost unknown (no price for this model)"
    one_rate = {"cost": 0.002, "byRate": {"peak": {"requests": 2, "cost": 0.002}}}
    assert shown(one_rate)[1] == "$0.0020 (peak rate)"
    mixed = {
        "cost": 0.003,
        "byRate": {
            "peak": {"requests": 1, "cost": 0.002},
            "off-peak": {"requests": 1, "cost": 0.001},
            "unpriced": {"requests": 1, "cost": 0},
        },
    }
    assert shown(mixed)[1] == "$0.0030 ($0.0020 peak rate, $0.0010 off-peak rate, 1 request with no price)"
    assert shown({"cost": 0.5})[1] == "$0.50"  # an older server: no rates, the cost alone


def test_explain_footer_shows_the_rate_the_server_applied(nvim: Nvim, fake: ThreadedFake) -> None:
    fake.enqueue(Reply(content="`add` returns the sum."))
    nvim.edit("calc.py", CODE)
    nvim.cmd("DeepSeek explain")
    job = nvim.wait_job_done("explain")
    usage = nvim.lua(
        "local j = require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'explain' end);"
        " return j.usage"
    )
    # DEEPSEEK_MODEL is the legacy deepseek-chat: priced as deepseek-flash, by time of day
    assert usage["pricedAs"] == "deepseek-flash"
    assert usage["rate"] in ("peak", "off-peak")
    footer = nvim.lua(
        "local f = require('deepseek_lsp.explain').current();"
        " local c = vim.api.nvim_win_get_config(f.win);"
        " return table.concat(vim.tbl_map(function(p) return p[1] end, c.footer or {}), '')"
    )
    assert re.search(rf"\$[\d.]+ \({usage['rate']} rate\)", footer), (footer, job)


def test_estimated_tokens_and_unknown_prices_are_shown_as_such(nvim: Nvim) -> None:
    """A server that reports no usage (llama.cpp): counts marked as estimates, no cost invented."""
    estimated = {
        "promptTokens": 1000,
        "completionTokens": 200,
        "estimated": True,
        "cost": None,
        "rate": "unpriced",
    }
    tokens, cost = nvim.lua(
        "local u = require('deepseek_lsp.util'); return {u.fmt_usage_tokens(...), u.fmt_rated_cost(...)}",
        estimated,
    )
    assert tokens == "~1.2k tok (estimated)"
    assert cost == "cost unknown (no price for this model)"
    reported = {
        "promptTokens": 1000,
        "completionTokens": 200,
        "estimated": False,
        "cost": 0.001,
        "rate": "flat",
    }
    assert nvim.lua("return require('deepseek_lsp.util').fmt_usage_tokens(...)", reported) == "1.2k tok"
    line = nvim.lua(
        "local jobs = require('deepseek_lsp.jobs');"
        " jobs.totals = {requests = 2, prompt = 2000, completion = 400, hit = 0, miss = 2000,"
        "  reasoning = 0, cost = 0, estimated = 2, unpriced = 2};"
        " return require('deepseek_lsp').status()"
    )
    assert line == "DeepSeek · ~2.4k tok", line  # no cache share, no "$0"
