"""When the next streaming edit may go out.

One `workspace/applyEdit` at a time (the caller waits for each), and a new one as soon as a
line was completed since the last, else at most every `interval` seconds: a fast stream
becomes a few large edits instead of one per token, a slow one still shows every line.
The stream's end is sent at once.
"""

from __future__ import annotations

from dataclasses import dataclass

INTERVAL = 0.05


@dataclass
class Pacer:
    interval: float = INTERVAL
    last_sent: float = float("-inf")
    lines_sent: int = 0  # complete lines in the text at the last edit

    def delay(self, now: float, *, pending: bool, lines: int, final: bool) -> float | None:
        """Seconds until an edit is due: None when there is nothing to send, 0 for now."""
        if not pending:
            return None
        if final or lines > self.lines_sent:
            return 0.0
        return max(0.0, self.last_sent + self.interval - now)

    def sent(self, now: float, lines: int) -> None:
        self.last_sent = now
        self.lines_sent = lines
