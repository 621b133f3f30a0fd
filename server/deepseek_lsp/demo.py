"""`deepseek-lsp demo`: the whole path with no key and no network.

Starts the fake DeepSeek in-process and the real server as a child over stdio, shows the code it
is about to explain, streams the explanation as it arrives, and ends with what to do next. With a
FILE, explains that file's first function (or its first lines when it has none).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import syntax
from .textcodec import decode

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

# At most this many lines are shown and explained: a demo, not a bill.
MAX_LINES = 60
_FUNCTION_WORD = re.compile(r"(?:async\s+)?(?:def|function\*?|func|fn|sub|proc|procedure)\b")
_LSP_LANGUAGE_IDS = {"tsx": "typescriptreact"}


class DemoError(Exception):
    """A problem with the user's file: one line on stderr, exit status 2."""


@dataclass(frozen=True)
class Part:
    """The lines to explain (0-based, inclusive) and how to describe them."""

    first: int
    last: int
    what: str


def read_file(path: Path, shown: str | None = None) -> str:
    """The file's text, or a DemoError that says in one line what is wrong with it (naming the
    file as the user typed it, `shown`)."""
    name = shown or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DemoError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise DemoError(f"{name} is a folder: give the demo one source file") from None
    except PermissionError:
        raise DemoError(f"{name}: permission denied (cannot read it)") from None
    except OSError as exc:
        raise DemoError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    text = decode(data)
    if text is None:
        raise DemoError(f"{name} is not a text file: give the demo a source file")
    if not text.strip():
        raise DemoError(f"{name} is empty: there is nothing to explain")
    return text


def first_function(text: str, lang: str) -> Part:
    """The file's first function (tree-sitter where a grammar exists, heuristics otherwise), else
    its first definition of any kind, else its first lines; at most MAX_LINES lines."""
    index = syntax.definition_index(text, lang)
    candidates = sorted((offset, name) for name, offsets in index.items() for offset in offsets)
    chosen: tuple[syntax.Span, str] | None = None
    for offset, name in candidates:
        if syntax.definition_start(text, offset) is None:
            continue
        is_function = bool(_FUNCTION_WORD.match(text, offset))
        if not is_function and chosen is not None:
            continue
        span = _definition_span(text, offset, name, lang)
        chosen = (span, f"{'function' if is_function else 'definition'} {name}")
        if is_function:
            break
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    if chosen is None:
        last = min(total, MAX_LINES) - 1
        return Part(0, last, f"lines 1-{last + 1} (it has no function)")
    span, what = chosen
    last = min(span.end_line, span.start_line + MAX_LINES - 1, total - 1)
    return Part(span.start_line, last, what)


def _definition_span(text: str, offset: int, name: str, lang: str) -> syntax.Span:
    """The whole definition at `offset`: the parser's extent when there is one, else the
    indentation's."""
    line = syntax.line_of(text, offset)
    found = re.compile(rf"\b{re.escape(name)}\b").search(text, offset)
    if found is not None:
        scope = syntax.enclosing_scope(text, found.start(), found.start(), lang)
        if scope is not None and scope.start_line <= line <= scope.end_line:
            return scope
    span, _cut = syntax.definition(text, offset, max_lines=MAX_LINES)
    return span


def listing(text: str, part: Part) -> str:
    """The lines of `part` with their line numbers (1-based, as editors show them)."""
    lines = text.splitlines()[part.first : part.last + 1]
    width = len(str(part.last + 1))
    return "\n".join(f"{n:>{width}} | {line}" for n, line in enumerate(lines, part.first + 1))


def _program() -> str:
    """How the user ran us (`.venv/bin/deepseek-lsp`), so the next commands can be pasted."""
    argv0 = sys.argv[0] if sys.argv else ""
    return argv0 if os.path.basename(argv0) == "deepseek-lsp" else "deepseek-lsp"


def next_steps() -> str:
    prog = _program()
    return (
        "That was a fake DeepSeek running on this machine: no key, no network, no cost.\n"
        "\n"
        "Next:\n"
        "  1. Get an API key at https://platform.deepseek.com/api_keys and set it:\n"
        "       export DEEPSEEK_API_KEY=sk-...\n"
        "  2. Check the key, the connection, the model and your balance:\n"
        f"       {prog} check\n"
        '  3. Use it in your editor: see "Use it from an editor" in the README\n'
        "     (VS Code: editors/vscode/README.md; Neovim: editors/nvim/README.md; any other LSP editor,\n"
        "     such as Helix: the same section).\n"
    )


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _field(params: Any, name: str) -> Any:
    return params.get(name) if isinstance(params, dict) else getattr(params, name, None)


async def _demo(path: Path, text: str, shown_name: str, scripted: bool) -> int:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient
    from pygls.uris import from_fs_path

    from .fake import FakeDeepSeek, Reply

    lang = syntax.language_of("", str(path))
    part = first_function(text, lang)
    _say("deepseek-lsp demo: the language server explains code, answered by a fake DeepSeek")
    _say("running on this machine (no key, no network, no cost).\n")
    _say(f"The code: {shown_name}, {part.what} (lines {part.first + 1}-{part.last + 1})\n")
    _say(listing(text, part))
    _say("\nThe explanation, as it streams in:\n")

    # A person watches the words arrive at a reading pace; a pipe or a test gets them at once.
    delay = 0.02 if sys.stdout.isatty() else 0.0
    async with FakeDeepSeek(default_delay=delay) as fake:
        if scripted:
            fake.enqueue(Reply(content=SAMPLE_EXPLANATION, delay=delay))
        client = LanguageClient("deepseek-lsp-demo", "1")
        done = asyncio.Event()
        state: dict[str, Any] = {"first": None, "final": None}

        @client.feature("deepseek/stream")
        def on_stream(params: Any) -> None:
            content = _field(params, "content")
            if content:
                if state["first"] is None:
                    state["first"] = time.perf_counter()
                sys.stdout.write(content)
                sys.stdout.flush()
            if _field(params, "done"):
                state["final"] = params
                done.set()

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_message(params: types.ShowMessageParams) -> None:
            sys.stderr.write(f"\nThe server says: {params.message}\n")

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
        uri = from_fs_path(str(path)) or path.as_uri()
        await client.initialize_async(
            types.InitializeParams(
                # it prints deepseek/stream as it comes: announce it (docs/protocol.md, Initialization)
                capabilities=types.ClientCapabilities(experimental={"deepseek": {"stream": True}}),
                root_uri=from_fs_path(str(path.parent)),
            )
        )
        client.initialized(types.InitializedParams())
        language_id = _LSP_LANGUAGE_IDS.get(lang, lang)
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)
            )
        )
        rng = {"start": {"line": part.first, "character": 0}, "end": {"line": part.last + 1, "character": 0}}
        started = time.perf_counter()
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="deepseek.explain", arguments=[{"uri": uri, "range": rng}])
        )
        await asyncio.wait_for(done.wait(), 60)
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    final = state["final"]
    error = _field(final, "error")
    if error:
        sys.stderr.write(f"\nThe explanation failed: {_field(error, 'message')}\n")
        return 1
    usage = _field(final, "usage") or {}
    first = f"{(state['first'] - started) * 1000:.0f} ms" if state["first"] else "the end"
    _say(
        f"\n\n(First words after {first}; {_field(usage, 'promptTokens')} tokens sent, "
        f"{_field(usage, 'completionTokens')} received.)\n"
    )
    _say(next_steps())
    return 0


def run_demo(file: str | None = None) -> int:
    """Exit status 0 when the explanation arrived, 1 when it failed, 2 for an unusable FILE."""
    for stream in (sys.stdout, sys.stderr):  # a file's characters must never crash the output
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    try:
        if file:
            path = Path(file).resolve()
            return asyncio.run(_demo(path, read_file(path, file), file, scripted=False))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "dijkstra.py"
            path.write_text(SAMPLE, encoding="utf-8")
            return asyncio.run(_demo(path, SAMPLE, "a sample file, dijkstra.py", scripted=True))
    except DemoError as err:
        sys.stderr.write(f"deepseek-lsp demo: {err}\n")
        return 2
    except TimeoutError:
        sys.stderr.write("\ndeepseek-lsp demo: no answer within 60 seconds; try again.\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `demo | head`: the reader has seen enough; say nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # never a traceback for a demo
        sys.stderr.write(f"\ndeepseek-lsp demo: it could not run ({type(exc).__name__}: {exc}).\n")
        return 1
