"""Keep secrets on the machine: exclude secret files, mask secret-looking strings.

Masking is deterministic (same text in, same text out) so that masked prompts still hit DeepSeek's
context cache, and the patterns are specific enough to leave ordinary code alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".env*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".git-credentials",
    "secrets.*",
    "credentials*",
)


def is_excluded(path: str, patterns: Iterable[str] = DEFAULT_EXCLUDES) -> bool:
    """True when `path` matches a pattern, case-insensitively, on its basename or any trailing
    sub-path (so `config/*.json` matches `/home/me/proj/config/a.json`, whatever the root)."""
    parts = [p for p in path.replace("\\", "/").lower().split("/") if p]
    if not parts:
        return False
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    for pattern in patterns:
        pat = pattern.replace("\\", "/").lower().strip("/")
        if pat and any(fnmatchcase(tail, pat) for tail in tails):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Secret:
    """A span of `text` to mask and what kind of secret it looks like."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class _Rule:
    """A secret pattern and the part of it to mask (`group`). It runs only when one of `hints`
    occurs in the lowercased text, a fast substring test that skips most rules on most code. With
    `at_words`, it is only tried where `_SECRET_WORD` matches: case-insensitive patterns cannot
    use the regex engine's fast literal scan, so the (lowercase) word search does that part."""

    kind: str
    hints: tuple[str, ...]
    pattern: re.Pattern[str]
    group: int = 0
    at_words: bool = False


_Q = r"[\"'`]"
_SECRET_WORD = re.compile(
    r"passw|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth[_-]?key"
    r"|credential"
)
_SECRET_NAME = rf"(?:{_SECRET_WORD.pattern})[A-Za-z0-9_]*"
_SECRET_HINTS = ("passw", "passphrase", "secret", "token", "key", "credential")
_PRIVATE_KEY = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
_RULES: tuple[_Rule, ...] = (
    _Rule(
        "private-key",
        ("private key",),
        re.compile(rf"-----BEGIN {_PRIVATE_KEY}([\s\S]*?)(?=-----END {_PRIVATE_KEY}|\Z)"),
        1,
    ),
    # the body of a key whose BEGIN line is not in this text, up to its END line
    _Rule(
        "private-key",
        ("private key",),
        re.compile(
            rf"((?:[ \t\"']*[A-Za-z0-9+/=]{{16,}}(?:\\n)?[\"',+]*[ \t]*\r?\n)+)[ \t\"']*-----END {_PRIVATE_KEY}"
        ),
        1,
    ),
    _Rule("sk", ("sk-",), re.compile(r"(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}")),
    _Rule(
        "aws-key-id",
        ("akia", "asia", "abia", "acca"),
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"),
    ),
    _Rule(
        "aws-secret",
        ("secret",),
        re.compile(
            r"(?i)secret(?:_?access)?_?key[\"']?\s*[:=]+\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        1,
        at_words=True,
    ),
    _Rule(
        "github",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})"),
    ),
    _Rule("slack", ("xox",), re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}")),
    _Rule("google", ("aiza",), re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}")),
    _Rule(
        "jwt",
        ("eyj",),
        re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    _Rule("bearer", ("bearer",), re.compile(r"(?i)bearer\s+([A-Za-z0-9._~+/-]{20,}=*)"), 1),
    _Rule("password", ("://",), re.compile(r"://[^:/\s@\"']+:([^@\s/\"']+)@"), 1),
    _Rule(
        "secret",
        _SECRET_HINTS,
        re.compile(rf"(?i){_SECRET_NAME}{_Q}?\s*(?::=|=|:|=>)\s*(?:[rbuf]?)({_Q})(.*?)\1"),
        2,
        at_words=True,
    ),
    _Rule(
        "secret",
        _SECRET_HINTS,
        re.compile(
            rf"(?i){_SECRET_NAME}\s*(?::=|=|:)[ \t]*([A-Za-z0-9/+=_-]{{16,}})(?=[ \t]*(?:$|[,;#]))",
            re.MULTILINE,
        ),
        1,
        at_words=True,
    ),
)

# A line of bare base64, as in a key body (quotes, a `\n` escape, a comma or `+` may surround it).
_BASE64_LINE = re.compile(r"[ \t\"']*[A-Za-z0-9+/]{40,}={0,2}(?:\\n)?[\"',+]*[ \t]*\r?")

# Values that are names, not secrets: words joined by separators, without digits.
_NAME_LIKE = re.compile(r"_*[A-Za-z]+(?:[_.:/-]+[A-Za-z]+)*_*")
_PLACEHOLDER = re.compile(r"[{}$%<>()\[\]\s]|\.\.\.|^[*xX#./-]+$|^[a-z][a-z0-9+.-]*://|^urn:", re.IGNORECASE)


def _looks_secret(kind: str, value: str) -> bool:
    """Filter for the generic rules (`name = value`, URL credentials): real values, not names,
    templates or placeholders, so `token_type = "access_token"` or `user:password@host` in a
    docstring stay as they are."""
    if "<masked:" in value:  # masked already: masking twice changes nothing
        return False
    if kind not in ("secret", "password"):
        return bool(value.strip())
    shortest = 8 if kind == "secret" else 6
    return len(value) >= shortest and not _PLACEHOLDER.search(value) and not _NAME_LIKE.fullmatch(value)


def _random_looking(line: str) -> bool:
    """Base64 of key material mixes cases and digits; long identifiers and hex digests do not."""
    digits = sum(c.isdigit() for c in line)
    return digits >= 4 and sum(c.isupper() for c in line) >= 4 and sum(c.islower() for c in line) >= 4


def _key_blocks(text: str) -> list[Secret]:
    """Runs of two or more base64 lines: a key body whose BEGIN and END lines are both outside
    this text (a selection or a window that starts inside it). A line scan: cheaper than a regex."""
    found: list[Secret] = []
    run_start = run_end = -1
    run_lines = 0
    pos = 0
    for line in text.split("\n"):
        end = pos + len(line)
        if len(line) >= 40 and _BASE64_LINE.fullmatch(line) and _random_looking(line):
            if run_lines == 0:
                run_start = pos + len(line) - len(line.lstrip(" \t\"'"))
            run_end = end
            run_lines += 1
        else:
            if run_lines >= 2:
                found.append(Secret(run_start, run_end, "key-block"))
            run_lines = 0
        pos = end + 1
    if run_lines >= 2:
        found.append(Secret(run_start, run_end, "key-block"))
    return found


def find_secrets(text: str) -> list[Secret]:
    """Secret-looking spans of `text`, sorted and non-overlapping (the earliest, then longest wins)."""
    lowered = text.lower()
    same_offsets = len(lowered) == len(text)  # lower() can change lengths outside ASCII
    words: list[int] | None = None
    found: list[Secret] = []
    for rule in _RULES:
        if not any(hint in lowered for hint in rule.hints):
            continue
        if rule.at_words and same_offsets:
            if words is None:
                words = [m.start() for m in _SECRET_WORD.finditer(lowered)]
            matches = [m for m in (rule.pattern.match(text, w) for w in words) if m is not None]
        else:
            matches = list(rule.pattern.finditer(text))
        for match in matches:
            value = match.group(rule.group)
            if _looks_secret(rule.kind, value):
                # a key body keeps its line breaks around the mask, so END stays on its own line
                start = match.start(rule.group) + len(value) - len(value.lstrip())
                found.append(Secret(start, start + len(value.strip()), rule.kind))
    found += _key_blocks(text)  # last: on a tie, the named kinds win (the sort is stable)
    found.sort(key=lambda s: (s.start, -s.end))
    spans: list[Secret] = []
    for secret in found:
        if not spans or secret.start >= spans[-1].end:
            spans.append(secret)
    return spans


def placeholder(kind: str) -> str:
    """The stable text a secret of `kind` is replaced with."""
    return f"<masked:{kind}>"


def mask_secrets(text: str) -> tuple[str, int]:
    """`text` with each secret-looking span replaced by `<masked:KIND>`, and how many were masked.

    A PEM private key keeps its BEGIN/END lines and loses its whole body."""
    spans = find_secrets(text)
    if not spans:
        return text, 0
    out: list[str] = []
    pos = 0
    for secret in spans:
        out.append(text[pos : secret.start])
        out.append(placeholder(secret.kind))
        pos = secret.end
    out.append(text[pos:])
    return "".join(out), len(spans)


_PLACEHOLDER_TEXT = re.compile(r"<masked:([a-z-]+)>")


def restore_secrets(text: str, original: str) -> str:
    """Put back, in order and by kind, the secrets of `original` that `text` (model output built
    from the masked `original`) still carries as placeholders, so a rewrite never writes
    `<masked:sk>` into the user's file. Placeholders with no secret left to match stay as they are."""
    queues: dict[str, list[str]] = {}
    for secret in find_secrets(original):
        queues.setdefault(secret.kind, []).append(original[secret.start : secret.end])

    def put_back(match: re.Match[str]) -> str:
        queue = queues.get(match.group(1))
        return queue.pop(0) if queue else match.group(0)

    return _PLACEHOLDER_TEXT.sub(put_back, text) if queues else text
