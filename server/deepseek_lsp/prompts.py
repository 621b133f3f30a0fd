"""What we ask the model, laid out for DeepSeek's context cache.

DeepSeek caches prompt prefixes from token 0. So every action shares ONE system prompt, the
file's context (stable while the user works in one file) comes next, and only the end of the
last message changes between requests: the selection and the task. No timestamps, no ids.
"""

from __future__ import annotations

from dataclasses import dataclass

# One prompt for every model: it names no model, so a local or third-party model behind a generic
# OpenAI-compatible server is never told it is DeepSeek (and DeepSeek's models know who they are).
SYSTEM_PROMPT = """\
You are an expert programmer working inside the user's code editor through deepseek-lsp.
You receive context from the user's project (file path, language, surrounding code, diagnostics),
then the code the user selected and a task. Follow the task's output rules exactly.
- Explanations: concise Markdown for a developer; lead with what the code does, then how and why;
  mention bugs or risks you notice. Use short code spans; do not repeat the whole selection.
- Rewrites: output ONLY the replacement code for the selection, no Markdown fences, no commentary,
  keeping the selection's indentation style and the file's conventions.
- Chat: answer as a helpful senior engineer; use Markdown and fenced code blocks with a language."""


@dataclass(frozen=True)
class PromptContext:
    """The parts of a prompt; built by context.build_context and the feature."""

    path: str
    language: str
    file_context: str
    selection: str
    location: str = ""  # e.g. "lines 10-24"


def context_block(ctx: PromptContext) -> str:
    """The stable head of the user message: identical for every action on the same editor state.

    It starts with the project-wide parts (instructions, other open files), so requests about
    different files still share them; the file's own name comes later, with the selection.
    """
    return f"{ctx.file_context.rstrip()}\n" if ctx.file_context else ""


def selection_block(ctx: PromptContext) -> str:
    where = f", {ctx.location}" if ctx.location else ""
    return f"\nSelected code ({ctx.path}{where}, {ctx.language}):\n```{ctx.language}\n{ctx.selection}\n```\n"


EXPLAIN_TASK = (
    "Task: explain the selected code. Start with one sentence saying what it does, then the "
    "details that matter. Keep it short."
)


def explain_messages(ctx: PromptContext) -> list[dict[str, str]]:
    return task_messages(ctx, EXPLAIN_TASK)


def task_messages(ctx: PromptContext, task: str) -> list[dict[str, str]]:
    user = context_block(ctx) + selection_block(ctx) + "\n" + task.strip()
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]
