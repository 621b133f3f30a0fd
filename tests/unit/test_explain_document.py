"""The explanation as Markdown for clients without our renderer: plain text for echo areas and
plain-text hovers, the document's name and text, the message, the throttled atomic writer."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from deepseek_lsp.explain.document import Subject, cache_dir, message, prune, render
from deepseek_lsp.explain.plaintext import to_plain
from deepseek_lsp.explain.writer import DocumentWriter

URI = "file:///tmp/project/graph.py"
RANGE = {"start": {"line": 3, "character": 0}, "end": {"line": 8, "character": 15}}


# -- Markdown -> plain text ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("# Title\n\nText.", "Title\n\nText."),
        ("## Steps ##", "Steps"),
        ("Setext\n======\nbody", "Setext\nbody"),
        ("**bold**, __bold__, *it*, _it_, ***both***, ~~gone~~", "bold, bold, it, it, both, gone"),
        ("snake_case_name and 2*3*4 stay", "snake_case_name and 2*3*4 stay"),
        ("`**kwargs` and `a_b_`", "`**kwargs` and `a_b_`"),
        ("see [the docs](https://x.y) or [here](#anchor)", "see the docs (https://x.y) or here"),
        ("![diagram](d.png)", "diagram (d.png)"),
        ("* one\n+ two\n  - nested\n1. three", "- one\n- two\n  - nested\n1. three"),
        ("```python\nif x:\n    y()\n```", "    if x:\n        y()"),
        ("~~~\ncode\n\nmore\n~~~\nafter", "    code\n\n    more\nafter"),
        ("```\nstill streaming", "    still streaming"),
        ("```js\n**not bold**\n```", "    **not bold**"),
        ("a\n\n---\n\nb", "a\n\n\n\nb"),
        (">quoted **text**", "> quoted text"),
        (r"\*literal\* and \_x\_", "*literal* and _x_"),
        ("line<br>break", "line break"),
        ("", ""),
    ],
)
def test_markdown_as_plain_text(markdown: str, plain: str) -> None:
    assert to_plain(markdown) == plain


def test_plain_text_keeps_every_word() -> None:
    md = "# Dijkstra\n\nUses a **heap** (`heapq`):\n\n```py\nd, n = heapq.heappop(q)\n```\n\n- relaxes *edges*\n"
    words = lambda s: [w for w in s.replace("`", " ").split() if w.isalnum()]  # noqa: E731
    assert words(to_plain(md)) == [w for w in words(md.replace("*", "").replace("#", "")) if w != "py"]


# -- the document -------------------------------------------------------------------------------
def test_name_is_readable_stable_and_per_range() -> None:
    s = Subject.of(URI, RANGE)
    assert s.lines == (4, 9) and s.where == "lines 4–9" and s.file_name == "graph.py"
    assert (
        s.name.startswith("graph.py-L4-9-")
        and s.name.endswith(".md")
        and len(s.name) == len("graph.py-L4-9-") + 11
    )
    assert Subject.of(URI, RANGE).name == s.name
    other_range = {"start": {"line": 3, "character": 1}, "end": RANGE["end"]}
    assert Subject.of(URI, other_range).name != s.name
    assert Subject.of("file:///elsewhere/graph.py", RANGE).name != s.name
    whole = Subject.of(URI, {"start": {"line": 3, "character": 0}, "end": {"line": 9, "character": 0}})
    assert whole.lines == (4, 9)
    one = Subject.of(URI, {"start": {"line": 3, "character": 2}, "end": {"line": 3, "character": 9}})
    assert one.where == "line 4" and "-L4-" in one.name
    odd = Subject.of("untitled:Untitled-1 (a/b)", RANGE)
    assert "/" not in odd.name and " " not in odd.name and odd.path == "untitled:Untitled-1 (a/b)"
    spaced = Subject.of("file:///tmp/my%20file.py", RANGE)
    assert spaced.file_name == "my file.py" and spaced.path == "/tmp/my file.py" and " " not in spaced.name


def test_document_text_holds_the_explanation_exactly() -> None:
    s = Subject.of(URI, RANGE)
    text = "Finds **shortest** paths.\n\n```python\nx = 1\n```"
    done = render(s, text, "done")
    assert done.startswith("# graph.py, lines 4–9\n\n") and "`/tmp/project/graph.py`" in done
    assert done.endswith(text + "\n")
    assert render(s, text + "\n", "done").endswith(text + "\n") and not render(
        s, text + "\n", "done"
    ).endswith("\n\n")
    assert render(s, "", "streaming").endswith("*Waiting for DeepSeek…*\n")
    assert render(s, "Half", "streaming").endswith("Half\n\n*DeepSeek is writing…*\n")
    assert render(s, "Half", "cancelled").endswith("Half\n\n---\n*Cancelled: the explanation stops here.*\n")
    assert render(s, "", "failed", "Top up.").endswith("*Failed: Top up.*\n")


def test_message_is_plain_and_long_ones_say_where_the_rest_is(tmp_path: Path) -> None:
    s = Subject.of(URI, RANGE)
    path = tmp_path / s.name
    short = message(s, "Uses a **heap**.", path)
    assert (
        short == f"DeepSeek: Explain — graph.py, lines 4–9:\n\nUses a heap.\n\n(The Markdown is in {path}.)"
    )
    long = "\n".join(f"line {i} " + "x" * 60 for i in range(200))
    told = message(s, long, path, limit=1000)
    body, tail = told.split(":\n\n", 1)[1].rsplit("\n\n", 1)
    assert long.startswith(body) and len(body) <= 1000
    assert tail == f"[… {len(long) - len(body):,} more characters: the Markdown is in {path}]"
    without = message(s, long, None, limit=1000)
    assert without.endswith("more characters: hover over the code for the rest]")


def test_cache_dir_and_pruning(tmp_path: Path) -> None:
    assert cache_dir({"DEEPSEEK_LSP_CACHE_DIR": str(tmp_path)}) == tmp_path / "explanations"
    assert cache_dir({}).name == "explanations" and "deepseek-lsp" in str(cache_dir({}))
    for i in range(5):
        f = tmp_path / f"{i}.md"
        f.write_text(str(i))
        os.utime(f, (1000 + i, 1000 + i))
    (tmp_path / "keep.txt").write_text("not ours")
    prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.md", "4.md", "keep.txt"]
    prune(tmp_path / "missing")  # nothing to do, no error


# -- the writer ---------------------------------------------------------------------------------
class Recorded:
    """A write function that records, and can be held in its thread until released."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, path: Path, text: str) -> None:
        self.entered.set()
        self.gate.wait(5)
        self.texts.append(text)
        path.write_text(text)


async def test_writer_writes_the_newest_text_and_the_final_one_at_once(tmp_path: Path) -> None:
    rec = Recorded()
    seen: list[str] = []
    w = DocumentWriter(tmp_path / "a.md", interval=60, write=rec, on_written=seen.append)
    rec.gate.clear()
    w.update("1")  # written at once (nothing written for `interval`)
    await asyncio.to_thread(rec.entered.wait, 5)
    for text in ("12", "123", "1234"):  # while the first write runs: only the newest is kept
        w.update(text)
    rec.gate.set()
    assert await asyncio.wait_for(w.close("12345"), 5)  # no 60 s wait: the final text goes now
    assert rec.texts == ["1", "12345"] and seen == ["1", "12345"]
    assert (tmp_path / "a.md").read_text() == "12345" and w.written == "12345" and w.writes == 2


async def test_writer_throttles_updates(tmp_path: Path) -> None:
    rec = Recorded()
    w = DocumentWriter(tmp_path / "a.md", interval=60, write=rec)
    w.update("a")
    await asyncio.to_thread(rec.entered.wait, 5)
    await asyncio.sleep(0)  # the write returns; the writer now waits out its interval
    for i in range(50):
        w.update("a" * (i + 2))
        await asyncio.sleep(0)
    assert rec.texts == ["a"]  # none of the 50 went out within the interval
    await asyncio.wait_for(w.close("done"), 5)
    assert rec.texts == ["a", "done"]


async def test_real_writes_are_atomic_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "b.md"
    w = DocumentWriter(path)
    w.update("first")
    assert await asyncio.wait_for(w.close("final ✓"), 5)
    assert path.read_text(encoding="utf-8") == "final ✓"
    assert [p.name for p in path.parent.iterdir()] == ["b.md"]  # no temp file left


async def test_a_failed_write_stops_writing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    w = DocumentWriter(blocker / "c.md")  # its folder is a file: mkdir fails
    w.update("x")
    assert not await asyncio.wait_for(w.close("y"), 5)
    assert w.failed and isinstance(w.error, OSError) and w.written is None
