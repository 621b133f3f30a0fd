"""Settings: layering, validation by key, and the key kept secret."""

from __future__ import annotations

import pytest

from deepseek_lsp.settings import Settings, SettingsError, from_env, merge, validate

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
