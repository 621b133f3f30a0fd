"""Markdown as plain text: what a client that shows only plain text (an echo area, eglot's
hover without markdown-mode) should get, instead of raw `**`, `#` and fences.

Code stays as it is (fenced blocks become indented blocks, inline code keeps its backticks,
nothing inside code is touched); headings, emphasis and link syntax go. Unterminated fences
(text still streaming) are code to the end.
"""

from __future__ import annotations

import re

FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+|$)(.*?)(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
RULE = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
BULLET = re.compile(r"^(\s*)[*+-][ \t]+(?=\S)")
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)
IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^)]*)?\)")
LINK = re.compile(r"\[([^\]]+)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^)]*)?\)")
STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
# `_x_` only at word edges: snake_case names keep their underscores
EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~>])")
HIDDEN = re.compile("\ue000(\\d+)\ue001")
HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
CODE_INDENT = "    "


def to_plain(markdown: str) -> str:
    """Readable plain text for `markdown` (line breaks kept, a fence's code indented by four)."""
    out: list[str] = []
    fence: str | None = None  # the open fence's marker
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) <= {fence[0]}:
                fence = None
                continue
            out.append(CODE_INDENT + line if line.strip() else "")
            continue
        m = FENCE.match(line)
        if m and not (m.group(2)[0] == "`" and "`" in m.group(3)):
            fence = m.group(2)
            continue
        if RULE.match(line):
            out.append("")
            continue
        if SETEXT.match(line) and out and out[-1].strip() and i > 0 and lines[i - 1].strip():
            continue  # the underline of a heading already written as its text
        h = HEADING.match(line)
        if h:
            out.append(_inline(h.group(1)))
            continue
        line = BULLET.sub(r"\1- ", line)
        if line.lstrip().startswith(">"):
            indent = line[: len(line) - len(line.lstrip())]
            line = indent + "> " + line.lstrip()[1:].lstrip()
        out.append(_inline(line))
    return "\n".join(out)


def _inline(text: str) -> str:
    """Strip inline syntax outside code spans; code spans keep their backticks and content."""
    parts: list[str] = []
    last = 0
    for m in CODE_SPAN.finditer(text):
        parts.append(_prose(text[last : m.start()]))
        parts.append(m.group(0))
        last = m.end()
    parts.append(_prose(text[last:]))
    return "".join(parts)


def _prose(text: str) -> str:
    # escaped characters are literal: hidden from the patterns below, put back at the end
    escaped: list[str] = []

    def hide(m: re.Match[str]) -> str:
        escaped.append(m.group(1))
        return f"\ue000{len(escaped) - 1}\ue001"

    text = ESCAPE.sub(hide, text)
    text = HTML_BREAK.sub(" ", text)
    text = IMAGE.sub(lambda m: _link(m.group(1), m.group(2)), text)
    text = LINK.sub(lambda m: _link(m.group(1), m.group(2)), text)
    for _ in range(3):  # nested emphasis: ***x***, **_x_**
        before = text
        text = STRONG.sub(r"\2", text)
        text = EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)
        text = STRIKE.sub(r"\1", text)
        if text == before:
            break
    return HIDDEN.sub(lambda m: escaped[int(m.group(1))], text)


def _link(label: str, target: str) -> str:
    if not target or target == label or target.startswith("#"):
        return label
    return f"{label} ({target})"
