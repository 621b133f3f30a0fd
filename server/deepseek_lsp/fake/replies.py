"""The fake's default replies: a plausible answer to what the request asks, with no script.

Tests script exact replies; everything else (the demo, an editor tried against the fake, the
benchmarks) gets these. They read the request the way the language server writes it (see
`prompts.py` and `rewrite/prompts.py`): the selected code sits in the block headed
"Selected code (...)", and the task paragraph after it names the action. So a docstring request
gets the selection back with docstrings added, a refactor the same code with a comment, a tests
request a test function, an explanation names the selected function, and chat a short answer.
Every reply is deterministic and keeps the selection's syntax, so an edit applied in an editor
still parses. Pure text work: no aiohttp here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SIGNATURE = "the fake DeepSeek server"

# How each request's task paragraph starts (after "Task: "), from the server's prompts.
_ACTIONS = (
    ("explain", "explain the selected code"),
    ("docstring", "document the selected code"),
    ("tests", "write unit tests"),
    ("fix", "fix"),
)
_REWRITE_RULE = "output only the code that replaces the selected code"
_SELECTED = re.compile(r"Selected code \((?P<where>[^\n]*)\):\n```(?P<lang>[^\n]*)\n")
_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.S)
_MODIFIERS = r"(?:(?:export|default|pub(?:\([^)]*\))?|async|static|public|private|protected|local)\s+)*"
_DEFINITION = re.compile(
    rf"^[ \t]*{_MODIFIERS}(?P<kind>def|class|function|func|fn|struct|interface|type)\s+"
    r"(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_$][\w$.:]*)",
    re.M,
)
_ASSIGNED = re.compile(
    r"^[ \t]*(?:export\s+)?(?:const|let|var)\s+(?P<name>[A-Za-z_$][\w$]*)\s*=\s*(?:async\s*)?(?:function|\()",
    re.M,
)
_PY_HEADER = re.compile(r"(?P<indent>[ \t]*)(?:async\s+)?(?P<kind>def|class)\s+(?P<name>\w+)")
_HASH = {"python", "ruby", "shell", "bash", "sh", "zsh", "yaml", "toml", "perl", "r", "elixir"}
_HASH |= {"makefile", "dockerfile", "powershell", "nim", "julia", "coffeescript", "cmake"}
_DASH = {"lua", "sql", "haskell", "elm", "ada"}
_MARKUP = {"html", "xml", "markdown", "vue", "svelte"}
_STYLE = {"css", "scss", "less"}


@dataclass(frozen=True)
class Ask:
    """What one request asks: the action, the code it is about and that code's language."""

    action: str  # explain, docstring, tests, fix, refactor (any other rewrite), chat
    code: str  # the selected (or first fenced) code, "" when there is none
    language: str
    task: str  # the task paragraph, "" for chat

    @property
    def name(self) -> str | None:
        """The first function or class the code defines, as a caller would write it."""
        return definition_name(self.code)


def definition_name(code: str) -> str | None:
    """The first definition's name in `code` (def, function, func, fn, class, const f = ...)."""
    found = [m for m in (_DEFINITION.search(code), _ASSIGNED.search(code)) if m]
    if not found:
        return None
    return min(found, key=lambda m: m.start()).group("name")


def read_ask(user: str) -> Ask:
    """Read the action and the selected code from the last user message."""
    selected = _SELECTED.search(user)
    if selected is None:
        block = _FENCE.search(user)
        code = block.group(1) if block else ""
        return Ask("explain" if code.strip() else "chat", code.rstrip("\n"), "", "")
    rest = user[selected.end() :]
    task_at = rest.rfind("\nTask:")
    body = rest[:task_at] if task_at >= 0 else rest
    close = body.rfind("\n```")
    code = body[:close] if close >= 0 else body
    task = rest[task_at:].strip() if task_at >= 0 else ""
    wanted = task.removeprefix("Task:").strip().lower()
    action = next((a for a, start in _ACTIONS if wanted.startswith(start)), None)
    if action is None:
        action = "refactor" if _REWRITE_RULE in wanted else "explain"
    return Ask(action, code, selected.group("lang").strip().lower(), task)


def default_reply(user: str, *, prefix: bool) -> tuple[str, str]:
    """(content, reasoning) answering the last user message; `prefix`: inside an opened fence."""
    ask = read_ask(user)
    if ask.action in ("docstring", "refactor", "fix", "tests"):
        code = _rewrite(ask)
        content = f"{code}\n```\n" if prefix else code
        what = "a test" if ask.action == "tests" else "the rewritten code"
        return content, f"The user wants {what}. I keep the code's structure and syntax."
    if prefix:  # a prefilled fence with no rewrite task: give the code back
        return f"{ask.code.strip(chr(10))}\n```\n", "The answer is code; I repeat it."
    if ask.action == "explain":
        return _explain(ask)
    return (
        f"A short answer from {SIGNATURE}: it does not read questions, so every chat gets this "
        "reply. Set DEEPSEEK_API_KEY to talk to DeepSeek itself.",
        "The user sent a message without code. A short answer will do.",
    )


def _explain(ask: Ask) -> tuple[str, str]:
    line = next((ln.strip()[:80] for ln in ask.code.splitlines() if ln.strip()), "")
    subject = f"`{ask.name}`" if ask.name else "This code"
    start = f" (it starts with `{line}`)" if line else ""
    content = (
        f"{subject} is a small, self-contained piece of the program{start}. Step by step:\n\n"
        "1. It takes its inputs.\n"
        "2. It does the work its name suggests.\n"
        "3. It hands the result back to the caller.\n\n"
        f"This answer comes from {SIGNATURE}."
    )
    return content, f"The user asks about `{line}`. I should explain what it does, briefly."


def comment(language: str, text: str) -> str:
    """`text` as a one-line comment in `language`."""
    if language in _HASH:
        return f"# {text}"
    if language in _DASH:
        return f"-- {text}"
    if language in _MARKUP:
        return f"<!-- {text} -->"
    if language in _STYLE:
        return f"/* {text} */"
    return f"// {text}"


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _with_leading_comment(code: str, language: str, text: str) -> str:
    """`code` with a comment line above its first line. A one-line selection may start or end
    mid-line, where a new line would break the code, so it comes back unchanged."""
    if "\n" not in code.strip("\n"):
        return code
    lines = code.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.strip()), 0)
    lines.insert(first, _indent_of(lines[first]) + comment(language, text))
    return "\n".join(lines)


def _rewrite(ask: Ask) -> str:
    if ask.action == "tests":
        return _tests(ask)
    if ask.action == "docstring":
        if ask.language == "python":
            documented = _python_docstrings(ask.code)
            if documented != ask.code:
                return documented
        what = f"{ask.name}: what it does and what it returns" if ask.name else "What this code does"
        return _with_leading_comment(ask.code, ask.language, f"{what} (documented by {SIGNATURE}).")
    if ask.action == "fix":
        return _with_leading_comment(ask.code, ask.language, f"Checked by {SIGNATURE}: no change needed.")
    return _with_leading_comment(ask.code, ask.language, f"Refactored by {SIGNATURE}: same behaviour.")


def _code_part(line: str) -> str:
    return line.split(" #", 1)[0].rstrip()


def _header_end(lines: list[str], start: int) -> int:
    """The line where the def or class header starting at `start` closes its brackets."""
    depth = 0
    for at in range(start, len(lines)):
        code = _code_part(lines[at])
        depth += sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
        if depth <= 0:
            return at
    return len(lines) - 1


def _python_docstrings(code: str) -> str:
    """Each def and class of `code` with a body block and no docstring gets a one-line one."""
    lines = code.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        header = _PY_HEADER.match(lines[i])
        if header is None:
            out.append(lines[i])
            i += 1
            continue
        end = _header_end(lines, i)
        out.extend(lines[i : end + 1])
        body = next((ln for ln in lines[end + 1 :] if ln.strip()), "")
        indent = header.group("indent")
        documented = body.lstrip().lstrip("rbuRBU").startswith(('"', "'"))
        if _code_part(lines[end]).endswith(":") and not documented:
            inner = _indent_of(body) if len(_indent_of(body)) > len(indent) else indent + "    "
            name = header.group("name")
            text = (
                f"A {name}."
                if header.group("kind") == "class"
                else f"Do what {name} says; return its result."
            )
            out.append(f'{inner}"""{text} (Docstring by {SIGNATURE}.)"""')
        i = end + 1
    return "\n".join(out)


def _tests(ask: Ask) -> str:
    name = ask.name or "code"
    short = re.split(r"[.:]", name)[-1]
    lang = ask.language
    if lang == "python":
        module = re.search(r"importing the code under test from (\S+?)[ ,]", ask.task)
        head = ""
        if "in the same file" not in ask.task and module and re.fullmatch(r"[\w.]+", module.group(1)):
            head = f"from {module.group(1)} import {short}\n\n\n"
        return (
            f"{head}def test_{short.lower()}_is_usable():\n"
            f'    """A first test by {SIGNATURE}: replace it with real cases."""\n'
            f"    assert callable({short})\n"
        )
    if lang == "go":
        title = short[:1].upper() + short[1:]
        return f"func Test{title}(t *testing.T) {{\n\t_ = {short} // a first test by {SIGNATURE}\n}}\n"
    if lang == "rust":
        return f"#[test]\nfn {short.lower()}_is_usable() {{\n    let _ = {short}; // a first test by {SIGNATURE}\n}}\n"
    if lang == "lua":
        return (
            f'describe("{short}", function()\n  it("is usable", function()\n'
            f"    assert.is_function({name})  -- a first test by {SIGNATURE}\n  end)\nend)\n"
        )
    return (
        f'test("{short} is usable", () => {{\n'
        f"  expect({short}).toBeDefined(); // a first test by {SIGNATURE}\n}});\n"
    )
