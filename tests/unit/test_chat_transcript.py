"""Markdown export of a session."""

from __future__ import annotations

from deepseek_lsp.chat.store import RESET, SUMMARY, ChatStore
from deepseek_lsp.chat.transcript import to_markdown


def test_transcript() -> None:
    store = ChatStore(":memory:")
    session = store.ensure_session("s")
    uid = store.begin_turn(
        "s",
        "t1",
        "#selection (a.py):\ncode\n\nexplain",
        "explain #selection",
        {"attachments": [{"label": "#selection", "title": "a.py, line 1"}]},
    )
    usage = {
        "promptTokens": 100,
        "completionTokens": 20,
        "promptCacheHitTokens": 64,
        "promptCacheMissTokens": 36,
        "reasoningTokens": 5,
        "cost": 0.0001,
    }
    store.complete_turn("s", uid, "t1", "It adds.", reasoning="Hmm.", model="deepseek-chat", usage=usage)
    uid = store.begin_turn("s", "t2", "second", "second")
    store.abort_turn("s", uid, "t2", "cancelled", "")
    store.add("s", SUMMARY, "gist", in_context=True)
    store.add("s", RESET, "", in_context=True)
    session = store.get_session("s")
    assert session is not None
    md = to_markdown(session, store.messages("s"))
    assert md.startswith("# explain #selection\n")
    assert "## You\n\nexplain #selection\n\n*Attached: #selection (a.py, line 1)*" in md
    assert "## DeepSeek (deepseek-chat)" in md and "<details><summary>Thinking</summary>" in md
    assert "100 prompt tokens (64 cached)" in md and "5 reasoning" in md
    assert "second\n\n*(cancelled)*" in md
    assert "> gist" in md and "/clear" in md
    assert "Session total:" in md
    assert "code" not in md.split("## DeepSeek")[0].split("## You")[1].replace("explain", "")
