"""A session as Markdown: what the user saw, to keep or share.

User messages show as typed (attachments by name, not their code), thinking folds away in a
<details> block, and each reply notes its usage; turns that never completed say so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .store import NOTICE, RESET, SUMMARY, Message, Session, add_usage, empty_totals

_STATUS = {"cancelled": "cancelled", "failed": "failed", "pending": "interrupted, no reply"}


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def usage_line(usage: dict[str, Any] | None) -> str:
    if not usage:
        return ""
    parts = [
        f"{usage.get('promptTokens', 0)} prompt tokens ({usage.get('promptCacheHitTokens', 0)} cached)",
        f"{usage.get('completionTokens', 0)} completion",
    ]
    if usage.get("reasoningTokens"):
        parts.append(f"{usage['reasoningTokens']} reasoning")
    cost = float(usage.get("cost") or 0.0)
    if cost:
        parts.append(f"${cost:.6f}")
    return ", ".join(parts)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())


def to_markdown(session: Session, messages: Sequence[Message]) -> str:
    title = session.title or "Chat"
    out = [
        f"# {title}",
        "",
        f"*DeepSeek chat session `{session.id}`, started {_when(session.created)}*",
        "",
    ]
    totals = empty_totals()
    for m in messages:
        add_usage(totals, m.usage)
        if m.role == "user":
            out += [
                "## You",
                "",
                (m.display if m.display is not None else m.content).strip() or "*(empty)*",
            ]
            attached = [
                a.get("label", "") + f" ({a.get('title', '')})" for a in m.meta.get("attachments", [])
            ]
            if attached:
                out += ["", "*Attached: " + ", ".join(attached) + "*"]
            if m.status in _STATUS and not any(x.turn == m.turn and x.role == "assistant" for x in messages):
                out += ["", f"*({_STATUS[m.status]})*"]
            out.append("")
        elif m.role == "assistant":
            model = f" ({m.model})" if m.model else ""
            out += [f"## DeepSeek{model}", ""]
            if m.reasoning:
                out += [
                    "<details><summary>Thinking</summary>",
                    "",
                    m.reasoning.strip(),
                    "",
                    "</details>",
                    "",
                ]
            out.append(m.content.strip() or "*(no answer)*")
            if m.status in _STATUS:
                out += ["", f"*({_STATUS[m.status]})*"]
            line = usage_line(m.usage)
            if line:
                out += ["", f"<sub>{line}</sub>"]
            out.append("")
        elif m.role == SUMMARY:
            out += [
                "---",
                "",
                "*The conversation was compacted here; DeepSeek continues from this summary:*",
                "",
                _quote(m.content),
                "",
                "---",
                "",
            ]
        elif m.role == RESET:
            out += [
                "---",
                "",
                "*Context cleared (/clear): later replies do not see the messages above.*",
                "",
                "---",
                "",
            ]
        elif m.role == NOTICE:
            out += [_quote(m.content), ""]
    if totals["requests"]:
        out += ["---", "", f"*Session total: {usage_line(totals)}*", ""]
    return "\n".join(out).rstrip() + "\n"
