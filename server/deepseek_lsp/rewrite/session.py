"""One rewrite's edits: stream the target text into the region, or put the original back.

The protocol glue supplies `send(edit) -> applied` (a `workspace/applyEdit`; None when the
client never answered) and forwards the client's `didChange` events; everything else lives
here, so it runs in tests without a server. At most one edit is in flight: the next goes out
once the client's `didChange` showed the previous one (or it is known dead: refused, or
overtaken by the user's typing), so every edit carries the version the client really has.

Restoring is verified, never assumed: an edit that was in flight when the job was cancelled is
waited for (however late the editor answers) before the original is put back; the original
goes back against the document as it is now, again and again until the region holds it byte
for byte and the server's own copy of the document agrees, or the attempt is given up and the
caller must hand the original to the user.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ..positions import Encoding, Pos
from .pacer import Pacer
from .region import Edit, Region

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 2.0  # Neovim sends didChange debounced (150 ms by default)
MAX_FAILURES = 5
RESTORE_DEADLINE = 40.0  # seconds a restore keeps trying (an editor may answer 5 s late each time)

Send = Callable[[Edit], Awaitable[bool | None]]


class DocumentChanged(Exception):
    """The user edited inside the region: stop and leave their text alone."""


class EditRefused(Exception):
    """The client refused our edits again and again."""


class Unverified(Exception):
    """The client showed our final edit, but the server's copy of the document disagrees."""


class Session:
    def __init__(
        self,
        region: Region,
        send: Send,
        *,
        on_applied: Callable[[], None] | None = None,
        document: Callable[[], str | None] | None = None,
        pacer: Pacer | None = None,
        confirm_timeout: float = CONFIRM_TIMEOUT,
        max_failures: int = MAX_FAILURES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.region = region
        self.original = region.current
        self._send = send
        self._on_applied = on_applied
        self._document = document  # the server's own copy of the document, to check against
        self.pacer = pacer or Pacer()
        self.confirm_timeout = confirm_timeout
        self.max_failures = max_failures
        self.clock = clock
        self._target: list[str] | None = None  # in pieces; None: nothing to show, the original stays
        self.lines = 0
        self.final = False
        self.edits = 0  # edits the client applied
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._inflight: asyncio.Future[bool | None] | None = None
        self._rev = 0  # bumped by every new target
        self._shown_rev = 0  # the target revision the region is known to hold

    # -- inputs ----------------------------------------------------------------------------
    def on_change(
        self, changes: list[tuple[Pos, Pos, str] | str], version: int | None, encoding: Encoding
    ) -> None:
        self.region.apply_lsp(changes, version, encoding)
        self._changed.set()
        self._wake.set()

    @property
    def target(self) -> str | None:
        """The text the region should hold, joined once per edit rather than once per token."""
        pieces = self._target
        if pieces is None:
            return None
        if len(pieces) != 1:
            pieces[:] = ["".join(pieces)]
        return pieces[0]

    def extend(self, delta: str, *, lines: int) -> None:
        """Streaming: the target grows by `delta` (O(delta), however long the text already is)."""
        if self._target is None:
            self._target = []
        self._target.append(delta)
        self.lines += lines
        self._rev += 1
        self._wake.set()

    def set_target(self, text: str, *, final: bool = False, lines: int | None = None) -> None:
        """The text the region should hold; while streaming it only grows.

        `lines`: how many lines the model finished with this text. The shaped text holds a
        line's break back until the next line starts, so counting its breaks would send a
        finished line one token late.
        """
        if lines is None:  # O(text): the streaming caller passes `lines`, once per token
            old = self.target or ""
            added = text[len(old) :] if text.startswith(old) else text
            lines = added.count("\n") + added.count("\r") - added.count("\r\n")
        self.lines += lines
        self._target = [text]
        self._rev += 1
        self.final = self.final or final
        self._wake.set()

    # -- streaming -------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def finish(self, text: str) -> None:
        """The final text: wait until the client shows it (raises DocumentChanged/EditRefused)."""
        self.set_target(text, final=True)
        if self._task is None:
            self.start()
        assert self._task is not None
        await self._task
        if not self.verified(text):
            raise Unverified

    async def stop(self) -> None:
        """Stop streaming edits. Python 3.11's wait_for can swallow a cancellation, so the
        loop also checks `_stopping`, and cancelling is repeated until the task is gone."""
        task, self._task = self._task, None
        self._stopping = True
        if task is None:
            return
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)
        if not task.cancelled():
            task.exception()  # retrieved: the caller already handled it

    async def _loop(self) -> None:
        failures = 0
        while not self._stopping:
            if self.region.broken:
                raise DocumentChanged
            pending = self._rev != self._shown_rev  # cheap: no text compared per token
            delay = self.pacer.delay(self.clock(), pending=pending, lines=self.lines, final=self.final)
            if delay is None:
                if self.final:
                    return
                await _wait(self._wake, None)
                continue
            if delay > 0:
                await _wait(self._wake, delay)
                continue
            self.pacer.sent(self.clock(), self.lines)
            assert self.target is not None
            rev = self._rev
            ok = await self._push(self.target)
            if self.region.broken:
                raise DocumentChanged
            if ok:
                self._shown_rev = rev
                failures = 0
                if self._on_applied is not None:
                    self._on_applied()
            else:
                failures += 1
                if failures >= self.max_failures:
                    raise EditRefused
                await asyncio.sleep(min(0.5, 0.02 * 2**failures))

    # -- one edit --------------------------------------------------------------------------
    async def _push(self, target: str) -> bool:
        """Send the edit to `target`; True once the client's didChange showed it."""
        edit = self.region.edit_to(target)
        if edit is None:
            return True
        self.region.pending = edit
        self._inflight = asyncio.ensure_future(self._send(edit))
        applied = await asyncio.shield(self._inflight)
        return await self._confirm(edit, applied)

    async def _confirm(self, edit: Edit, applied: bool | None) -> bool:
        if applied:
            deadline = self.clock() + self.confirm_timeout
            while not (edit.seen or edit.dead or self.region.broken):
                remaining = deadline - self.clock()
                if remaining <= 0:
                    log.info("the client said it applied an edit but never showed it")
                    break
                await _wait(self._changed, remaining)
        # not reached when cancelled above: the edit stays pending for _settle().
        # An edit the client never answered stays pending too: if it lands late, its didChange
        # is still recognised as ours instead of looking like the user's typing.
        if self.region.pending is edit and (applied is not None or edit.seen or edit.dead):
            self.region.pending = None
        self._inflight = None
        if edit.seen:
            self.edits += 1
        return edit.seen

    async def _settle(self) -> None:
        """After a cancellation: wait for the edit that was in flight to land or die, however
        late the editor answers (the send itself is bounded by the glue's apply timeout)."""
        edit, inflight = self.region.pending, self._inflight
        if edit is None or inflight is None:
            if edit is not None and (edit.seen or edit.dead):
                self.region.pending = None
            return
        await asyncio.wait({inflight})
        applied = None if inflight.cancelled() or inflight.exception() else inflight.result()
        await self._confirm(edit, applied)

    def verified(self, text: str) -> bool:
        """The region holds `text` and the server's own copy of the document agrees."""
        if self.region.broken or self.region.current != text:
            return False
        if self._document is None:
            return True
        document = self._document()
        return document is not None and document == self.region.text

    # -- restoring -------------------------------------------------------------------------
    async def restore(self, deadline: float = RESTORE_DEADLINE) -> bool:
        """Put the original text back exactly and check it; False when that cannot be done
        (the user edited inside the region, the editor refuses, or time ran out)."""
        await self.stop()
        await self._settle()
        self._stopping = False
        failures = 0
        give_up = self.clock() + deadline
        while not self.region.broken:
            if self.verified(self.original):
                return True
            if self.clock() > give_up:
                log.info("restoring the original: out of time")
                return False
            if self.region.current == self.original:
                # our replay and the server's copy disagree: nothing an edit can fix
                log.warning("the document does not match the replayed edits; not restoring blindly")
                return False
            if await self._push(self.original):
                failures = 0
                continue
            failures += 1
            if failures >= self.max_failures:
                return False
            await asyncio.sleep(min(0.5, 0.02 * 2**failures))
        return False

    async def undo_stray(self, watch: float) -> bool | None:
        """After a verified restore: an edit the client never answered may still land. If it
        does within `watch` seconds, put the original back again (True/False: restored or not);
        None when there was nothing to watch or it never landed."""
        edit = self.region.pending
        if edit is None or edit.dead:
            return None
        deadline = self.clock() + watch
        while not (edit.seen or edit.dead or self.region.broken):
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            await _wait(self._changed, remaining)
        if self.region.pending is edit:
            self.region.pending = None
        if not edit.seen:
            return None
        log.info("an edit the client never answered landed after all: undoing it")
        return await self.restore()


async def _wait(event: asyncio.Event, timeout: float | None) -> None:
    """Wait for `event` (cleared first) or the timeout; unlike wait_for, never swallows a
    cancellation."""
    event.clear()
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
