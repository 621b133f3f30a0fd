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

How the edits go out is an `EditPolicy`, decided by the glue from the client's presentation:
streamed as the answer comes (our own clients), or one edit once the code is complete (any other
LSP client, which may ask the user to confirm each `workspace/applyEdit`: a person's "no" must be
asked once, and their answer may take minutes).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..positions import Encoding, Pos
from .pacer import Pacer
from .region import Edit, Region

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 2.0  # Neovim sends didChange debounced (150 ms by default)
MAX_FAILURES = 5
RESTORE_DEADLINE = 40.0  # seconds a restore keeps trying (an editor may answer 5 s late each time)
APPLY_TIMEOUT = 10.0  # seconds to wait for the answer to one streamed workspace/applyEdit
FINAL_APPLY_TIMEOUT = 300.0  # one edit: a person may be reading a "Proceed?" prompt

Send = Callable[[Edit], Awaitable[bool | None]]


@dataclass(frozen=True)
class EditPolicy:
    """How a rewrite's edits reach the document: a value the glue decides, never a capability
    the session looks at itself."""

    stream: bool = True  # edit while the answer streams; False: one edit once the code is complete
    max_refusals: int = MAX_FAILURES  # refusals in a row the document moving on does not explain
    apply_timeout: float = APPLY_TIMEOUT  # seconds to wait for the editor's answer to one edit
    # after a cancel: how long to wait for an edit in flight (None: for its answer)
    settle_timeout: float | None = None
    # a refusal naming the version: how long to wait for the didChange behind it
    refusal_grace: float = 0.0
    # `applied: true` with no didChange yet is taken as applied (the edit stays pending, and
    # nothing is verified back until its didChange shows it): eglot sends didChange only once
    # the user is idle again, which after a server edit means after their next key press
    trust_applied: bool = False

    @property
    def restore_timeout(self) -> float:
        """How long putting the original back may take, answers included (45 s when streaming)."""
        return self.apply_timeout + 35.0


STREAM = EditPolicy()
FINAL = EditPolicy(
    stream=False,
    max_refusals=1,
    apply_timeout=FINAL_APPLY_TIMEOUT,
    settle_timeout=1.0,
    refusal_grace=2.0,
    trust_applied=True,
)
TIMEOUTS_ENV = "DEEPSEEK_LSP_APPLY_TIMEOUTS"  # "<streamed>,<one edit>" seconds (tests shorten them)


def edit_policy(edits: Literal["stream", "final"], environ: Mapping[str, str] | None = None) -> EditPolicy:
    """The policy for a client's `rewrite_edits` decision; `$DEEPSEEK_LSP_APPLY_TIMEOUTS` may
    change the two answer timeouts, so tests of a slow "Proceed?" need not wait minutes."""
    policy = STREAM if edits == "stream" else FINAL
    raw = (os.environ if environ is None else environ).get(TIMEOUTS_ENV, "")
    parts = raw.split(",")
    if len(parts) == 2:
        try:
            streamed, final = (float(x) for x in parts)
        except ValueError:
            log.warning("%s=%r: expected two numbers of seconds, e.g. 10,300", TIMEOUTS_ENV, raw)
        else:
            timeout = streamed if policy.stream else final
            if timeout > 0:
                policy = replace(policy, apply_timeout=timeout)
    elif raw:
        log.warning("%s=%r: expected two numbers of seconds, e.g. 10,300", TIMEOUTS_ENV, raw)
    return policy


class DocumentChanged(Exception):
    """The user edited inside the region: stop and leave their text alone."""


class EditRefused(Exception):
    """The client refused our edits (again and again, or once where a person is asked)."""

    def __init__(self, reason: str | None = None, *, unanswered: bool = False) -> None:
        super().__init__(reason or ("no answer" if unanswered else "refused"))
        self.reason = reason  # the client's own words, when it gave any
        self.unanswered = unanswered  # the last edit got no answer at all


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
        policy: EditPolicy = STREAM,
    ) -> None:
        self.region = region
        self.policy = policy
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
        self._last: tuple[Edit, bool | None] | None = None  # the last edit sent, and its answer
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
        if not self.verified(text) and self.unconfirmed != text:
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
        failures = refusals = 0
        while not self._stopping:
            if self.region.broken:
                raise DocumentChanged
            if not self.policy.stream and not self.final:
                await _wait(self._wake, None)  # one edit, once the code is complete
                continue
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
                failures = refusals = 0
                if self._on_applied is not None:
                    self._on_applied()
            else:
                failures += 1
                if not await self._stale():
                    refusals += 1
                if failures >= self.max_failures or refusals >= self.policy.max_refusals:
                    raise self._refused()
                await asyncio.sleep(min(0.5, 0.02 * 2**failures))

    async def _stale(self) -> bool:
        """Whether the last edit failed because the document moved on under it (the user typed
        first: retry on the current version) rather than because the editor, or a person asked
        to confirm it, said no. An editor that sends its didChange late (eglot waits for 0.5 s
        of idle) and names the version in its refusal is given `refusal_grace` to show it."""
        if self._last is None:
            return False
        edit, applied = self._last
        if applied is None:
            return False  # no answer at all: nothing says it was stale
        if edit.dead:
            return True
        if edit.version is None:
            return False
        if self.region.version != edit.version:
            return True
        reason = (edit.refusal or "").lower()
        grace = self.policy.refusal_grace
        if grace > 0 and "version" in reason:
            deadline = self.clock() + grace
            while self.region.version == edit.version and not self.region.broken:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    break
                await _wait(self._changed, remaining)
        return self.region.version != edit.version

    def _refused(self) -> EditRefused:
        if self._last is None:
            return EditRefused()
        edit, applied = self._last
        return EditRefused(edit.refusal, unanswered=applied is None)

    # -- one edit --------------------------------------------------------------------------
    async def _push(self, target: str) -> bool:
        """Send the edit to `target`; True once the client's didChange showed it."""
        edit = self.region.edit_to(target)
        if edit is None:
            return True
        self.region.pending = edit
        self._inflight = asyncio.ensure_future(self._send(edit))
        applied = await asyncio.shield(self._inflight)
        self._last = (edit, applied)
        return await self._confirm(edit, applied)

    @property
    def unconfirmed(self) -> str | None:
        """What the region holds once the edit the client said it applied, and has not shown in
        a didChange yet, shows (None when there is no such edit)."""
        edit = self.region.pending
        if edit is None or not edit.applied or edit.seen or edit.dead or self.region.broken:
            return None
        shown = self.region.current
        return shown[: edit.rel_start] + edit.text + shown[edit.rel_end :]

    @property
    def shown(self) -> str:
        """What the region holds, or will hold once the client's didChange shows our edit."""
        unconfirmed = self.unconfirmed
        return self.region.current if unconfirmed is None else unconfirmed

    async def _confirm(self, edit: Edit, applied: bool | None) -> bool:
        edit.applied = applied
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
        if applied and self.policy.trust_applied and self.unconfirmed is not None:
            log.info("the client applied an edit and has not sent its didChange yet: taken as applied")
            self._inflight = None
            return True  # stays pending: its didChange is recognised as ours whenever it comes
        if self.region.pending is edit and (applied is not None or edit.seen or edit.dead):
            self.region.pending = None
        self._inflight = None
        if edit.seen:
            self.edits += 1
        return edit.seen

    async def _settle(self) -> None:
        """After a cancellation: wait for the edit that was in flight to land or die, however
        late the editor answers (the send itself is bounded by the glue's apply timeout).

        With `settle_timeout` (one edit, maybe behind a person's "Proceed?") the wait is short:
        an edit still unanswered then has not landed, stays pending, and is recognised (and
        undone, see `undo_stray`) if it lands later."""
        edit, inflight = self.region.pending, self._inflight
        if edit is None or inflight is None:
            if edit is not None and (edit.seen or edit.dead):
                self.region.pending = None
            return
        await asyncio.wait({inflight}, timeout=self.policy.settle_timeout)
        if not inflight.done():
            return
        applied = None if inflight.cancelled() or inflight.exception() else inflight.result()
        self._last = (edit, applied)
        await self._confirm(edit, applied)

    def verified(self, text: str) -> bool:
        """The region holds `text` and the server's own copy of the document agrees (never while
        an edit the client applied has not shown: the client then holds something else)."""
        if self.region.broken or self.unconfirmed is not None or self.region.current != text:
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
        refusals = 0
        while self.unconfirmed is not None:  # applied, not shown: nothing is known until it shows
            remaining = give_up - self.clock()
            if remaining <= 0:
                log.info("restoring the original: the client never showed an edit it applied")
                return False
            await _wait(self._changed, remaining)
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
                failures = refusals = 0
                continue
            failures += 1
            if not await self._stale():
                refusals += 1
            if failures >= self.max_failures or refusals >= self.policy.max_refusals:
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
        inflight = self._inflight
        deadline = self.clock() + watch
        while not (edit.seen or edit.dead or self.region.broken):
            if inflight is not None and inflight.done() and not edit.seen:
                refused = (
                    inflight.cancelled() or inflight.exception() is not None or inflight.result() is False
                )
                if refused:
                    break  # the editor (or a person) said no: it will never land
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            await _wait_any(self._changed, inflight, remaining)
        if self.region.pending is edit:
            self.region.pending = None
        if not edit.seen:
            return None
        log.info("an edit the client never answered landed after all: undoing it")
        return await self.restore()


async def _wait_any(
    event: asyncio.Event, future: asyncio.Future[bool | None] | None, timeout: float | None
) -> None:
    """Wait for `event` (cleared first), `future` to resolve, or the timeout."""
    if future is None or future.done():
        await _wait(event, timeout)
        return
    event.clear()
    waiter = asyncio.ensure_future(event.wait())
    either: set[asyncio.Future[Any]] = {waiter, future}
    try:
        await asyncio.wait(either, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


async def _wait(event: asyncio.Event, timeout: float | None) -> None:
    """Wait for `event` (cleared first) or the timeout; unlike wait_for, never swallows a
    cancellation."""
    event.clear()
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
