"""`deepseek-lsp demo`: the whole path with no key and no network.

Starts the fake DeepSeek in-process, starts the real server as a child over stdio, opens a file
through LSP, asks for an explanation and prints it as it streams, then shows the hover.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

SAMPLE = '''\
import heapq


def dijkstra(graph, source):
    """Shortest distances from source in a graph of {node: [(neighbour, weight)]}."""
    dist = {source: 0}
    queue = [(0, source)]
    while queue:
        d, node = heapq.heappop(queue)
        if d > dist.get(node, float("inf")):
            continue
        for neighbour, weight in graph.get(node, []):
            nd = d + weight
            if nd < dist.get(neighbour, float("inf")):
                dist[neighbour] = nd
                heapq.heappush(queue, (nd, neighbour))
    return dist
'''

SAMPLE_EXPLANATION = """\
`dijkstra` computes the **shortest distance** from `source` to every reachable node of a
weighted graph, using Dijkstra's algorithm with a binary heap.

- `dist` holds the best distance found so far; `queue` is a min-heap of `(distance, node)`.
- Each loop pops the closest unsettled node. If a shorter path to it was already recorded,
  the entry is stale and skipped (`d > dist[node]`), which avoids a decrease-key operation.
- For each edge it *relaxes* the neighbour: a shorter path updates `dist` and pushes a new entry.

Runs in O((V + E) log V). Weights must be non-negative, or the result can be wrong.
Nodes that cannot be reached are simply absent from the returned dict.
"""


def _note(text: str) -> None:
    """Commentary goes to stderr; stdout carries the explanation alone."""
    sys.stderr.write(text + "\n")


def _field(params: Any, name: str) -> Any:
    return params.get(name) if isinstance(params, dict) else getattr(params, name, None)


async def _demo(path: Path, scripted: bool) -> int:
    from .fake import FakeDeepSeek, Reply

    async with FakeDeepSeek() as fake:
        if scripted:
            fake.enqueue(Reply(content=SAMPLE_EXPLANATION, delay=0.02))
        client = LanguageClient("deepseek-lsp-demo", "1")
        done = asyncio.Event()
        state: dict[str, Any] = {"first": None, "text": [], "final": None}

        @client.feature("deepseek/stream")
        def on_stream(params: Any) -> None:
            content = _field(params, "content")
            if content:
                if state["first"] is None:
                    state["first"] = time.perf_counter()
                state["text"].append(content)
                sys.stdout.write(content)
                sys.stdout.flush()
            if _field(params, "done"):
                state["final"] = params
                done.set()

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_message(params: types.ShowMessageParams) -> None:
            _note(f"\n[server] {params.message}")

        @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def on_progress_create(params: Any) -> None:
            return None

        env = {
            **os.environ,
            "DEEPSEEK_API_KEY": fake.api_key or "sk-demo",
            "DEEPSEEK_BASE_URL": fake.base_url,
        }
        env.pop("DEEPSEEK_MODEL", None)
        await client.start_io(sys.executable, "-m", "deepseek_lsp", "--log-level", "error", env=env)
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        uri = from_fs_path(str(path)) or path.as_uri()
        await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                root_uri=from_fs_path(str(path.parent)),
            )
        )
        client.initialized(types.InitializedParams())
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            )
        )
        lines = text.splitlines()
        rng = {"start": {"line": 0, "character": 0}, "end": {"line": len(lines), "character": 0}}
        _note(f"deepseek-lsp demo: explaining {path} with a fake DeepSeek at {fake.base_url}\n")
        started = time.perf_counter()
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="deepseek.explain", arguments=[{"uri": uri, "range": rng}])
        )
        await asyncio.wait_for(done.wait(), 60)
        sys.stdout.write("\n")
        final = state["final"]
        error = _field(final, "error")
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=3, character=4),
            )
        )
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
        if error:
            _note(f"\nfailed: {_field(error, 'message')}")
            return 1
        first = (state["first"] - started) * 1000 if state["first"] else float("nan")
        usage = _field(final, "usage") or {}
        _note(
            f"\njob {_field(result, 'jobId')}: first words after {first:.0f} ms; "
            f"{_field(usage, 'promptTokens')} prompt tokens, "
            f"{_field(usage, 'completionTokens')} completion tokens. "
            f"Hover shows it afterwards: {'yes' if hover else 'no'}."
        )
        return 0


def run_demo(file: str | None = None) -> int:
    if file:
        return asyncio.run(_demo(Path(file).resolve(), scripted=False))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dijkstra.py"
        path.write_text(SAMPLE, encoding="utf-8")
        return asyncio.run(_demo(path, scripted=True))
