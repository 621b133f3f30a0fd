"""Explain end to end: the real server process, a real LSP client, the fake DeepSeek on loopback."""

from __future__ import annotations

import asyncio

from lsprotocol import types
from pytest_lsp import LanguageClient

from deepseek_lsp.fake import FakeDeepSeek, Reply

from .harness import (
    SAMPLE_TEXT,
    SAMPLE_URI,
    Recorder,
    command,
    open_doc,
    plain,
    rng,
    server_config,
    start_client,
)

URI, TEXT = SAMPLE_URI, SAMPLE_TEXT

Lsp = tuple[LanguageClient, Recorder]


async def explain(client: LanguageClient, selection: dict | None = None) -> str:  # type: ignore[type-arg]
    result = await command(client, "deepseek.explain", {"uri": URI, "range": selection or rng(3, 0, 8, 15)})
    job_id: str = result["jobId"]
    return job_id


async def test_explain_streams_and_joins_exactly(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    pieces = [f" tok{i}" for i in range(200)]
    fake.enqueue(Reply(chunks=pieces, delay=0.02))
    open_doc(client, URI, TEXT)
    job = await explain(client)
    final = await rec.wait_done(job, timeout=30)
    assert final["state"] == "done" and final["finishReason"] == "stop"
    assert rec.content(job) == "".join(pieces)
    seqs = [n["seq"] for n in rec.job(job)]
    assert seqs == list(range(len(seqs)))
    assert sum(1 for n in rec.job(job) if n["done"]) == 1
    # the first content reached the client within 100 ms of leaving the fake
    record = fake.requests[-1]
    first_sent = record.chunk_times[1]  # chunk 0 is the role-only delta
    first_seen = next(t for n, t in zip(rec.streams, rec.arrivals, strict=True) if n.get("content"))
    assert first_seen - first_sent < 0.1, f"{(first_seen - first_sent) * 1000:.1f} ms"
    assert final["usage"]["promptTokens"] > 0
    assert final["range"] == rng(3, 0, 8, 15)


async def test_first_content_arrives_while_the_rest_is_held_back(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content="This function finds shortest paths.", hold_after=2))
    open_doc(client, URI, TEXT)
    job = await explain(client)
    await rec.wait_for(lambda: rec.content(job))
    assert fake.held == 1 and rec.final(job) is None
    fake.release()
    await rec.wait_done(job)
    assert rec.content(job) == "This function finds shortest paths."


async def test_prompt_holds_selection_language_path_and_stable_prefix(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    open_doc(client, URI, TEXT)
    for selection in (rng(3, 0, 8, 15), rng(4, 0, 5, 0)):
        await rec.wait_done(await explain(client, selection))
    first, second = (r.body["messages"] for r in fake.requests if r.path.endswith("/chat/completions"))
    assert first[0] == second[0] and first[0]["role"] == "system"
    user = first[-1]["content"]
    assert "graph.py" in user and "python" in user and "heapq.heappop" in user
    # the part that changes (selection, task) comes last: a long common prefix
    common = 0
    for a, b in zip(first[-1]["content"], second[-1]["content"], strict=False):
        if a != b:
            break
        common += 1
    assert common > len(TEXT) // 2


async def test_hover_shows_streaming_text_then_the_explanation(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content="Finds **shortest** paths from a source.", hold_after=3))
    open_doc(client, URI, TEXT)
    job = await explain(client)
    await rec.wait_for(lambda: rec.content(job))
    hover_params = types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=URI),
        position=types.Position(line=5, character=4),
    )
    partial = await client.text_document_hover_async(hover_params)
    assert partial is not None and isinstance(partial.contents, types.MarkupContent)
    assert "streaming" in partial.contents.value
    fake.release()
    await rec.wait_done(job)
    hover = await client.text_document_hover_async(hover_params)
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert hover.contents.value == "Finds **shortest** paths from a source."
    outside = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=types.Position(line=0, character=0),
        )
    )
    assert outside is None
    at_end = await client.text_document_hover_async(  # the range's end is outside it
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=types.Position(line=8, character=15),
        )
    )
    assert at_end is None


async def test_progress_begins_and_ends(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content="short"))
    open_doc(client, URI, TEXT)
    job = await explain(client)
    await rec.wait_done(job)
    values = lambda: [plain(p.value) for p in rec.progress]  # noqa: E731
    await rec.wait_for(lambda: any(v["kind"] == "end" for v in values()))
    begin = next(v for v in values() if v["kind"] == "begin")
    assert begin["title"].startswith("DeepSeek") and begin["cancellable"] is True


async def test_code_actions_offer_every_command(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, _ = lsp
    open_doc(client, URI, TEXT)
    diag = types.Diagnostic(
        range=types.Range(start=types.Position(line=4, character=4), end=types.Position(line=4, character=8)),
        message="undefined name",
        severity=types.DiagnosticSeverity.Error,
    )
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=types.Range(
                start=types.Position(line=3, character=0), end=types.Position(line=8, character=0)
            ),
            context=types.CodeActionContext(diagnostics=[diag]),
        )
    )
    assert actions is not None
    titles = [a.title for a in actions if isinstance(a, types.CodeAction)]
    for title in ("Explain", "Refactor", "Fix", "Add docstring", "Write tests"):
        assert f"DeepSeek: {title}" in titles
    assert all(isinstance(a, types.CodeAction) and a.command for a in actions)
    none = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=types.Range(
                start=types.Position(line=3, character=0), end=types.Position(line=8, character=0)
            ),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    # Fix is offered on every non-empty range, diagnostics or not (docs/protocol.md, Code actions)
    assert none is not None and "DeepSeek: Fix" in [a.title for a in none]


async def test_explain_of_an_unopened_file_reads_it_from_disk(lsp: Lsp, fake: FakeDeepSeek, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client, rec = lsp
    path = tmp_path / "disk.py"
    path.write_text("def f():\n    return 42\n")
    fake.enqueue(Reply(content="Returns 42."))
    result = await command(client, "deepseek.explain", {"uri": path.as_uri(), "range": rng(0, 0, 1, 13)})
    await rec.wait_done(result["jobId"])
    assert "return 42" in fake.requests[-1].body["messages"][-1]["content"]


async def test_bad_arguments_get_a_clear_error(lsp: Lsp) -> None:
    client, _ = lsp
    try:
        await asyncio.wait_for(
            client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="deepseek.explain", arguments=[{"uri": URI}])
            ),
            5,
        )
    except Exception as exc:  # pygls raises JsonRpc errors as exceptions
        assert "range" in str(exc)
    else:
        raise AssertionError("expected an InvalidParams error")


async def test_utf8_client_ranges_and_thinking_kept_apart(fake: FakeDeepSeek) -> None:
    """Neovim negotiates UTF-8 positions: ranges must be counted in bytes, not UTF-16 units."""
    client, rec = await start_client(
        server_config(fake.base_url), capabilities="neovim", init_options={"thinking": True}
    )
    try:
        text = "s = '😀中'; t = 1\nu = 2\n"
        open_doc(client, URI, text)
        fake.enqueue(Reply(reasoning="Hmm, a tuple.", content="Assigns t."))
        # select `t = 1`: after 's = ' (4) + quote (1) + emoji (4 bytes) + 中 (3 bytes) + quote; (2) + space (1)
        start = len("s = '😀中'; ".encode())
        job = (await command(client, "deepseek.explain", {"uri": URI, "range": rng(0, start, 0, start + 5)}))[
            "jobId"
        ]
        final = await rec.wait_done(job)
        assert final["range"] == rng(0, start, 0, start + 5)
        assert "```python\nt = 1\n```" in fake.requests[-1].body["messages"][-1]["content"]
        assert rec.reasoning(job) == "Hmm, a tuple." and rec.content(job) == "Assigns t."
        assert all(not (n.get("content") and n.get("reasoning")) for n in rec.job(job))
    finally:
        await client.shutdown_session()
