"""The model's reply, chunk by chunk, reduced to code only, while it streams.

Models asked for "code only" still wrap it in Markdown fences, open with "Here is the
refactored code:" or close with an explanation. Text goes into the user's document as it
arrives, so nothing that might turn out to be a fence or prose may be let through early:
a partial line that could still become a closing fence, or a prose-looking line, is held
until it is decided. Everything released is final (the output only ever grows).

Output line endings are normalised to "\\n" (a "\\r" split from its "\\n" across chunks
included); the indentation module puts the document's own line endings back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

_FENCE_OPEN = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$")
_CODE_CHARS = re.compile(r"[=;{}<>\[\]|&$\\]|\w\(|::|->|=>")
_PROSE_START = re.compile(r"^(?:I|[A-Z][a-z]+)(?:'[a-z]+)?[,:!.]?(?:\s|$)")
_TICK_SPAN = re.compile(r"`[^`]*`")

# Languages whose text may legitimately look like English prose: never strip prose there.
PROSE_LANGUAGES = frozenset(
    {
        "markdown",
        "plaintext",
        "text",
        "txt",
        "restructuredtext",
        "rst",
        "latex",
        "tex",
        "asciidoc",
        "org",
        "mdx",
        "html",
        "git-commit",
        "gitcommit",
        "",
    }
)


class Mode(Enum):
    START = "start"  # nothing decided yet: leading blank lines and prose are dropped
    CODE = "code"  # inside the code (fenced or not)
    DONE = "done"  # the code ended (closing fence); the rest is commentary


def looks_like_prose(line: str) -> bool:
    """An English sentence at column 0, such as "Here is the updated function:".

    Code lines rarely start at column 0 with a capitalised word followed by plain words and
    no operators; comments start with a comment marker and are never prose here.
    """
    if not line or line[0].isspace():
        return False
    s = _TICK_SPAN.sub("x", line.strip())
    if not _PROSE_START.match(s) or _CODE_CHARS.search(s):
        return False
    words = s.split()
    if len(words) < 3:
        return False
    if s.endswith((":", ".", "!", "?")):
        return True
    return len(words) >= 6 and sum(w.isalpha() for w in words) >= len(words) * 0.7


def _could_be_prose(partial: str) -> bool:
    """A partial line that may still grow into prose (so it is held until its end)."""
    if not partial or partial[0].isspace():
        return False
    s = _TICK_SPAN.sub("x", partial)
    return bool(re.match(r"^[A-Z][a-z]*(?:'[a-z]*)?(?:[,:!.]?\s|[,:!.]?$)", s)) and not _CODE_CHARS.search(s)


@dataclass
class CodeStream:
    """Feed reply chunks, get code text back; `finish()` releases what was held at the end.

    `fenced=True` starts inside a fence (chat prefix completion opened it for us).
    `strip_prose=False` keeps every line (prose-like languages: Markdown, plain text).
    """

    fenced: bool = False
    strip_prose: bool = True
    mode: Mode = Mode.START
    fence: str | None = None  # the opening fence's marker, e.g. "```" or "~~~~"
    _code: list[str] = field(default_factory=list)  # everything released so far, in pieces
    _partial: str = ""  # the current line, not yet ended
    _partial_out: int = 0  # how much of `_partial` was already released
    _held: list[str] = field(default_factory=list)  # complete lines not yet decided
    _cr: bool = False  # the last chunk ended with "\r"
    _reopen: bool = False  # prefixed: the model may still open a fence of its own first

    def __post_init__(self) -> None:
        if self.fenced:
            self.mode, self.fence, self._reopen = Mode.CODE, "```", True

    def feed(self, chunk: str) -> str:
        """The newly released code for `chunk` (may be empty while undecided)."""
        if self._cr:
            chunk = "\r" + chunk
        self._cr = chunk.endswith("\r")
        if self._cr:
            chunk = chunk[:-1]
        chunk = chunk.replace("\r\n", "\n").replace("\r", "\n")
        out: list[str] = []
        lines = chunk.split("\n")
        for piece in lines[:-1]:
            out.append(self._complete(self._partial + piece))
            self._partial, self._partial_out = "", 0
        self._partial += lines[-1]
        out.append(self._release_partial())
        return self._emit("".join(out))

    def finish(self) -> str:
        """The end of the reply: decide the last line and drop undecided trailing prose."""
        out = ""
        if self._cr:
            self._cr = False
            out += self._complete(self._partial)
            self._partial, self._partial_out = "", 0
        if self._partial:
            partial, done = self._partial, self._partial_out
            self._partial, self._partial_out = "", 0
            if self.mode is Mode.CODE and self._is_fence_chars(partial.strip()):
                pass  # a closing fence cut short
            elif done:
                out += partial[done:]
            else:
                out += self._line(partial, final=True)
        self._held.clear()  # trailing blank lines and prose: never code we must keep
        self.mode = Mode.DONE
        return self._emit(out)

    @property
    def code(self) -> str:
        """Everything released so far. Kept in pieces and joined on demand: `self.code += text`
        per chunk would copy the whole reply each time (quadratic in a long reply)."""
        if len(self._code) > 1:
            self._code[:] = ["".join(self._code)]
        return self._code[0] if self._code else ""

    # -- lines -----------------------------------------------------------------------------
    def _emit(self, text: str) -> str:
        if text:
            self._code.append(text)
        return text

    def _complete(self, line: str) -> str:
        """A whole line (without its newline); returns what it releases."""
        done = self._partial_out
        if done:  # part of this line is already out: it was code, so the rest is too
            return line[done:] + "\n"
        return self._line(line, final=False)

    def _line(self, line: str, *, final: bool) -> str:
        end = "" if final else "\n"
        if self.mode is Mode.DONE:
            return ""
        stripped = line.strip()
        if self.mode is Mode.START:
            opening = _FENCE_OPEN.match(line)
            if opening:
                self.mode, self.fence = Mode.CODE, opening.group(1)
                return ""
            if not stripped or (self.strip_prose and looks_like_prose(line)):
                return ""
            self.mode = Mode.CODE
            return line + end
        if self.fence is not None:  # fenced: everything up to the closing fence is code
            reopen, self._reopen = self._reopen, False
            opening = _FENCE_OPEN.match(line)
            if reopen and opening and opening.group(2):
                return ""  # "```python" again right after our own prefix
            if self._closes(stripped):
                self.mode = Mode.DONE
                return ""
            return line + end
        # unfenced code: a fence ends it; blank lines and prose wait for what follows
        if _FENCE_OPEN.match(line):
            self.mode = Mode.DONE
            self._held.clear()
            return ""
        if not stripped or (self.strip_prose and looks_like_prose(line)):
            self._held.append(line + end)
            return ""
        held, self._held = "".join(self._held), []
        return held + line + end

    def _release_partial(self) -> str:
        """Let the current line out early when it can no longer be a fence or prose."""
        partial = self._partial
        if self.mode is not Mode.CODE or self._held or not partial:
            return ""
        if self._partial_out == 0:
            head = partial.lstrip(" \t")
            if not head or self._is_fence_chars(head[:3]) or head.startswith(("```", "~~~")):
                return ""
            if self.fence is None and self.strip_prose and _could_be_prose(partial):
                return ""
        out = partial[self._partial_out :]
        self._partial_out = len(partial)
        self._reopen = False
        return out

    def _closes(self, stripped: str) -> bool:
        fence = self.fence or "```"
        return len(stripped) >= len(fence) and set(stripped) == {fence[0]}

    def _is_fence_chars(self, s: str) -> bool:
        return bool(s) and (set(s) == {"`"} or set(s) == {"~"})
