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


# (kind, pattern, group to mask). Group 0 masks the whole match.
_Q = r"[\"'`]"
_ASSIGN_NAME = (
    r"[A-Za-z0-9_.-]*(?:passw(?:or)?d|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|client[_-]?secret|auth[_-]?key|credentials?)[A-Za-z0-9_]*"
)
_PATTERNS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    (
        "private-key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"([\s\S]*?)(?=-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)"
        ),
        1,
    ),
    ("sk", re.compile(r"(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"), 0),
    ("aws-key-id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"), 0),
    (
        "aws-secret",
        re.compile(
            r"(?i)aws_?secret(?:_?access)?_?key[\"']?\s*[:=]+\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        1,
    ),
    ("github", re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})"), 0),
    ("slack", re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}"), 0),
    ("google", re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}"), 0),
    (
        "jwt",
        re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        0,
    ),
    ("bearer", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{20,}=*)"), 1),
    ("password", re.compile(r"\b[a-z][a-z0-9+.-]*://[^:/\s@\"']+:([^@\s/\"']+)@"), 1),
    (
        "secret",
        re.compile(
            rf"(?i)(?<![A-Za-z0-9_]){_ASSIGN_NAME}{_Q}?\s*(?::=|=|:|=>)\s*(?:[rbuf]?)({_Q})(.*?)\1"
        ),
        2,
    ),
    (
        "secret",
        re.compile(
            rf"(?i)(?<![A-Za-z0-9_]){_ASSIGN_NAME}\s*(?::=|=|:)[ \t]*"
            r"([A-Za-z0-9/+=_-]{16,})(?=[ \t]*(?:$|[,;#]))",
            re.MULTILINE,
        ),
        1,
    ),
)

_IDENTIFIER_LIKE = re.compile(r"[a-z][a-z0-9_.-]*|[A-Z][A-Z0-9_]*|[a-z]+(?:[A-Z][a-z0-9]*)+")
_TEMPLATE_LIKE = re.compile(r"[{}$%<>()\[\]\s]|\.\.\.|^x+$|^\*+$", re.IGNORECASE)


def _looks_secret(kind: str, value: str) -> bool:
    """Filter for the generic patterns: real values, not names, templates or placeholders."""
    if kind != "secret":
        return bool(value)
    if len(value) < 8 or _TEMPLATE_LIKE.search(value) or _IDENTIFIER_LIKE.fullmatch(value):
        return False
    return not (value.isalpha() and value.islower())


def find_secrets(text: str) -> list[Secret]:
    """Secret-looking spans of `text`, sorted and non-overlapping (the earliest, then longest wins)."""
    found: list[Secret] = []
    for kind, pattern, group in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span(group)
            if start < end and _looks_secret(kind, match.group(group)):
                found.append(Secret(start, end, kind))
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
        body = text[secret.start : secret.end]
        mask = placeholder(secret.kind)
        if secret.kind == "private-key":
            # keep the line structure around the body so the END line stays on its own line
            lead = body[: len(body) - len(body.lstrip())]
            trail = body[len(body.rstrip()) :]
            mask = f"{lead}{mask}{trail}"
        out.append(mask)
        pos = secret.end
    out.append(text[pos:])
    return "".join(out), len(spans)
