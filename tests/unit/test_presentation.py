"""The one decision of how jobs reach a client, from what it announced (`presentation.decide`),
and the facts read off `initialize` (`server.client_facts`)."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from deepseek_lsp.presentation import ClientFacts, decide
from deepseek_lsp.server import client_facts


def test_our_clients_get_the_stream_and_nothing_in_its_place() -> None:
    p = decide(ClientFacts(stream=True, work_done_progress=True, show_document=True))
    assert p.stream and p.progress and not p.messages
    assert p.explain_view == "stream" and not p.explain_document and p.rewrite_edits == "stream"


@pytest.mark.parametrize(
    ("facts", "view"),
    [
        (ClientFacts(show_document=True, text_document_content=True), "virtual"),
        (ClientFacts(show_document=True), "file"),
        (ClientFacts(text_document_content=True), "message"),  # nothing to open it with
        (ClientFacts(), "message"),
    ],
)
def test_a_standard_client_gets_explanations_as_it_can_show_them(facts: ClientFacts, view: str) -> None:
    p = decide(facts)
    assert not p.stream and p.explain_view == view and p.explain_document and p.rewrite_edits == "final"


def test_messages_only_without_progress() -> None:
    assert decide(ClientFacts()).messages
    assert not decide(ClientFacts(work_done_progress=True)).messages
    assert decide(ClientFacts(work_done_progress=True)).progress


def test_the_setting_overrides_the_capability() -> None:
    assert decide(ClientFacts(), "stream").stream
    assert not decide(ClientFacts(stream=True), "standard").stream
    assert decide(ClientFacts(stream=True), "standard").explain_view == "message"
    assert not decide(ClientFacts(), "stream").messages  # our renderer shows its own feedback


def test_hover_format_is_the_clients() -> None:
    assert not decide(ClientFacts(hover_markdown=False)).hover_markdown
    assert decide(ClientFacts(stream=True)).hover_markdown


def test_facts_of_eglot_1_9() -> None:
    """eglot 1.9 without markdown-mode: no `window`, plain-text hovers, `experimental: {}`."""
    caps = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.PlainText])
        ),
        workspace=types.WorkspaceClientCapabilities(apply_edit=True),
        experimental={},
    )
    facts = client_facts(caps)
    assert facts == ClientFacts(hover_markdown=False)
    p = decide(facts)
    assert (p.stream, p.progress, p.messages, p.explain_view, p.hover_markdown) == (
        False,
        False,
        True,
        "message",
        False,
    )


def test_facts_of_presets_and_our_capability() -> None:
    caps = client_capabilities("visual-studio-code")
    facts = client_facts(caps, types.ClientInfo(name="Visual Studio Code"))
    assert facts.name == "Visual Studio Code" and not facts.stream
    assert facts.work_done_progress and facts.show_document and facts.hover_markdown
    caps.experimental = {"deepseek": {"stream": True}}
    assert client_facts(caps).stream
    caps.experimental = {"deepseek": {"stream": "yes"}}  # only `true` counts
    assert not client_facts(caps).stream
    assert client_facts(types.ClientCapabilities()) == ClientFacts()
    emacs = client_facts(client_capabilities("emacs"))
    assert emacs.work_done_progress and not emacs.show_document and not emacs.stream


def test_text_document_content_is_read() -> None:
    caps = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            text_document_content=types.TextDocumentContentClientCapabilities()
        ),
        window=types.WindowClientCapabilities(
            show_document=types.ShowDocumentClientCapabilities(support=True)
        ),
    )
    assert decide(client_facts(caps)).explain_view == "virtual"
