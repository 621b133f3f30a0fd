"""Large requests in a real Neovim: the estimate (a server dryRun) and a question come before
anything is sent; small selections go out at once. Also: a chat reply starts its own paragraph
after the attachments line."""

from __future__ import annotations

from pathlib import Path

from .conftest import Nvim, Reply, ThreadedFake, start_nvim, stop
from .test_chat import chat_text

# 1,000 lines, some 8k prompt tokens as a whole file: over a threshold of 2,000 tokens
BIG = "".join(f"def step_{i}(x):\n    return x * {i} + {i % 7}  # step {i}\n" for i in range(500))

# vim.ui.select answers as the test says, and records the question it was asked
SELECT = """
_G.test_questions = {}
_G.test_answer = ...
vim.ui.select = function(items, opts, on_choice)
  table.insert(_G.test_questions, opts.prompt)
  on_choice(_G.test_answer)
end
"""


def completions(fake: ThreadedFake) -> list[object]:
    return [r for r in fake.requests() if r.path.endswith("/chat/completions")]


def explain_count(nvim: Nvim) -> int:
    return int(
        nvim.lua(
            "local n = 0; for _, j in pairs(require('deepseek_lsp.jobs').jobs) do"
            " if j.kind == 'explain' then n = n + 1 end end; return n"
        )
    )


def test_a_large_explain_asks_first_and_cancel_sends_nothing(fake: ThreadedFake, tmp_path: Path) -> None:
    fake.reset()
    nvim = start_nvim(fake, tmp_path, {"settings": {"confirmAboveTokens": 2000}})
    try:
        nvim.edit("big.py", BIG)
        nvim.lua(SELECT, "Cancel")
        nvim.cmd("%DeepSeek explain")
        nvim.wait("return #_G.test_questions > 0", what="the question")
        question = nvim.lua("return _G.test_questions[1]")
        assert (
            question.startswith("DeepSeek explain: a large request, about ") and "prompt tokens" in question
        )
        assert "deepseek-chat" in question and "$" in question and question.endswith("Send it?")
        nvim.wait(
            "for _, n in ipairs(_G.test_notes) do if n[1] == 'DeepSeek: not sent' then return true end end"
        )
        assert completions(fake) == [] and explain_count(nvim) == 0

        # "Send": the explanation runs as usual
        fake.enqueue(Reply(content="Many small steps."))
        nvim.lua(SELECT, "Send")
        nvim.cmd("%DeepSeek explain")
        job = nvim.wait_job_done("explain")
        assert job["state"] == "done" and job["text"] == "Many small steps."
        assert nvim.lua("return #_G.test_questions") == 1 and len(completions(fake)) == 1

        # a small selection goes out with no question (and no dryRun round trip)
        fake.enqueue(Reply(content="One step."))
        nvim.cmd("1,2DeepSeek explain")
        nvim.wait(
            "return require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'explain'"
            " and table.concat(j.content) == 'One step.' and j.done end)",
            what="the small explain",
        )
        assert nvim.lua("return #_G.test_questions") == 1
    finally:
        stop(nvim)


def test_zero_never_asks(fake: ThreadedFake, tmp_path: Path) -> None:
    fake.reset()
    nvim = start_nvim(fake, tmp_path, {"settings": {"confirmAboveTokens": 0}})
    try:
        nvim.edit("big.py", BIG)
        nvim.lua(SELECT, "Cancel")
        fake.enqueue(Reply(content="Sent without asking."))
        nvim.cmd("%DeepSeek explain")
        job = nvim.wait_job_done("explain")
        assert job["state"] == "done" and nvim.lua("return #_G.test_questions") == 0
    finally:
        stop(nvim)


def test_chat_reply_starts_a_paragraph_after_the_attachments(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("calc.py", "def add(a, b):\r\n    return a + b\r\n")
    nvim.require_command("deepseek.chat")
    fake.enqueue(Reply(content="It adds a and b."))
    nvim.cmd("1,2DeepSeek chat what does this do?")
    nvim.wait_job_done("chat")
    lines = chat_text(nvim).split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("_Attached: #selection"))
    assert lines[at].endswith("_"), lines  # the note alone on its line
    assert lines[at + 1] == "" and lines[at + 2] == "It adds a and b.", lines


def test_a_large_code_action_asks_first(fake: ThreadedFake, tmp_path: Path) -> None:
    """The code action menu (vim.lsp.buf.code_action) goes through the same question."""
    fake.reset()
    nvim = start_nvim(fake, tmp_path, {"settings": {"confirmAboveTokens": 2000}})
    try:
        nvim.edit("big.py", BIG)
        nvim.lua(
            """
            _G.test_questions = {}
            vim.ui.select = function(items, opts, on_choice)
              if opts.format_item then  -- the code action menu: pick Add docstring
                for i, item in ipairs(items) do
                  if item.action.title == 'DeepSeek: Add docstring' then return on_choice(item, i) end
                end
                return on_choice(nil)
              end
              table.insert(_G.test_questions, opts.prompt)  -- the large-request question
              on_choice('Cancel')
            end
            """
        )
        nvim.lua("vim.lsp.buf.code_action({range = {start = {1, 0}, ['end'] = {1000, 0}}})")
        nvim.wait("return #_G.test_questions > 0", what="the question")
        assert "a large request" in nvim.lua("return _G.test_questions[1]")
        nvim.wait(
            "for _, n in ipairs(_G.test_notes) do if n[1] == 'DeepSeek: not sent' then return true end end"
        )
        assert completions(fake) == []
        assert nvim.lua("return vim.api.nvim_buf_get_lines(0, 0, -1, false)") == BIG.splitlines()
    finally:
        stop(nvim)
