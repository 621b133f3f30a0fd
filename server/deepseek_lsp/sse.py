"""Incremental Server-Sent Events parsing, as DeepSeek streams them.

Bytes go in as they arrive (split anywhere, even inside a UTF-8 sequence or between a \\r and
its \\n); complete `data` payloads come out. Comments (`: keep-alive`) and blank keep-alive lines
are dropped here; the idle timeout is reset by the bytes themselves, one layer down.

Cost is linear in the bytes fed, however they are split: each chunk is scanned once for line
breaks, and a line that spans chunks is kept as a list of parts joined once when it ends.
"""

from __future__ import annotations

import codecs
import re

DONE = "[DONE]"

_BREAK = re.compile(r"\r\n|\r|\n")


class SSEParser:
    """Feed raw bytes, get back the data payload of each complete event."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []  # the current line so far, when it spans chunks
        self._skip_lf = False  # the last chunk ended in \r: a \n starting the next one is its pair
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        """The data payloads of the events `chunk` completes, in order."""
        return self._text(self._decoder.decode(chunk))

    def _text(self, text: str) -> list[str]:
        if not text:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        events: list[str] = []
        pos = 0
        for m in _BREAK.finditer(text):
            line = text[pos : m.start()]
            if self._partial:
                self._partial.append(line)
                line = "".join(self._partial)
                self._partial = []
            pos = m.end()
            event = self._line(line)
            if event is not None:
                events.append(event)
        if pos < len(text):
            self._partial.append(text[pos:])
        elif text[-1] == "\r":
            self._skip_lf = True
        return events

    def close(self) -> list[str]:
        """End of stream: a final event without its blank line still counts."""
        events = self._text(self._decoder.decode(b"", final=True))
        if self._partial:
            line = "".join(self._partial)
            self._partial = []
            event = self._line(line)
            if event is not None:
                events.append(event)
        if self._data:
            events.append(self._flush())
        return events

    def _line(self, line: str) -> str | None:
        if line == "":
            return self._flush() if self._data else None
        if line[0] == ":":
            return None  # comment, e.g. ": keep-alive"
        field, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
        return None  # event:, id:, retry: carry nothing DeepSeek uses

    def _flush(self) -> str:
        data = "\n".join(self._data)
        self._data = []
        return data
