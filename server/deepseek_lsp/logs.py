"""Logging: stderr (warnings and errors by default), an optional file, and a scrubber that keeps
the API key out of every record.

pygls logs each payload it sends or receives at INFO/DEBUG, including the client's settings
(which can hold the key), so its loggers are capped at WARNING whatever the level asked for.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Callable

_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_-]{8,})")


class Redactor:
    """Known secrets, replaced by a placeholder wherever they would be written."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "<redacted>")
        return _KEYLIKE.sub("sk-<redacted>", text)


redact = Redactor()


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        record.msg, record.args = clean, None
        return True


class CallbackHandler(logging.Handler):
    """Forwards records to the client (window/logMessage) once the server is connected."""

    def __init__(self, send: Callable[[int, str], None]) -> None:
        super().__init__(logging.INFO)
        self._send = send
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("pygls"):
            return  # would recurse: sending a message logs it
        with contextlib.suppress(Exception):  # the client went away; stderr still has it
            self._send(record.levelno, self.format(record))


def setup(level: str | None = None, log_file: str | None = None) -> None:
    """stderr carries warnings and errors unless `level` asks for more: editors file a server's
    stderr as errors (Neovim's lsp.log says `[ERROR]` for every line), so routine lines stay out
    of it. The log file, when there is one, gets `level`, or INFO by default."""
    root = logging.getLogger()
    stderr_level = logging.getLevelName(level.upper()) if level else logging.WARNING
    file_level = logging.getLevelName(level.upper()) if level else logging.INFO
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(stderr_level)
    handlers: list[logging.Handler] = [stderr]
    if log_file:
        file = logging.FileHandler(log_file, encoding="utf-8")
        file.setLevel(file_level)
        handlers.append(file)
    root.setLevel(min(h.level for h in handlers))
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    for name in ("pygls", "httpx", "httpcore", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)
