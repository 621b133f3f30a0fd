"""Chat in a real Neovim: the reply streams into a Markdown split; sessions can be resumed."""

from __future__ import annotations

from .conftest import Nvim, Reply, ThreadedFake

CHAT = "return require('deepseek_lsp.chat').state()"


def chat_text(nvim: Nvim) -> str:
    return "\n".join(nvim.lines(nvim.lua(CHAT)["buf"]))


def test_chat_reply_streams_into_the_buffer(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("calc.py", "def add(a, b):\n    return a + b\n")
    nvim.require_command("deepseek.chat")
    code_win = nvim.lua("return vim.api.nvim_get_current_win()")
    fake.enqueue(Reply(content="Hello! Ask me about `add`.", reasoning="A greeting. Be brief.", delay=0.003))
    nvim.cmd("DeepSeek chat hi there")
    job = nvim.wait_job_done("chat")
    assert job["state"] == "done"
    state = nvim.lua(CHAT)
    assert state["session_id"]
    text = chat_text(nvim)
    assert "## You\nhi there\n\n## DeepSeek" in text
    assert "Hello! Ask me about `add`." in text
    assert text.rstrip().endswith("## You")
    # a split beside the code, focus kept in the code (the text came from the command line)
    assert nvim.lua("return vim.api.nvim_get_current_win()") == code_win
    win = nvim.lua("return vim.fn.win_findbuf(...)[1]", state["buf"])
    assert nvim.lua("return vim.api.nvim_win_get_config(...).relative", win) == ""
    assert nvim.lua("return vim.bo[...].filetype", state["buf"]) == "markdown"
    # the reasoning is folded
    row = nvim.lines(state["buf"]).index("Thinking…") + 1
    assert (
        nvim.lua(
            "local w, r = ...; return vim.api.nvim_win_call(w, function() return vim.fn.foldclosed(r) end)",
            win,
            row,
        )
        == row
    )

    # a second turn typed in the buffer and sent with the key
    fake.enqueue(Reply(content="It adds.", delay=0.002))
    nvim.lua("vim.api.nvim_set_current_win(...)", win)
    nvim.lua(
        "local b = ...; vim.api.nvim_buf_set_lines(b, -1, -1, false, {'what does add do?'})", state["buf"]
    )
    nvim.api.input("<CR>")
    nvim.wait(
        "local s = require('deepseek_lsp.chat').state(); local j = require('deepseek_lsp.jobs').jobs[s.job_key or '']; return s.job_key == nil and #require('deepseek_lsp.jobs').order >= 2",
        what="the second reply",
    )
    text = chat_text(nvim)
    assert "what does add do?\n\n## DeepSeek\nIt adds." in text
    body = fake.requests()[-1].body
    roles = [m["role"] for m in body["messages"]]
    assert roles[-3:] == ["user", "assistant", "user"]
    assert nvim.lua(CHAT)["session_id"] == state["session_id"]


def test_chat_sessions_resume(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("calc.py", "x = 1\n")
    nvim.require_command("deepseek.chat.sessions")
    fake.enqueue(Reply(content="First answer."))
    nvim.cmd("DeepSeek chat remember the number 7")
    nvim.wait_job_done("chat")
    first = nvim.lua(CHAT)["session_id"]
    nvim.cmd("DeepSeek! chat")  # a new, empty session
    assert nvim.lua(CHAT).get("session_id") is None
    assert "First answer." not in chat_text(nvim)

    nvim.lua(
        """
        vim.ui.select = function(items, opts, on_choice)
          _G.picked = vim.tbl_map(opts.format_item, items)
          on_choice(items[1], 1)
        end
        """
    )
    nvim.cmd("DeepSeek sessions")
    nvim.wait("return require('deepseek_lsp.chat').state().session_id ~= nil", what="a resumed session")
    assert nvim.lua(CHAT)["session_id"] == first
    nvim.wait(
        "return vim.tbl_contains(vim.api.nvim_buf_get_lines(require('deepseek_lsp.chat').state().buf, 0, -1, false), 'First answer.')",
        what="the history",
    )
    text = chat_text(nvim)
    assert "remember the number 7" in text
    assert text.rstrip().endswith("## You")
    assert len(nvim.lua("return _G.picked")) >= 1


def test_chat_with_a_range_attaches_the_code(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("calc.py", "def add(a, b):\n    return a + b\n\n\nx = add(1, 2)\n")
    nvim.require_command("deepseek.chat")
    fake.enqueue(Reply(content="It adds a and b.", delay=0.002, hold_after=2))
    nvim.cmd("1,2DeepSeek chat what does this do?")
    nvim.wait(
        "local j = require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'chat' end);"
        " return j and #j.content > 0",
        what="the reply to start",
    )
    # while it streams: the statusline counts the job
    assert "1 job" in nvim.lua("return require('deepseek_lsp').status()")
    fake.release()
    nvim.wait_job_done("chat")
    assert "1 job" not in nvim.lua("return require('deepseek_lsp').status()")
    text = chat_text(nvim)
    assert "_Attached: #selection" in text, text
    user = [m["content"] for m in fake.requests()[-1].body["messages"] if m["role"] == "user"][-1]
    assert "def add(a, b):\n    return a + b" in user
    assert user.rstrip().endswith("what does this do?")


def test_cancel_chat_reply(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("calc.py", "x = 1\n")
    nvim.require_command("deepseek.chat")
    fake.enqueue(Reply(content="A long answer that never ends", delay=0.002, hold_after=3))
    nvim.cmd("DeepSeek chat tell me a story")
    nvim.wait(
        "local j = require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'chat' end);"
        " return j and #j.content > 0",
        what="the reply to start",
    )
    nvim.cmd("DeepSeek cancel")
    job = nvim.wait_job_done("chat")
    assert job["state"] == "cancelled"
    assert "_(cancelled)_" in chat_text(nvim)
    assert chat_text(nvim).rstrip().endswith("## You")
    fake.release()


def test_chat_without_a_file_starts_the_server(nvim: Nvim, fake: ThreadedFake) -> None:
    fake.enqueue(Reply(content="Hi."))
    nvim.cmd("DeepSeek chat hello")
    job = nvim.wait_job_done("chat", timeout=20)
    assert job["state"] == "done", nvim.notes()
    assert "Hi." in chat_text(nvim)


def test_chat_range_without_text_attaches_the_next_message(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("calc.py", "def add(a, b):\n    return a + b\n\n\nx = add(1, 2)\n")
    nvim.require_command("deepseek.chat")
    nvim.cmd("1,2DeepSeek chat")
    state = nvim.lua(CHAT)
    assert nvim.lua("return vim.api.nvim_get_current_buf()") == state["buf"]  # asked: focus moves
    hint = nvim.lua(
        "local b = ...; local ns = vim.api.nvim_create_namespace('deepseek_lsp.chat');"
        " local m = vim.api.nvim_buf_get_extmarks(b, ns, 0, -1, {details = true});"
        " return m[#m][4].virt_text[1][1]",
        state["buf"],
    )
    assert "attaching calc.py lines 1-2" in hint
    fake.enqueue(Reply(content="It adds."))
    nvim.lua("vim.api.nvim_buf_set_lines(0, -1, -1, false, {'explain this'})")
    nvim.api.input("<CR>")
    nvim.wait_job_done("chat")
    user = [m["content"] for m in fake.requests()[-1].body["messages"] if m["role"] == "user"][-1]
    assert "def add(a, b):\n    return a + b" in user
    assert user.rstrip().endswith("explain this")
