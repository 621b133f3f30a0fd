"""Rewrite in a real Neovim: the new code streams into the buffer, one `u` undoes it all,
cancel restores the original, review keys exist only while a review is pending."""

from __future__ import annotations

from pathlib import Path

from .conftest import Nvim, Reply, ThreadedFake, start_nvim, stop

CODE = "import math\n\n\ndef area(r):\n    return 3.14 * r * r\n\n\nprint(area(2))\n"
NEW = 'def area(r):\n    """The area of a circle of radius r."""\n    return math.pi * r ** 2'

SIM = """
local step, arg = ...
local c = require('deepseek_lsp.client').get(0)
local ctx = { client_id = c.id }
local uri = vim.uri_from_bufnr(0)
local function range(l1, c1, l2, c2) return { start = { line = l1, character = c1 }, ['end'] = { line = l2, character = c2 } } end
if step == 'notify' then
  arg.uri = uri
  require('deepseek_lsp.jobs').on_stream(nil, arg, ctx)
elseif step == 'edit' then
  return require('deepseek_lsp.rewrite').apply_edit(nil, { edit = { documentChanges = { {
    textDocument = { uri = uri, version = vim.NIL },
    edits = { { range = range(arg[1], arg[2], arg[3], arg[4]), newText = arg[5] } },
  } } } }, ctx)
end
"""


def text(nvim: Nvim) -> str:
    return "\n".join(nvim.lines()) + "\n"


def test_streamed_edits_form_one_undo_block(nvim: Nvim) -> None:
    """The client side alone (the server's notifications and edits replayed, one RPC each)."""
    nvim.edit("geo.py", CODE)
    nvim.api.input("Gofoo = 1<Esc>")  # the user's own change, which must survive the undo
    nvim.wait("return vim.api.nvim_buf_get_lines(0, -2, -1, false)[1] == 'foo = 1'")
    before = text(nvim)
    r = {"start": {"line": 3, "character": 0}, "end": {"line": 4, "character": 24}}
    nvim.lua(
        SIM,
        "notify",
        {"jobId": "sim1", "kind": "rewrite", "seq": 0, "range": r, "state": "streaming", "done": False},
    )
    # the region streams in over several edits, each in its own event-loop turn
    pieces = ["def area(r):", 'def area(r):\n    """The area', NEW]
    end = (4, 24)
    for piece in pieces:
        assert nvim.lua(SIM, "edit", [3, 0, end[0], end[1], piece]) == {"applied": True}
        lines = piece.split("\n")
        end = (3 + len(lines) - 1, len(lines[-1].encode()))
    nvim.lua(
        SIM,
        "notify",
        {
            "jobId": "sim1",
            "kind": "rewrite",
            "seq": 1,
            "state": "done",
            "done": True,
            "range": {"start": {"line": 3, "character": 0}, "end": {"line": end[0], "character": end[1]}},
        },
    )
    assert NEW in text(nvim)
    nvim.cmd("normal! u")
    assert text(nvim) == before
    nvim.cmd("normal! u")
    assert "foo = 1" not in text(nvim)


def test_review_keys_exist_only_during_review(nvim: Nvim) -> None:
    buf = nvim.edit("geo.py", CODE)
    nvim.lua("vim.keymap.set('n', '<LocalLeader>a', '<Cmd>let g:mine = 1<CR>', { buffer = 0 })")
    r = {"start": {"line": 3, "character": 0}, "end": {"line": 4, "character": 24}}
    nvim.lua(
        SIM,
        "notify",
        {"jobId": "sim2", "kind": "rewrite", "seq": 0, "range": r, "state": "streaming", "done": False},
    )
    keys = "return vim.tbl_map(function(m) return m.desc or m.rhs end, vim.api.nvim_buf_get_keymap(0, 'n'))"
    assert not nvim.lua("return require('deepseek_lsp.rewrite').has_review_keys(...)", buf)
    nvim.lua(
        SIM,
        "notify",
        {"jobId": "sim2", "kind": "rewrite", "seq": 1, "range": r, "state": "review", "done": False},
    )
    assert nvim.lua("return require('deepseek_lsp.rewrite').has_review_keys(...)", buf)
    assert "DeepSeek: accept the rewrite" in nvim.lua(keys)
    assert "DeepSeek: reject the rewrite" in nvim.lua(keys)
    marks = nvim.lua(
        "return vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_create_namespace('deepseek_lsp.rewrite'), 0, -1, {details = true})"
    )
    labels = [m[3]["virt_text"][0][0] for m in marks if "virt_text" in m[3]]
    assert any("\\a accept · \\r reject" in label for label in labels), labels
    nvim.lua(
        SIM,
        "notify",
        {"jobId": "sim2", "kind": "rewrite", "seq": 2, "range": r, "state": "done", "done": True},
    )
    assert not nvim.lua("return require('deepseek_lsp.rewrite').has_review_keys(...)", buf)
    after = nvim.lua(keys)
    assert "DeepSeek: accept the rewrite" not in after and "DeepSeek: reject the rewrite" not in after
    assert "<Cmd>let g:mine = 1<CR>" in after  # the user's own buffer mapping is back


def test_rewrite_changes_buffer_and_one_undo_restores(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("geo.py", CODE)
    nvim.require_command("deepseek.rewrite")
    fake.enqueue(Reply(content=NEW, delay=0.004))
    nvim.cmd("4,5DeepSeek docstring")
    job = nvim.wait_job_done("rewrite")
    assert job["state"] == "done", job
    expected = CODE.replace("def area(r):\n    return 3.14 * r * r", NEW)
    nvim.wait(
        "return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n') .. '\\n' == ...",
        expected,
        what="the rewritten text",
    )
    nvim.cmd("normal! u")
    assert text(nvim) == CODE
    assert all(level < 4 for _, level in nvim.notes()), nvim.notes()


def test_cancel_mid_stream_restores_original(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("geo.py", CODE)
    nvim.require_command("deepseek.rewrite")
    fake.enqueue(Reply(content=NEW, delay=0.002, hold_after=8))
    nvim.cmd("4,5DeepSeek refactor use math.pi")
    nvim.wait(
        "return vim.api.nvim_buf_get_lines(0, 3, 4, false)[1] ~= 'def area(r):' or"
        " vim.api.nvim_buf_get_lines(0, 4, 5, false)[1] ~= '    return 3.14 * r * r'",
        what="part of the rewrite in the buffer",
    )
    # the region is highlighted while it streams
    marks = nvim.lua(
        "return #vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_create_namespace('deepseek_lsp.rewrite'), 0, -1, {})"
    )
    assert marks >= 1
    nvim.cmd("DeepSeek cancel")
    job = nvim.wait_job_done("rewrite")
    assert job["state"] == "cancelled"
    nvim.wait(
        "return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n') .. '\\n' == ...",
        CODE,
        what="the original text back",
    )
    nvim.wait("return not vim.bo.modified", what="the buffer to be unmodified again")
    fake.release()


def test_review_accept_with_key(fake: ThreadedFake, tmp_path: Path) -> None:
    nvim = start_nvim(fake, tmp_path, {"settings": {"review": True}})
    try:
        buf = nvim.edit("geo.py", CODE)
        nvim.require_command("deepseek.accept")
        fake.enqueue(Reply(content=NEW, delay=0.002))
        nvim.cmd("4,5DeepSeek docstring")
        nvim.wait(
            "local j = require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'rewrite' end);"
            " return j and j.state == 'review'",
            what="the review state",
        )
        assert nvim.lua("return require('deepseek_lsp.rewrite').has_review_keys(...)", buf)
        nvim.api.input("\\a")  # <LocalLeader>a
        job = nvim.wait_job_done("rewrite")
        assert job["state"] == "done"
        assert not nvim.lua("return require('deepseek_lsp.rewrite').has_review_keys(...)", buf)
        assert NEW in text(nvim)
        events = [e[0] for e in nvim.lua("return _G.test_events")]
        assert events == ["DeepSeekJobStart", "DeepSeekJobReview", "DeepSeekJobDone"]
    finally:
        stop(nvim)


def test_reject_restores_original(fake: ThreadedFake, tmp_path: Path) -> None:
    nvim = start_nvim(fake, tmp_path, {"settings": {"review": True}})
    try:
        nvim.edit("geo.py", CODE)
        nvim.require_command("deepseek.reject")
        fake.enqueue(Reply(content=NEW, delay=0.002))
        nvim.cmd("4,5DeepSeek fix")
        nvim.wait(
            "local j = require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'rewrite' end);"
            " return j and j.state == 'review'",
            what="the review state",
        )
        nvim.cmd("DeepSeek reject")
        job = nvim.wait_job_done("rewrite")
        assert job["state"] == "cancelled"
        nvim.wait(
            "return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n') .. '\\n' == ...",
            CODE,
            what="the original text back",
        )
        nvim.wait("return not vim.bo.modified", what="the buffer to be unmodified again")
    finally:
        stop(nvim)


def test_rewrite_positions_utf8(nvim: Nvim, fake: ThreadedFake) -> None:
    line = 's = "héllo 😀"; y = compute(1)  # ünï'
    nvim.edit("u.py", line + "\n")
    nvim.require_command("deepseek.rewrite")
    fake.enqueue(Reply(content="compute(2)"))
    nvim.cmd('execute "normal! 0fcvf)\\<Esc>"')
    nvim.cmd("'<,'>DeepSeek refactor")
    job = nvim.wait_job_done("rewrite")
    assert job["state"] == "done"
    nvim.wait(
        "return vim.api.nvim_buf_get_lines(0, 0, 1, false)[1] == ...",
        line.replace("compute(1)", "compute(2)"),
        what="the rewritten call",
    )


def test_fix_sends_the_diagnostics_in_range(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("geo.py", CODE)
    nvim.require_command("deepseek.rewrite")
    nvim.lua(
        "local ns = vim.api.nvim_create_namespace('test-lint');"
        " vim.diagnostic.set(ns, 0, {{lnum = 4, col = 11, end_col = 15, message = 'magic number 3.14',"
        " severity = vim.diagnostic.severity.WARN, source = 'lint'}})"
    )
    fake.enqueue(Reply(content="def area(r):\n    return math.pi * r * r"))
    nvim.cmd("4,5DeepSeek fix")
    job = nvim.wait_job_done("rewrite")
    assert job["state"] == "done"
    user = [m["content"] for m in fake.requests()[-1].body["messages"] if m["role"] == "user"][-1]
    assert "magic number 3.14" in user
    nvim.wait(
        "return vim.api.nvim_buf_get_lines(0, 4, 5, false)[1] == '    return math.pi * r * r'",
        what="the fix in the buffer",
    )


def test_user_action_subcommand(fake: ThreadedFake, tmp_path: Path) -> None:
    action = {"name": "typehints", "title": "Add type hints", "prompt": "Add type hints to {selection}"}
    nvim = start_nvim(fake, tmp_path, {"settings": {"actions": [action]}})
    try:
        nvim.edit("geo.py", CODE)
        nvim.require_command("deepseek.rewrite")
        assert nvim.lua("return vim.fn.getcompletion('DeepSeek type', 'cmdline')") == ["typehints"]
        fake.enqueue(Reply(content="def area(r: float) -> float:\n    return 3.14 * r * r"))
        nvim.cmd("4,5DeepSeek typehints")
        job = nvim.wait_job_done("rewrite")
        assert job["state"] == "done", nvim.notes()
        nvim.wait(
            "return vim.api.nvim_buf_get_lines(0, 3, 4, false)[1] == 'def area(r: float) -> float:'",
            what="the action's result",
        )
    finally:
        stop(nvim)


def test_typing_inside_the_region_stops_the_rewrite(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("geo.py", CODE)
    nvim.require_command("deepseek.rewrite")
    fake.enqueue(Reply(content=NEW, delay=0.002, hold_after=8))
    nvim.cmd("4,5DeepSeek refactor")
    nvim.wait(
        "return vim.api.nvim_buf_get_lines(0, 4, 5, false)[1] ~= '    return 3.14 * r * r'",
        what="part of the rewrite in the buffer",
    )
    nvim.api.input("4G0aXYZ<Esc>")  # the user types inside the region
    nvim.wait("return vim.api.nvim_buf_get_lines(0, 3, 4, false)[1]:find('XYZ') ~= nil")
    fake.release()
    job = nvim.wait_job_done("rewrite")
    assert job["state"] == "failed"
    nvim.wait("return vim.api.nvim_buf_get_lines(0, 3, 4, false)[1]:find('XYZ') ~= nil")
    nvim.wait("return #_G.test_notes > 0", what="the notification")
    assert len([n for n in nvim.notes() if n[1] >= 3]) == 1, nvim.notes()
