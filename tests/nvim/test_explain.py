"""Explain in a real Neovim: the float fills as the text streams, without taking focus."""

from __future__ import annotations

from .conftest import Nvim, Reply, ThreadedFake

CODE = "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n"

FLOAT = "local f = require('deepseek_lsp.explain').current(); return f and {buf = f.buf, win = f.win}"


def float_text(nvim: Nvim) -> str:
    f = nvim.lua(FLOAT)
    return "\n".join(nvim.lines(f["buf"])) if f else ""


def test_explain_float_streams(nvim: Nvim, fake: ThreadedFake) -> None:
    answer = "`add` returns the sum of **a** and **b**.\n\nIt works for any numbers."
    fake.enqueue(
        Reply(content=answer, reasoning="The user wants the function explained.", delay=0.005, hold_after=12)
    )
    buf = nvim.edit("calc.py", CODE)
    code_win = nvim.lua("return vim.api.nvim_get_current_win()")
    nvim.cmd("1,2DeepSeek explain")

    # part of the answer is on screen while DeepSeek is still writing
    nvim.wait("local f = require('deepseek_lsp.explain').current(); return f ~= nil", what="the float")
    nvim.wait(
        "local j = require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'explain' end);"
        " return j and #j.content > 0 and not j.done",
        what="a partial answer",
    )
    partial = float_text(nvim)
    assert "Thinking" in partial
    assert answer not in partial
    fake.release()

    job = nvim.wait_job_done("explain")
    assert job["state"] == "done"
    assert job["text"] == answer
    text = float_text(nvim)
    assert answer in text
    assert "The user wants the function explained." in text

    f = nvim.lua(FLOAT)
    # focus stayed in the code; the float is markdown; the reasoning is folded, the answer is not
    assert nvim.lua("return vim.api.nvim_get_current_win()") == code_win
    assert nvim.lua("return vim.bo[...].filetype", f["buf"]) == "markdown"
    folded = nvim.lua(
        "return vim.api.nvim_win_call(..., function() return {vim.fn.foldclosed(1), vim.fn.foldclosed(vim.fn.line('$'))} end)",
        f["win"],
    )
    assert folded[0] == 1 and folded[1] == -1
    dim = nvim.lua(
        "return vim.api.nvim_buf_get_extmarks(..., vim.api.nvim_create_namespace('deepseek_lsp.reasoning'),"
        " 0, -1, {details = true})",
        f["buf"],
    )
    assert [(m[1], m[3]["end_row"], m[3]["hl_group"]) for m in dim] == [(0, 1, "DeepSeekReasoning")]
    # the float is anchored to the code window, below the explained lines
    cfg = nvim.lua("return vim.api.nvim_win_get_config(...)", f["win"])
    assert cfg["relative"] == "win" and cfg["win"] == code_win

    # q in the float closes it
    nvim.lua("vim.api.nvim_set_current_win(...)", f["win"])
    nvim.api.input("q")
    nvim.wait("return require('deepseek_lsp.explain').current() == nil", what="the float to close")
    assert nvim.lua("return vim.api.nvim_get_current_win()") == code_win
    assert buf == nvim.lua("return vim.api.nvim_get_current_buf()")

    # statusline, User events, no error notifications
    status = nvim.lua("return require('deepseek_lsp').status()")
    assert "tok" in status and "$" in status, status
    events = nvim.lua("return _G.test_events")
    assert [e[0] for e in events] == ["DeepSeekJobStart", "DeepSeekJobDone"]
    assert all(level < 4 for _, level in nvim.notes()), nvim.notes()


def test_explain_sends_utf8_positions(nvim: Nvim, fake: ThreadedFake) -> None:
    line = 'label = "héllo wörld 😀" + tail  # ünïcode'
    fake.enqueue(Reply(content="A string literal."))
    nvim.edit("u.py", line + "\n")
    assert nvim.lua("return require('deepseek_lsp.client').get(0).offset_encoding") == "utf-8"
    # select `wörld 😀` charwise
    nvim.cmd('execute "normal! 0fwvf😀\\<Esc>"')
    nvim.cmd("'<,'>DeepSeek explain")
    job = nvim.wait_job_done("explain")
    start = line.encode().index("wörld".encode())
    end = line.encode().index("😀".encode()) + len("😀".encode())
    assert job["range"] == {"start": {"line": 0, "character": start}, "end": {"line": 0, "character": end}}
    body = fake.requests()[-1].body
    user = body["messages"][-1]["content"]
    assert "\nwörld 😀\n```" in user


def test_explain_failure_is_notified_once(nvim: Nvim, fake: ThreadedFake) -> None:
    fake.enqueue(Reply(status=402))
    nvim.edit("calc.py", CODE)
    nvim.cmd("DeepSeek explain")
    job = nvim.wait_job_done("explain")
    assert job["state"] == "failed"
    nvim.wait(
        "return #vim.tbl_filter(function(n) return n[2] == vim.log.levels.ERROR end, _G.test_notes) > 0"
    )
    # the plugin's own fallback (for a server that sent no showMessage) has had its say
    nvim.wait("return require('deepseek_lsp.jobs').failures_checked == 1", what="the fallback check")
    errors = [n for n in nvim.notes() if n[1] == 4]
    assert len(errors) == 1, errors
    assert "balance" in errors[0][0].lower() or "top up" in errors[0][0].lower(), errors


def test_explain_sends_utf16_positions_when_negotiated(fake: ThreadedFake, tmp_path) -> None:
    from .conftest import start_nvim, stop

    caps = {"general": {"positionEncodings": ["utf-16"]}}
    nvim = start_nvim(fake, tmp_path, {"lsp": {"capabilities": caps}})
    try:
        line = 'label = "héllo wörld 😀" + tail  # ünïcode'
        fake.enqueue(Reply(content="A string literal."))
        nvim.edit("u.py", line + "\n")
        assert nvim.lua("return require('deepseek_lsp.client').get(0).offset_encoding") == "utf-16"
        nvim.cmd('execute "normal! 0fwvf😀\\<Esc>"')
        nvim.cmd("'<,'>DeepSeek explain")
        job = nvim.wait_job_done("explain")

        def units(s: str) -> int:
            return len(s.encode("utf-16-le")) // 2

        start = units(line[: line.index("wörld")])
        end = units(line[: line.index("😀") + 1])
        assert job["range"] == {
            "start": {"line": 0, "character": start},
            "end": {"line": 0, "character": end},
        }
        user = fake.requests()[-1].body["messages"][-1]["content"]
        assert "\nwörld 😀\n```" in user
    finally:
        stop(nvim)


def test_cancel_explain_mid_stream(nvim: Nvim, fake: ThreadedFake) -> None:
    fake.enqueue(Reply(content="One two three four five six seven eight", delay=0.002, hold_after=3))
    nvim.edit("calc.py", CODE)
    nvim.cmd("DeepSeek explain")
    nvim.wait(
        "local j = require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'explain' end);"
        " return j and #j.content > 0",
        what="the first words",
    )
    assert nvim.lua("return vim.fn.getcompletion('DeepSeek cancel ', 'cmdline')")[0] == "j1"
    nvim.cmd("DeepSeek cancel")
    job = nvim.wait_job_done("explain")
    fake.release()
    assert job["state"] == "cancelled"
    assert float_text(nvim).rstrip().endswith("_(cancelled)_")
    assert "(cancelled)" in nvim.lua(
        FLOAT.replace("{buf = f.buf, win = f.win}", "vim.api.nvim_win_get_config(f.win).title[1][1]")
    )
    assert nvim.notes() == []
