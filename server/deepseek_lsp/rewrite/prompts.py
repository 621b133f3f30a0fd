"""What each rewrite action asks of DeepSeek.

Only the task text differs between actions; it goes last, after the shared system prompt,
the file context and the selection (`prompts.task_messages`), so the context cache keeps
hitting when the user tries several actions on the same code.

Chat prefix completion (beta) is used when it can be: the reply then starts inside a code
fence we opened, and the stop string ends it at the closing fence, so no prose can come
before or after the code and DeepSeek stops generating (and billing) at once. It is skipped
in thinking mode (reasoning and a prefilled answer do not mix) and for Markdown-like
languages (their code contains fences); if the endpoint refuses it, the plain path follows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..context import DiagnosticInfo
from ..prompts import PromptContext, task_messages
from .code_stream import PROSE_LANGUAGES

BUILTIN = ("refactor", "fix", "docstring", "tests")
TITLES = {"refactor": "Refactor", "fix": "Fix", "docstring": "Add docstring", "tests": "Write tests"}

OUTPUT_RULE = (
    "Output only the code that replaces the selected code: no explanation, no Markdown fences, "
    "no line numbers. Keep the file's conventions and the selection's indentation style."
)
DEFAULT_REFACTOR = (
    "Refactor the selected code for readability and maintainability without changing its "
    "behaviour: clearer names, simpler control flow, no duplication or dead code."
)
DOCSTRING = (
    "Document the selected code: give each function, method, class or module in it that lacks "
    "one a docstring or documentation comment in the convention of {language} (docstrings for "
    "Python, JSDoc for JavaScript/TypeScript, /// for Rust, Go doc comments, ---@ annotations "
    "for Lua...) and in the style the file already uses. Say what it does and why, its "
    "parameters, return value and errors when they are not obvious. Do not change the code "
    "itself."
)
TESTS = (
    "Write unit tests for the selected code, with the test framework and style this project "
    "already uses for {language} (pytest for Python, the testing package for Go, #[cfg(test)] "
    "for Rust, the project's runner for JavaScript/TypeScript). Cover the normal case, edge "
    "cases and errors. The tests will be inserted {where}. Output only the test code, starting "
    "with the imports it needs (importing the code under test from {module} when it is in "
    "another file); no explanation, no Markdown fences."
)
# Fix with no diagnostics (a client that sends none with its code action request, as eglot
# with one server per buffer): the model finds the problem itself.
FIND_AND_FIX = (
    "Fix the problem in the selected code. No diagnostics were reported for it, so first find "
    "what is wrong (a bug, an error it would raise, a wrong result, a typo), then fix it, "
    "changing only what is needed. If nothing is wrong, return the code unchanged."
)
PLACEHOLDERS = re.compile(r"\{(selection|file|language|diagnostics|instruction)\}")


@dataclass(frozen=True)
class Task:
    action: str  # refactor, fix, docstring, tests or a user action's name
    title: str  # for progress: "Refactor", "Write tests", a user action's title
    text: str  # the task paragraph
    insert: bool = False  # tests: the code is inserted, the selection stays


def diagnostics_text(diags: Sequence[DiagnosticInfo]) -> str:
    if not diags:
        return "(none reported)"
    lines = []
    for d in diags:
        where = (
            f"line {d.start_line + 1}"
            if d.start_line == d.end_line
            else (f"lines {d.start_line + 1}-{d.end_line + 1}")
        )
        source = f", {d.source}" if d.source else ""
        lines.append(f"- {where} ({d.severity}{source}): {d.message}")
    return "\n".join(lines)


def fill(template: str, values: dict[str, str]) -> str:
    """Replace {selection}, {file}, {language}, {diagnostics}, {instruction}; other braces stay."""
    return PLACEHOLDERS.sub(lambda m: values[m.group(1)], template)


def build_task(
    action: str | None,
    instruction: str | None,
    ctx: PromptContext,
    diagnostics: Sequence[DiagnosticInfo] = (),
    user_actions: Sequence[Any] = (),
    tests_where: str = "below the selected code, in the same file",
    tests_module: str = "",
) -> Task:
    """The task for an action; `user_actions` are `deepseek.actions` (name, title, prompt)."""
    instruction = (instruction or "").strip()
    extra = f"\nAlso: {instruction}" if instruction else ""
    name = action or "refactor"
    if name == "refactor":
        body = f"Rewrite the selected code as follows: {instruction}" if instruction else DEFAULT_REFACTOR
        return Task("refactor", TITLES["refactor"], f"Task: {body}\n{OUTPUT_RULE}")
    if name == "fix":
        if diagnostics:
            body = (
                "Fix these problems in the selected code, changing only what is needed:\n"
                + diagnostics_text(diagnostics)
            )
        else:
            body = FIND_AND_FIX
        return Task("fix", TITLES["fix"], f"Task: {body}{extra}\n{OUTPUT_RULE}")
    if name == "docstring":
        body = DOCSTRING.format(language=ctx.language)
        return Task("docstring", TITLES["docstring"], f"Task: {body}{extra}\n{OUTPUT_RULE}")
    if name == "tests":
        body = TESTS.format(language=ctx.language, where=tests_where, module=tests_module or ctx.path)
        return Task("tests", TITLES["tests"], f"Task: {body}{extra}", insert=True)
    for user in user_actions:
        if user.name == name:
            values = {
                "selection": ctx.selection,
                "file": ctx.path,
                "language": ctx.language,
                "diagnostics": diagnostics_text(diagnostics),
                "instruction": instruction,
            }
            body = fill(user.prompt, values).strip()
            return Task(name, user.title, f"Task: {body}\n{OUTPUT_RULE}")
    known = ", ".join([*BUILTIN, *(u.name for u in user_actions)])
    raise ValueError(f"unknown action {name!r}; expected one of: {known}")


def messages(ctx: PromptContext, task: Task, *, prefix: bool) -> list[dict[str, Any]]:
    """The request's messages; with `prefix`, a prefilled assistant turn opens a code fence."""
    out: list[dict[str, Any]] = list(task_messages(ctx, task.text))
    if prefix:
        out.append({"role": "assistant", "content": f"```{fence_language(ctx.language)}\n", "prefix": True})
    return out


PREFIX_STOP = ["\n```"]  # the closing fence at a line start; a bare "```" would cut code containing one


def fence_language(language: str) -> str:
    return re.sub(r"[^\w+#.-]", "", language) or ""


def use_prefix(language: str, thinking: bool, setting: bool | None = None) -> bool:
    if setting is not None:
        return setting
    return not thinking and language.lower() not in PROSE_LANGUAGES
