"""What the user typed: slash commands and `#` references, as users of chat tools expect.

`/explain`, `/fix`, `/tests`, `/doc`, `/refactor` turn into a task on the attached code;
`/clear`, `/new`, `/compact`, `/help`, `/model`, `/think`, `/rename` act on the session
without asking DeepSeek. `#selection`, `#buffer` (or `#file`), `#diagnostics` and
`#file:path` attach code; the glue resolves them (through the shared context builder, which
masks secrets) and this module lays the message out: attachments first, the question last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

RefKind = Literal["selection", "buffer", "diagnostics", "file"]
EFFORTS = ("low", "high", "max")  # what DeepSeek documents for reasoning_effort


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    local: bool = False
    task: str = ""  # the instruction a prompt command sends
    implies: tuple[RefKind, ...] = ()  # attached when the message names no reference
    usage: str = ""


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "explain",
            "Explain the selected code (or the file).",
            task="Explain this code: what it does, then how and why. Mention bugs or risks you notice.",
            implies=("selection",),
        ),
        Command(
            "fix",
            "Find and fix the problems in the selected code, using the diagnostics.",
            task="Fix the problems in this code (the diagnostics are attached when there are any). "
            "Say briefly what was wrong, then give the corrected code in one fenced block.",
            implies=("selection", "diagnostics"),
        ),
        Command(
            "tests",
            "Write unit tests for the selected code.",
            task="Write unit tests for this code with the test framework the project most likely "
            "uses. Cover the main paths and edge cases. Give the tests in one fenced block.",
            implies=("selection",),
        ),
        Command(
            "doc",
            "Write documentation (docstrings/comments) for the selected code.",
            task="Write documentation for this code in the language's usual docstring or comment "
            "style. Give the documented code in one fenced block.",
            implies=("selection",),
        ),
        Command(
            "refactor",
            "Suggest a cleaner version of the selected code.",
            task="Refactor this code for clarity and maintainability without changing its "
            "behaviour. Explain the changes briefly, then give the code in one fenced block.",
            implies=("selection",),
        ),
        Command("clear", "Start over in this session: earlier messages are no longer sent.", local=True),
        Command("new", "Start a new session (the reply carries its sessionId).", local=True),
        Command("compact", "Summarise the conversation so far to save context.", local=True),
        Command("model", "Show or set this session's model.", local=True, usage="/model [name]"),
        Command(
            "think",
            "Show or set thinking for this session.",
            local=True,
            usage="/think [on|off|default|low|high|max]",
        ),
        Command("rename", "Rename this session.", local=True, usage="/rename <title>"),
        Command("help", "List commands and references.", local=True),
    )
}
ALIASES = {
    "docs": "doc",
    "docstring": "doc",
    "test": "tests",
    "reset": "clear",
    "title": "rename",
    "thinking": "think",
    "?": "help",
}

REFERENCE_HELP = (
    ("#selection", "the selected code (with the surrounding file context)"),
    ("#buffer", "the whole current file (also #file)"),
    ("#file:path", "another file of the workspace, by path relative to its root"),
    ("#diagnostics", "the current file's diagnostics"),
)

_COMMAND = re.compile(r"^\s*/(\S+)(?:[ \t]+|$)")
_REFERENCE = re.compile(r"(?<![\w#])#(selection|buffer|file|diagnostics)(?::(\"[^\"]+\"|\S+))?")


@dataclass(frozen=True)
class Reference:
    kind: RefKind
    path: str | None = None

    @property
    def label(self) -> str:
        return f"#file:{self.path}" if self.path else f"#{self.kind}"


@dataclass(frozen=True)
class Parsed:
    """A message taken apart; `text` is what remains after the command word."""

    message: str
    text: str
    command: Command | None = None
    unknown: str | None = None  # a /word that is no command (sent as typed)
    references: tuple[Reference, ...] = ()

    @property
    def argument(self) -> str:
        return self.text.strip()


def parse(message: str) -> Parsed:
    command: Command | None = None
    unknown: str | None = None
    text = message
    match = _COMMAND.match(message)
    if match:
        word = match.group(1).lower()
        name = ALIASES.get(word, word)
        if name in COMMANDS:
            command = COMMANDS[name]
            text = message[match.end() :]
        elif re.fullmatch(r"[a-z][a-z-]*", word):
            unknown = word
    return Parsed(message, text, command, unknown, find_references(text))


def find_references(text: str) -> tuple[Reference, ...]:
    refs: list[Reference] = []
    for match in _REFERENCE.finditer(text):
        kind, path = match.group(1), match.group(2)
        if path:  # a quoted path may hold spaces; an unquoted one ends before punctuation
            path = path[1:-1] if path.startswith('"') else path.rstrip(",;:!?).'")
        if kind == "file" and not path:
            ref = Reference("buffer")
        elif kind == "file":
            ref = Reference("file", path)
        elif path:  # "#selection:foo" is not ours: leave it as text
            continue
        else:
            ref = Reference(kind)  # type: ignore[arg-type]
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


def references_for(parsed: Parsed, *, has_document: bool, has_selection: bool) -> tuple[Reference, ...]:
    """The references to attach: those named, else what the command or the request implies.

    docs/protocol.md: `uri`/`range` attach that code; a command on no selection takes the file.
    """
    if parsed.references:
        return parsed.references
    implied: list[Reference] = []
    kinds: Sequence[RefKind] = parsed.command.implies if parsed.command else ("selection",)
    for kind in kinds:
        if kind == "selection" and has_selection:
            implied.append(Reference("selection"))
        elif kind == "selection" and has_document:
            implied.append(Reference("buffer"))
        elif kind == "diagnostics" and has_document:
            implied.append(Reference("diagnostics"))
    return tuple(implied)


@dataclass(frozen=True)
class Attachment:
    """A resolved reference, ready to be placed in the message."""

    label: str  # "#selection"
    title: str  # "app.py, lines 3-9"
    body: str
    notes: tuple[str, ...] = ()
    uri: str | None = None

    def render(self) -> str:
        return f"{self.label} ({self.title}):\n{self.body.rstrip()}\n"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "title": self.title}
        if self.uri:
            out["uri"] = self.uri
        if self.notes:
            out["notes"] = list(self.notes)
        return out


class AttachError(Exception):
    """A reference that cannot be attached (unknown file, outside the workspace, excluded)."""


def fenced(code: str, language: str) -> str:
    """A Markdown fence that the code itself cannot close."""
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code.rstrip(chr(10))}\n{fence}"


def unchanged(attachment: Attachment) -> Attachment:
    """An attachment already in the history: a pointer, not the same code twice."""
    return Attachment(
        attachment.label,
        attachment.title,
        "(unchanged since it was attached earlier in this conversation)",
        attachment.notes,
        attachment.uri,
    )


def compose(parsed: Parsed, attachments: Sequence[Attachment]) -> str:
    """The user message as sent: attachments (stable) first, the task and question last."""
    parts = [a.render() for a in attachments]
    ask = parsed.text.strip()
    if parsed.command is not None and parsed.command.task:
        parts.append(parsed.command.task + (f"\n\n{ask}" if ask else ""))
    elif ask:
        parts.append(ask)
    return "\n".join(parts).strip() or parsed.message.strip()


def help_text(models: Sequence[str] = ()) -> str:
    lines = ["**Commands**", ""]
    for c in COMMANDS.values():
        lines.append(f"- `{c.usage or '/' + c.name}`: {c.help}")
    lines += ["", "**References** (attach context anywhere in the message)", ""]
    lines += [f"- `{ref}`: {what}" for ref, what in REFERENCE_HELP]
    if models:
        lines += ["", "**Models**: " + ", ".join(f"`{m}`" for m in models)]
    return "\n".join(lines)


@dataclass
class OptionChange:
    """The outcome of `/model` or `/think`: the session's new options and what to tell the user."""

    options: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    changed: bool = False


def think_option(argument: str, options: dict[str, Any], default: str) -> OptionChange:
    """`/think on|off|default|low|high|max`; an effort implies on."""
    arg = argument.strip().lower()
    opts = dict(options)
    if not arg:
        return OptionChange(opts, f"Thinking for this session: {describe_thinking(opts, default)}.")
    if arg in ("on", "true", "yes", "enable", "enabled"):
        opts["thinking"] = True
    elif arg in ("off", "false", "no", "disable", "disabled"):
        opts["thinking"] = False
        opts.pop("effort", None)
    elif arg in ("default", "auto", "reset"):
        opts.pop("thinking", None)
        opts.pop("effort", None)
    elif arg in EFFORTS:
        opts["thinking"] = True
        opts["effort"] = arg
    else:
        return OptionChange(
            opts,
            f"Unknown `/think` value `{arg}`; use on, off, default or one of {', '.join(EFFORTS)}.",
        )
    return OptionChange(opts, f"Thinking for this session: {describe_thinking(opts, default)}.", True)


def describe_thinking(options: dict[str, Any], default: str) -> str:
    if "thinking" not in options:
        return f"{default} (the `deepseek.thinking` setting)"
    if not options["thinking"]:
        return "off"
    effort = options.get("effort")
    return f"on, effort {effort}" if effort else "on"


def model_option(
    argument: str, options: dict[str, Any], current: str, available: Sequence[str]
) -> OptionChange:
    arg = argument.strip()
    opts = dict(options)
    if not arg:
        listed = f" Available: {', '.join(available)}." if available else ""
        return OptionChange(opts, f"Model for this session: `{current}`.{listed}")
    if arg in ("default", "reset"):
        opts.pop("model", None)
        return OptionChange(opts, "This session now uses the `deepseek.model` setting.", True)
    if available and arg not in available:
        return OptionChange(opts, f"Unknown model `{arg}`. Available: {', '.join(available)}.")
    opts["model"] = arg
    return OptionChange(opts, f"Model for this session: `{arg}`.", True)
