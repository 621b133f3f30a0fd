"""The model's answer made fit for ghost text at the cursor.

A FIM model continues the prefix; it does not know where the user wants it to stop. It repeats
the text after the cursor, runs past the end of the block, writes in its own line endings. The
rules here decide, from the syntax around the cursor, whether to ask at all and for how much
(`analyze`: one line, a block, or nothing inside a comment or string), and then cut the answer
to what the document wants (`clean`):

- line mode keeps the first line;
- block mode stops where the enclosing block ends: a closing bracket that takes the depth below
  the cursor's (kept only when the document does not close it already), a dedent below the
  cursor's block in indentation languages, a blank line after a finished nested block;
- what follows the cursor is never repeated: trailing answer lines equal to the next lines, and
  the end of the last line equal to the rest of the cursor's line, are trimmed;
- the document's indentation (tabs or spaces) and line endings are kept;
- an empty answer is no suggestion (None), never an empty one.

tree-sitter (where a grammar is installed) says whether the cursor is in a comment or a string.
A keystroke never parses a whole big file: the window starts at the nearest definition above the
cursor (at most PARSE_BEFORE characters up; in Python, not one inside a docstring's example) and
ends a little after the cursor's line, or after the end of a comment or long string open at the
cursor. On this repository's modules it agrees with a parse of the whole file at every sampled
position (tests/unit/test_completion_quality.py). Without a grammar, or where the parse has
errors at the cursor, a scan of the cursor's line decides. Pure: `str` offsets, no pygls;
thread-safe (a parser per thread).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from .. import syntax
from ..rewrite.indent import detect_eol, width
from . import languages

Mode = Literal["line", "block"]

# Characters of the document after the cursor kept for the overlap and closing-bracket checks.
AFTER_CHARS = 20_000
# Lines after the cursor compared with the answer's last lines.
NEXT_LINES = 20
# The parse window: at most this many characters before the cursor (from a definition's line)
# and the cursor's line plus this many after; well under a millisecond of tree-sitter.
PARSE_BEFORE = 6_000
PARSE_AFTER = 400
# A block answer is cut to this many lines.
MAX_BLOCK_LINES = 40
# An answer line equal to the next line of the document and at least this long (non-blank) is
# the model copying what follows: the answer ends before it.
SIGNIFICANT_CHARS = 6
# The longest repeat of the cursor's line looked for at the end of the answer.
OVERLAP_CHARS = 400

_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment", "doc_comment"})
_STRING_TYPES = frozenset(
    {
        "string", "template_string", "string_literal", "raw_string_literal",
        "interpreted_string_literal", "char_literal", "rune_literal",
    }
)  # fmt: skip
# Code inside a string (f-string fields, template substitutions): not "in a string".
_CODE_IN_STRING = frozenset({"interpolation", "template_substitution"})

# Strings that span lines, whose end must be in the parse window.
_LONG_QUOTES = {
    "python": ('"""', "'''"),
    "javascript": ("`",),
    "typescript": ("`",),
    "tsx": ("`",),
    "go": ("`",),
}

_PY_COMPOUND = re.compile(
    r"[ \t]*(?:async[ \t]+)?(?:def|class|if|elif|else|for|while|with|try|except|finally|match|case)\b"
)
_PY_SIGNATURE_END = re.compile(r"[ \t]*\)[ \t]*(?:->.*)?:[ \t]*(?:#.*)?$")
_BRACKET_OPENER = re.compile(r"[{(\[][ \t]*$")
_KEYWORD_OPENER = re.compile(
    r"(?:\bthen|\bdo(?:[ \t]*\|[^|]*\|)?|\belse|\brepeat|\bbegin|\bfunction\b[^()]*\([^()]*\))[ \t]*$"
)
_KEYWORD_LANGS = frozenset({"lua", "ruby", "elixir", "julia", "shellscript", "crystal"})
# The rest of a line that only closes things: the cursor is at the end of the line's code.
_CLOSERS_ONLY = re.compile(r"[ \t)\]}>\"'`;,]*")
_CLOSER_LINE = re.compile(r"[ \t]*(?:[)\]}]|end\b|fi\b|done\b|esac\b|until\b)")
_WORD = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class CursorContext:
    """What the rules need to know about the cursor, taken from the document once per request.

    `line_before`/`line_after` are the cursor's line around it (no line ending); `after` is the
    document after the cursor, bounded; `level` is the indentation (in columns) of the
    statements of the cursor's block, `floor` the indentation below which a line has left it."""

    language: str
    mode: Mode | None
    literal: str  # "" in code, "comment" or "string"
    explicit: bool
    line_before: str
    line_after: str
    after: str
    level: int
    floor: int
    eol: str
    tabs: bool
    unit: int
    max_lines: int = MAX_BLOCK_LINES


# ---------------------------------------------------------------- comments and strings


@lru_cache(maxsize=32)
def _start_pattern(lang: str) -> re.Pattern[str] | None:
    """Lines a parse window may start at: a definition at any indentation (so the window never
    starts inside the docstring of a method of a huge class), or syntax.py's top-level anchors."""
    words = syntax._DEF_WORDS.get(lang)
    anchor = syntax._ANCHORS.get(lang)
    parts = []
    if words is not None:
        parts.append(rf"{syntax._DEF_PREFIX.pattern}(?:async[ \t]+)?(?:{words})\b")
    if anchor is not None:
        parts.append(f"(?:{anchor.pattern})")
    return re.compile("^(?:" + "|".join(parts) + ")", re.M) if parts else None


def _outside_strings(text: str, starts: list[int]) -> int:
    """The last of `starts` not inside a triple-quoted string (a `def` in a docstring's example
    is no place to start parsing), counting quotes from the first top-level one; -1 if none."""
    if not starts:
        return -1
    top = next((s for s in starts if s == 0 or text[s] not in " \t"), None)
    base = starts[0] if top is None else top
    double = text.count('"""', base, starts[-1]) % 2
    single = text.count("'''", base, starts[-1]) % 2
    for i in range(len(starts) - 1, -1, -1):
        start = starts[i]
        if start < base:
            break
        if not double and not single:
            return start
        if i > 0:
            double ^= text.count('"""', starts[i - 1], start) % 2
            single ^= text.count("'''", starts[i - 1], start) % 2
    return base


def _parse_window(text: str, offset: int, lang: str) -> tuple[int, int]:
    """[lo, hi) to parse: from the nearest definition at most PARSE_BEFORE characters above the
    cursor (else the first line there) to a little after the cursor's line."""
    ls = syntax.line_start(text, offset)
    floor = max(0, ls - PARSE_BEFORE)
    lo = -1
    pattern = _start_pattern(lang)
    if pattern is not None:
        starts = [m.start() for m in pattern.finditer(text, floor, max(floor, ls - 1))]
        lo = _outside_strings(text, starts) if lang == "python" else (starts[-1] if starts else -1)
    if lo < 0:
        nl = text.find("\n", floor - 1, ls) if floor > 0 else -1
        lo = ls if floor > 0 and nl < 0 else nl + 1
    lo = max(lo, offset - 2 * PARSE_BEFORE)  # a minified file's lines are long
    end = syntax.line_end(text, offset) + PARSE_AFTER
    # a comment or string open at the cursor is parsed to its end, or it is no comment or string
    back = text[lo:offset]
    closers = []
    if languages.has_block_comments(lang) and back.rfind("/*") > back.rfind("*/"):
        closers.append("*/")
    closers += [q for q in _LONG_QUOTES.get(lang, ()) if back.count(q) % 2]
    for closer in closers:
        found = text.find(closer, offset, offset + PARSE_BEFORE)
        end = max(end, found + len(closer) if found >= 0 else end)
    cut = text.find("\n", min(len(text), end))
    hi = len(text) if cut < 0 else cut + 1
    return lo, min(hi, offset + PARSE_BEFORE + PARSE_AFTER)


_local = threading.local()


def _parser(lang: str) -> Any:
    """This thread's tree-sitter parser for `lang` (parsers are not thread-safe). Windows are
    parsed afresh, not through syntax.py's tree cache: each keystroke's window is new text, and
    it would push out the trees the context builder reuses."""
    parsers: dict[str, Any] = _local.__dict__.setdefault("parsers", {})
    parser = parsers.get(lang)
    if parser is None:
        import tree_sitter

        parser = parsers[lang] = tree_sitter.Parser(syntax._language(lang))
    return parser


def _is_line_comment(node_text: bytes | None) -> bool:
    head = (node_text or b"")[:4]
    return not head.startswith((b"/*", b"--[[", b"(*", b"{-")) and head[:1] in (b"#", b"/", b"-", b";", b"%")


def _literal_by_tree(text: str, offset: int, lang: str, lo: int, hi: int) -> str | None:
    """What tree-sitter says the cursor is in ("comment", "string", "" for code), parsing
    text[lo:hi]; None when the tree has an error around the cursor and cannot tell (an
    unterminated string, say)."""
    source = text[lo:hi]
    tree = _parser(lang).parse(source.encode("utf-8", "surrogatepass"))
    b = len(source[: offset - lo].encode("utf-8", "surrogatepass"))
    if b == 0:
        return ""
    node = tree.root_node.descendant_for_byte_range(b - 1, b)
    if node is None or (node.parent is None and node.has_error):
        return None
    broken = False  # an error in the statement around the cursor: "code" is not to be trusted
    while node is not None:
        kind = node.type
        if kind in _CODE_IN_STRING:
            return ""
        if kind == "ERROR":
            return None
        broken = broken or (node.has_error and node.parent is not None)
        if kind in _COMMENT_TYPES:
            if node.start_byte < b < node.end_byte:
                return "comment"
            if b == node.end_byte and _is_line_comment(node.text):
                return "comment"
        elif kind in _STRING_TYPES and node.start_byte < b < node.end_byte:
            return "string"
        node = node.parent
    return None if broken else ""


def _literal_by_line(text: str, offset: int, lang: str, lo: int) -> str:
    """The same answer from a scan of the cursor's line and, for block comments and Python's
    triple-quoted strings, of the text from `lo` (a definition's start when one is near): for
    languages without a grammar, and where the parse has errors at the cursor."""
    if languages.is_prose(lang):
        return ""
    back = text[lo:offset]
    if languages.has_block_comments(lang) and back.rfind("/*") > back.rfind("*/"):
        return "comment"
    if lang == "python" and ('"""' in back or "'''" in back) and _scan(back, lang)[1] in ('"""', "'''"):
        return "string"  # a triple-quoted string open at the cursor (quotes inside strings skipped)
    line = text[max(syntax.line_start(text, offset), offset - 2000) : offset]
    _, quote, comment = _scan(line, lang)
    if comment:
        return "comment"
    return "string" if quote else ""


def literal_at(text: str, offset: int, lang: str) -> str:
    """What the cursor is in: "comment", "string", or "" for code."""
    lo, hi = _parse_window(text, offset, lang)
    if syntax.has_grammar(lang):
        try:
            found = _literal_by_tree(text, offset, lang, lo, hi)
        except Exception:  # a grammar failing on odd input falls back to the line scan
            found = None
        if found is not None:
            return found
    return _literal_by_line(text, offset, lang, lo)


# ---------------------------------------------------------------- brackets in code


@lru_cache(maxsize=64)
def _token_pattern(lang: str) -> tuple[re.Pattern[str], str, tuple[str, ...]]:
    """The tokens that change the bracket state: escapes, quotes, comment starts, brackets."""
    comment = languages.line_comment(lang)
    quotes = languages.quotes(lang)
    parts = [r"\\.", r"\n", r"[()\[\]{}]"]
    parts += [re.escape(q) for q in quotes]
    if comment:
        parts.append(re.escape(comment))
    if languages.has_block_comments(lang):
        parts += [r"/\*", r"\*/"]
    return re.compile("|".join(parts), re.S), comment, quotes


def _walk(text: str, lang: str, stop_below_zero: bool) -> tuple[int, str | None, bool, int]:
    """Bracket depth, open quote and whether a line comment is open at the end of `text` (which
    starts in code), and the index of the first closer taking the depth below zero (-1: none;
    with `stop_below_zero` the walk ends there)."""
    pattern, comment, quotes = _token_pattern(lang)
    depth = 0
    quote: str | None = None
    state = ""  # "", "line" (comment), "block" (comment)
    below = -1
    for match in pattern.finditer(text):
        token = match.group()
        if state == "line":
            if token == "\n":
                state = ""
            continue
        if state == "block":
            if token == "*/":
                state = ""
            continue
        if quote is not None:
            if token == quote:
                quote = None
            elif token == "\n" and len(quote) == 1 and quote != "`":
                quote = None  # an unterminated one-line string ends with its line
            continue
        if token in ("(", "[", "{"):
            depth += 1
        elif token in (")", "]", "}"):
            depth -= 1
            if depth < 0 and below < 0:
                below = match.start()
                if stop_below_zero:
                    break
        elif token in quotes:
            quote = token
        elif token == comment:
            state = "line"
        elif token == "/*":
            state = "block"
    return depth, quote, state == "line", below


def _scan(text: str, lang: str) -> tuple[int, str | None, bool]:
    """(bracket depth, open quote, in a line comment) at the end of `text`, which starts in code."""
    depth, quote, comment, _ = _walk(text, lang, False)
    return depth, quote, comment


def _first_unmatched(text: str, lang: str) -> int:
    """Index of the first closer that closes a bracket opened before `text`; -1 if none."""
    return _walk(text, lang, True)[3]


def _balanced(text: str, lang: str) -> bool:
    depth, quote, _ = _scan(text, lang)
    return depth == 0 and quote is None


# ---------------------------------------------------------------- the cursor


def _indent_style(text: str, ls: int, own: str) -> tuple[bool, int]:
    """(tabs?, spaces per level) from the indented lines just above the cursor; the cursor's own
    indentation `own`, when it has one, says tabs or spaces."""
    window = text[max(0, ls - 3000) : ls + 200]
    indents = re.findall(r"^([ \t]+)\S", window, re.M)
    tabs = sum(1 for i in indents if i.startswith("\t"))
    if own.startswith("\t") or (not own and tabs * 2 > len(indents) > 0):
        return True, 4
    sizes = [len(i) for i in indents if not i.startswith("\t") and len(i) >= 2]
    return False, min(min(sizes), 8) if sizes else 4


def _previous_line(text: str, ls: int) -> str:
    """The nearest non-blank line above the line starting at `ls` (bounded), without its eol."""
    pos = ls
    for _ in range(20):
        if pos == 0:
            return ""
        start = syntax.line_start(text, pos - 1)
        line = text[start : pos - 1].rstrip("\r")
        if line.strip():
            return line
        pos = start
    return ""


def _opens_block(line: str, lang: str, line_after: str = "") -> bool:
    """True when `line` (the code before the cursor) ends by opening a block or a bracket; a
    parenthesis or square bracket only when nothing closes it on the line (`f(|)` is one line)."""
    code = line.rstrip()
    if not code:
        return False
    if _BRACKET_OPENER.search(code):
        return code.endswith("{") or not line_after.strip()
    if lang == "python":
        return code.endswith(":") and bool(_PY_COMPOUND.match(code) or _PY_SIGNATURE_END.match(code))
    if lang in _KEYWORD_LANGS or not languages.uses_braces(lang):
        return bool(_KEYWORD_OPENER.search(code))
    return False


def analyze(
    text: str, offset: int, language: str, *, explicit: bool = False, max_lines: int = MAX_BLOCK_LINES
) -> CursorContext:
    """The cursor's context and the completion mode there. `language` is a normalized name
    (`syntax.language_of`); `explicit` is the user asking (an invoked trigger), which allows a
    single line inside a comment or string."""
    offset = max(0, min(offset, len(text)))
    ls = syntax.line_start(text, offset)
    le = text.find("\n", offset)
    line_before = text[ls:offset]
    line_after = text[offset : len(text) if le < 0 else le].rstrip("\r")
    tabs, unit = _indent_style(text, ls, line_before[: len(line_before) - len(line_before.lstrip(" \t"))])
    literal = literal_at(text, offset, language)
    at_end = _CLOSERS_ONLY.fullmatch(line_after) is not None
    indent = width(line_before[: len(line_before) - len(line_before.lstrip(" \t"))])
    level = floor = indent
    mode: Mode | None
    if literal:
        mode = "line" if explicit else None
    elif not at_end:
        mode = "line"  # code follows the cursor on its line: complete within the line
    elif not line_before.strip():
        mode = "block"  # a statement position
        previous = _previous_line(text, ls)
        if indent == 0 and previous and _opens_block(previous, language):
            base = width(previous[: len(previous) - len(previous.lstrip(" \t"))])
            level, floor = base + unit, base + 1
    elif _opens_block(line_before, language, line_after):
        mode = "block"
        level, floor = indent + unit, indent + 1
    else:
        mode = "line"
    return CursorContext(
        language=language,
        mode=mode,
        literal=literal,
        explicit=explicit,
        line_before=line_before,
        line_after=line_after,
        after=text[offset : offset + AFTER_CHARS],
        level=level,
        floor=floor,
        eol=detect_eol(text),
        tabs=tabs,
        unit=unit,
        max_lines=max_lines,
    )


def decide_mode(text: str, offset: int, language: str, *, explicit: bool = False) -> Mode | None:
    """The mode at the cursor: one line, a block, or None (inside a comment or string: no
    request unless `explicit`)."""
    return analyze(text, offset, language, explicit=explicit).mode


def stop_sequences(ctx: CursorContext) -> list[str]:
    """The `stop` strings to send: a line ends a line completion; a block one stops at two blank
    lines and, inside a block, at a top-level declaration (at most 16, DeepSeek's limit)."""
    if ctx.mode != "block":
        return ["\n"]
    eol = ctx.eol
    stops = [eol * 3]
    if ctx.floor > 0:
        stops += [eol + word for word in languages.top_level_words(ctx.language)]
    return stops[:16]


# ---------------------------------------------------------------- cleaning the answer


def _next_lines(ctx: CursorContext) -> list[str]:
    """The document's lines after the cursor's line, line endings removed (bounded)."""
    nl = ctx.after.find("\n")
    if nl < 0:
        return []
    rest = ctx.after[nl + 1 :].split("\n", NEXT_LINES)[:NEXT_LINES]
    return [line.rstrip("\r") for line in rest]


def _document_closer(ctx: CursorContext) -> str:
    """The first closer after the cursor that closes a bracket opened before it ("" when the
    document has none; "*" when the bounded scan could not tell, which counts as any)."""
    after = ctx.after.replace("\r\n", "\n")
    index = _first_unmatched(after, ctx.language)
    if index >= 0:
        return after[index]
    return "*" if len(ctx.after) >= AFTER_CHARS else ""


def _cut_brackets(text: str, ctx: CursorContext) -> str:
    """Stop at a closer that closes a bracket opened before the cursor: before it when the
    document closes that bracket already (a doubled closer breaks code, a missing one not),
    after it (and the closers and `;` stuck to it that the document lacks) when not."""
    index = _first_unmatched(text, ctx.language)
    if index < 0:
        return text
    theirs = _document_closer(ctx)

    def closed(char: str) -> bool:
        return theirs in ("*", char)

    if closed(text[index]):
        return text[:index]
    end = index + 1
    while end < len(text) and text[end] in ")]};,":
        if text[end] in ")]}" and closed(text[end]):
            break
        end += 1
    return text[:end]


def _indent_of(line: str) -> int:
    return width(line[: len(line) - len(line.lstrip(" \t"))])


def _cut_dedent(lines: list[str], ctx: CursorContext) -> list[str]:
    """Stop at the first line indented below the block's floor; a closing line there (`end`,
    `}`) is kept when the document has no such line next at that indentation."""
    for i in range(1, len(lines)):
        line = lines[i]
        if not line.strip() or _indent_of(line) >= ctx.floor:
            continue
        if _CLOSER_LINE.match(line):
            depth = _indent_of(line)
            following = next((n for n in _next_lines(ctx) if n.strip() and _indent_of(n) <= depth), None)
            if following is None or following.strip() != line.strip():
                return lines[: i + 1]
        return lines[:i]
    return lines


def _cut_paragraph(lines: list[str], ctx: CursorContext) -> list[str]:
    """Stop at a blank line that follows a finished nested block and precedes a line back at the
    block's level: the answer went on to the next statement group."""
    deeper = False
    code = lines[0]
    for i in range(1, len(lines)):
        line = lines[i]
        if line.strip():
            if _indent_of(line) > ctx.level:
                deeper = True
            code += "\n" + line
            continue
        following = next((n for n in lines[i + 1 :] if n.strip()), None)
        if (
            deeper
            and following is not None
            and _indent_of(following) <= ctx.level
            and _scan(code, ctx.language)[0] <= 0
        ):
            return lines[:i]
    return lines


def _trim_repeated_lines(lines: list[str], ctx: CursorContext) -> list[str]:
    """Drop the answer's last lines when they are the document's next lines (the last one may
    be cut short), and stop before a significant line that repeats the next line."""
    if ctx.line_after.strip():
        return lines
    following = [n.rstrip() for n in _next_lines(ctx) if n.strip()]
    if not following:
        return lines
    if not ctx.line_before.strip() and lines[0].strip() == following[0].strip() and _significant(lines[0]):
        return [""]  # the answer starts by copying the next line: nothing new
    for i in range(1, len(lines)):
        if not lines[i].strip():
            continue
        tail = [t.rstrip() for t in lines[i:] if t.strip()]
        if len(tail) <= len(following) and all(a == b for a, b in zip(tail[:-1], following, strict=False)):
            last = following[len(tail) - 1]
            if last.startswith(tail[-1]) and (len(tail) > 1 or _significant(tail[0])):
                return lines[:i]
        if lines[i].strip() == following[0].strip() and _significant(lines[i]):
            return lines[:i]
    return lines


def _significant(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= SIGNIFICANT_CHARS and _WORD.search(stripped) is not None


def _trim_overlap(text: str, ctx: CursorContext) -> str:
    """Trim the end of the answer's last line that repeats the rest of the cursor's line: a
    closer the line already has (when that balances the answer), or the whole rest."""
    rest = ctx.line_after.rstrip()
    if not rest.strip():
        return text
    start = text.rfind("\n") + 1
    last = text[start:]
    for k in range(min(len(rest), len(last), OVERLAP_CHARS), 0, -1):
        piece = rest[:k]
        if not piece.strip() or not last.endswith(piece):
            continue
        trimmed = text[: len(text) - k]
        if ctx.literal:
            if k == len(rest):
                return trimmed
            continue
        if not _balanced(text, ctx.language) and _balanced(trimmed, ctx.language):
            return trimmed
        if k == len(rest) and _scan(trimmed, ctx.language)[:2] == _scan(text, ctx.language)[:2]:
            return trimmed
    return text


def _reindent(text: str, ctx: CursorContext) -> str:
    """The document's indentation characters on the answer's lines after the first."""
    lines = text.split("\n")
    for i in range(1, len(lines)):
        line = lines[i]
        lead = line[: len(line) - len(line.lstrip(" \t"))]
        if not lead:
            continue
        if ctx.tabs and " " in lead:
            cols = width(lead, ctx.unit)
            lines[i] = "\t" * (cols // ctx.unit) + " " * (cols % ctx.unit) + line[len(lead) :]
        elif not ctx.tabs and "\t" in lead:
            lines[i] = " " * width(lead, ctx.unit) + line[len(lead) :]
    return "\n".join(lines)


def clean(answer: str | None, ctx: CursorContext) -> str | None:
    """The text to show at the cursor, in the document's line endings; None for no suggestion."""
    if ctx.mode is None or not answer or not answer.strip():
        return None
    text = answer.replace("\r\n", "\n").replace("\r", "\n")
    if ctx.mode == "line" or ctx.literal:
        # one line: the rest of the cursor's line repeated goes first, before a bracket it
        # holds looks like one closing a bracket opened before the cursor
        text = _trim_overlap(text.split("\n", 1)[0], ctx)
    if not ctx.literal:
        text = _cut_brackets(text, ctx)
    lines = text.split("\n")
    if ctx.mode == "block" and not ctx.literal:
        if not languages.uses_braces(ctx.language):
            lines = _cut_dedent(lines, ctx)
        lines = _cut_paragraph(lines[: ctx.max_lines], ctx)
    lines = _trim_repeated_lines(lines, ctx)
    text = _trim_overlap("\n".join(lines), ctx)
    if not ctx.line_after.strip():
        text = text.rstrip()
    if not text.strip() or "<masked:" in text:  # a secret's placeholder is never shown
        return None
    text = _reindent(text, ctx)
    return text.replace("\n", ctx.eol) if ctx.eol != "\n" else text
