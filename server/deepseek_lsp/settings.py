"""Settings: one pydantic model, merged from defaults < environment < initializationOptions <
workspace configuration (section `deepseek`), keys camelCase as docs/protocol.md says.

A bad value is reported by its exact key and the last valid settings stay in force. The API key
is a SecretStr so no repr, log line or validation error can carry it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .secrets import DEFAULT_EXCLUDES

DEFAULT_BASE_URL = "https://api.deepseek.com"

# USD per 1M tokens, from DeepSeek's pricing page (api-docs.deepseek.com) checked 2026-11-15;
# configuration, not code: `deepseek.prices`. Each model is priced by time of
# day (`peak` on weekdays at the hours `pricing.PEAK_HOURS_UTC` names, `offPeak` otherwise), at
# one flat price `{"hit", "miss", "output"}`, or `billedAs` the model that serves it: the legacy
# `deepseek-v4-flash` is served and billed as `deepseek-flash`, as were the retired (2026-07-24)
# `deepseek-chat` / `deepseek-reasoner` aliases should a proxy still answer to them.
DEFAULT_PRICES: dict[str, dict[str, Any]] = {
    "deepseek-flash": {
        "offPeak": {"hit": 0.003, "miss": 0.15, "output": 0.60},
        "peak": {"hit": 0.006, "miss": 0.30, "output": 1.20},
    },
    "deepseek-v4-pro": {
        "offPeak": {"hit": 0.022, "miss": 0.66, "output": 1.98},
        "peak": {"hit": 0.044, "miss": 1.32, "output": 3.96},
    },
    "deepseek-v4-flash": {"billedAs": "deepseek-flash"},
    "deepseek-chat": {"billedAs": "deepseek-flash"},
    "deepseek-reasoner": {"billedAs": "deepseek-flash"},
}


# Context windows in tokens, from DeepSeek's model list (its API documentation): V3.x
# `deepseek-chat`/`deepseek-reasoner` 128K, V4 models 1M. `deepseek.contextWindow` overrides.
CONTEXT_WINDOWS: dict[str, int] = {
    "deepseek-chat": 131_072,
    "deepseek-reasoner": 131_072,
    "deepseek-v4-flash": 1_000_000,
    "deepseek-v4-pro": 1_000_000,
    "deepseek-flash": 1_000_000,
}
# A model we do not know (a local server's, a new name) may have a small window: assume one,
# so a request is refused here with advice rather than by the server with a bare 400.
UNKNOWN_CONTEXT_WINDOW = 32_768


def context_window_for(model: str, configured: int | None = None) -> int:
    """The context window to respect for `model`: the setting, else the model's, else a small one."""
    if configured:
        return configured
    if model in CONTEXT_WINDOWS:
        return CONTEXT_WINDOWS[model]
    name = model.lower()
    if name.startswith("deepseek-") and ("v4" in name or "flash" in name):
        return 1_000_000  # later V4 names (e.g. dated ones) keep V4's window
    return UNKNOWN_CONTEXT_WINDOW


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Timeouts(Model):
    connect: float = Field(10.0, gt=0, le=300)
    idle: float = Field(120.0, gt=0, le=3600)  # between two bytes; keep-alives reset it


class Rate(Model):
    """Per 1M tokens: input on a cache hit, input on a cache miss, output."""

    hit: float = Field(ge=0)
    miss: float = Field(ge=0)
    output: float = Field(ge=0)


class Price(Model):
    """One model's price, in exactly one shape: flat `{hit, miss, output}` (the older setting,
    still a price at all hours), by time of day `{peak, offPeak}`, or `{billedAs: "<model>"}`."""

    hit: float | None = Field(None, ge=0)
    miss: float | None = Field(None, ge=0)
    output: float | None = Field(None, ge=0)
    peak: Rate | None = None
    off_peak: Rate | None = None
    billed_as: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_shape(self) -> Price:
        flat = (self.hit, self.miss, self.output)
        shapes = (
            any(v is not None for v in flat),
            self.peak is not None or self.off_peak is not None,
            self.billed_as is not None,
        )
        if sum(shapes) != 1:
            raise ValueError('give {"hit", "miss", "output"}, {"peak", "offPeak"} or {"billedAs"}')
        if shapes[0] and None in flat:
            raise ValueError('a flat price needs "hit", "miss" and "output"')
        if shapes[1] and (self.peak is None or self.off_peak is None):
            raise ValueError('a time-of-day price needs both "peak" and "offPeak"')
        return self


class ActionSetting(Model):
    """A user-defined rewrite action: `deepseek.actions`."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    title: str
    prompt: str = Field(min_length=1)


class CompletionSettings(Model):
    """Inline completion (ghost text) from the FIM endpoint: `deepseek.completion`."""

    enabled: bool = True
    model: str | None = None  # None: a non-thinking model (on DeepSeek the cheapest listed)
    # ms: the least wait after a keystroke before asking; longer while the user types steadily;
    # 0: no wait at all (a client that debounces itself)
    debounce: int = Field(75, ge=0, le=5000)
    max_tokens: int = Field(256, ge=1, le=4096)  # DeepSeek's FIM accepts at most 4K
    languages: tuple[str, ...] = ()  # languageIds; empty: every language
    # answer textDocument/completion with one item too, for clients without inline completion
    fallback_item: bool = False


class Settings(Model):
    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    # What the server at base_url is (see `provider.py`): "auto" decides from the host and model.
    provider: Literal["auto", "deepseek", "openai"] = "auto"
    model: str | None = None  # None: the newest flash model GET /models lists
    thinking: bool = False
    reasoning_effort: Literal["low", "high", "max"] | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    timeouts: Timeouts = Timeouts()
    review: bool = False
    rewrite_prefix: bool | None = None  # chat prefix completion for rewrites; None: when it fits
    actions: tuple[ActionSetting, ...] = ()
    prices: dict[str, Price] = Field(
        default_factory=lambda: {k: Price(**v) for k, v in DEFAULT_PRICES.items()}
    )
    context_budget: int = Field(8000, ge=500, le=1_000_000)
    # Limits, checked before anything is sent (see `limits.py`).
    context_window: int | None = Field(None, ge=1024, le=100_000_000)  # None: the model's own
    max_selection_chars: int = Field(200_000, ge=100, le=1_000_000_000)
    max_concurrent_jobs: int = Field(8, ge=1, le=1000)
    # Clients with our plugin ask before sending a request over this many prompt tokens (a
    # `dryRun` gives the estimate); 0: never ask. The server itself never refuses on it.
    confirm_above_tokens: int = Field(8000, ge=0, le=100_000_000)
    rewrite_max_tokens: int = Field(8192, ge=256, le=10_000_000)  # cap of a rewrite's max_tokens
    # A rewrite stops when its text outgrows max(growth x original, original + 2000) characters.
    rewrite_max_growth: float = Field(4.0, ge=1.0, le=1000.0)
    exclude_patterns: tuple[str, ...] = DEFAULT_EXCLUDES
    mask_secrets: bool = True
    log_level: Literal["error", "warning", "info", "debug"] = "info"
    # How jobs reach the client (see `presentation.py`): "auto" decides from what the client
    # announces; "stream" as for our plugins; "standard" through plain LSP only.
    presentation: Literal["auto", "stream", "standard"] = "auto"
    completion: CompletionSettings = CompletionSettings()

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def key(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key else None


class SettingsError(Exception):
    """Invalid settings; `problems` name each exact key and never its value."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    layer: dict[str, Any] = {}
    for var, key in (
        ("DEEPSEEK_API_KEY", "apiKey"),
        ("DEEPSEEK_BASE_URL", "baseUrl"),
        ("DEEPSEEK_MODEL", "model"),
        ("DEEPSEEK_PROVIDER", "provider"),
    ):
        if env.get(var):
            layer[key] = env[var]
    return layer


def merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep-merge dicts, later layers winning; `None` values in a layer count as unset."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is None:
                continue
            if isinstance(value, Mapping) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            elif isinstance(value, Mapping):
                out[key] = merge(value)
            else:
                out[key] = value
    return out


def validate(raw: Mapping[str, Any]) -> Settings:
    try:
        return Settings.model_validate(dict(raw))
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            key = "deepseek." + ".".join(str(p) for p in err["loc"])
            problems.append(f"{key}: {err['msg']}")
        raise SettingsError(problems) from None
