"""Which kind of server answers at `deepseek.baseUrl`, and what that changes (pure, no I/O).

DeepSeek's API is more than OpenAI's chat completions: an account balance, `/beta` (chat prefix
completion), the `thinking` switch, a required key. Any other OpenAI-compatible server
(llama.cpp, vLLM, Ollama, a proxy) gets the standard API only: DeepSeek's extras there are at
best ignored, at worst 404s, a refused request or a key demanded that the server never asked for.

`deepseek.provider` decides: `deepseek`, `openai` (generic), or `auto`: DeepSeek for a
*.deepseek.com host, or for a model id of DeepSeek's own API (the fake DeepSeek in tests, a
proxy of DeepSeek's API); generic otherwise. Auto never needs a request: it reads the settings
and the model (configured, or picked from `GET /models`), so every feature agrees on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .settings import Settings

ProviderSetting = Literal["auto", "deepseek", "openai"]
ProviderName = Literal["deepseek", "openai"]

# The model ids DeepSeek's API serves (and has served); later V4 names (dated ones) match the
# pattern. An id with a tag or a path (Ollama's `deepseek-r1:7b`, vLLM's
# `deepseek-ai/DeepSeek-V3`) is a DeepSeek *model* on someone else's server: not these.
DEEPSEEK_MODELS = frozenset(
    {"deepseek-chat", "deepseek-reasoner", "deepseek-flash", "deepseek-v4-flash", "deepseek-v4-pro"}
)
_LATER_DEEPSEEK_ID = re.compile(r"^deepseek-(?:v4|flash)[A-Za-z0-9.-]*$")


def is_deepseek_host(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "deepseek.com" or host.endswith(".deepseek.com")


def is_deepseek_model(model: str | None) -> bool:
    return bool(model) and (model in DEEPSEEK_MODELS or bool(_LATER_DEEPSEEK_ID.match(model or "")))


@lru_cache(maxsize=8)
def host_of(base_url: str) -> str:
    """host[:port] of a base URL, never its credentials or path: who answered, for messages."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


@dataclass(frozen=True, slots=True)
class Profile:
    """What the server at the base URL is sent and how it is named in messages."""

    name: ProviderName
    host: str
    why: str  # how it was chosen, for `check` and the logs

    @property
    def deepseek(self) -> bool:
        return self.name == "deepseek"

    @property
    def server(self) -> str:
        """The answering server as messages name it."""
        return "DeepSeek" if self.deepseek else f"the server at {self.host}"

    @property
    def needs_key(self) -> bool:
        """DeepSeek always wants one; a generic server gets the key only when one is set."""
        return self.deepseek

    @property
    def has_balance(self) -> bool:
        return self.deepseek

    @property
    def prefix_by_default(self) -> bool:
        """Chat prefix completion (`/beta`) unless `deepseek.rewritePrefix` says otherwise."""
        return self.deepseek

    @property
    def thinking_switch(self) -> bool:
        """Send `thinking: {"type": ...}` on every request (off too), as DeepSeek's V4 needs;
        a generic server gets it only when thinking was asked for."""
        return self.deepseek


def resolve(setting: ProviderSetting, base_url: str, model: str | None) -> Profile:
    """The profile for a `deepseek.provider` value, base URL and model (None: not chosen yet)."""
    host = host_of(base_url)
    if setting != "auto":
        return Profile(setting, host, "deepseek.provider")
    if is_deepseek_host(base_url):
        return Profile("deepseek", host, "DeepSeek's host")
    if is_deepseek_model(model):
        return Profile("deepseek", host, f"{model} is a model of DeepSeek's API")
    return Profile("openai", host, "a generic OpenAI-compatible server")


def for_settings(settings: Settings, model: str | None = None) -> Profile:
    """The profile requests for `model` (default: the configured one) go out with."""
    return resolve(settings.provider, settings.base_url, model or settings.model)


def v1_hint(base_url: str, setting: str = "deepseek.baseUrl") -> str:
    """Advice for a 404: OpenAI-compatible servers (llama.cpp, vLLM, Ollama) serve under /v1."""
    path = urlsplit(base_url).path.rstrip("/")
    if path.endswith("/v1"):
        return f"Check that {setting} is the root of the server's OpenAI-compatible API."
    return (
        f"OpenAI-compatible servers (llama.cpp, vLLM, Ollama) usually serve it under /v1: "
        f"set {setting} to {base_url.rstrip('/')}/v1."
    )
