"""`deepseek-lsp check` in each failure mode, as a new user meets it: through the real CLI."""

from __future__ import annotations

import json
import re

from deepseek_lsp.check import Check, render
from deepseek_lsp.fake import FakeDeepSeek

from .harness import TEST_KEY
from .test_cli import run

ROW = re.compile(r"^  (\S+)(\s+)(API key|Base URL|Model|Balance)(\s+)(\S.*)$")


def rows(out: str) -> dict[str, tuple[str, str]]:
    """name -> (status, detail) for each row, asserting that all columns line up."""
    found: dict[str, tuple[str, str]] = {}
    name_columns, detail_columns = set(), set()
    for line in out.splitlines():
        match = ROW.match(line)
        if match:
            found[match[3]] = (match[1], match[5])
            name_columns.add(match.start(3))
            detail_columns.add(match.start(5))
    assert len(name_columns) == 1 and len(detail_columns) == 1, out  # aligned
    assert list(found) == ["API key", "Base URL", "Model", "Balance"], out
    return found


def test_columns_line_up_whatever_the_widths() -> None:
    checks = [
        Check.passed("API key", "set"),
        Check.failed("Base URL", "x " * 80),
        Check.skipped("Model", "why"),
        Check.skipped("Balance", "why"),
    ]
    text = render(checks, width=80)
    table = rows(text)
    assert table["Model"] == ("skipped", "not checked: why")
    detail_column = text.splitlines()[2].index("x x")
    continuation = text.splitlines()[3]
    assert continuation[:detail_column].strip() == "" and continuation[detail_column] == "x"
    assert all(len(line) <= 80 for line in text.splitlines())


async def test_a_rejected_key_says_so_once_and_skips_model_and_balance(fake: FakeDeepSeek) -> None:
    code, out, err = await run(
        "check", env={"DEEPSEEK_API_KEY": "sk-wrong-key-1234", "DEEPSEEK_BASE_URL": fake.base_url}
    )
    assert code == 1 and not err, err
    table = rows(out)
    assert table["API key"][0] == "FAIL"
    assert "the server rejected this key (HTTP 401)" in table["API key"][1]
    assert "into DEEPSEEK_API_KEY" in " ".join(out.split())
    assert table["Base URL"][0] == "ok"
    assert table["Model"][0] == "skipped" and table["Model"][1].startswith("not checked: ")
    assert table["Balance"][0] == "skipped" and table["Balance"][1].startswith("not checked: ")
    assert out.lower().count("reject") == 1 and "sk-wrong-key-1234" not in out


async def test_no_key_names_the_variable_and_skips_the_rest(fake: FakeDeepSeek) -> None:
    code, out, _ = await run("check", env={"DEEPSEEK_BASE_URL": fake.base_url})
    table = rows(out)
    assert code == 1 and table["API key"][0] == "FAIL"
    assert "export DEEPSEEK_API_KEY=" in table["API key"][1]
    assert table["Model"] == ("skipped", "not checked: needs an API key")


async def test_a_base_url_without_scheme_names_the_environment_variable() -> None:
    code, out, err = await run(
        "check", env={"DEEPSEEK_API_KEY": TEST_KEY, "DEEPSEEK_BASE_URL": "api.example.com"}
    )
    assert code == 1 and not err, err
    table = rows(out)
    assert table["Base URL"][0] == "FAIL"
    detail = " ".join(out.split())
    assert "DEEPSEEK_BASE_URL=api.example.com is not usable" in detail
    assert "http:// or https://" in detail
    assert "deepseek.baseUrl" not in out and "Value error" not in out
    assert table["Model"] == ("skipped", "not checked: the base URL is not valid")
    code, out, _ = await run(
        "check", "--json", env={"DEEPSEEK_API_KEY": TEST_KEY, "DEEPSEEK_BASE_URL": "api.example.com"}
    )
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert [(c["name"], c["status"]) for c in report["checks"]] == [
        ("API key", "ok"),
        ("Base URL", "fail"),
        ("Model", "skipped"),
        ("Balance", "skipped"),
    ]


async def test_an_unreachable_local_server_gets_advice() -> None:
    code, out, _ = await run(
        "check", env={"DEEPSEEK_API_KEY": TEST_KEY, "DEEPSEEK_BASE_URL": "http://127.0.0.1:9"}
    )
    table = rows(out)
    detail = " ".join(out.split())
    assert code == 1 and table["Base URL"][0] == "FAIL"
    assert "http://127.0.0.1:9 could not be reached" in detail and "running" in detail
    assert "DEEPSEEK_BASE_URL" in detail
    assert table["Balance"] == ("skipped", "not checked: the base URL does not answer")


def test_a_remote_unreachable_url_advises_network_and_proxy() -> None:
    from deepseek_lsp.check import _unreachable_advice

    assert "HTTPS_PROXY" in _unreachable_advice("https://api.deepseek.com", from_env=False)
    assert "DEEPSEEK_BASE_URL" in _unreachable_advice("https://llm.example.com/v1", from_env=True)


async def test_a_server_that_needs_no_key_passes_without_one() -> None:
    async with FakeDeepSeek(api_key=None) as local:
        code, out, _ = await run("check", env={"DEEPSEEK_BASE_URL": local.base_url})
    table = rows(out)
    assert code == 0, out
    assert table["API key"] == ("ok", "not set; this server does not ask for one")
    assert all(status == "ok" for status, _ in table.values())


# -- a generic OpenAI-compatible server (issue 12) ------------------------------------------------


async def test_a_generic_server_passes_without_a_key_and_without_a_balance() -> None:
    async with FakeDeepSeek(api_key=None, profile="openai") as local:
        code, out, err = await run("check", env={"DEEPSEEK_BASE_URL": f"{local.base_url}/v1"})
        assert code == 0 and not err, out + err
        table = rows(out)
        assert table["API key"] == ("ok", "not set; this server does not ask for one")
        assert "a generic OpenAI-compatible server" in " ".join(out.split())
        assert table["Model"] == ("ok", "local-model (chosen automatically) is listed")
        assert table["Balance"][0] == "ok" and table["Balance"][1].startswith("not applicable")
        assert [r.path for r in local.info_requests] == ["/v1/models"]  # no /user/balance
        assert "Authorization" not in local.info_requests[0].headers
        code, out, _ = await run("check", "--json", env={"DEEPSEEK_BASE_URL": f"{local.base_url}/v1"})
        report = json.loads(out)
        assert code == 0 and report["ok"] is True and report["provider"] == "openai"


async def test_a_generic_server_passes_a_configured_model_it_does_not_list() -> None:
    """llama.cpp's server lists its .gguf path but answers to any model name."""
    async with FakeDeepSeek(api_key=None, profile="openai") as local:
        env = {"DEEPSEEK_BASE_URL": f"{local.base_url}/v1", "DEEPSEEK_MODEL": "smollm2"}
        code, out, _ = await run("check", env=env)
    table = rows(out)
    assert code == 0, out
    assert table["Model"][0] == "ok"
    flat = " ".join(out.split())  # the detail wraps at the terminal's width
    assert "smollm2 (from DEEPSEEK_MODEL) is not listed (the server lists: local-model)" in flat


async def test_a_generic_server_without_v1_names_the_url_that_answers() -> None:
    async with FakeDeepSeek(api_key=None, profile="openai") as local:
        code, out, _ = await run("check", env={"DEEPSEEK_BASE_URL": local.base_url})
    table = rows(out)
    assert code == 1 and table["Base URL"][0] == "FAIL"
    detail = " ".join(out.split())
    assert f"{local.base_url}/v1 serves an OpenAI-compatible API" in detail
    assert f"set DEEPSEEK_BASE_URL={local.base_url}/v1" in detail


async def test_a_generic_server_that_wants_a_key_says_so() -> None:
    async with FakeDeepSeek(api_key=TEST_KEY, profile="openai") as local:
        code, out, _ = await run("check", env={"DEEPSEEK_BASE_URL": f"{local.base_url}/v1"})
        assert "Authorization" not in local.info_requests[0].headers
    table = rows(out)
    assert code == 1 and table["API key"][0] == "FAIL"
    assert f"127.0.0.1:{local.port} asks for one: HTTP 401" in " ".join(out.split())
    assert table["Model"] == ("skipped", "not checked: needs an API key")


async def test_deepseeks_own_profile_still_checks_the_balance(fake: FakeDeepSeek) -> None:
    env = {"DEEPSEEK_API_KEY": TEST_KEY, "DEEPSEEK_BASE_URL": fake.base_url, "DEEPSEEK_PROVIDER": "deepseek"}
    code, out, _ = await run("check", "--json", env=env)
    report = json.loads(out)
    assert code == 0 and report["provider"] == "deepseek"
    assert report["checks"][3]["detail"].endswith("CNY")
    assert any(r.path == "/user/balance" for r in fake.info_requests)
