"""The recovery journal: every rewrite's original text, on disk before its first edit.

A rewrite edits the user's document while the model talks; if the server dies (kill -9, a
crash, the machine) between two edits, the editor is left holding half of the model's code.
So before its first edit a rewrite writes what it is about to replace (the original region and
the document around it) to one small JSON file, atomically, and removes it when the job ends
cleanly. What is left in the folder is what a crash interrupted; `locate` finds where the
rewritten region stands in the document now, so the original can go back exactly, or says it
cannot be found safely (the user edited around it since) and the original is handed over.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_DIR_ENV = "DEEPSEEK_LSP_STATE_DIR"
DATA_DIR_ENV = "DEEPSEEK_LSP_DATA_DIR"
ANCHOR = 160  # characters of context on each side used to find a region the user moved
VERSION = 1


@dataclass
class Entry:
    """One rewrite in flight: the region [start, end) of `before + original + after`."""

    uri: str
    original: str
    before: str  # the document's text before the region, when the rewrite started
    after: str  # and after it
    title: str = "DeepSeek rewrite"
    version: int | None = None
    pid: int = field(default_factory=os.getpid)
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def line(self) -> int:
        """The 1-based line where the original started."""
        return self.before.count("\n") + 1

    @property
    def start(self) -> int:
        return len(self.before)

    @property
    def end(self) -> int:
        return len(self.before) + len(self.original)


def journal_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$DEEPSEEK_LSP_STATE_DIR`, else `$DEEPSEEK_LSP_DATA_DIR/journal`, else the platform's
    user state folder (e.g. ~/.local/state/deepseek-lsp/journal)."""
    env = os.environ if environ is None else environ
    if env.get(STATE_DIR_ENV):
        return Path(env[STATE_DIR_ENV]).expanduser() / "journal"
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser() / "journal"
    from platformdirs import user_state_dir

    return Path(user_state_dir("deepseek-lsp", appauthor=False)) / "journal"


class Journal:
    """One JSON file per entry in `folder`; every write is atomic (temp file, fsync, rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, entry_id: str) -> Path:
        return self.folder / f"{entry_id}.json"

    def write(self, entry: Entry) -> None:
        """Raises OSError when it cannot: the caller must not edit without a journal entry."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"v": VERSION, **asdict(entry)}, ensure_ascii=False)
        atomic_write(self.path(entry.id), data, errors="surrogatepass")

    def remove(self, entry_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(entry_id).unlink()

    def entries(self) -> list[Entry]:
        """Every readable entry, oldest first; unreadable files are left alone."""
        found: list[Entry] = []
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob("*.json")):
            try:
                raw = json.loads(path.read_text(encoding="utf-8", errors="surrogatepass"))
                raw.pop("v", None)
                found.append(Entry(**raw))
            except (OSError, ValueError, TypeError):
                continue
        found.sort(key=lambda e: e.started_at)
        return found

    def get(self, entry_id: str) -> Entry | None:
        return next((e for e in self.entries() if e.id == entry_id), None)


def atomic_write(path: Path, text: str, encoding: str = "utf-8", errors: str = "strict") -> None:
    """Write `text` so that `path` holds either the old content or all of the new (temp file in
    the same folder, fsync, rename), keeping the file's permissions; line endings as given."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, errors=errors, newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def locate(text: str, entry: Entry) -> tuple[int, int] | None:
    """Where the rewritten region stands in `text` now: [start, end), or None when it cannot
    be told safely.

    Exact when nothing outside the region changed (the text still starts with `before` and
    ends with `after`); otherwise by the context on each side, which must occur exactly once.
    """
    before, after = entry.before, entry.after
    if len(text) >= len(before) + len(after) and text.startswith(before) and text.endswith(after):
        return len(before), len(text) - len(after)
    start = _anchor_end(text, before)
    if start is None:
        return None
    end = _anchor_start(text, after, start)
    if end is None or end < start:
        return None
    return start, end


def _anchor_end(text: str, before: str) -> int | None:
    """The offset just after the unique occurrence of `before`'s tail."""
    if not before:
        return 0
    for size in (ANCHOR, ANCHOR * 4, len(before)):
        tail = before[-size:]
        first = text.find(tail)
        if first < 0:
            return None
        if text.find(tail, first + 1) < 0:
            return first + len(tail)
        if size >= len(before):
            break
    return None


def _anchor_start(text: str, after: str, start: int) -> int | None:
    """The offset of the unique occurrence of `after`'s head at or after `start`."""
    if not after:
        return len(text)
    for size in (ANCHOR, ANCHOR * 4, len(after)):
        head = after[:size]
        first = text.find(head, start)
        if first < 0:
            return None
        if text.find(head, first + 1) < 0:
            return first
        if size >= len(after):
            break
    return None
