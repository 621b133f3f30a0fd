"""Inline completion in a real Neovim 0.11: ghost text drawn with one extmark from the server's
textDocument/inlineCompletion (the real server, FIM answers scripted in the fake DeepSeek),
accepted whole, by word and by line, trimmed in place while typed through, dismissed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Nvim, Reply, ThreadedFake, start_nvim, stop

ADD = "def add(a, b):\n    return \n"

# the suggestion's extmark: its id, position and text (virt_text, then virt_lines, "\n"-joined)
GHOST = """
local c = require('deepseek_lsp.completion')
local marks = vim.api.nvim_buf_get_extmarks(0, c.ns, 0, -1, { details = true })
if #marks == 0 then return nil end
local m = marks[1]
local function join(chunks)
  local s = ''
  for _, chunk in ipairs(chunks or {}) do s = s .. chunk[1] end
  return s
end
local lines = { join(m[4].virt_text) }
for _, l in ipairs(m[4].virt_lines or {}) do table.insert(lines, join(l)) end
return { id = m[1], row = m[2], col = m[3], text = table.concat(lines, '\\n'), count = #marks,
         inline = m[4].virt_text_pos, hl = m[4].virt_text and m[4].virt_text[1][2] }
"""

# the client has the answer to its request for the cursor's position
ANSWERED = """
local s = require('deepseek_lsp.completion').state()
local row, col = unpack(vim.api.nvim_win_get_cursor(0))
return s and not s.pending and s.request and s.request.row == row - 1 and s.request.col == col
"""

# every redraw of the window: the line before the cursor and the ghost text drawn after it
FRAMES = """
_G.frames = {}
local ns = require('deepseek_lsp.completion').ns
vim.api.nvim_set_decoration_provider(vim.api.nvim_create_namespace('test.frames'), {
  on_win = function(_, _, buf)
    if buf == vim.api.nvim_get_current_buf() then
      local row, col = unpack(vim.api.nvim_win_get_cursor(0))
      local marks = vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })
      local m = marks[1]
      table.insert(_G.frames, {
        before = vim.api.nvim_buf_get_lines(buf, row - 1, row, false)[1]:sub(1, col),
        marks = #marks,
        id = m and m[1],
        col = m and m[3],
        text = m and m[4].virt_text and m[4].virt_text[1][1] or '',
      })
    end
    return false
  end,
})
"""


def ghost(nvim: Nvim) -> Any:
    return nvim.lua(GHOST)


def wait_ghost(nvim: Nvim, text: str, timeout: float = 10.0) -> dict[str, Any]:
    nvim.wait(
        f"local g = (function() {GHOST} end)(); return g and g.text == ...",
        text,
        timeout=timeout,
        what=f"the ghost text {text!r}",
    )
    g = ghost(nvim)
    assert g is not None
    return g


def fim(fake: ThreadedFake) -> list[Any]:
    return [r for r in fake.requests() if r.path.endswith("/beta/completions")]


def cursor(nvim: Nvim) -> tuple[int, int]:
    row, col = nvim.api.api.win_get_cursor(0)
    return int(row), int(col)


def require_completion(nvim: Nvim) -> None:
    supported = nvim.lua(
        "return require('deepseek_lsp.completion').supported(require('deepseek_lsp.client').get(0))"
    )
    if not supported:
        pytest.skip("the server does not offer textDocument/inlineCompletion yet")


def insert_at_end(nvim: Nvim, row: int) -> None:
    """Insert mode at the end of line `row` (1-based)."""
    nvim.api.api.win_set_cursor(0, (row, 0))
    nvim.api.input("A")
    nvim.wait("return vim.api.nvim_get_mode().mode == 'i'", what="Insert mode")


def type_keys(nvim: Nvim, keys: str, line: str) -> None:
    """Type `keys` and wait until the cursor's line reads `line`."""
    nvim.api.input(keys)
    nvim.wait("return vim.api.nvim_get_current_line() == ...", line, what=f"the line {line!r}")


def open_add(nvim: Nvim, fake: ThreadedFake, suggestion: str) -> dict[str, Any]:
    """calc.py with `return ` waiting for its expression; the fake's next FIM answer is
    `suggestion`; Insert mode at the end of that line; the ghost text shown."""
    nvim.edit("calc.py", ADD)
    require_completion(nvim)
    fake.enqueue(Reply(content=suggestion))
    insert_at_end(nvim, 2)
    return wait_ghost(nvim, suggestion)


def test_ghost_text_appears_as_an_extmark(nvim: Nvim, fake: ThreadedFake) -> None:
    g = open_add(nvim, fake, "a + b")
    assert g["count"] == 1 and (g["row"], g["col"]) == (1, 11)
    assert g["inline"] == "inline" and g["hl"] == "DeepSeekGhost"
    assert nvim.lua("return vim.api.nvim_get_hl(0, { name = 'DeepSeekGhost' }).link") == "Comment"
    assert nvim.lines() == ["def add(a, b):", "    return "]  # nothing inserted yet
    [request] = fim(fake)
    assert request.body["prompt"].endswith("def add(a, b):\n    return ")
    assert request.body["suffix"].startswith("\n")


def test_accept_whole_is_one_undo_step(nvim: Nvim, fake: ThreadedFake) -> None:
    open_add(nvim, fake, "a + b")
    type_keys(nvim, "<M-l>", "    return a + b")
    assert cursor(nvim) == (2, 16)  # after the inserted text, still in Insert mode
    assert nvim.api.api.get_mode()["mode"] == "i"
    assert ghost(nvim) is None
    nvim.api.input("<Esc>")
    nvim.wait("return vim.api.nvim_get_mode().mode == 'n'")
    nvim.cmd("normal! u")
    assert nvim.lines() == ["def add(a, b):", "    return "]


def test_typing_through_trims_the_same_extmark(nvim: Nvim, fake: ThreadedFake) -> None:
    first = open_add(nvim, fake, "a + b")
    nvim.lua(FRAMES)
    seen = []
    for key, line in (("a", "    return a"), (" ", "    return a "), ("+", "    return a +")):
        type_keys(nvim, key, line)
        g = ghost(nvim)
        assert g is not None, f"the ghost text vanished after typing {key!r}"
        seen.append((g["id"], g["text"], g["col"]))
    assert seen == [(first["id"], " + b", 12), (first["id"], "+ b", 13), (first["id"], " b", 14)]
    # no redraw ever showed the suggestion gone, another mark, or a typed character twice
    frames = nvim.lua("return _G.frames")
    assert frames, "no redraw was observed"
    for f in frames:
        assert f["marks"] == 1 and f["id"] == first["id"], frames
        assert f["before"] + f["text"] == "    return a + b", frames
    # the answers for the typed-through positions came without another upstream request
    nvim.wait(ANSWERED, what="the answer for the last position")
    assert ghost(nvim)["text"] == " b"
    assert len(fim(fake)) == 1


def test_accept_by_word_and_by_line(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("stats.py", "def mean(xs):\n    \n")
    require_completion(nvim)
    body = "total = sum(xs)\n    count = len(xs)\n    return total / count"
    fake.enqueue(Reply(content=body))
    insert_at_end(nvim, 2)
    first = wait_ghost(nvim, body)
    type_keys(nvim, "<M-w>", "    total")
    assert ghost(nvim)["text"] == " = sum(xs)\n    count = len(xs)\n    return total / count"
    type_keys(nvim, "<M-Right>", "    total =")
    type_keys(nvim, "<M-w>", "    total = sum")
    type_keys(nvim, "<M-j>", "    total = sum(xs)")  # the rest of the line
    g = ghost(nvim)
    assert g["id"] == first["id"] and g["text"] == "\n    count = len(xs)\n    return total / count"
    type_keys(nvim, "<M-j>", "    count = len(xs)")  # the next line, with its indentation
    assert cursor(nvim) == (3, 19)
    assert nvim.lines() == ["def mean(xs):", "    total = sum(xs)", "    count = len(xs)"]
    nvim.wait(ANSWERED, what="the answer after the partial accepts")
    assert len(fim(fake)) == 1  # the partial accepts needed no other upstream request
    type_keys(nvim, "<M-l>", "    return total / count")
    assert nvim.lines() == [
        "def mean(xs):",
        "    total = sum(xs)",
        "    count = len(xs)",
        "    return total / count",
    ]
    assert cursor(nvim) == (4, 24)


def test_escape_dismisses(nvim: Nvim, fake: ThreadedFake) -> None:
    open_add(nvim, fake, "a + b")
    nvim.api.input("<Esc>")
    nvim.wait("return vim.api.nvim_get_mode().mode == 'n'")
    assert ghost(nvim) is None
    assert nvim.lines() == ["def add(a, b):", "    return "]


def test_dismiss_key_and_moving_dismiss(nvim: Nvim, fake: ThreadedFake) -> None:
    open_add(nvim, fake, "a + b")
    nvim.api.input("<C-]>")
    nvim.wait(f"return (function() {GHOST} end)() == nil", what="the ghost text to go")
    assert nvim.api.api.get_mode()["mode"] == "i"
    assert nvim.lines() == ["def add(a, b):", "    return "]
    # shown again, then the cursor moves elsewhere: gone at once; the new position has no answer
    fake.enqueue(Reply(content="a + b"))
    nvim.api.input("<Left>")
    nvim.wait("return vim.api.nvim_win_get_cursor(0)[2] == 10", what="the cursor to move")
    wait_ghost(nvim, "a + b")
    fake.enqueue(Reply(content=""))
    nvim.api.input("<Left>")
    nvim.wait("return vim.api.nvim_win_get_cursor(0)[2] == 9", what="the cursor to move")
    assert ghost(nvim) is None
    nvim.wait(ANSWERED, what="the answer for the new position")
    assert ghost(nvim) is None


def test_disabled_sends_nothing_until_enabled(fake: ThreadedFake, tmp_path: Path) -> None:
    fake.reset()
    n = start_nvim(fake, tmp_path, {"completion": {"enabled": False}})
    try:
        n.edit("calc.py", ADD)
        require_completion(n)
        insert_at_end(n, 2)
        # InsertEnter's request, then the keystroke's: two (events before one runs count as one)
        n.wait("return require('deepseek_lsp.completion').stats.skipped >= 1", what="a request skipped")
        type_keys(n, "a", "    return a")
        n.wait("return require('deepseek_lsp.completion').stats.skipped >= 2", what="requests skipped")
        assert n.lua("return require('deepseek_lsp.completion').stats.sent") == 0
        assert ghost(n) is None
        n.cmd("DeepSeek status")  # a round trip with the server: nothing else went upstream
        n.wait("return require('deepseek_lsp').last_status ~= nil", what="the status")
        assert fim(fake) == []
        assert n.lua("return require('deepseek_lsp.completion').describe()").startswith(
            "DeepSeek inline completion: off"
        )
        # :DeepSeekCompletion enable: the next keystroke asks
        n.cmd("DeepSeekCompletion enable")
        fake.enqueue(Reply(content="+ b"))
        type_keys(n, " ", "    return a ")
        wait_ghost(n, "+ b")
        assert len(fim(fake)) == 1
        n.cmd("DeepSeekCompletion disable")  # and off again: the ghost text goes at once
        assert ghost(n) is None
    finally:
        stop(n)


def test_keys_leave_tab_alone(nvim: Nvim, fake: ThreadedFake) -> None:
    tab = "local m = vim.fn.maparg('<Tab>', 'i', false, true); return {m.desc or '', m.buffer or 0}"
    tab_before = nvim.lua(tab)
    nvim.edit("calc.py", ADD)
    require_completion(nvim)
    maps = nvim.lua(
        "local out = {} for _, m in ipairs(vim.api.nvim_buf_get_keymap(0, 'i')) do out[m.lhs] = m.desc or '' end return out"
    )
    for lhs in ("<M-L>", "<M-W>", "<M-Right>", "<M-J>", "<C-]>"):
        assert any(k.lower() == lhs.lower() and v.startswith("DeepSeek") for k, v in maps.items()), maps
    assert not any(k.lower() in ("<tab>", "<s-tab>") for k in maps), maps
    assert nvim.lua(tab) == tab_before
    # with no suggestion showing, an accept key does what it does unmapped: <M-l> is <Esc>l
    nvim.cmd("DeepSeekCompletion disable")
    nvim.api.api.win_set_cursor(0, (2, 0))
    nvim.api.input("i<M-l>")
    nvim.wait("return vim.api.nvim_get_mode().mode == 'n'", what="Normal mode")
    assert cursor(nvim) == (2, 1)
    assert nvim.lines() == ["def add(a, b):", "    return "]


def test_line_endings_and_tabs_as_the_server_sends(nvim: Nvim, fake: ThreadedFake) -> None:
    """A CRLF file indented with tabs: the suggestion keeps its tabs (shown as spaces in the ghost
    text), and its line breaks become buffer lines (no stray carriage returns)."""
    nvim.edit("tabs.py", "def f():\r\n\t\r\n")
    require_completion(nvim)
    assert nvim.lua("return vim.bo.fileformat") == "dos"
    fake.enqueue(Reply(content="x = 1\n\treturn x"))
    insert_at_end(nvim, 2)
    tab = " " * nvim.lua("return vim.bo.tabstop")
    wait_ghost(nvim, f"x = 1\n{tab}return x")
    type_keys(nvim, "<M-l>", "\treturn x")
    assert nvim.lines() == ["def f():", "\tx = 1", "\treturn x"]
    nvim.api.input("<Esc>")
    nvim.cmd("write")
    assert (nvim.workdir / "tabs.py").read_bytes() == b"def f():\r\n\tx = 1\r\n\treturn x\r\n"


def fake_index(fake: ThreadedFake, n: int) -> int:
    """The index in the fake's record of the `n`-th FIM request (1-based), once it arrived."""
    fake.call(fake.fake.wait_for_requests(n, path="/beta/completions"))
    found = [i for i, r in enumerate(fake.requests()) if r.path.endswith("/beta/completions")]
    return found[n - 1]


def test_a_newer_request_and_leaving_insert_cancel_the_pending_one(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("calc.py", ADD)
    require_completion(nvim)
    fake.enqueue(Reply(content="a + b", hang=True), Reply(content="a + b", hang=True))
    insert_at_end(nvim, 2)
    first = fake_index(fake, 1)
    type_keys(nvim, "x", "    return x")  # a newer position: our pending request is cancelled
    assert fake.call(fake.fake.wait_for_disconnect(first)).disconnected
    second = fake_index(fake, 2)
    assert nvim.lua("return require('deepseek_lsp.completion').stats.cancelled") >= 1
    nvim.api.input("<Esc>")  # leaving Insert mode cancels the pending request: closed upstream
    assert fake.call(fake.fake.wait_for_disconnect(second)).disconnected
    assert ghost(nvim) is None


def test_enable_turns_the_server_setting_on(fake: ThreadedFake, tmp_path: Path) -> None:
    """settings.completion.enabled = false: the server answers nothing; :DeepSeekCompletion
    enable turns it on (workspace/didChangeConfiguration) as well as the client's switch."""
    fake.reset()
    n = start_nvim(fake, tmp_path, {"settings": {"completion": {"enabled": False}}})
    try:
        n.edit("calc.py", ADD)
        require_completion(n)
        insert_at_end(n, 2)
        n.wait(ANSWERED, what="the server's (empty) answer")
        assert ghost(n) is None and fim(fake) == []
        n.cmd("DeepSeekCompletion enable")
        fake.enqueue(Reply(content=" + b"))
        type_keys(n, "a", "    return a")
        wait_ghost(n, " + b")
        assert n.lua(
            "return vim.lsp.get_clients({ name = 'deepseek_lsp' })[1].settings.deepseek.completion.enabled"
        )
    finally:
        stop(n)


def test_command_and_checkhealth_report_completion(nvim: Nvim) -> None:
    nvim.edit("calc.py", ADD)
    require_completion(nvim)
    nvim.cmd("DeepSeekCompletion")
    assert nvim.notes()[-1][0] == "DeepSeek inline completion: on (ghost text; the server offers it)"
    nvim.cmd("DeepSeekCompletion toggle")
    assert nvim.notes()[-1][0].startswith("DeepSeek inline completion: off")
    assert nvim.lua("return vim.fn.getcompletion('DeepSeekCompletion ', 'cmdline')") == [
        "enable",
        "disable",
        "toggle",
        "status",
    ]
    nvim.cmd("DeepSeekCompletion toggle")
    nvim.cmd("checkhealth deepseek_lsp")
    text = "\n".join(nvim.lines())
    for expected in (
        "OK inline completion on, drawn as ghost text by deepseek_lsp",
        "insert-mode keys: accept <M-l>, accept_word <M-w>, accept_word <M-Right>, accept_line <M-j>, dismiss <C-]>",
        "the server offers inline completion",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert "ERROR" not in text and "WARNING" not in text, text


def test_a_colorscheme_change_only_redefines_the_highlights(nvim: Nvim) -> None:
    """A ColorScheme event must not set the plugin up a second time (one LspAttach hook)."""
    count = "return #vim.api.nvim_get_autocmds({group = 'deepseek_lsp.completion', event = 'LspAttach'})"
    assert nvim.lua(count) == 1
    nvim.cmd("highlight clear")
    nvim.cmd("doautocmd ColorScheme")
    assert nvim.lua(count) == 1
    assert nvim.lua("return vim.api.nvim_get_hl(0, {name = 'DeepSeekGhost'}).link") == "Comment"
