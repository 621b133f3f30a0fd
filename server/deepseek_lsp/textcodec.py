"""A file's text in its own encoding, for files read from disk (pure: no pygls, no I/O).

Editors send text already decoded; only files the server reads itself (`#file:`, a document
that is not open) need this. UTF-8 is the rule, but a latin-1 or cp1252 file must not reach the
model as replacement characters (`def caf\ufffd_name()`).
"""

from __future__ import annotations

import codecs

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
SNIFF = 8192  # bytes looked at to tell text from binary


def decode(data: bytes) -> str | None:
    """The text of `data`: by its BOM (UTF-8, UTF-16, UTF-32), else UTF-8, else cp1252 (which
    covers latin-1's printable range), else latin-1. None when it looks binary."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                return None
            return None if _looks_binary(text) else text
    if b"\x00" in data[:SNIFF]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:  # bytes cp1252 leaves undefined (0x81, 0x8d, ...)
            text = data.decode("latin-1")
    return None if _looks_binary(text) else text


def _looks_binary(text: str) -> bool:
    sample = text[:SNIFF]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v\x1b")
    return "\x00" in sample or controls > max(2, len(sample) // 20)
