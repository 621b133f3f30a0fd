"""Test harness: the real `deepseek-lsp` process over stdio (pytest-lsp) and a recorder of what it sends.

Every wait is on a condition with a deadline, never a bare sleep.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

TEST_KEY = "sk-test-0123456789abcdef0123456789abcdef"

# A small document several suites explain and chat about.
SAMPLE_URI = "file:///tmp/project/graph.py"
SAMPLE_TEXT = """import heapq


def shortest(graph, source):
    dist = {source: 0}
    queue = [(0, source)]
    while queue:
        d, node = heapq.heappop(queue)
    return dist
"""


def plain(obj: Any) -> Any:
    """pygls hands unknown-method params over as attribute objects: make them plain JSON."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple) and not hasattr(obj, "_fields"):
        return [plain(v) for v in obj]
    if hasattr(obj, "_asdict"):
        return {k: plain(v) for k, v in obj._asdict().items()}
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return {k: plain(v) for k, v in vars(obj).items()}
    return obj


@dataclass
class Recorder:
    """Everything the server sent that tests assert on, with arrival times."""

    streams: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    messages: list[types.ShowMessageParams] = field(default_factory=list)
    logs: list[types.LogMessageParams] = field(default_factory=list)
    progress: list[Any] = field(default_factory=list)
    init: types.InitializeResult | None = None  # the server's answer to `initialize`
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def bump(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        async def _wait() -> Any:
            async with self.changed:
                while not (value := predicate()):
                    await self.changed.wait()
                return value

        return await asyncio.wait_for(_wait(), timeout)

    def job(self, job_id: str) -> list[dict[str, Any]]:
        return [n for n in self.streams if n["jobId"] == job_id]

    def final(self, job_id: str) -> dict[str, Any] | None:
        return next((n for n in self.job(job_id) if n.get("done")), None)

    async def wait_done(self, job_id: str, timeout: float = 10.0) -> dict[str, Any]:
        result: dict[str, Any] = await self.wait_for(lambda: self.final(job_id), timeout)
        return result

    def content(self, job_id: str) -> str:
        return "".join(n.get("content") or "" for n in self.job(job_id))

    def reasoning(self, job_id: str) -> str:
        return "".join(n.get("reasoning") or "" for n in self.job(job_id))


def server_config(base_url: str, key: str | None = TEST_KEY, **env: str) -> ClientServerConfig:
    server_env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK_")}
    server_env.update(
        {
            "DEEPSEEK_BASE_URL": base_url,
            "DEEPSEEK_MODEL": "deepseek-chat",
            # never the user's own chat store, nor their cache folder
            "DEEPSEEK_LSP_DATA_DIR": tempfile.mkdtemp(prefix="deepseek-lsp-test-"),
            "DEEPSEEK_LSP_CACHE_DIR": tempfile.mkdtemp(prefix="deepseek-lsp-cache-"),
            # the estimate instead of the tokenizer: 0.25 s of CPU less per server (the suite
            # starts hundreds); tests of exact counts pass DEEPSEEK_LSP_TOKENIZER="exact"
            "DEEPSEEK_LSP_TOKENIZER": "estimate",
        }
    )
    if key is not None:
        server_env["DEEPSEEK_API_KEY"] = key
    server_env.update(env)
    return ClientServerConfig(
        server_command=[sys.executable, "-m", "deepseek_lsp", "--log-level", "debug"],
        server_env=server_env,
    )


def attach_recorder(client: LanguageClient) -> Recorder:
    rec = Recorder()

    @client.feature("deepseek/stream")
    async def on_stream(params: Any) -> None:
        rec.streams.append(plain(params))
        rec.arrivals.append(time.perf_counter())
        await rec.bump()

    # lsprotocol parses any CodeAction that carries a command as a Command (its union hook
    # only checks for a "command" key); tell the two apart by the type of that key instead.
    def code_action_or_command(obj: Any, _: type) -> types.Command | types.CodeAction:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return client.protocol._converter.structure(obj, kind)  # type: ignore[no-any-return]

    client.protocol._converter.register_structure_hook(
        types.Command | types.CodeAction,
        code_action_or_command,  # type: ignore[arg-type]
    )

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params: types.RegistrationParams) -> None:
        return None

    # pytest-lsp already records these; wrap its handlers so waits can wake on them.
    features = client.protocol.fm.features
    for method, sink in (
        (types.WINDOW_SHOW_MESSAGE, rec.messages),
        (types.WINDOW_LOG_MESSAGE, rec.logs),
        (types.PROGRESS, rec.progress),
    ):
        features[method] = _recording(features.get(method), sink, rec)
    return rec


def _recording(original: Callable[..., Any] | None, sink: list[Any], rec: Recorder) -> Callable[..., Any]:
    async def handler(*args: Any) -> None:
        if original is not None:
            original(*args)
        sink.append(args[-1])
        await rec.bump()

    return handler


def capabilities_of(preset: str, stream: bool = True) -> types.ClientCapabilities:
    """A pytest-lsp preset; with `stream`, announcing that it renders `deepseek/stream`, as our
    own clients do (`experimental.deepseek.stream`)."""
    caps = client_capabilities(preset)
    if stream:
        experimental = caps.experimental if isinstance(caps.experimental, dict) else {}
        caps.experimental = {**experimental, "deepseek": {"stream": True}}
    return caps


async def start_client(
    config: ClientServerConfig,
    *,
    capabilities: str | types.ClientCapabilities = "visual-studio-code",
    init_options: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    stream: bool = True,
    client_info: types.ClientInfo | None = None,
) -> tuple[LanguageClient, Recorder]:
    """Start and initialize a client; a preset's name gets `stream` (our clients' capability),
    a `ClientCapabilities` is sent as it is."""
    client = await config.start()
    assert isinstance(client, LanguageClient)
    rec = attach_recorder(client)
    if settings is not None:
        client.set_configuration({"deepseek": settings})
    caps = capabilities_of(capabilities, stream) if isinstance(capabilities, str) else capabilities
    rec.init = await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            initialization_options=init_options,
            root_uri=None,
            client_info=client_info,
        )
    )
    return client, rec


def open_doc(client: LanguageClient, uri: str, text: str, language: str = "python", version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
        )
    )


async def command(client: LanguageClient, name: str, arg: dict[str, Any]) -> Any:
    result = await asyncio.wait_for(
        client.workspace_execute_command_async(types.ExecuteCommandParams(command=name, arguments=[arg])),
        10,
    )
    return plain(result)


def rng(l1: int, c1: int, l2: int, c2: int) -> dict[str, dict[str, int]]:
    return {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}
