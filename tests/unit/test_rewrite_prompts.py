"""The task text of each rewrite action, user actions' placeholders, prefix completion."""

from __future__ import annotations

import pytest

from deepseek_lsp.context import DiagnosticInfo
from deepseek_lsp.prompts import PromptContext
from deepseek_lsp.rewrite import prompts as rp
from deepseek_lsp.settings import ActionSetting

CTX = PromptContext(path="src/app.py", language="python", file_context="x = 1", selection="def f(): pass")
DIAG = DiagnosticInfo(
    start_line=4, end_line=4, message="undefined name 'y'", severity="error", source="pyflakes"
)


def test_refactor_has_a_default_and_takes_an_instruction() -> None:
    assert rp.DEFAULT_REFACTOR in rp.build_task(None, None, CTX).text
    task = rp.build_task("refactor", "use a dataclass", CTX)
    assert "use a dataclass" in task.text and rp.OUTPUT_RULE in task.text and not task.insert


def test_fix_lists_the_diagnostics() -> None:
    task = rp.build_task("fix", None, CTX, [DIAG])
    assert "- line 5 (error, pyflakes): undefined name 'y'" in task.text
    without = rp.build_task("fix", None, CTX).text  # none reported: the model finds the problem
    assert (
        "No diagnostics were reported" in without
        and "first find" in without
        and "return the code unchanged" in without
    )


def test_docstring_and_tests() -> None:
    assert "docstring" in rp.build_task("docstring", None, CTX).text
    tests = rp.build_task(
        "tests", "cover empty input", CTX, tests_where="at the end of test_app.py", tests_module="app"
    )
    assert tests.insert and "pytest" in tests.text and "at the end of test_app.py" in tests.text
    assert "from app" in tests.text and "cover empty input" in tests.text


def test_user_action_placeholders() -> None:
    action = ActionSetting(
        name="port",
        title="Port to Rust",
        prompt="Port {selection} from {file} ({language}) to Rust. {instruction} {diagnostics} {other}",
    )
    task = rp.build_task("port", "keep names", CTX, [DIAG], [action])
    assert task.title == "Port to Rust"
    assert "Port def f(): pass from src/app.py (python) to Rust. keep names - line 5" in task.text
    assert "{other}" in task.text  # unknown braces stay (code in templates has braces)
    with pytest.raises(ValueError, match="port"):
        rp.build_task("nope", None, CTX, (), [action])


def test_messages_keep_the_stable_prefix_and_add_the_fence_prefix() -> None:
    plain = rp.messages(CTX, rp.build_task("refactor", None, CTX), prefix=False)
    other = rp.messages(CTX, rp.build_task("docstring", None, CTX), prefix=True)
    assert plain[0] == other[0] and plain[1]["content"][:40] == other[1]["content"][:40]
    assert other[-1] == {"role": "assistant", "content": "```python\n", "prefix": True}


def test_prefix_is_skipped_when_thinking_or_for_markdown() -> None:
    assert rp.use_prefix("python", thinking=False)
    assert not rp.use_prefix("python", thinking=True)
    assert not rp.use_prefix("markdown", thinking=False)
    assert rp.use_prefix("markdown", thinking=True, setting=True)
