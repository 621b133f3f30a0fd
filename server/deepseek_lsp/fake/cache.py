"""Prompt-cache (context cache) accounting for the fake DeepSeek.

DeepSeek bills a repeated prompt prefix as cache hits, counted from token 0 in whole 64-token
storage units. The language server lays prompts out stable-part-first to exploit this, so the fake
has to count hits the same way for tests and benchmarks to measure it.

The tokenizer is a deterministic stand-in for DeepSeek's BPE: one token per run of word characters,
per CJK character and per punctuation character (each carrying the whitespace in front of it), plus
one special token per role marker. Counts are therefore close to, but not exactly, the real ones.

Memory is bounded: the cache remembers the chained hashes of the 64-token prefix blocks it has seen
(an LRU of at most `max_blocks`), not the prompts. A prompt's hit count is the number of leading
blocks whose chained hash (which covers every token before it too) was seen before, times 64.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from deepseek_lsp.fake.script import split_tokens

BLOCK_TOKENS = 64


def tokenize(text: str) -> list[str]:
    """The fake's tokenizer: token-like pieces, the same ones the fake streams."""
    return split_tokens(text)


def count_tokens(text: str | None) -> int:
    """Number of tokens in `text` (0 for None)."""
    return len(tokenize(text)) if text else 0


def _text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, Mapping)]
        return "".join(str(p) for p in parts)
    return json.dumps(content, sort_keys=True, ensure_ascii=False)


def _json_tokens(value: Any) -> list[str]:
    return tokenize(json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")))


def render_chat(messages: Sequence[Any], tools: Any = None) -> list[str]:
    """Tokens of a chat prompt, in order: tools, then each message, then the generation marker.

    Everything that changes the prompt the model sees (role, content, name, tool calls, tool call
    id, the `prefix` flag) changes the tokens; `reasoning_content` of earlier turns is ignored, as
    V3.2+ ignores it for plain turns.
    """
    tokens = ["<|begin_of_sentence|>"]
    if tools:
        tokens += ["<|tools|>", *_json_tokens(tools)]
    last_prefix = False
    for message in messages:
        if not isinstance(message, Mapping):
            tokens += _json_tokens(message)
            continue
        role = str(message.get("role", ""))
        tokens.append(f"<|{role}|>")
        if message.get("name"):
            tokens += [*tokenize(str(message["name"])), ":"]
        if message.get("tool_call_id"):
            tokens += ["<|tool_call_id|>", *tokenize(str(message["tool_call_id"]))]
        tokens += tokenize(_text(message.get("content")))
        if message.get("tool_calls"):
            tokens += ["<|tool_calls|>", *_json_tokens(message["tool_calls"])]
        last_prefix = role == "assistant" and bool(message.get("prefix"))
    if not last_prefix:
        tokens.append("<|assistant|>")
    return tokens


def render_fim(prompt: str, suffix: str | None) -> list[str]:
    """Tokens of a fill-in-the-middle prompt."""
    return [
        "<|fim_begin|>",
        *tokenize(prompt),
        "<|fim_hole|>",
        *tokenize(suffix or ""),
        "<|fim_end|>",
    ]


class PromptCache:
    """Chained hashes of seen 64-token prefix blocks, per namespace (api key, model, user)."""

    def __init__(self, block_tokens: int = BLOCK_TOKENS, max_blocks: int = 65536) -> None:
        self.block_tokens = block_tokens
        self.max_blocks = max_blocks
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def clear(self) -> None:
        """Forget everything."""
        self._seen.clear()

    def _chain(self, namespace: str, tokens: Sequence[str]) -> list[bytes]:
        digest = hashlib.blake2b(namespace.encode(), digest_size=16).digest()
        chain = []
        n = self.block_tokens
        for start in range(0, len(tokens) - n + 1, n):
            block = "\x00".join(tokens[start : start + n]).encode()
            digest = hashlib.blake2b(digest + block, digest_size=16).digest()
            chain.append(digest)
        return chain

    def lookup_and_store(self, namespace: str, tokens: Sequence[str]) -> int:
        """Hit tokens for this prompt against earlier ones; then remember its blocks."""
        chain = self._chain(namespace, tokens)
        hit_blocks = 0
        for digest in chain:
            if digest not in self._seen:
                break
            hit_blocks += 1
        for digest in chain:
            self._seen[digest] = None
            self._seen.move_to_end(digest)
        while len(self._seen) > self.max_blocks:
            self._seen.popitem(last=False)
        return hit_blocks * self.block_tokens


def usage(
    prompt_tokens: int, hit_tokens: int, completion_tokens: int, reasoning_tokens: int
) -> dict[str, Any]:
    """A DeepSeek `usage` object (both the DeepSeek and the OpenAI-style cache fields)."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": hit_tokens},
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "prompt_cache_hit_tokens": hit_tokens,
        "prompt_cache_miss_tokens": prompt_tokens - hit_tokens,
    }
