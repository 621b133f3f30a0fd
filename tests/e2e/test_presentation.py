"""How jobs reach clients without our renderer (eglot 1.9, lsp-mode 8.0, any LSP client), and
that ours still get exactly `deepseek/stream`: the real server process over stdio, a pytest-lsp
client announcing what such an editor announces, the fake DeepSeek on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from deepseek_lsp.explain.document import Subject, render
from deepseek_lsp.fake import FakeDeepSeek, Reply

from .harness import (
    SAMPLE_TEXT,
    SAMPLE_URI,
    Recorder,
    capabilities_of,
    command,
    open_doc,
    plain,
    rng,
    server_config,
    start_client,
)

URI, TEXT = SAMPLE_URI, SAMPLE_TEXT
SELECTION = rng(3, 0, 8, 15)
EXPLANATION = (
    "# Shortest paths\n\n"
    "This is **Dijkstra's** algorithm with a *heap* (`heapq`):\n\n"
    "```python\nd, node = heapq.heappop(queue)\n```\n\n"
    "- pops the closest node\n"
)
PLAIN = (
    "Shortest paths\n\n"
    "This is Dijkstra's algorithm with a heap (`heapq`):\n\n"
    "    d, node = heapq.heappop(queue)\n\n"
    "- pops the closest node"
)


def eglot_1_9() -> types.ClientCapabilities:
    """What eglot 1.9 (Debian's elpa-eglot) sends, from its `eglot-client-capabilities`: no
    `window` at all (no progress, no showDocument), plain-text hovers without markdown-mode,
    an empty `experimental`."""
    caps = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
            configuration=True,
            workspace_folders=True,
        ),
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
            hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.PlainText]),
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(
                        value_set=["quickfix", "refactor", "refactor.rewrite"]
                    )
                )
            ),
        ),
        experimental={},
    )
    return caps


def lsp_mode_8() -> types.ClientCapabilities:
    """lsp-mode 8.0: work-done progress and Markdown hovers, `showDocument` null."""
    caps = eglot_1_9()
    caps.window = types.WindowClientCapabilities(work_done_progress=True)
    assert caps.text_document is not None
    caps.text_document.hover = types.HoverClientCapabilities(
        content_format=[types.MarkupKind.Markdown, types.MarkupKind.PlainText]
    )
    return caps


class Standard:
    """A client without our renderer: what it was shown, and the cache folder's files."""

    def __init__(self, client: LanguageClient, rec: Recorder, cache: Path) -> None:
        self.client, self.rec, self.cache = client, rec, cache
        self.shown: list[types.ShowDocumentParams] = []
        self.refreshed: list[str] = []

    def infos(self) -> list[str]:
        return [m.message for m in self.rec.messages if m.type == types.MessageType.Info]

    def errors(self) -> list[str]:
        return [m.message for m in self.rec.messages if m.type == types.MessageType.Error]

    def files(self) -> list[Path]:
        folder = self.cache / "explanations"
        return sorted(folder.glob("*.md")) if folder.is_dir() else []

    async def hover(self, line: int, character: int) -> types.Hover | None:
        return await asyncio.wait_for(
            self.client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=URI),
                    position=types.Position(line=line, character=character),
                )
            ),
            10,
        )


StartStandard = Callable[..., Awaitable[Standard]]


@pytest_asyncio.fixture
async def standard(fake: FakeDeepSeek, tmp_path: Path) -> AsyncIterator[StartStandard]:
    """`await standard(caps, init=...)`: a server and a client announcing `caps` as they are."""
    clients: list[LanguageClient] = []

    async def go(
        caps: types.ClientCapabilities, init: dict[str, Any] | None = None, show_ok: bool = True
    ) -> Standard:
        cache = tmp_path / f"cache{len(clients)}"
        config = server_config(fake.base_url, DEEPSEEK_LSP_CACHE_DIR=str(cache))
        client, rec = await start_client(
            config,
            capabilities=caps,
            init_options=init,
            client_info=types.ClientInfo(name="test-standard"),
        )
        clients.append(client)
        st = Standard(client, rec, cache)

        async def on_show(params: types.ShowDocumentParams) -> types.ShowDocumentResult:
            st.shown.append(params)
            await rec.bump()
            return types.ShowDocumentResult(success=show_ok)

        client.protocol.fm.features[types.WINDOW_SHOW_DOCUMENT] = on_show  # instead of pytest-lsp's

        @client.feature(types.WORKSPACE_TEXT_DOCUMENT_CONTENT_REFRESH)
        async def on_refresh(params: types.TextDocumentContentRefreshParams) -> None:
            st.refreshed.append(params.uri)
            await rec.bump()

        return st

    yield go
    for client in clients:
        await client.shutdown_session()


async def explain(client: LanguageClient, selection: dict[str, Any] = SELECTION) -> str:
    result = await command(client, "deepseek.explain", {"uri": URI, "range": selection})
    job_id: str = result["jobId"]
    return job_id


def path_of(uri: str) -> Path:
    return Path(urlsplit(uri).path)


async def test_eglot_gets_messages_a_plain_explanation_and_the_markdown_file(
    standard: StartStandard, fake: FakeDeepSeek
) -> None:
    st = await standard(eglot_1_9())
    fake.enqueue(Reply(content=EXPLANATION, chunks=None))
    open_doc(st.client, URI, TEXT)
    await explain(st.client)
    infos = await st.rec.wait_for(lambda: len(st.infos()) >= 2 and st.infos())
    waiting, told = infos[:2]
    assert waiting.startswith("DeepSeek: Explain — waiting for deepseek-chat at 127.0.0.1:"), waiting
    # the finished explanation, readable as plain text, naming the Markdown file
    subject = Subject.of(URI, SELECTION)
    [file] = st.files()
    assert file.name == subject.name and file.name.startswith("graph.py-L4-9-")
    assert told == f"DeepSeek: Explain — graph.py, lines 4–9:\n\n{PLAIN}\n\n(The Markdown is in {file}.)"
    # the file holds the explanation exactly, after its heading
    assert file.read_text(encoding="utf-8") == render(subject, EXPLANATION, "done")
    assert file.read_text(encoding="utf-8").endswith(EXPLANATION)
    # nothing eglot would drop or warn about, and no progress it never asked for
    assert st.rec.streams == [] and st.rec.progress == [] and st.shown == []
    assert st.errors() == []
    # a plain-text hover over the explained range; its end is outside
    hover = await st.hover(5, 4)
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.PlainText and hover.contents.value == PLAIN + "\n"
    assert await st.hover(8, 15) is None
    assert await st.hover(8, 14) is not None
    assert len(st.infos()) == 2  # no "done" message besides the explanation


async def test_eglot_long_explanation_says_where_the_rest_is(
    standard: StartStandard, fake: FakeDeepSeek
) -> None:
    st = await standard(eglot_1_9())
    long = "\n\n".join(f"Paragraph {i}: " + "word " * 40 for i in range(60))
    fake.enqueue(Reply(content=long))
    open_doc(st.client, URI, TEXT)
    await explain(st.client)
    told = (await st.rec.wait_for(lambda: len(st.infos()) >= 2 and st.infos()))[1]
    [file] = st.files()
    assert f"more characters: the Markdown is in {file}]" in told
    shown = told.split(":\n\n", 1)[1].rsplit("\n\n[…", 1)[0]
    assert long.startswith(shown) and len(shown) < len(long)
    assert file.read_text(encoding="utf-8").endswith(long + "\n")


async def test_eglot_cancel_and_failure_messages(standard: StartStandard, fake: FakeDeepSeek) -> None:
    st = await standard(eglot_1_9())
    open_doc(st.client, URI, TEXT)
    fake.enqueue(Reply(content="Half of it, then the rest.", hold_after=2))
    job = await explain(st.client)
    await fake.wait_for_held()
    await command(st.client, "deepseek.cancel", {"jobId": job})
    told = await st.rec.wait_for(lambda: [m for m in st.infos() if "cancelled" in m])
    [file] = st.files()
    assert told == [f"DeepSeek: Explain — cancelled; the text so far is in {file}"]
    assert file.read_text(encoding="utf-8").endswith("*Cancelled: the explanation stops here.*\n")
    # a failure shows its error once, and no message of its own besides "waiting"
    fake.enqueue(Reply(status=402))
    await explain(st.client, rng(4, 0, 5, 0))
    await st.rec.wait_for(st.errors)
    fake.enqueue(Reply(content="Next."))
    await explain(st.client, rng(5, 0, 6, 0))
    await st.rec.wait_for(lambda: "Next." in st.infos()[-1])
    assert [m.split(" — ")[1][:7] for m in st.infos()] == [
        "waiting",
        "cancell",
        "waiting",
        "waiting",
        "graph.p",
    ]
    assert len(st.errors()) == 1 and "balance" in st.errors()[0].lower()


async def test_lsp_mode_gets_progress_and_the_explanation_without_start_end_messages(
    standard: StartStandard, fake: FakeDeepSeek
) -> None:
    st = await standard(lsp_mode_8())
    fake.enqueue(Reply(content=EXPLANATION))
    open_doc(st.client, URI, TEXT)
    await explain(st.client)
    told = await st.rec.wait_for(st.infos)
    assert told[0].startswith("DeepSeek: Explain — graph.py, lines 4–9:\n\nShortest paths")
    values = lambda: [plain(p.value) for p in st.rec.progress]  # noqa: E731
    await st.rec.wait_for(lambda: any(v["kind"] == "end" for v in values()))
    assert st.rec.streams == [] and len(st.infos()) == 1
    hover = await st.hover(5, 4)
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.Markdown and hover.contents.value == EXPLANATION


async def test_a_client_with_show_document_gets_the_file_opened(
    standard: StartStandard, fake: FakeDeepSeek
) -> None:
    st = await standard(capabilities_of("visual-studio-code", stream=False))
    fake.enqueue(Reply(content=EXPLANATION, hold_after=2))
    open_doc(st.client, URI, TEXT)
    await explain(st.client)
    # opened as soon as the request goes out, while it streams, without taking the focus
    [shown] = await st.rec.wait_for(lambda: st.shown)
    assert st.rec.progress == [] or not any(plain(p.value)["kind"] == "end" for p in st.rec.progress)
    assert shown.uri.startswith("file://") and shown.take_focus is False and shown.external is False
    file = path_of(shown.uri)
    assert file.parent == st.cache / "explanations"
    assert file.read_text(encoding="utf-8").startswith("# graph.py, lines 4–9\n")
    fake.release()
    values = lambda: [plain(p.value) for p in st.rec.progress]  # noqa: E731
    await st.rec.wait_for(lambda: any(v["kind"] == "end" for v in values()))
    # the progress ends once the document is complete
    assert file.read_text(encoding="utf-8") == render(Subject.of(URI, SELECTION), EXPLANATION, "done")
    # VS Code announces progress: no messages; no stream (it did not ask for it)
    assert st.rec.streams == [] and st.infos() == [] and len(st.shown) == 1


async def test_text_document_content_serves_a_virtual_document(
    standard: StartStandard, fake: FakeDeepSeek
) -> None:
    caps = capabilities_of("visual-studio-code", stream=False)
    assert caps.workspace is not None
    caps.workspace.text_document_content = types.TextDocumentContentClientCapabilities()
    st = await standard(caps)
    fake.enqueue(Reply(content=EXPLANATION))
    open_doc(st.client, URI, TEXT)
    await explain(st.client)
    [shown] = await st.rec.wait_for(lambda: st.shown)
    assert shown.uri.startswith("deepseek-explain:/graph.py-L4-9-") and shown.take_focus is False
    expected = render(Subject.of(URI, SELECTION), EXPLANATION, "done")

    async def content() -> str:
        result = await asyncio.wait_for(
            st.client.protocol.send_request_async(
                types.WORKSPACE_TEXT_DOCUMENT_CONTENT, types.TextDocumentContentParams(uri=shown.uri)
            ),
            10,
        )
        return str(result.text)

    await st.rec.wait_for(lambda: shown.uri in st.refreshed)

    def more_refreshes(seen: int) -> Callable[[], bool]:
        return lambda: len(st.refreshed) > seen

    while (text := await content()) != expected:  # each refresh: new text to read
        assert text.startswith("# graph.py, lines 4–9\n"), text
        await st.rec.wait_for(more_refreshes(len(st.refreshed)))
    assert await content() == expected
    assert st.rec.streams == []


async def test_the_server_announces_its_content_scheme_only_to_clients_that_read_it(
    standard: StartStandard,
) -> None:
    caps = capabilities_of("visual-studio-code", stream=False)
    assert caps.workspace is not None
    caps.workspace.text_document_content = types.TextDocumentContentClientCapabilities()
    for st, schemes in (
        (await standard(caps), ["deepseek-explain"]),
        (await standard(capabilities_of("visual-studio-code", stream=False)), None),
    ):
        assert st.rec.init is not None
        ws = st.rec.init.capabilities.workspace
        content = ws.text_document_content if ws else None
        assert (list(content.schemes) if content else None) == schemes


async def test_explain_twice_on_one_range_is_one_request(standard: StartStandard, fake: FakeDeepSeek) -> None:
    st = await standard(capabilities_of("visual-studio-code", stream=False))
    fake.enqueue(Reply(content=EXPLANATION, hold_after=2))
    open_doc(st.client, URI, TEXT)
    first = await explain(st.client)
    await st.rec.wait_for(lambda: st.shown)
    second = await explain(st.client)
    assert second == first
    await st.rec.wait_for(lambda: len(st.shown) == 2)  # shown again
    assert st.shown[0].uri == st.shown[1].uri
    fake.release()
    values = lambda: [plain(p.value) for p in st.rec.progress]  # noqa: E731
    await st.rec.wait_for(lambda: any(v["kind"] == "end" for v in values()))
    assert len([r for r in fake.requests if r.path.endswith("/chat/completions")]) == 1


async def test_explain_twice_for_our_clients_answers_the_running_job(
    lsp: tuple[LanguageClient, Recorder], fake: FakeDeepSeek
) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content="Once.", hold_after=1))
    open_doc(client, URI, TEXT)
    first = await explain(client)
    await fake.wait_for_held()
    assert await explain(client) == first
    # another range is another job
    fake.enqueue(Reply(content="Other."))
    other = await explain(client, rng(4, 0, 5, 0))
    assert other != first
    await rec.wait_done(other)
    fake.release()
    await rec.wait_done(first)
    assert rec.content(first) == "Once." and sum(1 for n in rec.job(first) if n["done"]) == 1
    assert len([r for r in fake.requests if r.path.endswith("/chat/completions")]) == 2
    # done: explaining that range again is a new request
    fake.enqueue(Reply(content="Again."))
    again = await explain(client)
    assert again != first
    await rec.wait_done(again)


async def test_our_clients_get_the_stream_and_nothing_else(
    lsp: tuple[LanguageClient, Recorder], fake: FakeDeepSeek
) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content=EXPLANATION))
    open_doc(client, URI, TEXT)
    job = await explain(client)
    await rec.wait_done(job)
    values = lambda: [plain(p.value) for p in rec.progress]  # noqa: E731
    await rec.wait_for(lambda: any(v["kind"] == "end" for v in values()))
    assert rec.content(job) == EXPLANATION
    assert [m for m in rec.messages if m.type == types.MessageType.Info] == []


async def test_the_setting_forces_the_stream_for_a_standard_client(
    standard: StartStandard, fake: FakeDeepSeek
) -> None:
    st = await standard(eglot_1_9(), init={"presentation": "stream"})
    fake.enqueue(Reply(content="Streamed."))
    open_doc(st.client, URI, TEXT)
    job = await explain(st.client)
    await st.rec.wait_done(job)
    assert st.rec.content(job) == "Streamed."
    assert st.infos() == [] and st.files() == []


async def test_progress_says_waiting_from_the_start(
    lsp: tuple[LanguageClient, Recorder], fake: FakeDeepSeek
) -> None:
    client, rec = lsp
    fake.enqueue(Reply(content="Some words here.", hold_after=1))
    open_doc(client, URI, TEXT)
    job = await explain(client)
    values = lambda: [plain(p.value) for p in rec.progress]  # noqa: E731
    begin = await rec.wait_for(lambda: next((v for v in values() if v["kind"] == "begin"), None))
    # progress began while DeepSeek's reply is still held: nothing was reported empty before text
    assert rec.final(job) is None
    assert begin["message"] == "Waiting for DeepSeek" and begin["title"] == "DeepSeek: Explain"
    fake.release()
    await rec.wait_done(job)
    await rec.wait_for(lambda: any(v["kind"] == "end" for v in values()))
    reports = [v for v in values() if v["kind"] == "report"]
    assert all(r.get("message") for r in reports), reports
