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
# Where an explanation goes: our renderer (`deepseek/stream`), a `deepseek-explain:` document the
# client reads with `workspace/textDocumentContent`, the Markdown file opened with
# `window/showDocument`, or, for a client with neither, one `window/showMessage` when complete.
ExplainView = Literal["stream", "virtual", "file", "message"]


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
    explain_view: ExplainView  # where an explanation goes (see `ExplainView`)
    rewrite_edits: Literal["stream", "final"]  # stream edits as they come, or one edit when complete

    @property
    def explain_document(self) -> bool:
        """Each explanation is written as a Markdown document (every client but ours)."""
        return self.explain_view != "stream"

    def describe(self) -> str:
        """One line for the log: what this client gets."""
        return (
            f"{'deepseek/stream' if self.stream else 'standard LSP'}; explanations: {self.explain_view}; "
            f"progress: {'yes' if self.progress else 'no'}; messages: {'yes' if self.messages else 'no'}; "
            f"hover: {'markdown' if self.hover_markdown else 'plaintext'}; rewrites: {self.rewrite_edits}"
        )


def decide(facts: ClientFacts, mode: Mode = "auto") -> Presentation:
    """`auto`: our renderer only for a client that announced it; `stream`/`standard` force it."""
    plugin = facts.stream if mode == "auto" else mode == "stream"
    view: ExplainView
    if plugin:
        view = "stream"
    elif facts.show_document and facts.text_document_content:
        view = "virtual"  # the client re-reads it on refresh: no file-reload behaviour needed
    elif facts.show_document:
        view = "file"
    else:
        view = "message"
    return Presentation(
        stream=plugin,
        progress=facts.work_done_progress,
        messages=not plugin and not facts.work_done_progress,
        hover_markdown=facts.hover_markdown,
        explain_view=view,
        rewrite_edits="stream" if plugin else "final",
    )
