"""FIM prompts laid out for DeepSeek's context cache.

DeepSeek bills a repeated prompt prefix as cache hits, counted from the first token in 64-token
units. A completion prompt ends at the cursor, so consecutive requests in one file can share only
what comes before it. The prompt therefore starts with what changes least, the header (other
files' snippets as comments, this file's path and its imports), and then the document from an
*anchor* that does not move with each keystroke: a block boundary (a line at column 0 after a
blank line when one is in reach, else any line after a blank line, else the first line after a
point of a fixed 1,024-character grid) far enough above the cursor to fill about three quarters
of the prefix budget, the rest left for typing. The window is measured from the start of the
cursor's paragraph, so typing inside it does not change the choice; and the caller hands back
the last prompt's anchor (`anchor_hint`), which is kept until the window from it no longer fits
the budget or the cursor moved far. Typing then only appends to the prompt, and every earlier
64-token unit is a hit.

A keystroke must cost well under a millisecond: budgets are measured with `estimate_tokens` on
bounded slices (a window longer than budget / 0.3 characters cannot fit, so nothing larger is
ever looked at), the masked part above the cursor's line and the header are cached by their
text, and nothing here tokenizes or parses the whole file.

Secret files (`exclude_patterns`) get no prompt at all (None), other files' snippets from them
are left out, and secret-looking strings are masked everywhere.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .. import syntax
from ..rewrite.indent import detect_eol
from ..secrets import DEFAULT_EXCLUDES, is_excluded
from ..secrets import mask_secrets as _mask
from ..tokens import estimate_tokens, replace_surrogates
from . import languages

PREFIX_TOKENS = 3072  # the document before the cursor (mostly cache hits: cheap)
SUFFIX_TOKENS = 256  # the document after it (after the hole: never a cache hit, so modest)
CONTEXT_TOKENS = 512  # the header: other files' snippets and this file's imports
FIM_MAX_TOKENS = 4096  # DeepSeek's limit for /beta/completions

# estimate_tokens counts at least this many tokens per character (ASCII 0.3, the rest more), so
# a slice longer than budget / _MIN_RATE characters never fits and is never measured.
_MIN_RATE = 0.3
# A freshly chosen anchor fills this share of the prefix budget; the rest is room for typing.
TARGET_SHARE = 0.75
# A kept anchor whose window shrank below this share (the cursor moved up) is chosen again.
MIN_SHARE = 0.25
# Without a block boundary in reach, anchors fall on line starts after multiples of this.
GRID_CHARS = 1024
# This file's imports are looked for in its first characters (cut at a line end).
HEAD_CHARS = 8000
ANCHOR_LINE_CHARS = 64

# The start of a line after a blank line that does not close a block (a top-level one when it
# starts at column 0; the others are methods of a big class, paragraphs of a big function).
_INNER_BOUNDARY = re.compile(r"\n[ \t]*\r?\n(?=[ \t]*[^\s)\]}])")


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where the prompt's document window starts, and the first characters of that line, to
    recognise the place in a later version of the document."""

    offset: int
    line: str


@dataclass(frozen=True, slots=True)
class FimPrompt:
    """A FIM request's `prompt` and `suffix`. `key` hashes both (a repeated position has the
    same key); `tokens` is their estimated size; `masked` counts masked secrets."""

    prompt: str
    suffix: str
    anchor: Anchor
    header: str
    offset: int
    language: str
    path: str
    tokens: int
    masked: int
    key: str


def _tokens(text: str, start: int, end: int) -> int:
    return estimate_tokens(text[start:end]) if end > start else 0


def _span_chars(budget: int) -> int:
    """The longest slice that can fit `budget` tokens."""
    return int(budget / _MIN_RATE) + 1


def _keeps(text: str, cursor: int, hint: Anchor, budget: int) -> bool:
    """True when the previous anchor is still in the document and its window still fits."""
    start = hint.offset
    if start > syntax.line_start(text, cursor) or cursor - start > _span_chars(budget):
        return False
    if not text.startswith(hint.line, start):
        return False
    if start > 0 and text[start - 1] != "\n" and start % GRID_CHARS:
        return False  # neither a line start nor a grid point: the text moved
    used = _tokens(text, start, cursor)
    return used <= budget and (used >= budget * MIN_SHARE or start == 0)


def _farthest(text: str, bounds: list[int], ref: int, target: int, from_file_start: bool) -> int | None:
    """The boundary farthest above `ref` whose window to `ref` fits `target` tokens (0, the file
    start, when everything does and the scan reached it)."""
    total = 0
    prev = ref
    best: int | None = None
    for start in reversed(bounds):
        if start > ref:
            continue
        total += _tokens(text, start, prev)
        if total > target:
            return best
        best, prev = start, start
    if from_file_start and total + _tokens(text, 0, prev) <= target:
        return 0
    return best


def _grid_anchor(text: str, end: int, budget: int) -> int:
    """The farthest line start after a multiple of GRID_CHARS (a fixed grid: typing below it
    does not move it) whose window to `end` fits `budget`; the grid point itself inside a line
    longer than the budget."""
    ls = syntax.line_start(text, end)
    step = GRID_CHARS
    point = max(0, (end - _span_chars(budget)) // step * step)
    while point < end:
        nl = text.find("\n", point - 1, ls) if point > 0 else -1
        start = 0 if point == 0 else (nl + 1 if nl >= 0 else point)
        if _tokens(text, start, end) <= budget:
            return start
        point += step
    return end


def choose_anchor(text: str, cursor: int, budget: int, hint: Anchor | None = None) -> Anchor:
    """The start of the prompt's document window for a cursor at `cursor` (see the module doc)."""
    if hint is not None and _keeps(text, cursor, hint, budget):
        return hint
    start = _choose(text, cursor, budget)
    return Anchor(start, text[start : start + ANCHOR_LINE_CHARS].split("\n", 1)[0])


def _choose(text: str, cursor: int, budget: int) -> int:
    span = _span_chars(budget)
    target = int(budget * TARGET_SHARE)
    if cursor <= span and _tokens(text, 0, cursor) <= target:
        return 0
    ls = syntax.line_start(text, cursor)
    lo = max(0, cursor - span)
    end = min(len(text), ls + 1)  # the look-ahead must see the cursor line's first character
    inner = [m.end() for m in _INNER_BOUNDARY.finditer(text, max(0, lo - 1), end) if m.end() <= ls]
    # measured from the start of the cursor's paragraph when that is near: typing in it then
    # never moves the anchor
    ref = cursor
    if inner and _tokens(text, inner[-1], cursor) <= budget - target:
        ref = inner[-1]
    enough = target // 2

    def fills(start: int | None) -> bool:
        return start is not None and _tokens(text, start, ref) >= enough

    # a top-level boundary when one fills the window well, else any boundary, else the grid
    top = [b for b in inner if b == 0 or text[b] not in " \t"]
    found = _farthest(text, top, ref, target, lo == 0)
    if not fills(found):
        other = _farthest(text, inner, ref, target, lo == 0)
        if other is not None and (found is None or other < found):
            found = other
    if not fills(found):
        grid = _grid_anchor(text, ref, target)
        if found is None or grid < found:
            found = grid
    assert found is not None
    return found if _tokens(text, found, cursor) <= budget else _grid_anchor(text, cursor, budget)


def _fit_head(text: str, budget: int) -> str:
    """The longest run of whole lines from the start of `text` within `budget` tokens."""
    text = text[: _span_chars(budget)]
    while text and estimate_tokens(text) > budget:
        cut = text.rfind("\n", 0, max(1, len(text) * 3 // 4))
        text = text[: cut + 1] if cut >= 0 else text[: len(text) * 3 // 4]
    return text


def suffix_window(text: str, cursor: int, budget: int) -> str:
    """The document after the cursor: whole lines within `budget` tokens (the cursor's line at
    least partly)."""
    end = min(len(text), cursor + _span_chars(budget))
    if end < len(text):
        nl = text.rfind("\n", cursor, end)
        end = nl + 1 if nl >= 0 else end
    return _fit_head(text[cursor:end], budget)


@lru_cache(maxsize=64)
def _masked(text: str, enabled: bool) -> tuple[str, int]:
    """Masked text, cached: the part above the cursor's line repeats on every keystroke."""
    return _mask(text) if enabled and text else (text, 0)


@lru_cache(maxsize=32)
def _imports(head: str, lang: str) -> str:
    """This file's import lines in `head` (its first characters), as they stand."""
    spans = syntax.imports(head, lang)
    return "".join(head[s.start : s.end] for s in spans)


@lru_cache(maxsize=64)
def _header(
    lang: str,
    path: str,
    eol: str,
    snippets: tuple[tuple[str, str], ...],
    imports: str,
    budget: int,
    mask: bool,
) -> tuple[str, int]:
    """The stable start of the prompt: snippets (as comments, ordered by path so a change of
    priority does not reorder them), this file's path, its imports; and the secrets masked."""
    masked = 0
    imports_text, count = _masked(imports.replace("\r\n", "\n"), mask)
    masked += count
    left = budget - estimate_tokens(imports_text)
    chosen: list[tuple[str, str]] = []
    for other_path, snippet in snippets:
        body, count = _masked(snippet.replace("\r\n", "\n").strip("\n"), mask)
        cost = estimate_tokens(other_path) + 4
        if not body or left - cost <= 16:
            continue
        body = _fit_head(body, left - cost).rstrip("\n")
        if not body:
            continue
        left -= cost + estimate_tokens(body)
        masked += count
        chosen.append((other_path, body))
    parts = [
        languages.comment_out(lang, f"Path: {other_path}\n{body}") + "\n\n"
        for other_path, body in sorted(chosen)
    ]
    parts.append(languages.comment_out(lang, f"Path: {path}") + "\n")
    if imports_text:
        parts.append(imports_text.rstrip("\r\n") + "\n\n")
    text = "".join(parts)
    return (text.replace("\n", eol) if eol != "\n" else text), masked


def build_fim(
    doc_text: str,
    offset: int,
    language: str,
    path: str,
    *,
    prefix_tokens: int = PREFIX_TOKENS,
    suffix_tokens: int = SUFFIX_TOKENS,
    context_tokens: int = CONTEXT_TOKENS,
    other_context: Sequence[tuple[str, str]] = (),
    mask_secrets: bool = True,
    exclude_patterns: Sequence[str] = DEFAULT_EXCLUDES,
    anchor_hint: Anchor | None = None,
) -> FimPrompt | None:
    """The FIM prompt and suffix for a cursor at `offset` (a `str` offset) in `doc_text`; None
    when `path` is a secret file. `language` is an LSP languageId or a normalized name;
    `other_context` are (path, text) snippets from other files (imports' definitions, recently
    edited places), most important first; `anchor_hint` is the previous prompt's anchor for this
    document."""
    if is_excluded(path, exclude_patterns):
        return None
    offset = max(0, min(offset, len(doc_text)))
    lang = syntax.language_of(language, path)
    anchor = choose_anchor(doc_text, offset, prefix_tokens, anchor_hint)
    eol = detect_eol(doc_text)
    imports = ""
    if anchor.offset > 0:
        head = doc_text[: min(anchor.offset, HEAD_CHARS)]
        imports = _imports(head[: head.rfind("\n") + 1], lang)
    snippets = tuple(
        (p, t) for p, t in other_context if p != path and t.strip() and not is_excluded(p, exclude_patterns)
    )
    header, masked = _header(lang, path, eol, snippets, imports, context_tokens, mask_secrets)
    line = syntax.line_start(doc_text, offset)
    stable, count = _masked(doc_text[anchor.offset : max(anchor.offset, line)], mask_secrets)
    masked += count
    current, count = _masked(doc_text[max(anchor.offset, line) : offset], mask_secrets)
    masked += count
    suffix, count = _masked(suffix_window(doc_text, offset, suffix_tokens), mask_secrets)
    masked += count
    prompt = replace_surrogates(header + stable + current)
    suffix = replace_surrogates(suffix)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(prompt.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(suffix.encode("utf-8"))
    return FimPrompt(
        prompt=prompt,
        suffix=suffix,
        anchor=anchor,
        header=header,
        offset=offset,
        language=lang,
        path=path,
        tokens=estimate_tokens(prompt) + estimate_tokens(suffix),
        masked=masked,
        key=digest.hexdigest(),
    )


def fim_request(
    fim: FimPrompt,
    *,
    model: str,
    max_tokens: int,
    stop: Sequence[str] = (),
    stream: bool = True,
    temperature: float | None = None,
) -> dict[str, Any]:
    """The body of `POST /beta/completions` (a non-thinking model; max_tokens at most 4K, at
    most 16 stop strings)."""
    body: dict[str, Any] = {
        "model": model,
        "prompt": fim.prompt,
        "suffix": fim.suffix,
        "max_tokens": max(1, min(max_tokens, FIM_MAX_TOKENS)),
        "stream": stream,
    }
    if stop:
        body["stop"] = list(stop)[:16]
    if temperature is not None:
        body["temperature"] = temperature
    return body
