"""Snippets of other open files for a FIM prompt's header: what the cursor's file imports, and
where the user edited last.

The header is the most stable part of a completion prompt (DeepSeek's cache hits it on every
keystroke), so only what changes when *other* files change goes there: the definitions, in
other open files, of the names this file imports, and the code around the last edit of the most
recently edited other files. Typing in this file changes none of it (unless the imports change).

Pure; the definition index of a file is cached by its text (the same `str` object until it
changes), so a keystroke costs a dictionary lookup per imported name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .. import syntax
from ..secrets import DEFAULT_EXCLUDES, is_excluded

MAX_NAMES = 24  # imported names looked up
MAX_DEFINITIONS = 4  # definitions sent
DEFINITION_LINES = 30  # a definition is cut to this many lines
EDIT_LINES = 8  # lines around a recent edit, each side
MAX_EDITED = 2  # other files whose last edit is sent
HEAD_CHARS = 8000  # imports are looked for in the file's first characters

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IMPORT_WORDS = frozenset(
    {
        "import", "from", "as", "use", "require", "include", "using", "package", "mod", "pub",
        "crate", "super", "self", "local", "const", "let", "var", "static", "extern", "namespace",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Other:
    """Another open document: its path (as the prompt names it), language and text; `edited`
    is the offset of its last edit (None: not edited since it was opened)."""

    path: str
    language: str
    text: str
    edited: int | None = None


@lru_cache(maxsize=32)
def imported_names(head: str, lang: str) -> tuple[str, ...]:
    """The names this file's import lines bring in (in order; module path parts included)."""
    seen: dict[str, None] = {}
    for span in syntax.imports(head, lang):
        for name in _NAME.findall(head[span.start : span.end]):
            if len(name) > 1 and name not in _IMPORT_WORDS:
                seen.setdefault(name, None)
                if len(seen) >= MAX_NAMES:
                    return tuple(seen)
    return tuple(seen)


@lru_cache(maxsize=16)
def _index(text: str, lang: str) -> dict[str, list[int]]:
    return syntax.definition_index(text, lang)


def _definition(other: Other, name: str) -> str | None:
    lang = syntax.language_of(other.language, other.path)
    for offset in _index(other.text, lang).get(name, ()):
        head = syntax.definition_start(other.text, offset)
        if head is None:
            continue
        span, cut = syntax.definition(other.text, head, DEFINITION_LINES)
        code = other.text[span.start : span.end].rstrip("\r\n")
        return code + (f"\n... ({cut} more lines)" if cut else "")
    return None


def _around(text: str, offset: int) -> str:
    """The lines around `offset`: EDIT_LINES each side."""
    offset = max(0, min(offset, len(text)))
    start = syntax.line_start(text, offset)
    for _ in range(EDIT_LINES):
        if start == 0:
            break
        start = syntax.line_start(text, start - 1)
    end = offset
    for _ in range(EDIT_LINES + 1):
        nl = text.find("\n", end)
        if nl < 0:
            end = len(text)
            break
        end = nl + 1
    return text[start:end].rstrip("\r\n")


def related_snippets(
    text: str,
    language: str,
    path: str,
    others: Sequence[Other],
    exclude_patterns: Sequence[str] = DEFAULT_EXCLUDES,
) -> tuple[tuple[str, str], ...]:
    """(path, snippet) pairs, most important first: definitions of imported names found in
    `others` (most recently edited first), then the code around the last edits of `others`."""
    usable = [
        o for o in others if o.path != path and o.text.strip() and not is_excluded(o.path, exclude_patterns)
    ]
    if not usable:
        return ()
    lang = syntax.language_of(language, path)
    head = text[:HEAD_CHARS]
    head = head[: head.rfind("\n") + 1] if len(text) > HEAD_CHARS else head
    out: list[tuple[str, str]] = []
    for name in imported_names(head, lang):
        for other in usable:
            code = _definition(other, name)
            if code:
                out.append((other.path, code))
                break
        if len(out) >= MAX_DEFINITIONS:
            break
    edited = [o for o in usable if o.edited is not None][:MAX_EDITED]
    for other in edited:
        assert other.edited is not None
        snippet = _around(other.text, other.edited)
        if snippet.strip() and all(snippet not in code for _, code in out):
            out.append((other.path, snippet))
    return tuple(out)
