"""Suggestions remembered per document, so some positions need no request at all.

Two cases answer without DeepSeek:
- a repeated position: the same FIM prompt and suffix (`FimPrompt.key`) gets the same answer,
  including "no suggestion";
- typing into a suggestion: when the document differs from the one a suggestion was made for
  only by characters typed at its position, and they are the suggestion's first characters,
  the rest of it is the answer. The glue stores an answer when it arrives, so this holds for a
  suggestion that was still pending while the user typed, too.

A position is recognised by the text on both sides of it (bounded), not by document versions,
so nothing has to be invalidated: an edit elsewhere near the cursor simply stops matching.
Memory is bounded: a few entries per document and a bounded number of documents.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

CONTEXT_CHARS = 256
MAX_ENTRIES = 16
MAX_DOCUMENTS = 64


@dataclass(frozen=True, slots=True)
class Position:
    """A cursor at `offset` and the text just before and after it."""

    offset: int
    before: str
    after: str

    @classmethod
    def at(cls, text: str, offset: int, context: int = CONTEXT_CHARS) -> Position:
        """The position at `offset` (a `str` offset) in `text`."""
        return cls(offset, text[max(0, offset - context) : offset], text[offset : offset + context])

    def typed(self, text: str, offset: int, context: int = CONTEXT_CHARS) -> str | None:
        """The characters typed at this position to reach `text` with the cursor at `offset`,
        when that is the only change near it ("" for the same position); None otherwise."""
        if offset < self.offset:
            return None
        start = self.offset - len(self.before)
        if text[start : self.offset] != self.before:
            return None
        if not text.startswith(self.after, offset):
            return None
        if len(self.after) < context and len(text) != offset + len(self.after):
            return None  # the document used to end there
        return text[self.offset : offset]


@dataclass(frozen=True, slots=True)
class Hit:
    """A cached answer: `text` to show (None: known to have no suggestion) after `typed`
    characters of the original suggestion were typed."""

    text: str | None
    typed: int = 0


@dataclass(frozen=True, slots=True)
class _Entry:
    position: Position
    text: str | None


class SuggestionCache:
    """One document's recent suggestions, most recent last (an LRU of `max_entries`)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, context_chars: int = CONTEXT_CHARS) -> None:
        self.max_entries = max_entries
        self.context_chars = context_chars
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def position(self, text: str, offset: int) -> Position:
        """The position to store an answer under (take it when the request is made)."""
        return Position.at(text, offset, self.context_chars)

    def put(self, key: str, position: Position, text: str | None) -> None:
        """Remember the (cleaned) answer for the prompt `key` made at `position`; None or ""
        means no suggestion there."""
        self._entries[key] = _Entry(position, text or None)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get(self, key: str) -> Hit | None:
        """The answer for a repeated prompt, or None when it was never asked."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return Hit(entry.text)

    def lookup(self, text: str, offset: int, key: str | None = None) -> Hit | None:
        """The answer for the cursor at `offset` in `text` without a request: the same prompt
        (`key`) again, or a suggestion whose first characters were typed since (its rest)."""
        if key is not None:
            hit = self.get(key)
            if hit is not None:
                return hit
        for entry in reversed(self._entries.values()):
            if not entry.text or offset <= entry.position.offset:
                continue
            if offset - entry.position.offset >= len(entry.text):
                continue
            typed = entry.position.typed(text, offset, self.context_chars)
            if typed and entry.text.startswith(typed):
                return Hit(entry.text[len(typed) :], len(typed))
        return None

    def clear(self) -> None:
        """Forget every suggestion of this document."""
        self._entries.clear()


class CompletionCaches:
    """A `SuggestionCache` per document URI, for at most `max_documents` documents (LRU)."""

    def __init__(self, max_documents: int = MAX_DOCUMENTS, max_entries: int = MAX_ENTRIES) -> None:
        self.max_documents = max_documents
        self.max_entries = max_entries
        self._documents: OrderedDict[str, SuggestionCache] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    def document(self, uri: str) -> SuggestionCache:
        """The cache of `uri`, created on first use."""
        cache = self._documents.get(uri)
        if cache is None:
            cache = self._documents[uri] = SuggestionCache(self.max_entries)
        self._documents.move_to_end(uri)
        while len(self._documents) > self.max_documents:
            self._documents.popitem(last=False)
        return cache

    def drop(self, uri: str) -> None:
        """Forget a closed document."""
        self._documents.pop(uri, None)
