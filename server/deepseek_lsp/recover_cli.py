"""`deepseek-lsp recover`: put back, on disk, the originals of rewrites a crash interrupted.

For a user whose editor is gone too (or who edits without one of our clients): each entry the
journal holds is found again in its file on disk and replaced by the original, atomically. When
the file does not show the rewritten region safely, nothing is written there: the original is
saved beside the journal and its path printed. Inside an editor, `deepseek.recover` does the
same through the editor, which is better while the file is open there (unsaved text).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from .rewrite.journal import Entry, Journal, atomic_write, journal_dir, locate, pid_alive


def _path(entry: Entry) -> Path | None:
    parsed = urlparse(entry.uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def _read(path: Path) -> tuple[str, str] | None:
    """The file's text (line endings kept) and its encoding; None when it is not text."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    for encoding in ("utf-8", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8",):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None


def recover_one(journal: Journal, entry: Entry) -> tuple[str, str]:
    """(status, message) for one entry; `restored`/`unchanged` remove it from the journal."""
    path = _path(entry)
    where = f"{path or entry.uri}:{entry.line}"
    if path is None or not path.is_file():
        return _keep_original(journal, entry, "conflict", f"{where}: the file is not on disk")
    read = _read(path)
    if read is None:
        return _keep_original(journal, entry, "conflict", f"{where}: the file is not text")
    text, encoding = read
    found = locate(text, entry)
    if found is None:
        return _keep_original(
            journal, entry, "conflict", f"{where}: the rewritten code cannot be found safely in the file"
        )
    start, end = found
    if text[start:end] == entry.original:
        journal.remove(entry.id)
        return "unchanged", f"{where}: the file already holds the original ({entry.title})."
    atomic_write(path, text[:start] + entry.original + text[end:], encoding)
    journal.remove(entry.id)
    return "restored", f"{where}: the original code is back on disk ({entry.title})."


def _keep_original(journal: Journal, entry: Entry, status: str, why: str) -> tuple[str, str]:
    saved = journal.folder / f"{entry.id}.original.txt"
    with open(saved, "w", encoding="utf-8", newline="", errors="surrogatepass") as f:
        f.write(entry.original)
    return status, f"{why}; nothing was changed. The original code is saved in {saved}."


def run_recover(*, list_only: bool = False, ids: list[str] | None = None) -> int:
    journal = Journal(journal_dir())
    entries = [e for e in journal.entries() if not pid_alive(e.pid) or e.pid == os.getpid()]
    if ids:
        entries = [e for e in entries if e.id in ids]
    if not entries:
        _say(f"No interrupted rewrites (journal: {journal.folder}).")
        return 0
    if list_only:
        for e in entries:
            path = _path(e) or e.uri
            _say(f"{e.id}  {e.started_at}  {e.title}  {path}:{e.line}")
        _say("Run `deepseek-lsp recover` to put the originals back (or DeepSeek: Recover in the editor).")
        return 0
    _say("If a file is open in an editor, recover there instead (DeepSeek: Recover Interrupted")
    _say("Rewrites), or reload the file after this.")
    failed = 0
    for e in entries:
        status, message = recover_one(journal, e)
        failed += status not in ("restored", "unchanged")
        _say(f"[{status}] {message}")
    return 1 if failed else 0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")  # stdout-ok: a CLI command, not the server
