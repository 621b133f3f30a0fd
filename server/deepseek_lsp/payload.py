"""The JSON body of a chat completion request, from settings.

Thinking is a per-model affair: `deepseek-reasoner` always thinks and takes no switch; the V4
models think unless told `thinking: {"type": "disabled"}`; `deepseek-chat` never thinks. A
generic OpenAI-compatible server (`provider.py`) gets the standard fields only, and DeepSeek's
`thinking` / `reasoning_effort` only when thinking was asked for.
"""

from __future__ import annotations

import json
from typing import Any

from .provider import for_settings
from .settings import Settings
from .tokens import replace_surrogates

LEGACY_NON_THINKING = "deepseek-chat"
LEGACY_THINKING = "deepseek-reasoner"


def chat_body(
    settings: Settings,
    model: str,
    messages: list[dict[str, Any]],
    *,
    thinking: bool | None = None,
    max_tokens: int | None = None,
) -> dict[str, Any]:
    think = settings.thinking if thinking is None else thinking
    deepseek = for_settings(settings, model).thinking_switch
    if deepseek and think and model == LEGACY_NON_THINKING:
        model = LEGACY_THINKING  # the 2025 way to ask for thinking
    body: dict[str, Any] = {"model": model, "messages": messages}
    if model not in (LEGACY_NON_THINKING, LEGACY_THINKING) and (deepseek or think):
        body["thinking"] = {"type": "enabled" if think else "disabled"}
        if think and settings.reasoning_effort:
            body["reasoning_effort"] = settings.reasoning_effort
    if settings.temperature is not None and not think:
        body["temperature"] = settings.temperature
    limit = max_tokens or settings.max_tokens
    if limit:
        body["max_tokens"] = limit
    return body


def is_thinking(body: dict[str, Any]) -> bool:
    if body.get("model") == LEGACY_THINKING:
        return True
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") == "enabled"


def encode_body(body: dict[str, Any]) -> bytes:
    """The request body as UTF-8 JSON. A lone surrogate in the user's text (an editor can send
    one) cannot be encoded as UTF-8: it goes out as U+FFFD instead of failing every request."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return replace_surrogates(text).encode("utf-8")
