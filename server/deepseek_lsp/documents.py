"""Open documents that a didChange edits in O(change), for pygls's workspace.

pygls 2's TextDocument re-splits the whole source into lines and rewrites it through a
StringIO on every change (~2 ms on a 20,000-line file, so a burst of keystrokes stalls the
server). `Document` keeps its text as a `positions.Text` instead: a change re-splits only the
lines it touches, and `source` is joined only when something reads it. It also converts
positions with LSP's line ends (\\n, \\r\\n, \\r; pygls's `str.splitlines` also splits on \\f,
\\x85, U+2028...), so it agrees with every other position in this server.

Each document keeps the changes of the last didChange as offsets (`changes_for(params)`), so
trackers of ranges (explanations) follow the user's edits without a copy of the text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace
from pygls.workspace.position_codec import PositionCodec

from .positions import Change, Encoding, Pos, Text, common_ends


def encoding_of(codec: PositionCodec) -> Encoding:
    value = str(getattr(codec.encoding, "value", codec.encoding) or "utf-16")
    return value if value in ("utf-8", "utf-16", "utf-32") else "utf-16"  # type: ignore[return-value]


class Document(TextDocument):
    """A pygls TextDocument whose changes cost O(change); `source`, `lines`, `version` as before."""

    def __init__(self, uri: str, source: str | None = None, **kwargs: Any) -> None:
        super().__init__(uri, source, **kwargs)
        self._text: Text | None = Text(source) if source is not None else None
        self._source = None  # pygls's copy: the text lives in `_text` (and would be kept twice)
        self.event: object | None = None  # the didChange whose changes `changes` holds
        self.changes: list[Change] = []

    @property
    def text(self) -> Text:
        """The text, as a structure that positions and edits are cheap on."""
        if self._text is None:  # not open: what is on disk (pygls reads it on every access)
            self._text = Text(super().source)
        return self._text

    @property
    def source(self) -> str:
        if self._text is None:
            return super().source
        return str(self._text)

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        text, enc, r = self.text, encoding_of(self.position_codec), change.range
        a = text.offset(Pos(r.start.line, r.start.character), enc)
        b = text.offset(Pos(r.end.line, r.end.character), enc)
        self.changes.append(text.replace(min(a, b), max(a, b), change.text))

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        old, new = self.text, change.text
        s = str(old)
        p, q = common_ends(s, new)
        after = Text(new)
        end_line = old.pos(len(s) - q).line
        self.changes.append(
            Change(p, len(s) - q, len(new) - q - p, end_line, after.line_count - old.line_count)
        )
        self._text = after


class DocumentWorkspace(Workspace):
    """pygls's Workspace, holding `Document`s."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return Document(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )

    def update_text_document(
        self,
        text_doc: types.VersionedTextDocumentIdentifier,
        change: types.TextDocumentContentChangeEvent,
    ) -> None:
        doc = self.text_documents.get(unquote(text_doc.uri))
        if isinstance(doc, Document) and doc.event is not text_doc:
            doc.event, doc.changes = text_doc, []  # the first change of a new didChange
        super().update_text_document(text_doc, change)


def install(workspace: Workspace) -> None:
    """Make pygls's workspace (created at `initialize`) hold `Document`s from now on."""
    if not isinstance(workspace, DocumentWorkspace):
        workspace.__class__ = DocumentWorkspace
    docs = workspace.text_documents
    for key, doc in list(docs.items()):
        if not isinstance(doc, Document):
            docs[key] = workspace._create_text_document(doc.uri, doc.source, doc.version, doc.language_id)


def changes_for(
    workspace: Workspace, params: types.DidChangeTextDocumentParams
) -> tuple[Document, list[Change]] | None:
    """The document a didChange edited and its changes as offsets (None: not one of ours, or
    this event's changes are not the ones it holds)."""
    doc = workspace.text_documents.get(unquote(params.text_document.uri))
    if not isinstance(doc, Document) or doc.event is not params.text_document:
        return None
    return doc, doc.changes
