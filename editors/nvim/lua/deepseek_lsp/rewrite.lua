--- Rewrite: the region being rewritten is highlighted and labelled while the new code streams
--- into the buffer; review keys exist only while a rewrite waits for accept/reject; the edits of
--- one job form one undo block.
local client_mod = require("deepseek_lsp.client")
local config = require("deepseek_lsp.config")
local jobs = require("deepseek_lsp.jobs")
local recover = require("deepseek_lsp.recover")
local util = require("deepseek_lsp.util")

local M = {}

local ns = vim.api.nvim_create_namespace("deepseek_lsp.rewrite")
local marks = {} ---@type table<string, {bufnr: integer, hl?: integer, vt?: integer}>
local active = {} ---@type table<integer, string>  bufnr -> key of the newest rewrite job there
local undo = {} ---@type table<integer, {tick: integer, key: string?}>
local review_keys = {} ---@type table<integer, table>
local snapshots = {} ---@type table<string, {bufnr: integer, lines: string[]}>  unmodified buffers at a job's start

--- A rewrite that was cancelled, rejected or failed left the text as it was: if the buffer was
--- unmodified before, it is again.
local function settle(key)
  local snap = snapshots[key]
  local job = jobs.jobs[key]
  if not snap or not job or not job.done or job.state == "done" then
    return
  end
  if not vim.api.nvim_buf_is_loaded(snap.bufnr) then
    snapshots[key] = nil
    return
  end
  if vim.deep_equal(vim.api.nvim_buf_get_lines(snap.bufnr, 0, -1, false), snap.lines) then
    vim.bo[snap.bufnr].modified = false
    snapshots[key] = nil
  end
end

local LABELS = { refactor = "refactor", fix = "fix", docstring = "docstring", tests = "tests" }

---@param args {action?: string, instruction?: string, diagnostics?: table}
function M.run(client, bufnr, range, args)
  local uri = vim.uri_from_bufnr(bufnr)
  local arg = { uri = uri, range = range, action = args.action, instruction = args.instruction, diagnostics = args.diagnostics }
  client_mod.execute(client, "deepseek.rewrite", arg, bufnr, function(result)
    if result and result.jobId then
      local job = jobs.ensure(client.id, result.jobId, {
        kind = "rewrite",
        uri = uri,
        opts = { bufnr = bufnr, action = args.action, instruction = args.instruction, range = range },
      })
      job.bufnr = job.bufnr or bufnr
      active[bufnr] = job.key
    end
  end)
end

--- How a key reads on screen: <LocalLeader>a -> \a (or the configured leader).
local function key_label(lhs)
  local function leader(name)
    local v = vim.g[name]
    return (v == nil or v == "") and "\\" or (v == " " and "<Space>" or v)
  end
  lhs = lhs:gsub("<[Ll]ocal[Ll]eader>", function()
    return leader("maplocalleader")
  end)
  lhs = lhs:gsub("<[Ll]eader>", function()
    return leader("mapleader")
  end)
  return lhs
end

local function status_text(job)
  local label = LABELS[job.opts.action] or job.opts.action or "rewrite"
  if job.state == "review" then
    local warn = ""
    if type(job.warnings) == "table" and #job.warnings > 0 then
      warn = string.format(" ⚠ %d warning%s ·", #job.warnings, #job.warnings == 1 and "" or "s")
    end
    local keys = config.options.keys
    if keys.accept and keys.reject then
      return string.format("DeepSeek %s:%s %s accept · %s reject · u undoes", label, warn, key_label(keys.accept), key_label(keys.reject))
    end
    return "DeepSeek " .. label .. ":" .. warn .. " :DeepSeek accept / :DeepSeek reject"
  elseif job.state == "streaming" then
    local text = table.concat(job.content)
    local lines = text == "" and 0 or select(2, text:gsub("\n", "")) + 1
    if lines == 0 then
      return "DeepSeek " .. label .. ": thinking…"
    end
    return string.format("DeepSeek %s: writing… %d line%s", label, lines, lines == 1 and "" or "s")
  elseif job.state == "done" then
    return "DeepSeek " .. label .. ": done (u undoes)"
  elseif job.state == "cancelled" then
    return "DeepSeek " .. label .. ": cancelled, original restored"
  end
  return "DeepSeek " .. label .. ": failed" .. (job.error and job.error.message and (": " .. job.error.message) or "")
end

local function job_buf(job)
  local bufnr = job.bufnr or job.opts.bufnr or util.loaded_buf(job.uri)
  if bufnr and vim.api.nvim_buf_is_loaded(bufnr) then
    job.bufnr = bufnr
    return bufnr
  end
end

local function draw(job)
  local bufnr = job_buf(job)
  if not bufnr then
    return
  end
  local m = marks[job.key] or { bufnr = bufnr }
  marks[job.key] = m
  local client = vim.lsp.get_client_by_id(job.client_id)
  local enc = client and client.offset_encoding or "utf-16"
  local range = job.range or job.opts.range
  if not range then
    return
  end
  local srow, scol = util.to_pos(bufnr, range.start, enc)
  local erow, ecol = util.to_pos(bufnr, range["end"], enc)
  if erow < srow or (erow == srow and ecol < scol) then
    erow, ecol = srow, scol
  end
  local hl = job.state == "review" and "DeepSeekRewriteReview" or "DeepSeekRewrite"
  m.hl = vim.api.nvim_buf_set_extmark(bufnr, ns, srow, scol, {
    id = m.hl,
    end_row = erow,
    end_col = ecol,
    hl_group = hl,
    priority = 150,
  })
  if config.options.rewrite.virtual_text then
    local vhl = job.state == "failed" and "DeepSeekError" or "DeepSeekStatus"
    m.vt = vim.api.nvim_buf_set_extmark(bufnr, ns, srow, 0, {
      id = m.vt,
      virt_text = { { " " .. status_text(job) .. " ", vhl } },
      virt_text_pos = "eol",
      priority = 150,
    })
  end
end

local function clear(job)
  local m = marks[job.key]
  if not m then
    return
  end
  marks[job.key] = nil
  if vim.api.nvim_buf_is_valid(m.bufnr) then
    for _, id in ipairs({ m.hl, m.vt }) do
      pcall(vim.api.nvim_buf_del_extmark, m.bufnr, ns, id)
    end
  end
end

-- review keys ---------------------------------------------------------------------------------

local function pending_reviews(bufnr)
  local out = {}
  for _, key in ipairs(jobs.order) do
    local job = jobs.jobs[key]
    if job and job.kind == "rewrite" and job.state == "review" and not job.done and job.bufnr == bufnr then
      table.insert(out, job)
    end
  end
  return out
end

local function set_review_keys(bufnr)
  if review_keys[bufnr] then
    return
  end
  local saved = {}
  local keys = config.options.keys
  for _, action in ipairs({ "accept", "reject" }) do
    local lhs = keys[action]
    if lhs and lhs ~= "" then
      local old = vim.api.nvim_buf_call(bufnr, function()
        return vim.fn.maparg(lhs, "n", false, true)
      end)
      saved[lhs] = (old and old.buffer == 1) and old or false
      vim.keymap.set("n", lhs, function()
        M[action](M.target(bufnr))
      end, { buffer = bufnr, nowait = true, desc = "DeepSeek: " .. action .. " the rewrite" })
    end
  end
  review_keys[bufnr] = saved
end

local function clear_review_keys(bufnr)
  local saved = review_keys[bufnr]
  if not saved or #pending_reviews(bufnr) > 0 then
    return
  end
  review_keys[bufnr] = nil
  if not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  for lhs, old in pairs(saved) do
    pcall(vim.keymap.del, "n", lhs, { buffer = bufnr })
    if old then
      vim.api.nvim_buf_call(bufnr, function()
        vim.fn.mapset("n", false, old)
      end)
    end
  end
end

--- Whether the review keys are mapped in bufnr now.
function M.has_review_keys(bufnr)
  return review_keys[bufnr] ~= nil
end

-- job UI ----------------------------------------------------------------------------------------

function M.on_start(job)
  local bufnr = job_buf(job)
  if bufnr then
    active[bufnr] = job.key
    if not vim.bo[bufnr].modified and not snapshots[job.key] then
      snapshots[job.key] = { bufnr = bufnr, lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false) }
    end
  end
  draw(job)
end

function M.on_stream(job)
  local bufnr = job_buf(job)
  if bufnr and not active[bufnr] then
    active[bufnr] = job.key
  end
  draw(job)
  if bufnr and job.state == "review" then
    set_review_keys(bufnr)
  end
  if job.state == "review" then
    recover.on_review_warnings(job, LABELS[job.opts.action] or job.opts.action)
  end
end

function M.on_done(job)
  local bufnr = job_buf(job)
  draw(job)
  settle(job.key)
  recover.on_rewrite_done(job, LABELS[job.opts.action] or job.opts.action)
  if job.state == "done" then
    snapshots[job.key] = nil
  end
  if bufnr then
    clear_review_keys(bufnr)
  end
  local key = job.key
  vim.defer_fn(function()
    clear({ key = key })
  end, job.state == "done" and 1500 or 3000)
end

--- The rewrite job a command means: jobId if given, else the one under the cursor waiting for
--- review, else the newest rewrite in this buffer (running or finished).
function M.target(bufnr, job_id)
  if job_id and job_id ~= "" then
    return jobs.latest(function(j)
      return j.id == job_id
    end)
  end
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local reviews = pending_reviews(bufnr)
  if #reviews > 0 then
    local row = vim.api.nvim_get_current_buf() == bufnr and vim.api.nvim_win_get_cursor(0)[1] - 1 or -1
    for _, job in ipairs(reviews) do
      if job.range and row >= job.range.start.line and row <= job.range["end"].line then
        return job
      end
    end
    return reviews[#reviews]
  end
  return jobs.latest(function(j)
    return j.kind == "rewrite" and j.bufnr == bufnr and j.state ~= "cancelled" and j.state ~= "failed"
  end)
end

local function send(command, job, cb)
  if not job then
    util.notify("DeepSeek: no rewrite to " .. command:gsub("deepseek%.", ""), vim.log.levels.WARN)
    return
  end
  local client = vim.lsp.get_client_by_id(job.client_id)
  if not client then
    return
  end
  client_mod.execute(client, command, { jobId = job.id }, job.bufnr, cb)
end

function M.accept(job)
  send("deepseek.accept", job)
end

function M.reject(job)
  send("deepseek.reject", job, function(result)
    -- a finished rewrite whose original could not be verified back: the answer carries it
    if type(result) == "table" and result.rejected == false and type(result.original) == "string" then
      recover.on_reject_failed(job, result.original)
    end
  end)
end

-- workspace/applyEdit ---------------------------------------------------------------------------

local function touched_buffers(edit)
  local out = {}
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument and change.textDocument.version == vim.NIL then
      change.textDocument.version = nil -- a null version: Neovim 0.11 would compare it with a number
    end
    if change.textDocument and change.textDocument.uri then
      out[vim.uri_to_bufnr(change.textDocument.uri)] = true
    end
  end
  for uri in pairs(edit.changes or {}) do
    out[vim.uri_to_bufnr(uri)] = true
  end
  return out
end

--- Our server's workspace/applyEdit: the default handler, plus undo grouping: every edit of one
--- rewrite job joins the job's first undo block unless the user changed the buffer in between,
--- so one `u` undoes the whole rewrite.
function M.apply_edit(err, params, ctx)
  local bufs = touched_buffers(params.edit or {})
  for bufnr in pairs(bufs) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      local u = undo[bufnr]
      local join = u and u.tick == vim.b[bufnr].changedtick and u.key == active[bufnr]
      vim.api.nvim_buf_call(bufnr, function()
        if join then
          pcall(vim.cmd, "undojoin")
        else
          -- close the undo block before the job's first edit: it must not join the last change
          vim.cmd("let &l:undolevels = &l:undolevels")
        end
      end)
    end
  end
  -- the default handler prints the label: once per streamed edit would flood the message area
  params.label = nil
  local ok, res = pcall(vim.lsp.handlers["workspace/applyEdit"], err, params, ctx)
  for bufnr in pairs(bufs) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      undo[bufnr] = { tick = vim.b[bufnr].changedtick, key = active[bufnr] }
      if active[bufnr] then
        settle(active[bufnr]) -- the restoring edit may come after the final notification
      end
    end
  end
  if not ok then
    return { applied = false, failureReason = tostring(res) }
  end
  return res
end

jobs.ui.rewrite = M
return M
