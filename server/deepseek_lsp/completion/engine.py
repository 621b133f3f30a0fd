"""One inline completion request, from the document at a cursor to the text to show there.

The glue hands over plain values (the document's text, the cursor as a `str` offset, settings)
and a `fetch` coroutine that asks the FIM endpoint; nothing here knows pygls or HTTP. A request:

1. `analyze` decides the mode (one line, a block, or nothing inside a comment or string unless
   the user asked), `build_fim` the prompt (with the document's previous anchor, so consecutive
   prompts share their prefix);
2. the document's `SuggestionCache` answers a repeated position, and a position reached by
   typing the start of a suggestion (its rest), without a request;
3. otherwise the scheduler waits for a pause and fetches; a newer request for the document
   cancels the older one's fetch (its HTTP request is closed) unless the text that fetch has
   streamed so far starts with what the user typed since (then the newer request waits for it:
   the suggestion is coming true);
4. the answer is cleaned (`clean`), remembered, and shown only if no newer request for the
   document came meanwhile (a superseded request answers "no suggestion").

The pause to wait for adapts to the user (`Rhythm`): a fixed debounce shorter than the gap
between keystrokes sends a request per keystroke; waiting for 1.5 x the user's usual gap (at
least the debounce, at most 3 x it) sends one per pause in typing.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..secrets import DEFAULT_EXCLUDES
from ..syntax import language_of
from .cache import MAX_DOCUMENTS, CompletionCaches, Position
from .prompt import Anchor, FimPrompt, build_fim
from .quality import CursorContext, analyze, clean, stop_sequences
from .scheduler import CompletionScheduler

# Gaps between keystrokes longer than this are pauses, not the typing rhythm.
RHYTHM_MAX_GAP = 0.5
RHYTHM_SAMPLES = 8
RHYTHM_FACTOR = 1.5
# The adapted wait is at most this many times the debounce (225 ms for 75 ms): a slower typist
# gets a request in some of their gaps (cancelled by the next keystroke), never a long wait.
RHYTHM_CAP = 3.0
# asyncio's timers fire up to ~1 ms late (epoll rounds a timeout up to whole milliseconds): the
# wait is shortened by that much, so the request goes out when the pause is over, not after.
WAKE_EARLY = 0.001


@dataclass(frozen=True, slots=True)
class Options:
    """The settings a request needs (seconds for the debounce)."""

    debounce: float = 0.075
    max_tokens: int = 256
    exclude_patterns: tuple[str, ...] = DEFAULT_EXCLUDES
    mask_secrets: bool = True


@dataclass(frozen=True, slots=True)
class Request:
    """A completion request: `text` is the document, `offset` the cursor (a `str` offset);
    `explicit` is the user asking (no debounce; comments and strings allowed); `path` names the
    file in the prompt (and is matched against exclude patterns); `other_context` holds other
    files' (path, snippet) pairs, most important first."""

    uri: str
    path: str
    language: str
    text: str
    offset: int
    explicit: bool = False
    other_context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Fetch:
    """What `fetch` is asked: the prompt, the stop strings, the output bound; `on_text(text so
    far)` returning True means the rest is not wanted (end the stream)."""

    fim: FimPrompt
    stop: list[str]
    max_tokens: int
    on_text: Callable[[str], bool]


Fetcher = Callable[[Fetch], Awaitable[str | None]]


@dataclass
class Stats:
    """Counts for `deepseek.status`."""

    requests: int = 0  # requests answered (any way)
    suggestions: int = 0  # answers with a suggestion
    cache_answers: int = 0  # answered from the cache, no upstream request
    upstream: int = 0  # FIM requests sent
    superseded: int = 0  # requests a newer one replaced (their fetch cancelled, or never made)
    stopped_early: int = 0  # streams ended once the answer had left the block

    def to_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "suggestions": self.suggestions,
            "cacheAnswers": self.cache_answers,
            "upstream": self.upstream,
            "superseded": self.superseded,
            "stoppedEarly": self.stopped_early,
        }


class Rhythm:
    """The user's usual gap between keystrokes (requests for one document in quick succession),
    and the wait that makes a pause of it."""

    def __init__(self, samples: int = RHYTHM_SAMPLES) -> None:
        self._gaps: deque[float] = deque(maxlen=samples)
        self._last: dict[str, float] = {}

    def observe(self, uri: str, now: float) -> None:
        last = self._last.get(uri)
        self._last[uri] = now
        if len(self._last) > 64:
            self._last.pop(next(iter(self._last)))
        if last is not None and 0 < now - last < RHYTHM_MAX_GAP:
            self._gaps.append(now - last)

    def wait(self, debounce: float) -> float:
        """The debounce, stretched to 1.5 x the usual gap (at most 3 x the debounce); 0 stays 0."""
        if debounce <= 0 or not self._gaps:
            return max(debounce, 0.0)
        usual = statistics.median(self._gaps)
        return min(max(debounce, RHYTHM_FACTOR * usual), RHYTHM_CAP * debounce)


@dataclass
class _Pending:
    """The tag of a scheduled fetch: where it was asked, and the text streamed so far."""

    position: Position
    serial: int
    streamed: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The text to insert at the cursor; `cached` when no request was made for it."""

    text: str
    cached: bool = False


class CompletionEngine:
    """Completion state of one server: per-document caches, anchors and flights."""

    def __init__(
        self,
        fetch: Fetcher,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self.scheduler = CompletionScheduler(sleep=sleep)
        self.caches = CompletionCaches()
        self.rhythm = Rhythm()
        self.stats = Stats()
        self._anchors: dict[str, Anchor] = {}
        self._serials: dict[str, int] = {}

    def forget(self, uri: str) -> None:
        """The document closed: cancel its request, drop its cache."""
        self.scheduler.cancel(uri)
        self.caches.drop(uri)
        self._anchors.pop(uri, None)
        self._serials.pop(uri, None)

    def clear(self) -> None:
        """Settings changed (model, endpoint): answers from before no longer apply."""
        self.scheduler.cancel_all()
        self.caches = CompletionCaches()

    def prepare(self, req: Request, options: Options) -> tuple[CursorContext, FimPrompt] | None:
        """The cursor's context and the prompt; None when nothing is to be asked (a comment or
        string without `explicit`, a secret file). Cheap: a bounded parse and string slicing."""
        lang = language_of(req.language, req.path)
        ctx = analyze(req.text, req.offset, lang, explicit=req.explicit)
        if ctx.mode is None:
            return None
        fim = build_fim(
            req.text,
            req.offset,
            req.language,
            req.path,
            other_context=req.other_context,
            mask_secrets=options.mask_secrets,
            exclude_patterns=options.exclude_patterns,
            anchor_hint=self._anchors.get(req.uri),
        )
        if fim is None:
            return None
        self._anchors[req.uri] = fim.anchor
        return ctx, fim

    async def complete(self, req: Request, options: Options) -> Suggestion | None:
        """The suggestion at the cursor, or None. Supersedes the document's earlier request.
        Exceptions of `fetch` propagate (nothing is remembered then)."""
        serial = self._serials.pop(req.uri, 0) + 1
        self._serials[req.uri] = serial  # most recent last
        if len(self._serials) > MAX_DOCUMENTS:  # documents long unused (closed, most likely)
            old = next(iter(self._serials))
            del self._serials[old]
            self._anchors.pop(old, None)
        self.stats.requests += 1
        arrived = self._clock()
        if not req.explicit:
            self.rhythm.observe(req.uri, arrived)
        cache = self.caches.document(req.uri)
        # typed into a suggestion: its rest, before any parsing (the suggestion may hold a
        # string the user is now inside: it is still the suggestion)
        hit = cache.lookup(req.text, req.offset)
        if hit is None:
            prepared = self.prepare(req, options)
            if prepared is None:
                self._supersede(req.uri)
                return None
            ctx, fim = prepared
            hit = cache.get(fim.key)
            if hit is None:
                # the pause is counted from the request's arrival: the work above is done
                # while the user may still type, not after the pause
                wait = 0.0 if req.explicit else self.rhythm.wait(options.debounce)
                wait = max(0.0, wait - (self._clock() - arrived) - WAKE_EARLY) if wait else 0.0
                return await self._scheduled(req, options, ctx, fim, serial, wait, again=True)
        self._supersede(req.uri)
        self.stats.cache_answers += 1
        return self._shown(hit.text, cached=True)

    async def _scheduled(
        self,
        req: Request,
        options: Options,
        ctx: CursorContext,
        fim: FimPrompt,
        serial: int,
        wait: float,
        *,
        again: bool,
    ) -> Suggestion | None:
        cache = self.caches.document(req.uri)
        pending = _Pending(cache.position(req.text, req.offset), serial)

        def adopt(tag: object) -> bool:
            if not isinstance(tag, _Pending):
                return False
            typed = tag.position.typed(req.text, req.offset)
            return typed is not None and typed != "" and "".join(tag.streamed).startswith(typed)

        async def fetch() -> str | None:
            self.stats.upstream += 1

            def on_text(text: str) -> bool:
                pending.streamed[:] = [text]
                enough = _enough(text, ctx)
                self.stats.stopped_early += enough
                return enough

            answer = await self._fetch(Fetch(fim, stop_sequences(ctx), options.max_tokens, on_text))
            shown = clean(answer, ctx)
            cache.put(fim.key, pending.position, shown)
            return shown

        if self.scheduler.active(req.uri) and not self._adoptable(req.uri, adopt):
            self.stats.superseded += 1
        started = self._clock()
        outcome = await self.scheduler.run(req.uri, fetch, tag=pending, debounce=wait, adopt=adopt)
        if outcome is None or self._serials.get(req.uri) != serial:
            return None  # a newer request for the document took over
        if not outcome.adopted:
            return self._shown(outcome.value)
        hit = cache.lookup(req.text, req.offset)
        if hit is not None:
            self.stats.cache_answers += 1
            return self._shown(hit.text, cached=True)
        if not again:
            return None
        # the suggestion it waited for did not come true: ask for this position
        rest = max(0.0, wait - (self._clock() - started))
        return await self._scheduled(req, options, ctx, fim, serial, rest, again=False)

    def _adoptable(self, uri: str, adopt: Callable[[object], bool]) -> bool:
        tag = self.scheduler.pending(uri)
        return self.scheduler.fetching(uri) and adopt(tag)

    def _supersede(self, uri: str) -> None:
        if self.scheduler.active(uri) and self.scheduler.cancel(uri):
            self.stats.superseded += 1

    def _shown(self, text: str | None, *, cached: bool = False) -> Suggestion | None:
        if not text:
            return None
        self.stats.suggestions += 1
        return Suggestion(text, cached)


def _enough(text: str, ctx: CursorContext) -> bool:
    """True when the answer streamed so far already ends where `clean` will cut it: a line
    completion at its first line end; a block one once a completed line falls outside the
    block (or past the line limit), so the rest need not be generated."""
    nl = text.rfind("\n")
    if nl < 0:
        return False
    if ctx.mode != "block" or ctx.literal:
        return True
    complete = text[:nl].rstrip()
    if "\n" not in complete:
        return False
    shown = clean(complete, ctx)
    kept = 0 if shown is None else shown.replace("\r\n", "\n").count("\n")
    return kept < complete.count("\n")


def options_from(settings: Any) -> Options:
    """`Options` from the server's `Settings` (duck-typed: no import of the settings model)."""
    c = settings.completion
    return Options(
        debounce=c.debounce / 1000,
        max_tokens=c.max_tokens,
        exclude_patterns=tuple(settings.exclude_patterns),
        mask_secrets=settings.mask_secrets,
    )


def language_allowed(language_id: str, path: str | None, languages: Sequence[str]) -> bool:
    """Whether `languages` (languageIds; empty: all) lets completion run for this document."""
    if not languages:
        return True
    return language_id in languages or language_of(language_id, path) in languages
