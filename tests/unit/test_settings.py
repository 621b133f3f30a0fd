"""Settings: layering, validation by key, and the key kept secret."""

from __future__ import annotations

import pytest

from deepseek_lsp.settings import (
    UNKNOWN_CONTEXT_WINDOW,
    Settings,
    SettingsError,
    context_window_for,
    from_env,
    merge,
    validate,
)

KEY = "sk-secret-abcdef0123456789"


def test_layers_later_wins_and_deep_merge() -> None:
    merged = merge(
        from_env({"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_MODEL": "deepseek-chat"}),
        {"model": "deepseek-v4-pro", "timeouts": {"connect": 3}},
        {"timeouts": {"idle": 30}, "baseUrl": None},
    )
    s = validate(merged)
    assert s.model == "deepseek-v4-pro"
    assert s.timeouts.connect == 3 and s.timeouts.idle == 30
    assert s.key == KEY


def test_error_names_the_key_and_not_the_value() -> None:
    with pytest.raises(SettingsError) as info:
        validate({"apiKey": KEY, "temperature": 9, "timeouts": {"connect": "soon"}})
    text = str(info.value)
    assert "deepseek.temperature" in text
    assert "deepseek.timeouts.connect" in text
    assert KEY not in text and "9" not in text.replace("deepseek", "")


def test_key_never_in_repr_or_dump() -> None:
    s = validate({"apiKey": KEY})
    assert KEY not in repr(s)
    assert KEY not in str(s.model_dump())
    assert KEY not in s.model_dump_json()


def test_bad_url_and_blank_key() -> None:
    with pytest.raises(SettingsError, match=r"deepseek\.baseUrl"):
        validate({"baseUrl": "api.deepseek.com"})
    assert validate({"apiKey": "  "}).key is None


def test_defaults() -> None:
    s = Settings()
    assert s.base_url == "https://api.deepseek.com"
    assert s.review is False and s.thinking is False
    assert "deepseek-chat" in s.prices


def test_limit_settings_defaults_and_validation() -> None:
    s = Settings()
    assert s.context_window is None and s.max_selection_chars == 200_000
    assert s.max_concurrent_jobs == 8
    assert s.rewrite_max_tokens == 8192 and s.rewrite_max_growth == 4.0
    s = validate(
        {
            "contextWindow": 65536,
            "maxSelectionChars": 5000,
            "maxConcurrentJobs": 2,
            "rewriteMaxTokens": 4096,
            "rewriteMaxGrowth": 2.5,
        }
    )
    assert (s.context_window, s.max_selection_chars, s.max_concurrent_jobs) == (65536, 5000, 2)
    assert (s.rewrite_max_tokens, s.rewrite_max_growth) == (4096, 2.5)
    for key, bad in (
        ("contextWindow", 10),
        ("maxSelectionChars", 0),
        ("maxConcurrentJobs", 0),
        ("rewriteMaxTokens", -1),
        ("rewriteMaxGrowth", 0.5),
        ("rewriteMaxGrowth", "lots"),
    ):
        with pytest.raises(SettingsError, match=rf"deepseek\.{key}"):
            validate({key: bad})


def test_context_window_per_model() -> None:
    assert context_window_for("deepseek-chat") == 131_072
    assert context_window_for("deepseek-reasoner") == 131_072
    assert context_window_for("deepseek-v4-flash") == 1_000_000
    assert context_window_for("deepseek-flash") == 1_000_000
    assert context_window_for("deepseek-v4-pro-2027") == 1_000_000  # a later V4 name
    assert context_window_for("qwen2.5-coder") == UNKNOWN_CONTEXT_WINDOW  # unknown: conservative
    assert context_window_for("deepseek-chat", 4096) == 4096  # the setting wins
