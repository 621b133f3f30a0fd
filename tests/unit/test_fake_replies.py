"""The fake's unscripted replies suit the request: what a demo in an editor shows.

The requests are built with the language server's own prompt code, so a change in how the server
asks shows up here as a failing test rather than as a fake that answers the wrong question.
"""

from __future__ import annotations

import ast

import httpx
import pytest

from deepseek_lsp.fake import FakeDeepSeek
from deepseek_lsp.fake.replies import SIGNATURE, default_reply, definition_name, read_ask
from deepseek_lsp.prompts import PromptContext, explain_messages
from deepseek_lsp.rewrite.prompts import build_task, messages

FILE = "import math\n\n\ndef area(r):\n    return math.pi * r * r\n\n\ndef mul(a, b):\n    return a * b\n"
# The file context as the server lays it out: a titled, fenced section before the selection.
FILE_CONTEXT = f"## Current file: geometry.py\n```python\n{FILE}```\n"
SELECTION = "def mul(a: int,\n        b: int) -> int:\n    # the product\n    return a * b"


def ctx(selection: str = SELECTION, language: str = "python", path: str = "geometry.py") -> PromptContext:
    return PromptContext(path, language, FILE_CONTEXT if language == "python" else "", selection, "lines 8-9")


def rewrite_request(action: str, *, prefix: bool = False, c: PromptContext | None = None) -> str:
    c = c or ctx()
    return str(messages(c, build_task(action, None, c), prefix=prefix)[1]["content"])


@pytest.mark.parametrize("action", ["refactor", "fix", "docstring", "tests", "explain"])
def test_the_request_tells_the_action_and_the_selected_code(action: str) -> None:
    user = str(explain_messages(ctx())[1]["content"]) if action == "explain" else rewrite_request(action)
    ask = read_ask(user)
    assert (ask.action, ask.code, ask.language) == (action, SELECTION, "python")
    assert ask.name == "mul"


def test_a_refactor_keeps_the_selection_not_the_whole_file() -> None:
    content, _ = default_reply(rewrite_request("refactor"), prefix=False)
    assert content == f"# Refactored by {SIGNATURE}: same behaviour.\n{SELECTION}"
    assert "area" not in content  # the file around the selection stays out


def test_a_user_action_is_a_rewrite_too() -> None:
    c = ctx()
    task = build_task("shout", None, c, user_actions=[_Action()])
    content, _ = default_reply(str(messages(c, task, prefix=False)[1]["content"]), prefix=False)
    assert content.endswith(SELECTION) and content.startswith("# Refactored")


class _Action:
    name = "shout"
    title = "Shout"
    prompt = "Make {selection} louder."


def test_a_docstring_request_documents_each_definition_and_keeps_the_code() -> None:
    selection = (
        "class Shape:\n    sides = 0\n\n    def area(self):\n        return 0\n\n"
        "    def ok(self):\n        '''Documented.'''\n        return 1\n\n    def one(self): return 1"
    )
    content, _ = default_reply(rewrite_request("docstring", c=ctx(selection)), prefix=False)
    ast.parse(content)
    assert content.count('"""') == 4  # Shape and area; ok has one, one has no block
    lines = content.splitlines()
    assert lines[1] == f'    """A Shape. (Docstring by {SIGNATURE}.)"""'
    assert lines[lines.index("    def area(self):") + 1].startswith('        """Do what area says')
    stripped = [ln for ln in lines if SIGNATURE not in ln]
    assert "\n".join(stripped) == selection  # nothing else changed


def test_a_multi_line_signature_gets_its_docstring_after_the_colon() -> None:
    content, _ = default_reply(rewrite_request("docstring"), prefix=False)
    ast.parse(content)
    assert content.splitlines()[2].startswith('    """Do what mul says')


@pytest.mark.parametrize(
    ("language", "code", "start"),
    [
        ("typescript", "export function add(a: number, b: number) {\n  return a + b;\n}", "// add:"),
        ("lua", "local function add(a, b)\n  return a + b\nend", "-- add:"),
    ],
)
def test_other_languages_get_a_comment_in_their_syntax(language: str, code: str, start: str) -> None:
    content, _ = default_reply(rewrite_request("docstring", c=ctx(code, language, "f")), prefix=False)
    assert content.startswith(start) and content.endswith(code)


def test_a_one_line_selection_comes_back_unchanged() -> None:
    """It may start or end mid-line, where a new comment line would break the code."""
    content, _ = default_reply(rewrite_request("refactor", c=ctx("a * b")), prefix=False)
    assert content == "a * b"


def test_a_tests_request_returns_a_test_function() -> None:
    content, _ = default_reply(rewrite_request("tests"), prefix=False)
    tree = ast.parse(content)
    assert [f.name for f in tree.body if isinstance(f, ast.FunctionDef)] == ["test_mul_is_usable"]
    assert "assert callable(mul)" in content
    assert "import" not in content  # inserted below the code, in the same file


def test_tests_in_another_file_import_the_code_under_test() -> None:
    c = ctx()
    task = build_task("tests", None, c, tests_where="in tests/test_geometry.py", tests_module="geometry")
    content, _ = default_reply(str(messages(c, task, prefix=False)[1]["content"]), prefix=False)
    assert content.startswith("from geometry import mul\n")
    ast.parse(content)


def test_with_a_prefilled_fence_the_code_closes_it() -> None:
    content, _ = default_reply(rewrite_request("refactor", prefix=True), prefix=True)
    assert content.endswith(f"{SELECTION}\n```\n")


def test_explain_names_the_selected_function() -> None:
    content, reasoning = default_reply(str(explain_messages(ctx())[1]["content"]), prefix=False)
    assert content.startswith("`mul` ")
    assert "def mul(a: int," in reasoning


def test_chat_without_code_gets_a_short_answer() -> None:
    content, _ = default_reply("What is a monad?", prefix=False)
    assert SIGNATURE in content and len(content) < 200
    assert read_ask("What is a monad?").action == "chat"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("async def fetch(url):\n    pass", "fetch"),
        ("func (s *Server) Serve(l net.Listener) error {", "Serve"),
        ("pub(crate) fn parse(input: &str) {}", "parse"),
        ("export const handle = async (req) => {}", "handle"),
        ("function M.setup(opts)", "M.setup"),
        ("x = 1", None),
    ],
)
def test_definition_names(code: str, name: str | None) -> None:
    assert definition_name(code) == name


async def test_over_http_a_refactor_returns_the_rewritten_selection(
    fake: FakeDeepSeek, http: httpx.AsyncClient
) -> None:
    c = ctx()
    body = {"model": "deepseek-flash", "messages": messages(c, build_task("refactor", None, c), prefix=False)}
    response = await http.post("/chat/completions", json={**body, "thinking": {"type": "disabled"}})
    assert response.status_code == 200
    content = response.json()["choices"][0]["message"]["content"]
    assert content == f"# Refactored by {SIGNATURE}: same behaviour.\n{SELECTION}"


def test_explaining_nothing_reads_cleanly() -> None:
    content, _ = default_reply(str(explain_messages(ctx(""))[1]["content"]), prefix=False)
    assert content.startswith("This code is a small, self-contained piece of the program. Step by step:")
