"""`deepseek-lsp check`: one screen that tells a new user whether the set-up works, and what to do."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass

from . import __version__
from .client import ClientConfig, DeepSeekClient
from .errors import DeepSeekError
from .services import pick_model
from .settings import Settings, SettingsError, from_env, validate


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


async def _run(settings: Settings) -> list[Check]:
    key = settings.key
    key_check = Check(
        "API key",
        bool(key),
        "set" if key else "not set: export DEEPSEEK_API_KEY=sk-... (platform.deepseek.com)",
    )
    checks = [key_check]
    # Without a key, a placeholder still shows whether the base URL answers (with a 401).
    client = DeepSeekClient(
        ClientConfig(
            base_url=settings.base_url,
            api_key=key or "sk-none",
            connect_timeout=5,
            idle_timeout=10,
            max_retries=0,
        )
    )
    try:
        started = time.perf_counter()
        try:
            models = await client.list_models()
        except DeepSeekError as err:
            if err.code != "unauthorized":
                checks.append(Check("Base URL", False, f"{settings.base_url}: {err.message}"))
                return checks
            checks.append(Check("Base URL", True, f"{settings.base_url} answers"))
            if key:
                key_check.ok = False
                key_check.detail = "rejected by the server: " + err.message
            return checks
        ms = (time.perf_counter() - started) * 1000
        checks.append(Check("Base URL", True, f"{settings.base_url} answers ({ms:.0f} ms)"))
        checks.append(_model_check(settings, models))
        try:
            bal = await client.balance()
            amounts = (
                ", ".join(f"{b.total_balance} {b.currency}" for b in bal.balance_infos) or "no balance info"
            )
            if bal.is_available:
                checks.append(Check("Balance", True, amounts))
            else:
                checks.append(
                    Check("Balance", False, f"{amounts}: not enough to make requests; top up your account")
                )
        except DeepSeekError as err:
            checks.append(Check("Balance", False, err.message))
    finally:
        await client.aclose()
    return checks


def _model_check(settings: Settings, models: list[str]) -> Check:
    wanted = settings.model or pick_model(models)
    if wanted and wanted in models:
        how = "configured" if settings.model else "chosen automatically"
        return Check("Model", True, f"{wanted} ({how}) is listed")
    return Check(
        "Model",
        False,
        f"{wanted or 'no usable model'} is not listed; available: {', '.join(models) or 'none'}. "
        "Set deepseek.model or DEEPSEEK_MODEL to one of them.",
    )


def run_check(as_json: bool = False) -> int:
    """A command-line report (never run inside the LSP server, so stdout is ours)."""
    try:
        settings = validate(from_env())
    except SettingsError as err:
        print(f"Invalid environment: {err}", file=sys.stderr)  # stdout-ok
        return 2
    checks = asyncio.run(_run(settings))
    ok = all(c.ok for c in checks)
    if as_json:
        report = json.dumps({"version": __version__, "ok": ok, "checks": [asdict(c) for c in checks]})
    else:
        lines = [f"deepseek-lsp {__version__}"]
        lines += [f"  [{'ok' if c.ok else 'FAIL'}] {c.name:<9} {c.detail}" for c in checks]
        lines.append("All good." if ok else "Some checks failed; see above.")
        report = "\n".join(lines)
    print(report)  # stdout-ok
    return 0 if ok else 1
