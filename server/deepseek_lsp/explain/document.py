"""An explanation as a Markdown document and as a message, for clients without our renderer.

The document lives in the user cache folder under a stable, readable name per file and range
(`graph.py-L4-9-1a2b3c4d.md`): explaining the same code again replaces it, and a user who
finds the folder can tell the files apart. Its text is the explanation exactly, after a short
heading, so a client showing it (or a user opening it later) reads what DeepSeek wrote.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from .plaintext import to_plain

CACHE_DIR_ENV = "DEEPSEEK_LSP_CACHE_DIR"
FOLDER = "explanations"
KEEP = 200  # documents kept in the folder; the oldest go first
MESSAGE_LIMIT = 4000  # characters of an explanation in one message; the rest is named, not dropped


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$DEEPSEEK_LSP_CACHE_DIR/explanations`, else the platform's user cache folder's
    (e.g. ~/.cache/deepseek-lsp/explanations): explanations can be made again, so cache."""
    env = os.environ if environ is None else environ
    override = env.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser() / FOLDER
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("deepseek-lsp", appauthor=False)) / FOLDER


@dataclass(frozen=True)
class Subject:
    """What was explained: the document's URI and the range (LSP, as the command gave it)."""

    uri: str
    start_line: int
    start_character: int
    end_line: int
    end_character: int

    @classmethod
    def of(cls, uri: str, rng: Mapping[str, Any]) -> Subject:
        s, e = rng["start"], rng["end"]
        return cls(uri, int(s["line"]), int(s["character"]), int(e["line"]), int(e["character"]))

    @property
    def file_name(self) -> str:
        path = unquote(urlsplit(self.uri).path) or self.uri
        return PurePosixPath(path).name or "untitled"

    @property
    def path(self) -> str:
        """The file's path for people (a `file:` URI's path, else the URI)."""
        parts = urlsplit(self.uri)
        return unquote(parts.path) if parts.scheme == "file" else self.uri

    @property
    def lines(self) -> tuple[int, int]:
        """First and last line, 1-based; a range ending at a line's start ends on the line before."""
        last = self.end_line
        if self.end_character == 0 and self.end_line > self.start_line:
            last -= 1
        return self.start_line + 1, last + 1

    @property
    def where(self) -> str:
        first, last = self.lines
        return f"line {first}" if first == last else f"lines {first}–{last}"

    @property
    def name(self) -> str:
        """The document's file name: readable, stable for this file and range, safe anywhere."""
        first, last = self.lines
        lines = f"L{first}" if first == last else f"L{first}-{last}"
        key = f"{self.uri}\0{self.start_line}:{self.start_character}-{self.end_line}:{self.end_character}"
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in self.file_name)[:60]
        return f"{stem}-{lines}-{digest}.md"


def heading(subject: Subject) -> str:
    return f"# {subject.file_name}, {subject.where}\n\nDeepSeek's explanation of `{subject.path}`, {subject.where}.\n\n"


def render(subject: Subject, text: str, state: str, error: str | None = None) -> str:
    """The document's Markdown: a heading, then the explanation exactly as DeepSeek wrote it,
    then, unless it is complete, a line saying why it stops there."""
    body = heading(subject) + text
    if state == "done":
        return body if body.endswith("\n") else body + "\n"
    sep = "\n\n" if text else ""
    if state == "streaming":
        return body + sep + ("*DeepSeek is writing…*\n" if text else "*Waiting for DeepSeek…*\n")
    if state == "cancelled":
        return body + sep + "---\n*Cancelled: the explanation stops here.*\n"
    return body + sep + f"---\n*Failed: {error or 'the request failed'}*\n"


def message(subject: Subject, text: str, path: Path | None, limit: int = MESSAGE_LIMIT) -> str:
    """The finished explanation as one plain-text message: readable in an echo area, never cut
    without saying so and where the whole of it is."""
    plain = to_plain(text).strip("\n")
    head = f"DeepSeek: Explain — {subject.file_name}, {subject.where}:\n\n"
    where = f"the Markdown is in {path}" if path is not None else "hover over the code for the rest"
    if len(plain) > limit:
        cut = plain.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        more = len(plain) - cut
        return f"{head}{plain[:cut].rstrip()}\n\n[… {more:,} more characters: {where}]"
    tail = f"\n\n({where[0].upper()}{where[1:]}.)" if path is not None else ""
    return f"{head}{plain}{tail}"


def prune(folder: Path, keep: int = KEEP) -> None:
    """Remove all but the `keep` most recently written documents (best effort, never raises)."""
    try:
        found = [(p.stat().st_mtime, p) for p in folder.glob("*.md")]
    except OSError:
        return
    found.sort(reverse=True)
    for _, path in found[keep:]:
        with contextlib.suppress(OSError):
            path.unlink()
