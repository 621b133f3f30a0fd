--- Every job the server runs, as seen through `deepseek/stream`: state, text, usage, totals.
--- UI modules register per kind (explain, rewrite, chat) and get on_start / on_stream / on_done.
local util = require("deepseek_lsp.util")

local M = {}

M.jobs = {} ---@type table<string, table>  "clientId:jobId" -> job
M.order = {} ---@type string[]
M.totals = { requests = 0, prompt = 0, completion = 0, hit = 0, miss = 0, reasoning = 0, cost = 0, estimated = 0, unpriced = 0 }
M.ui = {} ---@type table<string, table>
local KEEP = 100

local function present(v)
  return v ~= nil and v ~= vim.NIL
end

function M.key(client_id, job_id)
  return tostring(client_id) .. ":" .. tostring(job_id)
end

function M.get(client_id, job_id)
  return M.jobs[M.key(client_id, job_id)]
end

local function event_data(job)
  return {
    jobId = job.id,
    client_id = job.client_id,
    kind = job.kind,
    state = job.state,
    uri = job.uri,
    bufnr = job.bufnr,
    range = job.range,
    usage = job.usage,
    error = job.error,
    warnings = job.warnings,
    text = table.concat(job.content),
  }
end

function M.fire(event, job)
  vim.api.nvim_exec_autocmds("User", { pattern = event, modeline = false, data = event_data(job) })
end

local function trim()
  if #M.order <= KEEP then
    return
  end
  local keep = {}
  local drop = #M.order - KEEP
  for _, key in ipairs(M.order) do
    local job = M.jobs[key]
    if drop > 0 and (not job or job.done) then
      M.jobs[key] = nil
      drop = drop - 1
    else
      table.insert(keep, key)
    end
  end
  M.order = keep
end

local function ui_call(job, name, ...)
  local ui = M.ui[job.kind]
  if ui and ui[name] then
    local ok, err = pcall(ui[name], job, ...)
    if not ok then
      vim.notify("deepseek_lsp: " .. job.kind .. "." .. name .. ": " .. tostring(err), vim.log.levels.ERROR)
    end
  end
end

--- The job, created (and its UI started) on first sight: from our command's response, or from a
--- notification of a job someone else started (a plain code action, another plugin).
---@param fields {kind?: string, uri?: string, opts?: table}
function M.ensure(client_id, job_id, fields)
  local key = M.key(client_id, job_id)
  local job = M.jobs[key]
  if not job then
    job = {
      key = key,
      id = job_id,
      client_id = client_id,
      kind = fields.kind or "unknown",
      uri = fields.uri,
      bufnr = util.loaded_buf(fields.uri),
      state = "streaming",
      content = {},
      reasoning = {},
      next_seq = 0,
      started = vim.uv.now(),
      opts = fields.opts or {},
      done = false,
    }
    M.jobs[key] = job
    table.insert(M.order, key)
    trim()
    M.fire("DeepSeekJobStart", job)
    ui_call(job, "on_start")
    pcall(vim.cmd.redrawstatus)
  elseif fields.opts then
    job.opts = vim.tbl_extend("force", job.opts, fields.opts)
  end
  return job
end

local function add_usage(u)
  if not present(u) then
    return
  end
  local t = M.totals
  t.requests = t.requests + 1
  t.prompt = t.prompt + (u.promptTokens or 0)
  t.completion = t.completion + (u.completionTokens or 0)
  t.hit = t.hit + (u.promptCacheHitTokens or 0)
  t.miss = t.miss + (u.promptCacheMissTokens or 0)
  t.reasoning = t.reasoning + (u.reasoningTokens or 0)
  t.cost = t.cost + (u.cost or 0)
  if u.estimated == true then
    t.estimated = t.estimated + 1
  end
  if u.rate == "unpriced" or u.cost == nil then
    t.unpriced = t.unpriced + 1
  end
end

--- The `deepseek/stream` notification handler.
function M.on_stream(_, params, ctx)
  if type(params) ~= "table" or not params.jobId then
    return
  end
  local job = M.ensure(ctx.client_id, params.jobId, { kind = params.kind, uri = params.uri })
  if job.done then
    return
  end
  if present(params.seq) then
    if params.seq < job.next_seq then
      return -- a duplicate
    end
    job.next_seq = params.seq + 1
  end
  if present(params.kind) and job.kind == "unknown" then
    job.kind = params.kind
  end
  if present(params.uri) then
    job.uri = params.uri
    job.bufnr = job.bufnr or util.loaded_buf(params.uri)
  end
  if present(params.range) then
    job.range = params.range
  end
  if present(params.context) then
    job.context = params.context
  end
  if present(params.reasoning) then
    table.insert(job.reasoning, params.reasoning)
  end
  if present(params.content) then
    table.insert(job.content, params.content)
  end
  if present(params.usage) then
    job.usage = params.usage
  end
  if present(params.error) then
    job.error = params.error
  end
  if type(params.original) == "string" then
    job.original = params.original -- the document lost it (restore_failed, document_changed, ...)
  end
  if type(params.warnings) == "table" then
    job.warnings = params.warnings -- why a rewrite waits for review even with review off
  end
  local prev = job.state
  if present(params.state) then
    job.state = params.state
  end
  ui_call(job, "on_stream", params)
  if job.state == "review" and prev ~= "review" then
    M.fire("DeepSeekJobReview", job)
  end
  if params.done then
    job.done = true
    job.ended = vim.uv.now()
    add_usage(job.usage)
    ui_call(job, "on_done")
    M.fire("DeepSeekJobDone", job)
    pcall(vim.cmd.redrawstatus)
    if job.state == "failed" then
      M.report_failure(job)
    end
  end
end

--- The server raises window/showMessage for a failed job; if that did not reach us, say it here.
function M.report_failure(job)
  local since = vim.uv.now() - 2000
  local err = job.error or {}
  vim.defer_fn(function()
    M.failures_checked = (M.failures_checked or 0) + 1
    if err.code == "cancelled" or util.notified_since(since) then
      return
    end
    local level = err.code == "document_changed" and vim.log.levels.WARN or vim.log.levels.ERROR
    util.notify(string.format("DeepSeek %s failed: %s", job.kind, err.message or err.code or "unknown error"), level)
  end, 400)
end

--- The server went away: its unfinished jobs end now (as failed), so nothing waits forever.
function M.client_exited(client_id)
  for _, key in ipairs(M.order) do
    local job = M.jobs[key]
    if job and job.client_id == client_id and not job.done then
      M.on_stream(nil, {
        jobId = job.id,
        state = "failed",
        done = true,
        error = job.kind == "rewrite"
            and {
              code = "server_stopped",
              message = "the deepseek-lsp server stopped during the rewrite; if the original code is not back, run :DeepSeek recover",
            }
          or { code = "network", message = "the deepseek-lsp server stopped" },
      }, { client_id = client_id })
    end
  end
end

function M.running(kind, bufnr)
  local out = {}
  for _, key in ipairs(M.order) do
    local job = M.jobs[key]
    if job and not job.done and (not kind or job.kind == kind) and (not bufnr or job.bufnr == bufnr) then
      table.insert(out, job)
    end
  end
  return out
end

--- Newest first.
function M.latest(pred)
  for i = #M.order, 1, -1 do
    local job = M.jobs[M.order[i]]
    if job and pred(job) then
      return job
    end
  end
end

function M.reset()
  M.jobs, M.order = {}, {}
  M.totals = { requests = 0, prompt = 0, completion = 0, hit = 0, miss = 0, reasoning = 0, cost = 0, estimated = 0, unpriced = 0 }
end

return M
