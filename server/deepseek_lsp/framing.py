"""LSP base-protocol framing (`Content-Length` headers, then a JSON body) that survives bad input.

pygls's own stdio loop waits forever after a header it cannot parse (`Content-Length: abc`, or
none at all): it takes the body for more header lines and then every later frame with it, so
the server stays alive but deaf. This reader instead skips what it cannot frame, reports it
once, and picks the stream up again at the next `Content-Length:` header, wherever it starts
(a body without a newline glues the next header to its end). A stream that ends in the middle
of a message is reported as such. Pure: no pygls, any binary stream (tests use BytesIO).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

MAX_BODY = 256 * 1024 * 1024  # a longer Content-Length is taken for garbage, not awaited
MAX_LINE = 64 * 1024  # header lines are read in pieces of at most this many bytes
CHUNK = 1024 * 1024  # bodies are read in pieces: a huge length never allocates at once
_MARKER = b"content-length:"
_HEADER = re.compile(rb"([A-Za-z0-9-]+)[ \t]*:[ \t]*(.*?)[ \t]*\r?\n?")


@dataclass(frozen=True)
class Message:
    """One decoded JSON body (any JSON value: the caller checks the JSON-RPC envelope)."""

    payload: Any


@dataclass(frozen=True)
class Skipped:
    """Bytes that could not be framed or decoded were dropped; `reason` says what and why."""

    reason: str


@dataclass(frozen=True)
class End:
    """The stream ended; `reason` is None at a clean end between messages."""

    reason: str | None = None


Event = Message | Skipped | End


class MessageReader:
    """Reads messages one by one from a blocking binary stream (call `read` off the event loop)."""

    def __init__(self, stream: BinaryIO, max_body: int = MAX_BODY) -> None:
        self._stream = stream
        self._max_body = max_body
        self._pending = b""  # bytes already read that belong to what comes next
        self._resync = False  # skipping garbage until the next Content-Length header

    # -- the stream, with what was read too far put back in front ------------------------------
    def _readline(self) -> bytes:
        if self._pending:
            cut = self._pending.find(b"\n")
            if cut >= 0:
                line, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
                return line
            line, self._pending = self._pending, b""
            if len(line) >= MAX_LINE:
                return line
            return line + self._stream.readline(MAX_LINE - len(line))
        return self._stream.readline(MAX_LINE)

    def _read(self, n: int) -> bytes:
        parts = [self._pending[:n]]
        self._pending = self._pending[n:]
        got = len(parts[0])
        while got < n:
            chunk = self._stream.read(min(CHUNK, n - got))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    # -- messages -------------------------------------------------------------------------------
    def read(self) -> Event:
        """The next message, a report of skipped bytes, or the end of the stream."""
        if self._resync and not self._skip_to_header():
            return End()
        headers: dict[bytes, bytes] = {}
        while True:
            line = self._readline()
            if not line:
                return End("the input ended in the middle of a message header" if headers else None)
            if not line.strip():
                if headers:
                    break
                continue  # blank lines between messages are harmless
            match = _HEADER.fullmatch(line)
            if match is None or not line.endswith(b"\n"):
                self._resync = True
                self._pending = line[1:] + self._pending  # a header may follow inside the garbage
                return Skipped(f"skipped bytes that are not an LSP header: {_show(line)}")
            headers[match.group(1).lower()] = match.group(2)
        raw = headers.get(b"content-length")
        if raw is None:
            self._resync = True
            return Skipped("skipped a message without a Content-Length header")
        if not raw.isdigit() or int(raw) > self._max_body:
            self._resync = True
            return Skipped(f"skipped a message with an invalid Content-Length: {_show(raw)}")
        length = int(raw)
        body = self._read(length)
        if len(body) < length:
            return End(
                f"the input ended in the middle of a message ({len(body):,} of {length:,} bytes received)"
            )
        return self._decode(body)

    def _decode(self, body: bytes) -> Event:
        try:
            return Message(json.loads(body))
        except (ValueError, UnicodeDecodeError) as exc:
            cause = str(exc)
        # A wrong Content-Length: a body counted too long swallowed the start of the next
        # message, one counted too short left its tail in the stream. Keep what parses and put
        # the rest back, so the next header is found again.
        text = body.decode("utf-8", errors="surrogateescape")
        try:
            value, end = json.JSONDecoder().raw_decode(text.lstrip())
        except ValueError:
            value, end = None, -1
        if end >= 0:
            rest = text.lstrip()[end:].lstrip().encode("utf-8", errors="surrogateescape")
            low = rest.lower()
            if low.startswith(_MARKER) or (low and _MARKER.startswith(low)):
                self._pending = rest + self._pending
                return Message(value)
        self._resync = True
        self._pending = body[1:] + self._pending  # a header may follow inside what was read
        return Skipped(f"skipped a message whose body is not JSON ({cause})")

    def _skip_to_header(self) -> bool:
        """Drop bytes up to the next `Content-Length:` (any case, anywhere in a line); False at
        the end of the stream."""
        tail = b""
        while True:
            line = self._readline()
            if not line:
                return False
            data = tail + line
            at = data.lower().find(_MARKER)
            if at >= 0:
                self._pending = data[at:] + self._pending
                self._resync = False
                return True
            tail = data[-(len(_MARKER) - 1) :]


def _show(raw: bytes, limit: int = 40) -> str:
    """A short, printable view of bad bytes for the log (never the whole of a big body)."""
    text = raw.strip()[:limit].decode("utf-8", errors="replace")
    return repr(text) + ("…" if len(raw.strip()) > limit else "")
