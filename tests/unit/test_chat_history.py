"""History: exact prefixes, reasoning only where required, deliberate compaction."""

from __future__ import annotations

import json
from typing import Any

from deepseek_lsp.chat import history
from deepseek_lsp.chat.store import RESET, SUMMARY, ChatStore, Message

SYSTEM = "You are a test."


def turn(
    store: ChatStore,
    sid: str,
    q: str,
    a: str,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> None:
    tid = f"t{len(store.messages(sid))}"
    uid = store.begin_turn(sid, tid, q, q)
    store.complete_turn(sid, uid, tid, a, reasoning=reasoning, model="m", usage=None, tool_calls=tool_calls)


def test_each_request_extends_the_previous_one_exactly() -> None:
    store = ChatStore(":memory:")
    store.ensure_session("s")
    previous: list[dict[str, object]] = []
    for i in range(5):
        msgs = history.request(SYSTEM, store.messages("s"), f"q{i}")
        dumped = json.dumps(msgs)
        assert dumped.startswith(json.dumps(previous)[:-1]) or not previous
        assert msgs[: len(previous)] == previous
        turn(store, "s", f"q{i}", f"a{i}", reasoning=f"r{i}")
        previous = [*msgs, {"role": "assistant", "content": f"a{i}"}]
    assert not history.has_reasoning(previous)


def test_reasoning_is_kept_only_for_tool_call_turns() -> None:
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    with_tools = Message(1, "s", "t", "assistant", "", reasoning="why", tool_calls=calls)
    plain = Message(2, "s", "t2", "assistant", "hi", reasoning="why")
    assert history.wire(with_tools) == {
        "role": "assistant",
        "content": "",
        "tool_calls": calls,
        "reasoning_content": "why",
    }
    assert history.wire(plain) == {"role": "assistant", "content": "hi"}
    assert history.strip_reasoning([history.wire(with_tools)])[0].get("reasoning_content") is None


def test_error_recognition() -> None:
    assert history.is_reasoning_error("DeepSeek rejected the request: The reasoning_content is ...", 400)
    assert not history.is_reasoning_error("reasoning_content", 500)
    msg = "This model's maximum context length is 131072 tokens. However, you requested 140000"
    assert history.limit_from_error(msg) == 131072
    assert history.limit_from_error("Invalid request") is None


def test_context_limits() -> None:
    assert history.context_limit("deepseek-chat") == 131_072
    assert history.context_limit("deepseek-v4-pro") == 1_000_000
    assert history.context_limit("something-new") == 32_768  # unknown: assume a small window
    assert history.context_limit("deepseek-chat", {"deepseek-chat": 2000}) == 2000  # learned
    assert history.context_limit("deepseek-chat", {"deepseek-chat": 2000}, 50_000) == 50_000  # the setting


def test_clear_starts_a_fresh_history() -> None:
    store = ChatStore(":memory:")
    store.ensure_session("s")
    turn(store, "s", "old", "old answer")
    store.add("s", RESET, "", in_context=True)
    turn(store, "s", "new", "new answer")
    assert [m["content"] for m in history.request(SYSTEM, store.messages("s"), "next")] == [
        SYSTEM,
        "new",
        "new answer",
        "next",
    ]


def test_compaction_summarises_old_turns_and_keeps_the_newest() -> None:
    store = ChatStore(":memory:")
    store.ensure_session("s")
    for i in range(6):
        turn(store, "s", f"question {i} " + "x " * 200, f"answer {i} " + "y " * 200)
    rows = store.messages("s")
    limit = 2000
    estimate = history.prompt_estimate(SYSTEM, rows, "q")
    assert history.needs_compaction(estimate, limit, None)
    plan = history.plan_compaction(rows, limit)
    assert plan is not None and plan.summarize and plan.keep
    assert plan.summarize[0].content.startswith("question 0")
    ask = history.summary_request(SYSTEM, plan, limit)
    assert ask[-1]["content"] == history.SUMMARY_INSTRUCTION
    assert history.estimate_messages(ask) <= limit * 0.6 + 50
    # a turn in flight (user row stored before the summary) stays in the history
    uid = store.begin_turn("s", "live", "live question", "live question")
    store.add("s", SUMMARY, "the gist", in_context=True, meta=history.compaction_meta(plan))
    store.complete_turn("s", uid, "live", "live answer", reasoning=None, model="m", usage=None)
    msgs = history.request(SYSTEM, store.messages("s"), "after")
    assert msgs[1]["content"].endswith("the gist") and msgs[2]["content"] == history.SUMMARY_ACK
    contents = [m["content"] for m in msgs]
    assert contents[-3:] == ["live question", "live answer", "after"]
    assert not any(str(c).startswith("question 0") for c in contents)
    assert history.prompt_estimate(SYSTEM, store.messages("s"), "after") < estimate


def test_summary_request_fits_even_when_one_message_is_huge() -> None:
    store = ChatStore(":memory:")
    store.ensure_session("s")
    turn(store, "s", "start " + "z " * 5000, "ok")
    turn(store, "s", "next", "ok")
    plan = history.plan_compaction(store.messages("s"), 2000)
    assert plan is not None
    ask = history.summary_request(SYSTEM, plan, 2000)
    assert history.estimate_messages(ask) <= 2000
    assert ask[1]["content"].startswith("start") and "truncated" in ask[1]["content"]


def test_fallback_summary_lists_the_questions() -> None:
    rows = [Message(1, "s", "t", "user", "How do I X?\nmore"), Message(2, "s", "t", "assistant", "Y")]
    plan = history.CompactionPlan(rows, [], "earlier gist")
    text = history.fallback_summary(plan)
    assert text.startswith("earlier gist") and "- How do I X?" in text
