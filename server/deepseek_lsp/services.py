"""The services every feature shares, built once per server and injected (no pygls here).

Settings changes flow through `apply_settings`, which keeps the last valid settings when a
layer is bad, and reconfigures the one pooled DeepSeek client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import pricing, provider
from . import settings as settings_mod
from .api import Usage
from .client import ClientConfig, DeepSeekClient, EstimatedUsage, StreamResult
from .errors import DeepSeekError
from .jobs import Job, JobHost, JobRegistry
from .logs import redact
from .payload import chat_body
from .pricing import UsageTotals
from .rewrite.journal import Journal, journal_dir
from .settings import Settings, SettingsError

log = logging.getLogger(__name__)

# Preferred when `deepseek.model` is unset: the cheapest current non-reasoning model listed.
MODEL_PREFERENCE = ("deepseek-flash", "deepseek-v4-flash", "deepseek-chat")
FALLBACK_MODEL = "deepseek-chat"


def pick_model(listed: list[str]) -> str | None:
    """The model to use when `deepseek.model` is unset, from what GET /models lists."""
    return next((name for name in MODEL_PREFERENCE if name in listed), listed[0] if listed else None)


@dataclass
class Services:
    host: JobHost
    env: Mapping[str, str] | None = None
    settings: Settings = field(init=False)
    client: DeepSeekClient = field(init=False)
    jobs: JobRegistry = field(init=False)
    totals: UsageTotals = field(default_factory=UsageTotals)
    # Features add fields to `deepseek.status` here (e.g. "chat": session usage); name -> provider.
    status_extra: dict[str, Callable[[], Any]] = field(default_factory=dict)
    _layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    _auto_model: asyncio.Future[str] | None = None
    startup_problems: list[str] = field(default_factory=list)  # an invalid environment
    journal: Journal = field(init=False)  # rewrites' originals, for recovery after a crash
    active_journal: set[str] = field(default_factory=set)  # entries of rewrites running here
    shutting_down: bool = False  # restores get little time: the client may no longer answer
    # Wall-clock time (UTC) for pricing: DeepSeek's rate depends on when a request ran.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        env = settings_mod.from_env(self.env)
        redact.add(env.get("apiKey"))
        try:
            self.settings = settings_mod.validate(env)
        except SettingsError as err:
            # reported once the client is connected (`report_startup`): nothing can be sent yet
            self.startup_problems = [_env_name(p) for p in err.problems]
            bad = {p.partition(":")[0].removeprefix("deepseek.") for p in err.problems}
            env = {k: v for k, v in env.items() if k not in bad}  # keep the valid variables
            try:
                self.settings = settings_mod.validate(env)
            except SettingsError:
                env, self.settings = {}, Settings()
        self._layers["env"] = env
        redact.add(self.settings.key)
        self.client = DeepSeekClient(self._client_config())
        self.jobs = JobRegistry(self.host)
        self.journal = Journal(journal_dir(self.env))

    def report_startup(self) -> None:
        """Show the environment's problems, once, when the client can receive them."""
        if self.startup_problems:
            problems, self.startup_problems = self.startup_problems, []
            self.host.show_error(f"deepseek-lsp: invalid environment: {'; '.join(problems)}")

    def _client_config(self) -> ClientConfig:
        s = self.settings
        return ClientConfig(
            base_url=s.base_url,
            api_key=s.key,
            connect_timeout=s.timeouts.connect,
            idle_timeout=s.timeouts.idle,
            max_retries=s.max_retries,
            provider=self.profile.name,
        )

    @property
    def profile(self) -> provider.Profile:
        """DeepSeek's API or a generic OpenAI-compatible server, for the model in use (before a
        model is chosen, by the setting and the host alone)."""
        return provider.for_settings(self.settings, self.current_model)

    def apply_settings(self, layer: str, values: Mapping[str, Any] | None) -> list[str]:
        """Replace one settings layer; returns the problems (empty when all is well)."""
        candidate = dict(self._layers)
        candidate[layer] = dict(values or {})
        order = ("env", "init", "workspace")
        merged = settings_mod.merge(*(candidate.get(k) for k in order))
        try:
            new = settings_mod.validate(merged)
        except SettingsError as err:
            return err.problems
        self._layers = candidate
        if new.model != self.settings.model or new.base_url != self.settings.base_url:
            self._auto_model = None
        self.settings = new
        redact.add(new.key)
        self.client.reconfigure(self._client_config())
        return []

    async def model(self) -> str:
        """The configured model, or the preferred one that GET /models lists (asked once)."""
        if self.settings.model:
            return self.settings.model
        if self._auto_model is None:
            self._auto_model = asyncio.ensure_future(self._pick_model())
            self._auto_model.add_done_callback(self._model_chosen)
        return await asyncio.shield(self._auto_model)

    async def _pick_model(self) -> str:
        try:
            listed = await self.client.list_models()
        except DeepSeekError as err:
            self._auto_model = None  # ask again next time
            if not self.profile.deepseek:
                # a generic server's model cannot be guessed, and a DeepSeek name would switch
                # the profile: say what failed and, when the server answered, what to set
                if err.code in ("network", "timeout", "unauthorized"):
                    raise
                raise DeepSeekError(
                    err.code,
                    f"{err.message.rstrip('.')}. No model could be chosen: the server did not "
                    "list its models (GET /models). Set `deepseek.model` to the model it serves.",
                    status=err.status,
                ) from None
            log.info("GET /models failed (%s); using %s", err.code, FALLBACK_MODEL)
            return FALLBACK_MODEL
        picked = pick_model(listed)
        if picked is None:
            if not self.profile.deepseek:
                raise DeepSeekError(
                    "bad_request",
                    f"{self.profile.server} lists no model (GET /models). Set `deepseek.model` "
                    "to the model it serves.",
                )
            picked = FALLBACK_MODEL
        return picked

    def prefix_by_default(self, model: str) -> bool:
        """Whether a rewrite for `model` tries chat prefix completion (`/beta`) when
        `deepseek.rewritePrefix` is unset: on DeepSeek's API only."""
        return provider.for_settings(self.settings, model).prefix_by_default

    def _model_chosen(self, future: asyncio.Future[str]) -> None:
        """The auto-picked model may change the profile (auto: by the model's name)."""
        if future is self._auto_model and not future.cancelled() and future.exception() is None:
            self.client.reconfigure(self._client_config())

    @property
    def current_model(self) -> str | None:
        """The model requests use now: configured, or the one GET /models gave (None: not asked yet)."""
        if self.settings.model:
            return self.settings.model
        picked = self._auto_model
        if picked is None or not picked.done() or picked.cancelled() or picked.exception() is not None:
            return None
        return picked.result()

    def account(
        self, model: str, usage: Usage | None, started: datetime | None = None
    ) -> dict[str, Any] | None:
        """One request's usage in docs/protocol.md's shape, priced at the rate in force when it
        started (default: now), and added to the session totals. An `EstimatedUsage` (the server
        reported none) is marked `estimated`; a model without a price costs `None` (unknown)."""
        if usage is None:
            return None
        estimated = isinstance(usage, EstimatedUsage)
        counts = {
            "promptTokens": usage.prompt_tokens,
            "completionTokens": usage.completion_tokens,
            "promptCacheHitTokens": usage.cache_hit,
            "promptCacheMissTokens": usage.cache_miss,
            "reasoningTokens": usage.reasoning_tokens,
        }
        quote = pricing.quote(model, self.settings.prices, started or self.clock())
        rate = quote.rate if quote is not None else pricing.UNPRICED
        job_cost = self.totals.add(
            counts, quote.price if quote is not None else None, rate, estimated=estimated
        )
        priced_as = quote.priced_as if quote is not None else None
        cost = round(job_cost, 8) if quote is not None else None
        return {**counts, "cost": cost, "rate": rate, "pricedAs": priced_as, "estimated": estimated}

    async def stream_to_job(
        self,
        job: Job,
        messages: list[dict[str, Any]],
        *,
        thinking: bool | None = None,
        max_tokens: int | None = None,
        beta: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> StreamResult:
        """The common path: ask DeepSeek and stream every delta into the job's notifications."""
        model = await self.model()
        body = chat_body(self.settings, model, messages, thinking=thinking, max_tokens=max_tokens)
        body.update(extra or {})
        result = StreamResult()
        async for delta in self.client.stream_chat(body, result, beta=beta):
            job.emit(content=delta.content, reasoning=delta.reasoning)
        self.record_usage(job, body["model"], result)
        return result

    def record_usage(self, job: Job, model: str, result: StreamResult) -> None:
        """Price the job's request at the time the job started (DeepSeek's rate may have changed
        since: a long rewrite can cross into peak hours)."""
        ran = timedelta(seconds=max(time.monotonic() - job.started, 0.0))
        job.usage = self.account(model, result.usage, self.clock() - ran)

    def status(self) -> dict[str, Any]:
        s = self.settings
        return {
            "model": self.current_model or "auto",
            "baseUrl": s.base_url,
            "provider": self.profile.name,
            "apiKeySet": bool(s.key),
            "thinking": s.thinking,
            "review": s.review,
            "jobs": [j.to_status() for j in self.jobs.running()],
            "usage": self.totals.to_dict(),
            **{name: provide() for name, provide in self.status_extra.items()},
        }

    async def aclose(self) -> None:
        await self.jobs.cancel_all()
        await self.client.aclose()


_ENV_NAMES = {
    "deepseek.apiKey": "DEEPSEEK_API_KEY",
    "deepseek.baseUrl": "DEEPSEEK_BASE_URL",
    "deepseek.model": "DEEPSEEK_MODEL",
    "deepseek.provider": "DEEPSEEK_PROVIDER",
}


def _env_name(problem: str) -> str:
    """Name the environment variable the user set, not the setting it stands for."""
    key, sep, rest = problem.partition(":")
    return f"{_ENV_NAMES[key]}{sep}{rest}" if key in _ENV_NAMES else problem
