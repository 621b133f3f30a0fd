"""Slash commands and references as typed in the chat box."""

from __future__ import annotations

from deepseek_lsp.chat import commands as c


def test_commands_and_aliases() -> None:
    p = c.parse("/explain what is this?")
    assert p.command is not None and p.command.name == "explain" and p.argument == "what is this?"
    assert c.parse("/docs").command.name == "doc"  # type: ignore[union-attr]
    assert c.parse("  /TESTS please").command.name == "tests"  # type: ignore[union-attr]
    assert c.parse("/frobnicate").unknown == "frobnicate"
    assert c.parse("/usr/bin/env is missing").command is None
    assert c.parse("/usr/bin/env is missing").unknown is None
    assert c.parse("what about /explain?").command is None


def test_references() -> None:
    refs = c.parse(
        'see #selection and #file:src/a.py, #file:"my dir/b.py" plus #diagnostics #buffer'
    ).references
    assert [r.label for r in refs] == [
        "#selection",
        "#file:src/a.py",
        "#file:my dir/b.py",
        "#diagnostics",
        "#buffer",
    ]
    assert c.Reference("file", "my dir/b.py") in refs
    assert c.parse("#file").references == (c.Reference("buffer"),)
    assert c.parse("issue#selection and C#").references == ()
    assert c.parse("#selection #selection").references == (c.Reference("selection"),)


def test_implied_references() -> None:
    fix = c.parse("/fix")
    assert c.references_for(fix, has_document=True, has_selection=True) == (
        c.Reference("selection"),
        c.Reference("diagnostics"),
    )
    assert c.references_for(fix, has_document=True, has_selection=False) == (
        c.Reference("buffer"),
        c.Reference("diagnostics"),
    )
    plain = c.parse("hello")
    assert c.references_for(plain, has_document=False, has_selection=False) == ()
    assert c.references_for(plain, has_document=True, has_selection=True) == (c.Reference("selection"),)
    named = c.parse("only #diagnostics")
    assert c.references_for(named, has_document=True, has_selection=True) == (c.Reference("diagnostics"),)


def test_compose_puts_attachments_first_and_the_question_last() -> None:
    a = c.Attachment("#selection", "a.py, lines 1-2", c.fenced("x = 1", "python"))
    text = c.compose(c.parse("/explain why 1?"), [a])
    assert text.startswith("#selection (a.py, lines 1-2):\n```python\nx = 1\n```")
    assert text.endswith("Mention bugs or risks you notice.\n\nwhy 1?")
    assert c.compose(c.parse("just text"), []) == "just text"


def test_fences_survive_backticks() -> None:
    assert c.fenced("a\n```\nb", "md").startswith("````md\n")


def test_think_and_model_options() -> None:
    ch = c.think_option("max", {}, "off")
    assert ch.changed and ch.options == {"thinking": True, "effort": "max"}
    ch = c.think_option("off", ch.options, "off")
    assert ch.options == {"thinking": False}
    assert c.think_option("default", ch.options, "off").options == {}
    assert not c.think_option("banana", {}, "off").changed
    assert "off (the `deepseek.thinking` setting)" in c.think_option("", {}, "off").message
    m = c.model_option("deepseek-v4-pro", {}, "deepseek-chat", ["deepseek-chat", "deepseek-v4-pro"])
    assert m.changed and m.options == {"model": "deepseek-v4-pro"}
    assert not c.model_option("nope", {}, "deepseek-chat", ["deepseek-chat"]).changed
    assert "deepseek-chat" in c.model_option("", {}, "deepseek-chat", []).message


def test_help_lists_everything() -> None:
    text = c.help_text()
    for name in c.COMMANDS:
        assert f"/{name}" in text
    assert "#file:path" in text
