"""`deepseek-lsp check`: one screen that tells a new user whether the set-up works, and what to do.

Every row is checked or says why it was not; every failure names what to set and where (the
environment variable the value came from, since the command line reads only the environment).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import textwrap
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from pydantic import ValidationError

from . import __version__, provider
from .client import ClientConfig, DeepSeekClient
from .errors import DeepSeekError
from .logs import redact
from .services import pick_model
from .settings import DEFAULT_BASE_URL, Settings, from_env

Status = Literal["ok", "fail", "skipped"]
KEY_PAGE = "platform.deepseek.com/api_keys"
# setting -> the environment variable `check` read it from
ENV_VARS = {
    "apiKey": "DEEPSEEK_API_KEY",
    "baseUrl": "DEEPSEEK_BASE_URL",
    "model": "DEEPSEEK_MODEL",
    "provider": "DEEPSEEK_PROVIDER",
}
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@dataclass
class Check:
    """One row. `ok` is False for a failed row and for a row skipped because another failed."""

    name: str
    ok: bool
    detail: str
    status: Status = field(default="ok")

    @classmethod
    def passed(cls, name: str, detail: str) -> Check:
        return cls(name, True, detail, "ok")

    @classmethod
    def failed(cls, name: str, detail: str) -> Check:
        return cls(name, False, detail, "fail")

    @classmethod
    def skipped(cls, name: str, why: str) -> Check:
        return cls(name, False, f"not checked: {why}", "skipped")


def load(environ: Mapping[str, str] | None = None) -> tuple[Settings, dict[str, str], set[str]]:
    """The settings from the environment, with each invalid value left out and described by its
    variable (`problems`: setting -> what is wrong), and which settings the environment set."""
    raw = from_env(environ)
    problems: dict[str, str] = {}
    try:
        return Settings.model_validate(raw), problems, set(raw)
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            key = str(err["loc"][0]) if err["loc"] else ""
            msg = err["msg"].removeprefix("Value error, ")
            problems[key] = msg
    good = {k: v for k, v in raw.items() if k not in problems}
    try:
        settings = Settings.model_validate(good)
    except ValidationError:
        settings = Settings()
    return settings, problems, set(good)


def _unreachable_advice(url: str, from_env: bool) -> str:
    """What to try when nothing answers at `url`, naming where the URL came from."""
    if (urlsplit(url).hostname or "") in _LOCAL_HOSTS:
        return "Is the server on this machine running, and on that port? If so, fix DEEPSEEK_BASE_URL."
    if from_env:
        return "Check your network connection and DEEPSEEK_BASE_URL; behind a proxy, set HTTPS_PROXY."
    return (
        "Check your network connection; behind a proxy, set HTTPS_PROXY. "
        "To use another server, set DEEPSEEK_BASE_URL."
    )


async def _run(
    settings: Settings,
    problems: dict[str, str],
    from_env_keys: set[str],
    report: dict[str, str] | None = None,
) -> list[Check]:
    """The four rows. `report` receives the provider the rows were checked as (for `--json`)."""
    key = settings.key
    url = settings.base_url
    url_from_env = "baseUrl" in from_env_keys
    # Before the model list: the profile by the setting, the host and a configured model. A
    # generic server is asked without a key when none is set (many need none); DeepSeek is
    # asked with a placeholder, which still shows whether the base URL answers (with a 401).
    early = provider.resolve(settings.provider, url, settings.model)
    out = report if report is not None else {}
    out["provider"] = early.name
    if "apiKey" in problems:
        key_check = Check.failed("API key", f"DEEPSEEK_API_KEY: {problems['apiKey']}.")
    elif key:
        key_check = Check.passed("API key", "set (DEEPSEEK_API_KEY)")
    elif early.needs_key:
        key_check = Check.failed(
            "API key", f"not set: export DEEPSEEK_API_KEY=sk-... (get a key at {KEY_PAGE})"
        )
    else:
        key_check = Check.passed("API key", "not set; none is sent")
    checks = [key_check]
    if "baseUrl" in problems or "provider" in problems:
        if "baseUrl" in problems:
            raw = redact(from_env().get("baseUrl", ""))
            detail = (
                f"DEEPSEEK_BASE_URL={raw} is not usable: {problems['baseUrl']}. Set DEEPSEEK_BASE_URL "
                f"to a full URL such as {DEFAULT_BASE_URL} or http://127.0.0.1:11434/v1, or unset it "
                "to use DeepSeek."
            )
            why = "the base URL is not valid"
        else:
            detail = f"DEEPSEEK_PROVIDER: {problems['provider']}. Set it to auto, deepseek or openai."
            why = "the provider is not valid"
        checks.append(Check.failed("Base URL", detail))
        return [*checks, Check.skipped("Model", why), Check.skipped("Balance", why)]

    placeholder = "sk-none" if early.needs_key else None
    client = DeepSeekClient(
        ClientConfig(
            base_url=url,
            api_key=key or placeholder,
            connect_timeout=5,
            idle_timeout=10,
            max_retries=0,
            provider=early.name,
        )
    )
    try:
        started = time.perf_counter()
        try:
            models = await client.list_models()
        except DeepSeekError as err:
            if err.code == "unauthorized":
                checks.append(Check.passed("Base URL", f"{url} answers"))
                key_check.ok, key_check.status = False, "fail"
                if key:
                    page = KEY_PAGE if early.deepseek else "the server's configuration"
                    key_check.detail = (
                        f"the server rejected this key (HTTP 401). Copy the key again from {page} "
                        "into DEEPSEEK_API_KEY."
                    )
                    why = "needs an API key the server accepts"
                else:
                    if not early.deepseek:
                        key_check.detail = (
                            "not set: export DEEPSEEK_API_KEY=<the key it expects> "
                            f"({early.host} asks for one: HTTP 401)"
                        )
                    why = "needs an API key"
                return [*checks, Check.skipped("Model", why), Check.skipped("Balance", why)]
            if err.code in ("network", "timeout"):
                what = "did not answer in time" if err.code == "timeout" else "could not be reached"
                detail = f"{url} {what}. {_unreachable_advice(url, url_from_env)}"
                why = "the base URL does not answer"
            elif err.status == 404:
                detail = await _not_found(url)
                why = "the base URL gave no model list"
            else:
                detail = (
                    f"{url} answers, but listing its models failed: {err.message} Is this the API's "
                    "URL (OpenAI-compatible servers often end in /v1)? Set DEEPSEEK_BASE_URL."
                )
                why = "the base URL gave no model list"
            checks.append(Check.failed("Base URL", detail))
            return [*checks, Check.skipped("Model", why), Check.skipped("Balance", why)]
        except Exception as exc:  # an HTML page, a malformed URL: say so, never a traceback
            checks.append(
                Check.failed(
                    "Base URL",
                    f"{url} does not answer like an OpenAI-compatible API ({type(exc).__name__}). "
                    "Set DEEPSEEK_BASE_URL to the API's URL (often ending in /v1).",
                )
            )
            why = "the base URL gave no model list"
            return [*checks, Check.skipped("Model", why), Check.skipped("Balance", why)]
        ms = (time.perf_counter() - started) * 1000
        profile = provider.resolve(settings.provider, url, settings.model or pick_model(models))
        out["provider"] = profile.name
        kind = "DeepSeek's API" if profile.deepseek else "a generic OpenAI-compatible server"
        checks.append(Check.passed("Base URL", f"{url} answers ({ms:.0f} ms); {kind}"))
        if not key and "apiKey" not in problems:
            key_check.ok, key_check.status = True, "ok"
            key_check.detail = "not set; this server does not ask for one"
        checks.append(_model_check(settings, models, generic=not profile.deepseek))
        if profile.has_balance:
            checks.append(await _balance_check(client, key))
        else:
            checks.append(
                Check.passed(
                    "Balance",
                    f"not applicable: only DeepSeek's API reports a balance, and {profile.host} is "
                    "a generic OpenAI-compatible server (DEEPSEEK_PROVIDER=deepseek if it is DeepSeek's)",
                )
            )
    finally:
        await client.aclose()
    return checks


async def _not_found(url: str) -> str:
    """The Base URL row for a 404 on GET /models: whether `url`/v1 serves the API instead."""
    if not urlsplit(url).path.rstrip("/").endswith("/v1"):
        probe = DeepSeekClient(
            ClientConfig(
                base_url=f"{url}/v1", api_key=None, connect_timeout=5, idle_timeout=10, provider="openai"
            )
        )
        try:
            await probe.list_models()
        except Exception:
            pass
        else:
            return (
                f"{url} answers 404 Not Found for /models, but {url}/v1 serves an OpenAI-compatible "
                f"API: set DEEPSEEK_BASE_URL={url}/v1."
            )
        finally:
            await probe.aclose()
    return f"{url} answers 404 Not Found for /models. {provider.v1_hint(url, 'DEEPSEEK_BASE_URL')}"


async def _balance_check(client: DeepSeekClient, key: str | None) -> Check:
    if not key:
        return Check.passed("Balance", "no API key, so no account to check")
    try:
        bal = await client.balance()
    except DeepSeekError as err:
        if err.status == 404:
            return Check.passed("Balance", "this server has no balance to report (only DeepSeek's API has)")
        return Check.failed("Balance", err.message)
    except Exception:  # not DeepSeek's shape: another OpenAI-compatible server
        return Check.passed("Balance", "this server has no balance to report (only DeepSeek's API has)")
    amounts = ", ".join(f"{b.total_balance} {b.currency}" for b in bal.balance_infos) or "no balance info"
    if bal.is_available:
        return Check.passed("Balance", amounts)
    return Check.failed(
        "Balance", f"{amounts}: not enough to make requests. Top up at platform.deepseek.com/top_up."
    )


def _model_check(settings: Settings, models: list[str], *, generic: bool = False) -> Check:
    wanted = settings.model or pick_model(models)
    if wanted and wanted in models:
        how = "from DEEPSEEK_MODEL" if settings.model else "chosen automatically"
        return Check.passed("Model", f"{wanted} ({how}) is listed")
    listed = ", ".join(models) or "none"
    if settings.model and generic and models:
        # llama.cpp, Ollama's OpenAI API and others serve whatever name is asked: not a failure
        return Check.passed(
            "Model",
            f"{wanted} (from DEEPSEEK_MODEL) is not listed (the server lists: {listed}); local servers "
            "such as llama.cpp answer to any name, others refuse it on the first request",
        )
    if settings.model:
        return Check.failed(
            "Model",
            f"{wanted} (from DEEPSEEK_MODEL) is not listed; available: {listed}. "
            "Set DEEPSEEK_MODEL to one of them.",
        )
    return Check.failed("Model", "the server lists no model. Set DEEPSEEK_MODEL to the model it serves.")


LABELS: dict[Status, str] = {"ok": "ok", "fail": "FAIL", "skipped": "skipped"}


def render(checks: list[Check], width: int | None = None) -> str:
    """The table: status, name and detail columns aligned whatever their widths; a long detail
    wraps under its own column."""
    width = width or max(60, min(120, shutil.get_terminal_size((100, 24)).columns))
    status_w = max(len(LABELS[c.status]) for c in checks)
    name_w = max(len(c.name) for c in checks)
    indent = " " * (2 + status_w + 2 + name_w + 2)
    lines = [f"deepseek-lsp {__version__}"]
    for c in checks:
        head = f"  {LABELS[c.status]:<{status_w}}  {c.name:<{name_w}}  "
        wrapped = textwrap.wrap(c.detail, max(30, width - len(indent)), break_on_hyphens=False) or [""]
        lines.append(head + wrapped[0])
        lines += [indent + more for more in wrapped[1:]]
    failed = sum(c.status == "fail" for c in checks)
    if failed == 1:
        lines.append("1 check failed; fix it as described, then run `deepseek-lsp check` again.")
    elif failed:
        lines.append(f"{failed} checks failed; fix them as described, then run `deepseek-lsp check` again.")
    else:
        lines.append("All good.")
    return "\n".join(lines)


def run_check(as_json: bool = False) -> int:
    """A command-line report (never run inside the LSP server, so stdout is ours)."""
    settings, problems, from_env_keys = load()
    found: dict[str, str] = {}
    checks = asyncio.run(_run(settings, problems, from_env_keys, found))
    if "model" in problems:
        checks = [c for c in checks if c.name != "Model"]
        checks.insert(2, Check.failed("Model", f"DEEPSEEK_MODEL: {problems['model']}."))
    ok = all(c.ok for c in checks)
    if as_json:
        report = json.dumps(
            {
                "version": __version__,
                "ok": ok,
                "provider": found.get("provider"),
                "checks": [asdict(c) for c in checks],
            }
        )
    else:
        report = render(checks)
    print(report)  # stdout-ok
    return 0 if ok else 1
