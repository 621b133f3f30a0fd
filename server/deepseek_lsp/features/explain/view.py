"""Explanations for clients without our renderer (eglot, lsp-mode, Helix, Kate...).

The job host calls this view only for such clients (see `presentation.py`). Each explanation
becomes a Markdown document in the user cache folder, written as it streams; then, as the
presentation says: opened with `window/showDocument` (a `deepseek-explain:` URI the client
reads with `workspace/textDocumentContent` when it can, so it needs no file reloading, else the
file), or, for a client with neither, shown complete in one plain-text `window/showMessage`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from lsprotocol import types

from ...explain.document import Subject, cache_dir, message, prune, render
from ...explain.writer import DocumentWriter
from ...jobs import Job
from ...presentation import ExplainView, Presentation

if TYPE_CHECKING:
    from ...server import DeepSeekLanguageServer

log = logging.getLogger(__name__)

SCHEME = "deepseek-explain"
KEEP = 16  # documents of finished explanations kept in memory (served on textDocumentContent)
SHOW_TIMEOUT = 10.0  # seconds a client may take to answer window/showDocument


@dataclass
class _Document:
    job: Job
    subject: Subject
    path: Path
    route: ExplainView  # "virtual", "file" or "message"
    writer: DocumentWriter
    shown: bool = False

    @property
    def virtual_uri(self) -> str:
        return f"{SCHEME}:/{quote(self.path.name)}"

    @property
    def target(self) -> str:
        """What window/showDocument opens."""
        return self.virtual_uri if self.route == "virtual" else self.path.as_uri()

    def text(self) -> str:
        job = self.job
        error = job.error.message if job.error else None
        return render(self.subject, job.text, job.state, error)


class ExplainDocuments:
    """Every explanation's document, for the job host (`LspJobHost.views["explain"]`)."""

    def __init__(self, ls: DeepSeekLanguageServer) -> None:
        self.ls = ls
        self.folder = cache_dir(ls.services.env)
        self.docs: dict[str, _Document] = {}  # jobId -> its document, oldest first
        self._pruned = False

    # -- the job host's calls ------------------------------------------------------------------
    def update(self, job: Job, presentation: Presentation) -> None:
        """New text: the document (created at the job's first notification, when the request
        is about to go out; a refused request makes none) is written again soon."""
        if job.finished:
            return  # `finish` writes the last version
        doc = self.docs.get(job.id) or self._create(job, presentation)
        if doc is not None:
            doc.writer.update(doc.text())

    async def finish(self, job: Job, presentation: Presentation) -> str | None:
        doc = self.docs.get(job.id)
        if doc is None:
            return None  # refused before anything was sent: the error says it all
        written = await doc.writer.close(doc.text())
        path = doc.path if written else None
        if doc.route == "virtual":
            self._refresh(doc)
        if doc.route in ("file", "virtual") and not doc.shown and job.state == "done":
            doc.route = "message"  # could not be opened: the message is the only way left
        if job.state == "done":
            if doc.route == "message":
                self._info(message(doc.subject, job.text, path))
                return None
            return f"done: {path}" if path is not None else "done"
        if job.state == "cancelled":
            return f"cancelled; the text so far is in {path}" if path is not None else "cancelled"
        return None

    def show_again(self, job: Job, presentation: Presentation) -> None:
        """Explain again on the range a running explanation holds: no second request; its
        document is shown again (or, for a message, the user is told it is coming)."""
        doc = self.docs.get(job.id)
        if doc is not None and doc.route != "message":
            if doc.shown:
                self._show(doc)
            return
        subject = doc.subject if doc is not None else _subject(job)
        if subject is not None:
            self._info(
                f"DeepSeek: Explain — already explaining {subject.file_name}, {subject.where}; "
                "the explanation follows when it is complete."
            )

    # -- workspace/textDocumentContent -------------------------------------------------------
    async def content(self, uri: str) -> str | None:
        """The text of a `deepseek-explain:` document: the newest explanation of that name in
        this session, else the file a previous session left in the cache folder."""
        name = unquote(urlsplit(uri).path).lstrip("/")
        if not name or "/" in name or name.startswith("."):
            return None
        for doc in reversed(self.docs.values()):
            if doc.path.name == name:
                return doc.text()
        try:
            return await asyncio.to_thread((self.folder / name).read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    # -- inside ------------------------------------------------------------------------------
    def _create(self, job: Job, presentation: Presentation) -> _Document | None:
        subject = _subject(job)
        if subject is None:
            return None
        path = self.folder / subject.name
        doc = _Document(
            job=job,
            subject=subject,
            path=path,
            route=presentation.explain_view if presentation.explain_view != "stream" else "message",
            writer=DocumentWriter(path),
        )
        doc.writer.on_written = lambda _text: self._written(doc)
        self.docs[job.id] = doc
        finished = [k for k, d in self.docs.items() if d.job.finished]
        for key in finished[: max(0, len(finished) - KEEP)]:
            del self.docs[key]
        if not self._pruned:
            self._pruned = True
            self.ls.background(asyncio.to_thread(prune, self.folder))
        return doc

    def _written(self, doc: _Document) -> None:
        """After each write: open the document once the file exists; refresh a virtual one."""
        if doc.route == "message":
            return
        if not doc.shown:
            doc.shown = True
            self._show(doc)
        elif doc.route == "virtual":
            self._refresh(doc)

    def _show(self, doc: _Document) -> None:
        self.ls.background(self._show_document(doc))

    async def _show_document(self, doc: _Document) -> None:
        # take_focus false: the user's keys stay in their code (never typed into the document
        # being written); external false: the editor, not a browser, shows Markdown
        params = types.ShowDocumentParams(uri=doc.target, external=False, take_focus=False)
        try:
            result = await asyncio.wait_for(self.ls.window_show_document_async(params), SHOW_TIMEOUT)
        except Exception as exc:
            log.info("window/showDocument %s failed: %s", doc.target, type(exc).__name__)
            ok = False
        else:
            ok = bool(result and result.success)
        if not ok:
            doc.route = "message"  # the explanation will come as a message instead
            doc.shown = False

    def _refresh(self, doc: _Document) -> None:
        self.ls.background(self._refresh_content(doc))

    async def _refresh_content(self, doc: _Document) -> None:
        params = types.TextDocumentContentRefreshParams(uri=doc.virtual_uri)
        try:
            await asyncio.wait_for(
                self.ls.workspace_text_document_content_refresh_async(params), SHOW_TIMEOUT
            )
        except Exception as exc:
            log.debug("workspace/textDocumentContent/refresh failed: %s", type(exc).__name__)

    def _info(self, text: str) -> None:
        self.ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=text))


def _subject(job: Job) -> Subject | None:
    rng = job.data.get("explained") or job.range
    if job.uri is None or not isinstance(rng, dict):
        return None
    return Subject.of(job.uri, rng)
