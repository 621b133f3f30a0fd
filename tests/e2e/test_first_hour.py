"""What a new user meets first, end to end (the real server, the fake DeepSeek on loopback):
`dryRun` estimates that send nothing, an empty selection refused before any request, and `#file:`
attachments read in their own encoding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from deepseek_lsp.fake import FakeDeepSeek, Reply
from deepseek_lsp.features.common import prompt_tokens

from .harness import Recorder, command, open_doc, rng, server_config, start_client
from .test_chat import bodies
from .test_chat import start as start_chat

Lsp = tuple[LanguageClient, Recorder]

URI = "file:///tmp/project/big.py"
# 2,000 lines: a whole-file explain of this is some 16k prompt tokens
BIG = "".join(f"def step_{i}(x):\n    return x * {i} + {i % 7}  # step {i}\n" for i in range(1000))
WHOLE = rng(0, 0, 2000, 0)


def completions(fake: FakeDeepSeek) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith("/chat/completions")]


EXACT = {"DEEPSEEK_LSP_TOKENIZER": "exact"}  # these compare counts with the tokenizer's


async def test_explain_dry_run_estimates_and_sends_nothing(fake: FakeDeepSeek) -> None:
    client, rec = await start_client(server_config(fake.base_url, **EXACT))
    try:
        await _explain_dry_run(client, rec, fake)
    finally:
        await client.shutdown_session()


async def _explain_dry_run(client: LanguageClient, rec: Recorder, fake: FakeDeepSeek) -> None:
    open_doc(client, URI, BIG)
    answer = await command(client, "deepseek.explain", {"uri": URI, "range": WHOLE, "dryRun": True})
    assert answer["dryRun"] is True and answer["model"] == "deepseek-chat"
    assert answer["promptTokens"] > 12_000 and answer["maxTokens"] > 0
    assert answer["confirmAboveTokens"] == 8000 and answer["confirm"] is True
    cost = answer["estimatedCost"]
    assert cost["currency"] == "USD" and cost["total"] == round(cost["prompt"] + cost["replyAtMost"], 6)
    assert cost["prompt"] > 0 and cost["rate"] in ("peak", "off-peak", "flat")
    assert "jobId" not in answer
    assert completions(fake) == [] and rec.streams == []  # nothing sent, no job started
    status = await command(client, "deepseek.status", {})
    assert status["jobs"] == [] and status["usage"]["requests"] == 0

    # the estimate measured the very request a real explain sends
    fake.enqueue(Reply(content="Steps."))
    job = (await command(client, "deepseek.explain", {"uri": URI, "range": WHOLE}))["jobId"]
    assert (await rec.wait_done(job))["state"] == "done"
    [sent] = completions(fake)
    assert prompt_tokens(sent.body["messages"]) == answer["promptTokens"]


async def test_small_selection_needs_no_confirmation_and_zero_never_asks(fake: FakeDeepSeek) -> None:
    client, _ = await start_client(server_config(fake.base_url), init_options={"confirmAboveTokens": 0})
    try:
        open_doc(client, URI, BIG)
        small = await command(
            client, "deepseek.explain", {"uri": URI, "range": rng(0, 0, 2, 0), "dryRun": True}
        )
        assert small["confirm"] is False and 0 < small["promptTokens"] < 2000
        whole = await command(client, "deepseek.explain", {"uri": URI, "range": WHOLE, "dryRun": True})
        assert whole["confirmAboveTokens"] == 0 and whole["confirm"] is False  # 0: never ask
        assert completions(fake) == []
    finally:
        await client.shutdown_session()


async def test_empty_or_blank_selection_is_refused_before_sending(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    for i, text in enumerate(("", "\n", "   \n\n\t\n")):
        uri = f"file:///tmp/project/empty{i}.py"
        open_doc(client, uri, text)
        end = rng(0, 0, text.count("\n"), 0)
        dry = await command(client, "deepseek.explain", {"uri": uri, "range": end, "dryRun": True})
        assert dry["error"]["code"] == "bad_request" and dry["promptTokens"] == 0
        for selection in (rng(0, 0, 0, 0), end):
            job = (await command(client, "deepseek.explain", {"uri": uri, "range": selection}))["jobId"]
            final = await rec.wait_done(job)
            assert final["state"] == "failed", final
            assert final["error"]["message"].startswith("Nothing to explain: the selection is empty")
    assert completions(fake) == []
    shown = [m.message for m in rec.messages if m.type == types.MessageType.Error]
    assert shown and all("Nothing to explain" in m and "Traceback" not in m for m in shown)


async def test_chat_dry_run_sends_stores_and_starts_nothing(fake: FakeDeepSeek, tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "big.py").write_text(BIG)
    chat = await start_chat(fake, tmp_path / "data", root=root, **EXACT)
    try:
        answer = await chat.cmd("deepseek.chat", {"message": "Explain #file:big.py", "dryRun": True})
        assert answer["dryRun"] is True and answer["confirm"] is True and "jobId" not in answer
        assert answer["promptTokens"] > 12_000
        local = await chat.cmd("deepseek.chat", {"message": "/help", "dryRun": True})
        assert local["promptTokens"] == 0 and local["confirm"] is False
        assert completions(fake) == [] and chat.rec.streams == []
        assert (await chat.cmd("deepseek.chat.sessions", {}))["sessions"] == []  # no session created

        fake.enqueue(Reply(content="Many steps."))
        final, _ = await chat.turn("Explain #file:big.py")
        assert final["state"] == "done"
        assert prompt_tokens(bodies(fake)[-1]["messages"]) == answer["promptTokens"]
    finally:
        await chat.client.shutdown_session()


async def test_file_reference_reads_latin1_and_utf16_in_their_encoding(
    fake: FakeDeepSeek, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "latin.py").write_bytes("def café_name():\n    return 'señor'\n".encode("latin-1"))
    (root / "wide.py").write_bytes("def naïve():\n    return '日本'\n".encode("utf-16"))  # with a BOM
    (root / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    chat = await start_chat(fake, tmp_path / "data", root=root)
    try:
        fake.enqueue(Reply(content="Names."))
        final, _ = await chat.turn("Compare #file:latin.py with #file:wide.py and #file:blob.bin")
        assert final["state"] == "done"
        user = bodies(fake)[-1]["messages"][-1]["content"]
        assert "def café_name():" in user and "'señor'" in user
        assert "def naïve():" in user and "'日本'" in user
        assert "\ufffd" not in user and "binary" not in user
        notices = [n["notice"] for n in chat.rec.job(final["jobId"]) if n.get("notice")]
        assert any("#file:blob.bin" in n and "looks binary" in n for n in notices), notices
    finally:
        await chat.client.shutdown_session()


async def test_explaining_a_closed_latin1_file_reads_its_encoding(
    lsp: Lsp, fake: FakeDeepSeek, tmp_path: Path
) -> None:
    client, rec = lsp
    path = tmp_path / "closed.py"
    path.write_bytes("def café():\n    return 1\n".encode("latin-1"))
    job = (await command(client, "deepseek.explain", {"uri": path.as_uri(), "range": rng(0, 0, 2, 0)}))[
        "jobId"
    ]
    assert (await rec.wait_done(job))["state"] == "done"
    user = completions(fake)[-1].body["messages"][-1]["content"]
    assert "def café():" in user and "\ufffd" not in user
