"""Incremental Server-Sent Events parsing, as DeepSeek streams them.

Bytes go in as they arrive (split anywhere, even inside a UTF-8 sequence); complete `data`
payloads come out. Comments (`: keep-alive`) and blank keep-alive lines are dropped here; the
idle timeout is reset by the bytes themselves, one layer down.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

DONE = "[DONE]"


class SSEParser:
    """Feed raw bytes, get back the data payload of each complete event."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[str]:
        self._buffer += self._decoder.decode(chunk)
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return
            line, rest = cut
            self._buffer = rest
            event = self._line(line)
            if event is not None:
                yield event

    def close(self) -> Iterator[str]:
        """End of stream: a final event without its blank line still counts."""
        self._buffer += self._decoder.decode(b"", final=True)
        if self._buffer:
            event = self._line(self._buffer)
            self._buffer = ""
            if event is not None:
                yield event
        if self._data:
            yield self._flush()

    def _line(self, line: str) -> str | None:
        if line == "":
            return self._flush() if self._data else None
        if line.startswith(":"):
            return None  # comment, e.g. ": keep-alive"
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        return None  # event:, id:, retry: carry nothing DeepSeek uses

    def _flush(self) -> str:
        data = "\n".join(self._data)
        self._data = []
        return data


def _line_end(buffer: str) -> tuple[str, str] | None:
    """Split off one line ended by \\n, \\r\\n or \\r (a lone \\r at the end may be half a \\r\\n)."""
    n = buffer.find("\n")
    r = buffer.find("\r", 0, n if n >= 0 else len(buffer))
    if r < 0:
        return None if n < 0 else (buffer[:n], buffer[n + 1 :])
    if r + 1 == len(buffer):
        return None
    skip = 2 if buffer[r + 1] == "\n" else 1
    return buffer[:r], buffer[r + skip :]
