"""What completion needs to know about a language, beyond what tree-sitter tells.

Languages are the normalized names of `syntax.language_of`. Unknown languages get the safe
defaults: `//` comments, the usual quotes, and blocks ended by indentation (which holds for any
well-indented code, whatever closes its blocks).
"""

from __future__ import annotations

_HASH = (
    "python", "ruby", "shellscript", "shell", "bash", "sh", "zsh", "fish", "perl", "r", "yaml",
    "toml", "elixir", "julia", "nim", "makefile", "dockerfile", "powershell", "coffeescript",
    "cmake", "crystal", "gdscript", "tcl", "ini", "properties",
)  # fmt: skip
_DASHES = ("lua", "sql", "haskell", "elm", "ada", "purescript", "vhdl")
_SEMICOLON = ("lisp", "clojure", "scheme", "racket", "commonlisp", "asm", "nasm")
_PERCENT = ("latex", "tex", "matlab", "erlang", "prolog")
_NONE = ("plaintext", "markdown", "text", "restructuredtext", "asciidoc", "html", "xml", "json")

_LINE_COMMENTS: dict[str, str] = {
    **dict.fromkeys(_HASH, "#"),
    **dict.fromkeys(_DASHES, "--"),
    **dict.fromkeys(_SEMICOLON, ";"),
    **dict.fromkeys(_PERCENT, "%"),
    **dict.fromkeys(_NONE, ""),
}

# Blocks delimited by braces: the end of a block is where the brackets balance, not a dedent.
_BRACES = frozenset(
    {
        "javascript", "typescript", "tsx", "go", "rust", "c", "cpp", "java", "csharp", "kotlin",
        "swift", "php", "scala", "dart", "css", "scss", "less", "json", "jsonc", "zig", "groovy",
        "objective-c", "objective-cpp", "solidity", "proto", "hlsl", "glsl", "v", "odin",
    }
)  # fmt: skip
# Block comments `/* */` exist in the brace languages (and a few more).
_C_BLOCK_COMMENTS = _BRACES | {"sql"}

# Words that start a top-level declaration: once the cursor is inside a block, a line starting
# with one at column 0 means the answer left the block (they become stop sequences).
_TOP_LEVEL: dict[str, tuple[str, ...]] = {
    "python": ("def ", "class ", "async def ", "@", "if __name__"),
    "javascript": ("function ", "export ", "class ", "async function "),
    "typescript": ("function ", "export ", "class ", "interface ", "type "),
    "tsx": ("function ", "export ", "class ", "interface ", "type "),
    "go": ("func ", "type ", "var ", "const "),
    "rust": ("fn ", "pub ", "impl ", "struct ", "enum ", "#["),
    "lua": ("function ", "local function "),
    "ruby": ("def ", "class ", "module "),
    "c": ("static ", "int ", "void ", "struct ", "#"),
    "cpp": ("static ", "int ", "void ", "struct ", "class ", "#", "template"),
    "java": ("public ", "private ", "class "),
}


def line_comment(lang: str) -> str:
    """The token that starts a line comment ("" when the language has none)."""
    return _LINE_COMMENTS.get(lang, "//")


def uses_braces(lang: str) -> bool:
    """True when blocks end where the braces balance rather than where the code dedents."""
    return lang in _BRACES


def has_block_comments(lang: str) -> bool:
    """True when `/* ... */` is a comment."""
    return lang in _C_BLOCK_COMMENTS


def is_prose(lang: str) -> bool:
    """Text formats where quotes are apostrophes and nothing is a comment."""
    return lang in ("plaintext", "markdown", "text", "restructuredtext", "asciidoc")


def quotes(lang: str) -> tuple[str, ...]:
    """String delimiters, longest first (so `\"\"\"` is seen before `\"`)."""
    if is_prose(lang):
        return ()
    if lang == "python":
        return ('"""', "'''", '"', "'")
    if lang == "rust":  # `'a` is a lifetime, not a string
        return ('"',)
    if lang in ("javascript", "typescript", "tsx", "go"):
        return ('"', "'", "`")
    return ('"', "'")


def top_level_words(lang: str) -> tuple[str, ...]:
    """Words that start a top-level declaration at column 0."""
    return _TOP_LEVEL.get(lang, ())


def comment_out(lang: str, text: str) -> str:
    """`text` as line comments of `lang` (for context from other files)."""
    token = line_comment(lang) or "//"
    lines = text.split("\n")
    return "\n".join(f"{token} {line}" if line.strip() else token for line in lines)
