"""The messages a chat turn sends, built so DeepSeek's context cache keeps hitting.

The API is stateless and caches prompt prefixes from token 0. So the history is append-only
and each stored message is resent byte for byte: request N+1 is request N plus the reply and
the new question. Reasoning is not resent for plain turns (V3.2+ ignores it, the R1 era
rejected it); it is kept for turns with tool calls, where the API demands it. When the
conversation nears the model's context limit it is compacted once, deliberately: a summary
replaces the older turns (one cache miss) instead of a 400 from DeepSeek.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import limits
from ..settings import context_window_for
from .store import BOUNDARIES, RESET, SUMMARY, Message

# Known context windows (tokens). Unknown names get the smallest, so they compact early rather
# than fail; a 400 that names the real limit teaches it (see `limit_from_error`).
COMPACT_AT = 0.8  # share of (limit - reply reserve) that triggers compaction
MAX_MESSAGE_SHARE = 0.6  # a single message (with attachments) may not take more of the window
KEEP_SHARE = 0.25  # share of the window the newest verbatim turns may keep after compaction

SUMMARY_INSTRUCTION = (
    "The conversation above is about to be compacted because it nears the model's context "
    "limit. Write a summary that lets you continue it without the earlier messages: the "
    "user's goals, decisions made, code and file names discussed (keep short code that still "
    "matters verbatim), open questions and the current state. Plain Markdown, at most 400 words."
)
SUMMARY_LEAD = "Summary of our conversation so far (older messages were compacted):\n\n"
SUMMARY_ACK = "Understood. I have the summary and will continue from it."

_CONTEXT_400 = re.compile(r"maximum context length is (\d+) tokens", re.IGNORECASE)


def wire(message: Message) -> dict[str, Any]:
    """One stored message as sent; reasoning only where the API demands it (tool calls)."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = message.tool_calls
        if message.reasoning is not None:
            out["reasoning_content"] = message.reasoning
    if message.role == "tool" and message.meta.get("tool_call_id"):
        out["tool_call_id"] = message.meta["tool_call_id"]
    return out


def summary_pair(summary: str) -> list[dict[str, Any]]:
    """A compaction summary as a user/assistant exchange: roles keep alternating."""
    return [
        {"role": "user", "content": SUMMARY_LEAD + summary.strip()},
        {"role": "assistant", "content": SUMMARY_ACK},
    ]


def context_rows(rows: Sequence[Message]) -> tuple[Message | None, list[Message]]:
    """The boundary in force (last summary or /clear) and the rows sent after it."""
    sent = [r for r in rows if r.in_context]
    boundary = next((r for r in reversed(sent) if r.role in BOUNDARIES), None)
    if boundary is None:
        return None, [r for r in sent if r.role not in BOUNDARIES]
    keep_from = int(boundary.meta.get("keep_from", boundary.id)) if boundary.role == SUMMARY else boundary.id
    return boundary, [r for r in sent if r.id >= keep_from and r.role not in BOUNDARIES]


def history(system: str, rows: Sequence[Message]) -> list[dict[str, Any]]:
    """System prompt, then the summary (if compacted), then every completed turn in order."""
    boundary, kept = context_rows(rows)
    out: list[dict[str, Any]] = [{"role": "system", "content": system}]
    if boundary is not None and boundary.role == SUMMARY:
        out += summary_pair(boundary.content)
    out += [wire(r) for r in kept]
    return out


def request(system: str, rows: Sequence[Message], user_content: str) -> list[dict[str, Any]]:
    return [*history(system, rows), {"role": "user", "content": user_content}]


def strip_reasoning(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same messages with every `reasoning_content` removed (the fallback for a 400)."""
    return [{k: v for k, v in m.items() if k != "reasoning_content"} for m in messages]


def has_reasoning(messages: Sequence[dict[str, Any]]) -> bool:
    return any("reasoning_content" in m for m in messages)


def is_reasoning_error(message: str, status: int | None) -> bool:
    return status == 400 and "reasoning_content" in message


def limit_from_error(message: str) -> int | None:
    """The context window a 400 names ("This model's maximum context length is 131072 tokens")."""
    match = _CONTEXT_400.search(message)
    return int(match.group(1)) if match else None


def context_limit(model: str, learned: dict[str, int] | None = None, configured: int | None = None) -> int:
    """`deepseek.contextWindow`, else what the server told us (a 400 naming the limit), else the
    model's default (`settings.context_window_for`, one table for every feature)."""
    if not configured and learned and model in learned:
        return learned[model]
    return context_window_for(model, configured)


def estimate_tokens(text: str) -> int:
    """A deliberately generous estimate (DeepSeek: ~0.3 token per English char, ~0.6 per CJK)."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return int(ascii_chars * 0.34 + (len(text) - ascii_chars) * 0.7) + 4


def estimate_messages(messages: Sequence[dict[str, Any]]) -> int:
    return sum(estimate_tokens(str(m.get("content") or "")) + 4 for m in messages)


def prompt_estimate(system: str, rows: Sequence[Message], user_content: str) -> int:
    """Tokens the next request will take: the last reply's real usage where known, plus estimates."""
    boundary, kept = context_rows(rows)
    messages = request(system, rows, user_content)
    after_id = boundary.id if boundary is not None else 0  # older usage measured older prompts
    last = next(
        (
            i
            for i in range(len(kept) - 1, -1, -1)
            if kept[i].role == "assistant" and kept[i].usage and kept[i].id > after_id
        ),
        None,
    )
    if last is None:
        return estimate_messages(messages)
    usage = kept[last].usage or {}
    known = (
        int(usage.get("promptTokens", 0))
        + int(usage.get("completionTokens", 0))
        - int(usage.get("reasoningTokens", 0))
    )
    after = [wire(r) for r in kept[last + 1 :]] + [{"role": "user", "content": user_content}]
    return max(known + estimate_messages(after), 0)


def needs_compaction(estimate: int, limit: int, max_tokens: int | None) -> bool:
    return estimate > COMPACT_AT * (limit - limits.reply_reserve(limit, max_tokens))


@dataclass(frozen=True)
class CompactionPlan:
    """What a summary replaces (`summarize`) and which newest turns stay verbatim (`keep`)."""

    summarize: list[Message]
    keep: list[Message]
    previous_summary: str | None

    @property
    def keep_from(self) -> int | None:
        return self.keep[0].id if self.keep else None


def plan_compaction(rows: Sequence[Message], limit: int) -> CompactionPlan | None:
    """Keep the newest whole turns that fit a quarter of the window; summarise the rest."""
    boundary, kept = context_rows(rows)
    previous = boundary.content if boundary is not None and boundary.role == SUMMARY else None
    turns: list[list[Message]] = []
    for row in kept:
        if turns and turns[-1][0].turn == row.turn:
            turns[-1].append(row)
        else:
            turns.append([row])
    budget = int(limit * KEEP_SHARE)
    keep: list[list[Message]] = []
    used = 0
    for turn in reversed(turns[1:]):  # at least the oldest turn is summarised
        cost = estimate_messages([wire(r) for r in turn])
        if used + cost > budget or len(keep) >= 4:
            break
        keep.insert(0, turn)
        used += cost
    summarize = [r for t in turns[: len(turns) - len(keep)] for r in t]
    if not summarize:
        return None
    return CompactionPlan(summarize, [r for t in keep for r in t], previous)


def summary_request(system: str, plan: CompactionPlan, limit: int) -> list[dict[str, Any]]:
    """What DeepSeek summarises: the history as sent so far (a cached prefix), then the ask.

    When even that would not fit the window, long messages keep only their start (fairly
    shared), and only if that leaves too little of each are the oldest exchanges dropped.
    """
    head: list[dict[str, Any]] = [{"role": "system", "content": system}]
    if plan.previous_summary:
        head += summary_pair(plan.previous_summary)
    body = [wire(r) for r in plan.summarize]
    ask = {"role": "user", "content": SUMMARY_INSTRUCTION}
    avail = int(limit * 0.6) - estimate_messages([*head, ask])
    if estimate_messages(body) <= avail:
        return [*head, *body, ask]
    while len(body) > 2 and avail // len(body) < 48:
        body = body[2:]
    if body and body[0]["role"] != "user":
        body = body[1:]
    share = fair_share([estimate_messages([m]) for m in body], max(avail, 16 * len(body)))
    body = [{**m, "content": truncate(str(m.get("content") or ""), share)} for m in body]
    return [*head, *body, ask]


def fair_share(sizes: Sequence[int], total: int) -> int:
    """The cap per item so that the capped sizes fit `total` (small items stay whole)."""
    if not sizes or sum(sizes) <= total:
        return max(sizes, default=total)
    rest, left = sorted(sizes), total
    for i, size in enumerate(rest):
        cap = left // (len(rest) - i)
        if size > cap:
            return max(cap, 16)
        left -= size
    return max(rest)


def truncate(text: str, tokens: int) -> str:
    """The start of `text` within about `tokens` (by the same generous estimate)."""
    if estimate_tokens(text) <= tokens:
        return text
    keep = max(int(tokens / 0.7), 16)
    while keep > 16 and estimate_tokens(text[:keep]) > tokens:
        keep = int(keep * 0.8)
    return text[:keep] + "\n[…truncated for the summary]"


def fallback_summary(plan: CompactionPlan) -> str:
    """A mechanical summary when DeepSeek could not write one: the user's questions, in order."""
    asks = [r.display or r.content for r in plan.summarize if r.role == "user"]
    lines = [f"- {a.strip().splitlines()[0][:200]}" for a in asks if a.strip()]
    head = f"{plan.previous_summary.strip()}\n\n" if plan.previous_summary else ""
    return head + "Earlier, the user asked:\n" + "\n".join(lines[-30:])


def compaction_meta(plan: CompactionPlan) -> dict[str, Any]:
    """`keep_from`: the first row the summary does not cover. Rows of a turn still in flight
    (its user message was stored before the compaction) come after it, so they stay in."""
    keep_from = plan.keep_from if plan.keep_from is not None else plan.summarize[-1].id + 1
    return {"summarized": len(plan.summarize), "keep_from": keep_from}


def is_boundary(row: Message) -> bool:
    return row.role in (SUMMARY, RESET)
