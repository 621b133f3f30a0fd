"""How a job's output reaches this client: decided here, once, from what the client announced.

Our own clients (VS Code, Neovim) announce `capabilities.experimental.deepseek.stream: true`
and get `deepseek/stream` notifications, streamed rewrite edits and their own views. Every other
LSP client (eglot, lsp-mode, Helix, Zed, Kate, Sublime) gets the same jobs through standard LSP
only: an explanation as a Markdown document, feedback as messages when it has no work-done
progress, a rewrite as one edit when it is complete. Features read the decision; they never
look at the client's capabilities themselves. No pygls here: the glue hands in plain facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["auto", "stream", "standard"]


@dataclass(frozen=True)
class ClientFacts:
    """What the client said in `initialize`, as plain values."""

    name: str | None = None  # clientInfo.name
    stream: bool = False  # experimental.deepseek.stream: it renders `deepseek/stream`
    work_done_progress: bool = False  # window.workDoneProgress
    show_document: bool = False  # window.showDocument.support
    text_document_content: bool = False  # workspace.textDocumentContent (LSP 3.18)
    hover_markdown: bool = True  # textDocument.hover.contentFormat lists markdown (or is absent)
    apply_edit: bool = True  # workspace.applyEdit


@dataclass(frozen=True)
class Presentation:
    """The decision for one client: what the server sends, and how."""

    stream: bool  # send `deepseek/stream` notifications
    progress: bool  # send work-done progress
    messages: bool  # a window/showMessage when a job starts waiting and when it ends
    hover_markdown: bool  # hovers in Markdown (else plain text)
    explain_document: bool  # open each explanation as a Markdown document
    rewrite_edits: Literal["stream", "final"]  # stream edits as they come, or one edit when complete


def decide(facts: ClientFacts, mode: Mode = "auto") -> Presentation:
    plugin = facts.stream if mode == "auto" else mode == "stream"
    return Presentation(
        stream=plugin,
        progress=facts.work_done_progress,
        messages=not plugin and not facts.work_done_progress,
        hover_markdown=facts.hover_markdown,
        explain_document=not plugin,
        rewrite_edits="stream" if plugin else "final",
    )
