"""Keeping the user's code in a real Neovim: `:DeepSeek recover` after a crashed server, the original
in a scratch buffer when a rewrite could not put it back (restore_failed), and the warnings of a
rewrite that waits for review because of them.

The first tests replay the server's side in the client (one RPC each, like test_rewrite's SIM);
the others run the real server (they skip while it does not advertise `deepseek.recover`)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from .conftest import Nvim, Reply, ThreadedFake, start_nvim, stop

CODE = "import math\n\n\ndef area(r):\n    return 3.14 * r * r\n\n\nprint(area(2))\n"
ORIGINAL = "def area(r):\n    return 3.14 * r * r"
NEW = 'def area(r):\n    """The area of a circle of radius r."""\n    return math.pi * r ** 2'
REGION = {"start": {"line": 3, "character": 0}, "end": {"line": 4, "character": 24}}
ERROR, WARN, INFO = 4, 3, 2

# vim.ui.select answered by the test: the server's showMessageRequest gets "Later" (its answer is
# recorded), our picker gets the item the test chose (_G.pick: a 1-based index, default 1)
UI = """
_G.selects = {}
vim.ui.select = function(items, opts, on_choice)
  local labels = {}
  for i, item in ipairs(items) do
    labels[i] = opts.format_item and opts.format_item(item) or tostring(item)
  end
  table.insert(_G.selects, { kind = opts.kind, prompt = opts.prompt, items = labels })
  if opts.kind == 'lsp_message' then
    for _, item in ipairs(items) do
      if item.title == 'Later' then return on_choice(item) end
    end
    return on_choice(nil)
  end
  on_choice(items[_G.pick or 1], _G.pick or 1)
end
"""

SIM = """
local step, arg = ...
local c = require('deepseek_lsp.client').get(0)
local ctx = { client_id = c.id }
if step == 'notify' then
  arg.uri = vim.uri_from_bufnr(0)
  require('deepseek_lsp.jobs').on_stream(nil, arg, ctx)
elseif step == 'show' then
  c.handlers['window/showMessage'](nil, { type = arg[1], message = arg[2] }, ctx)
end
"""

# deepseek.recover answered from _G.journal (the server's side replayed): a dry run lists it, a
# run returns each selected entry with the status in _G.outcome
STUB = """
local c = require('deepseek_lsp.client').get(0)
local caps = c.server_capabilities.executeCommandProvider
table.insert(caps.commands, 'deepseek.recover')
_G.recover_calls = {}
local request = c.request
c.request = function(self, method, params, handler, bufnr)
  if method == 'workspace/executeCommand' and params.command == 'deepseek.recover' then
    local arg = params.arguments[1]
    table.insert(_G.recover_calls, vim.deepcopy(arg))
    local out = {}
    for _, e in ipairs(_G.journal) do
      if arg.dryRun then
        table.insert(out, vim.tbl_extend('force', e, { status = 'pending', message = '' }))
      elseif vim.list_contains(arg.ids or {}, e.id) then
        local o = _G.outcome[e.id]
        table.insert(out, vim.tbl_extend('force', e, { status = o[1], message = o[2] }))
      end
    end
    vim.schedule(function() handler(nil, { entries = out }, { client_id = self.id, method = method }) end)
    return true, 1
  end
  return request(self, method, params, handler, bufnr)
end
"""

ORIGINAL_BUFS = """
local out = {}
for _, b in ipairs(vim.api.nvim_list_bufs()) do
  local name = vim.api.nvim_buf_get_name(b)
  if name:find('deepseek://original/', 1, true) then
    table.insert(out, { name = name, lines = vim.api.nvim_buf_get_lines(b, 0, -1, false),
      ft = vim.bo[b].filetype, buftype = vim.bo[b].buftype, shown = vim.fn.bufwinid(b) ~= -1 })
  end
end
return out
"""


def text(nvim: Nvim, buf: int = 0) -> str:
    return "\n".join(nvim.lines(buf)) + "\n"


def originals(nvim: Nvim) -> list[dict[str, Any]]:
    return list(nvim.lua(ORIGINAL_BUFS))


def loud(nvim: Nvim, level: int = WARN) -> list[list[Any]]:
    """Notifications at `level` or above."""
    return [n for n in nvim.notes() if n[1] >= level]


# --- the client side, the server's messages replayed ---------------------------------------------


def test_restore_failed_opens_the_original_and_says_so_once(nvim: Nvim) -> None:
    nvim.edit("geo.py", CODE)
    nvim.lua(UI)
    rewritten = CODE.replace(ORIGINAL, NEW)
    nvim.lua(
        "vim.api.nvim_buf_set_lines(0, 0, -1, false, vim.split(..., '\\n', {plain = true}))",
        rewritten.rstrip("\n"),
    )
    nvim.lua(
        SIM,
        "notify",
        {"jobId": "rf1", "kind": "rewrite", "seq": 0, "range": REGION, "state": "streaming", "done": False},
    )
    message = "The editor refused to put the original back (3 tries); your code is not lost."
    final = {
        "jobId": "rf1",
        "seq": 1,
        "done": True,
        "state": "failed",
        "error": {"code": "restore_failed", "message": message},
        "original": ORIGINAL,
        "range": {"start": {"line": 3, "character": 0}, "end": {"line": 5, "character": 28}},
    }
    nvim.lua(SIM, "notify", final)
    nvim.lua(SIM, "show", [1, f"DeepSeek rewrite failed: {message}"])  # the server's own showMessage
    nvim.wait("return #_G.test_notes > 0", what="the notification")
    bufs = originals(nvim)
    assert len(bufs) == 1, bufs
    assert bufs[0]["name"] == "deepseek://original/geo.py"
    assert bufs[0]["lines"] == ORIGINAL.split("\n")
    assert bufs[0]["ft"] == "python"
    assert bufs[0]["buftype"] == "nofile"  # never written anywhere
    assert bufs[0]["shown"]
    # focus stays in the code
    assert nvim.lua("return vim.api.nvim_buf_get_name(0)").endswith("geo.py")
    # the deferred failure report of jobs.lua has had its chance, and stayed quiet
    nvim.wait("return (require('deepseek_lsp.jobs').failures_checked or 0) > 0", what="the failure check")
    errors = loud(nvim, ERROR)
    assert len(errors) == 1, nvim.notes()
    assert message in errors[0][0]
    assert "deepseek://original/geo.py" in errors[0][0]
    assert text(nvim) == rewritten  # the client never edits the code on its own


def test_a_final_whose_original_is_back_shows_nothing_more(nvim: Nvim) -> None:
    nvim.edit("geo.py", CODE)
    nvim.lua(
        SIM,
        "notify",
        {"jobId": "ok1", "kind": "rewrite", "seq": 0, "range": REGION, "state": "streaming", "done": False},
    )
    nvim.lua(
        SIM,
        "notify",
        {
            "jobId": "ok1",
            "seq": 1,
            "done": True,
            "state": "failed",
            "error": {"code": "document_changed", "message": "The document changed under the rewrite."},
            "original": ORIGINAL,
            "range": REGION,
        },
    )
    nvim.wait("return (require('deepseek_lsp.jobs').failures_checked or 0) > 0", what="the failure check")
    assert originals(nvim) == []
    assert "deepseek://original" not in str(nvim.notes())


def test_review_warnings_are_shown_once(nvim: Nvim) -> None:
    nvim.edit("geo.py", CODE)
    r = REGION
    warning = "line 5: syntax error the original did not have (unclosed '(')"
    nvim.lua(
        SIM,
        "notify",
        {"jobId": "w1", "kind": "rewrite", "seq": 0, "range": r, "state": "streaming", "done": False},
    )
    for seq in (1, 2):  # a repeated review notification must not warn twice
        nvim.lua(
            SIM,
            "notify",
            {"jobId": "w1", "seq": seq, "range": r, "state": "review", "done": False, "warnings": [warning]},
        )
    nvim.wait("return #_G.test_notes > 0", what="the warning")
    warns = [n for n in nvim.notes() if n[1] == WARN]
    assert len(warns) == 1, nvim.notes()
    assert warning in warns[0][0]
    assert "geo.py:4" in warns[0][0]
    marks = nvim.lua(
        "return vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_create_namespace('deepseek_lsp.rewrite'), 0, -1, {details = true})"
    )
    labels = [m[3]["virt_text"][0][0] for m in marks if "virt_text" in m[3]]
    assert any("⚠ 1 warning" in label for label in labels), labels
    events = nvim.lua("return _G.test_events")
    assert [e[0] for e in events] == ["DeepSeekJobStart", "DeepSeekJobReview"]


def test_recover_picks_reports_each_and_shows_conflicts(nvim: Nvim) -> None:
    """The picker, one notification per result, conflicts in scratch buffers (server replayed)."""
    nvim.edit("geo.py", CODE)
    nvim.lua(UI)
    nvim.lua(STUB)
    uri = nvim.lua("return vim.uri_from_bufnr(0)")
    other = "file://" + str(nvim.workdir / "other.py")
    journal = [
        {
            "id": "a",
            "uri": uri,
            "range": REGION,
            "original": ORIGINAL,
            "title": "DeepSeek: Add docstring",
            "startedAt": "2025-05-06T14:03:09+00:00",
        },
        {
            "id": "b",
            "uri": other,
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},
            "original": "x = 1\n",
            "title": "DeepSeek: Refactor",
            "startedAt": "2025-05-06T14:05:00Z",
        },
    ]
    nvim.lua(
        "_G.journal, _G.outcome = ...",
        journal,
        {
            "a": ["restored", "The original code is back."],
            "b": ["conflict", "The code there was edited since the rewrite started."],
        },
    )
    nvim.cmd("DeepSeek recover")  # _G.pick = 1: "All 2 interrupted rewrites"
    nvim.wait("return #_G.test_notes >= 2", what="two results")
    calls = nvim.lua("return _G.recover_calls")
    assert calls == [{"dryRun": True}, {"ids": ["a", "b"]}]
    select = next(s for s in nvim.lua("return _G.selects") if s["kind"] == "deepseek_recover")
    assert select["items"][0] == "All 2 interrupted rewrites"
    assert select["items"][1].startswith("geo.py:4  Add docstring  (started 2025-05-06 ")
    assert select["items"][2].startswith("other.py:1  Refactor  (started 2025-05-06 ")
    notes = nvim.notes()
    assert len(notes) == 2, notes
    restored = [n for n in notes if "geo.py:4" in n[0]]
    conflict = [n for n in notes if "other.py:1" in n[0]]
    assert restored[0][1] == INFO and "The original code is back." in restored[0][0]
    assert conflict[0][1] == WARN and "edited since" in conflict[0][0]
    assert "deepseek://original/other.py" in conflict[0][0]
    bufs = originals(nvim)
    assert [(b["name"], b["lines"], b["ft"]) for b in bufs] == [
        ("deepseek://original/other.py", ["x = 1"], "python")
    ]
    # completion offers "all" and the listed ids
    assert nvim.lua("return vim.fn.getcompletion('DeepSeek rec', 'cmdline')") == ["recover"]
    assert nvim.lua("return vim.fn.getcompletion('DeepSeek recover ', 'cmdline')") == ["all", "a", "b"]


def test_recover_with_an_empty_journal_says_so(nvim: Nvim) -> None:
    nvim.edit("geo.py", CODE)
    nvim.lua(UI)
    nvim.lua(STUB)
    nvim.lua("_G.journal, _G.outcome = {}, {}")
    nvim.cmd("DeepSeek recover")
    nvim.wait("return #_G.test_notes > 0", what="the answer")
    assert nvim.notes() == [["DeepSeek: no interrupted rewrites to recover", INFO]]
    assert nvim.lua("return _G.recover_calls") == [{"dryRun": True}]
    assert [s for s in nvim.lua("return _G.selects") if s["kind"] == "deepseek_recover"] == []


# --- the real server ------------------------------------------------------------------------------


def server_pid(nvim: Nvim) -> int:
    """The deepseek-lsp process: the child of this Neovim running it."""
    parent = int(nvim.lua("return vim.fn.getpid()"))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and "deepseek" in cmdline:
            return int(entry.name)
    raise AssertionError("no deepseek-lsp child process found")


def start_rewrite_and_crash(nvim: Nvim, fake: ThreadedFake) -> int:
    """A rewrite half-streamed into geo.py (the reply held), then kill -9 of the server."""
    buf = nvim.edit("geo.py", CODE)
    nvim.require_command("deepseek.recover")
    nvim.lua(UI)
    fake.enqueue(Reply(content=NEW, delay=0.002, hold_after=8))
    nvim.cmd("4,5DeepSeek docstring")
    nvim.wait(
        "return vim.api.nvim_buf_get_lines(0, 3, 5, false)[2] ~= '    return 3.14 * r * r'",
        what="part of the rewrite in the buffer",
    )
    pid = server_pid(nvim)
    os.kill(pid, signal.SIGKILL)
    nvim.wait(
        "return #vim.lsp.get_clients({ name = 'deepseek_lsp' }) == 0", what="the client to notice the crash"
    )
    fake.release()
    # the ended job says where the original is, not "cancelled"
    nvim.wait(
        "for _, n in ipairs(_G.test_notes) do if n[1]:find(':DeepSeek recover', 1, true) then return true end end",
        what="the hint to recover",
    )
    assert nvim.job("rewrite")["state"] == "failed"
    assert text(nvim, buf) != CODE  # the half-done rewrite is still in the buffer
    return buf


def test_recover_after_kill_9_puts_the_original_back(nvim: Nvim, fake: ThreadedFake) -> None:
    buf = start_rewrite_and_crash(nvim, fake)
    nvim.lua("_G.test_notes = {}")
    nvim.cmd("DeepSeek recover")  # starts a new server on the buffer; the picker gets the one entry
    nvim.wait(
        "local b, want = ...; return table.concat(vim.api.nvim_buf_get_lines(b, 0, -1, false), '\\n') .. '\\n' == want",
        buf,
        CODE,
        timeout=20,
        what="the original back in the buffer",
    )
    picker = [s for s in nvim.lua("return _G.selects") if s["kind"] == "deepseek_recover"]
    assert len(picker) == 1 and len(picker[0]["items"]) == 1, picker
    assert picker[0]["items"][0].startswith("geo.py:4  ")
    nvim.wait("return require('deepseek_lsp.recover').last_results ~= nil", what="the results")
    results = nvim.lua("return require('deepseek_lsp.recover').last_results")
    assert [r["status"] for r in results] == ["restored"], results
    nvim.wait("return #_G.test_notes > 0", what="the report")
    reports = [n for n in nvim.notes() if n[0].startswith("DeepSeek recover:")]
    assert len(reports) == 1 and reports[0][1] == INFO, nvim.notes()
    # the server at start asked about the journal (showMessageRequest) and the plugin let it through
    asked = [s for s in nvim.lua("return _G.selects") if s["kind"] == "lsp_message"]
    assert asked and "Recover" in asked[0]["items"], asked
    # the journal is empty now
    nvim.lua("_G.test_notes = {}")
    nvim.cmd("DeepSeek recover")
    nvim.wait("return #_G.test_notes > 0", what="the answer")
    assert nvim.notes() == [["DeepSeek: no interrupted rewrites to recover", INFO]]


def test_recover_conflict_after_the_user_edited_opens_the_original(nvim: Nvim, fake: ThreadedFake) -> None:
    buf = start_rewrite_and_crash(nvim, fake)
    # the user rewrites the region by hand after the crash: the server must not overwrite it
    nvim.lua("vim.api.nvim_buf_set_lines(..., 3, 7, false, {'def area(radius):', '    return 0', ''})", buf)
    mine = text(nvim, buf)
    nvim.lua("_G.test_notes = {}")
    nvim.cmd("DeepSeek recover all")
    nvim.wait("return require('deepseek_lsp.recover').last_results ~= nil", timeout=20, what="the results")
    results = nvim.lua("return require('deepseek_lsp.recover').last_results")
    assert [r["status"] for r in results] == ["conflict"], results
    assert text(nvim, buf) == mine
    bufs = originals(nvim)
    assert [(b["name"], b["lines"], b["ft"]) for b in bufs] == [
        ("deepseek://original/geo.py", ORIGINAL.split("\n"), "python")
    ]
    warns = [n for n in nvim.notes() if n[0].startswith("DeepSeek recover:")]
    assert len(warns) == 1 and warns[0][1] == WARN and "deepseek://original/geo.py" in warns[0][0], (
        nvim.notes()
    )
    # the entry stays in the journal, and :checkhealth says so
    nvim.cmd("checkhealth deepseek_lsp")
    health = "\n".join(nvim.lines())
    assert "WARNING 1 interrupted rewrite in the recovery journal" in health, health


REFUSE = """
local c = require('deepseek_lsp.client').get(0)
local apply = c.handlers['workspace/applyEdit'] or vim.lsp.handlers['workspace/applyEdit']
_G.refused = 0
c.handlers['workspace/applyEdit'] = function(err, params, ctx)
  if _G.refuse then
    _G.refused = _G.refused + 1
    return { applied = false, failureReason = 'refused by the test' }
  end
  return apply(err, params, ctx)
end
"""


def test_restore_failed_from_the_real_server(nvim: Nvim, fake: ThreadedFake) -> None:
    """An editor that refuses every edit after a cancel: the server reports restore_failed with the
    original; the plugin shows it in a scratch buffer, with one error."""
    nvim.edit("geo.py", CODE)
    nvim.require_command("deepseek.recover")
    nvim.lua(REFUSE)
    fake.enqueue(Reply(content=NEW, delay=0.002, hold_after=8))
    nvim.cmd("4,5DeepSeek refactor")
    nvim.wait(
        "return vim.api.nvim_buf_get_lines(0, 4, 5, false)[1] ~= '    return 3.14 * r * r'",
        what="part of the rewrite in the buffer",
    )
    nvim.lua("_G.refuse = true")
    nvim.cmd("DeepSeek cancel")
    job = nvim.wait_job_done("rewrite", timeout=40)
    fake.release()
    assert job["state"] == "failed", job
    err = nvim.lua(
        "return require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'rewrite' end).error"
    )
    assert err["code"] == "restore_failed", err
    assert nvim.lua("return _G.refused") > 0
    bufs = originals(nvim)
    assert [(b["name"], b["lines"]) for b in bufs] == [("deepseek://original/geo.py", ORIGINAL.split("\n"))]
    nvim.wait("return (require('deepseek_lsp.jobs').failures_checked or 0) > 0", what="the failure check")
    errors = loud(nvim, ERROR)
    assert len(errors) == 1 and "deepseek://original/geo.py" in errors[0][0], nvim.notes()
    # the server's message, without the original it quotes (the scratch buffer has it)
    assert "could not be put back" in errors[0][0] and "3.14 * r * r" not in errors[0][0], errors


def test_syntax_warnings_from_the_real_server(fake: ThreadedFake, tmp_path: Path) -> None:
    """Review off, a rewrite that breaks the syntax: it waits for review and the plugin warns once."""
    nvim = start_nvim(fake, tmp_path, {"settings": {"review": False}})
    try:
        nvim.edit("geo.py", CODE)
        nvim.require_command("deepseek.recover")
        fake.enqueue(Reply(content="def area(r):\n    return (3.14 * r * r"))
        nvim.cmd("4,5DeepSeek fix")
        nvim.wait(
            "local j = require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'rewrite' end);"
            " return j and (j.state == 'review' or j.done)",
            timeout=20,
            what="the rewrite to end or wait for review",
        )
        job = nvim.job("rewrite")
        assert job is not None and job["state"] == "review", job
        warnings = nvim.lua(
            "return require('deepseek_lsp.jobs').latest(function(j) return j.kind == 'rewrite' end).warnings or {}"
        )
        assert warnings, "review without warnings"
        nvim.wait("return #_G.test_notes > 0", what="the warning")
        warns = [n for n in nvim.notes() if n[1] == WARN]
        assert len(warns) == 1 and "geo.py:4" in warns[0][0], nvim.notes()
        nvim.cmd("DeepSeek reject")
        nvim.wait_job_done("rewrite")
        nvim.wait(
            "return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n') .. '\\n' == ...",
            CODE,
            what="the original back",
        )
    finally:
        stop(nvim)


def test_reject_of_a_finished_rewrite_that_cannot_restore_opens_the_original(
    nvim: Nvim, fake: ThreadedFake
) -> None:
    """Review off: the rewrite is done; reject with an editor that refuses the edit answers
    `rejected: false` with the original, which the plugin shows in a scratch buffer."""
    nvim.edit("geo.py", CODE)
    nvim.require_command("deepseek.recover")
    nvim.lua(REFUSE)
    fake.enqueue(Reply(content=NEW, delay=0.002))
    nvim.cmd("4,5DeepSeek docstring")
    assert nvim.wait_job_done("rewrite")["state"] == "done"
    nvim.lua("_G.refuse = true; _G.test_notes = {}")
    nvim.cmd("DeepSeek reject")
    nvim.wait("return #(function() " + ORIGINAL_BUFS + " end)() > 0", timeout=40, what="the original buffer")
    bufs = originals(nvim)
    assert [(b["name"], b["lines"]) for b in bufs] == [("deepseek://original/geo.py", ORIGINAL.split("\n"))]
    assert NEW in text(nvim)  # the refused edit changed nothing
    assert nvim.lua("return _G.refused") > 0
    nvim.wait(
        "for _, n in ipairs(_G.test_notes) do if n[1]:find('deepseek://original/geo.py', 1, true) then return true end end",
        what="the notification naming the buffer",
    )
