"""The one context builder every action uses.

`build_context` turns the editor's state into the two parts of a prompt: `file_context`, the
stable part (project instructions, other open files, the current file or its imports, the
definitions the selection uses, its enclosing function or class, diagnostics near it), and
`selection`, the code the task is about. Parts are chosen by priority until the token budget is
spent, laid out in a fixed order from the most stable to the least, and rendered without
timestamps or unstable ordering, so identical editor state gives byte-identical text and
DeepSeek's context cache hits on every repeated action. Secret files are never read into it and
secret-looking strings are masked.

Pure and thread-safe (the server runs it in a worker thread): no pygls, no event loop.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import syntax
from .secrets import DEFAULT_EXCLUDES, is_excluded
from .secrets import mask_secrets as _mask
from .tokens import count_tokens, estimate_tokens

INSTRUCTION_FILES = ("AGENTS.md", ".deepseek.md")
# The whole current file is sent when it takes at most this share of the budget left after the
# selection: it is then the same for every selection in the file, the best case for the cache.
WHOLE_FILE_SHARE = 0.6
# Diagnostics this many lines around the selection count as near it.
DIAGNOSTIC_MARGIN = 3
# Line windows tried, largest first, when the enclosing scope does not fit or there is none.
WINDOWS = (40, 15, 5)
MAX_NAMES = 40


@dataclass(frozen=True)
class DocumentSnapshot:
    """An immutable copy of an open document."""

    uri: str
    path: str | None
    language_id: str
    text: str
    version: int | None = None


@dataclass(frozen=True)
class DiagnosticInfo:
    """A diagnostic the client reported; lines are 0-based, as in LSP."""

    start_line: int
    end_line: int
    message: str
    severity: str
    source: str | None


@dataclass(frozen=True)
class ContextRequest:
    """What the builder needs: the document, the selection as str offsets [start, end), and the
    rest of the editor state; `open_documents` are the other open files, most recently edited
    first."""

    action: str
    document: DocumentSnapshot
    start: int
    end: int
    diagnostics: tuple[DiagnosticInfo, ...] = ()
    open_documents: tuple[DocumentSnapshot, ...] = ()
    workspace_root: str | None = None
    budget_tokens: int = 6000
    exclude_patterns: tuple[str, ...] = DEFAULT_EXCLUDES
    mask_secrets: bool = True


@dataclass(frozen=True)
class BuiltContext:
    """The context to send. `tokens` counts file_context and selection together and stays within
    the budget, except when the selection alone exceeds it: the selection is never cut (a rewrite
    needs all of it), file_context is then empty and `omitted` says so, for the caller to refuse
    or go ahead. `omitted` names what did not fit or was excluded, with its size; `excluded` is
    True when the document itself is secret (then both texts are empty)."""

    file_context: str
    selection: str
    language: str
    path: str
    omitted: tuple[str, ...]
    masked_secrets: int
    tokens: int
    excluded: bool


@dataclass(frozen=True)
class _Part:
    """One candidate section: `order` fixes its place in the layout, `label` names it in
    `omitted`, `body` is its rendered text (already masked)."""

    order: tuple[int, int]
    label: str
    body: str
    masked: int = 0


# Layout slots, most stable first.
_INSTRUCTIONS, _OPEN_DOCS, _FILE, _IMPORTS, _DEFINITIONS, _SCOPE, _DIAGNOSTICS = range(7)


@dataclass
class _Builder:
    req: ContextRequest
    budget: int
    used: int = 0
    parts: list[_Part] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)

    def mask(self, text: str) -> tuple[str, int]:
        return _mask(text) if self.req.mask_secrets else (text, 0)

    @property
    def left(self) -> int:
        return self.budget - self.used

    def cost(self, body: str, cap: int) -> tuple[int, bool]:
        """(tokens, exact) of `body`: exact unless it clearly exceeds `cap`, since counting a huge
        text exactly would cost more than it is worth. +1 for the blank line joining parts."""
        rough = estimate_tokens(body)
        if rough > 2 * cap + 64:
            return rough, False
        return count_tokens(body) + 1, True

    def offer(self, part: _Part, record: bool = True, limit: int | None = None) -> bool:
        """Add `part` if it fits (in what is left, and in `limit`); otherwise note it in
        `omitted`, unless `record` is False."""
        cap = self.left if limit is None else min(limit, self.left)
        tokens, exact = self.cost(part.body, cap)
        if exact and tokens <= cap:
            self.parts.append(part)
            self.used += tokens
            return True
        if record:
            self.omitted.append(f"{part.label} ({'' if exact else '~'}{tokens:,} tokens)")
        return False

    def offer_code(
        self,
        order: tuple[int, int],
        label: str,
        title: str,
        lang: str,
        code: str,
        record: bool = True,
        limit: int | None = None,
    ) -> bool:
        """`offer` a titled, fenced code section; code that clearly cannot fit is turned down on
        an estimate, before the cost of masking and counting it."""
        cap = self.left if limit is None else min(limit, self.left)
        rough = estimate_tokens(code)
        if rough > 2 * cap + 64:
            if record:
                self.omitted.append(f"{label} (~{rough:,} tokens)")
            return False
        code, masked = self.mask(code)
        longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=2)
        fence = "`" * (longest + 1)  # longer than any backtick run in the code
        newline = "" if code.endswith("\n") else "\n"
        body = f"## {title}\n{fence}{lang}\n{code}{newline}{fence}"
        return self.offer(_Part(order, label, body, masked), record, limit)


def build_context(req: ContextRequest) -> BuiltContext:
    """Build the context for one action; see the module docstring."""
    doc = req.document
    lang = syntax.language_of(doc.language_id, doc.path)
    path = display_path(doc, req.workspace_root)
    if _is_secret_file(doc, req):
        return BuiltContext("", "", lang, path, (f"{path} (excluded)",), 0, 0, True)

    start, end = _clamp(doc.text, req.start, req.end)
    builder = _Builder(req, req.budget_tokens)
    selection, masked = builder.mask(doc.text[start:end])
    builder.used = count_tokens(selection)
    if builder.used > builder.budget:
        builder.omitted.append(f"everything else: the selection alone has {builder.used:,} tokens")
    else:
        _fill(builder, doc, lang, path, start, end)

    parts = sorted(builder.parts, key=lambda p: p.order)
    file_context = "\n\n".join(p.body.rstrip("\n") for p in parts)
    if file_context:
        file_context += "\n"
    return BuiltContext(
        file_context=file_context,
        selection=selection,
        language=lang,
        path=path,
        omitted=tuple(builder.omitted),
        masked_secrets=masked + sum(p.masked for p in parts),
        tokens=builder.used,
        excluded=False,
    )


def _fill(b: _Builder, doc: DocumentSnapshot, lang: str, path: str, start: int, end: int) -> None:
    """Offer the parts in priority order: what helps most and costs least first."""
    text = doc.text
    scope: syntax.Span | None = None
    # the whole file only when it is small next to the budget: the same for every selection
    share = int(WHOLE_FILE_SHARE * b.left)
    whole_fits = bool(text.strip()) and b.offer_code(
        (_FILE, 0), f"current file {path}", f"Current file: {path}", lang, text, record=False, limit=share
    )
    if not whole_fits:
        scope = syntax.enclosing_scope(text, start, end, lang)
        _offer_scope(b, doc, lang, scope, start, end)
    _offer_diagnostics(b, start, end)
    _offer_instructions(b)
    if not whole_fits:
        _offer_imports(b, doc, lang, path)
    _offer_definitions(b, doc, lang, path, text[start:end], scope, start, end, whole_fits)
    for rank, other in enumerate(_other_documents(b)):
        other_path = display_path(other, b.req.workspace_root)
        other_lang = syntax.language_of(other.language_id, other.path)
        title = f"Other open file: {other_path}"
        b.offer_code((_OPEN_DOCS, rank), f"open document {other_path}", title, other_lang, other.text)


def _offer_scope(
    b: _Builder, doc: DocumentSnapshot, lang: str, scope: syntax.Span | None, start: int, end: int
) -> None:
    """The enclosing function or class; when it is too big or there is none, the selection's
    surroundings in the largest line window that fits."""
    text = doc.text
    if scope is not None:
        what = f"{scope.kind} {scope.name}" if scope.name else scope.kind
        title = f"Enclosing {what} (lines {scope.start_line + 1}-{scope.end_line + 1})"
        if b.offer_code((_SCOPE, 0), f"enclosing {what}", title, lang, text[scope.start : scope.end]):
            return
    for lines in WINDOWS:
        win = syntax.line_window(text, start, end, lines, lines)
        if scope is not None:  # stay inside the scope we could not send whole
            lo, hi = max(win.start, scope.start), min(win.end, scope.end)
            win = syntax.Span(
                lo, hi, syntax.line_of(text, lo), syntax.line_of(text, max(lo, hi - 1)), "window"
            )
        if win.start >= start and win.end <= end:
            return  # the window adds nothing to the selection
        title = f"Surrounding lines {win.start_line + 1}-{win.end_line + 1}"
        if b.offer_code(
            (_SCOPE, 0), "surrounding lines", title, lang, text[win.start : win.end], record=False
        ):
            return
    b.omitted.append("surrounding lines (no window fits)")


def _offer_diagnostics(b: _Builder, start: int, end: int) -> None:
    text = b.req.document.text
    first = syntax.line_of(text, start) - DIAGNOSTIC_MARGIN
    last = syntax.line_of(text, max(start, end - 1)) + DIAGNOSTIC_MARGIN
    near = sorted(
        {d for d in b.req.diagnostics if d.start_line <= last and d.end_line >= first},
        key=lambda d: (d.start_line, d.end_line, d.severity, d.message, d.source or ""),
    )
    if not near:
        return
    lines = ["## Diagnostics near the selection"]
    for d in near:
        where = f"line {d.start_line + 1}" + (f"-{d.end_line + 1}" if d.end_line != d.start_line else "")
        source = f", {d.source}" if d.source else ""
        lines.append(f"- {where} ({d.severity}{source}): {' '.join(d.message.split())}")
    body, masked = b.mask("\n".join(lines))
    b.offer(_Part((_DIAGNOSTICS, 0), "diagnostics", body, masked))


def _offer_instructions(b: _Builder) -> None:
    found = read_instructions(b.req.workspace_root)
    if found is None:
        return
    name, content = found
    body, masked = b.mask(f"## Project instructions ({name})\n{content.strip()}")
    b.offer(_Part((_INSTRUCTIONS, 0), f"project instructions {name}", body, masked))


def _offer_imports(b: _Builder, doc: DocumentSnapshot, lang: str, path: str) -> None:
    spans = syntax.imports(doc.text, lang)
    if spans:
        code = "".join(doc.text[s.start : s.end] for s in spans)
        b.offer_code((_IMPORTS, 0), f"imports of {path}", f"Imports of {path}", lang, code)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMON_WORDS = frozenset(
    """and as assert async await break case catch class const continue def default defer del do elif
    else end enum export extends false final finally fn for from func function go if impl import in
    interface is lambda let local loop match mod mut new nil none not null or package pass pub raise
    return self static struct super switch this throw true try type use var void while with yield
    int str bool float string len print""".split()  # noqa: SIM905
)


def _used_names(selection: str) -> list[str]:
    """Names the selection uses, in order of first use, without keywords and the like."""
    seen: dict[str, None] = {}
    for name in _IDENTIFIER.findall(selection):
        if len(name) > 1 and name.lower() not in _COMMON_WORDS and name not in seen:
            seen[name] = None
            if len(seen) >= MAX_NAMES:
                break
    return list(seen)


_index_lock = threading.Lock()
_indexes: dict[tuple[str, int], dict[str, list[int]]] = {}


def _definition_index(doc: DocumentSnapshot, lang: str) -> dict[str, list[int]]:
    """The document's definition index, cached by its text (the index scan is the costly part)."""
    key = (doc.uri, hash(doc.text))
    with _index_lock:
        index = _indexes.get(key)
    if index is None:
        index = syntax.definition_index(doc.text, lang)
        with _index_lock:
            if len(_indexes) >= 64:
                _indexes.clear()
            _indexes[key] = index
    return index


def _offer_definitions(
    b: _Builder,
    doc: DocumentSnapshot,
    lang: str,
    path: str,
    selection: str,
    scope: syntax.Span | None,
    start: int,
    end: int,
    whole_file_sent: bool,
) -> None:
    """Definitions of the names the selection uses: from the current file (unless it is sent
    whole), then from the other open files, most recently edited first; the first one wins."""
    names = _used_names(selection)
    if not names:
        return
    sources: list[tuple[DocumentSnapshot, str, str]] = []
    if not whole_file_sent:
        sources.append((doc, path, lang))
    for other in _other_documents(b):
        sources.append(
            (
                other,
                display_path(other, b.req.workspace_root),
                syntax.language_of(other.language_id, other.path),
            )
        )
    skip_lo, skip_hi = (scope.start, scope.end) if scope is not None else (start, end)
    for rank, name in enumerate(names):
        for source, source_path, source_lang in sources:
            heads = (
                syntax.definition_start(source.text, o)
                for o in _definition_index(source, source_lang).get(name, ())
            )
            if source is doc:
                heads = (
                    h for h in heads if h is not None and not (skip_lo <= h < skip_hi or start <= h < end)
                )
            head = next((h for h in heads if h is not None), None)
            if head is None:
                continue
            span, cut = syntax.definition(source.text, head)
            code = source.text[span.start : span.end]
            if cut:
                code += f"... ({cut} more lines)\n"
            title = f"Definition of {name} ({source_path}, line {span.start_line + 1})"
            b.offer_code((_DEFINITIONS, rank), f"definition of {name}", title, source_lang, code)
            break


def _other_documents(b: _Builder) -> list[DocumentSnapshot]:
    """Open documents other than the current one that may be sent (excluded ones noted once)."""
    docs = []
    for other in b.req.open_documents:
        if other.uri == b.req.document.uri or not other.text.strip():
            continue
        if _is_secret_file(other, b.req):
            label = f"open document {display_path(other, b.req.workspace_root)} (excluded)"
            if label not in b.omitted:
                b.omitted.append(label)
            continue
        docs.append(other)
    return docs


def display_path(doc: DocumentSnapshot, root: str | None) -> str:
    """The document's path relative to the workspace root when inside it (forward slashes), so
    the prompt neither leaks home directories nor changes between machines."""
    if not doc.path:
        return doc.uri
    if root:
        try:
            rel = os.path.relpath(doc.path, root)
        except ValueError:  # another drive on Windows
            rel = ""
        if rel and not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return doc.path.replace(os.sep, "/")


def _is_secret_file(doc: DocumentSnapshot, req: ContextRequest) -> bool:
    target = doc.path or doc.uri.split("?", 1)[0]
    if is_excluded(target, req.exclude_patterns):
        return True
    return bool(req.workspace_root and doc.path) and is_excluded(
        display_path(doc, req.workspace_root), req.exclude_patterns
    )


def _clamp(text: str, start: int, end: int) -> tuple[int, int]:
    start = min(max(0, start), len(text))
    return start, min(max(start, end), len(text))


_instructions_lock = threading.Lock()
_instructions: dict[str, tuple[tuple[int, int], str]] = {}
MAX_INSTRUCTIONS_BYTES = 256_000


def read_instructions(root: str | None) -> tuple[str, str] | None:
    """(file name, text) of the project instructions at `root` (AGENTS.md, else .deepseek.md).

    Read only when the file's mtime or size changed, so calling this on every action is cheap."""
    if not root:
        return None
    for name in INSTRUCTION_FILES:
        path = Path(root, name)
        try:
            stat = path.stat()
        except OSError:
            continue
        if not path.is_file() or stat.st_size > MAX_INSTRUCTIONS_BYTES:
            continue
        stamp = (stat.st_mtime_ns, stat.st_size)
        key = str(path)
        with _instructions_lock:
            cached = _instructions.get(key)
        if cached is not None and cached[0] == stamp:
            return name, cached[1]
        try:
            content = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        with _instructions_lock:
            _instructions[key] = (stamp, content)
        return name, content
    return None
